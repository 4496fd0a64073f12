"""The code table: representations of dataset images, each distinct image encoded at most once.

Every metric asks for the codes of factor-class vectors it sampled (the reference sampling
procedure, unchanged). For a :class:`~untwine.data.base.FactorGridDataset` the classes map to
flat image indices; the table keeps one code per index, encodes only indices it has not seen
(deduplicated, in large batches, under ``torch.inference_mode``) and answers the rest by
indexing. Metrics of one evaluation share the table, so the 10,000 training points that MIG,
SAP, DCI, IRS and modularity all draw are encoded once. Datasets where several images share a
class vector (labelled collections) are encoded per request, drawing the image with ``rng``.

On the CPU the ``encode`` of a model that declares ``encode_is_traceable`` (untwine's VAE
family) is by default run as a frozen TorchScript trace (:func:`inference_encoder`):
convolutions fused with their ReLU and weights prepacked for oneDNN, about 2.5x the eager
throughput of the disentanglement_lib conv encoder. The trace is checked against the eager
model on the first batch (codes equal within float32 rounding, max |difference| <=
1e-4 (1 + max |code|)) and dropped, with a warning, when it differs or the model cannot be
traced. ``fast_encoder=False`` encodes eagerly; ``True`` tries any ``nn.Module``.

A model whose encoder needs more than the images (WeLa-VAE's label encoder) defines
``encode_side_inputs(classes) -> dict of tensors``; the table then encodes every batch as
``model.encode(x, **model.encode_side_inputs(classes))`` with the factor classes of the batch's
images (from the flat indices on a grid dataset, else the requested classes), always eagerly.
"""

from __future__ import annotations

import time
import warnings
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


class _EncodeMean(torch.nn.Module):
    """``model.encode`` as a module returning one tensor (the mean of tuple outputs)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model.encode(x)
        return out[0] if isinstance(out, (tuple, list)) else out


def inference_encoder(model: torch.nn.Module, example: torch.Tensor, tolerance: float = 1e-4) -> EncodeFn | None:
    """A frozen, inference-optimised TorchScript trace of ``model.encode`` for CPU batches like ``example``.

    ``torch.jit.trace`` + ``torch.jit.optimize_for_inference`` (freezing; convolution + ReLU
    fused; oneDNN weight layout). Returns None (with a warning) when the model cannot be traced,
    the tracer warns (data-dependent Python code a trace would bake in), or the trace's codes
    differ from eager ``encode`` by more than ``tolerance * (1 + max |code|)`` on ``example`` or
    on ``example`` in reverse order. Use the returned function only for batches of
    ``example``'s shape and dtype (a trace may fix shapes); the model must be in eval mode.

    TorchScript is deprecated since torch 2.13 but works there (the version untwine pins); should
    a later torch drop it, this returns None and evaluation encodes eagerly. ``torch.compile``
    with inductor freezing was measured instead: 8.2k images/s after a 15 s compile, against
    15k/s for this trace and 6k/s eager (``benchmarks/README.md``).
    """
    try:
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated (torch 2.13), still works
            warnings.simplefilter("always", torch.jit.TracerWarning)
            wrapped = _EncodeMean(model).eval()
            traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(wrapped, example)))
        tracer_warnings = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
        if tracer_warnings:
            message = str(tracer_warnings[0].message).strip().splitlines()[0]
            raise RuntimeError(f"the trace may be wrong for other inputs: {message}")
        with torch.no_grad():
            error, scale = 0.0, 0.0
            for x in (example, example.flip(0)):
                reference, fast = _to_numpy(wrapped(x)), _to_numpy(traced(x))
                if fast.shape != reference.shape:
                    raise RuntimeError(f"shape {fast.shape} instead of {reference.shape}")
                error = max(error, float(np.max(np.abs(fast - reference), initial=0.0)))
                scale = max(scale, float(np.max(np.abs(reference), initial=0.0)))
    except Exception as err:  # noqa: BLE001 - any tracing failure means: encode eagerly
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        warnings.warn(f"fast encoder unavailable ({type(err).__name__}: {reason}); encoding eagerly", stacklevel=2)
        return None
    if error > tolerance * (1.0 + scale):
        warnings.warn(f"fast encoder disagrees with the model (max difference {error:.3g}); encoding eagerly",
                      stacklevel=2)
        return None
    return traced


def _side_input_fn(model: Any, dataset: GroundTruthDataset) -> Callable[[np.ndarray], dict[str, Any]] | None:
    """``model.encode_side_inputs`` when it gives side inputs (probed on one class vector), else None.

    Methods inherit an ``encode_side_inputs`` that returns no inputs (and WeLa-VAE without its
    label encoder returns none): those are encoded from the images alone, fast path included.
    """
    fn = getattr(model, "encode_side_inputs", None)
    if not callable(fn):
        return None
    probe = fn(np.zeros((1, dataset.num_factors), dtype=np.int64))
    return fn if probe else None


class CodeTable:
    """Lazily filled table of codes for the images of ``dataset``.

    Args:
        encode: a model with ``.encode`` or a callable mapping uint8 images (N, C, H, W) to codes
            (N, d) (tensor or array). Called under ``torch.inference_mode``; an ``nn.Module``
            model is put in eval mode while encoding and restored afterwards.
        dataset: the ground-truth dataset.
        batch_size: images per ``encode`` call (default 128 on the CPU, where the fused encoder
            is fastest at 64-128, and 1024 on accelerators).
        device: where the images go before encoding (default: the model's device, else CPU).
        fast_encoder: on the CPU, encode full batches with :func:`inference_encoder` (checked
            against the model; falls back to eager). ``None`` (default): for models whose
            ``encode_is_traceable`` attribute is true (untwine's methods: tensor-only encoders);
            ``True``: for any ``nn.Module``; ``False``: never.
    """

    def __init__(self, encode: Any, dataset: GroundTruthDataset, batch_size: int | None = None,
                 device: torch.device | str | None = None, fast_encoder: bool | None = None):
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = encode  # what was given: metrics that need the decoder or the model's state use it
        self.model = encode if isinstance(encode, torch.nn.Module) else None
        self.encode_fn = as_encode_fn(encode)
        self.side_inputs = _side_input_fn(encode, dataset)
        self.dataset = dataset
        if device is None and self.model is not None:
            p = next(iter(self.model.parameters()), None)
            device = p.device if p is not None else None
        self.device = torch.device(device) if device is not None else None
        on_cpu = self.device is None or self.device.type == "cpu"
        self.batch_size = int(batch_size) if batch_size is not None else (128 if on_cpu else 1024)
        if fast_encoder is None:  # a model says its encode traces safely (untwine methods do)
            fast_encoder = bool(getattr(self.model, "encode_is_traceable", False))
        # a trace fixes the inputs: models with side inputs are encoded eagerly
        self.fast_encoder = bool(fast_encoder) and self.model is not None and on_cpu and self.side_inputs is None
        self._fast: EncodeFn | None = None  # built on the first full batch
        self._fast_checked = False
        self.grid = isinstance(dataset, FactorGridDataset)
        self._codes: np.ndarray | None = None  # (len(dataset), d) float64, grid datasets only
        self._known: np.ndarray | None = None
        self.num_encoded = 0  # images passed through the encoder
        self.encode_seconds = 0.0

    @property
    def uses_fast_encoder(self) -> bool:
        """Whether full batches went through the checked TorchScript trace (known after the first)."""
        return self._fast is not None

    # ---- encoding ----------------------------------------------------------------------------
    def encode_images(self, images: torch.Tensor, classes: np.ndarray | None = None) -> np.ndarray:
        """Encode uint8 images (N, C, H, W) in batches; returns (N, d) float64.

        ``classes`` (N, K): the images' factor classes, required by a model with
        ``encode_side_inputs`` (each batch gets the side inputs of its own rows).
        """
        if self.side_inputs is not None:
            if classes is None:
                raise ValueError(f"{type(self.source).__name__}.encode needs side inputs from the factor classes "
                                 "of the images (encode_side_inputs); pass classes=")
            classes = np.asarray(classes)
            if classes.shape[0] != images.shape[0]:
                raise ValueError(f"{images.shape[0]} images but {classes.shape[0]} rows of factor classes")
        out = []
        t0 = time.perf_counter()
        was_training = self.model.training if self.model is not None else False
        if self.model is not None:
            self.model.eval()
        try:
            for i in range(0, images.shape[0], self.batch_size):
                x = images[i:i + self.batch_size]
                if self.device is not None:
                    x = x.to(self.device)
                if x.ndim == 4:  # same values; lets a channels-last conv model skip a layout copy
                    x = x.contiguous(memory_format=torch.channels_last)
                if self.side_inputs is not None:
                    with torch.inference_mode():
                        side = self.side_inputs(classes[i:i + self.batch_size])
                        side = {k: v.to(self.device) if self.device is not None and isinstance(v, torch.Tensor) else v
                                for k, v in side.items()}
                        out.append(_to_numpy(self.encode_fn(x, **side)))
                    continue
                fn = self.encode_fn
                if self.fast_encoder and x.shape[0] == self.batch_size:
                    if not self._fast_checked:  # traced outside inference mode, once
                        self._fast_checked = True
                        self._fast = inference_encoder(self.model, x)
                    if self._fast is not None:
                        fn = self._fast
                with torch.inference_mode():
                    out.append(_to_numpy(fn(x)))
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
            idx = indices[i:i + step]
            classes = self.dataset.index_to_classes(idx) if self.side_inputs is not None else None
            chunks.append(self.encode_images(self.dataset.images(idx), classes))
        return np.concatenate(chunks)

    # ---- lookup ------------------------------------------------------------------------------
    def codes_for_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Codes (N, d) of the images showing factor classes (N, K)."""
        classes = self.dataset.check_classes(classes)
        if not self.grid:
            return self.encode_images(self.dataset.images_from_classes(classes, rng), classes)
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
