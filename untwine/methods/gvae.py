"""GVAE (Hosoya 2019, "Group-based learning of disentangled representations with generalizability
for novel contents"), as the group baseline of seed 003 and disentanglement_lib's ``group_vae_labels``.

Data: groups of K observations (pairs by default) sharing every factor of one group g of the
dataset's ``factor_groups`` (``--dataset-option groups=seed003``), g known per group. The code
has one latent block per factor group (:class:`~untwine.methods.group_base.GroupVAE`); the
shared latents S are the block of g. On S every member's posterior is replaced by the *average*
of the members' Gaussians (seed 003, Sec. 2: "a Normal distribution over the average of learned
means and covariances"):

    qbar(z_S) = N( 1/K sum_i mu_i,S ,  1/K sum_i sigma^2_i,S )        untwine.nn.aggregation.average_gaussians

and the loss is the group ELBO of :mod:`untwine.methods.shared_posterior` (Eq. 4 there):
``1/K sum_i recon_i + beta * 1/K sum_i KL(qt_i || N(0, I))`` (``group_kl="once"`` counts the
shared block's KL once per group). ``group_size`` K > 2 draws groups of K (seed 003, Fig. 3c).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.samplers import StreamSpec
from .base import register_method, hp
from .group_base import GroupVAE, GroupVAEHyperparameters
from .shared_posterior import SharedPosteriorParams, SharedPosteriorVAE


@dataclass
class GroupAggregationParams(GroupVAEHyperparameters, SharedPosteriorParams):
    group_size: int = hp(2, "observations per group sharing the group's factors (2: pairs; seed 003 Fig. 3c: 2, 4, 8)",
                         low=2, high=1024)


class GroupAggregationVAE(GroupVAE, SharedPosteriorVAE):
    """GVAE and ML-VAE: the shared latents are the block of the group the members share."""

    def shared_mask(self, batch: dict, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return self.shared_latents(batch["group"])

    def streams(self) -> dict[str, StreamSpec]:
        k = self.hparams.group_size
        if k == 2:
            return super().streams()  # "pairs", shared_factors="dataset"
        return {"groups": StreamSpec("groups", options={"shared_factors": "dataset", "group_size": k})}


@register_method
class GVAE(GroupAggregationVAE):
    """GVAE: the shared group's block of every member takes the average of the members' Gaussians."""

    name = "gvae"
    Hyperparameters = GroupAggregationParams
    aggregation = "average"
