"""Interventional Robustness Score (Suter et al. 2019), scalable version of disentanglement_lib.

For latent j and factor i, with g_i the (histogram-discretised) factor:

    dev[j, i] = mean over values v of g_i of quantile_q |z_j - E[z_j | g_i = v]|  (within g_i = v)
    IRS[j, i] = 1 - dev[j, i] / max_n |z_nj - mean(z_j)|
    IRS = weighted mean over latents of max_i IRS[j, i], weights max_n |z_nj - mean(z_j)|

Defaults (disentanglement_lib ``irs.py`` / ``irs.gin``): 10,000 points, factors discretised by the
20-bin histogram discretiser, ``diff_quantile=0.99`` (1.0 is the paper's maximum), latents with
zero variance dropped. ``num_active_dims`` counts the active latents (the reference sums the
values of the active code matrix instead, a known bug).
"""

from __future__ import annotations

import math

import numpy as np

from .utils import check_pair, histogram_discretize
from .registry import register_metric


@register_metric("irs", needs=("codes", "factor_classes"), num_train=10000, bound=(-1.0, 1.0),
                 bounds={"num_active_dims": (0.0, math.inf)}, permutation_invariant=True,
                 help="Interventional Robustness Score (Suter et al. 2019)")
def irs(codes: np.ndarray, factors: np.ndarray, diff_quantile: float = 0.99, num_bins: int = 20) -> dict[str, float]:
    """IRS of codes (N, d) for factor classes (N, K).

    Returns ``{"irs": float, "num_active_dims": float}``; 0 when no latent varies.
    """
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"diff_quantile must be in [0, 1], got {diff_quantile}")
    z, y = check_pair(codes, factors)
    g = histogram_discretize(y.astype(np.float64), num_bins)
    active = z.var(0) > 0.0
    if not active.any():
        return {"irs": 0.0, "num_active_dims": 0.0}
    z = z[:, active]
    max_dev = np.abs(z - z.mean(0)).max(0)  # (d,)
    cum = np.zeros((z.shape[1], g.shape[1]))
    for i in range(g.shape[1]):
        values, inv = np.unique(g[:, i], return_inverse=True)
        inv = inv.ravel()
        counts = np.bincount(inv)
        means = np.stack([np.bincount(inv, z[:, j]) for j in range(z.shape[1])], 1) / counts[:, None]
        diffs = np.abs(z - means[inv])  # (N, d)
        order = np.argsort(inv, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for v in range(len(values)):  # one quantile per factor value (<= num_bins groups)
            cum[:, i] += np.quantile(diffs[order[bounds[v]:bounds[v + 1]]], diff_quantile, axis=0)
        cum[:, i] /= len(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = 1.0 - cum / max_dev[:, None]
    per_latent = matrix.max(1)
    score = np.average(per_latent, weights=max_dev) if max_dev.sum() > 0 else per_latent.mean()
    return {"irs": float(score), "num_active_dims": float(active.sum())}
