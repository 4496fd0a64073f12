"""Disentanglement metrics: plain functions over (codes, factors) arrays, plus sampling metrics.

Array metrics take codes (N, d) float and factor classes (N, K) int; sampling metrics take a
ground-truth dataset, an encoder (or a :class:`CodeTable`) and a random generator. Every metric
returns a dict of named scores; :func:`evaluate` runs a suite and returns one flat dict.
Defaults equal google-research/disentanglement_lib's (each docstring lists them).
"""

from .codes import CodeTable
from .evaluate import METRICS, MetricSpec, available_metrics, evaluate, format_table, metric_environment, register_metric
from .mig import mig, mig_matrix
from .utils import discrete_entropy, discrete_mutual_info, histogram_discretize

register_metric(MetricSpec("mig", mig, "train", num_train=10000, help="Mutual Information Gap (Chen et al. 2018)"))

__all__ = [
    "METRICS",
    "CodeTable",
    "MetricSpec",
    "available_metrics",
    "discrete_entropy",
    "discrete_mutual_info",
    "evaluate",
    "format_table",
    "histogram_discretize",
    "metric_environment",
    "mig",
    "mig_matrix",
    "register_metric",
]
