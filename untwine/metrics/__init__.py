"""Disentanglement metrics: plain functions over (codes, factors) arrays, plus sampling metrics.

Array metrics take codes (N, d) float and factor classes (N, K) int (or factor values); sampling
metrics take a ground-truth dataset, an encoder (or a :class:`CodeTable`) and a random generator.
Every metric returns a dict of named scores and is registered where it is defined
(:func:`register_metric`, with what it needs); :func:`evaluate` runs a suite and returns one flat
dict. Defaults equal google-research/disentanglement_lib's (each docstring lists them).
"""

from .codes import CodeTable
from .registry import (MetricOptionError, MetricSpec, available_metrics, describe_metrics, get_metric,
                       register_metric, resolve_options, select_metrics)
from .evaluate import evaluate, format_table, metric_environment

# the suite's order: the order of registration
from .mig import mig, mig_matrix
from .factor_latents import assign_factors, factors_captured, latent_labels, normalized_mi
from .sap import sap, sap_matrix
from .dci import completeness, dci, dci_importance, disentanglement
from .irs import irs
from .modularity import modularity, modularity_score
from .unsupervised import gaussian_total_correlation, mutual_info_matrix, unsupervised
from .beta_vae_score import beta_vae_score
from .factor_vae_score import factor_vae_score
from .group_mig import group_mig
from .polar import polar_cartesian_mse
from .reconstruction import reconstruction
from .abstraction import entity_disentanglement, latent_classification, relation_accuracy
from .translation import translation_difficulty
from .utils import discrete_entropy, discrete_mutual_info, histogram_discretize
from .agreement import metric_agreement, metric_agreement_pvalues, metric_agreement_table

__all__ = [
    "CodeTable",
    "MetricOptionError",
    "MetricSpec",
    "assign_factors",
    "available_metrics",
    "beta_vae_score",
    "reconstruction",
    "translation_difficulty",
    "entity_disentanglement",
    "latent_classification",
    "relation_accuracy",
    "completeness",
    "dci",
    "dci_importance",
    "describe_metrics",
    "discrete_entropy",
    "discrete_mutual_info",
    "disentanglement",
    "evaluate",
    "factor_vae_score",
    "factors_captured",
    "format_table",
    "gaussian_total_correlation",
    "get_metric",
    "group_mig",
    "histogram_discretize",
    "irs",
    "latent_labels",
    "metric_environment",
    "mig",
    "mig_matrix",
    "modularity",
    "modularity_score",
    "mutual_info_matrix",
    "normalized_mi",
    "polar_cartesian_mse",
    "register_metric",
    "resolve_options",
    "sap",
    "sap_matrix",
    "select_metrics",
    "unsupervised",
]
