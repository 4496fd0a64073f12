"""Correlated training sets (seed 004, appendix B; Träuble et al. 2021).

A uniform test set of ``n_test`` distinct images is held out; the training set is resampled from
the remaining images with probability ``p(c1, c2) ∝ exp(-(c1 - c2')^2 / (2 sigma^2))``, where
``c1, c2`` are the two factors' values scaled to [0, 1] and ``c2' = c2`` (``alpha=1``) or
``1 - c2`` (``alpha=-1``, anti-correlated). ``sigma=None`` gives an independent (uniform)
training set of the same size. Training images are drawn **with replacement** by default
(``replace=False`` draws distinct images, which flattens the requested joint distribution once
the likely combinations run out).

Seed-004 defaults (``factors=None``, ``n_train=None``, ``n_test=None``): dSprites (posX, scale),
200,000 / 50,000; 3D Shapes (floor_hue, wall_hue), 100,000 / 50,000; colored MNIST (color,
digit), the whole dataset / 0 (the paper paints the MNIST train and test sets separately: build
the test set from the MNIST test split).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..base import GroundTruthDataset, IndexLike, as_index_tensor

SEED004: dict[str, tuple[tuple[str, str], int | None, int]] = {
    "dsprites": (("posX", "scale"), 200_000, 50_000),
    "shapes3d": (("floor_hue", "wall_hue"), 100_000, 50_000),
    "colored": (("color", "digit"), None, 0),
}


def scaled_values(dataset: GroundTruthDataset, factor: int | str) -> np.ndarray:
    """The factor's values by class, min-max scaled to [0, 1] (all 0 for a single class)."""
    v = np.asarray(dataset.factor_values(factor), dtype=np.float64)
    span = v.max() - v.min()
    return (v - v.min()) / span if span > 0 else np.zeros_like(v)


def correlation_weights(dataset: GroundTruthDataset, classes: np.ndarray, factors: Sequence[int | str],
                        sigma: float | None, alpha: int = 1) -> np.ndarray:
    """Unnormalised sampling weight of each class vector (N, K)."""
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0):
        raise ValueError(f"sigma must be > 0 (smaller: stronger correlation; None: independent factors), got {sigma!r}")
    if sigma is None or np.isinf(sigma):
        return np.ones(len(classes))
    if alpha not in (1, -1):
        raise ValueError(f"alpha must be 1 (correlated) or -1 (anti-correlated), got {alpha}")
    k1, k2 = (dataset.factor_index(f) for f in factors)
    c1 = scaled_values(dataset, k1)[classes[:, k1]]
    c2 = scaled_values(dataset, k2)[classes[:, k2]]
    c2 = c2 if alpha == 1 else 1.0 - c2
    return np.exp(-((c1 - c2) ** 2) / (2.0 * sigma**2))


def _defaults(dataset, factors, n_train, n_test):
    key = dataset.name.split("_")[0]
    preset = SEED004.get(key)
    if factors is None:
        if preset is None:
            raise ValueError(f"no seed-004 correlated factors for {dataset.name!r}; pass factors=(a, b)")
        factors = preset[0]
    if n_test is None:
        n_test = preset[2] if preset else 0
    if n_train is None:
        n_train = preset[1] if preset and preset[1] is not None else len(dataset) - n_test
    if len(factors) != 2:
        raise ValueError(f"factors must name two factors, got {factors}")
    return tuple(factors), int(n_train), int(n_test)


def correlated_split(dataset: GroundTruthDataset, factors: Sequence[int | str] | None = None,
                     sigma: float | None = 0.2, n_train: int | None = None, n_test: int | None = None,
                     seed: int = 0, alpha: int = 1, replace: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Training indices with correlated ``factors`` and a uniform held-out test set: ``(train, test)``."""
    factors, n_train, n_test = _defaults(dataset, factors, n_train, n_test)
    idx = [dataset.factor_index(f) for f in factors]
    if idx[0] == idx[1]:
        raise ValueError(f"a factor cannot be correlated with itself ({factors[0]!r} twice); name two different "
                         f"factors of {', '.join(dataset.factor_names)}")
    n = len(dataset)
    if n_test < 0 or n_test >= n:
        raise ValueError(f"n_test={n_test} must be in [0, {n}) ({dataset.name} has {n:,} images); lower n_test")
    if n_train < 1 or n_train > n - n_test:
        raise ValueError(f"n_train={n_train} must be in [1, {n - n_test:,}] ({dataset.name} has {n:,} images, "
                         f"{n_test:,} held out); lower n_train or n_test")
    correlation_weights(dataset, np.zeros((0, dataset.num_factors), np.int64), factors, sigma, alpha)  # checks first
    rng = np.random.default_rng(seed)
    test = np.sort(rng.choice(n, size=n_test, replace=False)) if n_test else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(n), test, assume_unique=True)
    w = correlation_weights(dataset, dataset.index_to_classes(rest), factors, sigma, alpha)
    train = rng.choice(rest, size=n_train, replace=replace, p=w / w.sum())
    return train.astype(np.int64), test.astype(np.int64)


def factor_correlation(dataset: GroundTruthDataset, indices: IndexLike, factors: Sequence[int | str]) -> float:
    """Pearson correlation of the two factors' (scaled) values over the images at ``indices``."""
    c = dataset.index_to_classes(indices)
    k1, k2 = (dataset.factor_index(f) for f in factors)
    return float(np.corrcoef(scaled_values(dataset, k1)[c[:, k1]], scaled_values(dataset, k2)[c[:, k2]])[0, 1])


def expected_correlation(dataset: GroundTruthDataset, factors: Sequence[int | str], sigma: float | None,
                         alpha: int = 1) -> float:
    """The correlation the resampling targets, on a grid where every (c1, c2) is equally common."""
    k1, k2 = (dataset.factor_index(f) for f in factors)
    v1, v2 = scaled_values(dataset, k1), scaled_values(dataset, k2)
    a, b = np.meshgrid(np.arange(len(v1)), np.arange(len(v2)), indexing="ij")
    classes = np.zeros((a.size, dataset.num_factors), np.int64)
    classes[:, k1], classes[:, k2] = a.ravel(), b.ravel()
    p = correlation_weights(dataset, classes, factors, sigma, alpha)
    p /= p.sum()
    x, y = v1[a.ravel()], v2[b.ravel()]
    mx, my = p @ x, p @ y
    cov = p @ ((x - mx) * (y - my))
    return float(cov / np.sqrt((p @ (x - mx) ** 2) * (p @ (y - my) ** 2)))


class IndexSubset(GroundTruthDataset):
    """A view of ``base`` restricted to ``indices`` (repeats allowed): image ``i`` is
    ``base[indices[i]]``. ``sample_classes`` follows the subset's empirical distribution;
    ``images_from_classes`` delegates to the base dataset (any image with those classes)."""

    def __init__(self, base: GroundTruthDataset, indices: IndexLike, tag: str = "subset"):
        self.base = base
        self.indices = as_index_tensor(indices, len(base)).numpy()
        self.name = base.name
        self.tag = tag
        self.factor_names, self.factor_sizes, self.image_shape = base.factor_names, base.factor_sizes, base.image_shape
        for hook in ("weak_labels",):
            if hasattr(base, hook):
                setattr(self, hook, getattr(base, hook))

    def __len__(self) -> int:
        return len(self.indices)

    def factor_values(self, factor: int | str) -> np.ndarray:
        return self.base.factor_values(factor)

    def base_indices(self, indices: IndexLike) -> np.ndarray:
        return self.indices[as_index_tensor(indices, len(self)).numpy()]

    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        return self.base.index_to_classes(self.base_indices(indices))

    def images(self, indices: IndexLike) -> torch.Tensor:
        return self.base.images(self.base_indices(indices))

    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        return self.base.images_from_classes(classes, rng)

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.index_to_classes(rng.integers(0, len(self), n))

    def to(self, device):
        self.base.to(device)
        return self

    def __repr__(self) -> str:
        return f"IndexSubset({self.tag}: {len(self)} of {self.base!r})"


def correlated_datasets(dataset: GroundTruthDataset, **options) -> tuple[IndexSubset, IndexSubset]:
    """:func:`correlated_split` as two dataset views ``(train, test)``."""
    train, test = correlated_split(dataset, **options)
    return IndexSubset(dataset, train, "correlated train"), IndexSubset(dataset, test, "uniform test")


# ---- the dataset option ``correlate`` ------------------------------------------------------------
CORRELATE_KEYS = ("factors", "sigma", "n_train", "n_test", "seed", "alpha", "replace", "part")


class SplitPart(IndexSubset):
    """One part of a correlated (or independent) split, made by the dataset option ``correlate``.

    ``split`` records how it was made (factors, sigma, sizes, seed, the realised correlation of
    the training part); :meth:`held_out` is the uniform test part (None when ``n_test=0``), the set
    :func:`evaluation_part` scores a model trained on the training part on.
    """

    def __init__(self, base: GroundTruthDataset, indices, tag: str, split: dict, test_indices: np.ndarray):
        super().__init__(base, indices, tag)
        self.split = split
        self._test_indices = test_indices

    def held_out(self) -> "IndexSubset | None":
        if self.split["part"] == "test" or not len(self._test_indices):
            return None
        return IndexSubset(self.base, self._test_indices, "uniform held-out test")


def _option_error(text: str) -> ValueError:
    return ValueError(f"dataset option correlate: {text}")


def correlate_dataset(dataset: GroundTruthDataset, options) -> GroundTruthDataset:
    """The dataset option ``correlate`` (seed 004, appendix B): a correlated or independent
    training part with a uniform held-out test part.

    ``options``: ``True`` (seed 004's preset for the dataset: factors, sizes, sigma 0.2),
    ``"independent"`` (the preset's sizes, uniform training part), or a mapping with keys
    ``factors`` (two factor names), ``sigma`` (> 0; ``None``: independent), ``n_train``,
    ``n_test``, ``seed`` (of the split, 0: one split shared by every model seed), ``alpha``
    (1 correlated, -1 anti-correlated), ``replace`` and ``part`` (``"train"``, the default, or
    ``"test"``). Returns a :class:`SplitPart`.
    """
    if options is False or options is None:
        return dataset
    if options is True:
        options = {}
    elif options == "independent":
        options = {"sigma": None}
    elif not isinstance(options, dict):
        raise _option_error(f"give true, 'independent' or a mapping of {', '.join(CORRELATE_KEYS)}; got {options!r}")
    unknown = sorted(set(options) - set(CORRELATE_KEYS))
    if unknown:
        raise _option_error(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(CORRELATE_KEYS)}")
    o = {"sigma": 0.2, "seed": 0, "alpha": 1, "replace": True, "part": "train", **options}
    if o["part"] not in ("train", "test"):
        raise _option_error(f"part must be 'train' or 'test', got {o['part']!r}")
    factors, n_train, n_test = _defaults(dataset, o.get("factors"), o.get("n_train"), o.get("n_test"))
    try:
        train, test = correlated_split(dataset, factors, o["sigma"], n_train, n_test, int(o["seed"]),
                                       int(o["alpha"]), bool(o["replace"]))
    except ValueError as e:
        raise _option_error(str(e)) from None
    split = {"factors": [dataset.factor_names[dataset.factor_index(f)] for f in factors], "sigma": o["sigma"],
             "n_train": n_train, "n_test": n_test, "seed": int(o["seed"]), "alpha": int(o["alpha"]), "replace": bool(o["replace"]),
             "part": o["part"], "train_correlation": factor_correlation(dataset, train, factors)}
    kind = "independent" if o["sigma"] is None else f"correlated (sigma {o['sigma']})"
    if o["part"] == "test":
        return SplitPart(dataset, test, "uniform test", split, test)
    return SplitPart(dataset, train, f"{kind} train", split, test)


def evaluation_part(dataset: GroundTruthDataset, on: str = "auto") -> tuple[GroundTruthDataset, str]:
    """The dataset a model trained on ``dataset`` is scored on, and a description of it.

    ``on="auto"``: the held-out uniform test part of a correlated/independent split (dataset
    option ``correlate``), else the dataset itself; ``"test"``: the held-out part (an error
    without one); ``"train"``: the training data itself.
    """
    if on not in ("auto", "train", "test"):
        raise ValueError(f"on must be 'auto', 'train' or 'test', got {on!r}")
    held = dataset.held_out() if hasattr(dataset, "held_out") else None
    if on == "test" and held is None:
        raise ValueError(f"{dataset.name} has no held-out test part; train with the dataset option correlate "
                         "(n_test > 0) or evaluate on='train'")
    if held is not None and on != "train":
        return held, f"held-out uniform test set ({len(held):,} images, never trained on)"
    if hasattr(dataset, "split"):
        return dataset, f"the training data ({len(dataset):,} images of the {dataset.tag} part)"
    return dataset, "the training data"
