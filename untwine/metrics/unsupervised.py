"""Unsupervised scores of a code (disentanglement_lib ``unsupervised_metrics.py``).

* Gaussian total correlation: KL between N(0, Cov(z)) and the product of its marginals,
  ``0.5 * (sum_j log Cov_jj - log det Cov)``.
* Gaussian Wasserstein correlation: ``2 tr(Cov) - 2 tr(sqrtm(Cov * diag(Cov)[:, None]))``, and
  the same divided by ``tr(Cov)``.
* Mutual-information score: mean pairwise MI (nats) between different histogram-discretised
  latents (off-diagonal mean of :func:`mutual_info_matrix`).

Defaults (``unsupervised.gin``): 10,000 points in the suite, ``num_bins=20``; covariance with
``np.cov`` (ddof 1).
"""

from __future__ import annotations

import math

import numpy as np

from .utils import check_codes, discrete_mutual_info, histogram_discretize
from .registry import register_metric


def gaussian_total_correlation(codes: np.ndarray) -> float:
    """Total correlation (nats) of a Gaussian with the sample covariance of codes (N, d)."""
    cov = np.atleast_2d(np.cov(check_codes(codes), rowvar=False))
    diag = np.diag(cov)
    if np.any(diag <= 0):
        raise ValueError(f"latent(s) {np.flatnonzero(diag <= 0).tolist()} are constant: the Gaussian total "
                         "correlation is undefined; drop inactive latents first")
    sign, logdet = np.linalg.slogdet(cov)
    return float(0.5 * (np.sum(np.log(diag)) - logdet)) if sign > 0 else float("inf")


def mutual_info_matrix(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Pairwise MI (d, d) between histogram-discretised latents (diagonal: each latent's entropy)."""
    d = histogram_discretize(check_codes(codes), num_bins)
    return discrete_mutual_info(d, d)


@register_metric("unsupervised", needs=("codes",), num_train=10000, bound=(0.0, math.inf), permutation_invariant=True,
                 help="Gaussian total/Wasserstein correlation, mean pairwise MI")
def unsupervised(codes: np.ndarray, num_bins: int = 20) -> dict[str, float]:
    """All unsupervised scores of codes (N, d); see the module docstring."""
    from scipy.linalg import sqrtm

    z = check_codes(codes)
    cov = np.atleast_2d(np.cov(z, rowvar=False))
    d = cov.shape[0]
    w = 2 * np.trace(cov) - 2 * np.trace(np.real(sqrtm(cov * np.diag(cov)[:, None])))
    mi = mutual_info_matrix(z, num_bins)
    np.fill_diagonal(mi, 0.0)
    return {"gaussian_total_correlation": gaussian_total_correlation(z),
            "gaussian_wasserstein_correlation": float(w),
            "gaussian_wasserstein_correlation_norm": float(w / np.trace(cov)),
            "mutual_info_score": float(mi.sum() / (d * d - d)) if d > 1 else 0.0}
