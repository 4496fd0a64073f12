"""Helpers for experiment scripts: train a run or continue a shorter one, keeping its training time."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..data import GroundTruthDataset
from ..io import atomic_write_json
from ..train import RunDir, RunResult, TrainConfig, load_run, train

TRAIN_SECONDS = "train_seconds.json"  # the experiment's own record next to the run's files
KEEP_OWN = ("log_every", "checkpoint_every")  # settings an existing run keeps whatever is requested


def train_or_continue(config: TrainConfig, run_dir: Path, dataset: GroundTruthDataset) -> tuple[RunResult, float]:
    """Train ``config`` into ``run_dir``, continuing an existing (shorter) run, or load it if finished.

    The run's progress is its checkpoint's step; a run with other settings than ``config`` (other
    than ``steps``, and ``log_every`` and ``checkpoint_every``, which it keeps) is refused. Returns the result and the total training seconds of the run,
    kept in ``train_seconds.json`` across continuations.
    """
    rd = RunDir(run_dir)
    t_path = rd.path / TRAIN_SECONDS
    before = json.loads(t_path.read_text())["seconds"] if t_path.is_file() else 0.0
    done = rd.last_step()
    if done is not None and rd.config.is_file():
        # how often a run logs and checkpoints does not change its numbers (a study's trial id leaves
        # them out): an existing run keeps its own
        own = rd.read_config()
        config = TrainConfig.from_dict({**config.to_dict(), **{k: getattr(own, k) for k in KEEP_OWN}})
    if done is not None and done >= config.steps:  # finished: load it
        rd.check_config(config, rd.load_checkpoint(), "requested", "cannot reuse")
        return load_run(rd.path, dataset=dataset), before
    t0 = time.perf_counter()
    res = train(config, rd.path, resume=done is not None, progress=False, dataset=dataset)
    total = before + time.perf_counter() - t0
    atomic_write_json(t_path, {"seconds": total, "steps": config.steps})
    return res, total
