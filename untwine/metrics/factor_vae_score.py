"""FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising", Sec. 4), sampling-based.

Each vote: pick a factor k uniformly, draw ``batch_size`` factor vectors uniformly with factor k
fixed to the value of the first, encode, divide the per-latent variance (ddof 1) by the global
variance and vote (k, argmin over active latents). The majority-vote classifier (each latent ->
its most frequent factor) is scored on ``num_train`` training votes and ``num_test`` fresh votes.

Defaults (disentanglement_lib ``factor_vae.py``, ``factor_vae_metric.gin``):
``num_variance_estimate=10000`` points for the global variances (ddof 1), latents with global
std < ``prune_threshold=0.05`` pruned, ``batch_size=64``, ``num_train=10000``,
``num_test=5000`` (the reference's ``num_eval``). The votes are drawn vectorised (all factor
indices, then all batches), which is the same sampling distribution as the reference loop.
``num_active_dims`` counts the active latents (the reference reports ``len`` of the boolean
mask, i.e. d).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..data.base import GroundTruthDataset
from .codes import CodeTable
from .registry import register_metric


def _votes(dataset, table: CodeTable, rng, batch_size, num_points, global_var, active) -> np.ndarray:
    k = dataset.num_factors
    varying = np.flatnonzero(np.asarray(dataset.factor_sizes) > 1)  # e.g. dSprites' single colour is no factor
    factor = varying[rng.integers(0, len(varying), size=num_points)]
    classes = dataset.sample_classes(num_points * batch_size, rng).reshape(num_points, batch_size, k)
    rows = np.arange(num_points)
    classes[rows, :, factor] = classes[rows, 0, factor][:, None]
    codes = table.codes_for_classes(classes.reshape(-1, k), rng).reshape(num_points, batch_size, -1)
    local = codes.var(1, ddof=1)[:, active] / global_var[active]
    argmin = local.argmin(1)
    votes = np.zeros((k, int(active.sum())), dtype=np.int64)
    np.add.at(votes, (factor, argmin), 1)
    return votes


@register_metric("factor_vae_score", needs=("sampling",), bounds={"num_active_dims": (0.0, math.inf)},
                 permutation_invariant=True, help="FactorVAE score (Kim & Mnih 2018)")
def factor_vae_score(dataset: GroundTruthDataset, encode: Any, rng: np.random.Generator, batch_size: int = 64,
                     num_train: int = 10000, num_test: int = 5000, num_variance_estimate: int = 10000,
                     prune_threshold: float = 0.05) -> dict[str, float]:
    """FactorVAE score of a model on a ground-truth dataset.

    ``encode``: a :class:`CodeTable`, a model with ``.encode`` or a callable on uint8 images.
    Returns ``{"train_accuracy", "eval_accuracy", "num_active_dims"}`` (0, 0, 0 when no latent
    is active).
    """
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (a variance needs two codes), got {batch_size}")
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset)
    sample = dataset.sample_classes(num_variance_estimate, rng)
    global_var = table.codes_for_classes(sample, rng).var(0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0.0}
    train = _votes(dataset, table, rng, batch_size, num_train, global_var, active)
    classifier = train.argmax(0)
    cols = np.arange(train.shape[1])
    evals = _votes(dataset, table, rng, batch_size, num_test, global_var, active)
    return {"train_accuracy": float(train[classifier, cols].sum() / train.sum()),
            "eval_accuracy": float(evals[classifier, cols].sum() / evals.sum()),
            "num_active_dims": float(active.sum())}
