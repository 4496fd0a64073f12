"""One trial of a study, where it runs (a local worker process or a Ray task): train, then score.

:func:`run_trial` trains the trial's configuration into ``runs/ID`` (continuing its checkpoint
if an earlier attempt was interrupted, loading it if finished), scores it with the study's
metrics on one shared table of codes (and the study's ``analysis.score`` function, if any),
writes ``runs/ID/trial.json`` atomically, and returns what the store records. It raises on
any error; the caller records the trial as failed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

_DATASETS: dict[str, Any] = {}  # per process: a worker loads each dataset once for all its trials


def get_cached_dataset(name: str, options: dict[str, Any]):
    from ..data import get_dataset

    key = json.dumps([name, options], sort_keys=True, default=str)
    if key not in _DATASETS:
        _DATASETS[key] = get_dataset(name, **dict(options))
    return _DATASETS[key]


def run_trial(task: dict[str, Any]) -> dict[str, Any]:
    """Train and score one trial; ``task`` = {id, label, config, run_dir, metrics, evaluation_seed, analysis}.

    Returns {metrics, timings, versions, run_path, step}.
    """
    import torch

    from .. import __version__
    from ..experiments.runs import train_or_continue
    from ..io import atomic_write_json
    from ..metrics import evaluate, metric_environment
    from ..data.weak.correlated import evaluation_part
    from ..metrics.codes import CodeTable
    from ..train import TrainConfig

    t_start = time.perf_counter()
    config = TrainConfig.from_dict(task["config"])
    if config.threads:
        torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    dataset = get_cached_dataset(config.dataset, config.dataset_options)
    dataset_s = time.perf_counter() - t0
    run_dir = Path(task["run_dir"])
    result, train_s = train_or_continue(config, run_dir, dataset)
    method = result.method.eval()
    t0 = time.perf_counter()
    metrics: dict[str, Any] = {}
    data, evaluated_on = evaluation_part(dataset)  # a correlated split's held-out test set, else the data
    if task["metrics"]:
        table = CodeTable(method, data)  # each image encoded once for every metric of the trial
        for label, spec in task["metrics"].items():
            opts = dict(spec)
            name = opts.pop("metric")
            scores = evaluate(table, data, [name], seed=task["evaluation_seed"], options={name: opts})
            for k, v in scores.items():
                metrics[label if k == name else f"{label}.{k[len(name) + 1:]}"] = v
    if task.get("analysis") and task["analysis"].get("score"):
        from .analysis import load_function

        score = load_function(task["analysis"]["file"], task["analysis"]["score"])
        for k, v in score(result, data).items():
            metrics[str(k)] = v
    eval_s = time.perf_counter() - t0
    last = result.history[-1] if result.history else {}
    for k, v in last.items():  # the last logged losses (the trade-off plots' fallback reconstruction)
        if k != "step" and isinstance(v, (int, float)):
            metrics[f"train.{k}"] = float(v)
    out = {
        "metrics": metrics,
        "timings": {"train_seconds": train_s, "eval_seconds": eval_s, "dataset_seconds": dataset_s,
                    "trial_seconds": time.perf_counter() - t_start},
        "versions": {"untwine": __version__, **metric_environment(), "precision": result.config.precision},
        "run_path": str(run_dir),
        "step": result.step,
    }
    atomic_write_json(run_dir / "trial.json", {"id": task["id"], "label": task["label"], "evaluated_on": evaluated_on,
                                               **out})
    return out
