"""Weak-supervision samplers: weak labels, pairs/groups sharing factors, few labels, relations,
correlated resampling. Each is registered with :func:`untwine.data.register_sampler`."""

from . import labels  # noqa: F401  (registers "weak_labels")
from .labels import WeakLabelSampler, compute_labels, resolve_label_fn

__all__ = ["WeakLabelSampler", "compute_labels", "resolve_label_fn"]
