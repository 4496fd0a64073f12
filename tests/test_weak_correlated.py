import numpy as np
import pytest
from untwine.data import get_dataset, make_sampler
from untwine.data.weak import (IndexSubset, correlated_datasets, correlated_split, expected_correlation,
                               factor_correlation)
from weak_toy import ToyGrid


@pytest.fixture(scope="module")
def dsprites():
    return get_dataset("dsprites", lazy=True)


def test_dsprites_posx_scale_correlation(dsprites):
    f = ("posX", "scale")
    train, test = correlated_split(dsprites, factors=f, sigma=0.2, n_train=40_000, n_test=5_000, seed=0)
    assert len(train) == 40_000 and len(test) == 5_000 == len(np.unique(test))
    assert not np.isin(train, test).any()
    want = expected_correlation(dsprites, f, 0.2)
    assert 0.5 < want < 0.95
    assert abs(factor_correlation(dsprites, train, f) - want) < 0.02
    assert abs(factor_correlation(dsprites, test, f)) < 0.05   # held-out set stays uniform
    ind, _ = correlated_split(dsprites, factors=f, sigma=None, n_train=40_000, n_test=5_000, seed=0)
    assert abs(factor_correlation(dsprites, ind, f)) < 0.03
    anti, _ = correlated_split(dsprites, factors=f, sigma=0.2, n_train=40_000, n_test=0, alpha=-1, seed=1)
    assert abs(factor_correlation(dsprites, anti, f) + want) < 0.03
    strong = expected_correlation(dsprites, f, 0.1)
    assert strong > want


def test_seed004_defaults_and_subsets():
    ds = get_dataset("shapes3d")
    tr, te = correlated_datasets(ds, seed=0)
    assert len(tr) == 100_000 and len(te) == 50_000
    f = ("floor_hue", "wall_hue")
    assert abs(factor_correlation(ds, tr.indices, f) - expected_correlation(ds, f, 0.2)) < 0.02
    np.testing.assert_array_equal(tr.index_to_classes([0, 1]), ds.index_to_classes(tr.indices[:2]))
    b = next(make_sampler("images", tr, 4, seed=0))
    assert b["x"].shape == (4, 3, 64, 64)
    c = tr.sample_classes(20_000, np.random.default_rng(0))
    assert np.corrcoef(c[:, 0], c[:, 1])[0, 1] > 0.5   # empirical (correlated) distribution


def test_subset_keeps_weak_label_hook():
    ds = ToyGrid()
    sub = IndexSubset(ds, [0, 5, 5, 59])
    s = make_sampler("weak_labels", sub, 8, seed=0, resolution=2)
    b = next(s)
    np.testing.assert_array_equal(b["labels"].numpy(), ds.weak_labels(sub.index_to_classes(b["index"]), 2))


def test_correlated_errors(dsprites):
    ds = ToyGrid()
    with pytest.raises(ValueError, match="no seed-004"):
        correlated_split(ds)
    with pytest.raises(ValueError, match="unknown factor"):
        correlated_split(ds, factors=("a", "zz"), n_train=10)
    with pytest.raises(ValueError, match="sigma"):
        correlated_split(ds, factors=("a", "b"), sigma=0, n_train=10)
    with pytest.raises(ValueError, match="n_test"):
        correlated_split(ds, factors=("a", "b"), n_train=10, n_test=60)
