"""``untwine study report``: the study's HTML page (:mod:`untwine.viz.study_report`) from its store."""

from __future__ import annotations

from pathlib import Path

from .results import load, score_columns, status_counts, swept_columns
from .spec import Study

RECONSTRUCTION_GUESSES = ("reconstruction.mse_per_pixel", "train.recon")  # the metric, else the VAE loss term


def reconstruction_column(frame, study: Study) -> str | None:
    """The study's ``report.reconstruction`` column, else the first known reconstruction score present."""
    if study.report.get("reconstruction"):
        return study.report["reconstruction"]
    return next((c for c in RECONSTRUCTION_GUESSES if c in frame.columns), None)


def report_study(study: Study, path: str | Path | None = None) -> Path:
    """Write the report of ``study`` (default ``STUDY_DIR/report.html``) and, when every trial is done,
    the study's own ``analysis.summary``; returns the report's path."""
    from ..viz.study_report import write_study_report

    frame = load(study)
    rank_by = study.report.get("rank_by")
    negated = rank_by if rank_by and rank_by.startswith("-") else None  # "-col": the lowest is the best
    if negated and negated[1:] in frame.columns:
        frame[negated] = -frame[negated[1:]]  # a helper column to rank by, no score
    recon = reconstruction_column(frame, study)
    scores = [c for c in score_columns(frame, study)
              if c not in (recon, negated) and not str(c).startswith("reconstruction.")]
    subtitle = f"{study.path}" + (f", profile {study.profile}" if study.profile else "") + (
        f". {study.description}" if study.description else "")
    out = write_study_report(frame, Path(path) if path else study.directory / "report.html", title=f"Study {study.name}",
                             subtitle=subtitle, scores=scores, swept=swept_columns(study), reconstruction=recon,
                             rank_by=rank_by, counts=status_counts(frame))
    from .analysis import run_summary

    run_summary(study, frame)
    return out
