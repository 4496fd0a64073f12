"""Weak labels: every image comes with a label vector computed from its ground-truth factors.

WeLa-VAE (seed 001) trains on images paired with coarse labels (one-hot polar bins of the Blobs
position). The labels are any function of the factor classes: the dataset's own
``weak_labels(classes, **options)`` hook (Blobs: ``resolution=p`` gives angle bins then distance
bins, shape ``(N, 2p)``), or a user ``label_fn(classes) -> (N, L)``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from ..base import GroundTruthDataset
from ..registry import check_options
from ..samplers import BatchSampler, register_sampler

LabelFn = Callable[[np.ndarray], np.ndarray]


def resolve_label_fn(dataset: GroundTruthDataset, label_fn: LabelFn | None = None, **options: Any) -> LabelFn:
    """The function ``classes (N, K) -> labels (N, L)`` for ``dataset``.

    ``label_fn`` wins; otherwise the dataset's ``weak_labels`` hook, called with ``options``.
    """
    if label_fn is not None:
        if options:
            raise ValueError(
                f"weak_labels: options {', '.join(sorted(options))} are only passed to the dataset's "
                "weak_labels hook; with a label_fn, bind them into the function instead"
            )
        if not callable(label_fn):
            raise ValueError(f"label_fn must be callable classes (N, K) -> labels (N, L), got {type(label_fn).__name__}")
        return label_fn
    hook = getattr(dataset, "weak_labels", None)
    if hook is None:
        raise ValueError(
            f"dataset {dataset.name!r} has no weak_labels hook; pass label_fn=callable(classes) -> (N, L) "
            "to the weak_labels sampler"
        )
    check_options(hook, options, f"dataset {dataset.name!r}: weak_labels", positional=("classes",))
    return lambda classes: hook(classes, **options)


def compute_labels(fn: LabelFn, classes: np.ndarray) -> torch.Tensor:
    """Call ``fn`` and check that it returns one float row per sample."""
    labels = np.asarray(fn(classes), dtype=np.float32)
    if labels.ndim == 1:
        labels = labels[:, None]
    if labels.ndim != 2 or labels.shape[0] != classes.shape[0]:
        raise ValueError(
            f"weak label function must return shape (N, L) with N={classes.shape[0]}, got {labels.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(labels))


@register_sampler("weak_labels")
class WeakLabelSampler(BatchSampler):
    """Uniform images with weak labels: ``{"x": uint8 (B,C,H,W), "labels": float32 (B,L), "index": (B,)}``.

    Options: ``label_fn`` (callable on factor classes) or keyword options for the dataset's
    ``weak_labels`` hook (e.g. ``resolution=4`` on Blobs). Indices are drawn uniformly with
    replacement from the generator, so a resumed sampler repeats the same batches.
    """

    def __init__(self, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu",
                 label_fn: LabelFn | None = None, **options: Any):
        super().__init__(dataset, batch_size, seed, device)
        self.label_fn = resolve_label_fn(dataset, label_fn, **options)
        # Fail now, not in the first training step, if the hook rejects the options.
        self.num_labels = compute_labels(self.label_fn, dataset.index_to_classes(np.zeros(1, dtype=np.int64))).shape[1]

    def next_batch(self) -> dict[str, torch.Tensor]:
        idx = self.random_indices(self.batch_size)
        classes = self.dataset.index_to_classes(idx)
        labels = compute_labels(self.label_fn, classes)
        x = self.dataset.images(idx)
        return {"x": x.to(self.device, non_blocking=True), "labels": labels.to(self.device), "index": idx}
