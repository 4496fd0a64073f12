"""Encoders and decoders.

* ``conv``: the convolutional encoder / deconvolutional decoder of disentanglement_lib for
  64x64xC images (Locatello et al. 2019; ``methods/shared/architectures.py``): encoder
  conv 32-32-64-64 (kernels 4, 4, 2, 2; stride 2; ReLU; TensorFlow "same" padding) -> FC 256;
  decoder FC 256 -> FC 1024 -> 4x4x64 -> deconv 64-32-32-C (kernel 4, stride 2).
* ``mlp``: dense networks; encoder 1200-1200 ReLU, decoder 1200-1200-1200 tanh by default
  (disentanglement_lib's ``fc_encoder`` / ``fc_decoder``); hidden sizes and activation are options
  (WeLa-VAE uses 1200-1200 tanh on both sides).

Encoders map images (N, C, H, W) float to a feature vector; a head (``untwine.nn.gaussian``)
turns features into a distribution. Decoders map codes (N, d) to logits (N, C, H, W).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .precision import fp32_output

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.2), "elu": nn.ELU}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class ConvEncoder(nn.Module):
    """disentanglement_lib ``conv_encoder`` trunk for 64x64 images: returns 256 features."""

    def __init__(self, in_channels: int = 1, image_size: int = 64, features: int = 256):
        super().__init__()
        if image_size != 64:
            raise ValueError(
                f"the conv architecture expects 64x64 images, got {image_size}x{image_size}; "
                "use architecture='mlp' for other sizes"
            )
        self.features = features
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 4, 2, 1), nn.ReLU(),  # 64 -> 32 ("same": pad 1)
            nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),  # 32 -> 16
            nn.Conv2d(32, 64, 2, 2, 0), nn.ReLU(),  # 16 -> 8  ("same": pad 0)
            nn.Conv2d(64, 64, 2, 2, 0), nn.ReLU(),  # 8 -> 4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, features), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """disentanglement_lib ``deconv_decoder`` for 64x64 images: code (N, d) -> logits (N, C, 64, 64)."""

    def __init__(self, latent_dim: int, out_channels: int = 1, image_size: int = 64):
        super().__init__()
        if image_size != 64:
            raise ValueError(
                f"the conv architecture expects 64x64 images, got {image_size}x{image_size}; "
                "use architecture='mlp' for other sizes"
            )
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.ReLU(),
            nn.Linear(256, 64 * 4 * 4), nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(),  # 4 -> 8
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # 8 -> 16
            nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),  # 16 -> 32
            nn.ConvTranspose2d(32, out_channels, 4, 2, 1),  # 32 -> 64, logits
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.net(z))


def mlp(sizes: Sequence[int], activation: str, final_activation: bool) -> nn.Sequential:
    """A dense network through ``sizes`` with ``activation`` between layers."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Dense encoder trunk: flattens the image (plus optional extra inputs) through hidden layers."""

    def __init__(
        self,
        image_shape: Sequence[int],
        hidden: Sequence[int] = (1200, 1200),
        activation: str = "relu",
        extra_inputs: int = 0,
    ):
        super().__init__()
        self.features = hidden[-1]
        in_dim = math.prod(image_shape) + extra_inputs
        self.net = mlp([in_dim, *hidden], activation, final_activation=True)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)
        if extra is not None:
            h = torch.cat([h, extra.to(h.dtype)], dim=1)
        return self.net(h)


class MLPDecoder(nn.Module):
    """Dense decoder: code (N, d) -> logits reshaped to ``image_shape``."""

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        hidden: Sequence[int] = (1200, 1200, 1200),
        activation: str = "tanh",
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = mlp([latent_dim, *hidden, math.prod(image_shape)], activation, final_activation=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.net(z).view(-1, *self.image_shape))


def build_encoder(
    architecture: str, image_shape: Sequence[int], hidden: Sequence[int] | None = None, activation: str | None = None
) -> nn.Module:
    """Encoder trunk by name (``conv`` or ``mlp``); the trunk exposes ``.features``."""
    c, h, w = image_shape
    if architecture == "conv":
        if h != w:
            raise ValueError(f"the conv architecture expects square 64x64 images, got {h}x{w}")
        return ConvEncoder(c, h)
    if architecture == "mlp":
        return MLPEncoder(image_shape, tuple(hidden or (1200, 1200)), activation or "relu")
    raise ValueError(f"unknown architecture {architecture!r}; choose 'conv' or 'mlp'")


def build_decoder(
    architecture: str,
    latent_dim: int,
    image_shape: Sequence[int],
    hidden: Sequence[int] | None = None,
    activation: str | None = None,
) -> nn.Module:
    """Decoder by name (``conv`` or ``mlp``)."""
    c, h, w = image_shape
    if architecture == "conv":
        if h != w:
            raise ValueError(f"the conv architecture expects square 64x64 images, got {h}x{w}")
        return ConvDecoder(latent_dim, c, h)
    if architecture == "mlp":
        return MLPDecoder(latent_dim, image_shape, tuple(hidden or (1200, 1200, 1200)), activation or "tanh")
    raise ValueError(f"unknown architecture {architecture!r}; choose 'conv' or 'mlp'")
