"""Does bf16 change results? The same seed trained in fp32 and in bf16, next to fp32's seed-to-seed spread.

For each method: ``--seeds`` fp32 runs (seeds 0..n-1) and one bf16 run of seed 0, all ``--steps``
steps through the real trainer on dSprites, then MIG. Prints, per method, the largest difference
of the logged loss curve and of the final loss and MIG between bf16 and fp32 (same seed), and the
same differences between fp32 seeds (the spread that bf16's difference must lie within). One
JSON line per method to ``--out``.

    PYTHONPATH=. python benchmarks/precision_agreement.py --steps 2000 --batch 64   # the issue's setting

bf16 is only fast where the processor has native bf16 (``--precision auto`` picks it there); on
a processor without it the bf16 runs are emulated and many times slower, so shorten them there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from untwine.data import get_dataset
from untwine.nn.precision import SlowPrecisionWarning, native_bf16
from untwine.train import TrainConfig, evaluate_run, train


def run(method: str, seed: int, precision: str, a, dataset, root: Path) -> dict:
    config = TrainConfig(method=method, steps=a.steps, batch_size=a.batch, seed=seed, precision=precision,
                         log_every=a.log_every, checkpoint_every=a.steps, threads=a.threads or None,
                         hparams={"lr": a.lr})
    out = root / f"{method}_{precision}_{seed}"
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowPrecisionWarning)
        result = train(config, out, progress=False, dataset=dataset)
    seconds = time.perf_counter() - t
    mig = evaluate_run(out, ["mig"], 0)["mig"]
    return {"loss": np.array([r["loss"] for r in result.history]), "mig": mig, "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="beta_vae,beta_tcvae,factor_vae")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="")
    a = p.parse_args()
    dataset = get_dataset("dsprites")
    with tempfile.TemporaryDirectory() as tmp:
        for method in a.methods.split(","):
            fp32 = [run(method, s, "fp32", a, dataset, Path(tmp)) for s in range(a.seeds)]
            bf16 = run(method, 0, "bf16", a, dataset, Path(tmp))

            def rel_curve(x, y):  # largest relative gap between two loss curves
                return float(np.max(np.abs(x - y) / np.abs(y)))

            spread = [(fp32[0], f) for f in fp32[1:]]
            row = {
                "method": method, "steps": a.steps, "batch": a.batch, "native_bf16": native_bf16("cpu"),
                "bf16_vs_fp32": {"curve_rel": rel_curve(bf16["loss"], fp32[0]["loss"]),
                                 "final_loss_rel": abs(bf16["loss"][-1] - fp32[0]["loss"][-1]) / abs(fp32[0]["loss"][-1]),
                                 "mig": abs(bf16["mig"] - fp32[0]["mig"])},
                "fp32_seed_spread": {"curve_rel": max(rel_curve(f["loss"], g["loss"]) for g, f in spread),
                                     "final_loss_rel": max(abs(f["loss"][-1] - g["loss"][-1]) / abs(g["loss"][-1]) for g, f in spread),
                                     "mig": max(abs(f["mig"] - g["mig"]) for g, f in spread)},
                "mig_fp32": [f["mig"] for f in fp32], "mig_bf16": bf16["mig"],
                "seconds_fp32": float(np.mean([f["seconds"] for f in fp32])), "seconds_bf16": bf16["seconds"],
            }
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
