"""Few labels (seed 000): ``tau`` labelled images per entity, plus an unlabelled image stream.

The labelled set is fixed at construction (drawn from ``seed``, independent of the batch stream):
exactly ``tau`` images of every entity (factor combination of :mod:`.entities`), chosen uniformly
within the entity (nuisance factors free, with replacement: on small collections an image can
appear twice). The unlabelled stream draws images uniformly from the allowed grid (the images
that belong to some entity), as the AbsAE trains only on those.

Batch: ``{"x": uint8 (B, C, H, W), "index": (B,)}``. The labelled set: :meth:`labelled_batch`
``{"x", "index", "entity", "classes"}``; :attr:`spec` names the entities; :meth:`entity_of_index`
gives the true entity of any image (for evaluation only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..base import FactorGridDataset, GroundTruthDataset
from ..samplers import BatchSampler, register_sampler
from .common import images_for_classes, indices_for_classes, numpy_rng
from .entities import EntitySpec, as_entity_spec


def few_label_indices(spec: EntitySpec, tau: int, seed: int, labelled_images: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``tau`` image indices per entity: (indices (E*tau,), entity ids (E*tau,)), entity-major.

    ``labelled_images=n`` instead labels ``n`` images drawn uniformly from the entities' grid
    (the reference code's "first m mini-batches" of ``n = m * batch`` images; counts per entity
    then vary).
    """
    rng = np.random.default_rng([int(seed), 7919])
    if labelled_images is not None:
        if int(labelled_images) < 1:
            raise ValueError(f"labelled_images must be >= 1, got {labelled_images}")
        classes = spec.sample_allowed_classes(int(labelled_images), rng)
        idx = indices_for_classes(spec.dataset, classes, rng)
        return idx, spec.entity_of(spec.dataset.index_to_classes(idx))
    if int(tau) < 1:
        raise ValueError(f"tau (labelled samples per entity) must be >= 1, got {tau}")
    ent = np.repeat(np.arange(spec.num_entities), int(tau))
    classes = spec.sample_classes(ent, rng)
    return indices_for_classes(spec.dataset, classes, rng), ent


@register_sampler("few_labels")
class FewLabelSampler(BatchSampler):
    """Unlabelled images from the entities' grid, with a fixed set of ``tau`` labels per entity.

    Options: ``entities`` (``"seed000"`` preset, an :class:`EntitySpec` or
    ``{"bins": {factor: [[classes], ...]}, "restrict": {factor: [classes]}}``), ``tau`` (10),
    ``labelled_batches`` (compatibility with the reference code: label the first ``m`` batches of
    ``batch_size`` uniform images instead of ``tau`` per entity), ``distinct`` (grid datasets: refuse
    a ``tau`` larger than an entity's number of images, whose labelled images would repeat),
    ``min_per_entity`` (refuse a labelled set with fewer images of some entity).
    """

    def __init__(self, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu",
                 entities: Any = "seed000", tau: int = 10, labelled_batches: int | None = None,
                 distinct: bool = False, min_per_entity: int = 0):
        super().__init__(dataset, batch_size, seed, device)
        self.spec = as_entity_spec(dataset, entities)
        self.tau = int(tau)
        if distinct and labelled_batches is None and isinstance(dataset, FactorGridDataset):
            counts = self.spec.images_per_entity()
            if self.tau > counts.min():
                few = np.flatnonzero(counts < self.tau)
                raise ValueError(f"tau={self.tau} labelled images per entity, but {len(few)} entit(y/ies) of "
                                 f"{dataset.name} hold fewer images (entity {few[0]}: {counts[few[0]]}); lower tau to "
                                 f"at most {counts.min()}")
        n_lab = None if labelled_batches is None else int(labelled_batches) * self.batch_size
        idx, ent = few_label_indices(self.spec, self.tau, seed, n_lab)
        counts = np.bincount(ent, minlength=self.spec.num_entities)
        if counts.min() < min_per_entity:
            few = np.flatnonzero(counts < min_per_entity)
            raise ValueError(f"{len(few)} entit(y/ies) got fewer than {min_per_entity} labelled images (entity {few[0]}: "
                             f"{counts[few[0]]}) from {labelled_batches} labelled batch(es) of {self.batch_size}; "
                             "label more batches, or use tau (labelled images per entity)")
        self.labelled = {"index": torch.from_numpy(idx), "entity": torch.from_numpy(ent),
                         "classes": torch.from_numpy(dataset.index_to_classes(idx))}

    def labelled_batch(self) -> dict[str, torch.Tensor]:
        """The whole labelled set with its images."""
        out = dict(self.labelled)
        out["x"] = self.dataset.images(out["index"]).to(self.device)
        return out

    def entity_of_index(self, indices) -> np.ndarray:
        return self.spec.entity_of(self.dataset.index_to_classes(indices))

    def next_batch(self) -> dict[str, torch.Tensor]:
        rng = numpy_rng(self.generator)
        classes = self.spec.sample_allowed_classes(self.batch_size, rng)
        x, idx = images_for_classes(self.dataset, classes, self.generator)
        return {"x": x.to(self.device, non_blocking=True), "index": idx}
