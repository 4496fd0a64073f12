"""Helpers for experiment scripts: train a run or continue a shorter one, keeping its training time."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..data import GroundTruthDataset
from ..io import atomic_write_json
from ..train import RunResult, TrainConfig, load_run, train


def train_or_continue(config: TrainConfig, run_dir: Path, dataset: GroundTruthDataset) -> tuple[RunResult, float]:
    """Train ``config`` into ``run_dir``, continuing an existing (shorter) run, or load it if finished.

    Returns the result and the total training seconds of the run, kept in ``train_seconds.json``
    across continuations.
    """
    run_dir = Path(run_dir)
    t_path = run_dir / "train_seconds.json"
    before = json.loads(t_path.read_text())["seconds"] if t_path.is_file() else 0.0
    scalars = run_dir / "logs" / "scalars.jsonl"
    text = scalars.read_text().strip() if scalars.is_file() else ""
    done = json.loads(text.splitlines()[-1])["step"] if text else 0
    ckpt = (run_dir / "checkpoints" / "last.pt").is_file()
    if ckpt and done >= config.steps:  # finished: load it (its config may predate newer TrainConfig fields)
        return load_run(run_dir, dataset=dataset), before
    t0 = time.perf_counter()
    res = train(config, run_dir, resume=ckpt, progress=False, dataset=dataset)
    total = before + time.perf_counter() - t0
    atomic_write_json(t_path, {"seconds": total, "steps": config.steps})
    return res, total
