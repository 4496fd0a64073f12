"""A study's HTML report: score trade-offs, scores per hyperparameter, rank correlations, traversals, the table.

One self-contained page (every figure a PNG data URI, as in :mod:`untwine.viz.report`) drawn from the
results DataFrame of :func:`untwine.studies.load`; the figures use the trials whose status is ``done``.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_write_text
from .report import CSS, _img

TRAVERSAL_STEPS = 8


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and bool(np.isnan(v)))


def _fmt(v: Any) -> str:
    if _missing(v):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)


def _key(v: Any) -> Any:
    """A hashable, sortable stand-in for a hyperparameter value (lists and mappings as text)."""
    return v if isinstance(v, (int, float, str, bool, np.number)) else str(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _subplots(rows: int, cols: int, w: float = 3.4, h: float = 2.8) -> tuple[Any, np.ndarray]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)


def families(frame: pd.DataFrame) -> pd.Series:
    """Each trial's method family: its method, or the label's first word where labels of one method differ,
    with ``[dataset]`` added when the frame holds several datasets."""
    if frame.empty or "method" not in frame.columns:
        return pd.Series("trials", dtype=object, index=frame.index)
    prefix = frame["label"].astype(str).str.split(" ").str[0] if "label" in frame.columns else frame["method"]
    split = prefix.groupby(frame["method"]).transform("nunique") > 1
    fam = prefix.where(split, frame["method"]).astype(str)
    if "dataset" in frame.columns and frame["dataset"].nunique() > 1:
        fam = fam + " [" + frame["dataset"].astype(str) + "]"
    return fam


def _swept_text(row: pd.Series, swept: list[str]) -> str:
    return " ".join(f"{k}={_fmt(row[k])}" for k in swept if not _missing(row[k]))


def _tradeoff_png(done: pd.DataFrame, fam: pd.Series, scores: list[str], recon: str, swept: list[str]) -> bytes:
    import matplotlib

    fig, axes = _subplots(1, len(scores))
    colors = matplotlib.colormaps["tab10"]
    names = sorted(fam.unique())
    for ax, score in zip(axes.flat, scores):
        for i, name in enumerate(names):
            part = done[(fam == name) & done[score].notna() & done[recon].notna()]
            ax.scatter(part[recon], part[score], s=22, color=colors(i % 10), label=name, alpha=0.85)
            for _, row in part.iterrows():
                ax.annotate(_swept_text(row, swept), (row[recon], row[score]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_xlabel(recon, fontsize=8)
        ax.set_title(score, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if names:
        axes.flat[0].legend(fontsize=7, loc="best")
    return _png(fig)


def _strip(ax: Any, part: pd.DataFrame, hp: str, score: str, rng: np.random.Generator) -> None:
    """Every trial a jittered point at its value of ``hp``; the mean per value joined by a line."""
    part = part[part[hp].map(lambda v: not _missing(v)) & part[score].notna()]
    if part.empty:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return
    values = part[hp].map(_key)
    numeric = all(_is_number(v) for v in values)
    levels = sorted(values.unique()) if numeric else sorted(values.unique(), key=str)
    log = numeric and min(levels) > 0 and max(levels) >= 10 * min(levels)
    if numeric:
        x = values.astype(float).to_numpy()
        gaps = np.diff(np.log(levels) if log else np.asarray(levels, float))
        width = 0.08 * gaps.min() if len(gaps) else 0.04 * (abs(float(levels[0])) or 1.0)
        jitter = rng.uniform(-width, width, len(x))
        xs = x * np.exp(jitter) if log else x + jitter
        centers = np.asarray(levels, float)
    else:
        pos = {v: i for i, v in enumerate(levels)}
        x = values.map(pos).to_numpy(float)
        xs = x + rng.uniform(-0.12, 0.12, len(x))
        centers = np.arange(len(levels), dtype=float)
        ax.set_xticks(centers, [str(v) for v in levels], fontsize=7, rotation=20)
        ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.scatter(xs, part[score], s=16, color="#1f4e79", alpha=0.6)
    means = part[score].groupby(values.to_numpy(), sort=False).mean()
    ax.plot(centers, [means[v] for v in levels], color="#b22222", marker="_", ms=14, lw=1.2)
    if log:
        ax.set_xscale("log")


def _hparam_figures(done: pd.DataFrame, frame: pd.DataFrame, fam: pd.Series, scores: list[str],
                    swept: list[str]) -> list[tuple[str, bytes]]:
    """(family, PNG) per family that varies a swept hyperparameter: rows hyperparameters, columns scores."""
    out = []
    fam_done = fam.loc[done.index]
    rng = np.random.default_rng(0)
    for name in sorted(fam_done.unique()):
        rows = frame[fam == name]
        varied = [hp for hp in swept if rows[hp].dropna().map(_key).nunique() > 1]
        if not varied:
            continue
        fig, axes = _subplots(len(varied), len(scores), w=3.0, h=2.4)
        part = done[fam_done == name]
        for i, hp in enumerate(varied):
            for j, score in enumerate(scores):
                ax = axes[i, j]
                _strip(ax, part, hp, score, rng)
                ax.set_xlabel(hp, fontsize=8)
                ax.set_ylabel(score, fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(alpha=0.3)
        fig.suptitle(name, fontsize=10)
        out.append((name, _png(fig)))
    return out


def _spearman_png(corr: pd.DataFrame) -> bytes:
    from .agreement import agreement_heatmap

    return _png(agreement_heatmap(corr, title=None))


def _traversals(done: pd.DataFrame, fam: pd.Series, rank: str | None) -> list[tuple[str, bytes | None, str]]:
    """(family, PNG, caption) per family: the traversal grid of its best done trial by ``rank``;
    PNG None and the caption a note where the run does not load."""
    from ..train import load_run
    from .images import png_bytes
    from .traversal import traversal_grid

    out = []
    for name in sorted(fam.unique()):
        part = done[fam == name]
        ranked = pd.to_numeric(part[rank], errors="coerce").dropna() if rank else pd.Series(dtype=float)
        row = part.loc[ranked.idxmax()] if not ranked.empty else part.iloc[0]
        why = f"highest {rank} ({_fmt(ranked.max())})" if not ranked.empty else "no score to rank by: its first trial"
        what = f"{html.escape(str(row.get('label', name)))}, seed {html.escape(str(row.get('seed', '?')))}"
        try:
            run = load_run(row["run_path"])
            png = png_bytes(traversal_grid(run.method, run.dataset, 0, TRAVERSAL_STEPS), scale=1)
        except Exception as e:  # noqa: BLE001 - a broken run is a note, not a broken report
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            out.append((name, None, f"the run of {what} could not be loaded ({html.escape(first)})"))
            continue
        out.append((name, png, f"{what}, {html.escape(why)}. Each row varies one latent ({TRAVERSAL_STEPS} steps) "
                               "from the code of image 0."))
    return out


def _results_table(frame: pd.DataFrame, scores: list[str]) -> str:
    cols = [c for c in ["label", "dataset", "seed", "status", *scores, "train_seconds"] if c in frame.columns]
    errors = "error" in frame.columns and frame["error"].map(lambda v: not _missing(v) and str(v) != "").any()
    cols += ["error"] if errors else []
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            cls = " class='num'" if _is_number(r[c]) else " class='note'" if c == "error" else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(r[c]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_study_report(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    title: str,
    subtitle: str = "",
    scores: list[str],
    swept: list[str],
    reconstruction: str | None,
    rank_by: str | None,
    counts: dict[str, int],
    notes: list[str] | None = None,
) -> Path:
    """Write the study report (one self-contained HTML page) to ``path`` atomically and return it.

    ``frame``: :func:`untwine.studies.load`'s DataFrame; ``scores``/``swept``: its metric and swept
    hyperparameter columns; ``reconstruction``: the x axis of the trade-off plots; ``rank_by``: the
    score that picks each method's best model (default the first score); ``counts``: trials per status.
    """
    scores = [s for s in scores if s in frame.columns]
    swept = [s for s in swept if s in frame.columns]
    done = frame[frame["status"] == "done"].copy() if "status" in frame.columns else frame.iloc[0:0].copy()
    recon = reconstruction if reconstruction in frame.columns else None
    rank = rank_by if rank_by in frame.columns else (scores[0] if scores else None)
    for c in scores + ([recon] if recon else []):
        done[c] = pd.to_numeric(done[c], errors="coerce").astype(float)
    fam_all = families(frame)
    fam = fam_all.loc[done.index]
    n = [0]

    def figure(png: bytes, alt: str, caption: str, cls: str = "", width: int | None = None) -> str:
        n[0] += 1
        return f"<figure>{_img(png, alt, width, cls)}<figcaption><b>Figure {n[0]}.</b> {caption}</figcaption></figure>"

    count_text = ", ".join(f"{v} {k}" for k, v in counts.items() if v or k == "done") or "no trials"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p class='sub'>{html.escape(subtitle)}</p>" if subtitle else "",
             f"<p class='sub'>{len(frame)} trials: {html.escape(count_text)}</p>"]

    parts.append("<h2>Trade-offs against reconstruction</h2>")
    if recon is None:
        parts.append("<p>No reconstruction column was found: no trade-off plots.</p>")
    elif done.empty or not scores:
        parts.append("<p>No done trials with scores to plot.</p>")
    else:
        parts.append(figure(_tradeoff_png(done, fam, scores, recon, swept), "trade-offs",
                            f"Each score against <code>{html.escape(recon)}</code> (lower: better "
                            "reconstruction), one point per done trial, coloured per method, labelled with its "
                            "swept hyperparameters."))

    parts.append("<h2>Scores against hyperparameters</h2>")
    strips = _hparam_figures(done, frame, fam_all, scores, swept) if scores and not done.empty else []
    for name, png in strips:
        parts.append(figure(png, f"hyperparameters {name}", f"<b>{html.escape(name)}</b>: each score per value of "
                            "each hyperparameter it varies; points are trials (seeds, jittered), the red line joins "
                            "the means."))
    if not strips:
        parts.append("<p>No method varies a hyperparameter over done trials with scores.</p>")

    parts.append("<h2>Rank correlation between scores</h2>")
    if len(scores) < 2 or len(done) < 3:
        parts.append(f"<p>Needs at least 2 scores and 3 done trials (here {len(scores)} and {len(done)}).</p>")
    else:
        corr = done[scores].astype(float).corr(method="spearman")
        parts.append(figure(_spearman_png(corr), "Spearman rank correlation",
                            f"Spearman rank correlation between the scores over the {len(done)} done trials "
                            "(n/a: a score that does not vary)."))

    parts.append("<h2>Traversals of the best model per method</h2>")
    trav = _traversals(done, fam, rank) if not done.empty and "run_path" in done.columns else []
    for name, png, caption in trav:
        parts.append(f"<p><b>{html.escape(name)}</b>: {caption}.</p>" if png is None else
                     figure(png, f"traversal {name}", f"<b>{html.escape(name)}</b>: {caption}", "px",
                            72 * TRAVERSAL_STEPS))
    if not trav:
        parts.append("<p>No done trials.</p>")

    parts += ["<h2>Results</h2>", _results_table(frame, scores) if not frame.empty else "<p>No trials.</p>"]
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in notes) + "</ul>"]
    # records on <body> how many images decoded, so a headless browser can check the page
    parts += ["<script>window.addEventListener('load',function(){var i=[].slice.call(document.images);"
              "document.body.setAttribute('data-images-loaded',i.filter(function(m){return m.complete&&"
              "m.naturalWidth>0}).length+'/'+i.length);});</script>", "</body></html>"]
    return atomic_write_text(path, "\n".join(p for p in parts if p))
