"""FactorVAE (Kim & Mnih 2018, "Disentangling by factorising", Eq. 2 and Algorithm 1).

VAE objective (minimised by the encoder/decoder, discriminator held fixed):

    L_VAE = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) + gamma * TC(z),
    TC(z) ~ mean_i [ logit_0(z_i) - logit_1(z_i) ]          (density-ratio trick)

Discriminator objective (minimised by the discriminator only):

    L_D = -[ 0.5 * mean log D(z)_0 + 0.5 * mean log D(permute_dims(z))_1 ]

Conventions of disentanglement_lib (decisions.md): permute-dims over the *same* batch (the paper
draws a second batch), probabilities clipped to [1e-6, 1 - 1e-6], discriminator 6 x 1000
LeakyReLU(0.2) with Adam lr 1e-4, betas (0.5, 0.9); VAE Adam lr 1e-4. Both optimisers step on the
same batch with gradients taken at the same parameters (simultaneous update).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import initialize, kl_standard_normal
from ..nn.discriminator import Discriminator, discriminator_loss, discriminator_tc, permute_dims
from .base import Batch, DataFacts, GaussianVAE, OptimizerSpec, StepOutput, VAEHyperparameters, hp, register_method


@dataclass
class FactorVAEParams(VAEHyperparameters):
    gamma: float = hp(10.0, "weight of the discriminator's TC estimate (disentanglement_lib sweep 10..100)", low=0.0)
    disc_lr: float = hp(1e-4, "discriminator Adam learning rate", low=0.0, low_open=True)
    disc_beta1: float = hp(0.5, "discriminator Adam beta1", low=0.0, high=1.0)
    disc_beta2: float = hp(0.9, "discriminator Adam beta2", low=0.0, high=1.0)
    disc_hidden: int = hp(1000, "units in each discriminator layer", low=1, high=65536)
    disc_layers: int = hp(6, "number of hidden discriminator layers", low=1, high=64)


@register_method
class FactorVAE(GaussianVAE):
    """FactorVAE: VAE + gamma * TC, TC estimated by a discriminator against permuted codes."""

    name = "factor_vae"
    Hyperparameters = FactorVAEParams

    def __init__(self, hparams: FactorVAEParams, data: DataFacts):
        super().__init__(hparams, data)
        # the discriminator too: disentanglement_lib's is Keras dense layers, Glorot-uniform by default
        self.discriminator = initialize(Discriminator(hparams.latent_dim, (hparams.disc_hidden,) * hparams.disc_layers),
                                        hparams.init)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        h = self.hparams
        vae = [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]
        return {
            "vae": OptimizerSpec(vae, lr=h.lr, betas=(h.beta1, h.beta2)),
            "discriminator": OptimizerSpec(list(self.discriminator.parameters()), lr=h.disc_lr, betas=(h.disc_beta1, h.disc_beta2)),
        }

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)
        kl = kl_standard_normal(t["mu"], t["logvar"]).sum(1).mean()
        logits_real = self.discriminator(t["z"])
        tc = discriminator_tc(logits_real)
        vae_loss = recon + kl + self.hparams.gamma * tc
        # The discriminator sees the codes as data: its loss updates only its own parameters (the
        # update rule takes each loss's gradient w.r.t. its optimiser's parameters), so the logits
        # of the VAE's TC serve it too; the permuted codes are detached.
        z = t["z"].detach()
        d_loss = discriminator_loss(logits_real, self.discriminator(permute_dims(z)))
        logs = {"loss": vae_loss, "recon": recon, "kl": kl, "tc": tc, "discriminator_loss": d_loss, "elbo": -(recon + kl)}
        return StepOutput({"vae": vae_loss, "discriminator": d_loss}, logs)
