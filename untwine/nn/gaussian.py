"""Diagonal-Gaussian pieces shared by every VAE: the encoder head, sampling, KL and log-densities."""

from __future__ import annotations

import math

import torch
from torch import nn

from .precision import fp32_output

LOG_2PI = math.log(2 * math.pi)


class GaussianHead(nn.Module):
    """Two linear maps from features to the mean and log-variance of q(z|x)."""

    def __init__(self, features: int, latent_dim: int):
        super().__init__()
        self.mean = nn.Linear(features, latent_dim)
        self.logvar = nn.Linear(features, latent_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return fp32_output((self.mean(h), self.logvar(h)))  # fp32 where the losses begin (nn.precision)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I) (the reparameterisation trick)."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per latent dimension, shape (N, d).

    ``0.5 * (mu^2 + exp(logvar) - logvar - 1)``; sum over the last axis for the per-sample KL.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def kl_gaussians(
    mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor, logvar2: torch.Tensor
) -> torch.Tensor:
    """KL(N(mu1, s1^2) || N(mu2, s2^2)) per dimension (elementwise)."""
    return 0.5 * (logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2).pow(2)) / logvar2.exp() - 1.0)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mu, exp(logvar)) (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))
