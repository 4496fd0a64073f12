"""Disentanglement metrics: plain functions over (codes, factors) arrays, plus sampling metrics.

Array metrics take codes (N, d) float and factor classes (N, K) int; sampling metrics take a
ground-truth dataset, an encoder (or a :class:`CodeTable`) and a random generator. Every metric
returns a dict of named scores; :func:`evaluate` runs a suite and returns one flat dict.
Defaults equal google-research/disentanglement_lib's (each docstring lists them).
"""

from .codes import CodeTable
from .evaluate import METRICS, MetricSpec, available_metrics, evaluate, format_table, metric_environment, register_metric
from .beta_vae_score import beta_vae_score
from .dci import completeness, dci, dci_importance, disentanglement
from .factor_vae_score import factor_vae_score
from .group_mig import group_mig
from .irs import irs
from .mig import mig, mig_matrix
from .modularity import modularity, modularity_score
from .sap import sap, sap_matrix
from .unsupervised import gaussian_total_correlation, mutual_info_matrix, unsupervised
from .utils import discrete_entropy, discrete_mutual_info, histogram_discretize

register_metric(MetricSpec("mig", mig, "train", 10000, help="Mutual Information Gap (Chen et al. 2018)"))
register_metric(MetricSpec("sap", sap, "train_test", 10000, 5000, help="SAP score (Kumar et al. 2018)"))
register_metric(MetricSpec("dci", dci, "train_test", 10000, 5000, help="DCI (Eastwood & Williams 2018)"))
register_metric(MetricSpec("irs", irs, "train", 10000, help="Interventional Robustness Score (Suter et al. 2019)"))
register_metric(MetricSpec("modularity", modularity, "train_test", 10000, 5000,
                           help="modularity and explicitness (Ridgeway & Mozer 2018)"))
register_metric(MetricSpec("unsupervised", unsupervised, "codes", 10000,
                           help="Gaussian total/Wasserstein correlation, mean pairwise MI"))
register_metric(MetricSpec("beta_vae_score", beta_vae_score, "sampling", help="Z-diff score (Higgins et al. 2017)"))
register_metric(MetricSpec("factor_vae_score", factor_vae_score, "sampling", help="FactorVAE score (Kim & Mnih 2018)"))
register_metric(MetricSpec("group_mig", group_mig, "train", 10000, needs_options=("latent_groups", "factor_groups"),
                           help="group-MIG (seed 003)"))

__all__ = [
    "METRICS",
    "beta_vae_score",
    "completeness",
    "dci",
    "dci_importance",
    "disentanglement",
    "factor_vae_score",
    "gaussian_total_correlation",
    "group_mig",
    "irs",
    "modularity",
    "modularity_score",
    "mutual_info_matrix",
    "sap",
    "sap_matrix",
    "unsupervised",
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
