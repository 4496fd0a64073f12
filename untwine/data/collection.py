"""Labelled image collections: several images per combination of factor classes (MNIST, HWF,
image folders). Subclasses set ``factor_names``/``factor_sizes`` and call
:meth:`LabelledCollection._set_classes` with the (N, K) classes of their N images."""

from __future__ import annotations

import numpy as np
import torch

from .base import GroundTruthDataset, IndexLike, as_index_tensor


class LabelledCollection(GroundTruthDataset):
    """A finite collection with known classes per image; picks random images for given classes."""

    _classes: np.ndarray

    def _set_classes(self, classes: np.ndarray) -> None:
        self._classes = self.check_classes(classes)
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        self._strides = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)
        combo = self._classes @ self._strides
        self._order = np.argsort(combo, kind="stable")
        n_combos = int(np.prod(sizes))
        self._counts = np.bincount(combo, minlength=n_combos)
        self._offsets = np.concatenate([[0], np.cumsum(self._counts)[:-1]])

    def __len__(self) -> int:
        return len(self._classes)

    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        return self._classes[as_index_tensor(indices, len(self)).numpy()]

    def combination_counts(self) -> np.ndarray:
        """Number of images per combination of classes, shaped ``factor_sizes``."""
        return self._counts.reshape(self.factor_sizes)

    def indices_from_classes(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly chosen image index (N,) for each class vector (N, K)."""
        combo = self.check_classes(classes) @ self._strides
        counts = self._counts[combo]
        if (counts == 0).any():
            bad = self.check_classes(classes)[np.argmax(counts == 0)]
            raise ValueError(f"{self.name}: no image has the factor classes "
                             f"{dict(zip(self.factor_names, bad.tolist()))}")
        pick = np.minimum((rng.random(len(combo)) * counts).astype(np.int64), counts - 1)
        return self._order[self._offsets[combo] + pick]

    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        rng = rng if rng is not None else np.random.default_rng()
        return self.images(self.indices_from_classes(classes, rng))

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform per factor when every combination has images; else the classes of uniformly
        drawn images (the empirical distribution)."""
        if (self._counts > 0).all():
            return super().sample_classes(n, rng)
        return self._classes[rng.integers(0, len(self), n)]
