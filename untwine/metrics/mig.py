"""Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", Sec. 4).

    MIG = 1/K sum_k ( I(z_{j(k)}; v_k) - max_{j != j(k)} I(z_j; v_k) ) / H(v_k),
    j(k) = argmax_j I(z_j; v_k)

Estimator of disentanglement_lib (``evaluation/metrics/mig.py``): each latent of the mean codes
is discretised by a 20-bin equal-width histogram, MI and entropies are plug-in estimates on the
discrete labels (nats).
"""

from __future__ import annotations

import numpy as np

from .utils import check_pair, discrete_entropy, discrete_mutual_info, histogram_discretize, varying_factors
from .registry import register_metric


def mig_matrix(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """MI matrix (d, K) between histogram-discretised latents and factors, and factor entropies (K,)."""
    z, y = check_pair(codes, factors)
    return discrete_mutual_info(histogram_discretize(z, num_bins), y), discrete_entropy(y)


@register_metric("mig", needs=("codes", "factor_classes"), num_train=10000, permutation_invariant=True,
                 help="Mutual Information Gap (Chen et al. 2018)")
def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict[str, float]:
    """Mutual Information Gap of codes (N, d) against factor classes (N, K).

    Defaults (disentanglement_lib ``unsupervised_study_v1/metric_configs/mig.gin``): ``num_bins=20``
    histogram bins per latent; the suite (:func:`untwine.metrics.evaluate`) feeds it
    ``num_train=10000`` sampled points. With a single latent the gap is its MI (the second-best
    MI is taken as 0). Factors that are constant in the sample have no entropy and are skipped
    with a warning.

    Returns ``{"mig": float}``.
    """
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "mig")
    m, h = discrete_mutual_info(histogram_discretize(z, num_bins), y), discrete_entropy(y)
    s = np.sort(m, axis=0)[::-1]
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    gaps = (s[0] - second)[keep] / h[keep]
    return {"mig": float(np.mean(gaps))}
