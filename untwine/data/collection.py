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
        sizes = [int(v) for v in self.factor_sizes]
        if int(np.prod(sizes, dtype=object)) >= 2**62:
            raise ValueError(f"{self.name}: too many factor combinations to index ({len(sizes)} factors)")
        strides = [1] * len(sizes)
        for k in range(len(sizes) - 2, -1, -1):
            strides[k] = strides[k + 1] * sizes[k + 1]
        self._strides = np.asarray(strides, dtype=np.int64)
        combo = self._combo(self._classes)
        self._order = np.argsort(combo, kind="stable")
        # sparse index: only the combinations present (CelebA has 2^40 possible ones)
        self._combos, self._offsets, self._counts = np.unique(combo[self._order], return_index=True, return_counts=True)

    def _combo(self, classes: np.ndarray) -> np.ndarray:
        return classes @ self._strides if classes.shape[1] else np.zeros(len(classes), np.int64)

    def __len__(self) -> int:
        return len(self._classes)

    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        return self._classes[as_index_tensor(indices, len(self)).numpy()]

    def _lookup(self, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        combo = self._combo(classes)
        pos = np.clip(np.searchsorted(self._combos, combo), 0, len(self._combos) - 1)
        counts = np.where(self._combos[pos] == combo, self._counts[pos], 0)
        return pos, counts

    def combination_counts(self) -> np.ndarray:
        """Number of images per combination of classes, shaped ``factor_sizes`` (small grids only)."""
        total = int(np.prod(self.factor_sizes, dtype=object))
        if total > 10**7:
            raise ValueError(f"{self.name}: {total} combinations are too many for a dense count table")
        out = np.zeros(total, np.int64)
        out[self._combos] = self._counts
        return out.reshape(self.factor_sizes)

    def indices_from_classes(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly chosen image index (N,) for each class vector (N, K)."""
        classes = self.check_classes(classes)
        pos, counts = self._lookup(classes)
        if (counts == 0).any():
            bad = classes[np.argmax(counts == 0)]
            raise ValueError(f"{self.name}: no image has the factor classes "
                             f"{dict(zip(self.factor_names, bad.tolist()))}")
        pick = np.minimum((rng.random(len(classes)) * counts).astype(np.int64), counts - 1)
        return self._order[self._offsets[pos] + pick]

    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        rng = rng if rng is not None else np.random.default_rng()
        return self.images(self.indices_from_classes(classes, rng))

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Uniform per factor when every combination has images; else the classes of uniformly
        drawn images (the empirical distribution)."""
        if self.num_factors == 0:
            return np.zeros((n, 0), np.int64)
        if len(self._combos) == int(np.prod(self.factor_sizes, dtype=object)):
            return super().sample_classes(n, rng)
        return self._classes[rng.integers(0, len(self), n)]
