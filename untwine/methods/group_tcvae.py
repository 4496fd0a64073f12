"""group-tcVAE (seed 003, "Weakly-supervised group disentanglement using total correlation", Eq. 3).

Data: pairs (x, x') sharing every factor of one group g in {c, \\c} (g known per pair); the code
is split into group blocks z = (z_c, z_\\c) (:class:`~untwine.methods.group_base.GroupVAE`; c is
group 0 of the dataset's ``factor_groups``, the first block of ``latent_split``). Each member is
encoded and decoded from its *own* code. Loss per pair, minimised (decisions.md: the printed
equation's signs are a typo, both the TC and the pair KL are penalties):

    L = sum_{x~ in {x, x'}} ( E_q[-log p(x~ | z~_c, z~_\\c)] + KL(q(z~|x~) || N(0, I)) )    recon + prior KL
      + beta  * sum_{z~ in {z, z'}} TC(z~)                                                  Eq. 2
      + gamma * KL(q(z_g | x) || q(z_g | x'))                   analytic, on the shared block g

    TC(z) = KL(q(z) || qbar(z)),  qbar by ``factorisation`` (section 3, Fig. 2):
      inter            qbar = q(z_c) q(z_\\c)
      inter+intra_one  qbar = q(z_c) prod_j q(z_\\c,j)
      full             qbar = prod_k q(z_k)                           (FactorVAE's)

(with more than two groups, ``inter`` takes one block per group and ``inter+intra_one`` keeps the
first group whole and splits all others: :func:`untwine.nn.factorisation_blocks`).

TC estimators (``tc_estimator``):

* ``discriminator`` (default, the paper's "binary adversary", Kim & Mnih 2018): TC(z) ~
  mean [logit_0(z) - logit_1(z)], the discriminator trained on the batch's codes of both members
  (2B samples of q(z)) against the same codes permuted block-wise (:func:`permute_blocks`, a
  sample of qbar), loss ``-[0.5 mean log D(z)_0 + 0.5 mean log D(z_perm)_1]``. Network and
  optimiser as FactorVAE's (6 x 1000 LeakyReLU(0.2), Adam 1e-4, betas (0.5, 0.9)); both
  optimisers step on the same batch with gradients taken at the same parameters (the simultaneous
  update of FactorVAE; the discriminator's loss sees the codes detached).
* ``minibatch``: the minibatch estimator of beta-TCVAE with the product over blocks
  (:func:`untwine.nn.total_correlation` with ``blocks=``), per member on its B codes;
  ``minibatch_estimator`` picks MWS (default, constants kept) or MSS; N is the dataset size.

Pair KL: ``symmetric_kl=True`` replaces KL(q(z_g|x) || q(z_g|x')) by the average of both
directions. Eq. 3 writes the gamma term inside the sum over z~ in {z, z'}; following the issue and
decisions.md it is counted once per pair here (for the symmetric option that is the mean of the
two directions, i.e. half of what a literal sum of both directions would give).

Reconstruction is summed over pixels, every term averaged over the pairs of the batch.
Hyperparameter defaults: the paper sweeps beta in {10, 20, 30, 40, 50, 100} and gamma (its lambda)
in {1, 8, 16, 32, 64} with batches of 32 pairs, without naming a best value; the defaults are the
smallest beta of the sweep (also FactorVAE's default weight on the same discriminator estimate)
and the middle gamma of the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nn import initialize, kl_gaussians, kl_standard_normal
from ..nn.discriminator import (FACTORISATIONS, Discriminator, discriminator_loss, discriminator_tc,
                                factorisation_blocks, permute_blocks)
from ..nn.total_correlation import total_correlation
from .base import Batch, ConfigError, DataFacts, OptimizerSpec, StepOutput, hp, register_method
from .group_base import GroupVAE, GroupVAEHyperparameters

TC_ESTIMATORS = ("discriminator", "minibatch")


@dataclass
class GroupTCVAEParams(GroupVAEHyperparameters):
    beta: float = hp(10.0, "weight of each member's total correlation under the factorisation (paper sweep 10..100)",
                     low=0.0)
    gamma: float = hp(16.0, "weight of the KL between the shared group's blocks of a pair (paper's lambda, sweep 1..64)",
                      low=0.0)
    factorisation: str = hp("inter", "TC target: inter q(z_c)q(z_\\c), inter+intra_one q(z_c)prod_j q(z_\\c,j), "
                            "full prod_k q(z_k)", choices=FACTORISATIONS)
    symmetric_kl: bool = hp(False, "pair KL as the mean of both directions instead of KL(q(z_g|x) || q(z_g|x'))")
    tc_estimator: str = hp("discriminator", "TC estimate: density-ratio discriminator on block-wise permuted codes "
                           "(paper) or the minibatch estimator over blocks", choices=TC_ESTIMATORS)
    minibatch_estimator: str = hp("mws", "tc_estimator=minibatch: minibatch-weighted (mws) or -stratified (mss) sampling",
                                  choices=("mws", "mss"))
    dataset_size: int | None = hp(None, "dataset size N for the minibatch estimator (none: the training dataset's)",
                                  low=1, aliases={0: None})
    disc_lr: float = hp(1e-4, "discriminator Adam learning rate", low=0.0, low_open=True)
    disc_beta1: float = hp(0.5, "discriminator Adam beta1", low=0.0, high=1.0)
    disc_beta2: float = hp(0.9, "discriminator Adam beta2", low=0.0, high=1.0)
    disc_hidden: int = hp(1000, "units in each discriminator layer", low=1, high=65536)
    disc_layers: int = hp(6, "number of hidden discriminator layers", low=1, high=64)


def shared_block_kl(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor, logvar2: torch.Tensor,
                    shared: torch.Tensor, symmetric: bool = False) -> torch.Tensor:
    """(B,) analytic KL(q(z_g|x) || q(z_g|x')) between two diagonal Gaussians on the latents of
    ``shared`` (bool (B, d), the shared group's block per pair); ``symmetric``: the mean of the
    two directions."""
    kl = kl_gaussians(mu1, logvar1, mu2, logvar2)
    if symmetric:
        kl = 0.5 * (kl + kl_gaussians(mu2, logvar2, mu1, logvar1))
    return (kl * shared.to(kl.dtype)).sum(1)


@register_method
class GroupTCVAE(GroupVAE):
    """group-tcVAE: per pair recon + KL of both members, beta * TC(z~) under a factorisation of
    the group blocks, gamma * KL between the shared blocks of the two members."""

    name = "group_tcvae"
    Hyperparameters = GroupTCVAEParams
    default_batch_size = 32  # pairs (decisions.md, seed 003: batch 32 pairs)

    def __init__(self, hparams: GroupTCVAEParams, data: DataFacts):
        super().__init__(hparams, data)
        self.blocks = factorisation_blocks(self.split, hparams.factorisation)  # >= 2 blocks: one per group at least
        if hparams.tc_estimator == "discriminator":
            # disentanglement_lib's discriminator is Keras dense layers: the same init as the VAE
            self.discriminator = initialize(
                Discriminator(hparams.latent_dim, (hparams.disc_hidden,) * hparams.disc_layers), hparams.init)
        else:
            self.discriminator = None
            if not (hparams.dataset_size or data.size):
                raise ConfigError("tc_estimator='minibatch' needs the dataset size N: set dataset_size, or build the "
                                  "method with DataFacts.of(dataset)")

    def optimizers(self) -> dict[str, OptimizerSpec]:
        h = self.hparams
        vae = [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]
        specs = {"vae": OptimizerSpec(vae, lr=h.lr, betas=(h.beta1, h.beta2))}
        if self.discriminator is not None:
            specs["discriminator"] = OptimizerSpec(list(self.discriminator.parameters()), lr=h.disc_lr,
                                                   betas=(h.disc_beta1, h.disc_beta2))
        return specs

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        h = self.hparams
        pairs = batch["pairs"]
        x1, x2 = self.prepare(pairs["x1"]), self.prepare(pairs["x2"])
        n = x1.shape[0]
        t = self.forward_terms(torch.cat([x1, x2]))  # both members in one pass: rows [:n] are x, [n:] x'
        mu, logvar, z = t["mu"], t["logvar"], t["z"]
        # sum over x~ in {x, x'} of E_q[-log p(x~|z~)] + KL(q(z~|x~) || p(z)), each a mean over pairs
        recon = self.reconstruction(t["logits"][:n], x1) + self.reconstruction(t["logits"][n:], x2)
        kl = 2.0 * kl_standard_normal(mu, logvar).sum(1).mean()  # = mean over pairs of KL_1 + KL_2
        # sum over z~ in {z, z'} of TC(z~) = KL(q(z) || qbar(z)) under the chosen factorisation
        logs: dict[str, torch.Tensor] = {}
        losses: dict[str, torch.Tensor] = {}
        if self.discriminator is not None:
            logits = self.discriminator(z)
            tc = discriminator_tc(logits[:n]) + discriminator_tc(logits[n:])
            # its loss updates only the discriminator (the update rule takes each loss's gradient
            # w.r.t. its own optimiser's parameters): the same logits serve; permuted codes detached
            d_loss = discriminator_loss(logits, self.discriminator(permute_blocks(z.detach(), self.blocks)))
            losses["discriminator"] = d_loss
            logs["discriminator_loss"] = d_loss
        else:
            size = int(h.dataset_size or self.data.size)
            tc = sum(total_correlation(z[s], mu[s], logvar[s], size, h.minibatch_estimator, self.blocks)
                     for s in (slice(0, n), slice(n, 2 * n)))
        # KL(q(z_g|x) || q(z_g|x')) on the block of the group g the pair shares
        pair_kl = shared_block_kl(mu[:n], logvar[:n], mu[n:], logvar[n:], self.shared_latents(pairs["group"]),
                                  h.symmetric_kl).mean()
        vae_loss = recon + kl + h.beta * tc + h.gamma * pair_kl
        losses["vae"] = vae_loss
        logs = {"loss": vae_loss, "recon": recon, "kl": kl, "tc": tc, "pair_kl": pair_kl,
                "elbo": -(recon + kl), **logs}
        return StepOutput(losses, logs)
