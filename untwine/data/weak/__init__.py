"""Weak-supervision samplers: weak labels, pairs/groups sharing factors, few labels, relations,
correlated resampling. Each is registered with :func:`untwine.data.register_sampler`."""

from .labels import WeakLabelSampler, compute_labels, resolve_label_fn
from .pairs import SEED003_GROUPS, GroupSampler, PairSampler

__all__ = [
    "WeakLabelSampler",
    "compute_labels",
    "resolve_label_fn",
    "SEED003_GROUPS",
    "GroupSampler",
    "PairSampler",
]
