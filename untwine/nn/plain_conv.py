"""The plain ReLU conv networks of seed 004 (appendix C, Tables 4-7): encoder, decoder, critics.

* 64x64xC (dSprites, 3D Shapes; Tables 4-5): encoder conv 32-32-64-64 (4x4, stride 2, ReLU) ->
  FC 128 (ReLU) -> FC d; decoder FC 128 -> FC 4x4x64 -> upconv 64-32-32-C (4x4, stride 2), the
  last without activation (logits; the table's sigmoid is applied by the loss);
* 28x28xC (colored MNIST; Tables 6-7): encoder conv 64 (4x4 s2) -> 128 (4x4 s2) -> 128 (3x3 s1)
  -> FC d; decoder FC 7x7x64 -> upconv 64 (4x4 s2) -> upconv C (4x4 s2). Table 6 prints FC
  4x4x64 and two stride-2 upconvs, which give 16x16, not 28x28: 7x7 is the size that gives 28;
* a critic (the discriminator, Table 5/7, and the weight network W) is the encoder's trunk ->
  FC 128 (ReLU) -> FC 1, returned as a logit (discriminator: sigmoid in the loss) or a
  log-weight (W: ``exp`` in the method).

The FC 128 of the tables carries no activation in print; ReLU is used, as in every other layer.
"""

from __future__ import annotations

import torch
from torch import nn

from .precision import fp32_output

SIZES = (64, 28)


def _check_shape(image_shape: tuple[int, ...], what: str) -> tuple[int, int]:
    c, h, w = image_shape
    if h != w or h not in SIZES:
        raise ValueError(f"{what} takes 64x64 or 28x28 images (seed 004, appendix C), got {h}x{w}; "
                         "resize the dataset (e.g. the dataset option size=64 where it has one)")
    return c, h


def conv_trunk(image_shape: tuple[int, ...], what: str = "the seed-004 network") -> tuple[nn.Sequential, int]:
    """The conv stack of Tables 4-7 and the size of its flattened output."""
    c, size = _check_shape(image_shape, what)
    if size == 64:
        layers = [nn.Conv2d(c, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(),
                  nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1), nn.ReLU(), nn.Flatten()]
        return nn.Sequential(*layers), 64 * 4 * 4
    layers = [nn.Conv2d(c, 64, 4, 2, 1), nn.ReLU(), nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(),
              nn.Conv2d(128, 128, 3, 1, 1), nn.ReLU(), nn.Flatten()]
    return nn.Sequential(*layers), 128 * 7 * 7


class PlainConvEncoder(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> codes (N, out_features) (Table 4 / Table 6)."""

    def __init__(self, image_shape: tuple[int, ...], out_features: int):
        super().__init__()
        trunk, n = conv_trunk(image_shape, "the intervention encoder")
        hidden = [nn.Linear(n, 128), nn.ReLU()] if image_shape[-1] == 64 else []
        self.net = nn.Sequential(trunk, *hidden, nn.Linear(128 if hidden else n, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.net(x))


class PlainConvDecoder(nn.Module):
    """Codes (N, d) -> logits (N, C, H, W) (Table 4 / Table 6)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, ...]):
        super().__init__()
        c, size = _check_shape(image_shape, "the intervention decoder")
        if size == 64:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 64 * 4 * 4), nn.ReLU(),
                nn.Unflatten(1, (64, 4, 4)),
                nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, c, 4, 2, 1))
        else:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                nn.ConvTranspose2d(64, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, c, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.net(z))


class PlainConvCritic(nn.Module):
    """Images -> one scalar each (N,): the discriminator's logit or W's log-weight (Table 5 / 7)."""

    def __init__(self, image_shape: tuple[int, ...]):
        super().__init__()
        trunk, n = conv_trunk(image_shape, "the intervention critic")
        self.net = nn.Sequential(trunk, nn.Linear(n, 128), nn.ReLU(), nn.Linear(128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fp32_output(self.net(x)).squeeze(1)
