"""Batch samplers: draw indices with a seeded ``torch.Generator`` and gather uint8 images by index.

The trainer asks :func:`make_sampler` for the sampler that a method's ``batch_kind`` names. Every
sampler is an iterator of batches (dicts of tensors) with ``state_dict``/``load_state_dict`` so a
resumed run draws exactly the batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .base import GroundTruthDataset

_SAMPLERS: dict[str, Callable[..., "BatchSampler"]] = {}


def register_sampler(kind: str):
    """Decorator registering a sampler factory for a ``batch_kind``."""

    def wrap(factory):
        if kind in _SAMPLERS:
            raise ValueError(f"sampler {kind!r} registered twice")
        _SAMPLERS[kind] = factory
        return factory

    return wrap


def available_batch_kinds() -> list[str]:
    return sorted(_SAMPLERS)


def make_sampler(
    kind: str, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu", **options: Any
) -> "BatchSampler":
    """The sampler for ``kind`` (``"images"``, ...) over ``dataset``."""
    if kind not in _SAMPLERS:
        raise ValueError(f"no sampler for batch kind {kind!r}; available: {', '.join(available_batch_kinds())}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return _SAMPLERS[kind](dataset=dataset, batch_size=batch_size, seed=seed, device=device, **options)


class BatchSampler:
    """Base: a seeded generator over indices; subclasses implement :meth:`next_batch`."""

    def __init__(self, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu"):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        return self.next_batch()

    def next_batch(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def random_indices(self, n: int) -> torch.Tensor:
        """``n`` uniform indices in ``[0, len(dataset))`` (with replacement, like disentanglement_lib)."""
        return torch.randint(len(self.dataset), (n,), generator=self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@register_sampler("images")
class ImageSampler(BatchSampler):
    """Single images drawn uniformly with replacement: ``{"x": uint8 (B, C, H, W), "index": (B,)}``."""

    def next_batch(self) -> dict[str, torch.Tensor]:
        idx = self.random_indices(self.batch_size)
        x = self.dataset.images(idx)
        return {"x": x.to(self.device, non_blocking=True), "index": idx}
