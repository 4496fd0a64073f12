"""Blobs (WeLa-VAE, seed 001): a blurred disk at every pixel position of a 64x64 image, with weak polar labels.

Reproduces the reference generator (``blob_generator.py`` of the WeLa-VAE code) exactly:

- Template: filled disk ``dy^2 + dx^2 <= 100`` (value 1) centred in a 41x41 array, blurred with
  OpenCV's ``GaussianBlur(ksize=21, sigmaX=0)``: a separable 21-tap Gaussian with
  ``sigma = 0.3 ((21 - 1)/2 - 1) + 0.8 = 3.5`` and OpenCV's default border (reflect-101).
  Peak value 0.98873. Checked once against OpenCV 5.0 (``cv2.circle`` + ``cv2.GaussianBlur``):
  template within 6e-16, all 4096 uint8 images identical (``tests/test_blobs.py`` repeats the
  template check wherever ``cv2`` is installed; it is not a dependency).
- Image for factors (x, y), x, y in 0..63: the template pasted into a zero canvas padded by 20 so
  its centre lands on (row x, column y), cropped to 64x64. **x indexes rows, y columns.**
- Factor order (x, y) and flat index ``64 x + y`` (y fastest), the generator's loop order.
- One image per position (4,096), as the authors' code makes them. The paper's text speaks of 25
  blobs per position (102,400 images) without saying how the 25 differ; the code has no such
  repeats, and its 150 epochs at batch 256 are 2,400 steps (the reference run of decisions.md;
  60,000 steps, the text's 150 epochs of 102,400, is the long profile).
- Storage: ``uint8 round(255 * value)`` (max quantisation error 1/510); :func:`blob_images_float`
  gives the exact float64 images.

Weak labels (:meth:`Blobs.weak_labels`; ``weak_labels(classes, **options)`` is the hook name any
dataset with weak labels implements, and samplers call it): angle ``atan2(y, x)`` in [0, pi/2] and
distance ``sqrt(x^2 + y^2)`` in [0, 64 sqrt 2], from the upper-left corner, each in ``p``
equal-width left-open bins ``(k step, (k+1) step]``; rows whose angle falls in no bin (angle 0)
go to angle bin 0, as in the reference. Distance 0 (x = y = 0) falls in no bin in the reference
(an all-zero distance label): ``zero_distance="none"`` (default, reference) keeps that,
``"first"`` puts it in bin 0.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import FactorGridDataset, IndexLike, as_index_tensor
from .registry import register_dataset

FACTOR_NAMES = ("x", "y")
FACTOR_SIZES = (64, 64)
SIZE = 64
TEMPLATE = 41  # template side; its centre is at (20, 20)
PAD = (TEMPLATE - 1) // 2
ZERO_DISTANCE = ("none", "first")


def gaussian_kernel(ksize: int, sigma: float = 0.0) -> np.ndarray:
    """OpenCV ``getGaussianKernel`` (float64): ``sigma <= 0`` means ``0.3((ksize-1)/2 - 1) + 0.8``."""
    if sigma <= 0:
        sigma = ((ksize - 1) * 0.5 - 1) * 0.3 + 0.8
    x = np.arange(ksize) - (ksize - 1) * 0.5
    k = np.exp((-0.5 / (sigma * sigma)) * x * x)
    return k * (1.0 / k.sum())


def _blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable blur, rows then columns, reflect-101 border (numpy's ``"reflect"``)."""
    r = len(kernel) // 2
    out = img
    for axis in (1, 0):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        win = np.lib.stride_tricks.sliding_window_view(np.pad(out, pad, mode="reflect"), len(kernel), axis=axis)
        out = win @ kernel
    return out


def blob_template(radius: int = 10, size: int = TEMPLATE, ksize: int = 21) -> np.ndarray:
    """The blurred disk (size, size) float64, centred at ``(size // 2, size // 2)``."""
    d = np.arange(size) - size // 2
    disk = (d[:, None] ** 2 + d[None, :] ** 2 <= radius * radius).astype(np.float64)
    return _blur(disk, gaussian_kernel(ksize))


def _all_positions(template: np.ndarray) -> np.ndarray:
    """(4096, 64, 64) images, in index order, of ``template`` pasted with its centre at (x, y)."""
    big = np.zeros((2 * SIZE - 1, 2 * SIZE - 1), dtype=template.dtype)
    lo = SIZE - 1 - PAD  # template centre at (63, 63) of ``big``
    big[lo : lo + TEMPLATE, lo : lo + TEMPLATE] = template
    windows = np.lib.stride_tricks.sliding_window_view(big, (SIZE, SIZE))  # [i, j] = big[i:i+64, j:j+64]
    # image (x, y) has its centre at (x, y), i.e. it is the window starting at (63 - x, 63 - y)
    return windows[::-1, ::-1].reshape(SIZE * SIZE, SIZE, SIZE)


def blob_images_float() -> np.ndarray:
    """All 4096 images (4096, 64, 64) float64 in index order (x rows, y columns, y fastest)."""
    return _all_positions(blob_template())


def blob_images_uint8() -> np.ndarray:
    """All 4096 images as ``uint8 round(255 * value)`` (quantising the template first is identical)."""
    return _all_positions(np.rint(blob_template() * 255).astype(np.uint8))


def _check(classes: np.ndarray) -> np.ndarray:
    c = np.asarray(classes)
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"blob classes must have shape (N, 2) (x, y), got {c.shape}")
    if ((c < 0) | (c >= SIZE)).any():
        raise ValueError("blob classes x, y must be in 0..63")
    return c.astype(np.int64)


def polar_coordinates(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle ``atan2(y, x)`` in [0, pi/2] and distance ``sqrt(x^2 + y^2)`` from the upper-left corner."""
    c = _check(classes)
    x, y = c[:, 0], c[:, 1]
    return np.arctan2(y, x), np.sqrt(x**2 + y**2)


def _bins(value: np.ndarray, step: float, p: int) -> np.ndarray:
    k = np.arange(p)
    return (k * step < value[:, None]) & (value[:, None] <= (k + 1) * step)


def weak_labels(classes: np.ndarray, resolution: int = 2, zero_distance: str = "none") -> np.ndarray:
    """One-hot polar labels (N, 2 p) float32: ``p`` angle bins, then ``p`` distance bins.

    Bins are left-open ``(k step, (k+1) step]`` with ``step = pi / (2 p)`` (angle) and
    ``64 sqrt 2 / p`` (distance); angle 0 goes to bin 0; distance 0 to no bin
    (``zero_distance="none"``, reference) or bin 0 (``"first"``).
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ValueError(f"label resolution must be a positive integer (the paper uses 2..10), got {resolution!r}")
    if zero_distance not in ZERO_DISTANCE:
        raise ValueError(f"zero_distance must be one of {ZERO_DISTANCE}, got {zero_distance!r}")
    p = int(resolution)
    angle, dist = polar_coordinates(classes)
    a = _bins(angle, np.pi / (2 * p), p)
    a[~a.any(1), 0] = True
    d = _bins(dist, np.sqrt(SIZE**2 + SIZE**2) / p, p)
    if zero_distance == "first":
        d[~d.any(1), 0] = True
    return np.concatenate([a, d], axis=1).astype(np.float32)


class Blobs(FactorGridDataset):
    """4096 blob images (1x64x64 uint8), factors x (row) and y (column) of the blob centre."""

    name = "blobs"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    image_shape = (1, SIZE, SIZE)

    def __init__(self) -> None:
        self.data = torch.from_numpy(blob_images_uint8()).unsqueeze(1)

    def factor_values(self, factor: int | str) -> np.ndarray:
        self.factor_index(factor)
        return np.arange(SIZE, dtype=np.float64)

    def images(self, indices: IndexLike) -> torch.Tensor:
        return self.data[as_index_tensor(indices, len(self), device=self.data.device)]

    def to(self, device: torch.device | str) -> "Blobs":
        self.data = self.data.to(device)
        return self

    def polar_coordinates(self, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`polar_coordinates`."""
        return polar_coordinates(classes)

    def weak_labels(self, classes: np.ndarray, resolution: int = 2, zero_distance: str = "none") -> np.ndarray:
        """See :func:`weak_labels`."""
        return weak_labels(classes, resolution=resolution, zero_distance=zero_distance)


@register_dataset("blobs")
def blobs() -> Blobs:
    """The WeLa-VAE blobs dataset (4096 images, generated in well under a second)."""
    return Blobs()
