"""DIP-VAE-I and DIP-VAE-II (Kumar, Sattigeri & Balakrishnan 2018, Eqs. 6 and 7).

    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
        + lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2
        [+ lambda_3 * sum_{ijk} M_ijk^2]

* DIP-VAE-I  (``dip_vae_i``):  C = Cov_p(x)[mu(x)]                          (Eq. 6)
* DIP-VAE-II (``dip_vae_ii``): C = Cov_p(x)[mu(x)] + E_p(x)[Sigma(x)]       (Eqs. 5, 7)

C is the biased covariance over the batch (disentanglement_lib). ``lambda_d = lambda_d_factor *
lambda_od`` with factor 10 for DIP-I and 1 for DIP-II (paper, 2D Shapes). The optional penalty
``lambda_3`` is on the squared l2 norm of the third central moments M of q(z) (paper section 2; 200
for DIP-VAE-II on 2D Shapes), computed analytically for the batch mixture of Gaussians
(:func:`untwine.nn.moments.third_central_moments`). Defaults for lambda_od follow the paper's
Table 1 (2D Shapes): 10 for DIP-I, 5 for DIP-II.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn import kl_standard_normal
from ..nn.moments import dip_covariance, dip_penalty, third_central_moments
from .base import Batch, GaussianVAE, StepOutput, VAEHyperparameters, hp, register_method


@dataclass
class DIPVAEIParams(VAEHyperparameters):
    lambda_od: float = hp(10.0, "weight of the squared off-diagonal covariance entries", low=0.0)
    lambda_d_factor: float = hp(10.0, "lambda_d = lambda_d_factor * lambda_od (diagonal entries pulled to 1)", low=0.0)
    lambda_3: float = hp(0.0, "weight of the squared third central moments of q(z) (0: off)", low=0.0)


@dataclass
class DIPVAEIIParams(DIPVAEIParams):
    lambda_od: float = hp(5.0, "weight of the squared off-diagonal covariance entries", low=0.0)
    lambda_d_factor: float = hp(1.0, "lambda_d = lambda_d_factor * lambda_od (diagonal entries pulled to 1)", low=0.0)


class _DIPVAE(GaussianVAE):
    dip_type = "i"

    def regularizer(self, mu, logvar) -> dict:
        h = self.hparams
        cov = dip_covariance(mu, logvar, self.dip_type)
        terms = {"dip": dip_penalty(cov, h.lambda_od, h.lambda_d_factor * h.lambda_od)}
        if h.lambda_3 > 0:
            terms["third_moment"] = h.lambda_3 * third_central_moments(mu, logvar).pow(2).sum()
        return terms

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)
        kl = kl_standard_normal(t["mu"], t["logvar"]).sum(1).mean()
        reg = self.regularizer(t["mu"], t["logvar"])
        loss = recon + kl + sum(reg.values())
        return StepOutput({"model": loss}, {"loss": loss, "recon": recon, "kl": kl, "elbo": -(recon + kl), **reg})


@register_method
class DIPVAEI(_DIPVAE):
    """DIP-VAE-I: decorrelate the encoder means and pull their variances to 1."""

    name = "dip_vae_i"
    Hyperparameters = DIPVAEIParams
    dip_type = "i"


@register_method
class DIPVAEII(_DIPVAE):
    """DIP-VAE-II: pull the covariance of the aggregate posterior q(z) to the identity."""

    name = "dip_vae_ii"
    Hyperparameters = DIPVAEIIParams
    dip_type = "ii"
