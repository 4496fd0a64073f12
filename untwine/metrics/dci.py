"""Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018), with GBT importances.

For each factor k a gradient-boosted-tree classifier predicts v_k from the whole code; its
feature importances form column k of the importance matrix R (d x K). Then, with
P[i, k] = R[i, k] / sum_k R[i, k]:

    D_i = 1 - H_K(P[i, :]),    D = sum_i rho_i D_i,    rho_i = sum_k R[i, k] / sum R
    C_k = 1 - H_d(R[:, k] / sum_i R[i, k]),    C = sum_k rho_k C_k,   rho_k = sum_i R[i, k] / sum R

(entropies in base K and base d, 1e-11 added before normalising, as disentanglement_lib
``evaluation/metrics/dci.py``). Informativeness is reported as accuracy on the train and test
points (the reference's ``informativeness_train/test``, accuracy despite the name).

Backends:

* ``"sklearn"``: the reference -- ``sklearn.ensemble.GradientBoostingClassifier()`` with its
  defaults (100 stages, learning rate 0.1, depth 3, friedman_mse, log-loss) and impurity
  importances. Exact but slow (K fits of sum_k C_k trees each).
* ``"lightgbm"`` (default): sklearn's boosting algorithm (log-prior initial scores, one
  least-squares tree per class on the negative gradient, sklearn's Newton leaf values
  ``(K-1)/K * sum(y - p) / sum(p (1 - p))``, learning rate 0.1, 100 stages, depth 3) with the
  trees' splits found by LightGBM (hessian 1, so its gain is sklearn's squared-error reduction)
  and sklearn's leaf values written into LightGBM's trees. By default (``max_bin=None``)
  every distinct float32 value is its own bin, so the candidate splits are exactly sklearn's.
  An int ``max_bin`` searches that many quantile bins per latent instead: 255 is ~4x faster
  but was 0.021-0.036 off sklearn on the four suite-size fixtures of
  ``benchmarks/dci_agreement.py`` (and 0.05 on a small noisy one), so it is not the default.
  Importances are the total split gains, normalised. The factors' classifiers are fitted in
  parallel threads (``n_jobs``), the largest first. On the fixtures of
  ``benchmarks/dci_agreement.py`` (10 latents, dSprites' factor sizes, 10,000 / 5,000 points)
  the four scores agree with the sklearn backend within 0.007, on the disent test vectors
  within 0.003 (the tests hold them to 0.02); the fit is ~7x faster (26 s vs 190 s).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .utils import check_pair, varying_factors
from .registry import register_metric


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    """scipy.stats.entropy(p + 1e-11 already added, base) along ``axis`` (normalises p)."""
    p = p / p.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=axis)
    return h / np.log(base)


def disentanglement(importance: np.ndarray) -> float:
    """D of an importance matrix (d, K) (disentanglement_lib ``disentanglement``)."""
    k = importance.shape[1]
    per_code = 1.0 - _entropy(importance + 1e-11, k, axis=1) if k > 1 else np.ones(importance.shape[0])
    r = importance if importance.sum() != 0 else np.ones_like(importance)
    return float(np.sum(per_code * r.sum(1) / r.sum()))


def completeness(importance: np.ndarray) -> float:
    """C of an importance matrix (d, K) (disentanglement_lib ``completeness``)."""
    d = importance.shape[0]
    per_factor = 1.0 - _entropy(importance + 1e-11, d, axis=0) if d > 1 else np.ones(importance.shape[1])
    r = importance if importance.sum() != 0 else np.ones_like(importance)
    return float(np.sum(per_factor * r.sum(0) / r.sum()))


def _fit_sklearn(x, y, x_test, seed):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(random_state=seed)
    model.fit(x, y)
    return np.abs(model.feature_importances_), model.predict(x), model.predict(x_test)


def _fit_lightgbm(x, y, x_test, seed, max_bin=None, learning_rate=0.1, n_estimators=100):
    """sklearn's GradientBoostingClassifier algorithm, with LightGBM building the trees.

    Each stage: the negative gradient of the log-loss (y - p) is fitted by one depth-3
    least-squares regression tree per class (LightGBM with a custom objective whose hessian is
    1, so its split gain is sklearn's squared-error reduction); the leaf values are then
    replaced by sklearn's Newton step ``(K-1)/K * sum(y - p) / sum(p (1 - p))`` (binary:
    without the (K-1)/K factor), times the learning rate. Initial scores are the log class
    priors. Inputs are rounded to float32 as sklearn does; ``max_bin=None`` makes every distinct
    value its own bin, so the candidate splits are sklearn's. Importances: total split gain
    per feature, normalised (sklearn's impurity importances).
    """
    import lightgbm as lgb

    classes, yi = np.unique(y, return_inverse=True)
    yi = yi.ravel()
    nc, n = len(classes), len(yi)
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    x_test = np.asarray(x_test, dtype=np.float32).astype(np.float64)
    nt = 1 if nc == 2 else nc  # trees per stage
    prior = np.clip(np.bincount(yi, minlength=nc) / n, np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps)
    if nc == 2:
        init = np.array([np.log(prior[1] / prior[0])])
        onehot = (yi == 1).astype(np.float64)[:, None]
    else:
        init = np.log(prior)
        onehot = np.zeros((n, nc))
        onehot[np.arange(n), yi] = 1.0
    raw = np.tile(init, (n, 1))

    def proba(r):
        if nc == 2:
            return 1.0 / (1.0 + np.exp(-r))
        e = np.exp(r - r.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    state = {}

    def objective(_preds, _data):
        p = proba(raw)
        state["p"] = p
        g = p - onehot
        return (g[:, 0] if nt == 1 else g), np.ones_like(g[:, 0] if nt == 1 else g)

    bins = max_bin or max(255, n + 1)
    params = dict(objective="none", num_class=nt, learning_rate=learning_rate, num_leaves=8, max_depth=3,
                  min_data_in_leaf=1, min_sum_hessian_in_leaf=0.0, min_gain_to_split=0.0, lambda_l1=0.0,
                  lambda_l2=0.0, bagging_fraction=1.0, feature_fraction=1.0, max_bin=bins, min_data_in_bin=1,
                  seed=seed, deterministic=True, force_col_wise=True, num_threads=1, verbosity=-1,
                  boost_from_average=False)
    data = lgb.Dataset(x, label=yi.astype(np.float64),
                       params={"max_bin": bins, "min_data_in_bin": 1, "verbosity": -1, "num_threads": 1})
    # LightGBM refuses codes without a varying latent; sklearn then fits single-leaf trees
    booster = lgb.Booster(params=params, train_set=data) if np.ptp(x, axis=0).max(initial=0.0) > 0 else None
    factor = (nc - 1) / nc if nc > 2 else 1.0
    offset = np.zeros(nt)  # Newton steps of stages where LightGBM grew no tree at all (constant codes)
    for it in range(n_estimators):
        if booster is None:
            before, state["p"] = 0, proba(raw)
        else:
            before = booster.num_trees()
            booster.update(fobj=objective)
        p = state["p"]
        resid = onehot - p  # y - p, as sklearn's neg_gradient
        hess = p * (1 - p)
        grown = 0 if booster is None else booster.num_trees() - before
        if grown == 0:  # no split anywhere: sklearn still adds a single-leaf tree per class
            den = hess.sum(0)
            val = np.where(np.abs(den) < 1e-150, 0.0, resid.sum(0) * factor / np.where(den == 0, 1.0, den))
            offset += val * learning_rate
            raw += val * learning_rate
            continue
        # leaf of every training row in this stage's trees (LightGBM's leaf numbering), then
        # sklearn's Newton leaf values written back into the trees, so LightGBM predicts with them
        leaves = booster.predict(x, start_iteration=booster.current_iteration() - 1, num_iteration=1,
                                 pred_leaf=True).reshape(n, nt).astype(np.int64)
        for k in range(nt):
            leaf = leaves[:, k]
            nl = int(leaf.max()) + 1
            num = np.bincount(leaf, resid[:, k], nl) * factor
            den = np.bincount(leaf, hess[:, k], nl)
            val = np.where(np.abs(den) < 1e-150, 0.0, num / np.where(den == 0, 1.0, den)) * learning_rate
            tree_id = before + k
            for j in range(nl):
                booster.set_leaf_output(tree_id, j, float(val[j]))
            raw[:, k] += val[leaf]
    imp = (booster.feature_importance(importance_type="gain").astype(np.float64) if booster is not None
           else np.zeros(x.shape[1]))
    imp = imp / imp.sum() if imp.sum() > 0 else imp

    def predict(a):
        if booster is None or booster.num_trees() == 0:
            r = np.tile(init + offset, (len(a), 1))
        else:
            r = booster.predict(a, raw_score=True).reshape(len(a), nt) + init + offset
        return classes[(r[:, 0] > 0).astype(np.int64)] if nc == 2 else classes[r.argmax(1)]

    return imp, classes[(raw[:, 0] > 0).astype(np.int64)] if nc == 2 else classes[raw.argmax(1)], predict(x_test)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def dci_importance(codes, factors, codes_test, factors_test, backend: str = "lightgbm", seed: int = 0,
                   max_bin: int | None = None, n_jobs: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix (d, K) and per-factor train / test accuracies (K,), (K,).

    The K classifiers are fitted in ``n_jobs`` threads (default: the CPUs this process may use);
    each fit is single-threaded and seeded, so the result does not depend on ``n_jobs``.
    """
    if backend not in ("lightgbm", "sklearn"):
        raise ValueError(f"backend must be 'lightgbm' (fast) or 'sklearn' (reference), got {backend!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise ValueError(f"n_jobs must be None (all CPUs) or an int >= 1, got {n_jobs!r}")
    if not (max_bin is None or (isinstance(max_bin, int) and not isinstance(max_bin, bool) and max_bin >= 2)):
        raise ValueError(f"max_bin must be None (every distinct value its own bin: sklearn's splits) or an "
                         f"int >= 2, got {max_bin!r}")
    z, y = check_pair(codes, factors)
    z_te, y_te = check_pair(codes_test, factors_test, min_samples=1)
    if z_te.shape[1] != z.shape[1] or y_te.shape[1] != y.shape[1]:
        raise ValueError(f"train and test shapes differ: codes {z.shape} vs {z_te.shape}, factors {y.shape} vs {y_te.shape}")
    d, k = z.shape[1], y.shape[1]

    def fit(j: int):
        if backend == "sklearn":
            return _fit_sklearn(z, y[:, j], z_te, seed)
        return _fit_lightgbm(z, y[:, j], z_te, seed, max_bin)

    workers = max(1, min(k, n_jobs or _cpu_count()))
    if workers == 1:
        fits = [fit(j) for j in range(k)]
    else:  # LightGBM and sklearn's tree builders release the GIL; most classes (trees) first
        order = sorted(range(k), key=lambda j: -len(np.unique(y[:, j])))
        with ThreadPoolExecutor(workers) as pool:
            done = dict(zip(order, pool.map(fit, order)))
        fits = [done[j] for j in range(k)]
    r = np.zeros((d, k))
    acc_tr, acc_te = np.zeros(k), np.zeros(k)
    for j, (imp, p_tr, p_te) in enumerate(fits):
        r[:, j] = imp
        acc_tr[j] = np.mean(p_tr == y[:, j])
        acc_te[j] = np.mean(p_te == y_te[:, j])
    return r, acc_tr, acc_te


@register_metric("dci", needs=("codes", "factor_classes", "test_split"), num_train=10000, num_test=5000,
                 help="DCI (Eastwood & Williams 2018)")
def dci(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
        backend: str = "lightgbm", seed: int = 0, max_bin: int | None = None,
        n_jobs: int | None = None) -> dict[str, float]:
    """DCI scores of codes (N, d) for factor classes (N, K), informativeness on the test points.

    Defaults (disentanglement_lib ``dci.py`` / ``dci.gin``): 10,000 train / 5,000 test points in
    the suite; GBT classifiers of sklearn's default size (see the module docstring);
    ``backend="lightgbm"`` (fast, agrees within 0.02) or ``"sklearn"`` (the reference);
    ``max_bin=None`` (LightGBM backend: every distinct value a split candidate, as sklearn; an
    int: that many quantile bins, faster, approximate); ``n_jobs`` threads over factors (default: all CPUs);
    ``seed`` seeds the classifiers. Factors constant in the training sample are skipped with a
    warning (a classifier needs two classes).

    Returns ``{"disentanglement", "completeness", "informativeness_train", "informativeness_test"}``.
    """
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "dci")
    r, acc_tr, acc_te = dci_importance(z, y[:, keep], codes_test, np.asarray(factors_test)[:, keep],
                                       backend, seed, max_bin, n_jobs)
    return {"disentanglement": disentanglement(r), "completeness": completeness(r),
            "informativeness_train": float(acc_tr.mean()), "informativeness_test": float(acc_te.mean())}
