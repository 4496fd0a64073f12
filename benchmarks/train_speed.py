"""Steady-state training throughput (images/s) of beta-VAE, conv architecture, latent 10, Adam.

Runs the real trainer (``untwine.train.train``) and reports the median images/s over logging
intervals after a warm-up. Data: dSprites (1x64x64, bit-packed uint8 in memory, unpacked per batch)
and, for a like-for-like comparison with disent's ``bench_train.py --mode precollated``
(64x64x3), an in-memory uint8 tensor of 3-channel images.

    python benchmarks/train_speed.py [--batch 64 256] [--steps 120] [--threads 0] [--channels-last]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from untwine.data import FactorGridDataset, get_dataset
from untwine.train import TrainConfig, train


class InMemoryRGB(FactorGridDataset):
    """4096 random binary 3x64x64 uint8 images held in one tensor (disent's precollated setting)."""

    name = "in_memory_rgb"
    factor_names = ("a", "b")
    factor_sizes = (64, 64)
    image_shape = (3, 64, 64)

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.data = (torch.rand(4096, 3, 64, 64, generator=g) > 0.5).to(torch.uint8) * 255

    def factor_values(self, factor):
        return np.arange(64, dtype=float)

    def images(self, indices):
        return self.data[torch.as_tensor(indices, dtype=torch.long)]


def measure(dataset, batch: int, steps: int, threads: int, channels_last: bool, warmup_rows: int = 2) -> dict:
    log_every = max(steps // 8, 5)
    cfg = TrainConfig(method="beta_vae", dataset=dataset.name, steps=steps, batch_size=batch, log_every=log_every,
                      checkpoint_every=10**9, threads=threads, channels_last=channels_last)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = train(cfg, Path(tmp) / "run", progress=False, dataset=dataset)
        wall = time.perf_counter() - t0
    rates = [row["images_per_second"] for row in r.history[warmup_rows:]]
    return {"dataset": dataset.name, "batch": batch, "steps": steps, "threads": torch.get_num_threads(),
            "channels_last": channels_last, "images_per_second": statistics.median(rates),
            "min": min(rates), "max": max(rates), "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--data", nargs="+", default=["dsprites", "rgb"], choices=["dsprites", "rgb"])
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_speed.jsonl"))
    args = p.parse_args()
    datasets = {"dsprites": lambda: get_dataset("dsprites"), "rgb": InMemoryRGB}
    rows = []
    for name in args.data:
        ds = datasets[name]()
        for b in args.batch:
            row = measure(ds, b, args.steps if b <= 64 else max(args.steps // 3, 40), args.threads, args.channels_last)
            row.update(torch=torch.__version__, machine=platform.machine(), time=time.strftime("%Y-%m-%d %H:%M:%S"))
            rows.append(row)
            print(f"{row['dataset']:>14}  batch {b:>4}  {row['images_per_second']:8.1f} images/s "
                  f"(min {row['min']:.1f}, max {row['max']:.1f}; threads {row['threads']}, channels_last {row['channels_last']})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
