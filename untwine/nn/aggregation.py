"""Aggregating the posteriors of observations that share factors (GVAE, ML-VAE and their Ada- forms).

Every function takes the diagonal Gaussians of K members stacked on axis 1, ``mu, logvar``
(B, K, d), and returns one Gaussian per group (B, d):

* :func:`average_gaussians` (GVAE, Hosoya 2019): mean of the means, mean of the variances;
* :func:`product_of_gaussians` (ML-VAE, Bouchacourt et al. 2018): precision-weighted mean
  ``sum_i mu_i / v_i / sum_i 1 / v_i`` and variance ``1 / sum_i 1 / v_i`` (``normalised=False``,
  the exact product), or ``K / sum_i 1 / v_i`` (``normalised=True``, disentanglement_lib's
  ``2 v1 v2 / (v1 + v2)`` for a pair: the geometric mean of the K Gaussians renormalised, K times
  the exact product's variance).

:func:`adaptive_shared` infers which latents a pair shares (Ada-GVAE / Ada-ML-VAE, Locatello et
al. 2020, Eq. 5) and :func:`replace_shared` puts the group's Gaussian in place of each member's on
the shared latents.
"""

from __future__ import annotations

import math

import torch

from .gaussian import kl_gaussians

AGGREGATIONS = ("average", "product")


def average_gaussians(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GVAE's group Gaussian: ``mean_i mu_i`` and ``log mean_i exp(logvar_i)`` over axis 1."""
    k = mu.shape[1]
    return mu.mean(1), torch.logsumexp(logvar, dim=1) - math.log(k)


def product_of_gaussians(mu: torch.Tensor, logvar: torch.Tensor,
                         normalised: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """ML-VAE's group Gaussian: the product of the members' Gaussians over axis 1.

    Mean ``sum_i w_i mu_i`` with ``w = softmax(-logvar)`` (the precision weights); log-variance
    ``-logsumexp(-logvar)`` (exact product), plus ``log K`` when ``normalised`` (the reference's
    ``2 v1 v2 / (v1 + v2)`` for K = 2). Computed in log space: no overflow for tiny variances.
    """
    weights = torch.softmax(-logvar, dim=1)
    log_var = -torch.logsumexp(-logvar, dim=1)
    if normalised:
        log_var = log_var + math.log(mu.shape[1])
    return (weights * mu).sum(1), log_var


def aggregate_gaussians(mu: torch.Tensor, logvar: torch.Tensor, how: str,
                        normalised: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``how`` = ``average`` (:func:`average_gaussians`) or ``product`` (:func:`product_of_gaussians`)."""
    if how == "average":
        return average_gaussians(mu, logvar)
    if how == "product":
        return product_of_gaussians(mu, logvar, normalised)
    raise ValueError(f"unknown aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")


def adaptive_shared(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor,
                    logvar2: torch.Tensor) -> torch.Tensor:
    """bool (B, d): the latents a pair shares, inferred from the two posteriors (Ada-, Eq. 5).

    Per latent, delta_j = KL(q(z_j|x1) || q(z_j|x2)) (the direction of disentanglement_lib's
    ``compute_kl``, which is twice this; the factor does not move the threshold). The latents in
    the lower of two equal-width bins over [min_j delta_j, max_j delta_j] are shared:
    ``delta_j < (min + max) / 2`` (a value on the midpoint falls in the upper bin, as in
    ``tf.histogram_fixed_width_bins``). A pair whose deltas are all equal has no upper bin: every
    latent counts as shared (the reference's result there is undefined: a division by zero).
    """
    delta = kl_gaussians(mu1, logvar1, mu2, logvar2)
    lo, hi = delta.min(1, keepdim=True).values, delta.max(1, keepdim=True).values
    return (delta < 0.5 * (lo + hi)) | (hi == lo)


def replace_shared(mu: torch.Tensor, logvar: torch.Tensor, group_mu: torch.Tensor, group_logvar: torch.Tensor,
                   shared: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's Gaussian (B, K, d) with the group's (B, d) on the ``shared`` (B, d) latents."""
    s = shared[:, None, :]
    return torch.where(s, group_mu[:, None, :], mu), torch.where(s, group_logvar[:, None, :], logvar)
