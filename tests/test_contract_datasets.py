"""Contract tests over every registered dataset (``untwine.data.available_datasets()``).

Each dataset is built small and offline: procedural datasets with their cheapest options, the
file-backed ones (CelebA, Flowers-102, 3D Chairs, image folders) from a few generated files in
the real layout. A dataset registered later is built with ``get_dataset(name)`` and tested with
no new code here; if that needs files, the test fails and asks for a builder in ``BUILDERS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from untwine.data import GroundTruthDataset, available_datasets, get_dataset
from untwine.data.base import FactorGridDataset


def _png(path: Path, w: int, h: int, value: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((h, w, 3), np.uint8)
    a[...] = value
    a[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 255
    Image.fromarray(a).save(path)


def _celeba(tmp: Path) -> GroundTruthDataset:
    root = tmp / "celeba"
    rows = {f"{i:06d}.png": [1 if i % 2 else -1, 1 if i % 3 else -1] for i in range(1, 7)}
    for i, f in enumerate(rows):
        _png(root / "img_align_celeba" / f, 178, 218, (30 * i, 90, 200))
    (root / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\nSmiling Male\n" + "\n".join(f"{f} " + " ".join(map(str, v)) for f, v in rows.items()))
    return get_dataset("celeba", path=str(root))


def _flowers102(tmp: Path) -> GroundTruthDataset:
    pytest.importorskip("scipy.io", reason="flowers102 reads .mat labels with scipy")
    from scipy.io import savemat

    root = tmp / "flowers"
    for i in range(1, 6):
        _png(root / "jpg" / f"image_{i:05d}.jpg", 80, 60, (40 * i, 0, 0))
    savemat(root / "imagelabels.mat", {"labels": np.array([[3, 3, 1, 102, 7]])})
    return get_dataset("flowers102", path=str(root))


def _chairs(tmp: Path) -> Path:
    base = tmp / "chairs" / "rendered_chairs"
    for c in ("1a2b", "9f"):
        for p in (20, 30):
            for t in (0, 11, 23):
                _png(base / c / "renders" / f"image_{t:03d}_p{p:03d}_t{t:03d}_r096.png", 60, 60, (p, t, 9))
    return base


def _chairs3d(tmp: Path) -> GroundTruthDataset:
    _chairs(tmp)
    return get_dataset("chairs3d", path=str(tmp / "chairs"))


def _image_folder(tmp: Path) -> GroundTruthDataset:
    return get_dataset("image_folder", path=str(_chairs(tmp)), labels="subfolder", size=32, channels=1)


NEEDS_PIL = {"celeba", "flowers102", "chairs3d", "image_folder", "hwf"}
BUILDERS: dict[str, Callable[[Path], GroundTruthDataset]] = {
    "dsprites": lambda tmp: get_dataset("dsprites", lazy=True),  # renders each batch, no cache
    "shapes3d": lambda tmp: get_dataset("shapes3d", supersample=1, shadow_rays=1),
    "celeba": _celeba,
    "flowers102": _flowers102,
    "chairs3d": _chairs3d,
    "image_folder": _image_folder,
}


@pytest.fixture(params=available_datasets())
def dataset(request, tmp_path, monkeypatch) -> GroundTruthDataset:
    name = request.param
    monkeypatch.setenv("UNTWINE_CACHE_DIR", str(tmp_path / "cache"))
    if name in NEEDS_PIL:
        pytest.importorskip("PIL.Image", reason=f"{name} reads image files with Pillow")
    build = BUILDERS.get(name, lambda tmp: get_dataset(name))
    try:
        return build(tmp_path)
    except ValueError as e:  # the default builder needs files: say where to add a builder
        if name in BUILDERS:
            raise
        pytest.fail(f"get_dataset({name!r}) does not build offline ({e}); add a small builder to BUILDERS")


def _some_indices(ds: GroundTruthDataset) -> np.ndarray:
    n = len(ds)
    rng = np.random.default_rng(0)
    return np.unique(np.concatenate([[0, n - 1], rng.integers(0, n, 6)])).astype(np.int64)


def test_declared_factors(dataset):
    ds = dataset
    assert len(ds) > 0
    assert len(ds.factor_names) == len(ds.factor_sizes) == ds.num_factors
    assert all(int(s) >= 1 for s in ds.factor_sizes)
    assert len(ds.image_shape) == 3
    for k, name in enumerate(ds.factor_names):
        assert len(ds.factor_values(name)) == ds.factor_sizes[k]
        assert ds.factor_index(name) == k


def test_index_classes_round_trip(dataset):
    ds = dataset
    idx = _some_indices(ds)
    classes = ds.index_to_classes(idx)
    assert classes.shape == (len(idx), ds.num_factors) and classes.dtype == np.int64
    assert ((classes >= 0) & (classes < np.asarray(ds.factor_sizes))).all()
    np.testing.assert_array_equal(ds.index_to_classes(torch.as_tensor(idx)), classes)
    if isinstance(ds, FactorGridDataset):
        np.testing.assert_array_equal(ds.classes_to_index(classes), idx)
    else:  # several images per combination: an index drawn for the classes shows those classes
        back = ds.indices_from_classes(classes, np.random.default_rng(1))
        np.testing.assert_array_equal(ds.index_to_classes(back), classes)


def test_images_are_uint8_nchw(dataset):
    ds = dataset
    idx = _some_indices(ds)
    x = ds.images(idx)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.uint8
    assert tuple(x.shape) == (len(idx), *ds.image_shape)
    assert torch.equal(ds.images(idx.tolist()), x)
    assert torch.equal(ds.images(torch.as_tensor(idx)), x)
    assert torch.equal(ds.images(idx[::-1].copy()), x.flip(0))
    assert tuple(ds.images(np.zeros(0, np.int64)).shape) == (0, *ds.image_shape)


def test_sample_classes_within_sizes_and_seeded(dataset):
    ds = dataset
    c = ds.sample_classes(50, np.random.default_rng(3))
    assert c.shape == (50, ds.num_factors) and np.issubdtype(c.dtype, np.integer)
    assert ((c >= 0) & (c < np.asarray(ds.factor_sizes))).all()
    np.testing.assert_array_equal(ds.sample_classes(50, np.random.default_rng(3)), c)


def test_images_from_classes_matches_indices(dataset):
    ds = dataset
    classes = ds.sample_classes(5, np.random.default_rng(4))
    x = ds.images_from_classes(classes, np.random.default_rng(5))
    assert x.dtype == torch.uint8 and tuple(x.shape) == (5, *ds.image_shape)
    if isinstance(ds, FactorGridDataset):
        assert torch.equal(x, ds.images(ds.classes_to_index(classes)))
    else:
        assert torch.equal(x, ds.images(ds.indices_from_classes(classes, np.random.default_rng(5))))


@pytest.mark.parametrize("bad", [
    [1.5], [0.0], np.array([1.0]), torch.tensor([0.0]), torch.tensor([True]), [True, False], np.array([0], bool),
], ids=["list-1.5", "list-0.0", "np-float", "torch-float", "torch-bool", "list-bool", "np-bool"])
def test_rejects_non_integer_indices(dataset, bad):
    with pytest.raises(ValueError, match="must be integers"):
        dataset.images(bad)
    with pytest.raises(ValueError, match="must be integers"):
        dataset.index_to_classes(bad)


def test_rejects_out_of_range_indices(dataset):
    ds = dataset
    for bad in ([len(ds)], [-1], np.array([0, len(ds) + 5])):
        with pytest.raises(IndexError, match="out of range"):
            ds.images(bad)
        with pytest.raises(IndexError, match="out of range"):
            ds.index_to_classes(bad)
    with pytest.raises(ValueError, match="1-D"):
        ds.images(np.zeros((1, 1), np.int64))


def test_rejects_bad_classes(dataset):
    ds = dataset
    if ds.num_factors == 0:
        pytest.skip(f"{ds.name} as built has no factors")  # cannot happen with the builders above
    good = ds.sample_classes(2, np.random.default_rng(0))
    top = good.copy()
    top[0, -1] = ds.factor_sizes[-1]
    neg = good.copy()
    neg[1, 0] = -1
    half = good.astype(np.float64)
    half[0, 0] += 0.5
    lookup = ds.classes_to_index if isinstance(ds, FactorGridDataset) else (
        lambda c: ds.indices_from_classes(c, np.random.default_rng(0)))
    for bad, match in ((top, "classes"), (neg, "classes"), (half, "integer"), (good.astype(bool), "integer"),
                       (good[:, :0] if ds.num_factors > 1 else good[:, :1].repeat(2, 1), "shape")):
        with pytest.raises(ValueError, match=match):
            lookup(bad)
        with pytest.raises(ValueError, match=match):
            ds.images_from_classes(bad, np.random.default_rng(0))


def test_every_builder_is_a_registered_dataset():
    assert set(BUILDERS) <= set(available_datasets())
