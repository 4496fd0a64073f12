"""FactorVAE's density-ratio discriminator and the permute-dims operation (Kim & Mnih 2018, Alg. 1).

Discriminator (disentanglement_lib ``fc_discriminator``): 6 dense layers of 1000 units with
LeakyReLU(0.2), then 2 logits (index 0: "sample of q(z)", index 1: "sample of prod_k q(z_k)").
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle every latent column independently across the batch (Kim & Mnih, Algorithm 1).

    Each column keeps its values (so the marginals of the batch are unchanged) while the joint
    dependence between columns is broken: the result is a sample of prod_k q(z_k). Gradients flow
    through the gather.
    """
    if z.dim() != 2:
        raise ValueError(f"permute_dims expects codes of shape (B, d), got {tuple(z.shape)}")
    b, d = z.shape
    keys = torch.rand(b, d, generator=generator, device="cpu" if generator is not None else z.device)
    perm = keys.argsort(dim=0).to(z.device)
    return torch.gather(z, 0, perm)


class Discriminator(nn.Module):
    """MLP on codes (B, d) -> 2 logits; ``hidden`` layers with LeakyReLU(``slope``)."""

    def __init__(self, latent_dim: int, hidden: Sequence[int] = (1000,) * 6, slope: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = []
        size = latent_dim
        for h in hidden:
            layers += [nn.Linear(size, h), nn.LeakyReLU(slope)]
            size = h
        layers.append(nn.Linear(size, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def discriminator_tc(logits: torch.Tensor) -> torch.Tensor:
    """Density-ratio TC estimate ``mean(logit_0 - logit_1)`` = mean log D(z) / (1 - D(z))."""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(logits_real: torch.Tensor, logits_permuted: torch.Tensor, clip: float = 1e-6) -> torch.Tensor:
    """``-[0.5 mean log D(z)_0 + 0.5 mean log D(z_perm)_1]`` with probabilities clipped to
    ``[clip, 1 - clip]`` (disentanglement_lib)."""
    p_real = torch.softmax(logits_real, dim=1).clamp(clip, 1 - clip)
    p_perm = torch.softmax(logits_permuted, dim=1).clamp(clip, 1 - clip)
    return -(0.5 * p_real[:, 0].log().mean() + 0.5 * p_perm[:, 1].log().mean())
