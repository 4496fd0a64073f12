"""Ada-GVAE (Locatello et al. 2020, "Weakly-supervised disentanglement without compromises", Sec. 4.2),
disentanglement_lib's ``group_vae_argmax``.

Data: pairs (x1, x2) that share some factors, *which* unknown to the model (by default k random
factors change, Locatello et al.'s setting; ``pairs="groups"`` trains on the dataset's factor
groups instead, as the seed 003 study, without telling the model which group is shared). Per pair
the shared latents are inferred from the two posteriors (Eq. 5; :func:`untwine.nn.aggregation.adaptive_shared`):

    delta_j = KL(q(z_j|x1) || q(z_j|x2));   S = { j : delta_j < (min_j delta_j + max_j delta_j) / 2 }

and on S both posteriors are replaced by their *average* (as GVAE, :mod:`untwine.methods.gvae`).
The loss is the pair ELBO of :mod:`untwine.methods.shared_posterior` (``0.5 (recon_1 + recon_2) +
beta * 0.5 (KL_1 + KL_2)``, the reference's). The model has no latent blocks: group-MIG, which
needs ``latent_groups``, does not apply; MIG does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.samplers import StreamSpec
from ..nn.aggregation import adaptive_shared
from .base import ConfigError, DataFacts, hp, register_method
from .shared_posterior import SharedPosteriorParams, SharedPosteriorVAE

PAIR_SOURCES = ("k", "groups")


@dataclass
class AdaptiveParams(SharedPosteriorParams):
    pairs: str = hp("k", "training pairs: k (k random factors change, Locatello et al. 2020) or groups (share one of "
                    "the dataset's factor groups, seed 003; the model is not told which)", choices=PAIR_SOURCES)
    k: int = hp(-1, "pairs=k: factors that change per pair (-1: uniform in 1..V-1 per pair)", low=-1)
    k_mode: str = hp("exact", "pairs=k: change exactly k factors (exact) or choice([1, k]) as disentanglement_lib",
                     choices=("exact", "disentanglement_lib"))


class AdaptiveVAE(SharedPosteriorVAE):
    """Ada-GVAE and Ada-ML-VAE: the shared latents of each pair inferred from its two posteriors."""

    def __init__(self, hparams: AdaptiveParams, data: DataFacts, **networks):
        super().__init__(hparams, data, **networks)
        if hparams.pairs == "groups" and len(data.factor_groups) < 2:
            raise ConfigError(f"{self.name} with pairs=groups needs the dataset's factor groups: give the dataset option "
                              "groups=... (e.g. --dataset-option groups=seed003), or use pairs=k")
        varying = sum(s > 1 for s in data.factor_sizes)
        if hparams.pairs == "k" and data.size and varying < 2:
            raise ConfigError(f"{self.name} trains on pairs where k factors change: it needs a dataset with at least two "
                              f"varying ground-truth factors, and {data.name!r} has {varying}; choose a dataset with "
                              "factors (untwine list), e.g. dsprites or shapes3d")
        if hparams.k == 0:
            raise ConfigError("k=0 changes no factor (the two images would be the same); give k >= 1, or -1 for random k")

    def shared_mask(self, batch: dict, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return adaptive_shared(mu[:, 0], logvar[:, 0], mu[:, 1], logvar[:, 1])

    def streams(self) -> dict[str, StreamSpec]:
        h = self.hparams
        options = {"shared_factors": "dataset"} if h.pairs == "groups" else {"k": h.k, "k_mode": h.k_mode}
        return {"pairs": StreamSpec("pairs", options=options)}


@register_method
class AdaGVAE(AdaptiveVAE):
    """Ada-GVAE: the inferred shared latents of a pair take the average of its two Gaussians."""

    name = "ada_gvae"
    Hyperparameters = AdaptiveParams
    aggregation = "average"
