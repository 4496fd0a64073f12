"""The code table: representations of dataset images, each distinct image encoded at most once.

Every metric asks for the codes of factor-class vectors it sampled (the reference sampling
procedure, unchanged). For a :class:`~untwine.data.base.FactorGridDataset` the classes map to
flat image indices; the table keeps one code per index, encodes only indices it has not seen
(deduplicated, in large batches, under ``torch.inference_mode``) and answers the rest by
indexing. Metrics of one evaluation share the table, so the 10,000 training points that MIG,
SAP, DCI, IRS and modularity all draw are encoded once. Datasets where several images share a
class vector (labelled collections) are encoded per request, drawing the image with ``rng``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from ..data.base import FactorGridDataset, GroundTruthDataset

EncodeFn = Callable[[torch.Tensor], Any]


def as_encode_fn(model_or_fn: Any) -> EncodeFn:
    """A callable ``uint8 (N, C, H, W) -> codes`` from a model with ``.encode`` or a callable."""
    if hasattr(model_or_fn, "encode") and callable(model_or_fn.encode):
        return model_or_fn.encode
    if callable(model_or_fn):
        return model_or_fn
    raise TypeError(f"expected a model with an .encode method or a callable, got {type(model_or_fn).__name__}")


def _to_numpy(codes: Any) -> np.ndarray:
    if isinstance(codes, (tuple, list)):  # (mu, logvar)-style outputs: the mean comes first
        codes = codes[0]
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().to("cpu", torch.float64).numpy()
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"encode must return codes of shape (N, d), got shape {codes.shape}")
    return codes


class CodeTable:
    """Lazily filled table of codes for the images of ``dataset``.

    Args:
        encode: a model with ``.encode`` or a callable mapping uint8 images (N, C, H, W) to codes
            (N, d) (tensor or array). Called under ``torch.inference_mode``; an ``nn.Module``
            model is put in eval mode while encoding and restored afterwards.
        dataset: the ground-truth dataset.
        batch_size: images per ``encode`` call.
        device: where the images go before encoding (default: the model's device, else CPU).
    """

    def __init__(self, encode: Any, dataset: GroundTruthDataset, batch_size: int = 256,
                 device: torch.device | str | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = encode if isinstance(encode, torch.nn.Module) else None
        self.encode_fn = as_encode_fn(encode)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        if device is None and self.model is not None:
            p = next(iter(self.model.parameters()), None)
            device = p.device if p is not None else None
        self.device = torch.device(device) if device is not None else None
        self.grid = isinstance(dataset, FactorGridDataset)
        self._codes: np.ndarray | None = None  # (len(dataset), d) float64, grid datasets only
        self._known: np.ndarray | None = None
        self.num_encoded = 0  # images passed through the encoder
        self.encode_seconds = 0.0

    # ---- encoding ----------------------------------------------------------------------------
    def encode_images(self, images: torch.Tensor) -> np.ndarray:
        """Encode uint8 images (N, C, H, W) in batches; returns (N, d) float64."""
        out = []
        t0 = time.perf_counter()
        was_training = self.model.training if self.model is not None else False
        if self.model is not None:
            self.model.eval()
        try:
            with torch.inference_mode():
                for i in range(0, images.shape[0], self.batch_size):
                    x = images[i:i + self.batch_size]
                    if self.device is not None:
                        x = x.to(self.device)
                    if x.ndim == 4:  # same values; lets a channels-last conv model skip a layout copy
                        x = x.contiguous(memory_format=torch.channels_last)
                    out.append(_to_numpy(self.encode_fn(x)))
        finally:
            if self.model is not None and was_training:
                self.model.train()
        self.num_encoded += int(images.shape[0])
        self.encode_seconds += time.perf_counter() - t0
        codes = np.concatenate(out) if out else np.zeros((0, 0))
        if not np.all(np.isfinite(codes)):
            raise ValueError("the model produced NaN or infinite codes; check the model (diverged training?)")
        return codes

    def _encode_indices(self, indices: np.ndarray) -> np.ndarray:
        chunks = []
        step = max(self.batch_size, 8192)  # materialise images a chunk at a time (memory)
        for i in range(0, len(indices), step):
            chunks.append(self.encode_images(self.dataset.images(indices[i:i + step])))
        return np.concatenate(chunks)

    # ---- lookup ------------------------------------------------------------------------------
    def codes_for_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Codes (N, d) of the images showing factor classes (N, K)."""
        classes = self.dataset.check_classes(classes)
        if not self.grid:
            return self.encode_images(self.dataset.images_from_classes(classes, rng))
        return self.codes_for_indices(self.dataset.classes_to_index(classes))

    def codes_for_indices(self, indices: np.ndarray) -> np.ndarray:
        """Codes (N, d) of the images at flat ``indices`` of a grid dataset (encoded at most once)."""
        if not self.grid:
            raise TypeError("codes_for_indices needs a FactorGridDataset; use codes_for_classes")
        indices = np.asarray(indices, dtype=np.int64)
        if self._known is None:
            self._known = np.zeros(len(self.dataset), dtype=bool)
        missing = np.unique(indices[~self._known[indices]])
        if missing.size:
            new = self._encode_indices(missing)
            if self._codes is None:
                self._codes = np.zeros((len(self.dataset), new.shape[1]), dtype=np.float64)
            self._codes[missing] = new
            self._known[missing] = True
        return self._codes[indices]

    def encode_all(self) -> None:
        """Fill the table for every image of a grid dataset (in order, large batches)."""
        if self.grid:
            self.codes_for_indices(np.arange(len(self.dataset)))
