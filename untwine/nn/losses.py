"""Reconstruction losses. Convention (disentanglement_lib): sum over pixels and channels, mean over batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTIONS = ("bernoulli", "gaussian")


def bernoulli_reconstruction(logits: torch.Tensor, x: torch.Tensor, subtract_entropy: bool = False) -> torch.Tensor:
    """-log p(x|z) for a Bernoulli decoder on logits, summed per sample, mean over the batch.

    ``x`` holds targets in [0, 1]. With ``subtract_entropy`` the entropy of the targets is
    subtracted, so a perfect reconstruction of grey-valued targets scores 0 (gradients unchanged;
    WeLa-VAE's convention).
    """
    if not subtract_entropy:  # the batch mean of per-sample sums, in one reduction (no per-pixel loss tensor)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / logits.shape[0]
    loss = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    xc = x.clamp(1e-7, 1 - 1e-7)
    entropy = -(xc * xc.log() + (1 - xc) * (1 - xc).log()).flatten(1).sum(1)
    return (loss - entropy).mean()


def gaussian_reconstruction(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error between ``sigmoid(logits)`` and ``x``, summed per sample, mean over batch (L2)."""
    return (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(1).mean()


def reconstruction_loss(kind: str, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction loss by name: ``bernoulli`` (default) or ``gaussian`` (L2)."""
    if kind == "bernoulli":
        return bernoulli_reconstruction(logits, x)
    if kind == "gaussian":
        return gaussian_reconstruction(logits, x)
    raise ValueError(f"unknown reconstruction {kind!r}; choose one of {', '.join(RECONSTRUCTIONS)}")
