"""WeLa-VAE (Margonis, Davvetas & Klampanos 2020, "WeLa-VAE: learning alternative disentangled
representations using weak labels", section 3, Eqs. 3-4).

Observations x and m weak labels y_1..y_m (one-hot, p classes each) share the latent z. The
encoder q(z|x, y) reads the image and the labels concatenated (paper; ``label_encoder=False``
gives a label-free encoder q(z|x), an ablation of the authors' code). The decoder is a shared dense
stack with an image head (Bernoulli logits) and one softmax head per label. Loss (Eq. 4 with the
beta-TCVAE convention of decisions.md, mean over the batch):

    L = E_q[-log p(x|z)] + gamma * sum_j E_q[-log p(y_j|z)] + KL(q(z|x,y) || N(0, I))
        + (beta - 1) * TC(z)                                   (regularizer = "tc", default)

Alternative regularisers (paper section 3, authors' code):
    "beta_vae":   recon + gamma * labels + beta * KL
    "dip_vae_i" / "dip_vae_ii": recon + gamma * labels + KL + DIP penalty (see dip_vae.py)

Defaults: beta = 40, gamma by the label resolution p (2->2000, 3->1500, 4->1000, 5->800, 6->750,
7->600, 8->500; ``gamma=None``, the default, selects it; ``-1``, its spelling in older config.yaml
files, is read as None), batch 256, latent 2, dense 1200-1200 tanh encoder and decoder,
Glorot-uniform weights and zero biases (Keras, the paper's code), Adam 1e-4. An all-zero label
row (the blob at distance 0 falls in no left-open bin) contributes 0 to the label loss. The image
term is the shared Bernoulli reconstruction (``reconstruction`` option); the authors' code also
subtracts the targets' entropy, a constant that changes no gradient. The TC term uses the
``log(B N)`` constants (decisions.md; the paper's code drops them -- ``tc_estimator=
"mws_no_constant"`` -- which changes only the logged value).

Batches: ``{"images": {"x": uint8 (B, C, H, W), "labels": float (B, m * p)}}`` (one stream of
the ``weak_labels`` sampler). With the label encoder the representation needs the labels:
``encode(x, labels)``, ``labels`` from :meth:`WeLaVAE.encode_side_inputs` for known factor classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.samplers import StreamSpec
from ..data.weak.labels import compute_labels, resolve_label_fn
from ..nn import kl_standard_normal
from ..nn.architectures import MLPEncoder, mlp
from ..nn.moments import dip_covariance, dip_penalty
from ..nn.precision import fp32_output
from ..nn.total_correlation import TC_ESTIMATORS
from .base import Batch, ConfigError, DataFacts, GaussianVAE, StepOutput, VAEHyperparameters, hp, register_method
from .beta_tcvae import TCMixin

PAPER_GAMMA = {2: 2000.0, 3: 1500.0, 4: 1000.0, 5: 800.0, 6: 750.0, 7: 600.0, 8: 500.0}
REGULARIZERS = ("tc", "beta_vae", "dip_vae_i", "dip_vae_ii")
OLD_AUTO = {-1.0: None}  # before None meant "automatic", -1 did; still read from older config.yaml files


@dataclass
class WeLaVAEParams(VAEHyperparameters):
    latent_dim: int = hp(2, "number of latent dimensions d", low=1, high=4096)
    architecture: str = hp("mlp", "dense encoder/decoder (labels are concatenated to the flattened image)", choices=("mlp",))
    encoder_hidden: tuple[int, ...] = hp((1200, 1200), "encoder hidden layer sizes", low=1, high=65536)
    decoder_hidden: tuple[int, ...] = hp((1200, 1200), "shared decoder hidden layer sizes", low=1, high=65536)
    activation: str = hp("tanh", "hidden activation", choices=("tanh", "relu", "leaky_relu", "elu"))
    resolution: int = hp(3, "label resolution p: classes per weak label", low=2)
    num_labels: int = hp(2, "number m of weak labels (Blobs: angle and distance)", low=1)
    gamma: float | None = hp(None, "weight of the label cross-entropy (none: the paper's value for p)", low=0.0, aliases=OLD_AUTO)
    beta: float = hp(40.0, "regularizer weight: (beta - 1) * TC, or beta * KL for beta_vae", low=0.0)
    regularizer: str = hp("tc", "factorisation regulariser", choices=REGULARIZERS)
    label_encoder: bool = hp(True, "concatenate the labels to the encoder input (paper); false: q(z|x) only")
    tc_estimator: str = hp("mws", "TC estimator (see beta_tcvae)", choices=TC_ESTIMATORS)
    dataset_size: int | None = hp(None, "dataset size N for the TC estimator (none: taken from the training dataset)", low=1, aliases={0: None})
    lambda_od: float = hp(10.0, "DIP regularisers: off-diagonal weight", low=0.0)
    lambda_d_factor: float | None = hp(None, "DIP regularisers: lambda_d / lambda_od (none: 10 for DIP-I, 1 for DIP-II)", low=0.0, aliases=OLD_AUTO)

    def validate(self) -> None:
        super().validate()
        for name in ("encoder_hidden", "decoder_hidden"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must list at least one layer size, e.g. 1200,1200; got an empty list")
        if self.gamma is None and self.resolution not in PAPER_GAMMA:
            raise ConfigError(f"the paper gives gamma only for p in 2..8; set gamma explicitly for resolution={self.resolution}")


class WeLaDecoder(nn.Module):
    """Shared dense trunk from z; an image head (logits) and a label head (m groups of p logits)."""

    def __init__(self, latent_dim: int, image_shape, hidden, activation: str, label_dim: int):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.trunk = mlp([latent_dim, *hidden], activation, final_activation=True)
        self.image = nn.Linear(hidden[-1], math.prod(image_shape))
        self.labels = nn.Linear(hidden[-1], label_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.image(self.trunk(z)).view(-1, *self.image_shape))

    def forward_all(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(z)
        return fp32_output((self.image(h).view(-1, *self.image_shape), self.labels(h)))


@register_method
class WeLaVAE(TCMixin, GaussianVAE):
    """WeLa-VAE: a (TC-)VAE whose latent also reconstructs weak labels, weighted by gamma."""

    name = "wela_vae"
    Hyperparameters = WeLaVAEParams
    default_batch_size = 256  # the paper's (decisions.md)

    def __init__(self, hparams: WeLaVAEParams, data: DataFacts):
        h = hparams
        label_dim = h.num_labels * h.resolution
        encoder = MLPEncoder(data.image_shape, tuple(h.encoder_hidden), h.activation,
                             label_dim if h.label_encoder else 0)
        decoder = WeLaDecoder(h.latent_dim, data.image_shape, tuple(h.decoder_hidden), h.activation, label_dim)
        super().__init__(hparams, data, encoder=encoder, decoder=decoder)  # applies h.init (glorot)
        self.label_dim = label_dim

    @property
    def gamma(self) -> float:
        h = self.hparams
        return PAPER_GAMMA[h.resolution] if h.gamma is None else h.gamma

    def streams(self) -> dict[str, StreamSpec]:
        """One stream of images with their weak labels at the label resolution p."""
        return {"images": StreamSpec("weak_labels", options={"resolution": self.hparams.resolution})}

    def encode_side_inputs(self, classes: np.ndarray) -> dict[str, torch.Tensor]:
        """The weak labels of images of factor ``classes`` (N, K), from the function the
        ``weak_labels`` sampler uses; none without the label encoder."""
        if not self.hparams.label_encoder:
            return {}
        fn = resolve_label_fn(self.data, resolution=self.hparams.resolution)
        return {"labels": compute_labels(fn, np.asarray(classes))}

    def _check_labels(self, labels: torch.Tensor | None, batch_size: int) -> torch.Tensor:
        if labels is None:
            raise ConfigError("WeLa-VAE with label_encoder=true needs the weak labels: encode(x, labels)")
        if labels.dim() != 2 or labels.shape != (batch_size, self.label_dim):
            raise ConfigError(
                f"labels must have shape ({batch_size}, {self.label_dim}) = (B, num_labels * resolution), got {tuple(labels.shape)}"
            )
        return labels.float()

    def posterior(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.hparams.label_encoder:
            return self.head(self.encoder(x, self._check_labels(labels, x.shape[0]).to(x.device)))
        return self.head(self.encoder(x))

    @property
    def encode_is_traceable(self) -> bool:  # type: ignore[override]
        return not self.hparams.label_encoder  # with the label encoder, encode needs the labels

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior(self.prepare(x), labels)[0]

    def label_cross_entropy(self, label_logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sum_j CE(y_j, softmax(logits_j)), mean over the batch; and the accuracy per label (m,)."""
        b, p = labels.shape[0], self.hparams.resolution
        logits = label_logits.view(b, -1, p)
        target = labels.view(b, -1, p)
        ce = -(target * F.log_softmax(logits, dim=2)).sum((1, 2)).mean()
        has = target.sum(2) > 0
        correct = (logits.argmax(2) == target.argmax(2)) & has
        acc = correct.sum(0).float() / has.sum(0).clamp(min=1).float()
        return ce, acc

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        h = self.hparams
        x = self.prepare(batch["images"]["x"])
        labels = batch["images"]["labels"].to(x.device).float()
        if labels.shape != (x.shape[0], self.label_dim):
            raise ConfigError(f"labels must be (B, {self.label_dim}), got {tuple(labels.shape)}; check the sampler's resolution")
        mu, logvar = self.posterior(x, labels)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        image_logits, label_logits = self.decoder.forward_all(z)
        recon = self.reconstruction(image_logits, x)  # E_q[-log p(x|z)]
        label_ce, acc = self.label_cross_entropy(label_logits, labels)  # sum_j E_q[-log p(y_j|z)]
        kl = kl_standard_normal(mu, logvar).sum(1).mean()
        logs: dict = {"recon": recon, "label_ce": label_ce, "kl": kl}
        for j in range(acc.shape[0]):
            logs[f"label_accuracy_{j}"] = acc[j]
        if h.regularizer == "tc":
            tc = self.tc(z, mu, logvar)
            reg = kl + (h.beta - 1.0) * tc
            logs["tc"] = tc
        elif h.regularizer == "beta_vae":
            reg = h.beta * kl
        else:
            kind = "i" if h.regularizer == "dip_vae_i" else "ii"
            factor = h.lambda_d_factor if h.lambda_d_factor is not None else (10.0 if kind == "i" else 1.0)
            dip = dip_penalty(dip_covariance(mu, logvar, kind), h.lambda_od, factor * h.lambda_od)
            reg = kl + dip
            logs["dip"] = dip
        loss = recon + self.gamma * label_ce + reg
        logs["loss"] = loss
        return StepOutput({"model": loss}, logs)
