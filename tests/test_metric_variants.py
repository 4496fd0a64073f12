"""Seed 004's metric variants (SAP with logistic regression, DCI with random forests) and metric agreement."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from _metrics_toy import ToyEncoder, ToyGrid
from sklearn.ensemble import RandomForestRegressor

from untwine.metrics import dci, dci_importance, evaluate, resolve_options, sap, sap_matrix
from untwine.metrics.agreement import metric_agreement, metric_agreement_pvalues, metric_agreement_table
from untwine.viz.agreement import agreement_heatmap

SAP = sys.modules["untwine.metrics.sap"]  # the module (``untwine.metrics.sap`` is the function)
DCI = sys.modules["untwine.metrics.dci"]
DSPRITES_NAMES = ("shape", "scale", "orientation", "posX", "posY")


def _disentangled(n, sizes, seed=0, noise=0.02):
    """Factor classes (n, K) and a code whose latent k is factor k's class index plus a little noise."""
    rng = np.random.default_rng(seed)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    z = y / np.asarray(sizes, dtype=float) + noise * rng.standard_normal(y.shape)
    return z, y, rng


def _split(z, y, n_tr):
    return z[:n_tr], y[:n_tr], z[n_tr:], y[n_tr:]


# ---- SAP, classifier="logistic" -----------------------------------------------------------------
def test_sap_logistic_is_near_its_maximum_on_a_disentangled_code_and_near_zero_on_noise():
    sizes = (2, 3, 4)
    z, y, rng = _disentangled(3000, sizes)
    s = sap_matrix(*_split(z, y, 2000), classifier="logistic")
    assert np.diag(s).min() > 0.97  # each factor read off its own latent
    good = sap(*_split(z, y, 2000), classifier="logistic")["sap"]
    best = np.mean([1 - 1 / c for c in sizes])  # perfect top latent, chance-level second
    assert good > best - 0.06
    noise = sap(*_split(rng.standard_normal((3000, 3)), y, 2000), classifier="logistic")["sap"]
    assert noise < 0.05
    mixed = z @ np.linalg.qr(rng.standard_normal((3, 3)))[0]  # every latent carries every factor
    assert sap(*_split(mixed, y, 2000), classifier="logistic")["sap"] < good - 0.2


def test_sap_logistic_newton_solver_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    z, y, rng = _disentangled(2500, (2, 5, 12), noise=0.05)
    z = np.concatenate([z, rng.standard_normal((2500, 2))], 1)
    zs, _ = SAP._standardise(z[:2000], z[2000:])
    for j, nc in enumerate((2, 5, 12)):
        classes, yi = np.unique(y[:2000, j], return_inverse=True)
        w, b = SAP._logistic_1d(zs.T, yi.ravel(), len(classes), 1.0)
        for i in range(zs.shape[1]):
            ref = LogisticRegression(solver="newton-cg", tol=1e-10, max_iter=1000).fit(zs[:, i:i + 1], y[:2000, j])
            if nc == 2:  # sklearn's binary model: one logit, class 0's fixed at 0
                np.testing.assert_allclose([w[i, 1], b[i, 1]], [ref.coef_[0, 0], ref.intercept_[0]], atol=1e-4)
                assert w[i, 0] == b[i, 0] == 0.0
            else:  # multinomial: compare the logit differences to class 0 (the intercepts' common shift is free)
                np.testing.assert_allclose(w[i], ref.coef_[:, 0], atol=1e-4)
                np.testing.assert_allclose(b[i] - b[i, 0], ref.intercept_ - ref.intercept_[0], atol=1e-4)
    fast = sap_matrix(*_split(z, y, 2000), classifier="logistic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = sap_matrix(*_split(z, y, 2000), classifier="logistic", svm_backend="sklearn")
    np.testing.assert_allclose(fast, slow, atol=0.01)


def test_sap_logistic_standardises_each_latent():
    z, y, rng = _disentangled(2000, (3, 4), noise=0.03)
    args = _split(z, y, 1500)
    tiny = _split(z * np.array([1e-4, 1e3]) + np.array([5.0, -7.0]), y, 1500)
    np.testing.assert_allclose(sap_matrix(*tiny, classifier="logistic"), sap_matrix(*args, classifier="logistic"),
                               atol=2.1e-3)  # at most one of 500 test points on a boundary
    # a constant latent predicts the majority class: the accuracy of the most frequent test class
    const = np.concatenate([z, np.full((2000, 1), 3.0)], 1)
    s = sap_matrix(*_split(const, y, 1500), classifier="logistic")
    majority = [np.bincount(y[:1500, j]).argmax() for j in range(2)]
    np.testing.assert_allclose(s[2], [np.mean(y[1500:, j] == majority[j]) for j in range(2)])


def test_sap_logistic_is_a_registered_choice():
    z, y, _ = _disentangled(400, (3, 4))
    with pytest.raises(ValueError, match="'svm'.*'threshold'.*'logistic'"):
        sap(*_split(z, y, 300), classifier="logit")
    with pytest.raises(ValueError, match="logistic_C"):
        sap_matrix(*_split(z, y, 300), classifier="logistic", logistic_C=0)
    opts = resolve_options("sap", {"sap": {"classifier": "logistic"}})["sap"]
    assert opts["classifier"] == "logistic" and opts["svm_backend"] == "numpy"
    ds = ToyGrid()
    used = {}
    out = evaluate(ToyEncoder(ds, noise=0.01), ds, ["sap"], options={"sap": {"classifier": "logistic", "num_train": 600,
                                                                           "num_test": 300}}, options_used=used)
    assert 0.3 < out["sap"] <= 1.0 and used["sap"]["classifier"] == "logistic"


# ---- DCI, backend="random_forest" ---------------------------------------------------------------
def test_dci_random_forest_ranks_a_disentangled_code_above_its_rotation():
    z, y, rng = _disentangled(2000, (4, 5, 6))
    args = _split(z, y, 1500)
    good = dci(*args, backend="random_forest", n_estimators=20, max_depth=6)
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    rotated = dci(*_split(z @ q, y, 1500), backend="random_forest", n_estimators=20, max_depth=6)
    assert good["disentanglement"] > 0.9 and good["completeness"] > 0.9
    assert rotated["disentanglement"] < good["disentanglement"] - 0.3
    assert good["informativeness_test"] > 0.9  # 1 - NRMSE of the standardised class index
    noise = dci(*_split(rng.standard_normal(z.shape), y, 1500), backend="random_forest", n_estimators=20, max_depth=6)
    assert 0.0 <= noise["informativeness_test"] < 0.1  # no better than the mean: clipped at 0
    assert good == dci(*args, backend="random_forest", n_estimators=20, max_depth=6, n_jobs=1)  # seeded


class _RecordingForest(RandomForestRegressor):
    """RandomForestRegressor that records (max_depth, number of target values) of every fit."""

    fits: list = []

    def fit(self, x, t, *args, **kwargs):
        _RecordingForest.fits.append((self.max_depth, len(np.unique(t))))
        return super().fit(x, t, *args, **kwargs)


@pytest.fixture
def recorded(monkeypatch):
    import sklearn.ensemble

    _RecordingForest.fits = []
    monkeypatch.setattr(sklearn.ensemble, "RandomForestRegressor", _RecordingForest)
    return _RecordingForest.fits


def test_seed004_preset_passes_dsprites_depths_to_the_forests(recorded):
    sizes = (3, 6, 10, 8, 9)  # distinct sizes: the number of target values tells the factors apart
    z, y, _ = _disentangled(600, sizes)
    used = []
    dci_importance(*_split(z, y, 400), backend="random_forest", max_depth="seed004", n_estimators=3, n_jobs=1,
                   depths_used=used)
    assert used == [4, 2, 4, 2, 2]
    assert sorted(recorded) == sorted(zip([4, 2, 4, 2, 2], sizes))
    # by name, in any order, with the paper's "rotation" for dSprites' orientation
    names = ["posY", "shape", "rotation", "scale", "posX"]
    recorded.clear()
    dci_importance(*_split(z, y, 400), backend="random_forest", max_depth="seed004", factor_names=names,
                   n_estimators=3, n_jobs=1, depths_used=used)
    assert used == [2, 4, 4, 2, 2] and sorted(recorded) == sorted(zip([2, 4, 4, 2, 2], sizes))


def test_the_suite_gives_dci_the_dataset_factor_names(recorded):
    ds = ToyGrid((1, 3, 6, 10, 8, 9))
    ds.factor_names = ("color",) + DSPRITES_NAMES  # dSprites' names; colour (one class) is dropped
    used = {}
    out = evaluate(ToyEncoder(ds), ds, ["dci"], options={"dci": {"backend": "random_forest", "max_depth": "seed004",
                                                                 "n_estimators": 3, "num_train": 400, "num_test": 200}},
                   options_used=used)
    assert used["dci"]["factor_names"] == list(DSPRITES_NAMES)
    assert sorted(recorded) == sorted(zip([4, 2, 4, 2, 2], (3, 6, 10, 8, 9)))
    assert all(0.0 <= v <= 1.0 for v in out.values())
    recorded.clear()  # a dict by name; factors left out are unbounded
    evaluate(ToyEncoder(ds), ds, ["dci"], options={"dci": {"backend": "random_forest", "max_depth": {"scale": 3},
                                                           "n_estimators": 3, "num_train": 400, "num_test": 200}})
    assert sorted(recorded, key=str) == sorted(zip([None, 3, None, None, None], (3, 6, 10, 8, 9)), key=str)


def test_dci_max_depth_forms():
    assert DCI.forest_depths(None, 3) == [None] * 3
    assert DCI.forest_depths(5, 2) == [5, 5]
    assert DCI.forest_depths("cv", 2) == ["cv", "cv"]
    assert DCI.forest_depths([2, None, "cv"], 3) == [2, None, "cv"]
    assert DCI.forest_depths({"b": 7}, 2, ["a", "b"]) == [None, 7]
    aliases = ["shape", "scale", "orientation", "x_position", "y_position"]
    assert DCI.forest_depths("seed004", 5, aliases) == [4, 2, 4, 2, 2]


def test_dci_cross_validated_depth_is_shallow_for_a_simple_factor_and_deep_for_a_complex_one():
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(1800, 3))
    simple = (z[:, 0] > 0.5).astype(int)  # one split
    ranks = np.argsort(np.argsort(z[:, 1]))
    complex_ = (ranks * 40 // len(z)) % 5 * 8 + ranks * 8 // len(z)  # 40 interleaved intervals of z1
    y = np.stack([simple, complex_], 1)
    used = []
    dci_importance(*_split(z, y, 1200), backend="random_forest", max_depth="cv", n_estimators=10, depths_used=used)
    assert used[0] == 2
    assert used[1] is None or used[1] >= 6
    assert set(used) <= set(DCI.CV_DEPTHS)


@pytest.mark.parametrize("kwargs, match", [
    ({"max_depth": [2, 3]}, r"max_depth has 2 depths for 3 factors: give one per factor"),
    ({"max_depth": {"nope": 2}, "factor_names": ["a", "b", "c"]},
     r"unknown factor\(s\) 'nope'; the factors are a, b, c"),
    ({"max_depth": {"a": 2}}, r"dict max_depth needs factor_names"),
    ({"max_depth": 0}, r"max_depth must be an int >= 1"),
    ({"max_depth": [2, -1, 3]}, r"max_depth\[1\] must be an int >= 1"),
    ({"max_depth": True}, r"max_depth must be an int >= 1"),
    ({"max_depth": "deep"}, r"no preset: use 'seed004'"),
    ({"max_depth": "seed004"}, r"dSprites' preset for its 5 varying factors.*got 3 factors"),
    ({"max_depth": "seed004", "factor_names": ["shape", "scale", "hue"]}, r"'hue' are not among them"),
    ({"factor_names": ["a", "b"], "max_depth": 2}, r"factor_names has 2 names for 3 factors"),
    ({"n_estimators": 0}, r"n_estimators must be an int >= 1"),
])
def test_dci_random_forest_bad_options(kwargs, match):
    z, y, _ = _disentangled(300, (3, 4, 5))
    with pytest.raises(ValueError, match=match):
        dci(*_split(z, y, 200), backend="random_forest", **kwargs)


def test_forest_options_need_the_forest_backend_and_defaults_stay():
    z, y, _ = _disentangled(300, (3, 4, 5))
    with pytest.raises(ValueError, match="backend='random_forest'"):
        dci(*_split(z, y, 200), max_depth=4)
    with pytest.raises(ValueError, match="'lightgbm'.*'sklearn'.*'random_forest'"):
        dci(*_split(z, y, 200), backend="forest")
    opts = resolve_options("dci")["dci"]
    assert opts["backend"] == "lightgbm" and opts["max_depth"] is None and opts["n_estimators"] == 100


# ---- metric agreement ---------------------------------------------------------------------------
def _scores():
    return pd.DataFrame({
        "a": [1.0, 2.0, 3.0, 4.0, 5.0],
        "same": [10.0, 20.0, 30.0, 40.0, 50.0],  # monotone in a
        "loss": [5.0, 4.0, 3.0, 2.0, 1.0],  # reversed: a lower-is-better metric that agrees with a
        "some": [2.0, 1.0, 4.0, 3.0, 5.0],  # rho with a: 1 - 6 * 4 / (5 * 24) = 0.8
        "gappy": [1.0, np.nan, 3.0, 2.0, 5.0],
    })


def test_metric_agreement_known_values_and_orientation():
    raw = metric_agreement(_scores(), orient=False)
    assert raw.at["a", "same"] == pytest.approx(1.0)
    assert raw.at["a", "loss"] == pytest.approx(-1.0)
    assert raw.at["a", "some"] == pytest.approx(0.8) and raw.at["some", "a"] == pytest.approx(0.8)
    np.testing.assert_allclose(np.diag(raw.to_numpy()), 1.0)
    oriented = metric_agreement(_scores(), lower_is_better=["loss"])  # orient=True: agreement is positive
    assert oriented.at["a", "loss"] == pytest.approx(1.0) and oriented.at["loss", "some"] == pytest.approx(0.8)
    assert metric_agreement(_scores(), lower_is_better=["loss"], orient=False).at["a", "loss"] == pytest.approx(-1.0)
    assert list(metric_agreement(_scores(), columns=["some", "a"]).columns) == ["some", "a"]


def test_metric_agreement_drops_missing_rows_pairwise():
    scores = _scores()
    rho, n = metric_agreement(scores, with_counts=True)
    assert n.at["a", "gappy"] == 4 and n.at["a", "some"] == 5 and n.at["gappy", "gappy"] == 4
    from scipy.stats import spearmanr
    keep = scores["gappy"].notna()
    assert rho.at["a", "gappy"] == pytest.approx(spearmanr(scores["a"][keep], scores["gappy"][keep]).statistic)
    assert rho.at["a", "gappy"] == pytest.approx(0.8)  # ranks 1,3,2,4 against 1,2,3,4
    # fewer than three shared models, or a constant metric: no correlation
    sparse = pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan], "y": [3.0, 1.0, 2.0, 4.0], "flat": [1.0] * 4,
                           "label": ["p", "q", "r", "s"]})
    r = metric_agreement(sparse, columns=["x", "y", "flat"])
    assert np.isnan(r.at["x", "y"]) and np.isnan(r.at["y", "flat"]) and r.at["y", "y"] == 1.0
    with pytest.raises(ValueError, match="lower_is_better names column"):
        metric_agreement(scores, lower_is_better=["recon"])
    with pytest.raises(ValueError, match="'zz' not in scores"):
        metric_agreement(scores, columns=["a", "zz"])


def test_metric_agreement_pvalues_and_table():
    from scipy.stats import spearmanr

    p = metric_agreement_pvalues(_scores())
    assert p.at["a", "some"] == pytest.approx(spearmanr([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).pvalue)
    assert 0.05 < p.at["a", "some"] < 0.2 and p.at["a", "same"] < 1e-6
    flipped = metric_agreement_pvalues(_scores(), lower_is_better=["loss"])
    assert p.at["a", "loss"] == pytest.approx(flipped.at["a", "loss"])  # negating a column keeps its p-values
    table = metric_agreement_table(_scores(), lower_is_better=["loss"])
    assert len(table) == 10 and list(table.columns) == ["metric_a", "metric_b", "spearman", "p_value", "n_models"]
    row = table[(table.metric_a == "a") & (table.metric_b == "gappy")].iloc[0]
    assert row.spearman == pytest.approx(0.8) and row.n_models == 4


def test_agreement_heatmap_writes_an_annotated_png(tmp_path):
    rho, n = metric_agreement(_scores(), lower_is_better=["loss"], with_counts=True)
    rho.iloc[0, 1] = rho.iloc[1, 0] = np.nan
    fig = agreement_heatmap(rho, tmp_path / "agree.png", title="agreement", counts=n)
    data = (tmp_path / "agree.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    ax = fig.axes[0]
    assert ax.images[0].get_clim() == (-1.0, 1.0)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 25 and "0.80\nn=5" in texts and "n/a\nn=5" in texts and ax.get_title() == "agreement"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(rho.columns)
    assert agreement_heatmap(rho, title=None).axes[0].get_title() == ""


def test_sap_scores_named_factors_as_continuous_and_the_rest_with_the_classifier():
    from untwine.metrics import sap

    rng = np.random.default_rng(0)
    y = np.stack([rng.integers(0, 3, 4000), rng.integers(0, 20, 4000)], 1)
    z = np.stack([y[:, 0] + 0.3 * rng.normal(size=4000), y[:, 1] / 20 + 0.03 * rng.normal(size=4000),
                  rng.normal(size=4000)], 1)
    tr, te = slice(0, 3000), slice(3000, None)
    mixed = sap(z[tr], y[tr], z[te], y[te], classifier="logistic", continuous_factors=["pos"],
                factor_names=["shape", "pos"])["sap"]
    by_position = sap(z[tr], y[tr], z[te], y[te], classifier="logistic", continuous_factors=[1])["sap"]
    discrete = sap(z[tr], y[tr], z[te], y[te], classifier="logistic")["sap"]
    assert mixed == by_position
    # pos: R^2 near 1 against near 0 (a gap near 1); as 20 classes, one latent's accuracy is far lower
    assert mixed > discrete + 0.1
    with pytest.raises(ValueError, match="unknown factor 'size'"):
        sap(z[tr], y[tr], z[te], y[te], continuous_factors=["size"], factor_names=["shape", "pos"])
    with pytest.raises(ValueError, match="no factor_names are known"):
        sap(z[tr], y[tr], z[te], y[te], continuous_factors=["pos"])
