"""Batch moments of the aggregate posterior for DIP-VAE (Kumar et al. 2018, section 2).

All covariances are *biased* batch estimates (divide by B), as disentanglement_lib.
"""

from __future__ import annotations

import torch

from .precision import full_precision


@full_precision
def batch_covariance(x: torch.Tensor) -> torch.Tensor:
    """Biased covariance (d, d) of the rows of ``x`` (B, d): ``mean(x x^T) - mean(x) mean(x)^T``."""
    c = x - x.mean(0, keepdim=True)
    return c.T @ c / x.shape[0]


@full_precision
def dip_covariance(mu: torch.Tensor, logvar: torch.Tensor, kind: str) -> torch.Tensor:
    """The matrix DIP-VAE pulls towards the identity.

    ``"i"``: Cov_p(x)[mu(x)] (Eq. 6); ``"ii"``: Cov_q(z)[z] = E_p(x)[Sigma(x)] + Cov_p(x)[mu(x)]
    (Eq. 5, 7) with diagonal Sigma(x) = diag(exp(logvar)).
    """
    cov = batch_covariance(mu)
    if kind == "i":
        return cov
    if kind == "ii":
        return cov + torch.diag(logvar.exp().mean(0))
    raise ValueError(f"unknown DIP-VAE type {kind!r}; choose 'i' or 'ii'")


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """``lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2`` (Eqs. 6, 7)."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.pow(2).sum() + lambda_d * (diag - 1.0).pow(2).sum()


@full_precision
def third_central_moments(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Third central moments (d, d, d) of q(z) = mean_b N(mu_b, diag exp(logvar_b)), analytically.

    With ``c = mu - mean(mu)`` and ``s2 = exp(logvar)``, for the mixture of diagonal Gaussians
    ``E[(z_i - m_i)(z_j - m_j)(z_k - m_k)] = E[c_i c_j c_k] + d_ij E[s2_i c_k] + d_ik E[s2_i c_j]
    + d_jk E[s2_j c_i]`` (a Gaussian's own third central moment is 0). Computed from the batch
    (biased, divide by B). The paper (section 2) penalises the l2 norm of these moments for DIP-VAE-II.
    """
    b, d = mu.shape
    c = mu - mu.mean(0, keepdim=True)
    m3 = torch.einsum("bi,bj,bk->ijk", c, c, c) / b
    s2c = logvar.exp().T @ c / b  # (d, d): [i, k] = E[s2_i c_k]
    eye = torch.eye(d, dtype=mu.dtype, device=mu.device)
    m3 = m3 + eye[:, :, None] * s2c[:, None, :]  # d_ij E[s2_i c_k]
    m3 = m3 + eye[:, None, :] * s2c[:, :, None]  # d_ik E[s2_i c_j]
    m3 = m3 + eye[None, :, :] * s2c.T[:, :, None]  # d_jk E[s2_j c_i]: [i, j, k] -> s2c[j, i]
    return m3
