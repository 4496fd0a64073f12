"""Separated Attribute Predictability (Kumar et al. 2018, seed 002, Section 3).

    S[i, j] = score of predicting factor j from latent i alone;
    SAP = 1/K sum_j ( top1_i S[i, j] - top2_i S[i, j] )

Defaults follow disentanglement_lib (``evaluation/metrics/sap_score.py``,
``unsupervised_study_v1/metric_configs/sap_score.gin``): discrete factors, each score the plain
test accuracy of ``sklearn.svm.LinearSVC(C=0.01, class_weight="balanced")`` fitted on the single
latent (10,000 train / 5,000 test points in the suite). ``continuous_factors=True`` uses the
squared correlation (R^2 of a fitted line) instead, 0 for latents with variance <= 1e-12.

``classifier="threshold"`` is the paper's variant: up to C-1 thresholds on the latent (C the
number of classes), each of the C intervals labelled with one class, chosen to maximise the
balanced accuracy on the training points (exactly, by dynamic programming over the cut points
where the class changes along the latent; over ``threshold_candidates`` quantiles when those are
more), and scored by balanced accuracy on the test points. Inactive latents score 0, as the paper says
("sigma close to 0"; decisions.md): a latent is inactive when the standard deviation (ddof 1) of
its code over the training points is below ``inactive_std=0.05`` (the FactorVAE score's pruning
threshold). A collapsed VAE latent (variance 1e-6 to 1e-3) would otherwise get thresholds
fitted to noise and lower SAP.
"""

from __future__ import annotations

import warnings

import numpy as np

from .utils import check_pair, varying_factors
from .registry import register_metric


def _svm_accuracy(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, C: float) -> float:
    """Reference: sklearn LinearSVC on one latent (slow; ``svm_backend="sklearn"``)."""
    from sklearn.svm import LinearSVC

    clf = LinearSVC(C=C, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence warnings, as in the reference
        clf.fit(x[:, None], y)
    return float(np.mean(clf.predict(x_test[:, None]) == y_test))


def _svc_1d(x: np.ndarray, yi: np.ndarray, nc: int, C: float, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) of LinearSVC(C, class_weight="balanced") on one feature x (N,), classes yi in 0..nc-1.

    liblinear's primal L2-regularised squared-hinge problem (intercept = extra feature of value 1,
    regularised): ``min 0.5 (w^2 + b^2) + sum_n c_n max(0, 1 - t_n (w x_n + b))^2``. One-vs-rest
    for nc > 2 with positives weighted ``C * n / (nc * n_c)`` and negatives ``C``; for nc == 2 one
    problem, positive = class 1, each side with its balanced weight. On one feature the active
    set of each problem is a prefix or suffix of the sorted points, so every objective, gradient
    and Hessian comes from cumulative moments in O(log N): Newton's method with backtracking
    solves all nc problems at once, to a much tighter tolerance than liblinear.
    """
    n = len(x)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], yi[order]
    pw = np.stack([np.ones(n), xs, xs * xs], 1)  # (N, 3) powers in rank order
    tot = np.vstack([np.zeros(3), np.cumsum(pw, 0)])  # (N+1, 3)
    # per-class cumulative moments: points sorted by (class, rank); key = class * (N+1) + rank
    key = ys * (n + 1) + np.arange(n)
    by_class = np.argsort(key, kind="stable")
    keys = key[by_class]
    ccum = np.vstack([np.zeros(3), np.cumsum(pw[by_class], 0)])
    cw = n / (nc * np.bincount(yi, minlength=nc))
    if nc == 2:
        pos_c, alpha, gamma = np.array([1]), np.array([C * cw[1]]), np.array([C * cw[0]])
    else:
        pos_c, alpha, gamma = np.arange(nc), C * cw, np.full(nc, C)
    p = len(pos_c)
    base = pos_c * (n + 1)

    def class_moments(lo, hi):
        return ccum[np.searchsorted(keys, base + hi)] - ccum[np.searchsorted(keys, base + lo)]

    def active(w, b):
        """Moments of active positives (w x + b < 1) and negatives (w x + b > -1), weighted."""
        with np.errstate(divide="ignore", invalid="ignore"):
            tp, tn = (1 - b) / w, (-1 - b) / w
        tp = np.where(w != 0, tp, 0.0)
        tn = np.where(w != 0, tn, 0.0)
        kp_l, kp_r = np.searchsorted(xs, tp, "left"), np.searchsorted(xs, tp, "right")
        kn_l, kn_r = np.searchsorted(xs, tn, "left"), np.searchsorted(xs, tn, "right")
        zero = np.zeros(p, dtype=np.int64)
        full = np.full(p, n)
        plo = np.where(w < 0, kp_r, zero)
        phi = np.where(w > 0, kp_l, np.where(w < 0, full, np.where(b < 1, full, zero)))
        nlo = np.where(w > 0, kn_r, zero)
        nhi = np.where(w > 0, full, np.where(w < 0, kn_l, np.where(b > -1, full, zero)))
        mp = class_moments(plo, phi)
        mn = tot[nhi] - tot[nlo] - class_moments(nlo, nhi)
        return mp * alpha[:, None], mn * gamma[:, None]

    def objective(w, b):
        mp, mn = active(w, b)
        pos = mp[:, 0] * (1 - b) ** 2 - 2 * w * (1 - b) * mp[:, 1] + w * w * mp[:, 2]
        neg = mn[:, 0] * (1 + b) ** 2 + 2 * w * (1 + b) * mn[:, 1] + w * w * mn[:, 2]
        return 0.5 * (w * w + b * b) + pos + neg

    w, b = np.zeros(p), np.zeros(p)
    f = objective(w, b)
    for _ in range(max_iter):
        mp, mn = active(w, b)
        gw = w - 2 * ((1 - b) * mp[:, 1] - w * mp[:, 2]) + 2 * ((1 + b) * mn[:, 1] + w * mn[:, 2])
        gb = b - 2 * ((1 - b) * mp[:, 0] - w * mp[:, 1]) + 2 * ((1 + b) * mn[:, 0] + w * mn[:, 1])
        if np.sqrt(gw ** 2 + gb ** 2).max() <= 1e-11 * max(1.0, np.abs(f).max()):
            break
        m = mp + mn
        hww, hwb, hbb = 1 + 2 * m[:, 2], 2 * m[:, 1], 1 + 2 * m[:, 0]
        det = hww * hbb - hwb ** 2
        dw = -(hbb * gw - hwb * gb) / det
        db = -(hww * gb - hwb * gw) / det
        decrease = gw * dw + gb * db
        step = np.ones(p)
        for _ls in range(40):  # Armijo backtracking per problem
            f_new = objective(w + step * dw, b + step * db)
            bad = f_new > f + 1e-4 * step * decrease
            if not bad.any():
                break
            step = np.where(bad, step * 0.5, step)
        w, b, f = w + step * dw, b + step * db, f_new
    return w, b


def _svm_accuracies(z: np.ndarray, y: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, C: float) -> np.ndarray:
    """Test accuracy of LinearSVC(C, class_weight="balanced") fitted on each single latent: (d,)."""
    classes, yi = np.unique(y, return_inverse=True)
    nc = len(classes)
    acc = np.empty(z.shape[1])
    for i in range(z.shape[1]):
        w, b = _svc_1d(z[:, i], yi.ravel(), nc, C)
        score = z_test[:, i, None] * w[None, :] + b[None, :]
        pred = classes[(score[:, 0] > 0).astype(np.int64)] if nc == 2 else classes[score.argmax(1)]
        acc[i] = np.mean(pred == y_test)
    return acc


def _threshold_balanced_accuracy(x, y, x_test, y_test, num_candidates: int) -> float:
    classes, y_idx = np.unique(y, return_inverse=True)
    y_idx = y_idx.ravel()
    c = len(classes)
    # candidate cut points: midpoints where the class changes along the sorted latent (the optimum
    # uses only those) when there are at most num_candidates of them, else quantiles
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y_idx.ravel()[order]
    change = (ys[1:] != ys[:-1]) & (xs[1:] > xs[:-1])
    cuts = np.unique((xs[1:][change] + xs[:-1][change]) / 2)
    if len(cuts) > num_candidates:
        cuts = np.unique(np.quantile(x, np.linspace(0, 1, num_candidates + 1)[1:-1]))
    bins = np.searchsorted(cuts, x, side="right")
    nb = len(cuts) + 1
    w = 1.0 / (c * np.bincount(y_idx, minlength=c))  # balanced weights: sum_n w[y_n] [correct] = bal. acc
    hist = np.zeros((nb, c))
    np.add.at(hist, (bins, y_idx), w[y_idx])
    cum = np.vstack([np.zeros(c), np.cumsum(hist, 0)])  # (nb+1, c)
    seg = cum[None, :, :] - cum[:, None, :]  # seg[s, e] = mass of bins s..e-1 per class
    seg_best, seg_cls = seg.max(-1), seg.argmax(-1)
    valid = np.triu(np.ones((nb + 1, nb + 1), dtype=bool), 1)
    seg_best = np.where(valid, seg_best, -np.inf)
    # f[t, e]: best mass of bins 0..e-1 split into exactly t segments; back[t, e] = start of last
    f = np.full((c + 1, nb + 1), -np.inf)
    back = np.zeros((c + 1, nb + 1), dtype=np.int64)
    f[0, 0] = 0.0
    for t in range(1, c + 1):
        cand = f[t - 1][:, None] + seg_best  # (s, e)
        back[t] = cand.argmax(0)
        f[t] = cand.max(0)
    t = int(np.argmax(f[:, nb]))
    labels = np.empty(nb, dtype=np.int64)
    e = nb
    while t > 0:
        s = back[t, e]
        labels[s:e] = seg_cls[s, e]
        e, t = s, t - 1
    pred = classes[labels[np.searchsorted(cuts, x_test, side="right")]]
    test_classes = np.unique(y_test)
    recalls = [np.mean(pred[y_test == k] == k) for k in test_classes]
    return float(np.mean(recalls))


def sap_matrix(codes, factors, codes_test=None, factors_test=None, classifier: str = "svm",
               continuous_factors: bool = False, C: float = 0.01,
               threshold_candidates: int = 256, svm_backend: str = "numpy",
               inactive_std: float = 0.05) -> np.ndarray:
    """The (d, K) score matrix of single-latent predictors (see the module docstring)."""
    if classifier not in ("svm", "threshold"):
        raise ValueError(f"classifier must be 'svm' (disentanglement_lib) or 'threshold' (paper), got {classifier!r}")
    if svm_backend not in ("numpy", "sklearn"):
        raise ValueError(f"svm_backend must be 'numpy' or 'sklearn', got {svm_backend!r}")
    if not inactive_std >= 0:
        raise ValueError(f"inactive_std must be >= 0 (0 keeps every latent with variance > 1e-12), got {inactive_std}")
    z, y = check_pair(codes, factors)
    if codes_test is None:
        if not continuous_factors:
            raise ValueError("discrete SAP needs test points: pass codes_test and factors_test")
        z_te, y_te = z, y
    else:
        z_te, y_te = check_pair(codes_test, factors_test, min_samples=1)
        if z_te.shape[1] != z.shape[1] or y_te.shape[1] != y.shape[1]:
            raise ValueError(f"train and test shapes differ: codes {z.shape} vs {z_te.shape}, "
                             f"factors {y.shape} vs {y_te.shape}")
    d, k = z.shape[1], y.shape[1]
    s = np.zeros((d, k))
    var = z.var(0, ddof=1)
    active = (var > 1e-12) & (np.sqrt(var) >= inactive_std)  # threshold variant: inactive latents score 0
    if continuous_factors:
        zc, yc = z - z.mean(0), (y - y.mean(0)).astype(np.float64)
        cov = zc.T @ yc / (len(z) - 1)
        vy = y.var(0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(var[:, None] > 1e-12, cov ** 2 / (var[:, None] * vy[None, :]), 0.0)
        return np.nan_to_num(s)
    for j in range(k):
        if classifier == "svm" and svm_backend == "numpy":
            s[:, j] = _svm_accuracies(z, y[:, j], z_te, y_te[:, j], C)
            continue
        for i in range(d):
            if classifier == "svm":
                s[i, j] = _svm_accuracy(z[:, i], y[:, j], z_te[:, i], y_te[:, j], C)
            elif active[i]:
                s[i, j] = _threshold_balanced_accuracy(z[:, i], y[:, j], z_te[:, i], y_te[:, j],
                                                       threshold_candidates)
    return s


@register_metric("sap", needs=("codes", "factor_classes", "test_split"), num_train=10000, num_test=5000,
                 permutation_invariant=True, help="SAP score (Kumar et al. 2018)")
def sap(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray | None = None,
        factors_test: np.ndarray | None = None, classifier: str = "svm", continuous_factors: bool = False,
        C: float = 0.01, threshold_candidates: int = 256, svm_backend: str = "numpy",
        inactive_std: float = 0.05) -> dict[str, float]:
    """SAP score of codes (N, d) for factor classes (N, K), scored on the test points.

    Defaults (disentanglement_lib): ``classifier="svm"`` (LinearSVC, ``C=0.01``, balanced class
    weights, plain test accuracy), ``continuous_factors=False``; 10,000 train / 5,000 test points
    in the suite. ``classifier="threshold"`` is the paper's balanced-accuracy threshold classifier
    (cut points where the class changes along the latent, or ``threshold_candidates=256``
    quantiles when there are more), where latents whose code has a standard deviation below
    ``inactive_std=0.05`` score 0 (the paper's inactive latents). ``svm_backend="numpy"``
    (default) solves the LinearSVC problems of all latents at once (same optimum as liblinear, to
    its tolerance; tested against sklearn); ``"sklearn"`` calls ``LinearSVC`` d * K times as the
    reference. Factors constant in the training sample are skipped with a warning. With a single
    latent the second-best score is taken as 0.

    Returns ``{"sap": float}``.
    """
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "sap")
    s = sap_matrix(z, y[:, keep], codes_test, None if factors_test is None else np.asarray(factors_test)[:, keep],
                   classifier, continuous_factors, C, threshold_candidates, svm_backend, inactive_std)
    srt = np.sort(s, axis=0)
    second = srt[-2] if srt.shape[0] > 1 else np.zeros(srt.shape[1])
    return {"sap": float(np.mean(srt[-1] - second))}


__all__ = ["sap", "sap_matrix"]
