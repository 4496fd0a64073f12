"""VAE (Kingma & Welling 2014).

Loss (negative ELBO), disentanglement_lib convention -- sum over pixels and latents, mean over
the batch:

    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import kl_standard_normal
from .base import Batch, GaussianVAE, StepOutput, VAEHyperparameters, register_method


@dataclass
class VAEParams(VAEHyperparameters):
    """The VAE has only the shared VAE hyperparameters."""


@register_method
class VAE(GaussianVAE):
    """Plain VAE; the representation is the posterior mean."""

    name = "vae"
    Hyperparameters = VAEParams

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)
        kl = kl_standard_normal(t["mu"], t["logvar"]).sum(1).mean()
        loss = recon + kl
        return StepOutput({"model": loss}, {"loss": loss, "recon": recon, "kl": kl, "elbo": -(recon + kl)})
