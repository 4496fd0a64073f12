"""Polar and Cartesian MSE of WeLa-VAE (Margonis et al. 2020, section 4.2, Eqs. 5-7).

How well two latent channels, linearly rescaled, recover the true Cartesian position (c1, c2) of a
blob -- read either directly as Cartesian coordinates or as (angle, distance):

* Cartesian (Eq. 5): ``c1~ = 64 * r(s_i mu_i)``, ``c2~ = 64 * r(s_j mu_j)``;
* polar (Eqs. 6-7): ``phi = (pi/2) * r(s_i mu_i)``, ``rho = 90.5 * r(s_j mu_j)``,
  ``c1~ = rho cos(phi)``, ``c2~ = rho sin(phi)``;

with ``r`` the min-max rescaling to [0, 1] over all samples. MSE = mean over samples of
``(c1 - c1~)^2 + (c2 - c2~)^2``. Every ordered pair of distinct channels (i, j) and every sign flip
(s_i, s_j) in {+1, -1}^2 is tried and the lowest MSE kept (the channel assignment and orientation
are unknown). The angle is measured as ``atan2(c2, c1)`` from the corner (0, 0), matching the
Blobs labels (c1 = x = row, c2 = y = column). Representation: the encoder means.
Options: ``coordinate_range`` (64, the paper's rescaling range) and ``max_distance`` (90.5 in the
paper's Eq. 6; the authors' code uses 64 * sqrt(2) = 90.51).
"""

from __future__ import annotations

import math

import numpy as np

from .registry import register_metric


def _rescaled(codes: np.ndarray) -> np.ndarray:
    """Min-max rescale every column to [0, 1]; a constant column becomes 0."""
    lo, hi = codes.min(0), codes.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (codes - lo) / span


def _two_factors(dataset) -> bool:
    """Whether a dataset varies exactly two factors (the position (c1, c2) of seed 001)."""
    return sum(int(s) > 1 for s in dataset.factor_sizes) == 2


@register_metric("polar", needs=("codes", "factor_values"), num_train=10000, bound=(0.0, math.inf),
                 bounds={k: (-1.0, 1.0) for k in ("cartesian_c1_sign", "cartesian_c2_sign", "polar_angle_sign",
                                                    "polar_distance_sign")},
                 permutation_invariant=("cartesian_mse", "polar_mse"), applies=_two_factors,
                 help="polar and Cartesian MSE of a 2-D position (WeLa-VAE, Margonis et al. 2020)")
def polar_cartesian_mse(
    codes: np.ndarray,
    factors_xy: np.ndarray,
    coordinate_range: float = 64.0,
    max_distance: float = 90.5,
) -> dict[str, float]:
    """Lowest Cartesian and polar MSE over channel pairs and sign flips (see module docstring).

    ``codes``: (N, d) representations, d >= 2; ``factors_xy``: (N, 2) true coordinates (c1, c2).
    Returns ``cartesian_mse``, ``polar_mse`` and the winning channels and signs (+1/-1):
    ``cartesian_c1_channel``, ``cartesian_c2_channel``, ``polar_angle_channel``,
    ``polar_distance_channel``, ``*_sign`` likewise.
    """
    z = np.asarray(codes, dtype=np.float64)
    c = np.asarray(factors_xy, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"codes must be (N, d) with d >= 2 channels, got shape {z.shape}")
    if c.shape != (z.shape[0], 2):
        raise ValueError(f"factors_xy must be (N, 2) = (c1, c2) for the N codes, got {c.shape} for N={z.shape[0]}")
    if not np.isfinite(z).all():
        raise ValueError("codes contain NaN or infinite values")
    d = z.shape[1]
    r = _rescaled(z)
    # (N, d, 2): each channel rescaled, unflipped [..., 0] and flipped [..., 1] (flip then min-max = 1 - r)
    rf = np.stack([r, 1.0 - r], axis=2)
    c1, c2 = c[:, 0], c[:, 1]
    # Cartesian: c1~ from channel i (any sign), c2~ from channel j.
    err1 = ((c1[:, None, None] - coordinate_range * rf) ** 2).mean(0)  # (d, 2)
    err2 = ((c2[:, None, None] - coordinate_range * rf) ** 2).mean(0)
    cart = err1[:, None, :, None] + err2[None, :, None, :]  # (i, j, s_i, s_j)
    # Polar: angle from channel i, distance from channel j.
    phi = (math.pi / 2) * rf  # (N, d, 2)
    rho = max_distance * rf
    x1 = rho[:, None, :, None, :] * np.cos(phi)[:, :, None, :, None]  # (N, i, j, s_i, s_j)
    x2 = rho[:, None, :, None, :] * np.sin(phi)[:, :, None, :, None]
    polar = ((c1[:, None, None, None, None] - x1) ** 2 + (c2[:, None, None, None, None] - x2) ** 2).mean(0)
    diag = np.eye(d, dtype=bool)
    cart[diag] = np.inf
    polar[diag] = np.inf
    out: dict[str, float] = {}
    for name, table, (a, b) in (("cartesian", cart, ("c1", "c2")), ("polar", polar, ("angle", "distance"))):
        i, j, si, sj = np.unravel_index(np.argmin(table), table.shape)
        out[f"{name}_mse"] = float(table[i, j, si, sj])
        out[f"{name}_{a}_channel"], out[f"{name}_{b}_channel"] = int(i), int(j)
        out[f"{name}_{a}_sign"], out[f"{name}_{b}_sign"] = 1 - 2 * int(si), 1 - 2 * int(sj)
    return out


def summarize_scores(scores, best_fraction: float = 0.1) -> dict[str, float]:
    """Seed 001 Table 1 summary of per-seed scores: lowest, mean, mean of the best ``best_fraction``
    (at least one score)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if s.size == 0:
        raise ValueError("no scores to summarise")
    k = max(1, int(math.ceil(best_fraction * s.size)))
    return {"lowest": float(s[0]), "mean": float(s.mean()), "mean_best": float(s[:k].mean()), "n": int(s.size)}
