"""group-MIG (seed 003, decisions.md): MIG where each factor has its own block of latents.

    group-MIG = 1/K sum_k ( max_{i in B(k)} I(z_i; v_k) - max_{i not in B(k)} I(z_i; v_k) ) / H(v_k)

B(k) is the latent block assigned to factor k's group (e.g. dSprites content c = {shape,
scale} -> z_c, the rest -> z_\\c). MI as in MIG: 20-bin histogram discretisation of the latents,
plug-in estimates in nats. A negative value means a factor is captured better outside its block.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .utils import check_pair, discrete_entropy, discrete_mutual_info, histogram_discretize, varying_factors
from .registry import register_metric


def _example_groups(num_latents: int, num_factors: int) -> dict[str, list[str]]:
    """A valid group assignment for any shape: the first latent and factor form group "a"."""
    return {"latent_groups": ["a"] + ["b"] * (num_latents - 1), "factor_groups": ["a"] + ["b"] * (num_factors - 1)}


@register_metric("group_mig", needs=("codes", "factor_classes"), num_train=10000, bound=(-1.0, 1.0),
                 example_options=_example_groups, help="group-MIG (seed 003): MIG with a latent block per factor group")
def group_mig(codes: np.ndarray, factors: np.ndarray, latent_groups: Sequence, factor_groups: Sequence,
              num_bins: int = 20) -> dict[str, float]:
    """group-MIG of codes (N, d) for factor classes (N, K).

    Args:
        latent_groups: group label of each latent (length d), e.g. ``["c"] * 5 + ["s"] * 5``.
        factor_groups: group label of each factor (length K), e.g. ``["c", "c", "s", "s", "s"]``.
        num_bins: histogram bins per latent (20, as MIG).

    Every factor group must own at least one latent and leave at least one outside. Returns
    ``{"group_mig": float}``; constant factors are skipped with a warning.
    """
    z, y = check_pair(codes, factors)
    lg, fg = np.asarray(latent_groups, dtype=object), np.asarray(factor_groups, dtype=object)
    if lg.shape != (z.shape[1],):
        raise ValueError(f"latent_groups needs one label per latent ({z.shape[1]}), got {len(lg)}")
    if fg.shape != (y.shape[1],):
        raise ValueError(f"factor_groups needs one label per factor ({y.shape[1]}), got {len(fg)}")
    for g in set(fg.tolist()):
        inside = lg == g
        if not inside.any() or inside.all():
            raise ValueError(f"factor group {g!r} must own some but not all latents; latent_groups has "
                             f"{int(inside.sum())} of {len(lg)} latents in it")
    keep = varying_factors(y, "group_mig")
    m = discrete_mutual_info(histogram_discretize(z, num_bins), y)
    h = discrete_entropy(y)
    own = lg[:, None] == fg[None, :]  # (d, K)
    best_in = np.where(own, m, -np.inf).max(0)
    best_out = np.where(~own, m, -np.inf).max(0)
    return {"group_mig": float(np.mean(((best_in - best_out) / h)[keep]))}
