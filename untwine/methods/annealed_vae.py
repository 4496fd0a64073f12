"""AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in beta-VAE", Eq. 8).

    L = E_q[-log p(x|z)] + gamma * | KL(q(z|x) || N(0, I)) - C |

with the capacity C raised linearly from 0 to ``c_max`` nats over ``iteration_threshold`` steps
and held there (disentanglement_lib ``annealed_vae``: gamma 1000, iteration_threshold 100000,
c_max swept over {5, 10, 25, 50, 75, 100}). The KL is the batch mean of the per-sample KL, as in
disentanglement_lib (the absolute value is taken after averaging).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import kl_standard_normal
from .base import Batch, GaussianVAE, StepOutput, VAEHyperparameters, hp, register_method


@dataclass
class AnnealedVAEParams(VAEHyperparameters):
    gamma: float = hp(1000.0, "weight of |KL - C|", low=0.0)
    c_max: float = hp(25.0, "final capacity C in nats", low=0.0)
    iteration_threshold: int = hp(100000, "steps over which C grows linearly from 0 to c_max", low=1)


@register_method
class AnnealedVAE(GaussianVAE):
    """beta-VAE with a controlled, linearly increasing KL capacity."""

    name = "annealed_vae"
    Hyperparameters = AnnealedVAEParams

    def capacity(self, step: int) -> float:
        h = self.hparams
        return min(h.c_max, h.c_max * step / h.iteration_threshold)

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)
        kl = kl_standard_normal(t["mu"], t["logvar"]).sum(1).mean()
        c = self.capacity(step)
        loss = recon + self.hparams.gamma * (kl - c).abs()
        return StepOutput({"model": loss}, {"loss": loss, "recon": recon, "kl": kl, "capacity": c, "elbo": -(recon + kl)})
