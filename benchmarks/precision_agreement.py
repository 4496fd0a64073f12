"""Does bf16 change results? The same seeds trained in fp32 and in bf16, next to fp32's seed-to-seed spread.

For each method: ``--seeds`` runs in fp32 and the same seeds in bf16, all ``--steps`` steps of the
method's shipped defaults through the real trainer on dSprites, then MIG, DCI disentanglement and
the final loss (mean of the last 10% of the logged curve). Per method it reports

* same seed, bf16 against fp32: the largest relative gap between the two loss curves, and the
  absolute differences of the final loss and of each metric (largest over the seeds);
* fp32 seed against fp32 seed: the same quantities over every pair of seeds (the spread that
  bf16's differences must lie within).

Each run's row is written (atomically) to ``--runs/<method>_<precision>_<seed>.json`` as it finishes,
so a killed benchmark continues where it stopped; the summary is one JSON line per method, appended
to ``--out``.

    PYTHONPATH=. python benchmarks/precision_agreement.py --runs /tmp/precision --out benchmarks/results/precision_agreement.jsonl

bf16 is only fast where the processor has native bf16 (``--precision auto`` picks it there); on
a processor without it the bf16 runs are emulated and many times slower, so shorten them there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from untwine.data import get_dataset
from untwine.io import atomic_write_json
from untwine.nn.precision import SlowPrecisionWarning, native_bf16
from untwine.train import TrainConfig, evaluate_run, train

METRICS = ("mig", "dci.disentanglement")


def run(method: str, seed: int, precision: str, a, dataset, root: Path) -> dict:
    row_path = root / f"{method}_{precision}_{seed}.json"
    if row_path.is_file():
        return json.loads(row_path.read_text())
    out = root / f"{method}_{precision}_{seed}"
    shutil.rmtree(out, ignore_errors=True)  # an unfinished run starts again
    config = TrainConfig(method=method, steps=a.steps, batch_size=a.batch, seed=seed, precision=precision,
                         log_every=a.log_every, checkpoint_every=a.steps, threads=a.threads or None)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowPrecisionWarning)
        result = train(config, out, progress=False, dataset=dataset)
    seconds = time.perf_counter() - t
    scores = evaluate_run(out, ["mig", "dci"], 0)
    row = {"method": method, "seed": seed, "precision": precision, "steps": a.steps, "batch": a.batch,
           "loss": [r["loss"] for r in result.history], "mig": scores["mig"],
           "dci.disentanglement": scores["dci"]["disentanglement"] if isinstance(scores.get("dci"), dict)
           else scores["dci.disentanglement"], "seconds": seconds}
    atomic_write_json(row_path, row)
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({k: v for k, v in row.items() if k != "loss"}), flush=True)
    return row


def differences(a: dict, b: dict) -> dict:
    la, lb = np.array(a["loss"]), np.array(b["loss"])
    tail = max(1, len(la) // 10)
    out = {"curve_rel": float(np.max(np.abs(la - lb) / np.abs(lb))),
           "final_loss": float(abs(la[-tail:].mean() - lb[-tail:].mean()))}
    out.update({m: float(abs(a[m] - b[m])) for m in METRICS})
    return out


def largest(rows: list[dict]) -> dict:
    return {k: max(r[k] for r in rows) for k in rows[0]}


def table(summaries: list[dict]) -> str:
    """The markdown table of benchmarks/README.md from the per-method summaries."""
    lines = ["| method | quantity | fp32, seeds 0/1/2 | bf16, seeds 0/1/2 | bf16 vs fp32, same seed (largest) "
             "| fp32 seed vs seed (largest; smallest) | within the spread |", "|---|---|---|---|---|---|---|"]
    for s in summaries:
        for q, label, fmt in (("curve_rel", "loss curve, largest relative gap", "{:.3f}"),
                              ("final_loss", "final loss (nats)", "{:.1f}"), ("mig", "MIG", "{:.3f}"),
                              ("dci.disentanglement", "DCI disentanglement", "{:.3f}")):
            key = {"final_loss": "final_loss"}.get(q, q)
            f32 = " / ".join(fmt.format(v) for v in s.get(f"{key}_fp32", [])) or "-"
            b16 = " / ".join(fmt.format(v) for v in s.get(f"{key}_bf16", [])) or "-"
            d, hi, lo = s["bf16_vs_fp32_same_seed"][q], s["fp32_seed_spread"][q], s["fp32_seed_spread_smallest"][q]
            lines.append(f"| {s['method']} | {label} | {f32} | {b16} | {fmt.format(d)} | {fmt.format(hi)}; {fmt.format(lo)} "
                         f"| {'yes' if d <= hi else '**no**'} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="beta_vae,beta_tcvae,factor_vae")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", default="precision_runs", help="folder for the per-run rows (resumable)")
    p.add_argument("--out", default="")
    p.add_argument("--table", action="store_true", help="print the markdown table of the summaries in --out and stop")
    a = p.parse_args()
    if a.table:
        rows = [json.loads(line) for line in Path(a.out).read_text().splitlines() if line.strip()]
        latest = {r["method"]: r for r in rows}  # the newest summary of each method
        print(table(list(latest.values())))
        return
    dataset = get_dataset("dsprites")
    root = Path(a.runs)
    root.mkdir(parents=True, exist_ok=True)
    for method in a.methods.split(","):
        fp32 = [run(method, s, "fp32", a, dataset, root) for s in range(a.seeds)]
        bf16 = [run(method, s, "bf16", a, dataset, root) for s in range(a.seeds)]
        summary = {
            "method": method, "steps": a.steps, "batch": a.batch, "seeds": a.seeds, "native_bf16": native_bf16("cpu"),
            "bf16_vs_fp32_same_seed": largest([differences(b, f) for b, f in zip(bf16, fp32)]),
            "fp32_seed_spread": largest([differences(f, g) for f, g in itertools.combinations(fp32, 2)]),
            "fp32_seed_spread_smallest": {k: min(differences(f, g)[k] for f, g in itertools.combinations(fp32, 2))
                                          for k in ("curve_rel", "final_loss", *METRICS)},
            **{f"{m}_fp32": [f[m] for f in fp32] for m in METRICS},
            **{f"{m}_bf16": [b[m] for b in bf16] for m in METRICS},
            "final_loss_fp32": [float(np.mean(f["loss"][-max(1, len(f["loss"]) // 10):])) for f in fp32],
            "final_loss_bf16": [float(np.mean(b["loss"][-max(1, len(b["loss"]) // 10):])) for b in bf16],
            "seconds_fp32": float(np.mean([f["seconds"] for f in fp32])),
            "seconds_bf16": float(np.mean([b["seconds"] for b in bf16])),
        }
        print(json.dumps(summary), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
