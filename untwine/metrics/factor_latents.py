"""Which latent holds which factor: the normalised MI matrix and the factors a latent of their own captures.

    NMI[j, k] = I(z_j; v_k) / H(v_k)                  (the quantities MIG averages, Chen et al. 2018)
    j(k)      = argmax_j NMI[j, k]                      (the latent that holds factor k best)
    gap_k     = NMI[j(k), k] - max_{j != j(k)} NMI[j, k]   (MIG of factor k alone)

Factor k is *captured by a latent of its own* when its gap is at least ``min_gap`` (no second
latent holds it nearly as well) and j(k) holds k better than any other factor
(``argmax_k' NMI[j(k), k'] = k``), so that two factors never count for one latent. The estimator
is MIG's (disentanglement_lib): mean codes, 20-bin equal-width histograms, plug-in MI in nats.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import register_metric
from .utils import check_pair, discrete_entropy, discrete_mutual_info, histogram_discretize, varying_factors


def normalized_mi(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """NMI (d, K): MI of each histogram-discretised latent with each factor over the factor's entropy.

    A factor constant in the sample (no entropy) gets a column of zeros.
    """
    z, y = check_pair(codes, factors)
    m, h = discrete_mutual_info(histogram_discretize(z, num_bins), y), discrete_entropy(y)
    out = np.zeros_like(m, dtype=np.float64)
    varies = h > 0
    out[:, varies] = m[:, varies] / h[varies]
    return out


def assign_factors(nmi: np.ndarray, min_gap: float = 0.1) -> list[dict]:
    """Per factor of ``nmi`` (d, K): its best latent, that latent's NMI, the gap to the second best
    and whether the factor is captured by a latent of its own (module docstring)."""
    nmi = np.asarray(nmi, dtype=np.float64)
    if nmi.ndim != 2 or nmi.shape[0] < 1:
        raise ValueError(f"nmi must be a (latents, factors) matrix, got shape {nmi.shape}")
    s = np.sort(nmi, axis=0)[::-1]
    second = s[1] if nmi.shape[0] > 1 else np.zeros(nmi.shape[1])
    best = nmi.argmax(0)
    favourite = nmi.argmax(1)  # the factor each latent holds best
    return [{"latent": int(best[k]), "nmi": float(s[0, k]), "gap": float(s[0, k] - second[k]),
             "captured": bool(s[0, k] - second[k] >= min_gap and favourite[best[k]] == k and s[0, k] > 0)}
            for k in range(nmi.shape[1])]


def latent_labels(nmi: np.ndarray, names: list[str], min_nmi: float = 0.05) -> list[str | None]:
    """For each latent the name of the factor it holds most information about (None when its best
    NMI is below ``min_nmi``: the latent holds no factor)."""
    nmi = np.asarray(nmi)
    return [names[int(row.argmax())] if row.max() >= min_nmi else None for row in nmi]


@register_metric("factors_captured", needs=("codes", "factor_classes"), num_train=10000,
                 bounds={"factors_captured": (0.0, math.inf)}, permutation_invariant=True,
                 help="factors each captured by a latent of their own (per-factor MIG gap >= min_gap)")
def factors_captured(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20, min_gap: float = 0.1) -> dict[str, float]:
    """How many varying factors are each captured by a latent of their own (module docstring).

    Args:
        codes: mean codes (N, d).
        factors: factor classes (N, K); constant factors are skipped with a warning.
        num_bins: histogram bins per latent (20, as MIG).
        min_gap: the least per-factor MIG gap that counts (0.1: the latent holds at least a tenth
            of the factor's entropy more than any other latent).

    Returns ``{"factors_captured": count, "fraction": count / varying factors}``.
    """
    if not 0.0 <= min_gap <= 1.0:
        raise ValueError(f"min_gap must be in [0, 1] (a normalised MI gap), got {min_gap}")
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "factors_captured")
    rows = assign_factors(normalized_mi(z, y, num_bins)[:, keep], min_gap)
    count = sum(r["captured"] for r in rows)
    return {"factors_captured": float(count), "fraction": count / len(rows)}
