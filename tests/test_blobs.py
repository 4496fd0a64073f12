"""Blobs (WeLa-VAE): template, positions, quantisation and the weak polar labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from untwine.data import get_dataset
from untwine.data import blobs as B


@pytest.fixture(scope="module")
def ds():
    return get_dataset("blobs")


def test_template_peak_kernel_and_symmetry():
    k = B.gaussian_kernel(21)
    x = np.arange(21) - 10
    assert np.allclose(k, np.exp(-(x**2) / (2 * 3.5**2)) / np.exp(-(x**2) / (2 * 3.5**2)).sum(), atol=1e-16)
    t = B.blob_template()
    assert t.shape == (41, 41)
    assert t.max() == pytest.approx(0.98873, abs=5e-6) and t[20, 20] == t.max()
    assert np.allclose(t, t.T) and np.allclose(t, t[::-1]) and np.allclose(t, t[:, ::-1])
    # reflect-101 border: a constant image stays constant (the kernel sums to one)
    assert np.allclose(B._blur(np.ones((41, 41)), k), 1.0)
    # the disk dy^2 + dx^2 <= 100 has 317 pixels; the blur keeps the mass (reflection adds a little)
    assert abs(t.sum() - 317) < 0.05
    # reflect-101 (OpenCV default): the pixel left of column 0 mirrors column 1, so a unit impulse at
    # (20, 1) contributes k[9] twice to (20, 0); zero padding or plain reflection would give once
    impulse = np.zeros((41, 41))
    impulse[20, 1] = 1.0
    assert B._blur(impulse, k)[20, 0] == pytest.approx(2 * k[9] * k[10], rel=1e-12)


def test_matches_opencv_when_available():
    cv = pytest.importorskip("cv2")
    disk = cv.circle(np.zeros((41, 41)), (20, 20), 10, 1, -1)
    blob = cv.GaussianBlur(disk, (21, 21), 0)
    assert np.abs(blob - B.blob_template()).max() < 1e-14


def test_positions_and_index_order(ds):
    imgs = B.blob_images_float()
    assert imgs.shape == (4096, 64, 64)
    for x, y in [(0, 0), (5, 40), (63, 0), (0, 63), (31, 17), (63, 63)]:
        img = imgs[64 * x + y]
        assert np.unravel_index(img.argmax(), img.shape) == (x, y)  # x row, y column
        assert img[x, y] == pytest.approx(0.98873, abs=5e-6)
    t = B.blob_template()
    assert np.array_equal(imgs[64 * 30 + 30][10:51, 10:51], t)  # fully inside: the whole template
    assert np.array_equal(imgs[0][:21, :21], t[20:, 20:])  # corner: a quarter of it
    assert np.array_equal(ds.index_to_classes([64 * 5 + 40]), [[5, 40]])
    assert ds.factor_names == ("x", "y") and len(ds) == 4096


def test_uint8_storage(ds):
    imgs = ds.images(np.arange(4096))
    assert imgs.dtype == torch.uint8 and imgs.shape == (4096, 1, 64, 64)
    expected = np.rint(B.blob_images_float() * 255).astype(np.uint8)
    assert np.array_equal(imgs[:, 0].numpy(), expected)
    assert int(imgs.max()) == round(0.98873 * 255)
    assert torch.equal(ds.images(torch.tensor([7, 9])), ds.images([7, 9]))
    assert torch.equal(ds.images_from_classes([[0, 7], [0, 9]]), ds.images([7, 9]))


def test_polar_coordinates():
    angle, dist = B.polar_coordinates(np.array([[0, 0], [63, 0], [0, 63], [63, 63], [3, 4]]))
    assert np.allclose(angle, [0, 0, np.pi / 2, np.pi / 4, math.atan2(4, 3)])
    assert np.allclose(dist, [0, 63, 63, 63 * np.sqrt(2), 5])


def test_weak_labels_hand_computed():
    pts = np.array([[0, 0], [63, 0], [0, 63], [63, 63], [1, 0], [32, 32], [20, 5]])
    lab = B.weak_labels(pts, resolution=2)
    assert lab.dtype == np.float32 and lab.shape == (7, 4)
    # p=2: angle bins (0, pi/4], (pi/4, pi/2]; distance bins (0, 45.25], (45.25, 90.51]
    expected = [
        [1, 0, 0, 0],  # origin: angle 0 -> bin 0, distance 0 -> no bin (reference)
        [1, 0, 0, 1],  # angle 0 -> bin 0, distance 63
        [0, 1, 0, 1],  # angle pi/2 (upper edge, inclusive), distance 63
        [1, 0, 0, 1],  # angle exactly pi/4: left-open bins put it in bin 0
        [1, 0, 1, 0],
        [1, 0, 1, 0],  # distance exactly 32 sqrt 2 = step: bin 0 (upper edge inclusive)
        [1, 0, 1, 0],
    ]
    assert np.array_equal(lab, expected)
    first = B.weak_labels(pts[:1], resolution=2, zero_distance="first")
    assert np.array_equal(first, [[1, 0, 1, 0]])
    lab3 = B.weak_labels(np.array([[10, 10], [0, 63], [63, 63]]), resolution=3)
    # p=3: angle step 30 deg, 45 deg -> bin 1; distance step 30.17: 14.1 -> 0, 63 -> 2, 89.1 -> 2
    assert np.array_equal(lab3, [[0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 1]])


def _reference_rule(x: int, y: int, p: int) -> list[float]:
    """The reference generator's scalar rule, written out with loops."""
    a_step, d_step = math.pi / (2 * p), math.sqrt(64**2 + 64**2) / p
    phi, dis = math.atan2(y, x), math.sqrt(x**2 + y**2)
    a = [1.0 if k * a_step < phi <= (k + 1) * a_step else 0.0 for k in range(p)]
    d = [1.0 if k * d_step < dis <= (k + 1) * d_step else 0.0 for k in range(p)]
    if sum(a) == 0:
        a[0] = 1.0
    return a + d


@pytest.mark.parametrize("p", [2, 5, 7, 10])
def test_weak_labels_match_reference_rule_everywhere(ds, p):
    cls = ds.index_to_classes(np.arange(4096))
    lab = ds.weak_labels(cls, resolution=p)
    assert np.array_equal(lab, [_reference_rule(int(x), int(y), p) for x, y in cls])
    assert np.all(lab[:, :p].sum(1) == 1)
    dist_sums = lab[:, p:].sum(1)
    assert dist_sums[0] == 0 and np.all(dist_sums[1:] == 1)
    assert np.all(lab[:, :p].sum(0) > 0) and np.all(lab[:, p:].sum(0) > 0)  # every bin is used


def test_weak_label_errors():
    with pytest.raises(ValueError, match="positive integer"):
        B.weak_labels(np.array([[1, 2]]), resolution=0)
    with pytest.raises(ValueError, match="zero_distance"):
        B.weak_labels(np.array([[1, 2]]), zero_distance="nearest")
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        B.weak_labels(np.array([1, 2]))
    with pytest.raises(ValueError, match="0..63"):
        B.polar_coordinates(np.array([[64, 0]]))
