"""A small method that uses every part of the method interface, for the interface and contract tests.

Two streams (images, and pairs of images sharing the ``row`` factor), two optimisers in two
sequential phases (a critic on RMSprop, then encoder + decoder on Adam with a step schedule), and
two events: at ``warmup`` the mean code of 16 dataset images becomes a prior stored as buffers; at
``switch`` the critic is replaced by a freshly initialised one and its optimiser is rebuilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from untwine.methods import EventContext, Hyperparameters, Method, OptimizerSpec, StepOutput, StreamSpec, hp


@dataclass
class InterfaceParams(Hyperparameters):
    latent_dim: int = hp(2, "code size", low=1)
    lr: float = hp(1e-2, "model learning rate", low=0.0, low_open=True)
    critic_lr: float = hp(5e-2, "critic learning rate", low=0.0, low_open=True)
    warmup: int = hp(3, "step count at which the prior is built", low=0)
    switch: int = hp(5, "step count at which the critic is re-initialised", low=0)


class InterfaceMethod(Method):
    """Autoencoder + a critic on the codes; see the module docstring."""

    name = "interface_test"
    Hyperparameters = InterfaceParams

    def __init__(self, hparams: InterfaceParams, data):
        super().__init__(hparams, data)
        pixels = math.prod(self.image_shape)
        self.encoder = nn.Linear(pixels, hparams.latent_dim)
        self.decoder = nn.Linear(hparams.latent_dim, pixels)
        self.critic = nn.Linear(hparams.latent_dim, 1)
        self.register_buffer("prior_mean", torch.zeros(hparams.latent_dim))
        self.register_buffer("prior_ready", torch.zeros((), dtype=torch.bool))

    def streams(self):
        return {"images": StreamSpec("images"), "pairs": StreamSpec("pairs", batch_size=3, options={"shared_factors": ["row"]})}

    def optimizers(self):
        h = self.hparams
        model = [*self.encoder.parameters(), *self.decoder.parameters()]
        return {
            "model": OptimizerSpec(model, lr=h.lr, schedule="step", schedule_settings={"step_size": 2, "gamma": 0.5}),
            "critic": OptimizerSpec(list(self.critic.parameters()), lr=h.critic_lr, kind="rmsprop", settings={"alpha": 0.9}),
        }

    def events(self):
        return {self.hparams.warmup: self.build_prior, self.hparams.switch: self.reset_critic}

    def build_prior(self, ctx: EventContext) -> None:
        idx = torch.randint(len(ctx.dataset), (16,))  # the noise generator: in the checkpoint
        with torch.no_grad():
            self.prior_mean.copy_(self.encode(ctx.dataset.images(idx).to(ctx.device)).mean(0))
        self.prior_ready.fill_(True)

    def reset_critic(self, ctx: EventContext) -> None:
        self.critic = nn.Linear(self.hparams.latent_dim, 1).to(ctx.device)
        ctx.reset_optimizer("critic")

    def encode(self, x):
        return self.encoder(self.prepare(x).flatten(1))

    def decode(self, z):
        return self.decoder(z).view(-1, *self.image_shape)

    def critic_phase(self, batch, step):
        z = self.encode(batch["images"]["x"]).detach()
        loss = (self.critic(z) - 1.0).pow(2).mean() + (self.critic(z + torch.randn_like(z)) + 1.0).pow(2).mean()
        return StepOutput({"critic": loss}, {"critic_loss": loss})

    def model_phase(self, batch, step):
        x = self.prepare(batch["images"]["x"])
        z = self.encode(x)
        recon = (torch.sigmoid(self.decode(z)) - x).pow(2).sum((1, 2, 3)).mean()
        pair = (self.encode(batch["pairs"]["x1"]) - self.encode(batch["pairs"]["x2"])).pow(2).sum(1).mean()
        prior = (z.mean(0) - self.prior_mean).pow(2).sum() * self.prior_ready.float()
        loss = recon + 0.1 * pair + prior - 0.01 * self.critic(z).mean()
        return StepOutput({"model": loss}, {"loss": loss, "recon": recon, "pair": pair, "prior": prior})

    def phases(self):
        return [self.critic_phase, self.model_phase]
