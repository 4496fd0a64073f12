"""Relations between entities (seed 000): symbolic tables and a sampler of relation tuples.

A :class:`RelationTable` maps (relation, source entities) to the target entity. Presets
(``relation_table(spec, "seed000")``, from the reference code of seed 000):

* dSprites (unary, all cyclic): ``left``/``right`` move the posX bin -1/+1 with wrap,
  ``up``/``down`` the posY bin -1/+1 (bin 0 is up), ``shape`` square -> ellipse -> heart -> square;
* 3D Shapes (unary): ``more_hue``/``less_hue`` object hue +1/-1 and ``bigger``/``smaller`` scale bin
  +1/-1, clamped at the ends (``wrap=True`` makes them cyclic), ``shape`` +1 mod 4;
* HWF (binary, on the digits 0..9): ``sum``, ``difference``, ``product`` mod 10; each relation is
  also an entity (the operator symbol: ``+`` 10, ``-`` 11, ``times`` 12) given as
  ``relation_entity`` so a model can draw the relation code from that entity's prior component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..base import GroundTruthDataset
from ..samplers import BatchSampler, register_sampler
from .common import indices_for_classes, numpy_rng
from .entities import EntitySpec, as_entity_spec


@dataclass
class RelationTable:
    """``table[r, a]`` (unary) or ``table[r, a, b]`` (binary) is the target entity."""

    names: list[str]
    table: np.ndarray
    sources: np.ndarray  # entity ids that may be operands
    relation_entity: np.ndarray  # (R,) entity standing for each relation, -1 if none

    @property
    def arity(self) -> int:
        return self.table.ndim - 1

    def relation_index(self, relation: int | str) -> int:
        if isinstance(relation, str):
            if relation not in self.names:
                raise ValueError(f"unknown relation {relation!r}; known: {', '.join(self.names)}")
            return self.names.index(relation)
        return int(relation)

    def apply(self, relation: np.ndarray | int | str, *operands: np.ndarray) -> np.ndarray:
        """Target entities of ``relation`` (per row or one for all) applied to the operands."""
        if len(operands) != self.arity:
            raise ValueError(f"relations here take {self.arity} operand(s), got {len(operands)}")
        r = np.asarray(self.relation_index(relation) if isinstance(relation, str) else relation, dtype=np.int64)
        ops = [np.asarray(o, dtype=np.int64) for o in operands]
        return self.table[(r, *ops)]

    def apply_depth(self, relation: np.ndarray | int | str, operands: np.ndarray) -> np.ndarray:
        """Apply a relation ``d`` times. Unary: ``operands`` (N, d) whose first column is the source
        (``f^d(a)``; the other columns are ignored). Binary: ``operands`` (N, d + 1), the chain
        ``((a o b) o c) ...`` with fresh right operands."""
        ops = np.asarray(operands, dtype=np.int64)
        if self.arity == 1:
            out = ops[:, 0]
            for _ in range(ops.shape[1]):
                out = self.apply(relation, out)
            return out
        out = ops[:, 0]
        for j in range(1, ops.shape[1]):
            out = self.apply(relation, out, ops[:, j])
        return out


def unary_moves(spec: EntitySpec, moves: Sequence[tuple[str, str, int, str]]) -> RelationTable:
    """Relations that move one binned factor: ``(name, factor, step, "wrap" | "clamp")``."""
    factor_names = list(spec.bins)
    ent = np.arange(spec.num_entities)
    bins = spec.entity_bins(ent)
    table = np.empty((len(moves), spec.num_entities), dtype=np.int64)
    for r, (name, factor, step, mode) in enumerate(moves):
        if factor not in factor_names:
            raise ValueError(f"relation {name!r}: factor {factor!r} is not binned; binned: {', '.join(factor_names)}")
        j = factor_names.index(factor)
        n = spec.num_bins[j]
        b = bins.copy()
        if mode == "wrap":
            b[:, j] = (b[:, j] + step) % n
        elif mode == "clamp":
            b[:, j] = np.clip(b[:, j] + step, 0, n - 1)
        else:
            raise ValueError(f"mode must be 'wrap' or 'clamp', got {mode!r}")
        table[r] = b @ spec._strides
    return RelationTable([m[0] for m in moves], table, ent, np.full(len(moves), -1))


def cyclic_moves(names: Sequence[str], sizes: Sequence[int]) -> RelationTable:
    """One relation per factor, ``next_<factor>``: its class +1, cyclic, on entities that are every
    combination of the factors' classes (last factor fastest, as :class:`EntitySpec`)."""
    sizes = [int(s) for s in sizes]
    ent = np.arange(int(np.prod(sizes)))
    bins = np.stack(np.unravel_index(ent, sizes), 1)
    table = np.empty((len(sizes), len(ent)), dtype=np.int64)
    for j, n in enumerate(sizes):
        b = bins.copy()
        b[:, j] = (b[:, j] + 1) % n
        table[j] = np.ravel_multi_index(tuple(b.T), sizes)
    return RelationTable([f"next_{name}" for name in names], table, ent, np.full(len(sizes), -1))


MAX_COMBINATION_ENTITIES = 512  # beyond it, one entity (prior component) per factor combination is too many


def combination_entities(factor_names: Sequence[str], factor_sizes: Sequence[int]
                         ) -> tuple[dict[str, Any], RelationTable, int] | None:
    """Entities for a dataset without a seed-000 preset: every combination of the classes of its
    varying factors (an :func:`as_entity_spec` mapping), one cyclic ``next_<factor>`` move each
    (:func:`cyclic_moves`), and their number; None when there are no varying factors or more than
    :data:`MAX_COMBINATION_ENTITIES` combinations."""
    factors = [(n, int(s)) for n, s in zip(factor_names, factor_sizes) if int(s) > 1]
    count = int(np.prod([s for _, s in factors])) if factors else 0
    if not factors or count > MAX_COMBINATION_ENTITIES:
        return None
    bins = {"bins": {n: [[c] for c in range(s)] for n, s in factors}}
    return bins, cyclic_moves([n for n, _ in factors], [s for _, s in factors]), count


def relation_table(spec: EntitySpec, relations: Any = "seed000", wrap: bool = False) -> RelationTable:
    """The seed-000 relations for the spec's dataset, or ``relations`` itself if it is a table."""
    if isinstance(relations, RelationTable):
        return relations
    if relations != "seed000":
        raise ValueError(f"relations must be a RelationTable or 'seed000', got {relations!r}")
    name = spec.dataset.name.split("_")[0]
    if name == "dsprites":
        return unary_moves(spec, [("left", "posX", -1, "wrap"), ("right", "posX", 1, "wrap"),
                                  ("up", "posY", -1, "wrap"), ("down", "posY", 1, "wrap"),
                                  ("shape", "shape", 1, "wrap")])
    if name == "shapes3d":
        m = "wrap" if wrap else "clamp"
        return unary_moves(spec, [("more_hue", "object_hue", 1, m), ("less_hue", "object_hue", -1, m),
                                  ("bigger", "scale", 1, m), ("smaller", "scale", -1, m),
                                  ("shape", "shape", 1, "wrap")])
    if name == "hwf":
        if spec.num_entities < 13:
            raise ValueError("HWF relations need the 13 symbol entities (digits and + - times)")
        a, b = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
        table = np.stack([(a + b) % 10, (a - b) % 10, (a * b) % 10])
        return RelationTable(["sum", "difference", "product"], table, np.arange(10), np.array([10, 11, 12]))
    raise ValueError(f"no seed-000 relations for dataset {spec.dataset.name!r}; build a RelationTable")


@register_sampler("relations")
class RelationSampler(BatchSampler):
    """Relation tuples ``(source entities, relation, target entity)`` with uniform sources.

    Batch: ``{"source": (N, arity), "relation": (N,), "target": (N,), "relation_entity": (N,)}``;
    with ``images=True`` also ``"x_source"`` (N, arity, C, H, W) and ``"x_target"`` (N, C, H, W),
    random images of those entities. ``per_relation=True`` (the reference) gives ``batch_size``
    tuples of every relation (N = R * batch_size, relation-major); otherwise N = batch_size with
    uniformly drawn relations. Options: ``entities``, ``relations`` ("seed000" or a table),
    ``wrap`` (3D Shapes hue/scale moves cyclic).
    """

    def __init__(self, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu",
                 entities: Any = "seed000", relations: Any = "seed000", per_relation: bool = True,
                 images: bool = False, wrap: bool = False):
        super().__init__(dataset, batch_size, seed, device)
        self.spec = as_entity_spec(dataset, entities)
        self.table = relation_table(self.spec, relations, wrap)
        self.per_relation, self.with_images = bool(per_relation), bool(images)
        self._table = torch.from_numpy(self.table.table)
        self._sources = torch.from_numpy(np.asarray(self.table.sources, dtype=np.int64))
        self._rel_ent = torch.from_numpy(np.asarray(self.table.relation_entity, dtype=np.int64))

    def next_batch(self) -> dict[str, torch.Tensor]:
        g, num_rel = self.generator, len(self.table.names)
        if self.per_relation:
            rel = torch.arange(num_rel).repeat_interleave(self.batch_size)
        else:
            rel = torch.randint(num_rel, (self.batch_size,), generator=g)
        n, arity = len(rel), self.table.arity
        src = self._sources[torch.randint(len(self._sources), (n, arity), generator=g)]
        tgt = self._table[(rel, *src.unbind(1))]
        out = {"source": src, "relation": rel, "target": tgt, "relation_entity": self._rel_ent[rel]}
        if self.with_images:
            rng = numpy_rng(g)
            ent = torch.cat([src.reshape(-1), tgt]).numpy()
            idx = indices_for_classes(self.dataset, self.spec.sample_classes(ent, rng), rng)
            x = self.dataset.images(idx).to(self.device)
            out["x_source"] = x[: n * arity].reshape(n, arity, *x.shape[1:])
            out["x_target"] = x[n * arity:]
        return out
