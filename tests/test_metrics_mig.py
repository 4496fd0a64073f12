"""MIG and the evaluate() suite: known answers, invariances, bad input."""

import numpy as np
import pytest
from _metrics_toy import ToyEncoder, ToyGrid
from sklearn.metrics import mutual_info_score

from untwine.metrics import (available_metrics, discrete_mutual_info, evaluate, format_table,
                             histogram_discretize, metric_environment, mig)


def _disentangled(n=10000, seed=0, sizes=(3, 6, 10, 8, 8)):
    rng = np.random.default_rng(seed)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    z = np.exp(2 * (y + rng.uniform(0, 1, y.shape)) / np.asarray(sizes)) - 1  # monotone in each factor
    return z, y, rng


def test_histogram_and_mi_equal_reference_functions():
    z, y, rng = _disentangled(3000)
    z = z + rng.standard_normal(z.shape)
    d = histogram_discretize(z, 20)
    ref = np.stack([np.digitize(z[:, i], np.histogram(z[:, i], 20)[1][:-1]) for i in range(z.shape[1])], 1)
    np.testing.assert_array_equal(d, ref)
    m = discrete_mutual_info(d, y)
    ref_m = np.array([[mutual_info_score(y[:, j], d[:, i]) for j in range(y.shape[1])] for i in range(d.shape[1])])
    np.testing.assert_allclose(m, ref_m, atol=1e-12)


def test_mig_known_answers():
    z, y, rng = _disentangled()
    good = mig(z, y)["mig"]
    assert good > 0.9
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert mig(z @ q, y)["mig"] < good - 0.3  # a random rotation entangles
    assert mig(rng.standard_normal(z.shape), y)["mig"] < 0.02  # pure noise
    assert mig(np.concatenate([z, z], 1), y)["mig"] == pytest.approx(0.0, abs=1e-12)  # every latent duplicated
    one_dup = mig(np.concatenate([z, z[:, :1]], 1), y)["mig"]  # factor 0's gap drops to 0
    assert one_dup < good - 0.15


def test_mig_invariances():
    z, y, rng = _disentangled()
    base = mig(z, y)["mig"]
    perm = rng.permutation(z.shape[1])
    assert mig(z[:, perm], y)["mig"] == pytest.approx(base, abs=1e-12)
    # affine maps (either sign) leave the equal-width bins unchanged: exact invariance
    affine = z * np.array([-3.0, 0.5, 2.0, -1.0, 10.0]) + np.array([7.0, -1.0, 0.0, 3.0, 1e3])
    assert mig(affine, y)["mig"] == pytest.approx(base, abs=1e-12)
    # other monotone maps move the bin edges: the histogram estimate changes only a little
    mono = np.stack([np.log1p(z[:, 0]), np.sqrt(z[:, 1]), z[:, 2] ** 1.5, -np.log1p(z[:, 3]), z[:, 4] ** 0.7], 1)
    assert mig(mono, y)["mig"] == pytest.approx(base, abs=0.05)


def test_mig_bad_input():
    z, y, _ = _disentangled(500)
    with pytest.raises(ValueError, match="different numbers of samples"):
        mig(z[:-1], y)
    bad = z.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mig(bad, y)
    const = y.copy()
    const[:, 1] = 2
    with pytest.warns(RuntimeWarning, match=r"factor\(s\) \[1\]"):
        r = mig(z, const)["mig"]
    assert r == pytest.approx(np.mean([mig(z, y[:, [k]])["mig"] for k in (0, 2, 3, 4)]), abs=0.05)
    with pytest.raises(ValueError, match="every factor is constant"):
        mig(z, np.zeros_like(y))
    with pytest.raises(ValueError, match="integer"):
        mig(z, y + 0.5)
    # fewer samples than bins: still defined (empty bins carry no mass)
    assert np.isfinite(mig(z[:7], y[:7])["mig"])


def test_evaluate_flat_dict_and_encodes_each_image_once():
    ds = ToyGrid()
    enc = ToyEncoder(ds)
    t = {}
    r = evaluate(enc, ds, metrics=["mig"], seed=0, timings=t)
    assert set(r) == {"mig"} and r["mig"] > 0.9
    first = enc.images_seen
    assert first == t["images_encoded"] <= 10000
    r2 = evaluate(enc, ds, metrics="mig", seed=0)
    assert r2 == r  # deterministic
    assert evaluate(enc, ds, metrics="mig", seed=1)["mig"] != r["mig"]


def test_evaluate_errors_and_helpers():
    ds = ToyGrid()
    with pytest.raises(ValueError, match="unknown metric 'migg'.*available: mig"):
        evaluate(ToyEncoder(ds), ds, metrics=["migg"])
    assert "mig" in available_metrics()
    env = metric_environment()
    assert {"torch", "numpy", "scikit-learn"} <= set(env)
    assert "mig" in format_table({"mig": 0.5})
