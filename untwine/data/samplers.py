"""Batch samplers: draw indices with a seeded ``torch.Generator`` and gather uint8 images by index.

A method declares named batch streams (:class:`StreamSpec`: sampler kind, batch size, options);
the trainer builds them as :class:`Streams`, each by :func:`make_sampler`. Every sampler is an
iterator of batches (dicts of tensors) with ``state_dict``/``load_state_dict`` so a resumed run
draws exactly the batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
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


@dataclass
class StreamSpec:
    """One named batch stream of a method.

    Attributes:
        kind: the sampler kind (:func:`available_batch_kinds`: ``"images"``, ``"weak_labels"``,
            ``"pairs"``, ``"few_labels"``, ``"relations"``, ...).
        batch_size: batches of this size (None: the run's ``batch_size``).
        options: keyword options of the sampler (e.g. ``{"resolution": 3}`` for weak labels).
        start: the first step (number of completed steps) at which the stream is drawn; before
            it the step's batch has no entry for this stream.
    """

    kind: str = "images"
    batch_size: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    start: int = 0


def stream_seed(seed: int, name: str, position: int) -> int:
    """The generator seed of stream ``name``: ``seed`` for the first stream (position 0), otherwise
    a mix of ``seed`` and the name (independent of the order of the other streams)."""
    if position == 0:
        return int(seed)
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**63)


class Streams:
    """The named samplers of a method's streams; ``draw(step)`` gives one batch per active stream."""

    def __init__(self, specs: dict[str, StreamSpec], dataset: GroundTruthDataset, batch_size: int, seed: int = 0,
                 device: str | torch.device = "cpu"):
        if not specs:
            raise ValueError("a method must declare at least one batch stream")
        self.specs = dict(specs)
        self.samplers: dict[str, BatchSampler] = {}
        for position, (name, spec) in enumerate(self.specs.items()):
            try:
                self.samplers[name] = make_sampler(spec.kind, dataset, spec.batch_size or batch_size,
                                                   seed=stream_seed(seed, name, position), device=device, **spec.options)
            except TypeError as e:  # an option the sampler does not take
                raise ValueError(f"stream {name!r} (sampler {spec.kind!r}): {e}") from None

    def __getitem__(self, name: str) -> "BatchSampler":
        return self.samplers[name]

    def __iter__(self):
        return iter(self.samplers)

    def draw(self, step: int) -> dict[str, dict[str, torch.Tensor]]:
        """One batch of every stream whose ``start`` is at most ``step``."""
        return {name: next(s) for name, s in self.samplers.items() if self.specs[name].start <= step}

    def state_dict(self) -> dict[str, Any]:
        """Every sampler's state by stream name."""
        return {name: s.state_dict() for name, s in self.samplers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a stream missing from ``state`` is an error naming it."""
        missing = [n for n in self.samplers if n not in state]
        if missing:
            raise KeyError(f"no sampler state for stream(s) {', '.join(missing)} in the checkpoint")
        for name, s in self.samplers.items():
            s.load_state_dict(state[name])


def count_images(batches: dict[str, dict[str, torch.Tensor]]) -> int:
    """Images in a step's batches: every uint8 tensor of shape (..., C, H, W) counts ``prod(...)``
    images (a pair batch (B, C, H, W) twice is 2 B images, a group batch (B, K, C, H, W) is B K)."""
    n = 0
    for batch in batches.values():
        for v in batch.values():
            if isinstance(v, torch.Tensor) and v.dtype == torch.uint8 and v.ndim >= 4:
                n += math.prod(v.shape[:-3])
    return n
