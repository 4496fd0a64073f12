"""Speed of the study machinery: models per hour and the overhead per trial, locally and on Ray.

    .venv/bin/python benchmarks/study_speed.py [--trials 8] [--steps 300] [--no-ray] [--out benchmarks/results]

1. Models per hour for a tiny model (beta-VAE, MLP 64-64, Blobs, batch 64, ``--steps`` steps, MIG on
   2,000 points) trained as a study of ``--trials`` trials on this machine's cores:
   one worker with 1 torch thread (sequential), one worker with 2 threads (the cores inside one
   trial), two workers with 1 thread each (the cores across trials); then on a local Ray instance
   (two 1-CPU tasks at a time).
2. The overhead per trial on a 1-step model: the study's wall time per trial against the trials'
   own training and scoring time, split into worker start-up, dataset loading, training, scoring,
   and the store (claim + finish, timed directly on a study of 200 trials).

Every configuration runs in a fresh study directory; the numbers go to ``--out`` as JSON and a
Markdown table. Run on an otherwise idle machine: the configurations compete for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

from untwine.io import atomic_write_json, atomic_write_text
from untwine.studies import load, load_study, run_study
from untwine.studies.store import StudyStore, owner_name


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def study_file(directory: Path, trials: int, steps: int, threads: int, metrics: dict) -> Path:
    spec = {
        "name": "bench", "datasets": ["blobs"], "seeds": list(range(trials)),
        "train": {"steps": steps, "batch_size": 64, "threads": threads, "precision": "fp32", "log_every": max(1, steps),
                  "checkpoint_every": max(1, steps)},
        "hparams": {"latent_dim": 4, "architecture": "mlp", "encoder_hidden": [64, 64], "decoder_hidden": [64, 64]},
        "methods": [{"method": "beta_vae"}], "evaluation": {"metrics": metrics},
    }
    path = directory / f"bench_{trials}_{steps}_{threads}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def timed_study(path: Path, out: Path, **kwargs) -> dict:
    study = load_study(path, out=out)
    t0 = time.perf_counter()
    summary = run_study(study, log=None, summary=False, **kwargs)
    wall = time.perf_counter() - t0
    assert not summary.failed, summary.failed
    frame = load(study)
    n = len(frame)
    return {"trials": n, "wall_seconds": wall, "models_per_hour": 3600 * n / wall,
            "train_seconds_mean": float(frame["train_seconds"].mean()),
            "eval_seconds_mean": float(frame["eval_seconds"].mean()),
            "trial_seconds_mean": float(frame["trial_seconds"].mean())}


def store_overhead(directory: Path, n: int = 200) -> dict:
    path = study_file(directory, n, 1, 1, {})
    study = load_study(path, out=directory / "store_bench")
    store = StudyStore(study.store_path)
    store.sync(study.trials())
    owner, result = owner_name(), {"metrics": {"mig": 0.1}, "timings": {"train_seconds": 1.0}, "versions": {}, "run_path": "x"}
    t0 = time.perf_counter()
    for t in study.trials():
        assert store.claim(t.id, owner, "k")
        store.finish(t.id, owner, result, "k")
    per = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    load(study)
    return {"claim_and_finish_ms": 1000 * per, f"load_{n}_trials_ms": 1000 * (time.perf_counter() - t0)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the local configurations (median reported)")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    metrics = {"mig": {"num_train": 2000}}
    res: dict = {"environment": {"python": platform.python_version(), "machine": cpu_name()},
                 "trials": args.trials, "steps": args.steps, "throughput": {}, "overhead": {}}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        configs = (("1 worker x 1 thread (sequential)", 1, 1), ("1 worker x 2 threads", 2, 1),
                   ("2 workers x 1 thread", 1, 2))
        rounds: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
        for rep in range(args.repeat):  # interleaved rounds: a slow spell of the machine hits every configuration
            for name, threads, workers in configs:
                r = timed_study(study_file(d, args.trials, args.steps, threads, metrics),
                                d / f"t{threads}w{workers}r{rep}", workers=workers)
                rounds[name].append(r)
                print(f"round {rep + 1}: {name:<34} {r['models_per_hour']:7.0f} models/h  ({r['wall_seconds']:.1f} s, "
                      f"training {r['train_seconds_mean']:.2f} s/trial)", flush=True)
        for name, rs in rounds.items():
            rs = sorted(rs, key=lambda r: r["models_per_hour"])
            res["throughput"][name] = {**rs[len(rs) // 2], "models_per_hour_min": rs[0]["models_per_hour"],
                                       "models_per_hour_max": rs[-1]["models_per_hour"], "rounds": len(rs)}
        one = study_file(d, 2 * args.trials, 1, 1, metrics)  # 1-step trials: the worker start-up amortised over more
        r = timed_study(one, d / "one_step", workers=1)
        study = load_study(one, out=d / "one_step")
        frame = load(study)
        timings = [json.loads((Path(p) / "trial.json").read_text())["timings"] for p in frame["run_path"]]
        mean = lambda k: sum(t[k] for t in timings) / len(timings)  # noqa: E731
        over = {"wall_per_trial_s": r["wall_seconds"] / r["trials"], "dataset_s": mean("dataset_seconds"),
                "train_s": mean("train_seconds"), "eval_s": mean("eval_seconds"), "trial_s": mean("trial_seconds")}
        over["outside_trial_s"] = over["wall_per_trial_s"] - over["trial_s"]  # worker start-up amortised + store + dispatch
        over.update(store_overhead(d))
        res["overhead"]["local, 1-step model, 1 worker"] = over
        print("overhead per 1-step trial (local):", {k: round(v, 4) for k, v in over.items()}, flush=True)
        if not args.no_ray:
            try:
                import ray
            except ImportError:
                print("ray not installed: skipping the Ray measurements (pip install 'untwine[ray]')")
            else:
                t0 = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                res["ray_start_seconds"] = time.perf_counter() - t0
                try:
                    r = timed_study(study_file(d, args.trials, args.steps, 1, metrics), d / "ray", ray_address="auto")
                    res["throughput"]["Ray local, 2 CPUs, 1-CPU tasks"] = r
                    print(f"{'Ray local, 2 x 1-CPU tasks':<34} {r['models_per_hour']:7.0f} models/h  "
                          f"({r['wall_seconds']:.1f} s; Ray start {res['ray_start_seconds']:.1f} s)", flush=True)
                    r = timed_study(one, d / "ray_one", ray_address="auto")
                    res["overhead"]["Ray local, 1-step model"] = {"wall_per_trial_s": r["wall_seconds"] / r["trials"],
                                                                 "trial_s": r["trial_seconds_mean"]}
                    print("overhead per 1-step trial (Ray):", res["overhead"]["Ray local, 1-step model"], flush=True)
                finally:
                    ray.shutdown()
    seq = res["throughput"]["1 worker x 1 thread (sequential)"]["models_per_hour"]
    lines = [f"Study machinery, {args.trials} trials of a tiny model ({args.steps} steps, batch 64, MIG on 2,000 points), "
             f"{res['environment']['machine']}, {os.cpu_count()} cores; local: median of {args.repeat} interleaved rounds "
             "(min-max), each from worker start-up to the last result:", "",
             "| configuration | models per hour | vs sequential | wall (s) |", "|---|---|---|---|"]
    for name, r in res["throughput"].items():
        spread = f" ({r['models_per_hour_min']:.0f}-{r['models_per_hour_max']:.0f})" if "rounds" in r else ""
        lines.append(f"| {name} | {r['models_per_hour']:.0f}{spread} | {r['models_per_hour'] / seq:.2f}x | "
                     f"{r['wall_seconds']:.1f} |")
    lines += ["", "Overhead per trial, 1-step model:", "", "| | seconds |", "|---|---|"]
    for where, o in res["overhead"].items():
        for k, v in o.items():
            lines.append(f"| {where}: {k} | {v:.4f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    out = Path(args.out)
    stamp = time.strftime("%Y-%m-%d")
    atomic_write_json(out / f"study_speed_{stamp}.json", res)
    atomic_write_text(out / f"study_speed_{stamp}.md", table)
    print(f"wrote {out / f'study_speed_{stamp}.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
