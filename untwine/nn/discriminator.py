"""FactorVAE's density-ratio discriminator and the permute-dims operation (Kim & Mnih 2018, Alg. 1).

Discriminator (disentanglement_lib ``fc_discriminator``): 6 dense layers of 1000 units with
LeakyReLU(0.2), then 2 logits (index 0: "sample of q(z)", index 1: "sample of prod_k q(z_k)").

Block-wise permutation (group-tcVAE, seed 003, Eq. 2): :func:`permute_blocks` shuffles the batch
independently per *block* of latents, a sample of prod_b q(z_b) for a factorisation into blocks;
:func:`factorisation_blocks` gives the blocks of the paper's three factorisation levels.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .precision import fp32_output


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


#: group-tcVAE's factorisation levels (seed 003, section 3), for a code split into group blocks
#: (z_c, z_\c, ...): ``inter`` q(z_c) q(z_\c); ``inter+intra_one`` q(z_c) prod_j q(z_\c,j);
#: ``full`` prod over all dimensions (FactorVAE's factorisation).
FACTORISATIONS = ("inter", "inter+intra_one", "full")


def factorisation_blocks(split: Sequence[int], level: str) -> list[list[int]]:
    """The latent blocks whose product is the target factorisation ``level`` of a split code.

    ``split``: block sizes in latent order (group 0 first: the content block c, then \\c, ...).
    ``inter``: one block per group (``[[0..d_c-1], [d_c..d-1]]``); ``inter+intra_one``: the first
    group's block whole, every latent of the other groups on its own; ``full``: every latent on
    its own. For more than two groups the same rules apply to every group after the first.
    """
    sizes = [int(s) for s in split]
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"split must be positive block sizes, got {tuple(split)}")
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    groups = [list(range(a, a + s)) for a, s in zip(starts, sizes)]
    if level == "inter":
        return groups
    if level == "inter+intra_one":
        return [groups[0]] + [[j] for g in groups[1:] for j in g]
    if level == "full":
        return [[j] for g in groups for j in g]
    raise ValueError(f"unknown factorisation {level!r}; choose one of {', '.join(FACTORISATIONS)}")


def block_of_latents(blocks: Sequence[Sequence[int]], d: int) -> torch.Tensor:
    """(d,) long: the block of each latent; ``blocks`` must partition ``range(d)``."""
    owner = [-1] * d
    for b, cols in enumerate(blocks):
        for j in cols:
            if not 0 <= int(j) < d or owner[int(j)] != -1:
                raise ValueError(f"blocks {[list(c) for c in blocks]} must partition the {d} latents "
                                 f"(latent {j} out of range or in two blocks)")
            owner[int(j)] = b
    if -1 in owner:
        raise ValueError(f"blocks {[list(c) for c in blocks]} leave latent {owner.index(-1)} in no block")
    return torch.tensor(owner, dtype=torch.long)


def permute_blocks(z: torch.Tensor, blocks: Sequence[Sequence[int]],
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle the batch independently per block of latents (block-wise permute-dims).

    All columns of one block get the same permutation of the rows, so each block's rows are kept
    intact (the batch's joint distribution within every block is unchanged) while the dependence
    between blocks is broken: the result is a sample of prod_b q(z_b). With every latent its own
    block this is :func:`permute_dims`. Gradients flow through the gather.
    """
    if z.dim() != 2:
        raise ValueError(f"permute_blocks expects codes of shape (B, d), got {tuple(z.shape)}")
    b, d = z.shape
    owner = block_of_latents(blocks, d)
    keys = torch.rand(b, len(blocks), generator=generator, device="cpu" if generator is not None else z.device)
    perm = keys.argsort(dim=0).to(z.device)  # (B, number of blocks): one row permutation per block
    return torch.gather(z, 0, perm[:, owner.to(z.device)])


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
        return fp32_output(self.net(z))


def discriminator_tc(logits: torch.Tensor) -> torch.Tensor:
    """Density-ratio TC estimate ``mean(logit_0 - logit_1)`` = mean log D(z) / (1 - D(z))."""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(logits_real: torch.Tensor, logits_permuted: torch.Tensor, clip: float = 1e-6) -> torch.Tensor:
    """``-[0.5 mean log D(z)_0 + 0.5 mean log D(z_perm)_1]`` with probabilities clipped to
    ``[clip, 1 - clip]`` (disentanglement_lib)."""
    p_real = torch.softmax(logits_real, dim=1).clamp(clip, 1 - clip)
    p_perm = torch.softmax(logits_permuted, dim=1).clamp(clip, 1 - clip)
    return -(0.5 * p_real[:, 0].log().mean() + 0.5 * p_perm[:, 1].log().mean())
