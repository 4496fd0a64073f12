import numpy as np
import pytest
import torch

from untwine.data import get_dataset, make_sampler
from untwine.data.weak import EntitySpec, relation_table
from weak_toy import ToyGrid, classes_of


def dsprites_like():
    ds = ToyGrid(names=("color", "shape", "scale", "orientation", "posX", "posY"), sizes=(1, 3, 6, 40, 32, 32))
    ds.name = "dsprites"
    return ds


def test_dsprites_relations_table():
    spec = EntitySpec.preset(dsprites_like())
    t = relation_table(spec)
    assert t.names == ["left", "right", "up", "down", "shape"] and t.arity == 1
    e = lambda s, x, y: s * 9 + x * 3 + y
    assert t.apply("left", [e(0, 0, 1)])[0] == e(0, 2, 1)       # wraps left -> right
    assert t.apply("right", [e(2, 1, 0)])[0] == e(2, 2, 0)
    assert t.apply("up", [e(1, 1, 0)])[0] == e(1, 1, 2)         # wraps up -> down
    assert t.apply("down", [e(1, 1, 1)])[0] == e(1, 1, 2)
    assert t.apply("shape", [e(2, 0, 0)])[0] == e(0, 0, 0)      # heart -> square
    src = np.arange(27)
    np.testing.assert_array_equal(t.apply_depth("left", np.stack([src] * 3, 1)), src)  # 3 moves = identity


def test_relation_sampler_targets_and_images():
    ds = dsprites_like()
    s = make_sampler("relations", ds, 20, seed=0, images=True)
    b = next(s)
    assert b["source"].shape == (100, 1) and torch.equal(b["relation"], torch.arange(5).repeat_interleave(20))
    np.testing.assert_array_equal(b["target"].numpy(), s.table.apply(b["relation"].numpy(), b["source"][:, 0].numpy()))
    assert (b["relation_entity"] == -1).all()
    src_cls = classes_of(b["x_source"][:, 0])
    tgt_cls = classes_of(b["x_target"])
    np.testing.assert_array_equal(s.spec.entity_of(src_cls), b["source"][:, 0].numpy())
    np.testing.assert_array_equal(s.spec.entity_of(tgt_cls), b["target"].numpy())
    r = make_sampler("relations", ds, 64, seed=0, per_relation=False)
    assert next(r)["relation"].shape == (64,)


def test_shapes3d_relations_clamp_and_wrap():
    spec = EntitySpec.preset(get_dataset("shapes3d"))
    t = relation_table(spec)
    e = lambda h, s, c: h * 12 + s * 3 + c
    assert t.apply("more_hue", [e(9, 1, 1)])[0] == e(9, 1, 1)   # clamped at the last hue
    assert t.apply("less_hue", [e(4, 1, 1)])[0] == e(3, 1, 1)
    assert t.apply("bigger", [e(0, 0, 2)])[0] == e(0, 0, 2)
    assert t.apply("smaller", [e(0, 0, 2)])[0] == e(0, 0, 1)
    assert t.apply("shape", [e(5, 3, 0)])[0] == e(5, 0, 0)
    assert relation_table(spec, wrap=True).apply("more_hue", [e(9, 1, 1)])[0] == e(0, 1, 1)


def test_hwf_binary_relations():
    hwf = get_dataset("hwf", ops_per_class=20)
    s = make_sampler("relations", hwf, 50, seed=3, images=True)
    b = next(s)
    a, c = b["source"][:, 0].numpy(), b["source"][:, 1].numpy()
    assert a.max() <= 9 and c.max() <= 9
    rel = b["relation"].numpy()
    want = np.select([rel == 0, rel == 1, rel == 2], [(a + c) % 10, (a - c) % 10, (a * c) % 10])
    np.testing.assert_array_equal(b["target"].numpy(), want)
    np.testing.assert_array_equal(b["relation_entity"].numpy(), rel + 10)
    assert b["x_source"].shape == (150, 2, 1, 45, 45)
    assert s.table.apply_depth("sum", np.array([[3, 4, 5]]))[0] == 2   # (3 + 4 + 5) mod 10
    assert s.table.apply_depth("difference", np.array([[3, 4]]))[0] == 9


def test_relation_errors():
    with pytest.raises(ValueError, match="no seed-000"):
        make_sampler("relations", ToyGrid(), 4, entities={"bins": {"a": [[0], [1]]}})
    spec = EntitySpec.preset(dsprites_like())
    with pytest.raises(ValueError, match="unknown relation"):
        relation_table(spec).apply("jump", [0])
