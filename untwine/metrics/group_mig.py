"""group-MIG (seed 003, decisions.md): MIG where each factor has its own block of latents.

    group-MIG = 1/K sum_k ( max_{i in B(k)} I(z_i; v_k) - max_{i not in B(k)} I(z_i; v_k) ) / H(v_k)

B(k) is the latent block assigned to factor k's group (e.g. dSprites content c = {shape,
scale} -> z_c, the rest -> z_\\c). MI as in MIG: 20-bin histogram discretisation of the latents,
plug-in estimates in nats. A negative value means a factor is captured better outside its block.

From a model, the suite needs no options: ``untwine evaluate RUN --metrics mig,group_mig`` on a run
of a group method (one that has ``latent_groups``, e.g. :class:`~untwine.methods.group_base.GroupVAE`)
trained with ``--dataset-option groups=...`` takes ``latent_groups`` from the model and
``factor_groups`` from the dataset (:func:`~untwine.data.groups.factor_group_index`, restricted to
the factors with more than one class, as the suite drops the constant ones before array metrics).
``metrics="all"`` includes group-MIG exactly when both are there; options given explicitly win.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .utils import check_pair, discrete_entropy, discrete_mutual_info, histogram_discretize, varying_factors
from ..data.groups import factor_group_index
from .registry import OptionSource, register_metric


def _example_groups(num_latents: int, num_factors: int) -> dict[str, list[str]]:
    """A valid group assignment for any shape: the first latent and factor form group "a"."""
    return {"latent_groups": ["a"] + ["b"] * (num_latents - 1), "factor_groups": ["a"] + ["b"] * (num_factors - 1)}


def _model_latent_groups(model, dataset) -> list[int] | None:
    """The group index of each latent of a group method (None for a model without blocks)."""
    groups = getattr(model, "latent_groups", None)
    return None if groups is None else [int(g) for g in groups]


def _dataset_factor_groups(model, dataset) -> list[int] | None:
    """The group index of each varying factor of ``dataset`` (None without the ``groups`` option).

    Aligned with the factors the suite passes to array metrics: constant factors (dSprites'
    colour) are dropped there, so they are dropped here.
    """
    if not getattr(dataset, "factor_groups", ()):
        return None
    index = factor_group_index(dataset)
    return [int(g) for g, size in zip(index, dataset.factor_sizes) if size > 1]


GROUP_SOURCES = {
    "latent_groups": OptionSource(("model",), _model_latent_groups,
                                  "a model with latent_groups (a group method, e.g. gvae, ml_vae, group_tcvae)"),
    "factor_groups": OptionSource(("dataset",), _dataset_factor_groups,
                                  "a dataset with factor groups (dataset option groups=..., e.g. groups=seed003)"),
}


@register_metric("group_mig", needs=("codes", "factor_classes"), num_train=10000, bound=(-1.0, 1.0),
                 example_options=_example_groups, option_sources=GROUP_SOURCES, help="group-MIG (seed 003): MIG with a latent block per factor group")
def group_mig(codes: np.ndarray, factors: np.ndarray, latent_groups: Sequence, factor_groups: Sequence,
              num_bins: int = 20) -> dict[str, float]:
    """group-MIG of codes (N, d) for factor classes (N, K).

    Args:
        latent_groups: group label of each latent (length d), e.g. ``["c"] * 5 + ["s"] * 5``;
            in the suite, by default the model's ``latent_groups`` (group indices).
        factor_groups: group label of each factor (length K), e.g. ``["c", "c", "s", "s", "s"]``;
            in the suite, by default the dataset's factor groups (the index of each varying
            factor's group in ``dataset.factor_groups``).
        num_bins: histogram bins per latent (20, as MIG).

    Every factor group must own at least one latent and leave at least one outside. Returns
    ``{"group_mig": float, "group_<label>": float, ...}``: the mean over all varying factors and
    over each factor group's (seed 003, Fig. 3b: content and non-content; in the suite the keys
    are ``group_mig.group_0``, ``group_mig.group_1``, ...); constant factors are skipped with a
    warning.
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
    gap = (best_in - best_out) / h
    out = {"group_mig": float(np.mean(gap[keep]))}
    for g in dict.fromkeys(fg.tolist()):  # the same mean over one group's factors (seed 003, Fig. 3b)
        mine = keep & (fg == g)
        if mine.any():
            out[f"group_{g}"] = float(np.mean(gap[mine]))
    return out
