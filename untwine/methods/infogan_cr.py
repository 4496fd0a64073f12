"""InfoGAN-CR (Lin et al. 2020, "InfoGAN-CR and ModelCentrality: Self-supervised model training and
selection for disentangling GANs"), as the authors' dSprites code runs it (implementation notes
E.3; ``fjxmlzn/InfoGAN-CR``, ``InfoGAN-CR_dSprites/{config.py, gan/infogan_cr.py, gan/latent.py,
gan/network.py, gan/op.py}``).

Notation. The latent is ``z = (c, s)``: K = ``num_codes`` (5) regularised codes ``c_k ~ U(-1, 1)``
and M = ``num_noise`` (5) nuisance dimensions ``s ~ U(-1, 1)``, codes first. ``G(z)`` is an image
(the sigmoid of the generator's logits), ``D(x) = sigmoid(d(x))`` the real/fake probability and
``Q(x)`` in R^K the code regression, both heads on one shared trunk, and ``H(x, x')`` in R^K the
CR discriminator's logits on the channel concatenation of two images. The paper's objective,

    min_{G, Q, H} max_D  L_adv(G, D) - lambda L_I(G, Q) - alpha L_c(G, H),

is optimised as four losses (every expectation is a mean over the batch):

    L_D   = -E_x log D(x) - E_z log(1 - D(G(z)))                    (discriminator, real/fake)
    L_G   = -E_z log D(G(z))                                        (generator, non-saturating)
    L_Q   = E_z [ sum_k (Q_k(G(z)) - c_k)^2 / 2 ] + (K / 2) log 2 pi
          = -E_z log N(c; Q(G(z)), I)                               (information term: L_I = -L_Q)
    L_CR  = E_{I, (z, z')} [ -log softmax(H(G(z), G(z')))_I ]       (contrastive regulariser: L_c = -L_CR)

(``L_I`` is the variational lower bound on I(c; G(z)) up to the entropy of c, with a Gaussian of
fixed std 1 for Q's posterior; ``L_c`` the log-likelihood of H identifying the shared code.)

``lambda`` = ``info_weight`` (0.05, in both the D and the G loss) and ``alpha(t)`` = 0 for
``t < cr_start`` and ``cr_weight`` (2.0) from ``t = cr_start`` on, ``t`` the number of completed
training steps (the reference's 0-based batch counter ``global_id``; 288,000 there). L_Q is the sum
over the K codes of the squared error / 2, i.e. K/2 times their mean squared error, plus the
Gaussian's constant (kept, as the reference logs it; it has no gradient).

CR pairs (``cr_pairs``): I ~ U{0..K-1}; ``z`` and ``z'`` share c_I exactly (one U(-1, 1) draw) and
the whole nuisance vector s; every other code is drawn for each image and forced at least ``gap``
apart as the reference's ``UniformLatent.sample_different`` does: u, u' ~ U(-1 + gap/2, 1 - gap/2),
then the larger one gets + gap/2 and the smaller - gap/2 (so |c_k - c'_k| >= gap and both stay in
[-1, 1]). The dSprites configuration has gap 0 (independent codes); the reference's gap schedule
(``gap_decrease``) is not used there and is not implemented.

Per batch, in this order (the reference's four ``sess.run`` calls), each a fresh forward pass and an
update of only the named optimiser's parameters:

1. CR discriminator (optimiser ``cr_discriminator``), only while ``t >= cr_start``: ``L_CR`` on a
   generated pair batch, generator images without gradient. Before the switch this phase returns
   no loss (the trainer then updates nothing); the reference trains H before the switch too, but
   re-initialises it and its optimiser at the switch, so that training only fed its log.
2. discriminator (optimiser ``discriminator``: trunk, real/fake head and Q head):
   ``L_D + lambda L_Q`` on the batch's real images and G(z) without gradient; real and fake go
   through D as one concatenated batch (D has no BatchNorm, so this equals two passes).
3. and 4. generator (optimiser ``generator``), ``generator_steps`` (2) times: ``L_G + lambda L_Q +
   alpha(t) L_CR``, gradient into G only (D, Q and H are held fixed by the update rule, and their
   spectral norms use their stored power-iteration vectors without updating them). "Two G
   steps" are two successive generator updates on the same batch, the second one a fresh forward
   pass through the updated generator. By default (``shared_noise``) they use the same z and CR
   pairs as phases 1-2: the reference draws z, I and the pairs once per batch and feeds the same
   ``feed_dict`` to all four runs; ``shared_noise=False`` draws fresh noise in every phase. Only
   the last generator step is logged (as the reference logs only its second ``de_op``). While
   ``alpha(t) = 0`` the CR term is not computed at all (it has no gradient, and the reference's
   generator runs those pairs with BatchNorm in inference mode, which changes no statistics).

Event at ``cr_start`` (when > 0; with 0 the CR is on from the first step with H's initial
weights): H's weights are re-initialised (drawn from torch's global generator, as at
construction) and its Adam state is rebuilt (``EventContext.reset_optimizer``), as the
reference's progressive switch does. ``alpha(t)`` follows from the step itself, so a run resumed
from any checkpoint continues exactly.

Randomness: z, I and the pairs are drawn from torch's global generator on the training device
(the trainer's noise generator, which the checkpoint saves and restores), in a fixed order in the
first phase of every step: a resumed run draws the same noise as an uninterrupted one.

Networks (``gan/network.py``, ``gan/op.py``; 64x64 images with C channels):

* G: FC 128, ReLU, BN -> FC 4*4*64, ReLU, BN -> deconv 64 (8x8), 32 (16x16), 32 (32x32), each
  leaky-ReLU 0.2 then BN -> deconv C (64x64) -> logits (the sigmoid is applied where an image is
  needed). Transposed convs k4 s2 pad 1 (TensorFlow's SAME for k4 s2). BN momentum 0.1 (TF decay
  0.9), eps 1e-5, with scale and offset.
* D: convs 32-32-64-64 k4 s2 pad 1, leaky-ReLU 0.2, -> FC 128 leaky-ReLU (the shared trunk);
  real/fake head FC 1; Q head FC 128 leaky-ReLU -> FC K. Spectral norm on every layer.
* H: the same conv stack on 2C channels -> FC 128 leaky-ReLU -> FC K logits; spectral norm on the
  convs and the FC 128, not on the output layer (as the reference's ``CrDiscriminator``).
* Initialisation as ``op.py``: conv kernels truncated normal (std 0.02, cut at 2 std), dense and
  transposed-conv weights normal (std 0.02), biases 0, BN scale 1 and offset 0.
* Spectral norm: ``torch.nn.utils.parametrizations.spectral_norm``, which does one power
  iteration per forward pass in training mode. D's vectors advance once per step (in the D step)
  and H's once (in the CR-D step); the generator steps use them fixed. The reference also advances
  both once per step (its ``spectral_norm_update_ops``, run after the step's four updates, with
  the vectors from the real-image D pass and the CR pass; its fake-image D pass uses ``NO_OPS``).
* Flatten / reshape order is PyTorch's (N, C, H, W) where TensorFlow's is (N, H, W, C): a fixed
  permutation of the units of one dense layer, the same model.

The GAN losses are written with ``softplus`` on D's logits (``-log sigmoid(l) = softplus(-l)``),
where the reference adds 1e-8 inside its logs. Optimisers: Adam, G lr 1e-3, D lr 2e-3, H lr 2e-3,
betas (``beta1`` 0.5, ``beta2`` 0.999, TensorFlow's default). The reference trains 28 epochs of
batch 64 on dSprites (322,560 steps) and switches the CR on at 288,000: a shorter run must
lower ``cr_start`` (a run that ends before it is plain InfoGAN with spectral norm).

Representation (``encode``): Q on real images, (N, K). ``decode(c)``: the generator's logits for
codes (N, K), the nuisance set to 0 (the mean of U(-1, 1)); full latents (N, K + M) are taken as
they are.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..nn.precision import fp32_output
from ..records import ConfigError, hp
from .base import Batch, DataFacts, EventContext, Hyperparameters, Method, StepOutput, register_method
from .optim import OptimizerSpec

log = logging.getLogger("untwine.train")

SLOPE = 0.2  # leaky-ReLU slope of op.py's lrelu
_MAX_STEPS = 10**9  # the trainer's bound on a run's length


@dataclass
class InfoGANCRHyperparameters(Hyperparameters):
    num_codes: int = hp(5, "K: regularised codes c_k ~ U(-1, 1) that Q regresses and the CR discriminator "
                        "tells apart (the representation's size)", low=1, high=256)
    num_noise: int = hp(5, "M: nuisance latent dimensions ~ U(-1, 1), not regularised", low=0, high=1024)
    g_lr: float = hp(1e-3, "generator Adam learning rate", low=0.0, low_open=True)
    d_lr: float = hp(2e-3, "discriminator (trunk, real/fake and Q heads) Adam learning rate", low=0.0, low_open=True)
    cr_lr: float = hp(2e-3, "CR discriminator Adam learning rate", low=0.0, low_open=True)
    beta1: float = hp(0.5, "Adam beta1 of the three optimisers", low=0.0, high=1.0)
    beta2: float = hp(0.999, "Adam beta2 of the three optimisers (TensorFlow's default in the reference)",
                      low=0.0, high=1.0)
    info_weight: float = hp(0.05, "lambda: weight of the Q loss (Gaussian NLL, std 1) in the D and the G loss",
                            low=0.0)
    cr_weight: float = hp(2.0, "alpha: weight of the CR loss in the G loss once the CR is on (cr_coe after the "
                          "switch)", low=0.0)
    cr_start: int = hp(288000, "completed steps after which the CR switches on and the CR discriminator is "
                       "re-initialised (the reference: 288000 of its 322560, 28 epochs of dSprites); lower it for a "
                       "shorter run, or the run is plain InfoGAN", low=0, high=_MAX_STEPS)
    gap: float = hp(0.0, "minimum |c_k - c'_k| between the non-shared codes of a CR pair (dSprites: 0); must be "
                    "< 2, the width of U(-1, 1)", low=0.0, high=2.0)
    generator_steps: int = hp(2, "generator updates per batch, after the CR-D and D updates (the reference: 2)",
                              low=1, high=16)
    shared_noise: bool = hp(True, "draw z and the CR pairs once per batch for every phase (the reference's single "
                            "feed_dict); false: each phase draws its own")

    def validate(self) -> None:
        super().validate()
        if self.gap >= 2.0:
            raise ConfigError(f"gap={self.gap!r} can never be satisfied: the codes are U(-1, 1), so two of them are "
                              "less than 2 apart; use a gap in [0, 2), e.g. --gap 0 (the dSprites setting)")


# ---- networks ----------------------------------------------------------------------------------
def _init(layer: nn.Module) -> nn.Module:
    """op.py's initialisation: conv kernels truncated normal, dense and transposed-conv weights normal
    (std 0.02), biases 0."""
    if isinstance(layer, nn.Conv2d):
        nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04)
    else:
        nn.init.normal_(layer.weight, std=0.02)
    nn.init.zeros_(layer.bias)
    return layer


def _sn(layer: nn.Module) -> nn.Module:
    return spectral_norm(_init(layer))


@contextlib.contextmanager
def _fixed_spectral_norms(*modules: nn.Module) -> Iterator[None]:
    """Inside: ``modules`` in eval mode, so their spectral norms use the stored power-iteration vectors
    without updating them (these networks have no BatchNorm or dropout: nothing else changes)."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def _conv_trunk(in_channels: int) -> nn.Sequential:
    """Convs 32-32-64-64 k4 s2 with spectral norm and leaky-ReLU, then FC 128 (spectral norm, leaky-ReLU)."""
    layers: list[nn.Module] = []
    c = in_channels
    for out in (32, 32, 64, 64):
        layers += [_sn(nn.Conv2d(c, out, 4, 2, 1)), nn.LeakyReLU(SLOPE)]
        c = out
    layers += [nn.Flatten(), _sn(nn.Linear(64 * 4 * 4, 128)), nn.LeakyReLU(SLOPE)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Latents (N, K + M) -> logits (N, C, 64, 64) (module docstring)."""

    def __init__(self, latent: int, channels: int):
        super().__init__()
        self.fc = nn.Sequential(_init(nn.Linear(latent, 128)), nn.ReLU(), nn.BatchNorm1d(128),
                                _init(nn.Linear(128, 4 * 4 * 64)), nn.ReLU(), nn.BatchNorm1d(4 * 4 * 64))
        layers: list[nn.Module] = []
        for c_in, c_out in ((64, 64), (64, 32), (32, 32)):
            layers += [_init(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(SLOPE), nn.BatchNorm2d(c_out)]
        layers.append(_init(nn.ConvTranspose2d(32, channels, 4, 2, 1)))
        self.deconvs = nn.Sequential(*layers)

    @fp32_output
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(z).view(-1, 64, 4, 4))


class InfoGANDiscriminator(nn.Module):
    """Images (N, C, 64, 64) in [0, 1] -> real/fake logit (N,) and code regression Q (N, K)."""

    def __init__(self, channels: int, num_codes: int):
        super().__init__()
        self.trunk = _conv_trunk(channels)
        self.head = _sn(nn.Linear(128, 1))
        self.q = nn.Sequential(_sn(nn.Linear(128, 128)), nn.LeakyReLU(SLOPE), _sn(nn.Linear(128, num_codes)))

    @fp32_output
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.head(h)[:, 0], self.q(h)

    @fp32_output
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Q alone (the representation)."""
        return self.q(self.trunk(x))


class CRDiscriminator(nn.Module):
    """Two image batches (N, C, 64, 64) -> logits (N, K) of the code the pair shares."""

    def __init__(self, channels: int, num_codes: int):
        super().__init__()
        self.trunk = _conv_trunk(2 * channels)
        self.out = _init(nn.Linear(128, num_codes))  # no spectral norm on the output layer (the reference)

    @fp32_output
    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk(torch.cat([x_a, x_b], 1)))


# ---- losses ------------------------------------------------------------------------------------
def q_loss(q: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """L_Q: -log N(codes; q, I), summed over the codes, mean over the batch (= sum of squared errors / 2
    + (K / 2) log 2 pi)."""
    return (0.5 * (q - codes).pow(2) + 0.5 * math.log(2 * math.pi)).sum(1).mean()


def cr_loss(logits: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """L_CR: softmax cross-entropy of the CR discriminator's logits (N, K) against the shared code k (N,)."""
    return F.cross_entropy(logits, k)


def cr_accuracy(logits: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(1) == k).float().mean()


@register_method
class InfoGANCR(Method):
    """InfoGAN-CR (Lin et al. 2020): InfoGAN with a contrastive regulariser on code pairs (module docstring)."""

    name = "infogan_cr"
    Hyperparameters = InfoGANCRHyperparameters
    default_batch_size = 64
    encode_is_traceable = True  # Q on the trunk: convs, dense layers, eval-mode spectral norm (tested)
    # the contract runs 2 steps: switch the CR on after the first, so both regimes and the event run
    contract_hparams: ClassVar[dict] = {"cr_start": 1}

    def __init__(self, hparams: InfoGANCRHyperparameters, data: DataFacts):
        super().__init__(hparams, data)
        c, height, width = self.image_shape if len(self.image_shape) == 3 else (0, 0, 0)
        if len(self.image_shape) != 3 or (height, width) != (64, 64):
            raise ConfigError(f"infogan_cr takes 64x64 images (the reference's networks), but {data.name!r} has "
                              f"images of shape {tuple(self.image_shape)} (C, H, W); use a 64x64 dataset such as "
                              "dsprites or shapes3d, or resize the images to 64x64")
        h = hparams
        self.channels = c
        self.generator = Generator(h.num_codes + h.num_noise, c)
        self.discriminator = InfoGANDiscriminator(c, h.num_codes)
        self.cr_discriminator = CRDiscriminator(c, h.num_codes)
        self._noise: tuple[int, dict[str, torch.Tensor]] | None = None  # (step, the step's shared draws)

    @classmethod
    def check_config(cls, hparams: InfoGANCRHyperparameters, steps: int) -> None:
        """A run that ends before ``cr_start`` is allowed (it is InfoGAN without the CR, e.g. the first part
        of a run continued later); it is logged. A bad ``gap`` is caught by the record itself."""
        if hparams.cr_start >= steps:
            log.info("infogan_cr: cr_start=%d >= steps=%d, so the CR never switches on in this run (lower "
                     "--cr-start for a shorter run)", hparams.cr_start, steps)

    @property
    def latent_dim(self) -> int:
        return int(self.hparams.num_codes)

    # ---- training declarations -----------------------------------------------------------------
    def optimizers(self) -> dict[str, OptimizerSpec]:
        h = self.hparams
        betas = (h.beta1, h.beta2)
        return {
            "cr_discriminator": OptimizerSpec(list(self.cr_discriminator.parameters()), lr=h.cr_lr, betas=betas),
            "discriminator": OptimizerSpec(list(self.discriminator.parameters()), lr=h.d_lr, betas=betas),
            "generator": OptimizerSpec(list(self.generator.parameters()), lr=h.g_lr, betas=betas),
        }

    def events(self) -> dict[int, Callable[[EventContext], None]]:
        return {self.hparams.cr_start: self.switch_cr_on} if self.hparams.cr_start > 0 else {}

    def switch_cr_on(self, ctx: EventContext) -> None:
        """The progressive switch: a freshly initialised CR discriminator (weights drawn from torch's global
        generator, copied into the existing parameters, so device and memory format stay) and a fresh Adam."""
        fresh = CRDiscriminator(self.channels, self.hparams.num_codes)
        with torch.no_grad():
            self.cr_discriminator.load_state_dict(fresh.state_dict())
        ctx.reset_optimizer("cr_discriminator")

    def cr_coe(self, step: int) -> float:
        """alpha(t): the CR weight in the G loss at step ``step`` (completed steps before this batch)."""
        return float(self.hparams.cr_weight) if step >= self.hparams.cr_start else 0.0

    def cr_on(self, step: int) -> bool:
        return step >= self.hparams.cr_start

    # ---- sampling ------------------------------------------------------------------------------
    def _device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z = (c, s) ~ U(-1, 1)^(K + M), (n, K + M)."""
        h = self.hparams
        return torch.rand(n, h.num_codes + h.num_noise, generator=generator, device=self._device()) * 2 - 1

    def cr_pairs(self, batch_size: int, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """CR pairs (z_a, z_b, k): (N, K + M), (N, K + M), (N,) int64. Row i shares code k_i exactly and the
        whole nuisance vector; every other code is drawn for each side and pushed ``gap`` apart (module
        docstring). Draws from ``generator`` (default: torch's global generator on the model's device)."""
        h, n, dev = self.hparams, batch_size, self._device()
        k = torch.randint(h.num_codes, (n,), generator=generator, device=dev)
        shared = torch.rand(n, 1, generator=generator, device=dev) * 2 - 1
        half = h.gap / 2
        u_a = torch.rand(n, h.num_codes, generator=generator, device=dev) * (2 - h.gap) - (1 - half)
        u_b = torch.rand(n, h.num_codes, generator=generator, device=dev) * (2 - h.gap) - (1 - half)
        sign = (u_a > u_b).to(u_a.dtype) * 2 - 1
        c_a, c_b = u_a + sign * half, u_b - sign * half
        chosen = F.one_hot(k, h.num_codes).bool()
        c_a, c_b = torch.where(chosen, shared, c_a), torch.where(chosen, shared, c_b)
        noise = torch.rand(n, h.num_noise, generator=generator, device=dev) * 2 - 1
        return torch.cat([c_a, noise], 1), torch.cat([c_b, noise], 1), k

    def _draw(self, n: int) -> dict[str, torch.Tensor]:
        z_a, z_b, k = self.cr_pairs(n)
        return {"z": self.sample_latents(n), "z_a": z_a, "z_b": z_b, "k": k}

    def noise(self, n: int, step: int, first: bool = False) -> dict[str, torch.Tensor]:
        """The step's z and CR pairs: with ``shared_noise`` drawn by the first phase of the step and reused by
        the others; otherwise drawn anew for every phase."""
        if not self.hparams.shared_noise:
            return self._draw(n)
        if first or self._noise is None or self._noise[0] != step:
            self._noise = (step, self._draw(n))
        return self._noise[1]

    # ---- representation and generation ---------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.codes(self.prepare(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Generator logits for codes (N, K) (nuisance 0, the mean of U(-1, 1)) or full latents (N, K + M)."""
        h = self.hparams
        if z.ndim != 2 or z.shape[1] not in (h.num_codes, h.num_codes + h.num_noise):
            raise ValueError(f"infogan_cr decodes codes (N, {h.num_codes}) or full latents "
                             f"(N, {h.num_codes + h.num_noise}), got shape {tuple(z.shape)}")
        if z.shape[1] == h.num_codes and h.num_noise:
            z = torch.cat([z, z.new_zeros(len(z), h.num_noise)], 1)
        return self.generator(z)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images G(z) in [0, 1] for full latents."""
        return torch.sigmoid(self.generator(z))

    def cr_logits(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """H(G(z_a), G(z_b)); the two sides are separate generator passes (their own BatchNorm statistics, as
        the reference builds the generator once per side)."""
        return self.cr_discriminator(self.generate(z_a), self.generate(z_b))

    # ---- the update phases ---------------------------------------------------------------------
    def cr_discriminator_phase(self, batch: Batch, step: int) -> StepOutput:
        noise = self.noise(len(batch["images"]["x"]), step, first=True)
        if not self.cr_on(step):
            return StepOutput({}, {})
        with torch.no_grad():
            x_a, x_b = self.generate(noise["z_a"]), self.generate(noise["z_b"])
        logits = self.cr_discriminator(x_a, x_b)
        loss = cr_loss(logits, noise["k"])
        return StepOutput({"cr_discriminator": loss}, {"cr_loss": loss, "cr_accuracy": cr_accuracy(logits, noise["k"])})

    def discriminator_phase(self, batch: Batch, step: int) -> StepOutput:
        x = self.prepare(batch["images"]["x"])
        z = self.noise(len(x), step)["z"]
        with torch.no_grad():
            fake = self.generate(z)
        logit, q = self.discriminator(torch.cat([x, fake.to(x.dtype)]))
        real_logit, fake_logit = logit[:len(x)], logit[len(x):]
        d_real, d_fake = F.softplus(-real_logit).mean(), F.softplus(fake_logit).mean()
        info = q_loss(q[len(x):], z[:, :self.hparams.num_codes])
        loss = d_real + d_fake + self.hparams.info_weight * info
        logs = {"d_loss_real": d_real, "d_loss_fake": d_fake, "q_loss": info,
                "d_real": torch.sigmoid(real_logit).mean(), "d_fake": torch.sigmoid(fake_logit).mean()}
        return StepOutput({"discriminator": loss}, logs)

    def generator_phase(self, batch: Batch, step: int, last: bool = True) -> StepOutput:
        n = len(batch["images"]["x"])
        noise = self.noise(n, step)
        z = noise["z"]
        alpha = self.cr_coe(step)
        with _fixed_spectral_norms(self.discriminator, self.cr_discriminator):
            logit, q = self.discriminator(self.generate(z))
            gan = F.softplus(-logit).mean()
            info = q_loss(q, z[:, :self.hparams.num_codes])
            loss = gan + self.hparams.info_weight * info
            logs: dict[str, torch.Tensor | float] = {"g_loss_fake": gan, "g_q_loss": info, "cr_coe": alpha}
            if alpha > 0:
                logits = self.cr_logits(noise["z_a"], noise["z_b"])
                cr = cr_loss(logits, noise["k"])
                loss = loss + alpha * cr
                logs["g_cr_loss"] = cr
        logs["g_loss"] = loss
        return StepOutput({"generator": loss}, logs if last else {})

    def phases(self) -> list[Callable[[Batch, int], StepOutput]]:
        g = self.hparams.generator_steps
        generator_steps = [functools.partial(self.generator_phase, last=i == g - 1) for i in range(g)]
        return [self.cr_discriminator_phase, self.discriminator_phase, *generator_steps]
