"""Seed 002, Fig. 1 at CPU scale: beta-VAE vs DIP-VAE-I/II on dSprites, SAP and Z-diff against
reconstruction error.

    PYTHONPATH=. python experiments/seed002_dip_tradeoff/run.py [--config C] [--out DIR] [--steps N]

Trains one run per (method, value) of the config's sweeps (finished runs are reused), measures the
per-pixel reconstruction error (squared error of sigmoid(decoder(mean code)) on random images, as
the paper's "average reconstruction error (per pixel)") and the configured metrics through
:func:`untwine.metrics.evaluate`, and writes ``results.json``, ``table.md`` and ``figure.png``
(SAP and Z-diff against reconstruction error, each point labelled with its hyperparameter, as the
paper's Fig. 1) into ``--out`` (default ``experiments/seed002_dip_tradeoff/results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from untwine.data import get_dataset
from untwine.io import atomic_write_json, atomic_write_text
from untwine.experiments.runs import train_or_continue as train_run
from untwine.train import TrainConfig

HERE = Path(__file__).resolve().parent
# Seed 002 Table 1 (2D Shapes): Z-diff, SAP, reconstruction error per pixel
PAPER = {
    "beta_vae beta=1 (VAE)": (81.3, 0.0417, 0.0017),
    "beta_vae beta=4": (80.7, 0.0811, 0.0032),
    "beta_vae beta=60": (95.7, 0.5503, 0.0113),
    "dip_vae_i lambda_od=10": (98.7, 0.1889, 0.0018),
    "dip_vae_ii lambda_od=5": (95.3, 0.2188, 0.0023),
    "dip_vae_ii lambda_od=500": (98.0, 0.5253, 0.0079),
}


@torch.no_grad()
def reconstruction_error(method, dataset, n: int, seed: int) -> dict[str, float]:
    idx = np.random.default_rng(seed).integers(0, len(dataset), n)
    se, bce = 0.0, 0.0
    for i in range(0, n, 500):
        x = dataset.images(idx[i : i + 500]).float() / 255
        logits = method.decode(method.encode(x))
        se += float((torch.sigmoid(logits) - x).pow(2).sum())
        bce += float(torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
    pixels = n * int(np.prod(dataset.image_shape))
    return {"recon_mse_per_pixel": se / pixels, "recon_bce_per_image": bce / n}


def check_metric_spec(spec: dict) -> None:
    """Fail before any training on a misspelt metric option (the error lists the valid ones)."""
    from untwine.metrics import available_metrics, resolve_options

    for label, opts in spec.items():
        opts = dict(opts)
        name = opts.pop("metric", label)
        if name in available_metrics():
            try:
                resolve_options([name], {name: opts})
            except ValueError as e:
                raise SystemExit(f"error: config evaluation.metrics.{label}: {e}") from None


def evaluate_metrics(method, dataset, spec: dict, seed: int) -> dict[str, float | str]:
    from untwine.metrics import available_metrics, evaluate
    from untwine.metrics.codes import CodeTable

    table = CodeTable(method, dataset)  # one code cache shared by all metrics (each image encoded once)
    out: dict[str, float | str] = {}
    for label, opts in spec.items():
        opts = dict(opts)
        name = opts.pop("metric", label)
        if name not in available_metrics():
            out[label] = f"not available (metric {name!r} is not in untwine.metrics yet)"
            continue
        t0 = time.perf_counter()
        res = evaluate(table, dataset, [name], seed=seed, options={name: opts})  # options checked in main
        for k, v in res.items():
            out[label if k == name else f"{label}.{k[len(name) + 1:]}"] = v
        out[f"{label}.seconds"] = time.perf_counter() - t0
    return out


def score(row: dict, label: str):
    """The headline number of a metric in a row: ``label`` itself or its ``eval_accuracy`` (Z-diff)."""
    for key in (label, f"{label}.eval_accuracy"):
        if isinstance(row.get(key), float):
            return row[key]
    return row.get(label)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE / "config.yaml"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    if args.steps:
        cfg["steps"] = args.steps
    check_metric_spec(cfg["evaluation"]["metrics"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    dataset = get_dataset("dsprites")
    print(f"dataset ready in {time.perf_counter() - t0:.0f} s", flush=True)
    ev = cfg["evaluation"]
    rows = []
    for method_name, sweep in cfg["sweeps"].items():
        for value in sweep["values"]:
            tag = f"{method_name} {sweep['param']}={value:g}"
            run_dir = out / "runs" / tag.replace(" ", "_")
            score_path = run_dir / "scores.json"
            if score_path.is_file() and json.loads(score_path.read_text()).get("steps") == cfg["steps"]:
                rows.append(json.loads(score_path.read_text()))
                continue
            hparams = {**cfg["common"], **sweep.get("fixed", {}), sweep["param"]: value}
            config = TrainConfig(method=method_name, dataset="dsprites", hparams=hparams, steps=cfg["steps"],
                                 batch_size=cfg["batch_size"], seed=cfg["seed"], log_every=50,
                                 checkpoint_every=10**6, threads=1)
            res, train_s = train_run(config, run_dir, dataset)  # continues an existing shorter run
            method = res.method.eval()
            t2 = time.perf_counter()
            row = {"tag": tag, "method": method_name, "param": sweep["param"], "value": value,
                   "train_seconds": train_s, "steps": cfg["steps"],
                   **reconstruction_error(method, dataset, ev["recon_images"], ev["seed"]),
                   **evaluate_metrics(method, dataset, ev["metrics"], ev["seed"])}
            row["eval_seconds"] = time.perf_counter() - t2
            atomic_write_json(score_path, row)
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    wall = time.perf_counter() - t0
    from untwine.metrics import metric_environment

    atomic_write_json(out / "results.json", {"config": cfg, "runs": rows, "wall_seconds": wall,
                                             "environment": {**metric_environment(), "python": sys.version.split()[0]}})
    labels = list(ev["metrics"])
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "n/a"  # noqa: E731
    lines = ["| run | recon MSE / pixel | recon BCE / image | " + " | ".join(labels) + " |",
             "|" + "---|" * (3 + len(labels))]
    for r in rows:
        lines.append(f"| {r['tag']} | {r['recon_mse_per_pixel']:.4f} | {r['recon_bce_per_image']:.1f} | "
                     + " | ".join(fmt(score(r, k)) for k in labels) + " |")
    lines += ["", "Paper (seed 002, Table 1, 2D Shapes; Z-diff in %, SAP, recon error per pixel):", "",
              "| run | Z-diff | SAP | recon error |", "|---|---|---|---|"]
    lines += [f"| {k} | {v[0]} | {v[1]} | {v[2]} |" for k, v in PAPER.items()]
    lines.append(f"\nsteps {cfg['steps']}, batch {cfg['batch_size']}, seed {cfg['seed']}; training wall time "
                 f"{sum(r['train_seconds'] for r in rows):.0f} s, evaluation {sum(r['eval_seconds'] for r in rows):.0f} s "
                 "(2 CPU cores shared with other jobs). Z-diff: eval accuracy, 5 factors (chance 0.2).")
    table = "\n".join(lines) + "\n"
    atomic_write_text(out / "table.md", table)
    print(table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in labels if any(isinstance(score(r, k), float) for r in rows)]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.5 * max(1, len(panels)), 3.8), squeeze=False)
    for ax, key in zip(axes[0], panels):
        for m, style in zip(cfg["sweeps"], ("o-", "s-", "^-")):
            pts = sorted((r["recon_mse_per_pixel"], score(r, key), r["value"]) for r in rows
                         if r["method"] == m and isinstance(score(r, key), float))
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=m)
            for x, y, v in pts:
                ax.annotate(f"{v:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("reconstruction error (MSE per pixel)")
        ax.set_ylabel(key)
        ax.legend(fontsize=7)
    fig.suptitle(f"dSprites, {cfg['steps']} steps x batch {cfg['batch_size']} (CPU scale)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    print(f"wrote {out / 'figure.png'} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
