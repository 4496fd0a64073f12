"""Minibatch estimators of the total correlation TC(z) = KL(q(z) || prod_k q(z_k)).

q(z) = (1/N) sum_n q(z|x_n) is the aggregate posterior over a data set of N points. From a batch of
B samples z_i ~ q(z|x_i) (Chen et al. 2018, "Isolating sources of disentanglement in VAEs",
section 4.1 and appendix C), with ``L[i, j, k] = log q(z_ik | x_j)``:

* ``"mws"`` -- minibatch-weighted sampling (default, decisions.md), constants kept:
  ``log q(z_i) ~ logsumexp_j sum_k L[i,j,k] - log(B N)`` and
  ``log q(z_ik) ~ logsumexp_j L[i,j,k] - log(B N)``.
* ``"mws_no_constant"`` -- the same without ``log(B N)`` (disentanglement_lib, WeLa-VAE); it
  differs from ``"mws"`` by exactly ``-(d - 1) log(B N)``; gradients are identical.
* ``"mss"`` -- minibatch-stratified sampling: the weights ``1/(B N)`` are replaced by a B x B
  matrix with ``M = B - 1``: ``1/N`` on the diagonal (z_i's own posterior), ``(N - M)/(N M)`` on the
  stratified entry ``(i, i+1 mod B)``, ``1/M`` elsewhere; every row sums to 1.
* ``"mss_reference"`` -- the weight matrix exactly as the reference code (rtqichen/beta-tcvae,
  ``_log_importance_weight_matrix``) builds it: its flat strides of B put ``1/N`` on column 0 and
  the stratified weight on column 1 (plus entry ``(B-2, 0)``), not on the diagonal. Kept for
  bit-compatibility only.

TC ~ mean_i [log q(z_i) - sum_k log q(z_ik)].

``blocks=`` (group-tcVAE, seed 003, Eq. 2) replaces the product over single latents by a product
over blocks of latents, TC = KL(q(z) || prod_b q(z_b)), with ``log q(z_ib)`` estimated like the
joint from ``sum_{k in b} L[i, j, k]``; singleton blocks give the plain estimate.

Bias of ``"mws"`` (worth knowing when reading logged values): each weight row sums to ``1/N``
instead of 1, so every log-density is low by between ``log B`` (non-overlapping posteriors) and
``log N`` (posteriors much wider than the spacing of the data). When the marginals and the joint
are both in the overlapping regime the estimate is ``TC + (d - 1) log N``. ``"mss"`` is consistent.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .discriminator import block_of_latents
from .precision import full_precision
from .gaussian import gaussian_log_density

TC_ESTIMATORS = ("mws", "mss", "mws_no_constant", "mss_reference")


@full_precision
def pairwise_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``L[i, j, k] = log N(z_ik; mu_jk, exp(logvar_jk))`` for a batch, shape (B, B, d)."""
    return gaussian_log_density(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))


def stratified_log_weights(
    batch_size: int, dataset_size: int, device=None, dtype=torch.float32, layout: str = "diagonal"
) -> torch.Tensor:
    """The (B, B) log importance weights of minibatch-stratified sampling.

    ``layout="diagonal"``: own sample 1/N on the diagonal, stratified weight at (i, i+1 mod B);
    ``layout="reference"``: the reference code's layout (see the module docstring).
    """
    b, n = int(batch_size), int(dataset_size)
    if b < 2:
        raise ValueError(f"the stratified TC estimator needs a batch of at least 2, got {b}")
    if n < b:
        raise ValueError(f"dataset_size ({n}) must be at least the batch size ({b}) for the stratified estimator")
    m = b - 1
    strat = (n - m) / (n * m)
    w = torch.full((b, b), 1.0 / m, dtype=torch.float64)
    idx = torch.arange(b)
    if layout == "diagonal":
        w[idx, idx] = 1.0 / n
        w[idx, (idx + 1) % b] = strat
    elif layout == "reference":
        flat = w.view(-1)
        flat[:: m + 1] = 1.0 / n
        flat[1 :: m + 1] = strat
        w[m - 1, 0] = strat
    else:
        raise ValueError(f"unknown layout {layout!r}; choose 'diagonal' or 'reference'")
    return w.log().to(device=device, dtype=dtype)


@full_precision
def total_correlation(
    z: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    dataset_size: int | None = None,
    estimator: str = "mws",
    blocks: Sequence[Sequence[int]] | None = None,
) -> torch.Tensor:
    """Minibatch estimate of TC(z) (a scalar, mean over the batch).

    ``z``: samples (B, d) drawn from N(mu, exp(logvar)) row-wise; ``dataset_size``: N, needed by
    ``"mws"`` and ``"mss"``. ``blocks``: a partition of the latents (list of index lists) whose
    product of block marginals is the reference; None: every latent its own block. See the module
    docstring for the estimators and their biases.
    """
    if estimator not in TC_ESTIMATORS:
        raise ValueError(f"unknown TC estimator {estimator!r}; choose one of {', '.join(TC_ESTIMATORS)}")
    if z.dim() != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise ValueError(f"z, mu and logvar must all be (B, d); got {tuple(z.shape)}, {tuple(mu.shape)}, {tuple(logvar.shape)}")
    b = z.shape[0]
    if estimator != "mws_no_constant" and (dataset_size is None or dataset_size < 1):
        raise ValueError(f"the {estimator!r} TC estimator needs the dataset size N (got {dataset_size!r}); "
                         "pass dataset_size or use estimator='mws_no_constant'")
    log_q = pairwise_log_density(z, mu, logvar)  # (B, B, d)
    log_q_blocks = log_q  # L summed within each block of the reference factorisation: (B, B, blocks)
    if blocks is not None:
        owner = block_of_latents(blocks, z.shape[1]).to(z.device)
        log_q_blocks = log_q.new_zeros(b, b, len(blocks)).index_add_(2, owner, log_q)
    if estimator in ("mss", "mss_reference"):
        layout = "diagonal" if estimator == "mss" else "reference"
        log_w = stratified_log_weights(b, int(dataset_size), z.device, z.dtype, layout)  # type: ignore[arg-type]
        log_qz = torch.logsumexp(log_w + log_q.sum(2), dim=1)
        log_qz_marginals = torch.logsumexp(log_w.unsqueeze(2) + log_q_blocks, dim=1).sum(1)
    else:
        const = 0.0 if estimator == "mws_no_constant" else math.log(b * int(dataset_size))  # type: ignore[arg-type]
        log_qz = torch.logsumexp(log_q.sum(2), dim=1) - const
        log_qz_marginals = (torch.logsumexp(log_q_blocks, dim=1) - const).sum(1)
    return (log_qz - log_qz_marginals).mean()
