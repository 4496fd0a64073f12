"""Disentanglement by intervention, for correlated factors (seed 004, section 4, Eq. 3, Algorithm 1).

A deterministic autoencoder z = Enc(x) with ``K_Z`` features of ``D_Z`` dims. Per step, images x
and x^r (two independent batches), and per image a feature index k:

    z = Enc(x), z^r = Enc(x^r), x^ = Dec(z)
    L_rec  = CE(x, x^)
    I_1:     x^1 = Dec(z; Z_k = z^r_k)                               (intervention 1)
    I_2:     x^2 = Dec(Enc(x^1); Z_k = z_k)                          (intervention 2, Proposition 1)
    L_in   = CE(x, x^2)
    L_adv  = E[ log Disc(x^) + (W(x^1) / N) log(1 - Disc(x^1)) ],  N = E W(x^1)   (Proposition 2)
    L_diff = Algorithm 1 on feature k' (one per step), pairs decoded from the codes of x (fit) and
             x^r (score), values z_k'^a, z_k'^b drawn from the batch's codes (untwine.nn.translation)

    min_{Enc, Dec, W} max_{Disc}  L_rec + lambda_1 L_in + lambda_2 L_adv + lambda_3 L_diff   (Eq. 3)

with lambda = (0.25, 10, 1) on dSprites and 3D Shapes (appendix C; CMNIST: lambda_1 = 1).

Conventions (decisions.md, intervention section; the paper is silent on them):

* CE is the Bernoulli cross-entropy on decoder logits, summed over pixels, mean over the batch
  (``reduction="sum"``, the FactorVAE code the model's structure follows); ``"mean"`` averages
  over pixels too (the lambdas then weigh the terms very differently).
* Disc's "real" images are the reconstructions x^ (detached: the data pins them through L_rec),
  its "fake" ones the intervened x^1. Disc maximises L_adv; Enc and Dec minimise its second term
  through x^1 (the minimax form of Eq. 3), W minimises it through its weights. W's input is x^1
  detached (W weighs samples; it does not shape them), its output ``exp(.)``, normalised by its
  batch mean so the weights average to 1.
* One Adam per role (decisions.md): encoder and decoder lr 1e-4, Disc 1e-4, W 1e-5; all gradients
  of a step are taken at the same parameters (simultaneous update).
* Per-image k for the interventions, one k' per step for L_diff (Algorithm 1 takes one k); its
  mini-batches D and D~ are the first ``translation_batch`` images of x and x^r (the paper gives
  no size; 32 keeps L_diff at about a third of a step's time on a CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.samplers import StreamSpec
from ..nn.plain_conv import PlainConvCritic, PlainConvDecoder, PlainConvEncoder
from ..nn.translation import intervene, swap_features, translation_difficulty
from ..records import ConfigError, hp
from .base import Batch, DataFacts, Hyperparameters, Method, StepOutput, register_method
from .optim import OptimizerSpec


@dataclass
class InterventionHyperparameters(Hyperparameters):
    num_features: int = hp(10, "K_Z, the number of features (dSprites, 3D Shapes 10; CMNIST 2; flowers 3)",
                           low=1, high=4096)
    feature_size: int = hp(1, "D_Z, the dims of each feature (dSprites, 3D Shapes 1; CMNIST, flowers 16)",
                           low=1, high=4096)
    latent_dim: int | None = hp(None, "code size; must equal num_features x feature_size (None: that product)",
                                low=1, high=65536)
    lambda_in: float = hp(0.25, "lambda_1, weight of L_in (dSprites, 3D Shapes 0.25; CMNIST 1)", low=0.0)
    lambda_adv: float = hp(10.0, "lambda_2, weight of L_adv (10; flowers 100)", low=0.0)
    lambda_diff: float = hp(1.0, "lambda_3, weight of L_diff (1; 0 trains without the translation task)", low=0.0)
    translation_steps: int = hp(5, "s, gradient steps of the translation network per L_diff", low=1, high=1000)
    translation_lr: float = hp(1.0, "alpha, learning rate of the translation network (per-pixel mean CE)",
                               low=0.0, low_open=True)
    translation_hidden: int = hp(8, "channels of the translation network's hidden convolutions", low=1, high=1024)
    translation_batch: int = hp(32, "pairs in each of Algorithm 1's two mini-batches (the first images of x and "
                                    "x^r; the paper does not say; at most the batch size)", low=2, high=65536)
    reduction: str = hp("sum", "cross-entropy reduction: sum over pixels (mean over batch) or mean over both",
                        choices=("sum", "mean"))
    lr: float = hp(1e-4, "Adam learning rate of the encoder and decoder", low=0.0, low_open=True)
    disc_lr: float = hp(1e-4, "Adam learning rate of the discriminator", low=0.0, low_open=True)
    weight_lr: float = hp(1e-5, "Adam learning rate of the weight network W", low=0.0, low_open=True)
    beta1: float = hp(0.9, "Adam beta1 of every network", low=0.0, high=1.0)
    beta2: float = hp(0.999, "Adam beta2 of every network", low=0.0, high=1.0)

    def validate(self) -> None:
        super().validate()
        product = self.num_features * self.feature_size
        if self.latent_dim is not None and self.latent_dim != product:
            raise ConfigError(f"latent_dim={self.latent_dim} must equal num_features x feature_size = "
                              f"{self.num_features} x {self.feature_size} = {product}; drop latent_dim or change "
                              "num_features/feature_size")


@register_method
class Intervention(Method):
    """Disentanglement by intervention (seed 004; module docstring)."""

    name = "intervention"
    Hyperparameters = InterventionHyperparameters
    encode_is_traceable = True

    def __init__(self, hparams: InterventionHyperparameters, data: DataFacts):
        super().__init__(hparams, data)
        h = hparams
        self.feature_size = h.feature_size
        try:
            self.encoder = PlainConvEncoder(self.image_shape, self.latent_dim)
            self.decoder = PlainConvDecoder(self.latent_dim, self.image_shape)
            self.discriminator = PlainConvCritic(self.image_shape)
            self.weight_net = PlainConvCritic(self.image_shape)
        except ValueError as e:
            raise ConfigError(str(e)) from None

    @property
    def latent_dim(self) -> int:
        return self.hparams.num_features * self.hparams.feature_size

    def streams(self) -> dict[str, StreamSpec]:
        """x and the independent batch x^r."""
        return {"images": StreamSpec("images"), "reference": StreamSpec("images")}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        h = self.hparams
        betas = (h.beta1, h.beta2)
        autoencoder = [*self.encoder.parameters(), *self.decoder.parameters()]
        return {"autoencoder": OptimizerSpec(autoencoder, lr=h.lr, betas=betas),
                "discriminator": OptimizerSpec(list(self.discriminator.parameters()), lr=h.disc_lr, betas=betas),
                "weights": OptimizerSpec(list(self.weight_net.parameters()), lr=h.weight_lr, betas=betas)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.prepare(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def cross_entropy(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """CE(x, sigmoid(logits)) with the record's reduction."""
        if self.hparams.reduction == "mean":
            return F.binary_cross_entropy_with_logits(logits, x)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]

    def intervene_twice(self, z: torch.Tensor, z_r: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """I_1 then I_2 (Proposition 1): the intervened images x^1 = sigmoid(Dec(z; Z_k = z^r_k)) and
        the logits of x^2 = Dec(Enc(x^1); Z_k = z_k), with one feature index per row in ``k``."""
        d = self.hparams.feature_size
        x1 = torch.sigmoid(self.decoder(swap_features(z, z_r, k, d)))
        return x1, self.decoder(swap_features(self.encoder(x1), z, k, d))

    def normalised_weights(self, images: torch.Tensor) -> torch.Tensor:
        """W(x) / mean W(x) over the batch, W = exp(critic); computed in log space (no overflow)."""
        log_w = self.weight_net(images)
        return torch.softmax(log_w, dim=0) * log_w.shape[0]

    def translation_loss(self, z: torch.Tensor, z_test: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        """L_diff (Algorithm 1) for feature k: values a, b from two codes of the batch (its marginal)."""
        h = self.hparams
        pick = torch.randint(0, z.shape[0], (2,), device=z.device)
        a, b = z.detach()[pick, k * h.feature_size:(k + 1) * h.feature_size]
        z, z_test = z[:h.translation_batch], z_test[:h.translation_batch]
        u, v = self.decoder(intervene(z, k, a, h.feature_size)), self.decoder(intervene(z, k, b, h.feature_size))
        ut, vt = (self.decoder(intervene(z_test, k, c, h.feature_size)) for c in (a, b))
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ()).item()))
        return translation_difficulty(u, torch.sigmoid(v), ut, torch.sigmoid(vt), h.translation_steps,
                                      h.translation_lr, h.translation_hidden, generator)

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        h = self.hparams
        x, x_r = self.prepare(batch["images"]["x"]), self.prepare(batch["reference"]["x"])
        n = x.shape[0]
        z_both = self.encoder(torch.cat([x, x_r]))
        z, z_r = z_both[:n], z_both[n:]
        logits = self.decoder(z)
        l_rec = self.cross_entropy(logits, x)

        k = torch.randint(0, h.num_features, (n,), device=x.device)
        x1, x2_logits = self.intervene_twice(z, z_r, k)
        l_in = self.cross_entropy(x2_logits, x)

        real, fake = torch.sigmoid(logits).detach(), x1
        w = self.normalised_weights(fake.detach())
        fake_term = (w * F.logsigmoid(-self.discriminator(fake))).mean()                  # (W/N) log(1 - D(x^1))
        l_adv = F.logsigmoid(self.discriminator(real)).mean() + fake_term
        # Disc ascends L_adv on detached images, with W's weights held fixed
        d_fake = (w.detach() * F.logsigmoid(-self.discriminator(fake.detach()))).mean()
        disc_loss = -(F.logsigmoid(self.discriminator(real)).mean() + d_fake)

        logs = {"recon": l_rec, "intervention": l_in, "adversarial": l_adv, "discriminator_loss": disc_loss,
                "weight_max": w.max().detach()}
        total = l_rec + h.lambda_in * l_in + h.lambda_adv * l_adv
        if h.lambda_diff > 0:
            diff = self.translation_loss(z, z_r, int(torch.randint(0, h.num_features, ()).item()))
            total = total + h.lambda_diff * diff["cross_entropy"]
            logs["translation"], logs["translation_kl"] = diff["cross_entropy"], diff["kl"]
        logs["loss"] = total
        # every optimiser steps on its own parameters' gradient of its loss: Enc/Dec and W minimise
        # the total, Disc minimises -L_adv
        return StepOutput({"autoencoder": total, "weights": total, "discriminator": disc_loss}, logs)
