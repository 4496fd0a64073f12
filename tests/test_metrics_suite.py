"""SAP, DCI, IRS, modularity, unsupervised, group-MIG: known answers, invariances, bad input."""

import numpy as np
import pytest

from untwine.metrics import (completeness, dci, disentanglement, gaussian_total_correlation, group_mig, irs,
                             modularity, mutual_info_matrix, sap, sap_matrix, unsupervised)

SIZES = (3, 6, 10, 8)


def _data(n, seed=0, sizes=SIZES, jitter=1.0):
    rng = np.random.default_rng(seed)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    # monotone per factor; ``jitter`` spreads each class over (part of) its own interval
    z = np.exp(2 * (y + 0.5 + jitter * (rng.uniform(0, 1, y.shape) - 0.5)) / np.asarray(sizes)) - 1
    return z, y, rng


def _split(z, y, n_tr):
    return z[:n_tr], y[:n_tr], z[n_tr:], y[n_tr:]


# ---- SAP ----------------------------------------------------------------------------------------
def test_sap_fast_svm_equals_sklearn_linearsvc():
    z, y, rng = _data(3000)
    z = np.concatenate([z + 0.3 * rng.standard_normal(z.shape), rng.standard_normal((3000, 2))], 1)
    y[:, 1] = np.where(rng.uniform(size=3000) < 0.7, 0, y[:, 1])  # imbalanced classes
    args = _split(z, y, 2000)
    fast = sap_matrix(*args)
    ref = sap_matrix(*args, svm_backend="sklearn")
    assert np.abs(fast - ref).max() <= 2e-3  # liblinear stops at tol 1e-4: a test point may flip


def test_sap_known_answers():
    z, y, rng = _data(3000)
    good = sap(*_split(z, y, 2000), classifier="threshold")["sap"]
    # top scores are 1; the runner-up is an unrelated latent near chance (1/C balanced accuracy)
    assert good > np.mean([1 - 1.3 / c for c in SIZES])
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert sap(*_split(z @ q, y, 2000), classifier="threshold")["sap"] < good - 0.3
    noise = rng.standard_normal(z.shape)
    assert sap(*_split(noise, y, 2000), classifier="threshold")["sap"] < 0.05
    assert sap(*_split(noise, y, 2000))["sap"] < 0.05
    perm = rng.permutation(4)
    assert sap(*_split(z[:, perm], y, 2000))["sap"] == pytest.approx(sap(*_split(z, y, 2000))["sap"])
    # the reference LinearSVC: a perfect code separates the binary-ish first factor best
    assert sap(*_split(z, y, 2000))["sap"] > sap(*_split(z @ q, y, 2000))["sap"]


def test_sap_threshold_is_perfect_on_separable_classes():
    z, y, _ = _data(2000)
    s = sap_matrix(*_split(z, y, 1500), classifier="threshold")
    assert np.allclose(np.diag(s), 1.0, atol=0.01)  # test points may fall between two train classes


def test_sap_threshold_scores_a_collapsed_latent_0():
    """Seed 002: inactive latents (std of the code < 0.05, decisions.md) score 0 in threshold SAP.

    One informative latent (3 classes + noise) and one collapsed latent (std 1e-3, a VAE latent
    that fell onto its prior mean): the paper's rule gives SAP = the informative latent's balanced
    accuracy (0.93); thresholds fitted to the collapsed latent's noise score ~1/3 and gave 0.61.
    """
    rng = np.random.default_rng(0)
    y, y_te = rng.integers(0, 3, 3000)[:, None], rng.integers(0, 3, 1500)[:, None]
    z = np.stack([y[:, 0] + 0.3 * rng.standard_normal(3000), 1e-3 * rng.standard_normal(3000)], 1)
    z_te = np.stack([y_te[:, 0] + 0.3 * rng.standard_normal(1500), 1e-3 * rng.standard_normal(1500)], 1)
    s = sap_matrix(z, y, z_te, y_te, classifier="threshold")
    assert s[1, 0] == 0.0
    alone = sap_matrix(z[:, :1], y, z_te[:, :1], y_te, classifier="threshold")[0, 0]
    assert alone > 0.9
    assert sap(z, y, z_te, y_te, classifier="threshold")["sap"] == pytest.approx(alone, abs=1e-12)
    fitted_to_noise = sap(z, y, z_te, y_te, classifier="threshold", inactive_std=0.0)["sap"]
    assert fitted_to_noise < alone - 0.25  # the former rule (variance <= 1e-12 only)
    # the option is the threshold: a latent at std 0.1 stays active at 0.05, not at 0.2
    z2, z2_te = z.copy(), z_te.copy()
    z2[:, 1] *= 100
    z2_te[:, 1] *= 100
    assert sap_matrix(z2, y, z2_te, y_te, classifier="threshold")[1, 0] > 0.2
    assert sap_matrix(z2, y, z2_te, y_te, classifier="threshold", inactive_std=0.2)[1, 0] == 0.0
    with pytest.raises(ValueError, match="inactive_std"):
        sap(z, y, z_te, y_te, classifier="threshold", inactive_std=-1.0)


def test_sap_bad_input():
    z, y, _ = _data(300)
    with pytest.raises(ValueError, match="test points"):
        sap(z, y)
    with pytest.raises(ValueError, match="classifier"):
        sap(*_split(z, y, 200), classifier="tree")
    with pytest.raises(ValueError, match="different numbers"):
        sap(z[:200], y[:199], z[200:], y[200:])


# ---- DCI ----------------------------------------------------------------------------------------
def test_dci_scores_of_known_importance_matrices():
    assert disentanglement(np.eye(4)) == pytest.approx(1.0, abs=1e-6)
    assert completeness(np.eye(4)) == pytest.approx(1.0, abs=1e-6)
    assert disentanglement(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-6)
    assert completeness(np.ones((4, 4))) == pytest.approx(0.0, abs=1e-6)
    r = np.array([[1.0, 0.0], [1.0, 0.0]])  # two latents, both for factor 0, evenly
    assert disentanglement(r) == pytest.approx(1.0, abs=1e-6)
    assert completeness(r) == pytest.approx(0.0, abs=1e-6)  # uniform over 2 latents: entropy 1 (base 2)
    r = np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    c0 = 1 + (0.75 * np.log(0.75) + 0.25 * np.log(0.25)) / np.log(3)
    assert completeness(r) == pytest.approx(c0 * 4 / 6 + 1 * 2 / 6, abs=1e-6)  # by hand


@pytest.mark.integration
def test_dci_lightgbm_agrees_with_sklearn_within_0_02():
    """The fast backend against the reference GradientBoostingClassifier on fixtures."""
    z, y, rng = _data(1500, seed=3, sizes=(3, 6, 5))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cases = {"disentangled": np.concatenate([z + 0.05 * rng.standard_normal(z.shape), rng.standard_normal((1500, 1))], 1),
             "rotated": z @ q, "noise": rng.standard_normal((1500, 3))}
    for name, code in cases.items():
        fast = dci(*_split(code, y, 1000))
        ref = dci(*_split(code, y, 1000), backend="sklearn")
        for k in ref:
            assert fast[k] == pytest.approx(ref[k], abs=0.02), (name, k, fast, ref)


def test_dci_known_answers():
    z, y, rng = _data(1500, sizes=(3, 6, 5))
    good = dci(*_split(z, y, 1000))
    assert good["disentanglement"] > 0.9 and good["completeness"] > 0.9
    assert good["informativeness_test"] > 0.95
    noise = dci(*_split(rng.standard_normal(z.shape), y, 1000))
    assert noise["informativeness_test"] < 0.5
    with pytest.raises(ValueError, match="backend"):
        dci(*_split(z, y, 1000), backend="xgb")


# ---- IRS, modularity ---------------------------------------------------------------------------
def test_irs_and_modularity_known_answers():
    z, y, rng = _data(4000, jitter=0.1)  # IRS: a latent nearly constant when its factor is fixed
    assert irs(z, y)["irs"] > 0.9
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert irs(z @ q, y)["irs"] < irs(z, y)["irs"] - 0.2
    assert irs(rng.standard_normal(z.shape), y)["irs"] < 0.45  # noise: 0.99-quantile deviations near max
    perm = rng.permutation(4)
    assert irs(z[:, perm], y)["irs"] == pytest.approx(irs(z, y)["irs"])
    r = irs(np.concatenate([z, np.zeros((4000, 1))], 1), y)
    assert r["num_active_dims"] == 4.0  # the constant latent is dropped
    m = modularity(*_split(z, y, 3000))
    assert m["modularity"] > 0.95 and m["explicitness_test"] > 0.95
    assert modularity(*_split(z @ q, y, 3000))["modularity"] < m["modularity"] - 0.1
    with pytest.raises(ValueError, match="diff_quantile"):
        irs(z, y, diff_quantile=2)


# ---- unsupervised ------------------------------------------------------------------------------
def test_unsupervised_scores():
    rng = np.random.default_rng(0)
    ind = rng.standard_normal((20000, 3))
    assert gaussian_total_correlation(ind) == pytest.approx(0.0, abs=2e-3)
    rho = 0.8
    corr = np.stack([ind[:, 0], rho * ind[:, 0] + np.sqrt(1 - rho**2) * ind[:, 1]], 1)
    assert gaussian_total_correlation(corr) == pytest.approx(-0.5 * np.log(1 - rho**2), abs=0.02)  # closed form
    mi = mutual_info_matrix(corr)
    assert mi[0, 1] == pytest.approx(mi[1, 0]) and mi[0, 1] > 0.3
    u = unsupervised(ind)
    assert u["mutual_info_score"] < 0.02 and abs(u["gaussian_wasserstein_correlation"]) < 0.01
    with pytest.raises(ValueError, match="constant"):
        gaussian_total_correlation(np.concatenate([ind, np.ones((20000, 1))], 1))


# ---- group-MIG ---------------------------------------------------------------------------------
def test_group_mig():
    z, y, rng = _data(5000)
    groups = ["c", "c", "s", "s"]
    assert group_mig(z, y, groups, groups)["group_mig"] > 0.85
    # swapping the blocks: every factor is captured outside its own block -> strongly negative
    assert group_mig(z, y, ["s", "s", "c", "c"], groups)["group_mig"] < -0.85
    with pytest.raises(ValueError, match="one label per latent"):
        group_mig(z, y, ["c"], groups)
    with pytest.raises(ValueError, match="some but not all"):
        group_mig(z, y, ["c"] * 4, groups)
