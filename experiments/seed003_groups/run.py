"""Seed 003, Figs. 3a, 3c and 4 at CPU scale: group-tcVAE at three factorisation levels against GVAE,
ML-VAE and Ada-GVAE on dSprites and the 3D Shapes look-alike, scored with group-MIG and MIG.

    PYTHONPATH=. python experiments/seed003_groups/run.py [--config C] [--runs DIR] [--shard I/N]
    PYTHONPATH=. python experiments/seed003_groups/run.py --report [--out DIR]

Every (dataset, model, grid point, seed) of the config is a job: trained into ``--runs`` (default
``runs/seed003``; finished runs are reused, shorter ones continued, an interrupted one resumes
from its checkpoint), scored through ``untwine.train.evaluate_run`` (metrics.json in the run) and
recorded in the run's ``study_row.json`` (written atomically: a kill loses at most the job in
progress). ``--shard I/N`` runs every N-th job from the I-th (one process per core). ``--report``
trains nothing: it collects the rows of the finished jobs into ``--out`` (default
``experiments/seed003_groups/results``): ``results.json``, ``table.md`` (per model and per grid
point: mean, sd and best), ``figure4.png`` (densities of group-MIG and MIG over all runs, as the
paper's Fig. 4), ``figure3a.png`` (MI between latents and factors of the GVAE on 3D Shapes with
the highest MIG) and ``figure3b.png`` (group-MIG of the content group against the other group, every dSprites run)
``figure3c.png`` (MIG against the number of observations sharing the group) and
``traversal_<dataset>.png`` (latent traversals of the group-tcVAE run with the highest group-MIG,
one row per latent, as the paper's Fig. 5).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from untwine.data import get_dataset
from untwine.experiments.runs import train_or_continue
from untwine.io import atomic_write_json, atomic_write_text
from untwine.train import TrainConfig, evaluate_run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ROW = "study_row.json"


def grid_points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values (one point when the grid is empty)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def tag_of(dataset: str, model: str, point: dict, seed: int) -> str:
    return "_".join([dataset, model, *(f"{k}{v:g}" if isinstance(v, (int, float)) else f"{k}{v}" for k, v in point.items()),
                     f"s{seed}"])


def jobs_of(cfg: dict) -> list[dict]:
    """Every job of the config, in a fixed order: the Fig. 4 models first, seeds innermost."""
    jobs = []
    for ds_name, ds_options in cfg["datasets"].items():
        for model, spec in cfg["models"].items():
            if ds_name not in spec.get("datasets", [ds_name]):
                continue
            for point in grid_points(spec.get("grid", {})):
                for seed in cfg["seeds"]:
                    jobs.append({"tag": tag_of(ds_name, model, point, seed), "dataset": ds_name, "dataset_options": ds_options,
                                 "model": model, "method": spec.get("method", model), "point": point, "seed": seed,
                                 "hparams": {**cfg.get("common", {}), **spec.get("fixed", {}), **point},
                                 "batch_size": spec.get("batch_size", cfg.get("batch_size")),
                                 "metrics": spec.get("metrics", cfg["evaluation"]["metrics"]),
                                 "figure": str(spec.get("figure", "4"))})
    jobs.sort(key=lambda j: j["figure"] != "4")  # stable: Fig. 4's jobs first
    return jobs


def run_job(job: dict, cfg: dict, runs: Path, dataset) -> dict:
    """Train (or continue, or reuse) one job and score it; its row, also saved in the run."""
    run_dir = runs / job["tag"]
    row_path = run_dir / ROW
    if row_path.is_file():
        row = json.loads(row_path.read_text())
        if row.get("steps") == cfg["steps"]:
            return row
    config = TrainConfig(method=job["method"], dataset=job["dataset"], dataset_options=job["dataset_options"],
                         hparams=job["hparams"], steps=cfg["steps"], batch_size=job["batch_size"], seed=job["seed"],
                         log_every=100, checkpoint_every=250, threads=cfg.get("threads"))
    _, train_s = train_or_continue(config, run_dir, dataset)
    t1 = time.perf_counter()
    ev = cfg["evaluation"]
    scores = evaluate_run(run_dir, job["metrics"], ev["seed"], options=ev.get("options"))
    hp = config.method_hparams()
    row = {k: job[k] for k in ("tag", "dataset", "model", "method", "seed", "figure")}
    row.update({**job["point"], "group_size": getattr(hp, "group_size", 2), "batch_size": config.batch_size,
                "steps": cfg["steps"], "train_seconds": train_s, "eval_seconds": time.perf_counter() - t1,
                **{k: v for k, v in scores.items() if isinstance(v, float)}})
    atomic_write_json(row_path, row)
    return row


def mi_matrix(run_dir: Path, n: int = 10000, seed: int = 0) -> dict:
    """MI (latents x factors, nats) of a run's mean codes on ``n`` images (20 histogram bins), the
    varying factors ordered by factor group, with the latents' and factors' group indices."""
    from untwine.metrics.utils import discrete_mutual_info, histogram_discretize
    from untwine.train import load_run

    res = load_run(run_dir)
    ds, m = res.dataset, res.method.eval()
    idx = np.random.default_rng(seed).integers(0, len(ds), n)
    with torch.no_grad():
        codes = torch.cat([m.encode(ds.images(idx[i:i + 500])) for i in range(0, n, 500)]).numpy()
    classes = ds.index_to_classes(idx)
    order = [(g, ds.factor_index(f)) for g, group in enumerate(ds.factor_groups) for f in group]
    keep = [(g, k) for g, k in order if ds.factor_sizes[k] > 1]
    mi = discrete_mutual_info(histogram_discretize(codes, 20), classes[:, [k for _, k in keep]])
    return {"mi_nats": mi, "factors": [ds.factor_names[k] for _, k in keep], "factor_groups": [g for g, _ in keep],
            "latent_groups": list(m.latent_groups)}


def summarise(rows: list[dict], metrics: list[str]) -> str:
    lines = ["| dataset | model | runs | " + " | ".join(f"{m} mean ± sd | {m} best" for m in metrics) + " |",
             "|" + "---|" * (3 + 2 * len(metrics))]
    keyed: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        keyed.setdefault((r["dataset"], r["model"]), []).append(r)
    for (ds, model), rs in keyed.items():
        cells = []
        for m in metrics:
            v = np.array([r[m] for r in rs if isinstance(r.get(m), float)])
            cells += [f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}", f"{v.max():.3f}"] if len(v) else ["n/a", "n/a"]
        lines.append(f"| {ds} | {model} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save(fig, path: Path) -> None:
    """Lay out, write (dpi 110) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure4(rows: list[dict], metrics: list[str], path: Path) -> None:
    """Densities (Gaussian KDE) of each metric over all runs of each model, runs as ticks (paper Fig. 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import gaussian_kde

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    colour = {m: f"C{i}" for i, m in enumerate(models)}
    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(5 * len(metrics), 3.2 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        for j, m in enumerate(metrics):
            ax = axes[i][j]
            for model in models:
                v = np.array([r[m] for r in rows if r["dataset"] == ds and r["model"] == model and isinstance(r.get(m), float)])
                if len(v) == 0:
                    continue
                if len(v) > 2 and v.std() > 1e-9:
                    grid = np.linspace(min(v.min(), 0) - 0.05, v.max() + 0.05, 200)
                    ax.plot(grid, gaussian_kde(v)(grid), color=colour[model], label=f"{model} (n={len(v)})")
                ax.plot(v, np.zeros_like(v), "|", ms=12, color=colour[model])
            ax.set_title(f"{ds}: {m}")
            ax.set_xlabel(m)
            ax.set_ylabel("density")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    save(fig, path)


def figure3a(mi: dict, title: str, path: Path) -> None:
    """The MI matrix as a heat map, latent blocks and factor groups separated by lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m, names = np.asarray(mi["mi_nats"]), mi["factors"]
    group_name = {0: "c", 1: "\\c"}
    fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(names), 0.45 * m.shape[0] + 1.8))
    im = ax.imshow(m, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), [f"{n} ({group_name.get(g, g)})" for n, g in zip(names, mi["factor_groups"])],
                  rotation=45, ha="right")
    ax.set_yticks(range(m.shape[0]), [f"z{i + 1} ({group_name.get(g, g)})" for i, g in enumerate(mi["latent_groups"])])
    for k in range(1, len(names)):
        if mi["factor_groups"][k] != mi["factor_groups"][k - 1]:
            ax.axvline(k - 0.5, color="w", lw=2)
    for i in range(1, m.shape[0]):
        if mi["latent_groups"][i] != mi["latent_groups"][i - 1]:
            ax.axhline(i - 0.5, color="w", lw=2)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="MI (nats)")
    save(fig, path)


def figure3c(rows: list[dict], path: Path) -> None:
    """MIG against the group size K for GVAE and ML-VAE on dSprites: every run and the mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for i, method in enumerate(("gvae", "ml_vae")):
        rs = [r for r in rows if r["dataset"] == "dsprites" and r["method"] == method and "mig" in r]
        ks = sorted({r["group_size"] for r in rs})
        if not ks:
            continue
        means = [np.mean([r["mig"] for r in rs if r["group_size"] == k]) for k in ks]
        line, = ax.plot(ks, means, "o-", label=f"{method} (mean)")
        ax.plot([r["group_size"] + 0.1 * (2 * i - 1) for r in rs], [r["mig"] for r in rs], "x", color=line.get_color(), alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xticks([2, 4, 8], ["2", "4", "8"])
    ax.set_xlabel("observations sharing the group (K)")
    ax.set_ylabel("MIG")
    ax.set_title("dSprites: MIG vs group size (64 images/step)", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)


def point_table(rows: list[dict], metrics: list[str], keys: tuple[str, ...] = ("beta", "gamma", "group_size")) -> str:
    """Mean ± sd per (dataset, model, grid point) over seeds."""
    lines = ["| dataset | model | point | seeds | " + " | ".join(metrics) + " | train s/run |", "|" + "---|" * (5 + len(metrics))]
    keyed: dict[tuple, list[dict]] = {}
    for r in rows:
        point = ", ".join(f"{k}={r[k]:g}" for k in keys if k in r and not (k == "group_size" and r[k] == 2))
        keyed.setdefault((r["dataset"], r["model"], point), []).append(r)
    for (ds, model, point), rs in keyed.items():
        cells = []
        for m in metrics:
            v = np.array([r[m] for r in rs if isinstance(r.get(m), float)])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}" if len(v) else "n/a")
        t = np.mean([r["train_seconds"] for r in rs])
        lines.append(f"| {ds} | {model} | {point or '-'} | {len(rs)} | " + " | ".join(cells) + f" | {t:.0f} |")
    return "\n".join(lines) + "\n"


def with_group_scores(row: dict, cfg: dict, runs: Path) -> dict:
    """The row with group-MIG per factor group (``group_mig.group_0``: content, ``.group_1``: the
    rest), evaluated now (same checkpoint and seed) for a row scored before the metric gave them."""
    if "group_mig" not in row or "group_mig.group_0" in row:
        return row
    ev = cfg["evaluation"]
    scores = evaluate_run(runs / row["tag"], ["group_mig"], ev["seed"], options=ev.get("options"))
    if abs(scores["group_mig"] - row["group_mig"]) > 1e-9:
        raise SystemExit(f"{row['tag']}: group-MIG re-evaluated as {scores['group_mig']} != {row['group_mig']}")
    row = {**row, **{k: v for k, v in scores.items() if k.startswith("group_mig.")}}
    atomic_write_json(runs / row["tag"] / ROW, row)
    return row


def figure3b(rows: list[dict], path: Path) -> None:
    """group-MIG of the content group against the non-content group, every run on dSprites (Fig. 3b)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.0))
    for i, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        rs = [r for r in rows if r["model"] == model and r["dataset"] == "dsprites" and "group_mig.group_0" in r]
        if rs:
            ax.plot([r["group_mig.group_0"] for r in rs], [r["group_mig.group_1"] for r in rs], "o", color=f"C{i}",
                    label=model, alpha=0.8)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("group-MIG of c = {shape, scale}")
    ax.set_ylabel("group-MIG of \\c = {orientation, posX, posY}")
    ax.set_title("dSprites: content vs non-content, every run", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)


def report(cfg: dict, jobs: list[dict], runs: Path, out: Path) -> None:
    """Tables and figures from the rows of the finished jobs (missing jobs are listed, not guessed)."""
    rows, missing = [], []
    for job in jobs:
        path = runs / job["tag"] / ROW
        (rows.append(with_group_scores(json.loads(path.read_text()), cfg, runs)) if path.is_file()
         else missing.append(job["tag"]))
    metrics = cfg["evaluation"]["metrics"]
    per_group = ["group_mig.group_0", "group_mig.group_1"]
    out.mkdir(parents=True, exist_ok=True)
    from untwine.metrics import metric_environment

    atomic_write_json(out / "results.json", {"config": cfg, "runs": rows, "missing": missing,
                                             "environment": {**metric_environment(), "python": sys.version.split()[0],
                                                             "torch": torch.__version__}})
    fig4 = [r for r in rows if r["figure"] == "4"]
    train_s, eval_s = sum(r["train_seconds"] for r in rows), sum(r["eval_seconds"] for r in rows)
    text = ("## Per model, over all its runs (Fig. 4)\n\n" + summarise(fig4, metrics)
            + "\n## Per grid point, over seeds\n\n" + point_table(rows, metrics + per_group)
            + f"\n{len(rows)} runs of {cfg['steps']} steps, seeds {cfg['seeds']}; training {train_s / 60:.0f} min, "
              f"evaluation {eval_s / 60:.0f} min in all (one CPU thread per run, 2 runs at a time)."
            + (f" Missing: {', '.join(missing)}." if missing else "") + "\n")
    atomic_write_text(out / "table.md", text)
    figure4(fig4, metrics, out / "figure4.png")
    figure3c(rows, out / "figure3c.png")
    figure3b(fig4, out / "figure3b.png")
    gvae = [r for r in fig4 if r["dataset"] == "shapes3d" and r["method"] == "gvae" and "group_mig" in r]
    if gvae:
        best = max(gvae, key=lambda r: r["mig"])
        mi = mi_matrix(runs / best["tag"])
        atomic_write_json(out / "figure3a_mi.json", {"run": best["tag"], **mi, "mi_nats": mi["mi_nats"].round(4).tolist()})
        figure3a(mi, f"GVAE on 3D Shapes ({best['tag']}): MIG {best['mig']:.2f}, group-MIG {best['group_mig']:.2f}",
                 out / "figure3a.png")
    for ds in dict.fromkeys(r["dataset"] for r in fig4):  # Fig. 5: traversals of the best group-tcVAE
        gtc = [r for r in fig4 if r["dataset"] == ds and r["method"] == "group_tcvae" and "group_mig" in r]
        if gtc:
            traversal(runs / max(gtc, key=lambda r: r["group_mig"])["tag"], out / f"traversal_{ds}.png")
    print(text)


def traversal(run_dir: Path, path: Path) -> None:
    """One row per latent (z1..z5: c, z6..z10: \\c), 10 steps over [-2, 2], from image 0 (paper Fig. 5b/d)."""
    from untwine.train import load_run
    from untwine.viz import save_png, traversal_grid

    res = load_run(run_dir)
    save_png(traversal_grid(res.method.eval(), res.dataset, 0, 10), path, scale=1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE / "config.yaml"))
    ap.add_argument("--runs", default=str(ROOT / "runs" / "seed003"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--shard", default="0/1", help="I/N: run jobs I, I+N, I+2N, ... (one process per core)")
    ap.add_argument("--report", action="store_true", help="train nothing: tables and figures from the finished jobs")
    args = ap.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    runs = Path(args.runs)
    jobs = jobs_of(cfg)
    if args.report:
        report(cfg, jobs, runs, Path(args.out))
        return
    i, n = (int(v) for v in args.shard.split("/"))
    datasets: dict[str, object] = {}
    for job in jobs[i::n]:
        if job["dataset"] not in datasets:
            datasets[job["dataset"]] = get_dataset(job["dataset"], **job["dataset_options"])
        row = run_job(job, cfg, runs, datasets[job["dataset"]])
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)


if __name__ == "__main__":
    main()
