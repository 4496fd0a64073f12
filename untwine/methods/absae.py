"""Abstraction Autoencoder with Relational Learner (Valenti & Bacciu 2022, seed 000).

A deterministic autoencoder whose codes are pushed adversarially towards a prior p(z) (Eqs. 2-5),
and a relational learner (ReL) that moves codes between the prior's components (Eq. 8):

* warm-up (``warmup`` steps): p(z) = Uniform[-1, 1]^d;
* then (event at step ``warmup``) p(z) = (1/N) sum_k N(mu_k, c S_k) (Eq. 6): one component per
  entity (factor combination, :mod:`untwine.data.weak.entities`), mu_k and S_k the mean and
  sample covariance of the codes of ``tau`` labelled images of entity k, c = ``cov_scale`` (0.1),
  plus ``ridge`` I; the components are buffers (in the checkpoint), sampled as a mixture;
* the ReL, an MLP on [z_in, one-hot(relation)] (binary relations: [z_a, z_b, z_op], z_op drawn
  from the operator's component), is trained on prior samples only: z_in ~ N_src, maximising
  log N_{f(src)}(ReL(z_in, r)) (Eq. 8, ``rel_loss="likelihood"``), or regressing onto a sample of
  the target component (``"regression"``, the authors' code).

Per batch, in this order (implementation notes A.5), each a fresh forward pass:

1. reconstruction, encoder + decoder: ``BCE_logits(Dec(Enc(x)), x)``, mean over pixels and batch;
2. after the warm-up, the ReL: ``rel_weight`` x the mean over relations of its loss;
3. generator, encoder: ``adversarial_weight * BCE(D(Enc(x)), 1)``;
4. discriminator: ``adversarial_weight * 0.5 * [BCE(D(Enc(x)), 0) + BCE(D(z_p), 1)]``, z_p ~ p(z).

Conventions (../shared/spec/decisions.md, AbsAE): the discriminator is unconditional (the authors'
code feeds an all-zero label); the ReL lives in the same run (optimiser ``rel``). One Adam per
network (encoder, decoder, discriminator, ReL), so the encoder's Adam steps twice per batch
(reconstruction, generator), where the authors' code keeps a second Adam for the generator step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..data.samplers import StreamSpec
from ..data.weak.relations import MAX_COMBINATION_ENTITIES, combination_entities
from ..nn.bn_conv import BNConvDecoder, BNConvEncoder, tanh_mlp
from ..nn.gaussian_mixture import GaussianMixture
from ..records import ConfigError, hp
from .base import Batch, DataFacts, EventContext, Hyperparameters, Method, StepOutput, register_method
from .optim import OptimizerSpec

REL_LOSSES = ("likelihood", "regression")


@dataclass
class AbsAEHyperparameters(Hyperparameters):
    latent_dim: int = hp(8, "code size d (dSprites and formulas 8, 3D Shapes 16)", low=1, high=4096)
    channels: int = hp(32, "conv channels nf (dSprites and formulas 32, 3D Shapes 64)", low=1, high=4096)
    hidden: int = hp(1024, "units of the encoder/decoder FC layer, the discriminator and the ReL", low=1, high=65536)
    mlp_layers: int = hp(3, "hidden layers of the discriminator and the ReL (after the input layer)", low=0, high=32)
    lr: float = hp(1e-4, "Adam learning rate of every network (3D Shapes: 1e-5 in the paper)", low=0.0, low_open=True)
    adversarial_weight: float = hp(0.2, "weight beta of the adversarial prior matching", low=0.0)
    warmup: int = hp(1000, "steps with the Uniform[-1, 1]^d prior; the mixture is built at this step", low=1)
    tau: int = hp(10, "labelled images per entity for the mixture (the paper: 10, 20, 30)", low=1)
    labelled_batches: int | None = hp(None, "instead of tau per entity, label the first m batches of uniform images "
                                            "(the authors' code: 20 batches of 1024)", low=1)
    cov_scale: float = hp(0.1, "c: component covariance = c * sample covariance + ridge * I", low=0.0, low_open=True)
    ridge: float = hp(1e-4, "added to every component's covariance diagonal (guards singular covariances)", low=0.0)
    rel_batch: int = hp(128, "ReL samples per relation and step (HWF: 256)", low=1, high=65536)
    rel_loss: str = hp("likelihood", "ReL objective: likelihood (the paper, Eq. 8) or regression onto a target-"
                       "component sample (the authors' code)", choices=REL_LOSSES)
    rel_weight: float = hp(1.0, "weight gamma of the ReL loss", low=0.0)
    entities: str = hp("seed000", "entities: seed 000's preset (dsprites, shapes3d, hwf; elsewhere every factor "
                       "combination)", choices=("seed000",))
    relations: str = hp("seed000", "relations: seed 000's preset (elsewhere one cyclic move per factor)",
                        choices=("seed000",))
    wrap: bool = hp(False, "3D Shapes: hue and scale moves cyclic instead of clamped")


@register_method
class AbsAE(Method):
    """Abstraction Autoencoder + Relational Learner (Valenti & Bacciu 2022; module docstring)."""

    name = "absae"
    Hyperparameters = AbsAEHyperparameters
    default_batch_size = 64
    encode_is_traceable = True
    # the contract's tiny grid has one image per entity: tau 1 there (components N(code, ridge I))
    contract_hparams: ClassVar[dict] = {"warmup": 1, "channels": 4, "hidden": 32, "mlp_layers": 1, "rel_batch": 4, "tau": 1}

    def __init__(self, hparams: AbsAEHyperparameters, data: DataFacts):
        super().__init__(hparams, data)
        h = hparams
        self.encoder = BNConvEncoder(self.image_shape, h.latent_dim, h.channels, h.hidden)
        self.decoder = BNConvDecoder(h.latent_dim, self.image_shape, h.channels, h.hidden)
        self.discriminator = tanh_mlp(h.latent_dim, 1, h.hidden, h.mlp_layers)
        self._structure(data)
        rel_in = h.latent_dim + self.num_relations if self.arity == 1 else 3 * h.latent_dim
        self.rel = tanh_mlp(rel_in, h.latent_dim, h.hidden, h.mlp_layers)
        self.prior = GaussianMixture(self.num_entities, h.latent_dim)

    def _structure(self, data: DataFacts) -> None:
        """Entities and relations: seed 000's presets on dSprites, 3D Shapes and formulas; on any other
        dataset every combination of its factors' classes, with one cyclic ``next_<factor>`` move each."""
        preset = {"dsprites": (27, 5, 1), "shapes3d": (120, 5, 1), "hwf": (13, 3, 2)}.get(data.name.split("_")[0])
        if preset is not None:
            self.num_entities, self.num_relations, self.arity = preset
            self.entities_option, self.relations_option = self.hparams.entities, self.hparams.relations
            # the entity standing for each relation (formulas: the operator symbols + - times, entities 10-12)
            self.relation_entities = list(range(10, 13)) if self.arity == 2 else [-1] * self.num_relations
            return
        generic = combination_entities(data.factor_names, data.factor_sizes)
        if generic is None:
            count = math.prod(s for s in data.factor_sizes if s > 1)
            raise ConfigError(f"absae needs entities: dataset {data.name!r} has "
                              + (f"{count:,} factor combinations (at most {MAX_COMBINATION_ENTITIES} without a preset)"
                                 if count > 1 else "no factors")
                              + "; use dsprites, shapes3d or hwf (seed 000's presets) or a dataset with fewer factor classes")
        self.entities_option, self.relations_option, self.num_entities = generic
        self.num_relations, self.arity = len(self.relations_option.names), 1
        self.relation_entities = [-1] * self.num_relations

    @classmethod
    def check_config(cls, hparams: AbsAEHyperparameters, steps: int) -> None:
        """The mixture is built after ``warmup`` steps: a warm-up longer than the run is an error (a run
        continued later may stop at the warm-up's end)."""
        if hparams.warmup > steps:
            raise ConfigError(f"absae: the warm-up ({hparams.warmup} steps) is longer than the run ({steps} steps), "
                              "so the mixture prior and the ReL would never train; lower --warmup or raise --steps")

    # ---- data ----------------------------------------------------------------------------------
    def streams(self) -> dict[str, StreamSpec]:
        h = self.hparams
        few = {"entities": self.entities_option, "tau": h.tau, "labelled_batches": h.labelled_batches, "distinct": True,
               "min_per_entity": 2 if h.labelled_batches is not None else 0}  # a covariance needs 2 codes
        rel = {"entities": self.entities_option, "relations": self.relations_option, "per_relation": True,
               "wrap": h.wrap}
        return {"images": StreamSpec("few_labels", options=few),
                "relations": StreamSpec("relations", batch_size=h.rel_batch, options=rel, start=h.warmup)}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        lr = self.hparams.lr
        return {name: OptimizerSpec(list(getattr(self, name).parameters()), lr=lr)
                for name in ("encoder", "decoder", "discriminator", "rel")}

    def events(self):
        return {self.hparams.warmup: self.build_prior}

    # ---- the prior -----------------------------------------------------------------------------
    @property
    def prior_ready(self) -> bool:
        return bool(self.prior.fitted)

    def build_prior(self, ctx: EventContext) -> None:
        """End of warm-up: fit one Gaussian per entity to the codes of the labelled images."""
        labelled = ctx.streams["images"].labelled_batch()
        was_training = self.training
        self.eval()
        with torch.no_grad():
            codes = torch.cat([self.encode(labelled["x"][i:i + 512]) for i in range(0, len(labelled["x"]), 512)])
        self.train(was_training)
        try:
            h = self.hparams  # tau = 1: components N(code, ridge I); labelled batches: at least 2 codes each
            self.prior.fit(codes, labelled["entity"].to(codes.device), h.cov_scale, h.ridge,
                           min_samples=2 if h.labelled_batches is not None else min(h.tau, 2))
        except ValueError as e:  # an entity with too few labelled images (labelled_batches mode)
            raise ConfigError(f"absae: cannot build the mixture prior at step {ctx.step}: {e}; with --labelled-batches, "
                              "label more batches, or use --tau") from None

    def sample_prior(self, n: int, device: torch.device) -> torch.Tensor:
        """z ~ p(z): Uniform[-1, 1]^d during the warm-up, the mixture after it."""
        if self.prior_ready:
            return self.prior.sample(n)[0]
        return torch.rand(n, self.hparams.latent_dim, device=device) * 2 - 1

    # ---- representation ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.prepare(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def relate(self, relation: torch.Tensor, *codes: torch.Tensor) -> torch.Tensor:
        """The ReL: the code that relation ``relation`` (N,) gives for operand codes (unary: z; binary:
        z_a, z_b, z_op)."""
        if self.arity == 1:
            (z,) = codes
            return self.rel(torch.cat([z, F.one_hot(relation, self.num_relations).to(z.dtype)], 1))
        return self.rel(torch.cat(codes, 1))

    # ---- the update phases ---------------------------------------------------------------------
    def reconstruction_phase(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        recon = F.binary_cross_entropy_with_logits(self.decode(self.encode(x)), x)  # mean over pixels and batch
        return StepOutput({"encoder": recon, "decoder": recon}, {"recon": recon})

    def relation_phase(self, batch: Batch, step: int) -> StepOutput:
        r = batch["relations"]
        rel, src, tgt = r["relation"], r["source"], r["target"]
        operands = [self.prior.sample_component(src[:, j]) for j in range(src.shape[1])]
        if self.arity == 2:
            operands.append(self.prior.sample_component(r["relation_entity"]))
        out = self.relate(rel, *operands)
        if self.hparams.rel_loss == "likelihood":  # -log N_{f(src)}(ReL(z_in, r)), Eq. 8
            per = -self.prior.log_prob_components(out).gather(1, tgt[:, None])[:, 0]
        else:  # the authors' code: squared error to a sample of the target component
            per = (out - self.prior.sample_component(tgt)).pow(2).mean(1)
        # mean over each relation's samples, then over relations (the batch is relation-major)
        loss = per.view(-1, self.hparams.rel_batch).mean(1).mean()
        return StepOutput({"rel": self.hparams.rel_weight * loss}, {"rel": loss})

    def generator_phase(self, batch: Batch, step: int) -> StepOutput:
        logit = self.discriminator(self.encode(batch["images"]["x"]))
        gen = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        return StepOutput({"encoder": self.hparams.adversarial_weight * gen}, {"generator": gen})

    def discriminator_phase(self, batch: Batch, step: int) -> StepOutput:
        with torch.no_grad():
            z = self.encode(batch["images"]["x"])
        fake = self.discriminator(z)
        real = self.discriminator(self.sample_prior(len(z), z.device))
        disc = 0.5 * (F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
                      + F.binary_cross_entropy_with_logits(real, torch.ones_like(real)))
        return StepOutput({"discriminator": self.hparams.adversarial_weight * disc}, {"discriminator": disc})

    def phases(self):
        rel = [self.relation_phase] if self.prior_ready else []  # the ReL trains once the mixture exists
        return [self.reconstruction_phase, *rel, self.generator_phase, self.discriminator_phase]
