"""Shared pieces of the metrics: input checks, histogram discretisation, discrete MI and entropy.

Everything is vectorised: the contingency tables of every (latent, factor) pair come from one
``np.bincount``, instead of
``d * K`` calls of ``sklearn.metrics.mutual_info_score`` as in disentanglement_lib. The values
are the same (natural logarithm, plug-in estimator).
"""

from __future__ import annotations

import warnings

import numpy as np


# ---- input checks -----------------------------------------------------------------------------
def check_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
    """Validate a (N, d) array of real codes; returns it as float64."""
    z = np.asarray(codes)
    if z.ndim == 1:
        raise ValueError(f"{name} must be 2-D (N samples, d latents), got 1-D of length {z.shape[0]}; "
                         "use codes[:, None] for a single latent")
    if z.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N samples, d latents), got shape {z.shape}")
    if z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {z.shape})")
    if not np.issubdtype(z.dtype, np.number) and z.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {z.dtype}")
    z = z.astype(np.float64, copy=False)
    if not np.all(np.isfinite(z)):
        bad = np.unique(np.argwhere(~np.isfinite(z))[:, 1])
        raise ValueError(f"{name} contain NaN or infinite values (latent(s) {bad.tolist()}); "
                         "check the model (diverged training?) before evaluating it")
    return z


def check_factors(factors: np.ndarray, n: int | None = None, name: str = "factors") -> np.ndarray:
    """Validate a (N, K) array of integer factor classes; returns it as int64."""
    y = np.asarray(factors)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError(f"{name} must be 2-D (N samples, K factors), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(np.mod(y, 1) == 0)):
            raise ValueError(f"{name} must hold integer factor classes (0..size-1), got dtype {y.dtype} "
                             "with non-integer values; discretise continuous factors first")
    y = y.astype(np.int64)
    if n is not None and y.shape[0] != n:
        raise ValueError(f"codes and {name} have different numbers of samples: {n} vs {y.shape[0]}")
    return y


def check_pair(codes: np.ndarray, factors: np.ndarray, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate codes (N, d) and factors (N, K) of equal length."""
    z = check_codes(codes)
    y = check_factors(factors, z.shape[0])
    if z.shape[0] < min_samples:
        raise ValueError(f"need at least {min_samples} samples, got {z.shape[0]}")
    return z, y


def varying_factors(factors: np.ndarray, metric: str) -> np.ndarray:
    """Boolean mask of factors that take more than one value; warns about constant ones.

    A constant factor has zero entropy, so MIG-like scores are undefined for it (0/0). Such
    factors are skipped with a warning; if every factor is constant a ValueError is raised.
    """
    y = np.asarray(factors)
    keep = (y.max(axis=0) != y.min(axis=0))
    if not keep.any():
        raise ValueError(f"{metric}: every factor is constant in the sample; need at least one factor "
                         "that varies")
    if not keep.all():
        warnings.warn(f"{metric}: factor(s) {np.flatnonzero(~keep).tolist()} take a single value in the "
                      "sample and are skipped", RuntimeWarning, stacklevel=3)
    return keep


# ---- discretisation ---------------------------------------------------------------------------
def histogram_discretize(x: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Discretise each column into ``num_bins`` equal-width bins over its own [min, max].

    Same as disentanglement_lib's ``_histogram_discretize``: ``np.digitize`` against the
    ``np.histogram`` edges without the last one, so the labels are 1..num_bins (a constant
    column gets a single label). Returns (N, d) int64.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):  # one searchsorted per column: O(N log B), no Python per-sample work
        edges = np.histogram_bin_edges(x[:, j], bins=num_bins)
        out[:, j] = np.searchsorted(edges[:-1], x[:, j], side="right")
    return out


# ---- entropy and mutual information ------------------------------------------------------------
def _relabel(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's values mapped to 0..n_j-1: (N, m) int64 and the sizes n_j."""
    out = np.empty(labels.shape, dtype=np.int64)
    sizes = np.empty(labels.shape[1], dtype=np.int64)
    for j in range(labels.shape[1]):
        _, inv = np.unique(labels[:, j], return_inverse=True)
        out[:, j] = inv.ravel()
        sizes[j] = int(out[:, j].max()) + 1
    return out, sizes


def _plogp_sum(counts: np.ndarray, n: int, axis) -> np.ndarray:
    p = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=axis)


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) between every column of ``a`` and every column of ``b``.

    ``a`` (N, d) and ``b`` (N, K) are discrete labels. Equals ``sklearn.metrics.mutual_info_score``
    per pair (disentanglement_lib's ``discrete_mutual_info``); returns (d, K). All d * K
    contingency tables come from one ``np.bincount``.
    """
    a, sa = _relabel(np.asarray(a))
    b, sb = _relabel(np.asarray(b))
    n, d = a.shape
    k = b.shape[1]
    ma, mb = int(sa.max()), int(sb.max())
    flat = ((np.arange(d) * ma + a)[:, :, None] * k + np.arange(k)) * mb + b[:, None, :]  # (N, d, K)
    joint = np.bincount(flat.ravel(), minlength=d * ma * k * mb).reshape(d, ma, k, mb)
    ha = -_plogp_sum(joint[:, :, 0, :].sum(-1), n, 1)  # (d,)
    hb = -_plogp_sum(joint[0].sum(0), n, -1)  # (K,)
    hab = -_plogp_sum(joint, n, (1, 3))  # (d, K)
    return np.maximum(ha[:, None] + hb[None, :] - hab, 0.0)


def discrete_entropy(labels: np.ndarray) -> np.ndarray:
    """Plug-in entropy (nats) of each column of discrete ``labels`` (N, K); returns (K,)."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    out = np.empty(labels.shape[1])
    for j in range(labels.shape[1]):
        _, counts = np.unique(labels[:, j], return_counts=True)
        out[j] = -_plogp_sum(counts, n, 0)
    return out
