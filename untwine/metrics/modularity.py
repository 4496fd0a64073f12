"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings
With the F-Statistic Loss"), as in disentanglement_lib ``modularity_explicitness.py``.

Modularity: with m[j, k] the MI between histogram-discretised latent j and factor k,
``delta_j = (sum_k m[j,k]^2 - max_k m[j,k]^2) / (max_k m[j,k]^2 (K - 1))``, per-latent
modularity ``1 - delta_j`` (0 for a latent with no MI), averaged over latents.
Explicitness: per factor, a ``LogisticRegression()`` (sklearn defaults) on the standardised code
predicts the factor; the one-vs-rest ROC-AUC averaged over classes (train and test), averaged over
factors.

Defaults (``modularity_explicitness.gin``): 10,000 train / 5,000 test points in the suite,
``num_bins=20``. Standardisation uses the training mean and std (population std, as
``np.std``); zero-variance latents are left unscaled instead of producing NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from .utils import check_pair, discrete_mutual_info, histogram_discretize, varying_factors
from .registry import register_metric


def modularity_score(mutual_information: np.ndarray) -> float:
    """Modularity of an MI matrix (d, K)."""
    sq = np.square(mutual_information)
    mx = sq.max(1)
    k = sq.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(1) - mx) / (mx * (k - 1.0)) if k > 1 else np.zeros_like(mx)
    score = np.where(mx == 0.0, 0.0, 1.0 - delta)
    return float(np.mean(score))


def _explicitness(x_tr, y_tr, x_te, y_te) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    classes = np.unique(y_tr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs max_iter warnings, as in the reference
        clf = LogisticRegression().fit(x_tr, y_tr)
    out = []
    for x, y in ((x_tr, y_tr), (x_te, y_te)):
        proba = clf.predict_proba(x)
        onehot = (y[:, None] == classes[None, :]).astype(int)
        present = (onehot.sum(0) > 0) & (onehot.sum(0) < len(y))  # AUC needs both labels
        out.append(float(roc_auc_score(onehot[:, present], proba[:, present], average="macro")))
    return out[0], out[1]


@register_metric("modularity", needs=("codes", "factor_classes", "test_split"), num_train=10000, num_test=5000,
                 permutation_invariant=("modularity",), help="modularity and explicitness (Ridgeway & Mozer 2018)")
def modularity(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
               num_bins: int = 20) -> dict[str, float]:
    """Modularity and explicitness (train, test) of codes (N, d) for factor classes (N, K).

    Returns ``{"modularity", "explicitness_train", "explicitness_test"}``. Factors constant in
    the training sample are skipped with a warning.
    """
    z, y = check_pair(codes, factors)
    z_te, y_te = check_pair(codes_test, factors_test, min_samples=1)
    keep = varying_factors(y, "modularity")
    y, y_te = y[:, keep], y_te[:, keep]
    mi = discrete_mutual_info(histogram_discretize(z, num_bins), y)
    mean, std = z.mean(0), z.std(0)
    std = np.where(std > 0, std, 1.0)
    zn, zn_te = (z - mean) / std, (z_te - mean) / std
    scores = np.array([_explicitness(zn, y[:, k], zn_te, y_te[:, k]) for k in range(y.shape[1])])
    return {"modularity": modularity_score(mi), "explicitness_train": float(scores[:, 0].mean()),
            "explicitness_test": float(scores[:, 1].mean())}
