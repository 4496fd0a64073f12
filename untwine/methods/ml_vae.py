"""ML-VAE (Bouchacourt et al. 2018, "Multi-level variational autoencoder"), as the group baseline of
seed 003 and disentanglement_lib's ``mlvae_labels``.

Data and code as GVAE (:mod:`untwine.methods.gvae`): groups of K observations sharing one factor
group g, one latent block per group, the shared latents S the block of g. On S every member's
posterior is replaced by the *product* of the members' Gaussians (Bouchacourt et al., Eq. 7):

    q(z_S | x_1..x_K) ~ prod_i q(z_S | x_i)
                      = N( sum_i (mu_i / s^2_i) * s^2 ,  s^2 ),   1/s^2 = sum_i 1/s^2_i

with disentanglement_lib's variance ``K s^2`` (``2 v1 v2 / (v1 + v2)`` for a pair; its mean is the
same precision-weighted mean) by default and the exact ``s^2`` with ``exact_product=True``
(:func:`untwine.nn.aggregation.product_of_gaussians`). The loss is the group ELBO of
:mod:`untwine.methods.shared_posterior` with the shared block's KL counted **once per group** by
default (the ML-VAE ELBO, Bouchacourt et al. Eq. 5: one content variable per group);
``group_kl="per_member"`` counts it in every member, as disentanglement_lib.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import hp, register_method
from .gvae import GroupAggregationParams, GroupAggregationVAE
from .shared_posterior import GROUP_KL


@dataclass
class MLVAEParams(GroupAggregationParams):
    group_kl: str = hp("once", "the shared Gaussian's KL counted once per group (once, ML-VAE's group ELBO) or in "
                       "every member (per_member, disentanglement_lib)", choices=GROUP_KL)


@register_method
class MLVAE(GroupAggregationVAE):
    """ML-VAE: the shared group's block of every member takes the product of the members' Gaussians."""

    name = "ml_vae"
    Hyperparameters = MLVAEParams
    aggregation = "product"
