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
* ``"random_forest"``: seed 004's (appendix D, following Lin et al. 2020, InfoGAN-CR's
  ``DCIMetric``): one ``sklearn.ensemble.RandomForestRegressor`` per factor on the whole code, with
  sklearn's defaults except ``max_depth`` (and ``n_estimators``, below); importances are the
  forest's impurity-based ``feature_importances_``. Choices (decisions for seed 004):

  - *target*: the factor's class index, standardised with the mean and standard deviation of the
    training points. Lin et al. regress the standardised factor *value*; for dSprites and 3D
    Shapes every factor's values are evenly spaced (``linspace``; shape's 1, 2, 3), an affine map of
    the class index, so the standardised targets are identical (and a forest's splits and
    normalised importances do not change under an affine map of the target anyway).
  - *informativeness*: ``1 - NRMSE`` of the forest's predictions, NRMSE = the root-mean-square
    error on the standardised target (RMSE / the training standard deviation of the factor), as
    Eastwood & Williams' prediction error; clipped at 0 (a forest worse than predicting the mean
    scores 0), so it stays in [0, 1] and "higher is better" like the classifiers' accuracy.
    ``informativeness_train`` / ``_test`` are on the training / test points.
  - *max_depth*: an int (every factor), ``None`` (unbounded: sklearn's default), a list (one per
    factor column, ``None`` or ``"cv"`` allowed as entries), a dict factor name -> depth
    (factors left out: ``None``), ``"seed004"`` = seed 004's / IB-GAN's dSprites depths
    ``{shape: 4, scale: 2, orientation (rotation): 4, posX: 2, posY: 2}``, or ``"cv"``: per factor
    the depth of :data:`CV_DEPTHS` (2, 4, 6, 8, unbounded) with the lowest 3-fold cross-validated
    mean squared error (shuffled folds, seeded; ties up to rounding: the shallowest), as the
    paper does for 3D Shapes, then refit on all training points. The search fits forests of ``min(n_estimators,
    10)`` trees (10 was sklearn's default before 0.22, what Lin et al.'s ``GridSearchCV`` over
    ``RandomForestRegressor()`` ran with); a full-size search is ~10x slower.
  - *n_estimators*: 100 (sklearn's default since 0.22; "default values for all parameters"
    meant 10 before) -- an option, since the paper does not say which version.
  - D and C are this module's (disentanglement_lib's) formulas; Lin et al.'s code averages the
    per-factor completeness without weights.

  Names (dict, ``"seed004"``) come from ``factor_names``: in the suite the dataset's names of its
  varying factors; a direct call without them can use a list, an int or ``"seed004"`` with exactly
  the five dSprites factors in dSprites' order (shape, scale, orientation, posX, posY).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np

from .utils import check_pair, varying_factors
from .registry import OptionSource, register_metric

BACKENDS = ("lightgbm", "sklearn", "random_forest")
# seed 004, appendix D (after the IB-GAN paper): random-forest depths for dSprites' five factors
SEED004_DEPTHS = {"shape": 4, "scale": 2, "orientation": 4, "posX": 2, "posY": 2}
_DEPTH_ALIASES = {"rotation": "orientation", "x_position": "posX", "y_position": "posY", "pos_x": "posX",
                  "pos_y": "posY", "posx": "posX", "posy": "posY"}
CV_DEPTHS = (2, 4, 6, 8, None)  # max_depth="cv": the grid searched per factor (None: unbounded)
CV_FOLDS = 3
CV_ESTIMATORS = 10  # trees per forest during the search (at most n_estimators)
DEFAULT_ESTIMATORS = 100


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


def _check_depth(v: Any, where: str) -> int | str | None:
    if v is None or v == "cv":
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{where} must be an int >= 1, None (unbounded, sklearn's default) or 'cv' "
                         f"(cross-validated), got {v!r}")
    return int(v)


def forest_depths(max_depth: Any, num_factors: int, factor_names: Sequence[str] | None = None
                  ) -> list[int | str | None]:
    """The random forest's ``max_depth`` of each of ``num_factors`` factors (int, None or ``"cv"``).

    ``max_depth``: None / an int >= 1 / ``"cv"`` (every factor); a list or tuple (one per factor);
    a dict factor name -> depth (needs ``factor_names``; factors left out get None); or
    ``"seed004"``: :data:`SEED004_DEPTHS` by name (``rotation``, ``x_position``, ... accepted), or,
    without ``factor_names``, in dSprites' order for exactly five factors. Raises ValueError with
    the fix for anything else.
    """
    names = None if factor_names is None else [str(n) for n in factor_names]
    if names is not None and len(names) != num_factors:
        raise ValueError(f"factor_names has {len(names)} names for {num_factors} factors: give one name per factor "
                         "column")
    if isinstance(max_depth, str):
        if max_depth == "cv":
            return ["cv"] * num_factors
        if max_depth != "seed004":
            raise ValueError(f"max_depth {max_depth!r} is no preset: use 'seed004' (dSprites' depths of seed 004), "
                             "'cv' (cross-validated per factor), an int, None, a list or a dict")
        preset = {k.lower(): v for k, v in SEED004_DEPTHS.items()}
        preset.update({a: SEED004_DEPTHS[t] for a, t in _DEPTH_ALIASES.items()})
        if names is None:
            if num_factors != len(SEED004_DEPTHS):
                raise ValueError(f"max_depth='seed004' is dSprites' preset for its {len(SEED004_DEPTHS)} varying "
                                 f"factors ({', '.join(SEED004_DEPTHS)}), got {num_factors} factors: pass "
                                 "factor_names, or a list / dict of depths")
            return list(SEED004_DEPTHS.values())
        unknown = [n for n in names if n.lower() not in preset]
        if unknown:
            preset_text = ", ".join(f"{k}={v}" for k, v in SEED004_DEPTHS.items())
            raise ValueError(f"max_depth='seed004' is dSprites' preset ({preset_text}); factor(s) "
                             f"{', '.join(map(repr, unknown))} are not among them: pass a list or a dict of depths")
        return [preset[n.lower()] for n in names]
    if isinstance(max_depth, Mapping):
        if names is None:
            raise ValueError("a dict max_depth needs factor_names (the suite takes them from the dataset): pass "
                             "factor_names, or a list with one depth per factor")
        unknown = [k for k in max_depth if k not in names]
        if unknown:
            raise ValueError(f"max_depth names unknown factor(s) {', '.join(map(repr, unknown))}; the factors are "
                             f"{', '.join(names)}")
        return [_check_depth(max_depth.get(n), f"max_depth[{n!r}]") for n in names]
    if isinstance(max_depth, (list, tuple)):
        if len(max_depth) != num_factors:
            raise ValueError(f"max_depth has {len(max_depth)} depths for {num_factors} factors: give one per factor "
                             "column (None: unbounded), or a dict factor name -> depth")
        return [_check_depth(v, f"max_depth[{i}]") for i, v in enumerate(max_depth)]
    return [_check_depth(max_depth, "max_depth")] * num_factors


def _forest(depth, n_estimators, seed):
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=n_estimators, max_depth=depth, random_state=seed, n_jobs=1)


def _cv_depth(x: np.ndarray, t: np.ndarray, n_estimators: int, seed: int) -> int | None:
    """The depth of :data:`CV_DEPTHS` with the lowest 3-fold cross-validated MSE (ties, to rounding:
    the shallowest)."""
    from sklearn.model_selection import KFold, cross_val_score

    folds = KFold(CV_FOLDS, shuffle=True, random_state=seed)
    trees = min(n_estimators, CV_ESTIMATORS)
    scores = np.array([cross_val_score(_forest(d, trees, seed), x, t, cv=folds,
                                       scoring="neg_mean_squared_error").mean() for d in CV_DEPTHS])
    # the shallowest of the best, up to rounding (deeper trees that only split pure leaves score the same)
    best = np.isclose(scores, scores.max(), rtol=1e-9, atol=1e-12)
    return CV_DEPTHS[int(np.argmax(best))]


def _fit_forest(x, y, x_test, y_test, depth, n_estimators, seed):
    """Importances (d,), 1 - NRMSE on the train and test points, and the depth used."""
    t = np.asarray(y, dtype=np.float64)
    mean, std = t.mean(), t.std()
    ts, ts_test = (t - mean) / std, (np.asarray(y_test, dtype=np.float64) - mean) / std
    if depth == "cv":
        depth = _cv_depth(x, ts, n_estimators, seed)
    model = _forest(depth, n_estimators, seed)
    model.fit(x, ts)

    def informativeness(a, target):
        return max(0.0, 1.0 - float(np.sqrt(np.mean((model.predict(a) - target) ** 2))))

    return (np.asarray(model.feature_importances_, dtype=np.float64), informativeness(x, ts),
            informativeness(x_test, ts_test), depth)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def dci_importance(codes, factors, codes_test, factors_test, backend: str = "lightgbm", seed: int = 0,
                   max_bin: int | None = None, n_jobs: int | None = None, max_depth: Any = None,
                   n_estimators: int = DEFAULT_ESTIMATORS, factor_names: Sequence[str] | None = None,
                   depths_used: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix (d, K) and per-factor train / test informativeness (K,), (K,).

    Informativeness is the classifier's accuracy, or for ``backend="random_forest"`` 1 - NRMSE
    (see the module docstring), whose ``max_depth`` (:func:`forest_depths`; names from
    ``factor_names``) and ``n_estimators`` apply to it only. ``depths_used``, if given, is
    filled with the depth each factor's forest was fitted with (the cross-validated choice for
    ``"cv"``). The K models are fitted in ``n_jobs`` threads (default: the CPUs this process may
    use); each fit is single-threaded and seeded, so the result does not depend on ``n_jobs``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'lightgbm' (fast), 'sklearn' (reference) or 'random_forest' (seed 004: "
                         f"random-forest regressors), got {backend!r}")
    if backend != "random_forest" and (max_depth is not None or n_estimators != DEFAULT_ESTIMATORS):
        raise ValueError(f"max_depth and n_estimators set the random forests of backend='random_forest', not "
                         f"backend={backend!r}: add backend='random_forest' or leave them out")
    if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)) or n_estimators < 1:
        raise ValueError(f"n_estimators must be an int >= 1 (sklearn's default: 100), got {n_estimators!r}")
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
    depths = forest_depths(max_depth, k, factor_names) if backend == "random_forest" else [None] * k

    def fit(j: int):
        if backend == "random_forest":
            return _fit_forest(z, y[:, j], z_te, y_te[:, j], depths[j], int(n_estimators), seed)
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
    if depths_used is not None:
        depths_used.clear()
    for j, out in enumerate(fits):
        if backend == "random_forest":
            r[:, j], acc_tr[j], acc_te[j], used = out
            if depths_used is not None:
                depths_used.append(used)
            continue
        imp, p_tr, p_te = out
        r[:, j] = imp
        acc_tr[j] = np.mean(p_tr == y[:, j])
        acc_te[j] = np.mean(p_te == y_te[:, j])
    return r, acc_tr, acc_te


def _dataset_factor_names(model, dataset) -> list[str] | None:
    """The names of the dataset's varying factors (those the suite passes; None without names)."""
    names, sizes = tuple(getattr(dataset, "factor_names", ()) or ()), tuple(getattr(dataset, "factor_sizes", ()) or ())
    if not names or len(names) != len(sizes):
        return None
    return [str(n) for n, size in zip(names, sizes) if size > 1]


DCI_SOURCES = {"factor_names": OptionSource(("dataset",), _dataset_factor_names,
                                            "a dataset with factor_names (for a dict or 'seed004' max_depth)")}


@register_metric("dci", needs=("codes", "factor_classes", "test_split"), num_train=10000, num_test=5000,
                 option_sources=DCI_SOURCES, help="DCI (Eastwood & Williams 2018)")
def dci(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray, factors_test: np.ndarray,
        backend: str = "lightgbm", seed: int = 0, max_bin: int | None = None,
        n_jobs: int | None = None, max_depth: Any = None, n_estimators: int = DEFAULT_ESTIMATORS,
        factor_names: Sequence[str] | None = None) -> dict[str, float]:
    """DCI scores of codes (N, d) for factor classes (N, K), informativeness on the test points.

    Defaults (disentanglement_lib ``dci.py`` / ``dci.gin``): 10,000 train / 5,000 test points in
    the suite; GBT classifiers of sklearn's default size (see the module docstring);
    ``backend="lightgbm"`` (fast, agrees within 0.02) or ``"sklearn"`` (the reference);
    ``max_bin=None`` (LightGBM backend: every distinct value a split candidate, as sklearn; an
    int: that many quantile bins, faster, approximate); ``n_jobs`` threads over factors (default: all CPUs);
    ``seed`` seeds the classifiers. Factors constant in the training sample are skipped with a
    warning (a classifier needs two classes).

    ``backend="random_forest"`` is seed 004's (module docstring): a ``RandomForestRegressor`` per
    factor, informativeness 1 - NRMSE, with ``max_depth`` (None: unbounded; an int; a list, one per
    factor column; a dict factor name -> depth; ``"seed004"``: dSprites' {shape 4, scale 2,
    orientation 4, posX 2, posY 2}; ``"cv"``: chosen per factor by 3-fold cross-validation over
    2, 4, 6, 8, unbounded) and ``n_estimators=100``; these two apply to this backend only.
    ``factor_names`` (in the suite: the dataset's names of its varying factors) name the factor
    columns for a dict or ``"seed004"`` max_depth; the other backends ignore them.

    Returns ``{"disentanglement", "completeness", "informativeness_train", "informativeness_test"}``.
    """
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "dci")
    names = None
    if backend == "random_forest":  # depths per factor column given, then the constant factors dropped
        names = None if factor_names is None else [str(n) for n in factor_names]
        depths = forest_depths(max_depth, y.shape[1], names)
        max_depth = [dep for dep, kept in zip(depths, keep) if kept]
        names = None if names is None else [n for n, kept in zip(names, keep) if kept]
    r, acc_tr, acc_te = dci_importance(z, y[:, keep], codes_test, np.asarray(factors_test)[:, keep],
                                       backend, seed, max_bin, n_jobs, max_depth, n_estimators, names)
    return {"disentanglement": disentanglement(r), "completeness": completeness(r),
            "informativeness_train": float(acc_tr.mean()), "informativeness_test": float(acc_te.mean())}
