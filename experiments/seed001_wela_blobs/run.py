"""Seed 001, Table 1 and Fig. 1/5 at CPU scale: beta-TCVAE vs WeLa-VAE on Blobs.

    PYTHONPATH=. python experiments/seed001_wela_blobs/run.py [--config C] [--out DIR] [--steps N] [--seeds 0,1]

Trains every (model, seed) of the config (a finished run is reused, so the script can be resumed),
encodes all 4096 Blobs images with the encoder means (WeLa-VAE: with its labels), scores the polar
and Cartesian MSE (seed 001 section 4.2) and the label accuracy, and writes into ``--out``
(default ``experiments/seed001_wela_blobs/results``): ``results.json``, ``table.md``,
``figure.png`` (per model, the run with the lowest polar MSE: reconstructions, traversals in
[-3, 3], heat maps of each channel's mean over the 64 x 64 positions) and ``runs/``.
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
from untwine.metrics.polar import polar_cartesian_mse, summarize_scores
from untwine.experiments.runs import train_or_continue as train_run
from untwine.train import TrainConfig, load_run

HERE = Path(__file__).resolve().parent
PAPER = {  # seed 001 Table 1 (polar MSE over 50 seeds): lowest, mean, mean of best 10%
    "beta_tcvae": (239.76, 435.68, 286.14),
    "wela_p2": (83.47, 255.28, 94.30),
    "wela_p3": (40.28, 824.88, 295.24),
}


@torch.no_grad()
def encode_all(method, dataset, labels: torch.Tensor | None) -> np.ndarray:
    x = dataset.images(np.arange(len(dataset)))
    out = []
    for i in range(0, len(x), 512):
        lab = labels[i : i + 512] if (labels is not None and method.hparams.label_encoder) else None
        out.append(method.encode(x[i : i + 512], lab) if lab is not None else method.encode(x[i : i + 512]))
    return torch.cat(out).numpy()


@torch.no_grad()
def label_accuracy(method, codes: np.ndarray, labels: torch.Tensor) -> list[float]:
    """Accuracy of each label head decoded from the mean code (rows with an all-zero label skipped)."""
    _, logits = method.decoder.forward_all(torch.from_numpy(codes).float())
    _, acc = method.label_cross_entropy(logits, labels)
    return [float(a) for a in acc]


def reference_scores() -> dict[str, dict[str, float]]:
    """Polar/Cartesian MSE of reference codes: exact polar, exact Cartesian, random Gaussian (d = 2, 5)."""
    x, y = np.meshgrid(np.arange(64.0), np.arange(64.0), indexing="ij")
    c = np.stack([x.ravel(), y.ravel()], 1)
    refs = {"exact polar code (angle, distance)": np.stack([np.arctan2(c[:, 1], c[:, 0]), np.hypot(c[:, 0], c[:, 1])], 1),
            "exact Cartesian code (x, y)": c.copy()}
    out = {k: polar_cartesian_mse(v, c) for k, v in refs.items()}
    for d in (2, 5):
        rs = [polar_cartesian_mse(np.random.default_rng(s).normal(size=(4096, d)), c) for s in range(5)]
        out[f"random N(0, I) code, d={d} (mean of 5)"] = {k: float(np.mean([r[k] for r in rs])) for k in ("polar_mse", "cartesian_mse")}
    return out


def run_one(model: dict, seed: int, cfg: dict, dataset, out: Path) -> dict:
    run_dir = out / "runs" / f"{model['name']}_seed{seed}"
    score_path = run_dir / "scores.json"
    if score_path.is_file() and json.loads(score_path.read_text()).get("steps") == cfg["steps"]:
        return json.loads(score_path.read_text())
    hparams = {**cfg["common"], **model["hparams"]}
    config = TrainConfig(method=model["method"], dataset="blobs", hparams=hparams, steps=cfg["steps"],
                         batch_size=cfg["batch_size"], seed=seed, log_every=100, checkpoint_every=10**6, threads=1)
    res, seconds = train_run(config, run_dir, dataset)  # continues an existing shorter run
    method = res.method.eval()
    classes = dataset.index_to_classes(np.arange(len(dataset)))
    labels = torch.from_numpy(dataset.weak_labels(classes, resolution=method.hparams.resolution)).float()
    codes = encode_all(method, dataset, labels)
    scores = polar_cartesian_mse(codes, classes.astype(np.float64))
    scores.update(model=model["name"], seed=seed, train_seconds=seconds, steps=cfg["steps"],
                  final_loss=res.history[-1]["loss"] if res.history else None,
                  label_accuracy=label_accuracy(method, codes, labels) if method.gamma > 0 else None)
    np.save(run_dir / "codes.npy", codes)
    atomic_write_json(score_path, scores)
    return scores


@torch.no_grad()
def model_panel(fig, gs, method, dataset, codes: np.ndarray, title: str) -> None:
    """Reconstructions + traversals in [-3, 3] (left) and positional heat maps per channel (right)."""
    d = codes.shape[1]
    picks = np.array([64 * 8 + 8, 64 * 32 + 32, 64 * 56 + 20, 64 * 20 + 56])  # a few positions
    values = np.linspace(-3, 3, 7)
    rows = []
    x = dataset.images(picks).float() / 255
    rows.append(torch.cat(list(x[:, 0]), dim=1))
    rec = torch.sigmoid(method.decode(torch.from_numpy(codes[picks]).float()))
    rows.append(torch.cat(list(rec[:, 0]), dim=1))
    base = torch.from_numpy(codes[picks[1]]).float()
    for k in range(d):
        z = base.repeat(len(values), 1)
        z[:, k] = torch.from_numpy(values).float()
        rows.append(torch.cat(list(torch.sigmoid(method.decode(z))[:, 0]), dim=1))
    width = max(r.shape[1] for r in rows)
    img = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1])) for r in rows], dim=0).numpy()
    sub = gs.subgridspec(1, 1 + d, width_ratios=[3] + [1] * d)
    ax = fig.add_subplot(sub[0])
    ax.imshow(img, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.set_yticks(32 + 64 * np.arange(len(rows)))
    ax.set_yticklabels(["input", "recon"] + [f"z{k}" for k in range(d)], fontsize=6)
    ax.set_xticks([])
    for k in range(d):
        a = fig.add_subplot(sub[1 + k])
        # colour scale: the paper's [-3, 3] when the channel fits in it, else the channel's own range
        lo, hi = float(codes[:, k].min()), float(codes[:, k].max())
        vmin, vmax = (-3.0, 3.0) if (lo >= -3 and hi <= 3) else (lo, hi)
        a.imshow(codes[:, k].reshape(64, 64), cmap="jet", vmin=vmin, vmax=vmax)
        a.set_title(f"z{k} [{vmin:.1f}, {vmax:.1f}]", fontsize=6)
        a.axis("off")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE / "config.yaml"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--steps", type=int, default=None, help="override the config's steps")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds overriding the config's")
    args = ap.parse_args(argv)
    cfg = yaml.safe_load(Path(args.config).read_text())
    if args.steps:
        cfg["steps"] = args.steps
    if args.seeds:
        cfg["seeds"] = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    dataset = get_dataset("blobs")
    t0 = time.perf_counter()
    results = []
    for model in cfg["models"]:
        for seed in cfg["seeds"]:
            s = run_one(model, seed, cfg, dataset, out)
            print(f"{model['name']} seed {seed}: polar {s['polar_mse']:.1f}  cartesian {s['cartesian_mse']:.1f}  "
                  f"labels {s['label_accuracy']}  ({s['train_seconds']:.0f}s)", flush=True)
            results.append(s)
    summary = {}
    lines = ["| model | seeds | polar lowest | polar mean | polar best 10% | cartesian lowest | cartesian mean | "
             "label acc. (best run) | paper polar lowest / mean / best 10% |", "|" + "---|" * 9]
    for model in cfg["models"]:
        rs = [r for r in results if r["model"] == model["name"]]
        pol = summarize_scores([r["polar_mse"] for r in rs])
        car = summarize_scores([r["cartesian_mse"] for r in rs])
        best = min(rs, key=lambda r: r["polar_mse"])
        summary[model["name"]] = {"polar": pol, "cartesian": car, "best_seed": best["seed"], "best_label_accuracy": best["label_accuracy"]}
        acc = "-" if best["label_accuracy"] is None else " / ".join(f"{a:.2f}" for a in best["label_accuracy"])
        paper = PAPER.get(model["name"])
        lines.append(f"| {model['name']} | {pol['n']} | {pol['lowest']:.1f} | {pol['mean']:.1f} | {pol['mean_best']:.1f} | "
                     f"{car['lowest']:.1f} | {car['mean']:.1f} | {acc} | "
                     + (" / ".join(f"{v:.1f}" for v in paper) if paper else "-") + " |")
    refs = reference_scores()
    lines += ["", "Reference codes (not trained models):", "", "| code | polar MSE | cartesian MSE |", "|---|---|---|"]
    lines += [f"| {k} | {v['polar_mse']:.1f} | {v['cartesian_mse']:.1f} |" for k, v in refs.items()]
    wall = time.perf_counter() - t0
    env = {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    atomic_write_json(out / "results.json", {"config": cfg, "runs": results, "summary": summary, "references": refs,
                                             "wall_seconds": wall, "environment": env})
    train_wall = sum(r["train_seconds"] for r in results)
    table = "\n".join(lines) + f"\n\ntotal training wall time {train_wall:.0f} s; steps {cfg['steps']}, batch {cfg['batch_size']}, seeds {cfg['seeds']}; " \
            f"training time per run {np.mean([r['train_seconds'] for r in results]):.0f} s (mean)\n"
    atomic_write_text(out / "table.md", table)
    print(table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 4.2 * len(cfg["models"])))
    gs = fig.add_gridspec(len(cfg["models"]), 1)
    for i, model in enumerate(cfg["models"]):
        best = summary[model["name"]]
        run_dir = out / "runs" / f"{model['name']}_seed{best['best_seed']}"
        method = load_run(run_dir, dataset=dataset).method.eval()
        codes = np.load(run_dir / "codes.npy")
        title = (f"{model['name']} (seed {best['best_seed']}): polar MSE {best['polar']['lowest']:.1f}, "
                 f"cartesian MSE {min(r['cartesian_mse'] for r in results if r['model'] == model['name'] and r['seed'] == best['best_seed']):.1f}")
        model_panel(fig, gs[i], method, dataset, codes, title)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    print(f"wrote {out / 'figure.png'}, {out / 'table.md'}, {out / 'results.json'} in {wall:.0f} s")


if __name__ == "__main__":
    main()
