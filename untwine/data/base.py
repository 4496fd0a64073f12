"""The ground-truth-factor dataset interface that metrics and weak-supervision samplers use.

A dataset knows its factors of variation: their names, sizes and values, how a flat image index
maps to factor classes and back, how to sample factor classes uniformly, and how to produce the
images for given indices or classes. Images always come out as ``uint8`` tensors of shape
``(N, C, H, W)`` with values in ``0..255``; they become floats only inside a training or
evaluation step, on the device.

Two kinds of dataset share this interface:

* :class:`FactorGridDataset` -- one image per combination of factor classes (dSprites, 3D Shapes,
  Blobs). The flat index is the mixed-radix number of the classes, **last factor fastest**
  (the order of the official files).
* Labelled collections (MNIST, image folders) where several images share one combination; they
  subclass :class:`GroundTruthDataset` directly and override :meth:`index_to_classes` and
  :meth:`images_from_classes`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np
import torch

IndexLike = np.ndarray | torch.Tensor | Sequence[int]


def _integer_error(dtype: object) -> ValueError:
    return ValueError(
        f"image indices must be integers, got dtype {dtype}; a float or bool index would be "
        "truncated or read as a mask -- pass an integer array (e.g. indices.astype(np.int64))"
    )


def as_index_array(indices: IndexLike) -> np.ndarray:
    """``indices`` as a 1-D int64 numpy array; float, bool and other non-integer dtypes are rejected.

    Range is not checked here (see :func:`check_index_range`).
    """
    if isinstance(indices, torch.Tensor):
        if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
            raise _integer_error(indices.dtype)
        indices = indices.detach().cpu().numpy()
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        if idx.size or idx.dtype.kind not in "f":  # an empty list is float64 to numpy
            raise _integer_error(idx.dtype)
    if idx.ndim != 1:
        raise ValueError(f"indices must be 1-D, got shape {idx.shape}; flatten them first")
    return idx.astype(np.int64, copy=False)


def check_index_range(idx: np.ndarray | torch.Tensor, size: int) -> None:
    """Raise an ``IndexError`` naming the bad value unless every entry of ``idx`` is in ``[0, size)``."""
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= size):
        lo, hi = int(idx.min()), int(idx.max())
        raise IndexError(f"image index out of range [0, {size}): got {lo if lo < 0 else hi} (min {lo}, max {hi})")


def as_index_tensor(indices: IndexLike, size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Return ``indices`` as a 1-D int64 tensor, checking the dtype (integers only: a float or bool
    index is an error, never truncated) and that every entry is in ``[0, size)``."""
    if isinstance(indices, torch.Tensor):
        if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
            raise _integer_error(indices.dtype)
        if indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {tuple(indices.shape)}; flatten them first")
        idx = indices.to(dtype=torch.long, device=device)
    else:
        idx = torch.as_tensor(as_index_array(indices), device=device)
    check_index_range(idx, size)
    return idx


class GroundTruthDataset(ABC):
    """A dataset of images with known, discrete factors of variation.

    Subclasses set :attr:`name`, :attr:`factor_names`, :attr:`factor_sizes`, :attr:`image_shape`
    and implement :meth:`factor_values`, :meth:`index_to_classes`, :meth:`images` and
    :meth:`images_from_classes`.
    """

    name: str = "dataset"
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    #: a partition of the factors into groups (seed 003), set by the dataset option ``groups``
    #: (:mod:`untwine.data.groups`); empty when none was given
    factor_groups: tuple[tuple[str, ...], ...] = ()
    image_shape: tuple[int, int, int] = (1, 64, 64)  # (C, H, W)

    # ---- factors -------------------------------------------------------------------------
    @property
    def num_factors(self) -> int:
        """Number of ground-truth factors K."""
        return len(self.factor_sizes)

    def factor_index(self, factor: int | str) -> int:
        """Position of a factor given by name or position; a clear error for an unknown one."""
        if isinstance(factor, (int, np.integer)):
            if not 0 <= int(factor) < self.num_factors:
                raise ValueError(f"factor position {factor} out of range for {self.num_factors} factors")
            return int(factor)
        try:
            return self.factor_names.index(factor)
        except ValueError:
            raise ValueError(
                f"unknown factor {factor!r} for dataset {self.name!r}; known factors: "
                f"{', '.join(self.factor_names)}"
            ) from None

    @abstractmethod
    def factor_values(self, factor: int | str) -> np.ndarray:
        """The real values of one factor, indexed by its class (length ``factor_sizes[k]``)."""

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` factor-class vectors uniformly and independently per factor: (n, K) int64."""
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1).astype(np.int64)

    def classes_to_values(self, classes: np.ndarray) -> np.ndarray:
        """Map factor classes (N, K) to factor values (N, K) float64."""
        classes = self.check_classes(classes)
        return np.stack([self.factor_values(k)[classes[:, k]] for k in range(self.num_factors)], axis=1)

    def check_classes(self, classes: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        """Validate a (N, K) array of factor classes and return it as int64."""
        c = np.asarray(classes)
        if c.ndim != 2 or c.shape[1] != self.num_factors:
            raise ValueError(
                f"factor classes must have shape (N, {self.num_factors}) for {self.name!r} "
                f"({', '.join(self.factor_names)}), got {c.shape}"
            )
        if c.dtype.kind not in "iu":
            frac = np.mod(c, 1) if c.dtype.kind == "f" else None
            if frac is None or (frac != 0).any():
                example = "" if frac is None else f" such as {c[frac != 0][0].item()!r}"
                raise ValueError(f"factor classes must be integer class indices, not factor values; got dtype {c.dtype}{example}")
        c = c.astype(np.int64)
        sizes = np.asarray(self.factor_sizes)
        bad = (c < 0) | (c >= sizes)
        if bad.any():
            k = int(np.argwhere(bad)[0, 1])
            raise ValueError(
                f"factor {self.factor_names[k]!r} has {sizes[k]} classes (0..{sizes[k] - 1}); "
                f"got {int(c[bad.any(axis=1)][0, k])}"
            )
        return c

    # ---- indices and images -------------------------------------------------------------
    @abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @abstractmethod
    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        """Factor classes (N, K) int64 of the images at ``indices``."""

    @abstractmethod
    def images(self, indices: IndexLike) -> torch.Tensor:
        """Images at ``indices`` as a uint8 tensor (N, C, H, W), values 0..255."""

    @abstractmethod
    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Images (N, C, H, W) uint8 showing the given factor classes (N, K).

        Where several images share a combination, ``rng`` picks one uniformly.
        """

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor]:
        """Sample ``n`` factor vectors uniformly and return ``(classes, images)``."""
        classes = self.sample_classes(n, rng)
        return classes, self.images_from_classes(classes, rng)

    def to(self, device: torch.device | str) -> "GroundTruthDataset":
        """Move the image storage to ``device`` (default: no-op for lazily rendered data)."""
        return self

    def __repr__(self) -> str:
        factors = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"{type(self).__name__}({len(self)} images {self.image_shape}, factors: {factors})"


class FactorGridDataset(GroundTruthDataset):
    """A dataset with exactly one image per combination of factor classes.

    The flat index of a class vector ``c`` is ``sum_k c_k * prod_{j>k} size_j`` (last factor
    fastest), as in the official dSprites and 3D Shapes files.
    """

    @property
    def _strides(self) -> np.ndarray:
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def __len__(self) -> int:
        return int(np.prod(self.factor_sizes, dtype=np.int64))

    def classes_to_index(self, classes: np.ndarray) -> np.ndarray:
        """Flat indices (N,) int64 of factor classes (N, K)."""
        return self.check_classes(classes) @ self._strides

    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        idx = as_index_array(indices)
        check_index_range(idx, len(self))
        return (idx[:, None] // self._strides) % np.asarray(self.factor_sizes, dtype=np.int64)

    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        return self.images(self.classes_to_index(classes))
