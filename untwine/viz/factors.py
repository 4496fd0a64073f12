"""Which latent holds which factor, as figures: the normalised MI heat map and response curves.

Both start from the mean codes of a random sample of the dataset (fp32, the metrics' encoder
input) and its factor classes (:func:`encode_sample`).
"""

from __future__ import annotations

import io

import numpy as np
import torch

from ..data import GroundTruthDataset
from ..methods import Method
from .traversal import side_inputs


@torch.no_grad()
def encode_sample(method: Method, dataset: GroundTruthDataset, n: int = 10000, seed: int = 0,
                  batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Mean codes (n, d) and factor classes (n, K) of ``n`` random images (seeded)."""
    idx = np.random.default_rng(seed).integers(0, len(dataset), n)
    classes = dataset.index_to_classes(idx)
    was_training = method.training
    method.eval()
    chunks = []
    for i in range(0, n, batch_size):
        images = dataset.images(idx[i:i + batch_size])
        chunks.append(method.encode(images, **side_inputs(method, classes[i:i + batch_size], images.device)).float().cpu())
    method.train(was_training)
    return torch.cat(chunks).numpy(), classes


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mi_heatmap_png(nmi: np.ndarray, factor_names: list[str], latent_order: list[int] | None = None) -> bytes:
    """Heat map of the normalised MI (latents x factors), each cell annotated; rows in ``latent_order``."""
    plt = _pyplot()
    order = list(range(nmi.shape[0])) if latent_order is None else list(latent_order)
    m = nmi[order]
    fig, ax = plt.subplots(figsize=(1.1 * len(factor_names) + 1.6, 0.34 * len(order) + 1.2))
    im = ax.imshow(m, cmap="Blues", vmin=0.0, vmax=max(0.5, float(m.max())), aspect="auto")
    ax.set_xticks(range(len(factor_names)), factor_names, fontsize=9)
    ax.set_yticks(range(len(order)), [f"z{j}" for j in order], fontsize=9)
    for i in range(m.shape[0]):
        for k in range(m.shape[1]):
            ax.text(k, i, f"{m[i, k]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if m[i, k] > 0.6 * im.get_clim()[1] else "#222")
    ax.set_xlabel("factor")
    fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03).set_label("I(z_j; v_k) / H(v_k)", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def response_curves_png(codes: np.ndarray, classes: np.ndarray, dataset: GroundTruthDataset,
                        factors: list[int], latents: list[int]) -> bytes:
    """For each factor in ``factors``, the mean code of each latent in ``latents`` against the
    factor's values (over the sample: the other factors vary at random)."""
    plt = _pyplot()
    cols = min(len(factors), 3)
    rows = -(-len(factors) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.5 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, k in zip(axes.flat, factors):
        values = np.asarray(dataset.factor_values(k), dtype=np.float64)
        x = values if np.issubdtype(values.dtype, np.number) else np.arange(len(values))
        for c, j in enumerate(latents):
            sums = np.bincount(classes[:, k], weights=codes[:, j], minlength=len(values))
            counts = np.bincount(classes[:, k], minlength=len(values))
            seen = counts > 0
            ax.plot(x[seen], sums[seen] / counts[seen], "-", lw=1.3, color=colours(c % 10), label=f"z{j}")
        ax.set_title(dataset.factor_names[k], fontsize=10)
        ax.set_xlabel("factor value", fontsize=8)
        ax.set_ylabel("mean code", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(factors):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(latents), 10), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _png(fig)
