"""beta-TCVAE (Chen et al. 2018, "Isolating sources of disentanglement in VAEs").

The KL term decomposes as KL = I(x; z) + TC(z) + sum_k KL(q(z_k) || p(z_k)) (Chen et al., Eq. 2);
with alpha = gamma = 1 in their Eq. 4 the objective is (disentanglement_lib ``beta_tc_vae``,
decisions.md):

    L = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) + (beta - 1) * TC(z)

KL analytic (summed over latents, mean over the batch); TC(z) by a minibatch estimator of
:mod:`untwine.nn.total_correlation` on the sampled codes: minibatch-weighted sampling with the
``log(B N)`` constants kept (default), minibatch-stratified sampling, or MWS without constants.
N is the dataset size: ``dataset_size``, or (0) the size in the method's :class:`DataFacts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..nn import kl_standard_normal
from ..nn.total_correlation import TC_ESTIMATORS, total_correlation
from .base import Batch, ConfigError, DataFacts, GaussianVAE, StepOutput, VAEHyperparameters, hp, register_method


@dataclass
class BetaTCVAEParams(VAEHyperparameters):
    beta: float = hp(6.0, "weight of the total correlation; the loss adds (beta - 1) * TC (1 = plain VAE)", low=0.0)
    tc_estimator: str = hp("mws", "TC estimator: minibatch-weighted (mws), -stratified (mss), mws without log(BN)", choices=TC_ESTIMATORS)
    dataset_size: int | None = hp(None, "dataset size N for the TC estimator (none: taken from the training dataset)", low=1, aliases={0: None})


class TCMixin:
    """The dataset size N and the TC term, shared by beta-TCVAE and WeLa-VAE."""

    hparams: Any
    data: DataFacts

    def dataset_size(self) -> int:
        """``dataset_size`` if set, else the size of the training data (0 when neither is known)."""
        n = self.hparams.dataset_size or self.data.size
        if not n and self.hparams.tc_estimator != "mws_no_constant":
            raise ConfigError(
                f"{self.hparams.tc_estimator!r} needs the dataset size: set dataset_size, or build the method "
                "with DataFacts.of(dataset) (or DataFacts(..., size=N))"
            )
        return int(n)

    def tc(self, z, mu, logvar):
        return total_correlation(z, mu, logvar, self.dataset_size() or None, self.hparams.tc_estimator)


@register_method
class BetaTCVAE(TCMixin, GaussianVAE):
    """beta-TCVAE: the ELBO plus (beta - 1) times a minibatch estimate of the total correlation."""

    name = "beta_tcvae"
    Hyperparameters = BetaTCVAEParams

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        t = self.forward_terms(x)
        recon = self.reconstruction(t["logits"], x)  # E_q[-log p(x|z)]
        kl = kl_standard_normal(t["mu"], t["logvar"]).sum(1).mean()  # KL(q(z|x) || p(z))
        tc = self.tc(t["z"], t["mu"], t["logvar"])  # TC(z), Chen et al. section 4.1
        loss = recon + kl + (self.hparams.beta - 1.0) * tc
        return StepOutput({"model": loss}, {"loss": loss, "recon": recon, "kl": kl, "tc": tc, "elbo": -(recon + kl)})
