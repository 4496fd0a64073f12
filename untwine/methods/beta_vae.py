"""beta-VAE (Higgins et al. 2017).

    L = E_q[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))          (Higgins et al., Eq. 4)

Reconstruction summed over pixels, KL summed over latents, both averaged over the batch
(disentanglement_lib). ``beta = 1`` is the plain VAE.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import kl_standard_normal
from .base import Batch, GaussianVAE, StepOutput, VAEHyperparameters, hp, register_method


@dataclass
class BetaVAEParams(VAEHyperparameters):
    beta: float = hp(4.0, "weight of the KL term (beta >= 0; 1 is the plain VAE)", low=0.0)


@register_method
class BetaVAE(GaussianVAE):
    """beta-VAE: the ELBO with the KL term weighted by beta."""

    name = "beta_vae"
    Hyperparameters = BetaVAEParams

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)
        kl_per_dim = kl_standard_normal(t["mu"], t["logvar"]).mean(0)
        kl = kl_per_dim.sum()
        loss = recon + self.hparams.beta * kl
        logs = {"loss": loss, "recon": recon, "kl": kl, "elbo": -(recon + kl)}
        return StepOutput({"model": loss}, logs)
