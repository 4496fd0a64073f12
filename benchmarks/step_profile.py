"""Where a training step's time goes: batch drawing, forward pass, backward + optimiser, logging.

Times each part of :class:`untwine.train.loop.TrainingLoop.advance` for beta-VAE (or ``--method``)
on dSprites by wrapping the loop's own pieces (nothing in the loop is changed), after warm-up steps,
and prints the share of each part. One JSON line per run to ``--out``.

    PYTHONPATH=. python benchmarks/step_profile.py --batch 64 --steps 60 --threads 1
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import torch

from untwine.data import get_dataset
from untwine.train import TrainConfig, build_run
from untwine.train import loop as L
from untwine.train.trainer import resolved_precision


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="beta_vae")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--out", default="")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cpu")
    config = resolved_precision(TrainConfig(method=a.method, steps=a.warmup + a.steps, batch_size=a.batch,
                                            precision=a.precision), device)
    method, dataset = build_run(config, get_dataset("dsprites"))
    loop = L.TrainingLoop(config, method, dataset, device)
    parts: dict[str, float] = defaultdict(float)
    timing = [False]

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            if timing[0]:
                parts[name] += time.perf_counter() - t
            return out
        return wrapper

    loop.streams.draw = timed("draw batch (sampler, unpack)", loop.streams.draw)
    phases = [timed("forward (losses)", ph) for ph in method.phases()]
    method.phases = lambda: phases
    L.simultaneous_update = timed("backward + optimiser", L.simultaneous_update)
    loop.log.add = timed("logging sums", loop.log.add)
    method.train()
    for _ in range(a.warmup):
        loop.advance(lambda losses, step: None)
    timing[0] = True
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loop.advance(lambda losses, step: None)
    total = time.perf_counter() - t0
    parts["rest (checks, channels-last copy, schedules)"] = total - sum(parts.values())
    row = {"method": a.method, "batch": a.batch, "steps": a.steps, "threads": torch.get_num_threads(),
           "precision": config.precision, "images_per_second": a.steps * a.batch / total,
           "shares": {k: v / total for k, v in parts.items()}}
    for k, v in row["shares"].items():
        print(f"{k:<48} {100 * v:5.1f}%")
    print(f"{'images/s':<48} {row['images_per_second']:.0f}")
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
