import numpy as np
import pytest
import torch

from untwine.data import get_dataset, make_sampler
from untwine.data.weak import EntitySpec
from weak_toy import ToyGrid


@pytest.fixture(scope="module")
def dsprites():
    return get_dataset("dsprites", lazy=True)


def test_dsprites_seed000_entities(dsprites):
    spec = EntitySpec.preset(dsprites)
    assert spec.num_entities == 27
    # shape ellipse (1), posX class 30 (right bin 2), posY class 15 (centre bin 1): 1*9 + 2*3 + 1
    c = np.array([[0, 1, 3, 0, 30, 15], [0, 1, 3, 0, 6, 15], [0, 1, 1, 0, 30, 15], [0, 2, 4, 38, 0, 31]])
    np.testing.assert_array_equal(spec.entity_of(c), [16, -1, -1, 2 * 9 + 0 + 2])
    assert spec.entity_names()[16] == "shape=ellipse,posX=right,posY=center"


def test_few_labels_counts_exact_on_dsprites(dsprites):
    s = make_sampler("few_labels", dsprites, 64, seed=1, tau=3)
    lab = s.labelled
    assert lab["index"].shape == (81,)
    np.testing.assert_array_equal(np.bincount(lab["entity"].numpy(), minlength=27), np.full(27, 3))
    np.testing.assert_array_equal(s.entity_of_index(lab["index"]), lab["entity"].numpy())
    cls = lab["classes"].numpy()
    assert set(np.unique(cls[:, 2])) <= {2, 3, 4} and set(np.unique(cls[:, 3])) <= {0, 1, 2, 37, 38, 39}
    b = next(s)
    assert b["x"].shape == (64, 1, 64, 64) and b["x"].dtype == torch.uint8
    assert (s.entity_of_index(b["index"]) >= 0).all()   # the stream stays inside the entities' grid
    xl = s.labelled_batch()["x"]
    assert torch.equal(xl[:2], dsprites.images(lab["index"][:2]))
    # same seed -> same labelled set; other seed -> another one
    assert torch.equal(make_sampler("few_labels", dsprites, 8, seed=1, tau=3).labelled["index"], lab["index"])
    assert not torch.equal(make_sampler("few_labels", dsprites, 8, seed=2, tau=3).labelled["index"], lab["index"])


def test_few_labels_other_datasets():
    s3 = make_sampler("few_labels", get_dataset("shapes3d"), 4, seed=0, tau=2)
    assert s3.spec.num_entities == 120
    np.testing.assert_array_equal(np.bincount(s3.labelled["entity"].numpy()), np.full(120, 2))
    scale = s3.labelled["classes"][:, 3].numpy()
    assert not np.isin(scale, [2, 5]).any()
    hwf = get_dataset("hwf", ops_per_class=30)
    s = make_sampler("few_labels", hwf, 16, seed=0, tau=10)
    np.testing.assert_array_equal(np.bincount(s.labelled["entity"].numpy()), np.full(13, 10))
    np.testing.assert_array_equal(s.labelled["classes"][:, 0].numpy(), s.labelled["entity"].numpy())
    assert next(s)["x"].shape == (16, 1, 45, 45)


def test_few_labels_custom_bins_and_errors():
    ds = ToyGrid()
    s = make_sampler("few_labels", ds, 50, seed=0, tau=4,
                     entities={"bins": {"a": [[0], [2]], "c": [[0, 1], [3, 4]]}, "restrict": {"b": [1]}})
    assert s.spec.num_entities == 4
    cls = s.labelled["classes"].numpy()
    np.testing.assert_array_equal(np.bincount(s.labelled["entity"].numpy()), [4, 4, 4, 4])
    assert set(cls[:, 1]) == {1} and set(cls[:, 0]) <= {0, 2} and not np.isin(cls[:, 2], [2]).any()
    b = next(s)
    from weak_toy import classes_of
    bc = classes_of(b["x"])
    assert set(bc[:, 1]) == {1} and set(bc[:, 0]) <= {0, 2}
    with pytest.raises(ValueError, match="no seed-000 entity preset"):
        make_sampler("few_labels", ds, 4)
    with pytest.raises(ValueError, match="tau"):
        make_sampler("few_labels", ds, 4, tau=0, entities={"bins": {"a": [[0]]}})
    with pytest.raises(ValueError, match="two bins"):
        make_sampler("few_labels", ds, 4, entities={"bins": {"a": [[0, 1], [1]]}})
    with pytest.raises(ValueError, match="unknown factor"):
        make_sampler("few_labels", ds, 4, entities={"bins": {"size": [[0]]}})


def test_labelled_batches_compatibility_option(dsprites):
    s = make_sampler("few_labels", dsprites, 100, seed=0, labelled_batches=3)
    ent = s.labelled["entity"].numpy()
    assert len(ent) == 300 and (ent >= 0).all()
    np.testing.assert_array_equal(s.entity_of_index(s.labelled["index"]), ent)
    counts = np.bincount(ent, minlength=27)
    assert counts.min() > 0 and counts.max() < 30  # roughly uniform over the 27 entities

