"""beta-VAE (Z-diff) score (Higgins et al. 2017, Sec. 3), sampling-based.

Each point: pick a factor k uniformly, draw ``batch_size`` pairs of factor vectors uniformly with
factor k shared within each pair, encode both, and take the mean over pairs of |z1 - z2| (d
features) labelled k. A low-capacity linear classifier predicts k from the features; the score is
its accuracy on ``num_test`` fresh points.

Defaults (disentanglement_lib ``beta_vae.py``, ``beta_vae_sklearn.gin``): ``batch_size=64``,
``num_train=10000``, ``num_test=5000`` (the reference's ``num_eval``), ``classifier="logistic"``:
``sklearn.linear_model.LogisticRegression`` with sklearn's defaults (scores shift with the
sklearn version: record :func:`untwine.metrics.metric_environment`). ``classifier="linear_svm"``
is seed 002's variant: a one-vs-rest linear SVM with C=0.01 and the hinge loss, as the paper says
(``sklearn.svm.LinearSVC(loss="hinge", random_state=0)``; ``svm_loss="squared_hinge"`` is
LinearSVC's default loss, used here before, and gives the former numbers).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..data.base import GroundTruthDataset
from .codes import CodeTable
from .registry import register_metric


def _points(dataset, table: CodeTable, rng, batch_size: int, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    k = dataset.num_factors
    varying = np.flatnonzero(np.asarray(dataset.factor_sizes) > 1)  # e.g. dSprites' single colour is no factor
    labels = varying[rng.integers(0, len(varying), size=num_points)]
    c1 = dataset.sample_classes(num_points * batch_size, rng).reshape(num_points, batch_size, k)
    c2 = dataset.sample_classes(num_points * batch_size, rng).reshape(num_points, batch_size, k)
    rows = np.arange(num_points)
    c2[rows, :, labels] = c1[rows, :, labels]
    z1 = table.codes_for_classes(c1.reshape(-1, k), rng).reshape(num_points, batch_size, -1)
    z2 = table.codes_for_classes(c2.reshape(-1, k), rng).reshape(num_points, batch_size, -1)
    return np.abs(z1 - z2).mean(1), labels


@register_metric("beta_vae_score", needs=("sampling",), help="Z-diff score (Higgins et al. 2017)")
def beta_vae_score(dataset: GroundTruthDataset, encode: Any, rng: np.random.Generator, batch_size: int = 64,
                   num_train: int = 10000, num_test: int = 5000, classifier: str = "logistic",
                   C: float = 0.01, svm_loss: str = "hinge") -> dict[str, float]:
    """beta-VAE score of a model on a ground-truth dataset.

    ``encode``: a :class:`CodeTable`, a model with ``.encode`` or a callable on uint8 images.
    ``C`` and ``svm_loss`` (``"hinge"``, seed 002, or ``"squared_hinge"``) are used by
    ``classifier="linear_svm"`` only. Returns ``{"train_accuracy", "eval_accuracy"}`` (the
    accuracy on the ``num_test`` evaluation points).
    """
    if classifier not in ("logistic", "linear_svm"):
        raise ValueError(f"classifier must be 'logistic' (disentanglement_lib) or 'linear_svm' (seed 002), "
                         f"got {classifier!r}")
    if svm_loss not in ("hinge", "squared_hinge"):
        raise ValueError(f"svm_loss must be 'hinge' (seed 002) or 'squared_hinge', got {svm_loss!r}")
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset)
    x_tr, y_tr = _points(dataset, table, rng, batch_size, num_train)
    if classifier == "logistic":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(random_state=int(rng.integers(2**31 - 1)))
    else:
        from sklearn.svm import LinearSVC

        # the hinge loss is solved in the dual by randomised coordinate descent: a fixed seed (drawing
        # it from rng would move the evaluation points; squared_hinge then gives the former numbers)
        model = LinearSVC(C=C, loss=svm_loss, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings, as in the reference
        model.fit(x_tr, y_tr)
    x_ev, y_ev = _points(dataset, table, rng, batch_size, num_test)
    return {"train_accuracy": float(np.mean(model.predict(x_tr) == y_tr)),
            "eval_accuracy": float(np.mean(model.predict(x_ev) == y_ev))}
