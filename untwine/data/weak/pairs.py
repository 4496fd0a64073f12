"""Pairs and groups of images that share a set of factors (seed 003; Locatello et al. 2020).

Every member of a group shows the same classes on the *shared* factors; each other factor is
redrawn uniformly and independently per member. By default a redrawn factor may coincide with the
first member's value by chance (as in disentanglement_lib's ``simple_dynamics``);
``force_different=True`` redraws it among the *other* classes, so that members 2..K differ from
member 1 on every non-shared factor (they may still coincide with each other when K > 2).
Factors with a single class (dSprites colour) are always shared and marked so in the mask.

Which factors are shared, per group:

* ``shared_factors=["shape", "scale"]``: always that set (``group`` is 0);
* ``shared_factors=[[...], [...]]``: one of several sets, uniformly per group; ``group`` says which
  (seed 003: content ``c`` vs its complement; ``shared_factors="seed003"`` uses the sets of
  ``decisions.md`` for the dataset, ``shared_factors="dataset"`` the dataset's ``factor_groups``);
* ``k=...`` (Locatello et al. 2020): ``k`` factors, chosen uniformly among those with more than
  one class, are redrawn and the rest are shared. ``k=-1`` draws ``k`` uniformly in
  ``1..V-1`` per group (V = number of variable factors). ``k_mode="disentanglement_lib"``
  reproduces the reference's quirk of changing ``choice([1, k])`` factors.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..base import GroundTruthDataset
from ..samplers import BatchSampler, register_sampler
from ..groups import GROUP_PRESETS, resolve_factor_groups
from .common import factor_positions, images_for_classes, uniform_classes

#: decisions.md, seed 003: the content group c and its complement, per dataset (untwine.data.groups).
SEED003_GROUPS: dict[str, list[list[str]]] = {k: [list(g) for g in v] for k, v in GROUP_PRESETS["seed003"].items()}


class GroupSampler(BatchSampler):
    """Groups of ``group_size`` images sharing factors.

    Batch: ``{"x": uint8 (B, K, C, H, W), "shared": bool (B, F), "classes": int64 (B, K, F),
    "index": (B, K)}`` plus ``"group": (B,)`` when ``shared_factors`` lists groups, and ``"k"``
    (B,) (number of redrawn factors) in ``k`` mode.
    """

    def __init__(self, dataset: GroundTruthDataset, batch_size: int, seed: int = 0, device: str | torch.device = "cpu",
                 group_size: int = 2, shared_factors: Any = None, k: int | None = None, k_mode: str = "exact",
                 force_different: bool = False):
        super().__init__(dataset, batch_size, seed, device)
        if int(group_size) < 2:
            raise ValueError(f"group_size must be >= 2, got {group_size}")
        self.group_size = int(group_size)
        self.force_different = bool(force_different)
        sizes = torch.as_tensor(dataset.factor_sizes, dtype=torch.long)
        self.sizes = sizes
        self.constant = sizes == 1
        self.variable = torch.nonzero(~self.constant).flatten()
        if (shared_factors is None) == (k is None):
            raise ValueError("pairs/groups sampler: give exactly one of shared_factors=... or k=...")
        self.group_masks: torch.Tensor | None = None
        self.k: int | None = None
        if shared_factors is not None:
            self.group_masks = self._parse_groups(dataset, shared_factors)
        else:
            v = len(self.variable)
            if k_mode not in ("exact", "disentanglement_lib"):
                raise ValueError(f"k_mode must be 'exact' or 'disentanglement_lib', got {k_mode!r}")
            if not (int(k) == -1 and v >= 2) and not 1 <= int(k) <= v:
                raise ValueError(f"k must be -1 (random) or in 1..{v} (factors with more than one class), got {k}")
            self.k = int(k)
            self.k_mode = k_mode

    def _parse_groups(self, dataset: GroundTruthDataset, shared: Any) -> torch.Tensor:
        if isinstance(shared, str) and shared == "dataset":  # the dataset's groups (dataset option groups=...)
            if not dataset.factor_groups:
                raise ValueError(f"shared_factors='dataset' needs the dataset's factor groups; give the dataset "
                                 f"option groups=... (e.g. groups=seed003)")
            shared = [list(g) for g in dataset.factor_groups]
        if isinstance(shared, str) and shared in GROUP_PRESETS:  # a preset of untwine.data.groups, checked there
            shared = [list(g) for g in resolve_factor_groups(dataset, shared)]
        if isinstance(shared, (str, int)) or (
            isinstance(shared, Sequence) and all(isinstance(f, (str, int)) for f in shared)
        ):
            groups = [shared]
        else:
            groups = list(shared)
        if not groups:
            raise ValueError("shared_factors is empty")
        masks = torch.zeros(len(groups), self.dataset.num_factors, dtype=torch.bool)
        for g, names in enumerate(groups):
            masks[g, factor_positions(dataset, names)] = True
        return masks | self.constant

    def _shared_mask(self, n: int) -> dict[str, torch.Tensor]:
        g = self.generator
        if self.group_masks is not None:
            group = torch.randint(len(self.group_masks), (n,), generator=g)
            return {"shared": self.group_masks[group], "group": group}
        v = len(self.variable)
        if self.k == -1:
            k_row = torch.randint(1, v, (n,), generator=g)
        else:
            k_row = torch.full((n,), self.k, dtype=torch.long)
        if self.k_mode == "disentanglement_lib":
            one = torch.rand(n, generator=g) < 0.5
            k_row = torch.where(one, torch.ones_like(k_row), k_row)
        rank = torch.argsort(torch.argsort(torch.rand(n, v, generator=g), dim=1), dim=1)
        changed = torch.zeros(n, self.dataset.num_factors, dtype=torch.bool)
        changed[:, self.variable] = rank < k_row[:, None]
        return {"shared": ~changed, "k": k_row}

    def draw_classes(self, n: int) -> dict[str, torch.Tensor]:
        """Factor classes (n, K, F) of ``n`` groups and their shared masks."""
        out = self._shared_mask(n)
        shared = out["shared"]
        first = uniform_classes(self.generator, self.dataset.factor_sizes, n)
        members = [first]
        for _ in range(self.group_size - 1):
            if self.force_different:
                step = 1 + (torch.rand(n, len(self.sizes), generator=self.generator, dtype=torch.float64)
                            * (self.sizes - 1).clamp(min=1)).long()
                other = (first + step) % self.sizes
            else:
                other = uniform_classes(self.generator, self.dataset.factor_sizes, n)
            members.append(torch.where(shared, first, other))
        out["classes"] = torch.stack(members, dim=1)
        return out

    def next_batch(self) -> dict[str, torch.Tensor]:
        n, m = self.batch_size, self.group_size
        out = self.draw_classes(n)
        flat = out["classes"].reshape(n * m, -1)
        x, idx = images_for_classes(self.dataset, flat, self.generator)
        out["x"] = x.reshape(n, m, *x.shape[1:]).to(self.device, non_blocking=True)
        out["index"] = idx.reshape(n, m)
        return out


@register_sampler("groups")
def groups_sampler(dataset, batch_size, seed=0, device="cpu", **options) -> GroupSampler:
    """Groups of K images (``group_size``, default 2) sharing factors: ``x`` is (B, K, C, H, W)."""
    return GroupSampler(dataset, batch_size, seed, device, **options)


@register_sampler("pairs")
class PairSampler(GroupSampler):
    """Pairs sharing factors: the groups batch with ``x1``, ``x2`` (B, C, H, W) in place of ``x``."""

    def __init__(self, dataset, batch_size, seed=0, device="cpu", **options):
        if options.get("group_size", 2) != 2:
            raise ValueError("the pairs sampler has group_size 2; use kind 'groups' for larger groups")
        options.pop("group_size", None)
        super().__init__(dataset, batch_size, seed, device, group_size=2, **options)

    def next_batch(self) -> dict[str, torch.Tensor]:
        out = super().next_batch()
        x = out.pop("x")
        out["x1"], out["x2"] = x[:, 0], x[:, 1]
        return out
