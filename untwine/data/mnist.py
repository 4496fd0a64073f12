"""MNIST (idx files) and colored MNIST, with the digit (and colour) as factors.

``get_dataset("mnist", path=DIR)`` reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` from
``DIR``. Without a path the dataset is an offline **stand-in**: scikit-learn's 1,797 bundled 8x8
digits (a different set from MNIST), upscaled to 20x20 and centred in 28x28 like MNIST; its
``name`` is ``"mnist_standin"`` so results are never mistaken for MNIST ones.

Colored MNIST (seed 004): every digit image painted in each of 10 colours ``hsv(h, 1, 1)``,
``h = 0.0, 0.1, ..., 0.9`` (the 3D Shapes hues), on a black background. Factors
``(color, digit)``; image ``i`` of colour ``c`` has index ``10 * i + c``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .base import IndexLike, as_index_tensor
from .collection import LabelledCollection
from .registry import register_dataset
from .shapes3d import hue_rgb

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (optionally gzipped) into an array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]]).newbyteorder(">")
    body = np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but the file holds {body.size} values (truncated?)")
    return body.reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (root / name).is_file():
            return root / name
    return None


def load_mnist(path: str | Path, split: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """Images (N, 28, 28) uint8, labels (N,) int64 and the split read from an MNIST directory."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"MNIST directory not found: {root} (expected idx files such as t10k-images-idx3-ubyte.gz)")
    if split not in ("auto", "train", "test"):
        raise ValueError(f"split must be 'auto', 'train' or 'test', got {split!r}")
    prefixes = {"train": "train", "test": "t10k"}
    order = ["train", "test"] if split == "auto" else [split]
    for s in order:
        im, lab = _find(root, f"{prefixes[s]}-images-idx3-ubyte"), _find(root, f"{prefixes[s]}-labels-idx1-ubyte")
        if im and lab:
            x, y = read_idx(im), read_idx(lab).astype(np.int64)
            if x.ndim != 3 or len(x) != len(y):
                raise ValueError(f"{im}: expected images (N, H, W) matching {len(y)} labels, got {x.shape}")
            if y.min() < 0 or y.max() > 9:
                raise ValueError(f"{lab}: labels must be digits 0..9")
            return x.astype(np.uint8), y, s
    raise ValueError(f"no MNIST {'/'.join(order)} idx files (images and labels) in {root}")


def sklearn_digits_28() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits upscaled (bilinear) to 20x20 and centred in 28x28, uint8."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = F.pad(x, (4, 4, 4, 4))
    return (x[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy(), d.target.astype(np.int64)


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 images (N, C, H, W) to (N, C, size, size): bilinear, antialiased."""
    if x.shape[-2:] == (size, size):
        return x
    y = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return y.round().clamp(0, 255).to(torch.uint8)


@register_dataset("mnist")
class MNIST(LabelledCollection):
    """MNIST digits with the digit as the one factor. ``path=None``: the sklearn-digits stand-in.

    Options: ``path`` (directory of idx files), ``split`` ("auto" = train if present else test),
    ``size`` (output side, default 28; others resize bilinearly).
    """

    factor_names = ("digit",)
    factor_sizes = (10,)

    def __init__(self, path: str | Path | None = None, split: str = "auto", size: int = 28):
        if path is None:
            x, y = sklearn_digits_28()
            self.name, self.split = "mnist_standin", "sklearn-digits"
        else:
            x, y, self.split = load_mnist(path, split)
            self.name = "mnist"
        self.size = int(size)
        self._x = torch.from_numpy(x)[:, None]
        self.image_shape = (1, self.size, self.size)
        self._set_classes(y[:, None])

    def factor_values(self, factor: int | str) -> np.ndarray:
        self.factor_index(factor)
        return np.arange(10, dtype=np.float64)

    def images(self, indices: IndexLike) -> torch.Tensor:
        return resize_uint8(self._x[as_index_tensor(indices, len(self))], self.size)

    @property
    def digit_images(self) -> torch.Tensor:
        """All digit images (N, 1, 28, 28) uint8 (unresized)."""
        return self._x


@register_dataset("colored_mnist")
class ColoredMNIST(LabelledCollection):
    """Colored MNIST: factors ``color`` (10 hues) and ``digit``; every digit in every colour.

    Options as :class:`MNIST`; ``path=None`` uses the sklearn-digits stand-in (name
    ``"colored_mnist_standin"``).
    """

    factor_names = ("color", "digit")
    factor_sizes = (10, 10)

    def __init__(self, path: str | Path | None = None, split: str = "auto", size: int = 28):
        self.mnist = MNIST(path, split, size=28)
        self.name = "colored_mnist" if path is not None else "colored_mnist_standin"
        self.size = int(size)
        self.image_shape = (3, self.size, self.size)
        self._rgb = torch.from_numpy(hue_rgb(np.arange(10) / 10.0).astype(np.float32) / 255.0)
        digits = self.mnist.index_to_classes(np.arange(len(self.mnist)))[:, 0]
        n = len(digits)
        self._set_classes(np.stack([np.tile(np.arange(10), n), np.repeat(digits, 10)], 1))

    def factor_values(self, factor: int | str) -> np.ndarray:
        k = self.factor_index(factor)
        return np.arange(10) / 10.0 if k == 0 else np.arange(10, dtype=np.float64)

    def images(self, indices: IndexLike) -> torch.Tensor:
        idx = as_index_tensor(indices, len(self))
        grey = self.mnist.digit_images[idx // 10].float()  # (N, 1, 28, 28)
        x = (grey * self._rgb[idx % 10][:, :, None, None]).round().to(torch.uint8)
        return resize_uint8(x, self.size)
