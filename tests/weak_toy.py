"""A tiny factor grid for sampler tests: each image stores its own factor classes in pixels."""

from __future__ import annotations

import numpy as np
import torch

from untwine.data import FactorGridDataset


class ToyGrid(FactorGridDataset):
    """Factors a(3), b(4), c(5) (sizes configurable); image (1, 2, K) holds the classes in row 0."""

    name = "toy"

    def __init__(self, names=("a", "b", "c"), sizes=(3, 4, 5)):
        self.factor_names = tuple(names)
        self.factor_sizes = tuple(sizes)
        self.image_shape = (1, 2, len(sizes))
        self.calls = 0

    def factor_values(self, factor):
        k = self.factor_index(factor)
        return np.linspace(0.0, 1.0, self.factor_sizes[k])

    def images(self, indices):
        self.calls += 1
        if isinstance(indices, torch.Tensor):
            indices = indices.numpy()
        classes = self.index_to_classes(np.asarray(indices))
        x = np.zeros((len(classes), 1, 2, self.num_factors), dtype=np.uint8)
        x[:, 0, 0, :] = classes
        x[:, 0, 1, :] = 255
        return torch.from_numpy(x)

    def weak_labels(self, classes, resolution=2):
        """One-hot of factor 0 binned into ``resolution`` bins, then factor 1 the same way."""
        classes = self.check_classes(classes)
        out = []
        for k in (0, 1):
            b = classes[:, k] * resolution // self.factor_sizes[k]
            out.append(np.eye(resolution, dtype=np.float32)[b])
        return np.concatenate(out, axis=1)


def classes_of(x: torch.Tensor) -> np.ndarray:
    """Recover factor classes from ToyGrid images (any leading dims)."""
    return x[..., 0, 0, :].numpy().astype(np.int64)
