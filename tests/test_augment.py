"""Seed 000's augmentation (untwine.data.augment): fixed corrupted copies, and a split by base image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import ToySquares
from untwine.data import get_dataset
from untwine.data.augment import AugmentedCopies
from untwine.data.samplers import make_sampler
from untwine.data.weak.entities import EntitySpec


def test_copies_are_the_original_noisy_and_dropped_images_and_fixed():
    base = ToySquares()
    aug = AugmentedCopies(base)
    assert len(aug) == 7 * len(base) and aug.copies == 7
    i = 5
    x = aug.images(np.arange(7 * i, 7 * i + 7))
    orig = base.images([i])[0]
    assert torch.equal(x[0], orig)  # copy 0 is the image itself
    fg, bg = orig > 0, orig == 0
    for c in range(1, 4):  # noise on the foreground only, clipped to [0, 1]
        assert torch.equal(x[c][bg], orig[bg]) and not torch.equal(x[c], orig)
        assert (x[c][fg] < 255).float().mean() > 0.3  # the white square is noisy (half the noise is clipped)
    for c in range(4, 7):  # ~30% of the pixels zeroed, the rest unchanged
        zeroed = (orig > 0) & (x[c] == 0)
        assert 0.2 < zeroed.float().sum() / fg.float().sum() < 0.4
        assert torch.equal(x[c][x[c] > 0], orig[x[c] > 0])
    assert torch.equal(aug.images([7 * i + 2]), x[2:3])  # the same image every time
    assert not torch.equal(x[1], x[2]) and not torch.equal(x[4], x[5])  # copies differ
    np.testing.assert_array_equal(aug.index_to_classes(np.arange(7 * i, 7 * i + 7)), base.index_to_classes([i] * 7))


def test_the_split_keeps_all_copies_of_an_image_on_one_side():
    base = ToySquares()
    train, test = AugmentedCopies(base, holdout=0.25, part="train"), AugmentedCopies(base, holdout=0.25, part="test")
    assert len(train) + len(test) == 7 * len(base) and 0.1 < len(test) / (7 * len(base)) < 0.45
    tr = {tuple(c) for c in train.index_to_classes(np.arange(len(train)))}
    te = {tuple(c) for c in test.index_to_classes(np.arange(len(test)))}
    assert not tr & te  # no base image (so no copy of one) on both sides
    rng = np.random.default_rng(0)
    drawn = train.sample_classes(500, rng)
    assert train.accepts_classes(drawn).all() and not test.accepts_classes(drawn).any()
    with pytest.raises(ValueError, match="other part"):
        train.indices_from_classes(test.index_to_classes([0]), rng)
    with pytest.raises(ValueError, match="needs a held-out fraction"):
        AugmentedCopies(base, part="train")


def test_entity_sampling_and_the_few_label_sampler_stay_in_the_part():
    base = ToySquares()
    train = AugmentedCopies(base, holdout=0.3, part="train")
    spec = EntitySpec(train, {"row": [[0, 1, 2], [3, 4, 5]]})
    rng = np.random.default_rng(1)
    assert train.accepts_classes(spec.sample_classes(np.repeat([0, 1], 200), rng)).all()
    assert train.accepts_classes(spec.sample_allowed_classes(400, rng)).all()
    s = make_sampler("few_labels", train, 32, seed=0, tau=3, entities={"bins": {"row": [[0, 1, 2], [3, 4, 5]]}})
    assert train.accepts_classes(train.index_to_classes(s.labelled["index"].numpy())).all()
    b = next(s)
    assert b["x"].shape == (32, 1, 64, 64)


def test_the_dataset_option_and_its_errors():
    ds = get_dataset("dsprites", lazy=True, augment={"holdout": 0.1, "part": "test"})
    assert isinstance(ds, AugmentedCopies) and ds.name == "dsprites" and 0.05 < len(ds) / (7 * 737280) < 0.15
    assert ds.images([0, 1]).shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match="augment: .*options are"):
        get_dataset("dsprites", lazy=True, augment={"copies": 3})
    with pytest.raises(ValueError, match="holdout must be in"):
        get_dataset("dsprites", lazy=True, augment={"holdout": 1.5})
