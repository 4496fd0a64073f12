"""Sampling metrics (FactorVAE, beta-VAE scores) and the evaluate() suite on a toy factor grid."""

import numpy as np
import pytest
from _metrics_toy import ToyEncoder, ToyGrid

from untwine.metrics import CodeTable, beta_vae_score, evaluate, factor_vae_score

SMALL = {"num_train": 500, "num_test": 300, "num_variance_estimate": 1000}


def test_factor_vae_score_known_answers():
    ds = ToyGrid()
    good = factor_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), **SMALL)
    assert good["eval_accuracy"] == pytest.approx(1.0) and good["num_active_dims"] == 5
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    rot = factor_vae_score(ds, ToyEncoder(ds, mixing=q), np.random.default_rng(0), **SMALL)
    assert rot["eval_accuracy"] < good["eval_accuracy"] - 0.05
    noise = factor_vae_score(ds, ToyEncoder(ds, mixing=np.zeros((5, 5)), extra=5), np.random.default_rng(0), **SMALL)
    assert noise["eval_accuracy"] < 0.45  # 5 factors: chance-like majority votes
    assert noise["num_active_dims"] == 5  # the all-zero latents are pruned (std < 0.05)
    perm = np.eye(5)[np.random.default_rng(2).permutation(5)]
    assert factor_vae_score(ds, ToyEncoder(ds, mixing=perm), np.random.default_rng(0), **SMALL) == good


def test_beta_vae_score_known_answers_and_options():
    ds = ToyGrid()
    small = {"num_train": 300, "num_test": 200}
    good = beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), **small)
    assert good["eval_accuracy"] > 0.95
    svm = beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), classifier="linear_svm", **small)
    assert svm == {"train_accuracy": 1.0, "eval_accuracy": 1.0}  # the zero feature of the shared factor separates
    noise = beta_vae_score(ds, ToyEncoder(ds, mixing=np.zeros((5, 5)), extra=5), np.random.default_rng(0), **small)
    assert noise["eval_accuracy"] < 0.5
    with pytest.raises(ValueError, match="classifier"):
        beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), classifier="mlp")


def _zdiff_by_hand(ds, enc, rng, num_train, num_test, batch_size, loss):
    """The Z-diff score computed independently (per point, from the encoder) with LinearSVC(C=0.01, loss)."""
    from sklearn.svm import LinearSVC

    def points(n):
        labels = rng.integers(0, ds.num_factors, size=n)  # every ToyGrid factor varies
        c1 = ds.sample_classes(n * batch_size, rng).reshape(n, batch_size, -1)
        c2 = ds.sample_classes(n * batch_size, rng).reshape(n, batch_size, -1)
        feats = []
        for p in range(n):
            c2[p, :, labels[p]] = c1[p, :, labels[p]]
            z1 = enc.encode(ds.images_from_classes(c1[p])).double().numpy()
            z2 = enc.encode(ds.images_from_classes(c2[p])).double().numpy()
            feats.append(np.abs(z1 - z2).mean(0))
        return np.array(feats), labels

    x_tr, y_tr = points(num_train)
    clf = LinearSVC(C=0.01, loss=loss, random_state=0).fit(x_tr, y_tr)
    x_ev, y_ev = points(num_test)
    return {"train_accuracy": float(np.mean(clf.predict(x_tr) == y_tr)),
            "eval_accuracy": float(np.mean(clf.predict(x_ev) == y_ev))}


def test_zdiff_linear_svm_uses_the_hinge_loss():
    """Seed 002's Z-diff: a linear SVM with the hinge loss (LinearSVC's default is squared hinge)."""
    ds = ToyGrid()
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    enc = ToyEncoder(ds, mixing=q)  # a rotated code: accuracy well between chance and 1
    small = {"num_train": 300, "num_test": 200, "batch_size": 8}
    got = beta_vae_score(ds, enc, np.random.default_rng(0), classifier="linear_svm", **small)
    hinge = _zdiff_by_hand(ds, enc, np.random.default_rng(0), loss="hinge", **small)
    squared = _zdiff_by_hand(ds, enc, np.random.default_rng(0), loss="squared_hinge", **small)
    assert got == hinge
    assert hinge["eval_accuracy"] != squared["eval_accuracy"]  # the case tells the two losses apart
    assert beta_vae_score(ds, enc, np.random.default_rng(0), classifier="linear_svm", svm_loss="squared_hinge",
                          **small) == squared
    with pytest.raises(ValueError, match="svm_loss"):
        beta_vae_score(ds, enc, np.random.default_rng(0), classifier="linear_svm", svm_loss="log")


def test_zdiff_svm_loss_reaches_the_classifier(monkeypatch):
    import sklearn.svm

    fitted = []

    class Recording(sklearn.svm.LinearSVC):
        def fit(self, x, y, sample_weight=None):
            fitted.append(self)
            return super().fit(x, y, sample_weight)

    monkeypatch.setattr(sklearn.svm, "LinearSVC", Recording)
    ds = ToyGrid()
    beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), classifier="linear_svm", num_train=50, num_test=20)
    assert [(m.loss, m.C) for m in fitted] == [("hinge", 0.01)]


def test_code_table_encodes_each_image_once():
    ds = ToyGrid()
    enc = ToyEncoder(ds)
    table = CodeTable(enc, ds, batch_size=1000)
    idx = np.random.default_rng(0).integers(0, len(ds), 5000)
    a = table.codes_for_indices(idx)
    b = table.codes_for_indices(idx[::-1])
    np.testing.assert_array_equal(a[::-1], b)
    assert enc.images_seen == len(np.unique(idx)) == table.num_encoded


def test_evaluate_all_suite_on_toy_grid():
    ds = ToyGrid()
    enc = ToyEncoder(ds, noise=0.02)
    opts = {"factor_vae_score": SMALL, "beta_vae_score": {"num_train": 300, "num_test": 200},
            "dci": {"num_train": 1000, "num_test": 500}, "sap": {"num_train": 2000, "num_test": 1000},
            "modularity": {"num_train": 2000, "num_test": 1000}}
    r = evaluate(enc, ds, metrics="all", seed=0, options=opts)
    assert enc.images_seen <= len(ds)  # every distinct image encoded at most once for the whole suite
    for key in ("mig", "sap", "dci.disentanglement", "dci.completeness", "dci.informativeness_train",
                "dci.informativeness_test", "irs", "modularity", "modularity.explicitness_test",
                "unsupervised.gaussian_total_correlation", "unsupervised.mutual_info_score",
                "beta_vae_score.eval_accuracy", "factor_vae_score.eval_accuracy"):
        assert key in r and np.isfinite(r[key]), key
    assert "group_mig" not in r  # needs its group assignment
    assert r["mig"] > 0.9 and r["dci.disentanglement"] > 0.8 and r["factor_vae_score.eval_accuracy"] > 0.99
    with pytest.raises(ValueError, match="needs option"):
        evaluate(enc, ds, metrics=["group_mig"])
    g = evaluate(enc, ds, metrics=["group_mig"], options={"group_mig": {"latent_groups": list("ccsss"),
                                                                        "factor_groups": list("ccsss")}})
    assert g["group_mig"] > 0.8
