import numpy as np
import pytest
import torch

from untwine.data import make_sampler
from weak_toy import ToyGrid, classes_of


def test_weak_labels_from_dataset_hook():
    ds = ToyGrid()
    s = make_sampler("weak_labels", ds, batch_size=32, seed=3, resolution=3)
    b = next(s)
    assert b["x"].dtype == torch.uint8 and b["x"].shape == (32, 1, 2, 3)
    assert b["labels"].dtype == torch.float32 and b["labels"].shape == (32, 6)
    cls = classes_of(b["x"])
    np.testing.assert_array_equal(cls, ds.index_to_classes(b["index"]))
    np.testing.assert_array_equal(b["labels"].numpy(), ds.weak_labels(cls, resolution=3))
    assert torch.all(b["labels"].sum(1) == 2)


def test_weak_labels_user_fn_and_shapes():
    ds = ToyGrid()
    s = make_sampler("weak_labels", ds, batch_size=16, seed=0, label_fn=lambda c: c[:, 2] % 2)
    b = next(s)
    assert b["labels"].shape == (16, 1)
    np.testing.assert_array_equal(b["labels"][:, 0].numpy(), classes_of(b["x"])[:, 2] % 2)
    with pytest.raises(ValueError, match="shape"):
        next(make_sampler("weak_labels", ds, 4, label_fn=lambda c: np.zeros((3, 2))))


def test_weak_labels_errors():
    ds = ToyGrid()
    del_hook = type("NoHook", (ToyGrid,), {"weak_labels": None})()
    with pytest.raises(ValueError, match="label_fn"):
        make_sampler("weak_labels", del_hook, 4)
    with pytest.raises(ValueError, match="only passed"):
        make_sampler("weak_labels", ds, 4, label_fn=lambda c: c, resolution=2)
    with pytest.raises(ValueError, match="bogus"):
        make_sampler("weak_labels", ds, 4, bogus=1)


def test_weak_labels_deterministic_and_resumable():
    ds = ToyGrid()
    a = make_sampler("weak_labels", ds, 8, seed=5)
    next(a)
    state = a.state_dict()
    want = next(a)
    b = make_sampler("weak_labels", ds, 8, seed=99)
    b.load_state_dict(state)
    got = next(b)
    assert torch.equal(want["index"], got["index"]) and torch.equal(want["labels"], got["labels"])
    c = make_sampler("weak_labels", ds, 8, seed=5)
    d = make_sampler("weak_labels", ds, 8, seed=5)
    assert torch.equal(next(c)["x"], next(d)["x"])


def test_weak_labels_on_blobs_polar_bins():
    from untwine.data import get_dataset

    ds = get_dataset("blobs")
    s = make_sampler("weak_labels", ds, 64, seed=0, resolution=3)
    b = next(s)
    assert b["x"].shape[0] == 64 and b["labels"].shape == (64, 6)
    np.testing.assert_array_equal(b["labels"].numpy(), ds.weak_labels(ds.index_to_classes(b["index"]), resolution=3))
    assert torch.all(b["labels"][:, :3].sum(1) == 1) and torch.all(b["labels"][:, 3:].sum(1) == 1)
