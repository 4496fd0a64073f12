"""Nearest neighbours per feature: what each part of a representation groups together (seed 004, Fig. 5).

For data without ground-truth factors (an image folder, Oxford Flowers) no disentanglement score
applies; seed 004 (Sec. 5.5) instead picks query images and, for each feature ``Z_k``, shows the
query's nearest neighbours measured on ``Z_k`` alone. A feature that holds one factor (flower
colour, say) gathers images that agree in that factor and differ in the rest.

Features: a representation of ``d`` dims is ``d / D_Z`` features of ``D_Z`` dims each; feature
``k`` is dims ``[k * D_Z, (k + 1) * D_Z)``. A model gives ``D_Z`` as its int attribute
``feature_size`` (absent: 1, one latent dim per feature: the VAE family).

* :func:`nearest_neighbours`: the search itself, on a code matrix (vectorised over the pool);
* :func:`feature_neighbours`: encode a seeded random pool of a dataset's images and search it;
* :func:`neighbours_figure`: the figure (one block per feature: query column, then ``k`` neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..data import GroundTruthDataset
from .images import to_uint8_hwc

#: features drawn by default (a 10-feature model gives 10 blocks; more would make a page-long figure)
MAX_FEATURES = 10

_ENCODE_CHUNK = 8192  # images materialised at a time while encoding the pool (memory)
_FAST_ENCODER_FROM = 20_000  # pool size from which the traced CPU encoder pays for its tracing


def feature_size_of(model: Any) -> int:
    """``model.feature_size`` (latent dims per feature, ``D_Z``), 1 when the model has none."""
    size = getattr(model, "feature_size", 1)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{type(model).__name__}.feature_size must be a positive int (latent dims per feature), "
                         f"got {size!r}")
    return int(size)


def _check_feature_size(feature_size: Any, d: int) -> int:
    if isinstance(feature_size, bool) or not isinstance(feature_size, (int, np.integer)) or feature_size < 1:
        raise ValueError(f"feature_size must be a positive int (latent dims per feature), got {feature_size!r}")
    if d % int(feature_size):
        divisors = [s for s in range(1, d + 1) if d % s == 0]
        raise ValueError(f"feature_size={feature_size} does not divide the code size {d}: pass the model's "
                         f"feature_size (latent dims per feature), one of {divisors}")
    return int(feature_size)


def nearest_neighbours(codes: np.ndarray | torch.Tensor, queries: Sequence[int] | np.ndarray | torch.Tensor,
                       feature_size: int = 1, k: int = 3, exclude_self: bool = True,
                       return_distances: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest codes to each query, measured on each feature alone.

    Args:
        codes: the pool, (N, d) (array or tensor): one code per image.
        queries: row indices into ``codes`` (1-D ints in ``[0, N)``): the query images are
            members of the pool.
        feature_size: dims per feature ``D_Z``; feature ``f`` is columns ``[f * D_Z, (f + 1) * D_Z)``
            and must divide ``d``.
        k: neighbours per query and feature; at most the number of candidates (``N - 1`` when
            the query is excluded, else ``N``).
        exclude_self: leave the query's own row out of its neighbours (another row with an
            identical code, a duplicate image, still counts).
        return_distances: also return the distances.

    Returns:
        int64 array (num_queries, num_features, k) of row indices into ``codes``, nearest first
        (Euclidean distance in the feature's ``D_Z`` dims; ties go to the lower index); with
        ``return_distances``, also the float64 distances of the same shape.

    Vectorised over the pool (one (num_queries, N) distance matrix per feature, exact
    differences rather than the ``|a|^2 - 2ab + |b|^2`` expansion, so equal codes are at distance 0).
    """
    z = torch.as_tensor(codes).detach()
    if z.ndim != 2:
        raise ValueError(f"codes must be 2-D (N images, d dims), got shape {tuple(z.shape)}")
    if not (z.is_floating_point() or z.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise ValueError(f"codes must be numbers, got dtype {z.dtype}")
    z = z.to(torch.float64)
    n, d = z.shape
    if n == 0 or d == 0:
        raise ValueError(f"codes must hold at least one image and one dim, got shape {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError("codes contain NaN or infinite values; check the model (diverged training?)")
    size = _check_feature_size(feature_size, d)
    q = torch.as_tensor(np.asarray(queries) if not isinstance(queries, torch.Tensor) else queries).detach().cpu()
    if q.ndim != 1:
        raise ValueError(f"queries must be a 1-D sequence of row indices into codes, got shape {tuple(q.shape)}")
    if q.numel() and (q.is_floating_point() or q.dtype == torch.bool):
        raise ValueError(f"queries must be integer row indices into codes, got dtype {q.dtype}")
    q = q.to(torch.long)
    if q.numel() and (int(q.min()) < 0 or int(q.max()) >= n):
        bad = int(q.min()) if int(q.min()) < 0 else int(q.max())
        raise ValueError(f"query index {bad} is out of range for a pool of {n} codes: pass row indices in [0, {n})")
    candidates = n - 1 if exclude_self else n
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > candidates:
        raise ValueError(f"k={k} neighbours asked of a pool of {n} codes ({candidates} candidates"
                         f"{' besides the query' if exclude_self else ''}): use k <= {candidates} or a larger pool")
    num_features = d // size
    q = q.to(z.device)
    rows = torch.arange(q.numel(), device=z.device)
    index = torch.empty((q.numel(), num_features, k), dtype=torch.long)
    dist = torch.empty((q.numel(), num_features, k), dtype=torch.float64)
    for f in range(num_features):
        zf = z[:, f * size:(f + 1) * size]
        d2 = (zf[q][:, None, :] - zf[None, :, :]).square().sum(-1)  # (num_queries, N)
        if exclude_self:
            d2[rows, q] = float("inf")
        order = torch.sort(d2, dim=1, stable=True).indices[:, :k]  # stable: ties to the lower index
        index[:, f] = order.cpu()
        dist[:, f] = d2.gather(1, order).sqrt().cpu()
    if return_distances:
        return index.numpy(), dist.numpy()
    return index.numpy()


@dataclass
class FeatureNeighbours:
    """What :func:`feature_neighbours` found; every index is a dataset index.

    Attributes:
        pool: the images searched (sorted dataset indices).
        queries: the query images (num_queries,).
        features: the features searched, in the order drawn.
        neighbours: (num_queries, len(features), k) neighbours, nearest first.
        distances: their distances on the feature, same shape.
        feature_size: dims per feature.
        num_features: features in the code (``d / feature_size``), searched or not.
    """

    pool: np.ndarray
    queries: np.ndarray
    features: list[int]
    neighbours: np.ndarray
    distances: np.ndarray
    feature_size: int
    num_features: int


def _pool_codes(model: Any, dataset: GroundTruthDataset, pool_idx: np.ndarray) -> np.ndarray:
    """Codes (len(pool_idx), d) with :class:`~untwine.metrics.codes.CodeTable`'s batched encoder
    (inference mode, eval mode restored afterwards, side inputs from the classes). Its checked fast
    CPU encoder only for pools of :data:`_FAST_ENCODER_FROM` images or more: tracing and checking
    it takes a second or two, which 15k against 6k images/s repays only over about 20k images."""
    from ..metrics.codes import CodeTable

    table = CodeTable(model, dataset, fast_encoder=None if len(pool_idx) >= _FAST_ENCODER_FROM else False)
    chunks = []
    for i in range(0, len(pool_idx), _ENCODE_CHUNK):
        idx = pool_idx[i:i + _ENCODE_CHUNK]
        classes = dataset.index_to_classes(idx) if table.side_inputs is not None else None
        chunks.append(table.encode_images(dataset.images(idx), classes))
    return np.concatenate(chunks)


def _default_features(num_features: int, features: Sequence[int] | None) -> list[int]:
    if features is None:
        return list(range(min(num_features, MAX_FEATURES)))
    out = [int(f) for f in features]
    bad = [f for f in out if not 0 <= f < num_features]
    if bad or not out:
        raise ValueError(f"features must name features in [0, {num_features}) (the code has {num_features} features), "
                         f"got {list(features)}")
    return out


def feature_neighbours(model: Any, dataset: GroundTruthDataset, num_queries: int = 5, k: int = 3, pool: int = 2000,
                       seed: int = 0, features: Sequence[int] | None = None) -> FeatureNeighbours:
    """Encode a seeded random pool of ``pool`` images (all of them when the dataset is smaller) with
    ``model.encode`` and find, for ``num_queries`` query images drawn from the pool, their ``k``
    nearest neighbours in the pool by each feature (the same queries for every feature).

    ``features``: which features (default: the first :data:`MAX_FEATURES`). Deterministic for a
    given ``seed``; the model is encoded in eval mode under ``torch.inference_mode`` (its mode is
    restored afterwards).
    """
    n = len(dataset)
    for name, value in (("num_queries", num_queries), ("k", k), ("pool", pool)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    size = min(int(pool), n)
    if num_queries > size:
        raise ValueError(f"num_queries={num_queries} but the pool has {size} images: ask for fewer queries"
                         + (" or a larger pool" if size < n else ""))
    if k >= size:
        raise ValueError(f"k={k} neighbours need a pool of at least {k + 1} images, got {size}: use k <= {size - 1}"
                         + (" or a larger pool" if size < n else ""))
    rng = np.random.default_rng(seed)
    pool_idx = np.sort(rng.choice(n, size=size, replace=False)) if size < n else np.arange(n)
    query_rows = rng.choice(size, size=int(num_queries), replace=False)
    codes = _pool_codes(model, dataset, pool_idx)
    fsize = _check_feature_size(feature_size_of(model), codes.shape[1])
    shown = _default_features(codes.shape[1] // fsize, features)
    cols = np.concatenate([np.arange(f * fsize, (f + 1) * fsize) for f in shown])
    rows, dist = nearest_neighbours(codes[:, cols], query_rows, fsize, k, return_distances=True)
    return FeatureNeighbours(pool=pool_idx, queries=pool_idx[query_rows], features=shown,
                             neighbours=pool_idx[rows], distances=dist, feature_size=fsize,
                             num_features=codes.shape[1] // fsize)


PAD = 2  # pixels between the images of a block
QUERY_GAP = 8  # extra pixels between the query column and its neighbours


def cell_origin(row: int, column: int, height: int, width: int) -> tuple[int, int]:
    """(top, left) pixel of the image at ``row``, ``column`` (0: the query) of a block of
    :func:`neighbours_figure` whose images are ``height`` x ``width``."""
    return PAD + row * (height + PAD), PAD + column * (width + PAD) + (QUERY_GAP if column else 0)


def neighbours_figure(model: Any, dataset: GroundTruthDataset, num_queries: int = 5, k: int = 3, pool: int = 2000,
                      seed: int = 0, features: Sequence[int] | None = None, found: FeatureNeighbours | None = None,
                      blocks_per_row: int = 3):
    """Seed 004's Fig. 5 as a matplotlib figure: one block per feature ``Z_f`` (every feature up to
    :data:`MAX_FEATURES` by default, or ``features``), each of its rows a query image then the
    query's ``k`` nearest neighbours by that feature alone, nearest first, each with its distance.

    Arguments as :func:`feature_neighbours`; ``found`` draws a search already made instead;
    ``blocks_per_row``: at most this many blocks side by side (rows of blocks balanced). Each block
    is one image axes (``len(features)`` in all; image ``(r, c)`` at :func:`cell_origin`), rows
    labelled ``Z_f``: one axes per block rather than per image keeps the figure fast to draw
    (200 small axes take seconds). Images stay uint8 (on the dataset's device) until drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if found is None:
        found = feature_neighbours(model, dataset, num_queries, k, pool, seed, features)
    nq, nf, kk = found.neighbours.shape
    # one fetch of every image drawn: uint8 (N, C, H, W), converted to RGB arrays for plotting only
    order = np.concatenate([found.queries[:, None], found.neighbours.reshape(nq, nf * kk)], axis=1)  # (nq, 1 + nf*k)
    drawn = to_uint8_hwc(dataset.images(order.reshape(-1)))
    h, w = drawn.shape[1:3]
    pixels = drawn.reshape(nq, 1 + nf * kk, h, w, 3)
    block_h, block_w = cell_origin(nq, kk + 1, h, w)  # pixels, including the trailing pad
    block_rows = -(-nf // max(1, int(blocks_per_row)))
    per_row = -(-nf // block_rows)  # balanced: 4 blocks as 2 x 2, not 3 + 1
    inch = 0.72 / (h + PAD)  # inches per pixel: an image about 0.72 in tall
    left, head, gap, margin = 0.4, 0.25, 0.3, 0.05  # inches: row labels, column titles, between blocks, edges
    bw, bh = left + block_w * inch, head + block_h * inch
    width = per_row * bw + (per_row - 1) * gap + 2 * margin
    height = block_rows * bh + (block_rows - 1) * gap + 2 * margin
    fig = plt.figure(figsize=(width, height))
    for b, f in enumerate(found.features):
        block = np.full((block_h, block_w, 3), 255, np.uint8)
        for r in range(nq):
            for c in range(kk + 1):
                top, lft = cell_origin(r, c, h, w)
                block[top:top + h, lft:lft + w] = pixels[r, 0] if c == 0 else pixels[r, 1 + b * kk + c - 1]
        br, bc = divmod(b, per_row)
        x0 = margin + bc * (bw + gap) + left
        y0 = height - margin - br * (bh + gap) - bh
        ax = fig.add_axes((x0 / width, y0 / height, block_w * inch / width, block_h * inch / height))
        ax.imshow(block, interpolation="nearest")
        rows = [cell_origin(r, 0, h, w)[0] + h / 2 for r in range(nq)]
        ax.set_yticks(rows, [f"$Z_{{{f}}}$"] * nq, fontsize=9)
        ax.set_xticks([cell_origin(0, c, h, w)[1] + w / 2 for c in range(kk + 1)],
                      ["query"] + [f"#{c}" for c in range(1, kk + 1)], fontsize=7)
        ax.xaxis.tick_top()
        ax.tick_params(length=0, pad=2)
        for side in ax.spines.values():
            side.set_visible(False)
        for r in range(nq):  # the distance on the feature, in each neighbour's corner
            for c in range(1, kk + 1):
                top, lft = cell_origin(r, c, h, w)
                ax.text(lft + w - 1.5, top + h - 1.5, f"{found.distances[r, b, c - 1]:.2g}", ha="right",
                        va="bottom", fontsize=5, color="white",
                        bbox={"facecolor": "black", "alpha": 0.55, "pad": 0.6, "linewidth": 0})
    return fig


def neighbours_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (and closed)."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
