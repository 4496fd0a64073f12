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

``classifier="logistic"`` is seed 004's variant (appendix D: "we use a logistic regression model as
the classifier of discrete factors"): sklearn's ``LogisticRegression()`` with its defaults (L2
penalty, ``C=1.0``, unpenalised intercept, multinomial for more than two classes, binary for two,
no class weights) fitted on the single latent, scored by plain test accuracy like the svm path.
The latent is first standardised with the mean and standard deviation (ddof 0) of its training
points (a constant latent is only centred and then predicts the majority class), so the L2 penalty
means the same for every latent and the score does not depend on a latent's scale. The SVM's
``C=0.01`` does not apply (the paper gives no value, so sklearn's default is kept;
:func:`sap_matrix` takes ``logistic_C``). Inactive latents are not zeroed (as the svm path).
``svm_backend="numpy"`` (default) solves the d problems of a factor at once by Newton's method on
sklearn's objective (to a tighter tolerance than lbfgs; on 10 latents x dSprites' factor sizes the
coefficients agree with sklearn's newton-cg at ``tol=1e-10`` to 1e-4 and the accuracies to 2e-4);
``"sklearn"`` fits ``LogisticRegression(C=1.0)`` d * K times with sklearn's default lbfgs
(``tol=1e-4``, ``max_iter=100``; accuracies within ~0.002 of the exact optimum's).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .utils import check_pair, varying_factors
from .dci import _dataset_factor_names
from .registry import OptionSource, register_metric

CLASSIFIERS = ("svm", "threshold", "logistic")  # the values of sap's ``classifier`` option


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


def _standardise(z: np.ndarray, z_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes standardised with the training mean and standard deviation (ddof 0) of each latent;
    a constant latent (std <= 1e-12) is only centred."""
    mean, std = z.mean(0), z.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return (z - mean) / std, (z_test - mean) / std


def _logistic_1d(x: np.ndarray, yi: np.ndarray, nc: int, C: float, max_iter: int = 100,
                 tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """(W, B), each (a, nc): sklearn ``LogisticRegression(C)``'s optimum on each row of x (a, N).

    The objective of sklearn's L2 logistic regression with an unpenalised intercept, on the one
    feature x (classes ``yi`` in 0..nc-1): ``sum_n -log softmax(x_n W + B)[y_n] + |W|^2 / (2 C)``,
    multinomial for nc > 2; for nc == 2 sklearn's binary model, i.e. class 0's logit fixed at 0
    (W[:, 0] = B[:, 0] = 0). B[:, 0] = 0 always (the softmax is unchanged by a common shift of the
    unpenalised intercepts). Newton's method with Armijo backtracking on all rows at once; the
    (2 nc - 1)-square Hessians come from the moments ``sum_n x_n^m (diag p_n - p_n p_n^T)``,
    m = 0, 1, 2; a row stops when its Newton decrement is below ``tol * max(1, f)``.
    """
    a, n = x.shape
    onehot = np.zeros((n, nc))
    onehot[np.arange(n), yi] = 1.0
    counts = onehot.sum(0)
    fw = np.arange(nc) if nc > 2 else np.array([1])  # penalised weights that are free
    fb = np.arange(1, nc)  # free intercepts (class 0's fixed at 0)
    pw, pb = len(fw), len(fb)
    w = np.zeros((a, nc))
    b = np.tile(np.log(np.maximum(counts, 1e-300) / max(counts[0], 1e-300)), (a, 1))  # optimum at W = 0
    b[:, 0] = 0.0

    ar = np.arange(n)

    def evaluate(s, w_):
        """Objective of logits s (r, N, nc) and weights w_ (r, nc); also exp(s - max) and its sums."""
        m = s.max(-1)
        e = np.exp(np.maximum(s - m[..., None], -700.0))  # clipped: no subnormal numbers (100x slower)
        tot = e.sum(-1)
        f_ = (m + np.log(tot) - s[:, ar, yi]).sum(1) + 0.5 / C * (w_ * w_).sum(1)
        return f_, e, tot

    rows = np.arange(a)
    s = x[:, :, None] * w[:, None, :] + b[:, None, :]  # logits of the rows still iterating
    f, e, tot = evaluate(s, w)
    for it in range(max_iter):
        p = e / tot[..., None]
        p[p < 1e-150] = 0.0  # nor in the products below; their share is below 1e-146
        xr = x[rows]
        r = p - onehot  # (r, N, nc)
        gw = np.einsum("an,anc->ac", xr, r) + w[rows] / C
        gb = r.sum(1)
        g = np.concatenate([gw[:, fw], gb[:, fb]], 1)
        moments, pm = [], p
        for mth in range(3):  # sum_n x^m (diag p - p p^T), m = 0, 1, 2
            if mth:
                pm = pm * xr[..., None]
            moments.append(np.einsum("ac,cd->acd", pm.sum(1), np.eye(nc)) - np.matmul(pm.transpose(0, 2, 1), p))
        m0, m1, m2 = moments
        h = np.zeros((len(rows), pw + pb, pw + pb))
        h[:, :pw, :pw] = m2[:, fw][:, :, fw] + np.eye(pw) / C
        h[:, :pw, pw:] = m1[:, fw][:, :, fb]
        h[:, pw:, :pw] = m1[:, fb][:, :, fw]
        h[:, pw:, pw:] = m0[:, fb][:, :, fb]
        try:
            step = -np.linalg.solve(h, g[..., None])[..., 0]
        except np.linalg.LinAlgError:  # pragma: no cover - a singular Hessian (a class never seen)
            step = -np.stack([np.linalg.lstsq(hh, gg, rcond=None)[0] for hh, gg in zip(h, g)])
        decrement = -(g * step).sum(1)  # > 0 for a descent direction
        f_rows = f[rows]
        done = decrement <= 2 * tol * np.maximum(1.0, np.abs(f_rows))
        dw, db = np.zeros((len(rows), nc)), np.zeros((len(rows), nc))
        dw[:, fw], db[:, fb] = step[:, :pw], step[:, pw:]
        ds = xr[:, :, None] * dw[:, None, :] + db[:, None, :]  # change of the logits per unit step
        t = np.where(done, 0.0, 1.0)
        for ls in range(50):  # Armijo backtracking, per row; the last evaluation is at the final t
            s_try = s + t[:, None, None] * ds
            f_try, e_try, tot_try = evaluate(s_try, w[rows] + t[:, None] * dw)
            bad = (f_try > f_rows - 1e-4 * t * decrement) & (t > 0)
            if not bad.any() or ls == 49:
                break
            t = np.where(bad, t * 0.5, t)
        t = np.where(f_try <= f_rows, t, 0.0)  # never accept an increase (rounding at the optimum)
        w[rows] += t[:, None] * dw
        b[rows] += t[:, None] * db
        f[rows] = np.where(t > 0, f_try, f_rows)
        keep = ~done & (t > 0)  # rows that moved go on; their cached logits are the accepted trial's
        rows = rows[keep]
        if not len(rows):
            break
        s, e, tot = s_try[keep], e_try[keep], tot_try[keep]
    return w, b


def _logistic_accuracies(z: np.ndarray, y: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, C: float,
                         backend: str = "numpy") -> np.ndarray:
    """Test accuracy of ``LogisticRegression(C=C)`` fitted on each standardised latent: (d, K).

    ``backend="numpy"``: :func:`_logistic_1d` on all latents of a factor at once (sklearn's
    objective, solved to a tight tolerance); ``"sklearn"``: ``LogisticRegression(C=C)`` with
    sklearn's other defaults (lbfgs, ``tol=1e-4``, ``max_iter=100``), d * K fits.
    """
    from threadpoolctl import threadpool_limits

    zs, zs_te = _standardise(z, z_test)
    d, k = z.shape[1], y.shape[1]
    out = np.empty((d, k))
    for j in range(k):
        classes, yi = np.unique(y[:, j], return_inverse=True)
        nc = len(classes)
        if backend == "sklearn":
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            for i in range(d):
                clf = LogisticRegression(C=C)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf.fit(zs[:, i:i + 1], y[:, j])
                out[i, j] = np.mean(clf.predict(zs_te[:, i:i + 1]) == y_test[:, j])
            continue
        chunk = max(1, int(4e6 // (len(zs) * nc)))  # rows per Newton batch: bounded memory
        for lo in range(0, d, chunk):
            with threadpool_limits(1, user_api="blas"):  # small products: BLAS threads only contend
                w, b = _logistic_1d(zs[:, lo:lo + chunk].T, yi.ravel(), nc, C)
            score = zs_te[:, lo:lo + chunk, None] * w[None] + b[None]  # (M, chunk, nc)
            pred = classes[score.argmax(-1)]
            out[lo:lo + chunk, j] = np.mean(pred == y_test[:, j, None], axis=0)
    return out


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
               inactive_std: float = 0.05, logistic_C: float = 1.0) -> np.ndarray:
    """The (d, K) score matrix of single-latent predictors (see the module docstring).

    ``classifier``: ``"svm"`` (disentanglement_lib), ``"threshold"`` (seed 002) or ``"logistic"``
    (seed 004: sklearn's ``LogisticRegression(C=logistic_C)`` on the standardised latent, plain
    test accuracy; ``logistic_C=1.0`` is sklearn's default; ``svm_backend`` picks the numpy Newton
    solver or sklearn for it too). Continuous factors use R^2 whatever the classifier.
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be 'svm' (disentanglement_lib), 'threshold' (seed 002's paper) or "
                         f"'logistic' (seed 004: logistic regression), got {classifier!r}")
    if classifier == "logistic" and not (isinstance(logistic_C, (int, float)) and logistic_C > 0):
        raise ValueError(f"logistic_C must be a number > 0 (sklearn's default is 1.0), got {logistic_C!r}")
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
    if classifier == "logistic":
        return _logistic_accuracies(z, y, z_te, y_te, logistic_C, svm_backend)
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


def _continuous_mask(continuous_factors: Any, num_factors: int, factor_names: Sequence[str] | None) -> np.ndarray:
    """Which of the (varying) factors are scored as continuous (R^2): a bool for all, or a list of
    factor names (needs ``factor_names``) or column positions."""
    if isinstance(continuous_factors, (bool, np.bool_)):
        return np.full(num_factors, bool(continuous_factors))
    if isinstance(continuous_factors, str) or not isinstance(continuous_factors, Sequence):
        raise ValueError(f"continuous_factors must be true, false or a list of factor names, got {continuous_factors!r}")
    mask = np.zeros(num_factors, bool)
    names = None if factor_names is None else [str(n) for n in factor_names]
    for f in continuous_factors:
        if isinstance(f, (int, np.integer)) and not isinstance(f, bool):
            if not 0 <= int(f) < num_factors:
                raise ValueError(f"continuous_factors: position {f} out of range for {num_factors} factors")
            mask[int(f)] = True
        elif names is None:
            raise ValueError("continuous_factors names factors but no factor_names are known (the suite takes them "
                             "from the dataset): pass factor_names, or column positions")
        elif str(f) not in names:
            raise ValueError(f"continuous_factors: unknown factor {f!r}; the (varying) factors are {', '.join(names)}")
        else:
            mask[names.index(str(f))] = True
    return mask


@register_metric("sap", needs=("codes", "factor_classes", "test_split"), num_train=10000, num_test=5000,
                 permutation_invariant=True, help="SAP score (Kumar et al. 2018)",
                 option_sources={"factor_names": OptionSource(("dataset",), _dataset_factor_names,
                                                              "a dataset with factor_names (for named continuous_factors)")})
def sap(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray | None = None,
        factors_test: np.ndarray | None = None, classifier: str = "svm", continuous_factors: Any = False,
        C: float = 0.01, threshold_candidates: int = 256, svm_backend: str = "numpy",
        inactive_std: float = 0.05, factor_names: Sequence[str] | None = None) -> dict[str, float]:
    """SAP score of codes (N, d) for factor classes (N, K), scored on the test points.

    Defaults (disentanglement_lib): ``classifier="svm"`` (LinearSVC, ``C=0.01``, balanced class
    weights, plain test accuracy), ``continuous_factors=False``; 10,000 train / 5,000 test points
    in the suite. ``classifier`` is one of ``"svm"``, ``"threshold"``, ``"logistic"``.
    ``classifier="logistic"`` is seed 004's: sklearn's ``LogisticRegression()`` with its defaults
    (``C=1.0``; the ``C`` option is the SVM's) on each latent standardised with its training mean
    and standard deviation, plain test accuracy (see the module docstring); ``svm_backend`` picks
    its implementation too (``"numpy"``: Newton's method on all latents at once, the default;
    ``"sklearn"``: ``LogisticRegression`` d * K times).
    ``classifier="threshold"`` is seed 002's balanced-accuracy threshold classifier
    (cut points where the class changes along the latent, or ``threshold_candidates=256``
    quantiles when there are more), where latents whose code has a standard deviation below
    ``inactive_std=0.05`` score 0 (the paper's inactive latents). ``svm_backend="numpy"``
    (default) solves the LinearSVC problems of all latents at once (same optimum as liblinear, to
    its tolerance; tested against sklearn); ``"sklearn"`` calls ``LinearSVC`` d * K times as the
    reference. Factors constant in the training sample are skipped with a warning. With a single
    latent the second-best score is taken as 0.

    ``continuous_factors`` is a bool for every factor, or a list of factor names (the suite takes
    ``factor_names`` from the dataset) or positions scored as continuous (R^2 of a linear fit), the
    others with ``classifier``: seed 004 scores dSprites' shape with logistic regression and the
    ordinal factors as continuous (``continuous_factors=[scale, orientation, posX, posY]``).

    Returns ``{"sap": float}``.
    """
    z, y = check_pair(codes, factors)
    keep = varying_factors(y, "sap")
    if factor_names is not None and len(factor_names) == y.shape[1] and len(factor_names) != len(keep):
        factor_names = [factor_names[j] for j in keep]  # names given for every factor: keep the varying ones
    mask = _continuous_mask(continuous_factors, len(keep), factor_names)
    y_te = None if factors_test is None else np.asarray(factors_test)[:, keep]
    s = np.zeros((z.shape[1], len(keep)))
    for flag in (True, False):
        cols = np.flatnonzero(mask == flag)
        if len(cols):
            s[:, cols] = sap_matrix(z, y[:, keep][:, cols], codes_test, None if y_te is None else y_te[:, cols],
                                    classifier, flag, C, threshold_candidates, svm_backend, inactive_std)
    srt = np.sort(s, axis=0)
    second = srt[-2] if srt.shape[0] > 1 else np.zeros(srt.shape[1])
    return {"sap": float(np.mean(srt[-1] - second))}


__all__ = ["CLASSIFIERS", "sap", "sap_matrix"]
