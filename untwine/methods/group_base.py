"""What the group methods share (seed 003): a code split into one latent block per factor group.

The dataset's factor groups (``--dataset-option groups=seed003``: content c, style \\c) give the
blocks; ``latent_split`` gives their sizes (None: ``latent_dim`` split as evenly as possible, the
first blocks one larger). Batches are pairs (x1, x2) that share every factor of one group,
``group`` (B,) saying which: the stream ``pairs`` with ``shared_factors="dataset"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.samplers import StreamSpec
from .base import ConfigError, DataFacts, GaussianVAE, VAEHyperparameters, hp


@dataclass
class GroupVAEHyperparameters(VAEHyperparameters):
    latent_split: tuple[int, ...] | None = hp(
        None, "latents per factor group, in the groups' order, summing to latent_dim (none: an even split)", low=1)


class GroupVAE(GaussianVAE):
    """A Gaussian VAE whose code has one block per factor group of the training data."""

    def __init__(self, hparams: GroupVAEHyperparameters, data: DataFacts, **networks):
        super().__init__(hparams, data, **networks)
        groups = data.factor_groups
        if len(groups) < 2:
            raise ConfigError(
                f"{self.name} needs the factor groups of its data (pairs share one group); give the dataset option "
                f"groups=... (e.g. --dataset-option groups=seed003, or groups='a,b;c,d' with the factors of "
                f"{data.name!r}: {', '.join(data.factor_names) or 'unknown'})")
        d, split = hparams.latent_dim, hparams.latent_split
        if split is None:
            if d < len(groups):
                raise ConfigError(f"latent_dim={d} is smaller than the number of factor groups ({len(groups)}); "
                                  "each group needs at least one latent")
            split = tuple(d // len(groups) + (i < d % len(groups)) for i in range(len(groups)))
        elif len(split) != len(groups) or sum(split) != d:
            raise ConfigError(f"latent_split={','.join(map(str, split))} must give one size per factor group "
                              f"({len(groups)}: {'; '.join(','.join(g) for g in groups)}) summing to latent_dim={d}")
        self.split = tuple(int(s) for s in split)
        self.register_buffer("block_of_latent", torch.repeat_interleave(
            torch.arange(len(self.split)), torch.tensor(self.split)), persistent=False)

    @property
    def latent_groups(self) -> tuple[int, ...]:
        """The factor group (index into ``data.factor_groups``) of each latent: what group-MIG pairs up."""
        return tuple(int(g) for g in self.block_of_latent.tolist())

    def shared_latents(self, group: torch.Tensor) -> torch.Tensor:
        """bool (B, d): the latents of the block of each pair's shared group (``group`` (B,) int)."""
        return self.block_of_latent[None, :] == group.to(self.block_of_latent.device)[:, None]

    def streams(self) -> dict[str, StreamSpec]:
        return {"pairs": StreamSpec("pairs", options={"shared_factors": "dataset"})}
