"""dSprites: renderer geometry, reference frames, bit-packing, cache and the official-file loader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.path import Path as MplPath

from untwine.data import get_dataset
from untwine.data import dsprites as D

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
REAL_FRAMES = SHARED / "reference" / "dsprites_real_frames.npz"


@pytest.fixture(scope="module")
def lazy():
    return get_dataset("dsprites", lazy=True)


def classes_grid(**fixed) -> np.ndarray:
    """All class vectors of the grid restricted by ``fixed`` (factor name -> class or list)."""
    axes = [np.atleast_1d(fixed.get(n, np.arange(s))) for n, s in zip(D.FACTOR_NAMES, D.FACTOR_SIZES)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 6)


def test_factors_and_index_round_trip(lazy):
    assert len(lazy) == 737280 and lazy.factor_sizes == (1, 3, 6, 40, 32, 32)
    assert lazy.factor_values("orientation")[-1] == pytest.approx(2 * np.pi)
    assert np.allclose(lazy.factor_values("scale"), [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    idx = np.random.default_rng(0).integers(0, len(lazy), 1000)
    cls = lazy.index_to_classes(idx)
    assert np.array_equal(lazy.classes_to_index(cls), idx)
    # posY fastest, then posX, orientation, ...
    assert np.array_equal(lazy.index_to_classes([1, 32, 1024, 737279]),
                          [[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0], [0, 2, 5, 39, 31, 31]])


def test_heart_branches_match_matplotlib():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-11, 11, size=(200_000, 2))
    fast = D._heart().inside(pts[:, 0], pts[:, 1])
    ref = MplPath(D.heart_polygon()).contains_points(pts)
    assert fast.sum() > 10_000
    assert np.array_equal(fast, ref)


def test_heart_polygon_symmetric_and_close_to_formula():
    poly = D.heart_polygon()
    t = 2 * np.pi * np.arange(2000) / 2000
    x = 9.6 * np.sin(t) ** 3
    y = -0.662 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) - 1.45
    assert np.abs(poly - np.stack([x, y], 1)).max() < 1e-12
    assert np.array_equal(poly[1:1000, 0], -poly[1999:1000:-1, 0])


def test_reference_frames():
    if not REAL_FRAMES.exists():
        pytest.skip("../shared/reference/dsprites_real_frames.npz not available")
    ref = np.load(REAL_FRAMES)
    imgs, cls = ref["imgs"], ref["latents_classes"]
    diff = (D.render_dsprites(cls) != imgs).reshape(len(imgs), -1).sum(1)
    exact = int((diff == 0).sum())
    print(f"dSprites reference: {exact}/{len(imgs)} bit-exact, max {diff.max()} pixels off")
    assert exact >= 0.7 * len(imgs)
    assert diff.max() <= 4


def test_first_and_last_orientation_equal():
    cls = classes_grid(orientation=[0, 39], posX=[0, 13, 31], posY=[5, 31])
    imgs = D.render_dsprites(cls).reshape(3, 6, 2, 6, 64, 64)  # shape, scale, orient, pos
    assert np.array_equal(imgs[:, :, 0], imgs[:, :, 1])
    square = D.render_dsprites(classes_grid(shape=0, scale=5, orientation=[0, 5, 39], posX=9, posY=9))
    assert not np.array_equal(square[0], square[1])  # the comparison above is not vacuous


def test_position_scale_and_shape_geometry():
    def centroid(img):
        r, c = np.nonzero(img)
        return r.mean(), c.mean()

    for shape in range(3):
        along_x = D.render_dsprites(classes_grid(shape=shape, scale=3, orientation=7, posX=np.arange(32), posY=10))
        cols = np.array([centroid(im)[1] for im in along_x])
        rows = np.array([centroid(im)[0] for im in along_x])
        assert np.all(np.diff(cols) > 0.5) and np.ptp(rows) < 0.5
        along_y = D.render_dsprites(classes_grid(shape=shape, scale=3, orientation=7, posX=20, posY=np.arange(32)))
        assert np.all(np.diff([centroid(im)[0] for im in along_y]) > 0.5)
        areas = D.render_dsprites(classes_grid(shape=shape, scale=np.arange(6), orientation=0, posX=15, posY=15)).sum((1, 2))
        assert np.all(np.diff(areas) > 0)
    # areas at scale 1 close to the continuous shapes (pixels are unit squares)
    img = D.render_dsprites(classes_grid(scale=5, orientation=0, posX=15, posY=15))
    poly = D.heart_polygon()
    heart_area = 0.5 * abs(np.dot(poly[:, 0], np.roll(poly[:, 1], 1)) - np.dot(poly[:, 1], np.roll(poly[:, 0], 1)))
    expected = [19.2**2, np.pi * 12.8 * 7.2, heart_area]
    assert np.allclose(img.sum((1, 2)), expected, rtol=0.04)
    # ellipse at orientation 0 is wider than tall; at 90 degrees (class ~10 of 40: 2pi*10/39) taller than wide
    ell = img[1]
    assert np.any(ell, 0).sum() > np.any(ell, 1).sum()
    # heart tip points down: the lowest on-row is narrow, the widest row lies above the centre
    heart = img[2]
    rows = np.nonzero(heart.any(1))[0]
    assert heart[rows[-1]].sum() <= 3 and heart[rows[0]].sum() > 3
    assert np.argmax(heart.sum(1)) < 16 + 32 * 15 / 31


def test_rotation_is_counter_clockwise_as_displayed():
    # ellipse long axis along x at t=0; at t ~ pi/4 (class 5: 0.806 rad) the long axis goes up-right,
    # i.e. on-pixels in the upper-right and lower-left quadrants (image rows grow downwards)
    img = D.render_dsprites([[0, 1, 5, 5, 15, 15]])[0].astype(int)
    r, c = np.nonzero(img)
    cy = cx = 16 + 32 * 15 / 31
    up_right = ((r + 0.5 < cy) & (c + 0.5 > cx)).sum()
    up_left = ((r + 0.5 < cy) & (c + 0.5 < cx)).sum()
    assert up_right > 2 * up_left


def test_images_dtype_shape_values_and_index_types(lazy):
    idx = np.array([0, 5000, 400_000, 737279])
    a = lazy.images(idx)
    b = lazy.images(torch.from_numpy(idx))
    assert a.dtype == torch.uint8 and a.shape == (4, 1, 64, 64)
    assert set(torch.unique(a).tolist()) == {0, 255}
    assert torch.equal(a, b)
    assert torch.equal(lazy.images_from_classes(lazy.index_to_classes(idx)), a)
    with pytest.raises(IndexError):
        lazy.images([737280])


def test_packed_render_unpacks_to_renderer():
    chunks = [0, 250, 719]  # a square, an ellipse, a heart chunk
    packed = D.render_dsprites_packed(chunks)
    assert packed.shape == (3072, 512) and packed.dtype == np.uint8
    rows = np.random.default_rng(2).integers(0, 3072, 300)
    unpacked = D.unpack_images(torch.from_numpy(packed)[torch.from_numpy(rows)])
    flat_index = np.asarray(chunks)[rows // 1024] * 1024 + rows % 1024
    cls = get_dataset("dsprites", lazy=True).index_to_classes(flat_index)
    expected = torch.from_numpy(D.render_dsprites(cls) * np.uint8(255)).unsqueeze(1)
    assert torch.equal(unpacked, expected)


def test_images_from_packed_storage(lazy):
    packed = D.render_dsprites_packed([0, 1])
    ds = D.DSprites(None)
    ds.packed = torch.from_numpy(packed)  # first 2048 images only: enough for indices < 2048
    idx = torch.tensor([0, 1, 700, 1024, 2047])
    assert torch.equal(ds.images(idx), lazy.images(idx))
    assert torch.equal(ds.images(idx.numpy()), lazy.images(idx))


def test_cache_round_trip(tmp_path, monkeypatch):
    chunks = [3, 480]
    first = D.load_or_render_packed(cache_dir=tmp_path, chunks=chunks)
    path = D.cache_path(tmp_path, chunks)
    assert path.exists() and f"v{D.RENDER_VERSION}" in path.name
    assert not list(tmp_path.glob("*.tmp"))

    def fail(*a, **k):
        raise AssertionError("rendered although cached")

    monkeypatch.setattr(D, "render_dsprites_packed", fail)
    assert np.array_equal(D.load_or_render_packed(cache_dir=tmp_path, chunks=chunks), first)
    assert np.array_equal(D.load_or_render_packed(cache_dir=tmp_path, chunks=chunks, mmap=True), first)
    monkeypatch.undo()
    np.save(path, np.zeros((3, 3), np.uint8))  # a stale/corrupt cache is replaced
    with pytest.warns(UserWarning, match="re-rendering"):
        again = D.load_or_render_packed(cache_dir=tmp_path, chunks=chunks)
    assert np.array_equal(again, first) and np.load(path).shape == first.shape
    # cache=False renders without writing
    other = tmp_path / "nocache"
    D.load_or_render_packed(cache=False, cache_dir=other, chunks=[0])
    assert not other.exists() or not list(other.iterdir())


# ---- official file -------------------------------------------------------------------------
SMALL = (1, 3, 6, 2, 2, 3)  # tiny grid in the official layout


def _small_grid(sizes=SMALL):
    cls = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, 6).astype(np.int64)
    return cls


def _write_npz(path, **arrays):
    np.savez_compressed(path, **arrays)
    return path


def test_npz_loader_small_file(tmp_path):
    cls = _small_grid()
    imgs = D.render_dsprites(cls)
    vals = cls.astype(np.float64)
    path = _write_npz(tmp_path / "d.npz", imgs=imgs, latents_values=vals, latents_classes=cls)
    packed, got_cls = D.load_dsprites_npz(path, factor_sizes=SMALL, chunk=7)
    assert np.array_equal(got_cls, cls)
    assert np.array_equal(np.unpackbits(packed, axis=1).reshape(-1, 64, 64), imgs)


def test_npz_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*dsprites_ndarray"):
        get_dataset("dsprites", path=tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not an .npz"):
        D.load_dsprites_npz(tmp_path / "junk.npz")
    cls = _small_grid()
    n = len(cls)
    good = dict(imgs=np.zeros((n, 64, 64), np.uint8), latents_values=cls.astype(np.float64), latents_classes=cls)
    p = _write_npz(tmp_path / "nokey.npz", imgs=good["imgs"], latents_classes=cls)
    with pytest.raises(ValueError, match="lacks the key.*latents_values"):
        D.load_dsprites_npz(p, factor_sizes=SMALL)
    p = _write_npz(tmp_path / "dtype.npz", **{**good, "imgs": good["imgs"].astype(np.float32)})
    with pytest.raises(ValueError, match=r"imgs has shape .* dtype float32, expected .* uint8"):
        D.load_dsprites_npz(p, factor_sizes=SMALL)
    p = _write_npz(tmp_path / "full.npz", **good)
    with pytest.raises(ValueError, match=r"expected \(737280, 64, 64\)"):
        D.load_dsprites_npz(p)  # a small file is not the official one
    p = _write_npz(tmp_path / "order.npz", **{**good, "latents_classes": cls[::-1].copy()})
    with pytest.raises(ValueError, match="not the full factor grid"):
        D.load_dsprites_npz(p, factor_sizes=SMALL)
    p = _write_npz(tmp_path / "values.npz", **{**good, "imgs": good["imgs"] + 255})
    with pytest.raises(ValueError, match="0/1 pixels"):
        D.load_dsprites_npz(p, factor_sizes=SMALL)
    with pytest.raises(ValueError, match="not both"):
        get_dataset("dsprites", path=p, lazy=True)
    with pytest.raises(ValueError, match="lazy must be true or false"):
        get_dataset("dsprites", lazy="false")


def _write_full_size_npz(path: Path, images: dict[int, np.ndarray]) -> None:
    """The official layout at full size, streamed into the zip: zeros except ``images``."""
    cls = _small_grid(D.FACTOR_SIZES)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, arr in (("latents_classes", cls), ("latents_values", cls.astype(np.float64))):
            with zf.open(key + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, arr)
        with zf.open("imgs.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (D.NUM_IMAGES, 64, 64)})
            block = 16384
            zeros = bytes(block * 4096)
            for start in range(0, D.NUM_IMAGES, block):
                inside = {i - start: img for i, img in images.items() if start <= i < start + block}
                if not inside:
                    fh.write(zeros)
                    continue
                chunk = np.zeros((block, 64, 64), np.uint8)
                for i, img in inside.items():
                    chunk[i] = img
                fh.write(chunk.tobytes())


@pytest.mark.integration
def test_official_npz_full_size(tmp_path):
    """The real loader on a full-size official-layout file (3 GB of mostly zeros, ~18 MB deflated).

    Takes ~10-25 s (zlib on 3 GB both ways), hence integration; the format checks themselves are
    covered fast on small files through the ``factor_sizes`` hook above.
    """
    idx = [0, 123_457, 737_279]
    ds_lazy = get_dataset("dsprites", lazy=True)
    real = D.render_dsprites(ds_lazy.index_to_classes(idx))
    path = tmp_path / D.OFFICIAL_FILE
    _write_full_size_npz(path, dict(zip(idx, real)))
    ds = get_dataset("dsprites", path=path)
    assert len(ds) == 737280 and "file" in repr(ds)
    assert torch.equal(ds.images(idx), ds_lazy.images(idx))
    assert int(ds.images([1, 500_000]).sum()) == 0


def test_unpack_matches_numpy_unpackbits_for_every_byte():
    rows = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (40, 512), dtype=np.uint8))
    rows[0, :256] = torch.arange(256, dtype=torch.uint8)
    expected = np.unpackbits(rows.numpy(), axis=1).reshape(40, 1, 64, 64) * 255
    assert torch.equal(D.unpack_images(rows), torch.from_numpy(expected.astype(np.uint8)))
