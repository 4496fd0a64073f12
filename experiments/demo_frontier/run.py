"""The demo's frontier: MIG and factors captured against training minutes, for a few candidates.

Each candidate trains on dSprites in chunks (resume is exact, so a run evaluated at 500, 1000, ...
steps is the same run as one trained straight through) and is scored after every chunk with MIG
and ``factors_captured`` (untwine.metrics.factor_latents). Each (candidate, seed, step) writes one
row (JSON, atomically) in its run directory; a killed run continues where it stopped.

    PYTHONPATH=. python experiments/demo_frontier/run.py --shard 0/2 &    # one process per core
    PYTHONPATH=. python experiments/demo_frontier/run.py --shard 1/2 &
    PYTHONPATH=. python experiments/demo_frontier/run.py --rates          # quiet machine: results/rates.json
    PYTHONPATH=. python experiments/demo_frontier/run.py --report         # results/frontier.{md,json,png}

The time axis is not the runs' wall clock (they ran one thread each, beside other jobs, some
interrupted and resumed) but what ``make run`` would spend: steps x images a step / the candidate's
images/s at 2 threads, measured by ``--rates`` on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

from untwine.data import get_dataset
from untwine.io import atomic_write_json, atomic_write_text
from untwine.train import TrainConfig, evaluate_run, train
from untwine.train.run_dir import RunDir

HERE = Path(__file__).resolve().parent


def jobs_of(cfg: dict) -> list[dict]:
    out = []
    for name, c in cfg["candidates"].items():
        for seed in c.get("seeds", cfg["seeds"]):
            out.append({"tag": f"{name}_s{seed}", "candidate": name, "seed": seed, **c})
    return out


def run_job(job: dict, cfg: dict, runs: Path, dataset) -> list[dict]:
    run_dir = runs / job["tag"]
    rows = []
    for step in job.get("checkpoints", cfg["checkpoints"]):
        row_path = run_dir / f"frontier_{step}.json"
        if row_path.is_file():
            rows.append(json.loads(row_path.read_text()))
            continue
        config = TrainConfig(method=job["method"], dataset="dsprites", dataset_options=job.get("dataset_options", {}),
                             hparams=job["hparams"], steps=step, batch_size=job["batch_size"], seed=job["seed"],
                             log_every=50, checkpoint_every=500, threads=cfg.get("threads"))
        resume = RunDir(run_dir).checkpoint.is_file()
        t0 = time.perf_counter()
        train(config, run_dir, resume=resume, progress=False, dataset=dataset)
        seconds = time.perf_counter() - t0
        before = rows[-1]["train_seconds"] if rows else 0.0
        scores = evaluate_run(run_dir, ["mig", "factors_captured"], 0)
        row = {"tag": job["tag"], "candidate": job["candidate"], "method": job["method"], "seed": job["seed"],
               "step": step, "batch_size": config.batch_size, "train_seconds": before + seconds,
               "mig": scores["mig"], "factors_captured": scores["factors_captured"]}
        atomic_write_json(row_path, row)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def measure_rates(cfg: dict, out: Path, steps: int = 300, threads: int = 2, only: list[str] | None = None) -> dict[str, float]:
    """Steady-state training images/s of each candidate as ``make run`` trains (``threads`` threads,
    default precision), on a quiet machine: the frontier's time axis is steps x images per step / rate,
    so that it reads as minutes of the demo's training whatever else ran beside the study."""
    import tempfile

    path = out / "rates.json"
    known = json.loads(path.read_text()) if only and path.is_file() else {}  # --only: add to the rates measured
    rates: dict[str, float] = dict(known.get("images_per_second", {}))
    per_step: dict[str, int] = dict(known.get("images_per_step", {}))
    names = only or list(cfg["candidates"])
    for name in [names[0]] + names:  # the first training of a process runs ~15% slow: a throwaway warm-up
        c = cfg["candidates"][name]
        config = TrainConfig(method=c["method"], dataset="dsprites", dataset_options=c.get("dataset_options", {}),
                             hparams=c["hparams"], steps=steps, batch_size=c["batch_size"], seed=0,
                             log_every=steps // 5, checkpoint_every=10**9, threads=threads)
        with tempfile.TemporaryDirectory() as tmp:
            r = train(config, Path(tmp) / "run", progress=False)
        rates[name] = float(np.median([row["images_per_second"] for row in r.history[2:]]))
        per_step[name] = c["batch_size"] * (2 if any(s.kind == "pairs" for s in r.method.streams().values()) else 1)
        print(f"{name}: {rates[name]:.0f} images/s, {per_step[name]} images a step", flush=True)
    atomic_write_json(path, {"threads": threads, "steps": steps, "images_per_second": rates,
                                           "images_per_step": per_step})
    return rates


def report(cfg: dict, runs: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(p.read_text()) for p in sorted(runs.glob("*/frontier_*.json"))]
    rates = json.loads((out / "rates.json").read_text())  # measured by --rates on a quiet machine
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "frontier.json", rows)
    lines = ["| candidate | settings | step | seeds | demo training min (2 threads) | MIG median (min-max) | factors captured median (min) |",
             "|---|---|---|---|---|---|---|"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, c in cfg["candidates"].items():
        mine = [r for r in rows if r["candidate"] == name]
        xs, ys = [], []
        for step in sorted({r["step"] for r in mine}):
            at = [r for r in mine if r["step"] == step]
            mig = np.array([r["mig"] for r in at])
            cap = np.array([r["factors_captured"] for r in at])
            minutes = step * rates["images_per_step"][name] / rates["images_per_second"][name] / 60
            lines.append(f"| {name} | {c['label']} | {step} | {len(at)} | {minutes:.1f} | {np.median(mig):.3f} "
                         f"({mig.min():.3f}-{mig.max():.3f}) | {np.median(cap):.0f} ({cap.min():.0f}) |")
            xs.append(minutes)
            ys.append(float(np.median(mig)))
        if xs:
            ax.plot(xs, ys, "o-", label=name)
    ax.axhline(0.2, color="#999", ls="--", lw=1)
    ax.set_xlabel("training minutes at the demo's 2 threads (from measured images/s)")
    ax.set_ylabel("MIG (median over the seeds run)")
    ax.set_title("dSprites: MIG against training time")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "frontier.png", dpi=110)
    atomic_write_text(out / "frontier.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(HERE / "config.yaml"))
    p.add_argument("--runs", default=str(HERE / "runs"))
    p.add_argument("--shard", default="0/1", help="I/N: run every N-th job starting at I")
    p.add_argument("--only", default="", help="comma-separated candidates to run (default all)")
    p.add_argument("--report", action="store_true")
    p.add_argument("--rates", action="store_true", help="measure each candidate's images/s with 2 threads (quiet machine)")
    args = p.parse_args()
    cfg = yaml.safe_load(Path(args.config).read_text())
    runs = Path(args.runs)
    if args.rates:
        (HERE / "results").mkdir(exist_ok=True)
        measure_rates(cfg, HERE / "results", only=args.only.split(",") if args.only else None)
        return
    if args.report:
        report(cfg, runs, HERE / "results")
        return
    i, n = map(int, args.shard.split("/"))
    jobs = jobs_of(cfg)
    if args.only:
        jobs = [j for j in jobs if j["candidate"] in args.only.split(",")]
    datasets: dict[str, object] = {}
    for job in jobs[i::n]:
        key = json.dumps(job.get("dataset_options", {}), sort_keys=True)
        if key not in datasets:
            datasets[key] = get_dataset("dsprites", **job.get("dataset_options", {}))
        run_job(job, cfg, runs, datasets[key])


if __name__ == "__main__":
    main()
