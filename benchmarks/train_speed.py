"""Steady-state training throughput (images/s) of beta-VAE, conv architecture, latent 10, Adam.

Runs the real trainer (``untwine.train.train``) and reports the median images/s over logging
intervals after a warm-up. Data: dSprites (1x64x64, bit-packed uint8 in memory, unpacked per batch)
and, for a like-for-like comparison with disent's ``bench_train.py --mode precollated``
(64x64x3), an in-memory uint8 tensor of 3-channel images. Uses the trainer's defaults
(channels-last, sleeping OpenMP threads) unless told otherwise; benchmarks/compare_disent.sh runs
it side by side with disent.

    python benchmarks/train_speed.py [--data rgb dsprites] [--batch 64 256] [--steps 120] [--threads 0]
                                     [--memory-format channels_last|contiguous] [--precision auto|fp32|bf16]
                                     [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import untwine  # noqa: F401  (before torch: sets untwine's OpenMP wait-policy default)

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


def measure(dataset, batch: int, steps: int, threads: int, channels_last: bool, warmup_rows: int = 2,
            precision: str = "auto", device: str = "cpu") -> dict:
    log_every = max(steps // 8, 2)
    cfg = TrainConfig(method="beta_vae", dataset=dataset.name, steps=steps, batch_size=batch, log_every=log_every,
                      checkpoint_every=10**9, threads=threads, channels_last=channels_last,
                      precision=precision, device=device)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = train(cfg, Path(tmp) / "run", progress=False, dataset=dataset)
        wall = time.perf_counter() - t0
    rows = r.history[warmup_rows - 1:]
    rates = [row["images_per_second"] for row in rows[1:]]
    images = [(b["step"] - a["step"]) * batch for a, b in zip(rows, rows[1:])]
    window = sum(n / rate for n, rate in zip(images, rates))
    return {"dataset": dataset.name, "batch": batch, "steps": steps, "threads": torch.get_num_threads(),
            "channels_last": channels_last, "precision": r.config.precision, "device": device, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", ""),
            # over the steady-state window, as disent's bench_train.py computes it
            "images_per_second": sum(images) / window, "interval_median": statistics.median(rates),
            "min": min(rates), "max": max(rates), "wall_s": wall,
            "loadavg_1m_before": round(load_before, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--steps", type=int, default=None,
                   help="steps per run (default: 120 for batch <= 64, else 40); the first 2 logging intervals are warm-up")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--memory-format", choices=["channels_last", "contiguous"], default="channels_last",
                   help="TrainConfig.channels_last (default: channels_last, the trainer's default)")
    p.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="auto",
                   help="TrainConfig.precision (default: auto, the trainer's default; the resolved choice is recorded)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    p.add_argument("--data", nargs="+", default=["dsprites", "rgb"], choices=["dsprites", "rgb"])
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_speed.jsonl"))
    args = p.parse_args()
    datasets = {"dsprites": lambda: get_dataset("dsprites"), "rgb": InMemoryRGB}
    rows = []
    for name in args.data:
        ds = datasets[name]()
        for b in args.batch:
            row = measure(ds, b, args.steps or (120 if b <= 64 else 40), args.threads,
                          args.memory_format == "channels_last", precision=args.precision, device=args.device)
            row.update(torch=torch.__version__, machine=platform.machine(), time=time.strftime("%Y-%m-%d %H:%M:%S"))
            rows.append(row)
            print(f"{row['dataset']:>14}  batch {b:>4}  {row['images_per_second']:8.1f} images/s "
                  f"(min {row['min']:.1f}, max {row['max']:.1f}; threads {row['threads']}, channels_last "
                  f"{row['channels_last']}, {row['precision']}, OMP_WAIT_POLICY {row['omp_wait_policy'] or 'unset'})")
            print(json.dumps(row))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
