"""The BatchNorm conv autoencoder and tanh MLPs of seed 000 (Valenti & Bacciu 2022, appendix A).

* :class:`BNConvEncoder` / :class:`BNConvDecoder`, 64x64 images (dSprites ``nf`` 32, 3D Shapes 64):
  encoder 4 x [conv k4 s2 p1, ``nf`` channels, BatchNorm, LeakyReLU(0.1)] -> flatten (nf*4*4) ->
  FC 1024 LeakyReLU(0.1) -> FC d, a deterministic code; decoder FC 1024 -> FC nf*4*4 (LeakyReLU
  0.1) -> 4 x transposed conv k4 s2 p1 (BatchNorm + LeakyReLU 0.1 after the first three) -> logits.
  The paper's table and the authors' code flatten / reshape ``nf*6*6``, which does not give 64x64
  (implementation notes A.3): 4x4 here.
* 45x45 images (handwritten formula symbols): convs k5 s2, k5 s2, k3 s2 without padding (45 -> 21
  -> 9 -> 4), the decoder mirrored (k3, k5, k5 transposed convs).
* :func:`tanh_mlp`: the discriminator and relational learner family, input layer + ``layers``
  hidden layers of ``width`` units with tanh, linear output.
"""

from __future__ import annotations

import torch
from torch import nn

from .precision import fp32_output

SLOPE = 0.1
_KERNELS = {64: ((4, 1), (4, 1), (4, 1), (4, 1)), 45: ((5, 0), (5, 0), (3, 0))}  # (kernel, padding) per conv


def _plan(image_shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    c, h, w = image_shape
    if h != w or h not in _KERNELS:
        raise ValueError(f"the seed-000 conv networks take 64x64 or 45x45 images, got {h}x{w}")
    return _KERNELS[h]


class BNConvEncoder(nn.Module):
    """Images (N, C, H, W) float -> codes (N, d) (module docstring)."""

    def __init__(self, image_shape: tuple[int, ...], latent_dim: int, channels: int = 32, hidden: int = 1024):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = image_shape[0]
        for kernel, pad in _plan(image_shape):
            layers += [nn.Conv2d(c_in, channels, kernel, 2, pad), nn.BatchNorm2d(channels), nn.LeakyReLU(SLOPE)]
            c_in = channels
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            side = self.convs.eval()(torch.zeros(1, *image_shape)).shape[-1]
        self.convs.train()
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, hidden), nn.LeakyReLU(SLOPE),
                                nn.Linear(hidden, latent_dim))

    @fp32_output
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x))


class BNConvDecoder(nn.Module):
    """Codes (N, d) -> logits (N, C, H, W), the encoder mirrored (module docstring)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, ...], channels: int = 32, hidden: int = 1024):
        super().__init__()
        plan = _plan(image_shape)[::-1]
        self.side, self.channels = 4, channels
        self.fc = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(SLOPE),
                                nn.Linear(hidden, channels * 16), nn.LeakyReLU(SLOPE))
        layers: list[nn.Module] = []
        for i, (kernel, pad) in enumerate(plan):
            last = i == len(plan) - 1
            layers.append(nn.ConvTranspose2d(channels, image_shape[0] if last else channels, kernel, 2, pad))
            if not last:
                layers += [nn.BatchNorm2d(channels), nn.LeakyReLU(SLOPE)]
        self.deconvs = nn.Sequential(*layers)
        self.image_shape = tuple(image_shape)
        with torch.no_grad():
            out = self.deconvs.eval()(torch.zeros(1, channels, 4, 4)).shape[1:]
        self.deconvs.train()
        if tuple(out) != self.image_shape:
            raise ValueError(f"decoder plan gives {tuple(out)}, not {self.image_shape}")

    @fp32_output
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(z).view(-1, self.channels, self.side, self.side))


def tanh_mlp(inputs: int, outputs: int, width: int = 1024, layers: int = 3) -> nn.Sequential:
    """Input layer + ``layers`` hidden layers of ``width`` tanh units, linear output (seed 000's
    discriminator and relational learner)."""
    mods: list[nn.Module] = [nn.Linear(inputs, width), nn.Tanh()]
    for _ in range(layers):
        mods += [nn.Linear(width, width), nn.Tanh()]
    mods.append(nn.Linear(width, outputs))
    return nn.Sequential(*mods)
