"""Seed 001's own scores and summary, named in study.yaml (``analysis``).

``score``: encodes all 4096 Blobs images with the encoder means (WeLa-VAE with its labels, as the
paper's code), scores the polar and Cartesian MSE of seed 001 section 4.2 on them, and the label
accuracy; keeps the codes in the run directory (``codes.npy``) for the figure.
``summary``: ``results/table.md``, ``results/results.csv`` and ``results/figure.png`` (per model,
the run with the lowest polar MSE: inputs, reconstructions, traversals in [-3, 3], and the heat
maps of each channel's mean code over the 64 x 64 positions, Fig. 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from untwine.io import atomic_save_npy, atomic_write_text
from untwine.metrics.polar import polar_cartesian_mse, summarize_scores

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
        with_labels = labels is not None and method.hparams.label_encoder
        out.append(method.encode(x[i : i + 512], labels[i : i + 512]) if with_labels else method.encode(x[i : i + 512]))
    return torch.cat(out).numpy()


def score(run, dataset) -> dict[str, float]:
    method = run.method.eval()
    classes = dataset.index_to_classes(np.arange(len(dataset)))
    labels = torch.from_numpy(dataset.weak_labels(classes, resolution=method.hparams.resolution)).float()
    codes = encode_all(method, dataset, labels)
    atomic_save_npy(run.run_dir / "codes.npy", codes)
    out = {k: float(v) for k, v in polar_cartesian_mse(codes, classes.astype(np.float64)).items()}
    if method.gamma > 0:  # the label heads decoded from the mean code (rows with an all-zero label skipped)
        with torch.no_grad():
            _, logits = method.decoder.forward_all(torch.from_numpy(codes).float())
            _, acc = method.label_cross_entropy(logits, labels)
        out.update({f"label_accuracy.{i}": float(a) for i, a in enumerate(acc)})
    return out


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


def summary(frame, study) -> None:
    out = HERE / "results" if study.profile in (None, "cpu") else HERE / f"results_{study.profile}"
    out.mkdir(parents=True, exist_ok=True)
    acc_cols = sorted(c for c in frame.columns if str(c).startswith("label_accuracy."))
    cols = ["label", "seed", "polar_mse", "cartesian_mse", *acc_cols, "train_seconds", "steps", "batch_size"]
    atomic_write_text(out / "results.csv", frame[cols].to_csv(index=False, float_format="%.6g"))
    lines = ["| model | seeds | polar lowest | polar mean | polar best 10% | cartesian lowest | cartesian mean | "
             "label acc. (best run) | paper polar lowest / mean / best 10% |", "|" + "---|" * 9]
    best_runs = {}
    for label in frame["label"].unique():
        rs = frame[frame["label"] == label]
        pol, car = summarize_scores(rs["polar_mse"].tolist()), summarize_scores(rs["cartesian_mse"].tolist())
        best = rs.loc[rs["polar_mse"].idxmin()]
        best_runs[label] = best
        accs = [best[c] for c in acc_cols if best[c] == best[c]]
        acc = " / ".join(f"{a:.2f}" for a in accs) if accs else "-"
        paper = PAPER.get(label)
        lines.append(f"| {label} | {pol['n']} | {pol['lowest']:.1f} | {pol['mean']:.1f} | {pol['mean_best']:.1f} | "
                     f"{car['lowest']:.1f} | {car['mean']:.1f} | {acc} | "
                     + (" / ".join(f"{v:.1f}" for v in paper) if paper else "-") + " |")
    lines += ["", "Reference codes (not trained models):", "", "| code | polar MSE | cartesian MSE |", "|---|---|---|"]
    lines += [f"| {k} | {v['polar_mse']:.1f} | {v['cartesian_mse']:.1f} |" for k, v in reference_scores().items()]
    lines.append(f"\nprofile {study.profile}: steps {int(frame['steps'].iloc[0])}, batch {int(frame['batch_size'].iloc[0])}, "
                 f"seeds {sorted(frame['seed'].unique().tolist())}; training {frame['train_seconds'].sum():.0f} s in all, "
                 f"{frame['train_seconds'].mean():.0f} s per run (mean, one torch thread each)")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    _figure(best_runs, out / "figure.png")


@torch.no_grad()
def _panel(fig, gs, method, dataset, codes: np.ndarray, title: str) -> None:
    """Reconstructions + traversals in [-3, 3] (left) and positional heat maps per channel (right)."""
    d = codes.shape[1]
    picks = np.array([64 * 8 + 8, 64 * 32 + 32, 64 * 56 + 20, 64 * 20 + 56])  # a few positions
    values = np.linspace(-3, 3, 7)
    x = dataset.images(picks).float() / 255
    rows = [torch.cat(list(x[:, 0]), dim=1),
            torch.cat(list(torch.sigmoid(method.decode(torch.from_numpy(codes[picks]).float()))[:, 0]), dim=1)]
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


def _figure(best_runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from untwine.train import load_run

    fig = plt.figure(figsize=(11, 4.2 * len(best_runs)))
    gs = fig.add_gridspec(len(best_runs), 1)
    for i, (label, best) in enumerate(best_runs.items()):
        run = load_run(best["run_path"])
        codes = np.load(Path(best["run_path"]) / "codes.npy")
        title = f"{label} (seed {best['seed']}): polar MSE {best['polar_mse']:.1f}, cartesian MSE {best['cartesian_mse']:.1f}"
        _panel(fig, gs[i], run.method.eval(), run.dataset, codes, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
