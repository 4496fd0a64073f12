"""Reading a study's results: a pandas DataFrame, the progress counts and a text table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import Study, load_study
from .store import StudyStore

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

BASE_COLUMNS = ["id", "label", "method", "dataset", "seed", "status", "current", "steps", "batch_size",
                "train_seconds", "eval_seconds", "trial_seconds", "attempts", "error", "run_path"]


def _as_study(study: Study | str | Path, profile: str | None, out: str | Path | None) -> Study:
    return study if isinstance(study, Study) else load_study(study, profile=profile, out=out)


def load(study: Study | str | Path, profile: str | None = None, out: str | Path | None = None) -> "pd.DataFrame":
    """The study's trials as a DataFrame, one row per trial of the file (in its order).

    Columns: ``id``, ``label``, ``method``, ``dataset``, ``seed``, ``status`` (``done``,
    ``running``, ``failed``, ``interrupted``: its process is gone, the next run continues it,
    or ``missing``: not run yet), ``current`` (scored with the study's present evaluation),
    ``steps``, ``batch_size``, the timings, ``attempts``, ``error``, ``run_path``; then one column
    per swept hyperparameter (its name) and one per score (``mig``, ``dci.disentanglement``,
    ``train.loss``...; a name taken by the columns above gets the prefix ``metric.``).
    """
    import pandas as pd

    study = _as_study(study, profile, out)
    trials = study.trials()
    stored = {}
    if study.store_path.is_file():
        stored = {r["id"]: r for r in StudyStore(study.store_path).rows()}
    key = study.evaluation_key()
    records: list[dict[str, Any]] = []
    for t in trials:
        r = stored.get(t.id)
        status = "missing" if r is None or r["status"] == "pending" else r["status"]
        timings = (r or {}).get("timings") or {}
        row: dict[str, Any] = {
            "id": t.id, "label": t.label, "method": t.method, "dataset": t.dataset, "seed": t.seed, "status": status,
            "current": bool(r and r["status"] == "done" and r["evaluation_key"] == key),
            "steps": t.config["steps"], "batch_size": t.config["batch_size"],
            "train_seconds": timings.get("train_seconds"), "eval_seconds": timings.get("eval_seconds"),
            "trial_seconds": timings.get("trial_seconds"), "attempts": (r or {}).get("attempts", 0),
            "error": (r or {}).get("error"), "run_path": (r or {}).get("run_path"),
        }
        row.update(t.swept)
        for k, v in ((r or {}).get("metrics") or {}).items():
            row[f"metric.{k}" if k in BASE_COLUMNS or k in t.swept else k] = v
        records.append(row)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        frame = pd.DataFrame(columns=BASE_COLUMNS)
    return frame


def swept_columns(study: Study) -> list[str]:
    """The hyperparameters the study sweeps, in first-seen order."""
    out: list[str] = []
    for t in study.trials():
        out += [k for k in t.swept if k not in out]
    return out


def score_columns(frame: "pd.DataFrame", study: Study) -> list[str]:
    """The metric columns (the study's metric labels and their sub-scores, analysis scores), not train.*."""
    skip = set(BASE_COLUMNS) | set(swept_columns(study))
    return [c for c in frame.columns if c not in skip and not str(c).startswith("train.")
            and frame[c].dtype.kind in "fi"]


def status_counts(frame: "pd.DataFrame") -> dict[str, int]:
    counts = {s: int((frame["status"] == s).sum()) for s in ("done", "running", "failed", "interrupted", "missing")}
    counts["done, to score again"] = int(((frame["status"] == "done") & ~frame["current"].astype(bool)).sum())
    return counts


def status_text(study: Study) -> str:
    """Progress of a study: counts, then the failed, running and interrupted trials."""
    frame = load(study)
    c = status_counts(frame)
    lines = [f"study {study.name}" + (f" (profile {study.profile})" if study.profile else "") + f": {len(frame)} trials "
             f"in {study.directory}",
             "  " + ", ".join(f"{v} {k}" for k, v in c.items() if v or k in ("done", "missing"))]
    for status in ("running", "interrupted", "failed"):
        for _, r in frame[frame["status"] == status].iterrows():
            extra = f": {r['error']}" if status == "failed" and r["error"] else ""
            lines.append(f"  {status:<11} {r['label']} seed {r['seed']} ({r['id']}){extra}")
    if c["failed"] or c["interrupted"] or c["missing"] or c["done, to score again"]:
        lines.append(f"run `untwine study run {study.path}"
                     + (f" --profile {study.profile}" if study.profile else "") + "` to finish it")
    return "\n".join(lines)


def results_table(study: Study, columns: list[str] | None = None, fmt: str = "md") -> str:
    """The results as a Markdown (``md``) or CSV (``csv``) table: label, dataset, seed, status, scores, time."""
    frame = load(study)
    scores = columns or score_columns(frame, study)
    unknown = [c for c in scores if c not in frame.columns]
    if unknown:
        from .spec import StudyError

        raise StudyError(f"no result column(s) {', '.join(unknown)} in study {study.name}; columns: "
                         f"{', '.join(map(str, frame.columns))}")
    cols = ["label", "dataset", "seed", "status"] + scores + ["train_seconds"]
    cols = [c for c in cols if c in frame.columns]
    view = frame[cols]
    if fmt == "csv":
        return view.to_csv(index=False)
    if fmt != "md":
        raise ValueError(f"format must be 'md' or 'csv', got {fmt!r}")

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in view.itertuples(index=False)]
    return "\n".join(lines) + "\n"
