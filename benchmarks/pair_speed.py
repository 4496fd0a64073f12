"""Training throughput (images/s) of every pair method next to beta-VAE, on the same images per step.

Issue 12's target: a pair step costs at most 1.2x a beta-VAE step on the same number of images
(aggregation and a small discriminator are the only extra work). The pair methods are discovered
from the registry: every method whose streams (``build_method(name, facts).streams()``) include
one of kind ``pairs``. Each runs through the real trainer (``untwine.train.train``) on dSprites
(rendered lazily, factor groups ``seed003``), a pair batch of B pairs against beta-VAE at batch 2B
(the trainer's ``images_per_second`` counts a pair as two images). Methods run in turns,
``--rounds`` times, in one process; the figure per method is the median over its rounds of the
steady-state images/s (the first two logging intervals dropped), and the ratio is beta-VAE's
images/s over the method's (the cost of a step relative to beta-VAE's; <= 1.2 meets the target).
``--context`` methods (default FactorVAE, whose discriminator group-tcVAE shares) are timed at the
full image batch for comparison.

    python benchmarks/pair_speed.py [--images 64] [--steps 60] [--rounds 2] [--threads 0] [--methods NAME ...]
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

import torch

from untwine.data import get_dataset
from untwine.methods import available_methods, build_method
from untwine.train import TrainConfig, train

DATASET_OPTIONS = {"lazy": True, "groups": "seed003"}


def pair_methods(dataset) -> tuple[list[str], dict[str, str]]:
    """The registered methods with a ``pairs`` stream, and why each other method was not built."""
    found, skipped = [], {}
    for name in available_methods():
        try:
            streams = build_method(name, dataset).streams()
        except Exception as e:  # a method that needs other data (labels, relations): not a pair method here
            skipped[name] = f"{type(e).__name__}: {e}"
            continue
        if any(s.kind == "pairs" for s in streams.values()):
            found.append(name)
    return found, skipped


def measure(method: str, dataset, batch: int, steps: int, threads: int, warmup_rows: int = 2) -> float:
    """Steady-state images/s of ``method`` at ``batch`` (pairs for a pair method) through the trainer."""
    log_every = max(steps // 8, 2)
    cfg = TrainConfig(method=method, dataset="dsprites", dataset_options=dict(DATASET_OPTIONS), steps=steps,
                      batch_size=batch, log_every=log_every, checkpoint_every=10**9, threads=threads)
    with tempfile.TemporaryDirectory() as tmp:
        r = train(cfg, Path(tmp) / "run", progress=False, dataset=dataset)
    rates = [row["images_per_second"] for row in r.history[warmup_rows:]]
    if not rates:
        raise SystemExit(f"--steps {steps} gives no logging interval after the warm-up; use more steps")
    return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=64, help="images per step: beta-VAE batch, 2x the pair batch")
    p.add_argument("--steps", type=int, default=60, help="steps per run (the first 2 logging intervals are warm-up)")
    p.add_argument("--rounds", type=int, default=2, help="runs per method, in turns")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--methods", nargs="*", default=None, help="pair methods to time (default: every one registered)")
    p.add_argument("--context", nargs="*", default=["factor_vae"],
                   help="single-image methods also timed at the full image batch (factor_vae: the same discriminator "
                        "as group-tcVAE's, without pairs)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "pair_speed.jsonl"))
    args = p.parse_args()
    if args.images % 2:
        raise SystemExit("--images must be even (a pair is two images)")
    dataset = get_dataset("dsprites", **DATASET_OPTIONS)
    found, skipped = pair_methods(dataset)
    methods = found if args.methods is None else args.methods
    unknown = [m for m in methods if m not in found]
    if unknown:
        raise SystemExit(f"not pair methods here: {', '.join(unknown)}; pair methods: {', '.join(found) or '(none)'}")
    print(f"pair methods: {', '.join(methods) or '(none registered)'}; {args.images} images per step, "
          f"{args.steps} steps, {args.rounds} round(s)")
    batches = {"beta_vae": args.images, **{m: args.images for m in args.context}, **{m: args.images // 2 for m in methods}}
    rates: dict[str, list[float]] = {m: [] for m in batches}
    for _ in range(args.rounds):
        for m, b in batches.items():
            rates[m].append(measure(m, dataset, b, args.steps, args.threads))
    base = statistics.median(rates["beta_vae"])
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    rows = []
    print(f"{'method':<16} {'batch':>10} {'images/s':>10} {'step cost vs beta-VAE':>22}")
    for m, b in batches.items():
        ips = statistics.median(rates[m])
        ratio = base / ips
        single = m == "beta_vae" or m in args.context
        unit = "images" if single else "pairs"
        verdict = "" if single else ("  ok (<= 1.2)" if ratio <= 1.2 else "  over 1.2")
        print(f"{m:<16} {f'{b} {unit}':>10} {ips:10.1f} {ratio:21.2f}x{verdict}")
        rows.append({"method": m, "batch": b, "images_per_step": args.images, "images_per_second": ips,
                     "rounds": rates[m], "cost_ratio_to_beta_vae": ratio, "steps": args.steps,
                     "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                     "torch": torch.__version__, "machine": platform.machine(), "time": when})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
