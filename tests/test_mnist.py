import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from untwine.data import get_dataset
from untwine.data.mnist import read_idx

SHARED_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def write_idx(path, arr, gz=True):
    code = {np.uint8: 0x08}[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(head + arr.tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10, dtype=np.uint8), 3)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x[:10], gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y[::3].copy(), gz=False)
    return tmp_path, x, y


def test_idx_loader_and_splits(fake_mnist):
    root, x, y = fake_mnist
    np.testing.assert_array_equal(read_idx(root / "train-images-idx3-ubyte.gz"), x)
    ds = get_dataset("mnist", path=str(root))
    assert ds.split == "train" and len(ds) == 30 and ds.name == "mnist"
    np.testing.assert_array_equal(ds.images(np.arange(30))[:, 0].numpy(), x)
    np.testing.assert_array_equal(ds.index_to_classes(np.arange(30))[:, 0], y)
    test = get_dataset("mnist", path=str(root), split="test")
    assert len(test) == 10 and test.split == "test"
    rng = np.random.default_rng(1)
    cls = np.array([[4], [4], [9]])
    idx = ds.indices_from_classes(cls, rng)
    np.testing.assert_array_equal(ds.index_to_classes(idx), cls)
    assert get_dataset("mnist", path=str(root), size=64).images([0]).shape == (1, 1, 64, 64)


def test_mnist_errors(tmp_path, fake_mnist):
    with pytest.raises(ValueError, match="not found"):
        get_dataset("mnist", path=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no MNIST"):
        get_dataset("mnist", path=str(tmp_path / "empty"))
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x56\x78")
    with pytest.raises(ValueError, match="not an idx"):
        read_idx(bad)
    root = fake_mnist[0]
    with pytest.raises(ValueError, match="split"):
        get_dataset("mnist", path=str(root), split="validation")
    with pytest.raises(ValueError, match="unknown factor"):
        get_dataset("mnist", path=str(root)).factor_values("colour")


def test_standin_is_named_and_shaped():
    ds = get_dataset("mnist")
    assert ds.name == "mnist_standin" and len(ds) == 1797
    x = ds.images(np.arange(5))
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.uint8
    assert x[:, :, :4].max() == 0 and x.max() > 200  # 4-pixel margin like MNIST, full-range strokes


def test_colored_mnist_factors_and_round_trip(fake_mnist):
    root, x, y = fake_mnist
    ds = get_dataset("colored_mnist", path=str(root))
    assert ds.factor_names == ("color", "digit") and len(ds) == 300
    idx = np.arange(300)
    cls = ds.index_to_classes(idx)
    np.testing.assert_array_equal(cls[:, 0], idx % 10)
    np.testing.assert_array_equal(cls[:, 1], y[idx // 10])
    rng = np.random.default_rng(0)
    want = np.array([[0, 3], [2, 3], [5, 9]])
    got = ds.indices_from_classes(want, rng)
    np.testing.assert_array_equal(ds.index_to_classes(got), want)
    img = ds.images([10 * 7 + 0, 10 * 7 + 2]).numpy().astype(int)  # image 7, red and yellow-green
    grey = x[7].astype(int)
    np.testing.assert_array_equal(img[0, 0], grey)                  # red: R = grey, G = B = 0
    assert img[0, 1:].max() == 0
    assert img[1, 0].max() > 0 and img[1, 1].max() > 0 and img[1, 2].max() == 0


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST test set not available")
def test_real_mnist_test_set():
    ds = get_dataset("mnist", path=str(SHARED_MNIST))
    assert len(ds) == 10000 and ds.split == "test"
    counts = ds.combination_counts()
    assert counts.sum() == 10000 and counts.min() > 850
    x = ds.images(np.arange(100))
    assert x.float().mean() > 20 and x.max() == 255
    c = get_dataset("colored_mnist", path=str(SHARED_MNIST))
    assert len(c) == 100000
