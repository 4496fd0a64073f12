import json

import numpy as np
import pytest
import torch

from untwine.data import get_dataset
from untwine.data.hwf import SYMBOLS, draw_operator_glyphs

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def official(tmp_path):
    """A tiny HWF tree: 3 expressions, symbol images of flat grey value = 10 * class."""
    sym = tmp_path / "Handwritten_Math_Symbols"
    exprs = [("1+2", ["1/1_1.jpg", "+/+_1.jpg", "2/2_7.jpg"]),
             ("3*4/5", ["3/3_2.jpg", "times/times_3.jpg", "4/4_1.jpg", "div/div_1.jpg", "5/5_9.jpg"]),
             ("1-2", ["1/1_1.jpg", "-/-_4.jpg", "2/2_8.jpg"])]
    for expr, paths in exprs:
        for ch, p in zip(expr, paths):
            k = {"+": 10, "-": 11, "*": 12, "/": 13}.get(ch, None)
            k = int(ch) if k is None else k
            (sym / p).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((45, 45), 10 * k, dtype=np.uint8)).save(sym / p, quality=100)
    recs = [{"id": str(i), "img_paths": p, "expr": e, "res": 0} for i, (e, p) in enumerate(exprs)]
    (tmp_path / "expr_train.json").write_text(json.dumps(recs))
    return tmp_path


def test_official_layout(official):
    ds = get_dataset("hwf", path=str(official), invert=False)
    assert ds.factor_sizes == (13,) and ds.name == "hwf"
    # unique images: 1_1, +_1, 2_7, 3_2, times_3, 4_1, 5_9, -_4, 2_8 (div dropped)
    assert len(ds) == 9
    cls = ds.index_to_classes(np.arange(len(ds)))[:, 0]
    x = ds.images(np.arange(len(ds)))
    assert x.shape == (9, 1, 45, 45) and x.dtype == torch.uint8
    np.testing.assert_allclose(x.float().mean((1, 2, 3)).numpy(), 10 * cls, atol=2)  # class matches image
    assert sorted(cls.tolist()) == [1, 2, 2, 3, 4, 5, 10, 11, 12]
    with_div = get_dataset("hwf", path=str(official), include_div=True)
    assert with_div.factor_sizes == (14,) and len(with_div) == 10
    inv = get_dataset("hwf", path=str(official))
    assert torch.equal(inv.images([0]), 255 - ds.images([0]))
    # no json: scan the symbol folders
    (official / "expr_train.json").rename(official / "other.json")
    assert len(get_dataset("hwf", path=str(official))) == 9


def test_official_errors(tmp_path, official):
    with pytest.raises(ValueError, match="Handwritten_Math_Symbols"):
        get_dataset("hwf", path=str(tmp_path / "nope"))
    recs = json.loads((official / "expr_train.json").read_text())
    recs[0]["img_paths"] = recs[0]["img_paths"][:2]
    (official / "expr_train.json").write_text(json.dumps(recs))
    with pytest.raises(ValueError, match="3 symbols but 2 images"):
        get_dataset("hwf", path=str(official))


def test_standin_classes_and_images():
    ds = get_dataset("hwf", ops_per_class=50)
    assert ds.name == "hwf_standin" and ds.factor_names == ("symbol",) and ds.factor_sizes == (13,)
    counts = ds.combination_counts()
    assert counts[10:].tolist() == [50, 50, 50] and counts[:10].sum() == 1797
    rng = np.random.default_rng(0)
    want = np.arange(13)[:, None]
    idx = ds.indices_from_classes(want, rng)
    np.testing.assert_array_equal(ds.index_to_classes(idx), want)
    x = ds.images(idx)
    assert x.shape == (13, 1, 45, 45) and x.max() > 200 and x[:, :, 0, :].max() < 50
    with pytest.raises(ValueError, match="division"):
        get_dataset("hwf", include_div=True)
    assert torch.equal(get_dataset("hwf", ops_per_class=50).images(idx), x)  # seeded


def test_operator_glyph_geometry():
    rng = np.random.default_rng(0)
    minus = draw_operator_glyphs("-", 20, rng).astype(float)
    plus = draw_operator_glyphs("+", 20, rng).astype(float)
    times = draw_operator_glyphs("times", 20, rng).astype(float)
    # a minus is wide and flat; plus and times cover both directions
    h = lambda g: (g > 128).any(2).sum(1)  # rows with ink
    w = lambda g: (g > 128).any(1).sum(1)  # columns with ink
    assert np.all(w(minus) > 2 * h(minus))
    assert np.all(h(plus) > 12) and np.all(h(times) > 12)
    assert SYMBOLS[12] == "times"
    with pytest.raises(ValueError):
        draw_operator_glyphs("/", 1, rng)
