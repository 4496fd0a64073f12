"""Weak-supervision samplers: weak labels, pairs/groups sharing factors, few labels, relations,
correlated resampling. Each sampler is registered with :func:`untwine.data.register_sampler`
(kinds ``weak_labels``, ``pairs``, ``groups``, ``few_labels``, ``relations``)."""

from .correlated import (
    IndexSubset,
    SplitPart,
    correlate_dataset,
    correlated_datasets,
    correlated_split,
    correlation_weights,
    evaluation_part,
    expected_correlation,
    factor_correlation,
)
from .entities import EntitySpec, as_entity_spec
from .few_labels import FewLabelSampler, few_label_indices
from .labels import WeakLabelSampler, compute_labels, resolve_label_fn
from .pairs import SEED003_GROUPS, GroupSampler, PairSampler
from .relations import RelationSampler, RelationTable, cyclic_moves, relation_table, unary_moves

__all__ = [
    "IndexSubset", "SplitPart", "correlate_dataset", "correlated_datasets", "evaluation_part", "correlated_split",
    "correlation_weights", "expected_correlation",
    "factor_correlation", "EntitySpec", "as_entity_spec", "FewLabelSampler", "few_label_indices",
    "WeakLabelSampler", "compute_labels", "resolve_label_fn", "SEED003_GROUPS", "GroupSampler", "PairSampler",
    "RelationSampler", "RelationTable", "cyclic_moves", "relation_table", "unary_moves",
]
