"""Sampling metrics (FactorVAE, beta-VAE scores) and the evaluate() suite on a toy factor grid."""

import numpy as np
import pytest
from _metrics_toy import ToyEncoder, ToyGrid

from untwine.metrics import CodeTable, beta_vae_score, evaluate, factor_vae_score

SMALL = {"num_train": 500, "num_eval": 300, "num_variance_estimate": 1000}


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
    small = {"num_train": 300, "num_eval": 200}
    good = beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), **small)
    assert good["eval_accuracy"] > 0.95
    svm = beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), classifier="linear_svm", **small)
    assert 0.0 <= svm["eval_accuracy"] <= 1.0
    noise = beta_vae_score(ds, ToyEncoder(ds, mixing=np.zeros((5, 5)), extra=5), np.random.default_rng(0), **small)
    assert noise["eval_accuracy"] < 0.5
    with pytest.raises(ValueError, match="classifier"):
        beta_vae_score(ds, ToyEncoder(ds), np.random.default_rng(0), classifier="mlp")


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
    opts = {"factor_vae_score": SMALL, "beta_vae_score": {"num_train": 300, "num_eval": 200},
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
