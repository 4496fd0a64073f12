import numpy as np
import pytest
import torch

from untwine.data import get_dataset

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNTWINE_CACHE_DIR", str(tmp_path / "cache"))


def _save(path, w, h, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((h, w, 3), np.uint8)
    a[...] = value
    a[h // 2 - 10: h // 2 + 10, w // 2 - 10: w // 2 + 10] = 255  # bright centre survives the crop
    a[:, :3] = 0  # a dark band at the left edge that a centre crop removes
    Image.fromarray(a).save(path)


def test_celeba_attributes_crop_and_caches(tmp_path):
    root = tmp_path / "celeba"
    names = ["Smiling", "Male", "Young"]
    rows = {"000001.jpg": [1, -1, 1], "000002.jpg": [-1, -1, 1], "000003.jpg": [1, 1, -1], "000004.jpg": [1, -1, 1]}
    for i, f in enumerate(rows):
        _save(root / "img_align_celeba" / f.replace(".jpg", ".png"), 178, 218, (40 * i, 100, 200))
    (root / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\n" + " ".join(names) + "\n" + "\n".join(f"{f.replace('.jpg', '.png')} " + " ".join(map(str, v)) for f, v in rows.items()))
    (root / "list_eval_partition.txt").write_text("000001.png 0\n000002.png 0\n000003.png 1\n000004.png 2\n")
    ds = get_dataset("celeba", path=str(root))
    assert ds.factor_names == tuple(names) and ds.factor_sizes == (2, 2, 2) and len(ds) == 4
    np.testing.assert_array_equal(ds.index_to_classes(np.arange(4)), (np.array(list(rows.values())) > 0).astype(int))
    x = ds.images(np.arange(4))
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.uint8
    np.testing.assert_allclose(x[:, :, 5, 5].float().numpy(), [[40 * i, 100, 200] for i in range(4)], atol=3)
    assert x[:, :, 31:33, 31:33].float().min() > 240  # centre kept
    for cache in ("memory", "none"):
        assert torch.equal(get_dataset("celeba", path=str(root), cache=cache).images([2, 0]), x[[2, 0]])
    sub = get_dataset("celeba", path=str(root), attributes=["Male"], split="train")
    assert sub.factor_names == ("Male",) and len(sub) == 2
    rng = np.random.default_rng(0)
    idx = ds.indices_from_classes(np.array([[1, 0, 1]] * 5), rng)
    assert set(idx.tolist()) <= {0, 3}
    with pytest.raises(ValueError, match="no image has"):
        ds.indices_from_classes(np.array([[0, 1, 1]]), rng)
    c = ds.sample_classes(100, rng)  # empirical: only combinations that exist
    assert {tuple(r) for r in c} <= {(1, 0, 1), (0, 0, 1), (1, 1, 0)}
    with pytest.raises(ValueError, match="unknown attribute"):
        get_dataset("celeba", path=str(root), attributes=["Bald"])
    nolab = get_dataset("celeba", path=str(root), attributes=False)
    assert nolab.num_factors == 0 and nolab.images([1]).shape == (1, 3, 64, 64)
    assert nolab.sample_classes(3, rng).shape == (3, 0)


def test_celeba_errors(tmp_path):
    with pytest.raises(ValueError, match="not available offline"):
        get_dataset("celeba")
    with pytest.raises(ValueError, match="folder not found"):
        get_dataset("celeba", path=str(tmp_path / "nope"))
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="list_attr_celeba"):
        get_dataset("celeba", path=str(tmp_path / "c"))
    (tmp_path / "c" / "list_attr_celeba.txt").write_text("1\nA B\nx.jpg 1\n")
    with pytest.raises(ValueError, match="expected 1 rows"):
        get_dataset("celeba", path=str(tmp_path / "c"))


def test_flowers102(tmp_path):
    from scipy.io import savemat

    root = tmp_path / "flowers"
    for i in range(1, 6):
        _save(root / "jpg" / f"image_{i:05d}.jpg", 80, 60, (50 * i, 0, 0))
    savemat(root / "imagelabels.mat", {"labels": np.array([[3, 3, 1, 102, 7]])})
    savemat(root / "setid.mat", {"trnid": np.array([[1, 2]]), "valid": np.array([[3]]), "tstid": np.array([[4, 5]])})
    ds = get_dataset("flowers102", path=str(root))
    assert ds.factor_names == ("class",) and ds.factor_sizes == (102,)
    np.testing.assert_array_equal(ds.index_to_classes(np.arange(5))[:, 0], [2, 2, 0, 101, 6])
    assert ds.images([0]).shape == (1, 3, 64, 64)
    assert len(get_dataset("flowers102", path=str(root), split="test")) == 2


def test_chairs3d_and_generic(tmp_path):
    base = tmp_path / "chairs" / "rendered_chairs"
    for c in ("1a2b", "9f"):
        for p in (20, 30):
            for t in (0, 11, 23):
                _save(base / c / "renders" / f"image_{t:03d}_p{p:03d}_t{t:03d}_r096.png", 60, 60, (p, t, 9))
    ds = get_dataset("chairs3d", path=str(tmp_path / "chairs"))
    assert ds.factor_names == ("chair", "pitch", "azimuth") and ds.factor_sizes == (2, 2, 3)
    np.testing.assert_array_equal(ds.factor_values("azimuth"), [0, 11, 23])
    cls = ds.index_to_classes(np.arange(len(ds)))
    x = ds.images(np.arange(len(ds)))
    np.testing.assert_allclose(x[:, 0, 5, 14].float().numpy(), ds.factor_values("pitch")[cls[:, 1]], atol=2)
    np.testing.assert_allclose(x[:, 1, 5, 14].float().numpy(), ds.factor_values("azimuth")[cls[:, 2]], atol=2)
    assert ds.combination_counts().min() == 1
    g = get_dataset("image_folder", path=str(base), labels="subfolder", size=32, channels=1)
    assert g.factor_sizes == (2,) and g.images([0]).shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="no renders"):
        get_dataset("chairs3d", path=str(tmp_path / "cache"))
