"""Entities: combinations of binned factor classes (seed 000's "factor combinations").

An :class:`EntitySpec` picks some factors, splits each into bins (lists of classes; classes in no
bin are excluded) and optionally restricts other (nuisance) factors to some classes. An image
whose classes fall into bins ``(b_1, ..., b_m)`` is entity ``sum_j b_j * prod_{i>j} n_i`` (last
factor fastest); images outside the bins or the restrictions have entity -1 and are not used.

Presets (``EntitySpec.preset(dataset, "seed000")``, from the reference code of seed 000):

* dSprites: shape (3) x posX bins {0..4, 13..17, 27..31} x posY (same), scale in {2, 3, 4},
  orientation in {0, 1, 2, 37, 38, 39}: 27 entities, id ``shape*9 + xbin*3 + ybin``;
* 3D Shapes: object_hue (10) x shape (4) x scale bins {0,1}, {3,4}, {6,7} (small/medium/big;
  which scales the reference used is not recoverable, this choice keeps a gap between bins):
  120 entities;
* HWF symbols: each of the 13 symbols is an entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

from ..base import GroundTruthDataset


@dataclass
class EntitySpec:
    """Factors split into bins, plus allowed classes of the other factors (see module doc)."""

    dataset: GroundTruthDataset
    bins: dict[str, list[list[int]]]
    restrict: dict[str, list[int]] = field(default_factory=dict)
    bin_names: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        ds = self.dataset
        if not self.bins:
            raise ValueError("EntitySpec needs at least one binned factor")
        self.factors = [ds.factor_index(f) for f in self.bins]
        self.num_bins = [len(b) for b in self.bins.values()]
        # lookup table per factor: class -> bin (or -1)
        self._bin_of: dict[int, np.ndarray] = {}
        self.allowed: dict[int, np.ndarray] = {}
        for (name, bins), k in zip(self.bins.items(), self.factors):
            table = np.full(ds.factor_sizes[k], -1, dtype=np.int64)
            for b, classes in enumerate(bins):
                c = np.asarray(classes, dtype=np.int64)
                if c.size == 0 or c.min() < 0 or c.max() >= ds.factor_sizes[k]:
                    raise ValueError(f"bins of factor {name!r} must be non-empty lists of classes in "
                                     f"0..{ds.factor_sizes[k] - 1}, got {classes}")
                if (table[c] >= 0).any():
                    raise ValueError(f"a class of factor {name!r} is in two bins")
                table[c] = b
            self._bin_of[k] = table
            self.allowed[k] = np.flatnonzero(table >= 0)
        for name, classes in self.restrict.items():
            k = ds.factor_index(name)
            if k in self._bin_of:
                raise ValueError(f"factor {name!r} is both binned and restricted")
            c = np.unique(np.asarray(classes, dtype=np.int64))
            if c.size == 0 or c.min() < 0 or c.max() >= ds.factor_sizes[k]:
                raise ValueError(f"allowed classes of {name!r} must lie in 0..{ds.factor_sizes[k] - 1}")
            self.allowed[k] = c
        self._strides = np.concatenate([np.cumprod(self.num_bins[::-1])[::-1][1:], [1]]).astype(np.int64)

    @property
    def num_entities(self) -> int:
        return int(np.prod(self.num_bins))

    def entity_of(self, classes: np.ndarray) -> np.ndarray:
        """Entity id (N,) of factor classes (N, K); -1 outside the bins or restrictions."""
        c = self.dataset.check_classes(classes)
        b = np.stack([self._bin_of[k][c[:, k]] for k in self.factors], 1)
        ent = np.where((b >= 0).all(1), b @ self._strides, -1)
        for k, allowed in self.allowed.items():
            if k not in self._bin_of:
                ent = np.where(np.isin(c[:, k], allowed), ent, -1)
        return ent

    def entity_bins(self, entities: np.ndarray) -> np.ndarray:
        """Bin index per binned factor (N, m) of entity ids (N,)."""
        e = np.asarray(entities, dtype=np.int64)
        if e.size and (e.min() < 0 or e.max() >= self.num_entities):
            raise ValueError(f"entity ids must lie in 0..{self.num_entities - 1}")
        return (e[:, None] // self._strides) % np.asarray(self.num_bins)

    def images_per_entity(self) -> np.ndarray:
        """Distinct class vectors (images of a grid dataset) of every entity (E,): the product of its
        bins' sizes, the allowed classes of restricted factors and the sizes of free factors."""
        ds = self.dataset
        free = 1
        for k, size in enumerate(ds.factor_sizes):
            if k not in self._bin_of:
                free *= len(self.allowed[k]) if k in self.allowed else int(size)
        sizes = [np.array([len(b) for b in bins]) for bins in self.bins.values()]
        bins = self.entity_bins(np.arange(self.num_entities))
        counts = np.full(self.num_entities, free, dtype=np.int64)
        for j, s in enumerate(sizes):
            counts *= s[bins[:, j]]
        return counts

    def entity_names(self) -> list[str]:
        """Readable names such as ``shape=square,posX=left,posY=up``."""
        names = []
        for bins in self.entity_bins(np.arange(self.num_entities)):
            parts = []
            for (fname, bl), b in zip(self.bins.items(), bins):
                label = self.bin_names.get(fname, [str(x) for x in range(len(bl))])[b]
                parts.append(f"{fname}={label}")
            names.append(",".join(parts))
        return names

    def sample_classes(self, entities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Factor classes (N, K) of random images of the given entities: the binned factors
        uniformly within their bin, restricted factors uniformly among the allowed classes,
        the rest uniformly."""
        entities = np.asarray(entities, dtype=np.int64)
        bins = self.entity_bins(entities)
        n = len(bins)
        out = self.dataset.sample_classes(n, rng).copy()
        for j, (name, k) in enumerate(zip(self.bins, self.factors)):
            lists = self.bins[name]
            sizes = np.array([len(x) for x in lists])
            padded = np.full((len(lists), sizes.max()), -1)
            for b, x in enumerate(lists):
                padded[b, : len(x)] = x
            pick = np.minimum((rng.random(n) * sizes[bins[:, j]]).astype(np.int64), sizes[bins[:, j]] - 1)
            out[:, k] = padded[bins[:, j], pick]
        for k, allowed in self.allowed.items():
            if k not in self._bin_of:
                out[:, k] = allowed[rng.integers(0, len(allowed), n)]
        return self._accepted(out, lambda rows: self.sample_classes(entities[rows], rng))

    def sample_allowed_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Classes (n, K) uniform over the allowed grid (all bins, all allowed nuisance classes)."""
        out = self.dataset.sample_classes(n, rng).copy()
        for k, allowed in self.allowed.items():
            out[:, k] = allowed[rng.integers(0, len(allowed), n)]
        return self._accepted(out, lambda rows: self.sample_allowed_classes(len(rows), rng))

    def _accepted(self, classes: np.ndarray, redraw) -> np.ndarray:
        """Redraw the rows a dataset part does not hold (``accepts_classes``, e.g. the train part of
        :class:`untwine.data.augment.AugmentedCopies`): uniform over the part."""
        accepts = getattr(self.dataset, "accepts_classes", None)
        if accepts is None:
            return classes
        bad = np.flatnonzero(~accepts(classes))
        if bad.size:
            classes[bad] = redraw(bad)
        return classes

    @classmethod
    def preset(cls, dataset: GroundTruthDataset, name: str = "seed000") -> "EntitySpec":
        if name != "seed000":
            raise ValueError(f"unknown entity preset {name!r}; known: seed000")
        ds_name = dataset.name.split("_")[0]
        if ds_name == "dsprites":
            pos = [list(range(0, 5)), list(range(13, 18)), list(range(27, 32))]
            shape_names = ["square", "ellipse", "heart"]
            return cls(dataset, {"shape": [[0], [1], [2]], "posX": pos, "posY": pos},
                       {"scale": [2, 3, 4], "orientation": [0, 1, 2, 37, 38, 39]},
                       {"shape": shape_names, "posX": ["left", "center", "right"], "posY": ["up", "center", "down"]})
        if ds_name == "shapes3d":
            return cls(dataset, {"object_hue": [[h] for h in range(10)], "shape": [[s] for s in range(4)],
                                 "scale": [[0, 1], [3, 4], [6, 7]]}, {},
                       {"shape": ["cube", "cylinder", "sphere", "capsule"], "scale": ["small", "medium", "big"]})
        if ds_name == "hwf":
            n = dataset.factor_sizes[0]
            symbols = list(getattr(dataset, "symbols", [str(i) for i in range(n)]))
            return cls(dataset, {"symbol": [[i] for i in range(n)]}, {}, {"symbol": symbols})
        raise ValueError(f"no seed-000 entity preset for dataset {dataset.name!r}; build an EntitySpec with bins=")


def as_entity_spec(dataset: GroundTruthDataset, entities: "EntitySpec | str | dict | None") -> EntitySpec:
    """An EntitySpec from a spec, a preset name, or ``{"bins": ..., "restrict": ...}``."""
    if isinstance(entities, EntitySpec):
        return entities
    if entities is None or isinstance(entities, str):
        return EntitySpec.preset(dataset, entities or "seed000")
    if isinstance(entities, dict):
        if "bins" not in entities:
            raise ValueError("entities dict needs 'bins' (factor -> list of class lists) and optionally 'restrict'")
        return EntitySpec(dataset, dict(entities["bins"]), dict(entities.get("restrict", {})),
                          dict(entities.get("bin_names", {})))
    raise ValueError(f"entities must be an EntitySpec, a preset name or a dict, got {type(entities).__name__}")

