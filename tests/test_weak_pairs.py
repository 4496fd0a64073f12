import numpy as np
import pytest
import torch

from untwine.data import make_sampler
from weak_toy import ToyGrid, classes_of


def _check_members(b, x):
    cls = classes_of(x)  # (B, K, F) from the pixels
    np.testing.assert_array_equal(cls, b["classes"].numpy())
    shared = b["shared"].numpy()
    for m in range(1, cls.shape[1]):
        same = cls[:, m] == cls[:, 0]
        assert np.all(same[shared]), "a shared factor differs"
    return cls, shared


def test_pairs_fixed_shared_set():
    ds = ToyGrid()
    b = next(make_sampler("pairs", ds, 256, seed=1, shared_factors=["a", "c"]))
    assert b["x1"].shape == (256, 1, 2, 3) and b["shared"].dtype == torch.bool
    cls, shared = _check_members(b, torch.stack([b["x1"], b["x2"]], 1))
    assert np.all(shared == np.array([True, False, True]))
    # b is redrawn independently: it coincides with probability 1/4
    same_b = np.mean(cls[:, 0, 1] == cls[:, 1, 1])
    assert 0.1 < same_b < 0.4
    assert torch.all(b["group"] == 0)


def test_pairs_force_different_share_exactly():
    ds = ToyGrid()
    b = next(make_sampler("pairs", ds, 512, seed=2, shared_factors="b", force_different=True))
    cls, shared = _check_members(b, torch.stack([b["x1"], b["x2"]], 1))
    same = cls[:, 0] == cls[:, 1]
    np.testing.assert_array_equal(same, shared)  # share exactly the stated factors


def test_groups_of_k_and_several_groups():
    ds = ToyGrid()
    s = make_sampler("groups", ds, 300, seed=3, group_size=4, shared_factors=[["a"], ["b", "c"]])
    b = next(s)
    assert b["x"].shape == (300, 4, 1, 2, 3)
    _, shared = _check_members(b, b["x"])
    g = b["group"].numpy()
    np.testing.assert_array_equal(shared[g == 0], np.tile([True, False, False], ((g == 0).sum(), 1)))
    np.testing.assert_array_equal(shared[g == 1], np.tile([False, True, True], ((g == 1).sum(), 1)))
    assert 0.35 < g.mean() < 0.65


def test_k_random_factors_locatello():
    ds = ToyGrid(names=("const", "a", "b", "c"), sizes=(1, 3, 4, 5))
    b = next(make_sampler("pairs", ds, 600, seed=4, k=1, force_different=True))
    cls, shared = _check_members(b, torch.stack([b["x1"], b["x2"]], 1))
    assert np.all(shared[:, 0])  # single-class factor is always shared
    assert np.all((~shared).sum(1) == 1)
    np.testing.assert_array_equal(cls[:, 0] == cls[:, 1], shared)
    changed = np.argmax(~shared, axis=1)
    assert set(np.unique(changed)) == {1, 2, 3}
    b = next(make_sampler("pairs", ds, 600, seed=4, k=-1))
    kk = (~b["shared"]).sum(1).numpy()
    np.testing.assert_array_equal(kk, b["k"].numpy())
    assert set(np.unique(kk)) == {1, 2}
    b = next(make_sampler("pairs", ds, 600, seed=4, k=3, k_mode="disentanglement_lib"))
    assert set(np.unique(b["k"].numpy())) == {1, 3}


def test_pairs_errors():
    ds = ToyGrid()
    with pytest.raises(ValueError, match="exactly one"):
        make_sampler("pairs", ds, 4)
    with pytest.raises(ValueError, match="unknown factor 'size'"):
        make_sampler("pairs", ds, 4, shared_factors=["size"])
    with pytest.raises(ValueError, match="k must be"):
        make_sampler("pairs", ds, 4, k=7)
    with pytest.raises(ValueError, match="preset 'seed003' has no groups for dataset"):
        make_sampler("pairs", ds, 4, shared_factors="seed003")
    with pytest.raises(ValueError, match="group_size"):
        make_sampler("groups", ds, 4, group_size=1, k=1)


def test_pairs_resume_exact():
    ds = ToyGrid()
    a = make_sampler("groups", ds, 16, seed=7, group_size=3, k=-1)
    next(a)
    st = a.state_dict()
    want = next(a)
    b = make_sampler("groups", ds, 16, seed=0, group_size=3, k=-1)
    b.load_state_dict(st)
    got = next(b)
    assert torch.equal(want["x"], got["x"]) and torch.equal(want["shared"], got["shared"])


def test_pairs_on_real_datasets_seed003_groups():
    from untwine.data import get_dataset

    ds = get_dataset("dsprites", lazy=True)
    b = next(make_sampler("pairs", ds, 32, seed=0, shared_factors="seed003", force_different=True))
    assert b["x1"].shape == (32, 1, 64, 64)
    c = ds.index_to_classes(b["index"].reshape(-1)).reshape(32, 2, -1)
    np.testing.assert_array_equal(c, b["classes"].numpy())
    np.testing.assert_array_equal(c[:, 0] == c[:, 1], b["shared"].numpy())
    content = np.array([True, True, True, False, False, False])  # color (single class), shape, scale
    g = b["group"].numpy()
    np.testing.assert_array_equal(b["shared"].numpy(), np.where(g[:, None] == 0, content, ~content | [True, 0, 0, 0, 0, 0]))
    assert torch.equal(b["x1"], ds.images(b["index"][:, 0]))
    s3 = next(make_sampler("groups", get_dataset("shapes3d"), 4, seed=0, group_size=3, shared_factors="seed003"))
    assert s3["x"].shape == (4, 3, 3, 64, 64)


def test_pairs_on_a_collection():
    from untwine.data import get_dataset

    ds = get_dataset("colored_mnist")
    b = next(make_sampler("pairs", ds, 64, seed=0, shared_factors=["digit"], force_different=True))
    c = ds.index_to_classes(b["index"].reshape(-1)).reshape(64, 2, 2)
    np.testing.assert_array_equal(c, b["classes"].numpy())
    assert np.all(c[:, 0, 1] == c[:, 1, 1]) and np.all(c[:, 0, 0] != c[:, 1, 0])
