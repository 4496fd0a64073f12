"""What GVAE, ML-VAE, Ada-GVAE and Ada-ML-VAE share: the ELBO of a group of K observations whose
shared latents take one aggregated posterior (Locatello et al. 2020, Eq. 4; disentanglement_lib
``methods/weak/weak_vae.py``).

For members x_1..x_K of a group, with q_i = q(z|x_i) and S the shared latents (known or inferred,
each method's :meth:`shared_mask`), the member's posterior becomes

    qt_i(z_j) = A(q_1(z_j), ..., q_K(z_j))   for j in S       A: average or product (untwine.nn.aggregation)
    qt_i(z_j) = q_i(z_j)                     otherwise

and the loss, minimised, is

    L = 1/K sum_i E_{qt_i}[-log p(x_i | z)]  +  beta * KL_group                                  Eq. 4
    KL_group = 1/K sum_i KL(qt_i || N(0, I))                         group_kl = "per_member" (reference)
             = 1/K ( sum_i KL(qt_i,\\S || N(0, I)) + KL(qt_S || N(0, I)) )   group_kl = "once"

"per_member" counts the shared Gaussian's KL in every member (disentanglement_lib's
``0.5 (KL_1 + KL_2)``); "once" counts it once per group (ML-VAE's ELBO over a group, Bouchacourt
et al. 2018, Eq. 5). Each member is decoded from a sample of its own qt_i (shared latents drawn
independently per member, as the reference). Reconstruction is summed over pixels; both terms are
means over the groups of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nn import kl_standard_normal, reparameterize
from ..nn.aggregation import aggregate_gaussians, replace_shared
from .base import Batch, GaussianVAE, StepOutput, VAEHyperparameters, hp

GROUP_KL = ("per_member", "once")


@dataclass
class SharedPosteriorParams(VAEHyperparameters):
    beta: float = hp(1.0, "weight of the KL term (Locatello et al. 2020 sweep 1, 2, 4, 6, 8, 16)", low=0.0)
    group_kl: str = hp("per_member", "the shared Gaussian's KL counted in every member (per_member, "
                       "disentanglement_lib) or once per group (once, ML-VAE's group ELBO)", choices=GROUP_KL)
    exact_product: bool = hp(False, "product aggregation: the exact product of the Gaussians (variance "
                             "1/sum 1/v_i) instead of disentanglement_lib's K/sum 1/v_i")


class SharedPosteriorVAE(GaussianVAE):
    """A VAE trained on groups of observations whose shared latents take one aggregated Gaussian.

    Subclasses set ``aggregation`` (``average`` or ``product``) and :meth:`shared_mask`, and give
    the stream (``pairs``: ``x1``, ``x2``; ``groups``: ``x`` (B, K, C, H, W)).
    """

    aggregation: str = "average"
    default_batch_size = 64  # groups (disentanglement_lib's weak models: batch 64 pairs)

    def shared_mask(self, batch: dict, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """bool (B, d): the latents the members of each group share."""
        raise NotImplementedError

    @staticmethod
    def members(batch: dict) -> torch.Tensor:
        """The group's images (B, K, C, H, W) from a ``pairs`` or a ``groups`` batch."""
        return batch["x"] if "x" in batch else torch.stack([batch["x1"], batch["x2"]], dim=1)

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        h = self.hparams
        (stream,) = batch.values()
        x = self.prepare(self.members(stream))
        b, k = x.shape[:2]
        flat = x.flatten(0, 1)
        mu, logvar = (t.unflatten(0, (b, k)) for t in self.posterior(flat))   # q_i: (B, K, d)
        shared = self.shared_mask(stream, mu, logvar)                         # S: (B, d)
        group_mu, group_logvar = aggregate_gaussians(mu, logvar, self.aggregation, not h.exact_product)
        mu_t, logvar_t = replace_shared(mu, logvar, group_mu, group_logvar, shared)  # qt_i
        z = reparameterize(mu_t, logvar_t)
        recon = self.reconstruction(self.decoder(z.flatten(0, 1)), flat)     # 1/K sum_i, mean over groups
        kl_dims = kl_standard_normal(mu_t, logvar_t)                          # (B, K, d)
        if h.group_kl == "per_member":
            kl = kl_dims.sum(2).mean()
        else:
            own = (kl_dims * (~shared)[:, None, :]).sum((1, 2))
            once = (kl_standard_normal(group_mu, group_logvar) * shared).sum(1)
            kl = ((own + once) / k).mean()
        loss = recon + h.beta * kl
        logs = {"loss": loss, "recon": recon, "kl": kl, "elbo": -(recon + kl),
                "shared_latents": shared.float().sum(1).mean()}
        return StepOutput({"model": loss}, logs)
