import numpy as np
import pytest
import torch

from untwine.data import get_dataset
from untwine.data.shapes3d import SKY, Shapes3D, hue_rgb


@pytest.fixture(scope="module")
def ds():
    return Shapes3D(supersample=2, shadow_rays=2)


def test_factor_grid_and_index_round_trip(ds):
    assert ds.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    assert ds.factor_sizes == (10, 10, 10, 8, 4, 15) and len(ds) == 480000
    np.testing.assert_allclose(ds.factor_values("scale"), np.linspace(0.75, 1.25, 8))
    np.testing.assert_allclose(ds.factor_values("orientation"), np.linspace(-30, 30, 15))
    np.testing.assert_allclose(ds.factor_values("floor_hue"), np.arange(10) / 10)
    idx = np.random.default_rng(0).integers(0, len(ds), 500)
    np.testing.assert_array_equal(ds.classes_to_index(ds.index_to_classes(idx)), idx)
    # orientation fastest, floor hue slowest (official order)
    np.testing.assert_array_equal(ds.index_to_classes([1, 15, 479999]),
                                  [[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0], [9, 9, 9, 7, 3, 14]])
    assert get_dataset("shapes3d").num_factors == 6


def test_render_colours_and_layout(ds):
    classes = np.array([[0, 4, 7, 7, 2, 7],   # red floor, green-ish wall, blue-ish sphere, big
                        [3, 6, 1, 0, 0, 0]])
    x = ds.images_from_classes(classes)
    assert x.shape == (2, 3, 64, 64) and x.dtype == torch.uint8
    img = x.permute(0, 2, 3, 1).numpy().astype(float)
    for i, (fh, wh, oh) in enumerate(classes[:, :3] / 10):
        np.testing.assert_allclose(img[i, 1, 32], SKY, atol=2)              # sky band on top
        floor = img[i, 62, 2] / img[i, 62, 2].max()
        np.testing.assert_allclose(floor, hue_rgb(np.array([fh]))[0] / 255, atol=0.05)
        wall = img[i, 24, 4] / img[i, 24, 4].max()
        np.testing.assert_allclose(wall, hue_rgb(np.array([wh]))[0] / 255, atol=0.05)
        obj = img[i, 42, 32] / img[i, 42, 32].max()
        np.testing.assert_allclose(obj, hue_rgb(np.array([oh]))[0] / 255, atol=0.15)


def _object_pixels(ds, scale, shape, orient=7):
    x = ds.images_from_classes(np.array([[0, 0, 5, scale, shape, orient]]))[0].numpy().astype(int)
    # object hue 0.5 is cyan (0, 255, 255); the floor and wall are red (255, 0, 0)
    return (x[2] > x[0] + 40) & (x[1] > x[0] + 40) & (x[0] < 100)  # not the light-blue sky


def test_scale_shape_orientation_change_the_image(ds):
    small, big = _object_pixels(ds, 0, 2).sum(), _object_pixels(ds, 7, 2).sum()
    assert big > 1.8 * small > 0   # area grows roughly with scale^2 (1.25/0.75)^2 = 2.8
    masks = [_object_pixels(ds, 4, s) for s in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert (masks[a] ^ masks[b]).sum() > 20
    # capsule is the tallest silhouette, sphere is as wide as it is tall
    rows = [np.flatnonzero(m.any(1)) for m in masks]
    assert np.ptp(rows[3]) > np.ptp(rows[2])
    left, right = ds.images(np.array([0])), ds.images(np.array([14]))
    assert (left != right).float().mean() > 0.1   # camera orbit moves the walls


def test_render_is_deterministic(ds):
    a = Shapes3D(supersample=2, shadow_rays=2).images(np.array([123456, 7]))
    assert torch.equal(a, ds.images(np.array([123456, 7])))


def _write_official_h5(path, fill_idx, images):
    h5py = pytest.importorskip("h5py")
    ref = Shapes3D.__new__(Shapes3D)
    with h5py.File(path, "w") as f:
        im = f.create_dataset("images", (480000, 64, 64, 3), dtype="uint8", chunks=(1, 64, 64, 3))
        lab = f.create_dataset("labels", (480000, 6), dtype="float64", compression="gzip", chunks=(48000, 6))
        all_idx = np.arange(480000)
        lab[:] = ref.classes_to_values(ref.index_to_classes(all_idx))
        for i, img in zip(fill_idx, images):
            im[i] = img


def test_official_h5_loader(tmp_path):
    path = tmp_path / "3dshapes.h5"
    idx = np.array([5, 479999, 1000])
    imgs = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    _write_official_h5(path, idx, imgs)
    ds = get_dataset("shapes3d", path=str(path))
    x = ds.images(np.array([1000, 5, 5, 479999]))
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.uint8
    np.testing.assert_array_equal(x.numpy(), imgs[[2, 0, 0, 1]].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(ds.images_from_classes(ds.index_to_classes([479999])).numpy()[0],
                                  imgs[1].transpose(2, 0, 1))
    import pickle
    assert torch.equal(pickle.loads(pickle.dumps(ds)).images([5]), x[1:2])


def test_errors(tmp_path, ds):
    with pytest.raises(ValueError, match="not found"):
        Shapes3D(path=tmp_path / "missing.h5")
    h5py = pytest.importorskip("h5py")
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("images", (10, 64, 64, 3), dtype="uint8")
        f.create_dataset("labels", (10, 6), dtype="float64")
    with pytest.raises(ValueError, match="480000"):
        Shapes3D(path=bad)
    with pytest.raises(ValueError, match="unknown factor 'color'"):
        ds.factor_values("color")
    with pytest.raises(ValueError, match="shape"):
        ds.images_from_classes(np.array([[0, 0, 0, 0, 4, 0]]))
    with pytest.raises(IndexError):
        ds.images([480000])


def test_shapes3d_large_batch_is_chunked():
    ds = Shapes3D(supersample=1, shadow_rays=1)
    idx = np.arange(1100) * 15  # orientation class 0 only: few geometries to ray-cast
    x = ds.images(idx)
    assert x.shape == (1100, 3, 64, 64)
    assert torch.equal(x[1050:1052], ds.images(idx[1050:1052]))
