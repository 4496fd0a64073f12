"""Scoring a trained run: encode with its checkpoint, merge the scores into its metrics.json."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Mapping

from .run_dir import RunDir, load_run


def evaluate_run(
    run_dir: str | os.PathLike,
    metrics: str | Iterable[str] = ("mig",),
    seed: int = 0,
    device: str = "cpu",
    fast_encoder: bool | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
    on: str = "auto",
) -> dict[str, Any]:
    """Evaluate the checkpoint of ``run_dir`` and merge the scores into its metrics.json (under a lock).

    Besides the scores, metrics.json records ``evaluated_at_step`` (the step of the checkpoint
    evaluated), ``evaluation_seed``, the library ``environment``, and per metric in
    ``evaluations`` the step, seed and every option it was computed with (defaults included) (scores merged from
    evaluations of different checkpoints stay told apart). ``progress`` gets a line as each
    metric starts and ends (:func:`untwine.metrics.evaluate`). ``on`` picks the data
    (:func:`untwine.data.weak.evaluation_part`): ``"auto"`` scores a run trained on a correlated or
    independent split (dataset option ``correlate``) on its held-out uniform test set, any other
    on its training data; metrics.json says which in ``evaluated_on``. Returns the merged contents.
    """
    from ..data.weak.correlated import evaluation_part

    from .. import metrics as M

    options = {k: dict(v) for k, v in (options or {}).items()}
    M.select_metrics(metrics, options)  # unknown metrics, misspelt options: fail before anything is loaded
    RunDir(run_dir).read_metrics()  # a corrupt metrics.json fails now, not after the scores are computed
    run = load_run(run_dir, device=device)
    data, evaluated_on = evaluation_part(run.dataset, on)
    used: dict[str, dict[str, Any]] = {}  # every option each metric ran with, defaults included
    scores = M.evaluate(run.method, data, metrics=metrics, seed=seed, fast_encoder=fast_encoder,
                        options=options or None, options_used=used, progress=progress)
    env = getattr(M, "metric_environment", None)
    names = used or dict.fromkeys(key.split(".")[0] for key in scores)
    evaluations = {n: {"step": run.step, "seed": seed, "options": used.get(n, options.get(n, {}))} for n in names}
    meta = {"evaluated_at_step": run.step, "evaluation_seed": seed, "evaluated_on": evaluated_on,
            "environment": env() if env else {}, "evaluations": evaluations}
    return RunDir(run_dir).merge_metrics(scores, meta)
