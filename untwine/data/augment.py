"""Seed 000's augmentation: corrupted copies of every image, and a split that keeps copies together.

The AbsAE paper (Valenti & Bacciu 2022, section 4.1; implementation notes A.1) adds every dSprites
image 7 times: the original, ``noisy`` (3) copies with Gaussian noise (sigma 0.3) added to the
foreground pixels only and clipped to [0, 1], and ``dropped`` (3) copies with 30% of the pixels set
to 0. :class:`AugmentedCopies` wraps any dataset so: image ``i`` is copy ``i % copies`` of base
image ``i // copies``, its factors those of the base image. The corruption is a fixed function of
(``seed``, index), computed by a counter-based hash (vectorised, no per-image generator), so an
image is the same every time it is drawn.

The paper's random 80/10/10 split after augmentation puts copies of one image on both sides
(near-duplicate leakage). Here ``holdout`` assigns whole base images to a held-out side by a hash
of the base index, and ``part`` ("train" or "test") keeps one side: sampling by classes then draws
only base images of that side (rejection on :meth:`accepts_classes`), so a model trained on the
train part is scored on base images it never saw in any copy.

Off by default: ``get_dataset("dsprites", augment=True)`` or ``augment={"holdout": 0.2, "part":
"train"}`` (every dataset takes the option; the run's config.yaml records it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .base import FactorGridDataset, GroundTruthDataset, IndexLike, as_index_array, check_index_range


def _hash_uniform(keys: torch.Tensor, salt: int) -> torch.Tensor:
    """Uniform floats in (0, 1), a fixed function of int64 ``keys`` and ``salt``: multiply-add-xorshift
    rounds on 31 bits (products stay inside int64; the first wraps, deterministically)."""
    x = (keys * 2654435761 + salt * 40503 + 12345) & 0x7FFFFFFF
    for mult in (1103515245, 22695477, 1664525):
        x = (x * mult + 12345) & 0x7FFFFFFF
        x = x ^ (x >> 13)
    return (x.double() + 0.5) / 2147483648.0


class AugmentedCopies(GroundTruthDataset):
    """``copies = 1 + noisy + dropped`` images per image of ``base`` (module docstring)."""

    def __init__(self, base: GroundTruthDataset, noisy: int = 3, dropped: int = 3, noise_std: float = 0.3,
                 drop: float = 0.3, seed: int = 0, holdout: float = 0.0, part: str | None = None):
        if noisy < 0 or dropped < 0:
            raise ValueError(f"noisy and dropped copies must be >= 0, got {noisy} and {dropped}")
        if not 0.0 <= drop <= 1.0 or noise_std < 0:
            raise ValueError(f"drop must be in [0, 1] and noise_std >= 0, got {drop} and {noise_std}")
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {holdout}")
        if part not in (None, "train", "test"):
            raise ValueError(f"part must be 'train', 'test' or None (all images), got {part!r}")
        if part is not None and holdout == 0.0:
            raise ValueError(f"part={part!r} needs a held-out fraction: give holdout, e.g. 0.2")
        self.base, self.noisy, self.dropped = base, int(noisy), int(dropped)
        self.copies = 1 + self.noisy + self.dropped
        self.noise_std, self.drop, self.seed = float(noise_std), float(drop), int(seed)
        self.holdout, self.part = float(holdout), part
        self.name, self.factor_names, self.factor_sizes = base.name, base.factor_names, base.factor_sizes
        self.image_shape, self.factor_groups = base.image_shape, base.factor_groups
        n = len(base)
        self._bases = np.arange(n) if part is None else np.flatnonzero(self.held_out(np.arange(n)) == (part == "test"))
        if len(self._bases) == 0:
            raise ValueError(f"the {part} part of {base.name} is empty; lower holdout")

    # ---- the split ---------------------------------------------------------------------------
    def held_out(self, base_indices: IndexLike) -> np.ndarray:
        """Whether base images are on the held-out (test) side: a fixed hash of (seed, base index)."""
        if self.holdout == 0.0:
            return np.zeros(len(as_index_array(base_indices)), dtype=bool)
        u = _hash_uniform(torch.from_numpy(as_index_array(base_indices)), self.seed * 7919 + 1)
        return (u < self.holdout).numpy()

    def accepts_classes(self, classes: np.ndarray) -> np.ndarray:
        """Which class vectors show a base image of this part (all True without a part)."""
        c = self.check_classes(classes)
        if self.part is None:
            return np.ones(len(c), dtype=bool)
        return self.held_out(self._base_index(c)) == (self.part == "test")

    def _base_index(self, classes: np.ndarray) -> np.ndarray:
        if not isinstance(self.base, FactorGridDataset):
            raise ValueError(f"a part of {self.base.name} needs a factor-grid base dataset")
        return self.base.classes_to_index(classes)

    # ---- the interface -----------------------------------------------------------------------
    def factor_values(self, factor: int | str) -> np.ndarray:
        return self.base.factor_values(factor)

    def __len__(self) -> int:
        return len(self._bases) * self.copies

    def _split_index(self, indices: IndexLike) -> tuple[np.ndarray, np.ndarray]:
        idx = as_index_array(indices)
        check_index_range(idx, len(self))
        return self._bases[idx // self.copies], idx % self.copies

    def index_to_classes(self, indices: IndexLike) -> np.ndarray:
        return self.base.index_to_classes(self._split_index(indices)[0])

    def images(self, indices: IndexLike) -> torch.Tensor:
        base, copy = self._split_index(indices)
        return self._corrupt(self.base.images(base), base, copy)

    def sample_classes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.part is None:
            return self.base.sample_classes(n, rng)
        return self.base.index_to_classes(self._bases[rng.integers(0, len(self._bases), n)])

    def indices_from_classes(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random copy of the base image of each class vector (which must lie in this part)."""
        c = self.check_classes(classes)
        base = self._base_index(c)
        pos = np.searchsorted(self._bases, base)
        ok = (pos < len(self._bases)) & (self._bases[np.minimum(pos, len(self._bases) - 1)] == base)
        if not ok.all():
            raise ValueError(f"classes {c[~ok][0].tolist()} show a base image of the other part ({self.part} is "
                             "asked); draw classes with this dataset's sample_classes or accepts_classes")
        return pos * self.copies + rng.integers(0, self.copies, len(c))

    def images_from_classes(self, classes: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        return self.images(self.indices_from_classes(classes, rng or np.random.default_rng()))

    # ---- corruption ----------------------------------------------------------------------------
    def _corrupt(self, x: torch.Tensor, base: np.ndarray, copy: np.ndarray) -> torch.Tensor:
        n = x.shape[0]
        pix = int(np.prod(x.shape[1:]))
        keys = (torch.from_numpy(base * self.copies + copy)[:, None] * pix + torch.arange(pix)[None]).reshape(-1)
        c = torch.from_numpy(copy)[:, None, None, None]
        noisy = (c >= 1) & (c <= self.noisy)
        dropped = c > self.noisy
        out = x.float() / 255
        if self.noisy and bool(noisy.any()):
            u1, u2 = _hash_uniform(keys, self.seed * 2 + 11), _hash_uniform(keys, self.seed * 2 + 12)
            gauss = (torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * np.pi * u2)).float().view(n, *x.shape[1:])
            out = torch.where(noisy & (x > 0), (out + self.noise_std * gauss).clamp(0, 1), out)
        if self.dropped and bool(dropped.any()):
            u = _hash_uniform(keys, self.seed * 2 + 13).float().view(n, *x.shape[1:])
            out = torch.where(dropped & (u < self.drop), torch.zeros_like(out), out)
        return (out * 255).round().to(torch.uint8)


def augment_dataset(dataset: GroundTruthDataset, options: Any) -> GroundTruthDataset:
    """The dataset option ``augment``: True (seed 000's 7 copies) or a mapping of
    :class:`AugmentedCopies` keyword options; False/None: the dataset itself."""
    if options is None or options is False:
        return dataset
    if options is True:
        options = {}
    if not isinstance(options, dict):
        raise ValueError(f"augment must be true or a mapping of options (noisy, dropped, noise_std, drop, seed, "
                         f"holdout, part), got {options!r}")
    try:
        return AugmentedCopies(dataset, **options)
    except TypeError as e:
        raise ValueError(f"augment: {e}; options are noisy, dropped, noise_std, drop, seed, holdout, part") from None
