"""Helpers shared by the weak-supervision samplers: seeded class draws and images from classes."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..base import FactorGridDataset, GroundTruthDataset


def uniform_classes(generator: torch.Generator, sizes: Sequence[int], n: int) -> torch.Tensor:
    """``n`` factor-class vectors, each factor uniform on its classes: (n, K) int64."""
    s = torch.as_tensor(list(sizes), dtype=torch.float64)
    u = torch.rand(n, len(sizes), generator=generator, dtype=torch.float64)
    return torch.minimum((u * s).long(), s.long() - 1)


def factor_positions(dataset: GroundTruthDataset, factors: str | int | Sequence[str | int]) -> list[int]:
    """Positions of factors given by name/position (a single name is a one-factor list)."""
    if isinstance(factors, (str, int, np.integer)):
        factors = [factors]
    pos = [dataset.factor_index(f) for f in factors]
    if len(set(pos)) != len(pos):
        raise ValueError(f"factor listed twice in {list(factors)}")
    return pos


def numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from ``generator`` (its state stays the only state to save)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return np.random.default_rng(seed)


def indices_for_classes(dataset: GroundTruthDataset, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One image index per class vector (grid: the unique one; collection: a random one)."""
    if isinstance(dataset, FactorGridDataset):
        return dataset.classes_to_index(classes)
    if hasattr(dataset, "indices_from_classes"):
        return np.asarray(dataset.indices_from_classes(classes, rng), dtype=np.int64)
    raise ValueError(f"dataset {dataset.name!r} cannot map classes to image indices (needs indices_from_classes)")


def images_for_classes(
    dataset: GroundTruthDataset, classes: torch.Tensor | np.ndarray, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, C, H, W) uint8 and their indices (N,) showing ``classes`` (N, K).

    Uses :func:`indices_for_classes` where the dataset can map classes to indices (grids, the
    collections of this package); otherwise ``images_from_classes``, with indices -1.
    """
    c = classes.numpy() if isinstance(classes, torch.Tensor) else np.asarray(classes)
    if isinstance(dataset, FactorGridDataset) or hasattr(dataset, "indices_from_classes"):
        idx = torch.from_numpy(indices_for_classes(dataset, c, numpy_rng(generator)))
        return dataset.images(idx), idx
    x = dataset.images_from_classes(c, numpy_rng(generator))
    return x, torch.full((len(c),), -1, dtype=torch.long)
