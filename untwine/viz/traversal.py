"""Latent traversals and reconstructions of a trained method.

Methods whose encoder needs more than the images (WeLa-VAE's labels) get their side inputs from
``method.encode_side_inputs(classes)``: pass the factor ``classes`` of the images where asked.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data import GroundTruthDataset
from ..methods import GaussianVAE, Method
from .images import grid


def side_inputs(method: Method, classes: np.ndarray | None, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """``method.encode_side_inputs(classes)`` on ``device`` (nothing when ``classes`` is None)."""
    if classes is None:
        return {}
    return {k: v.to(device) for k, v in method.encode_side_inputs(np.asarray(classes)).items()}


def encode(method: Method, images: torch.Tensor, classes: np.ndarray | None = None) -> torch.Tensor:
    """The representation of uint8 ``images`` whose factor classes are ``classes`` (N, K)."""
    return method.encode(images, **side_inputs(method, classes, images.device))


@torch.no_grad()
def reconstructions(method: Method, images: torch.Tensor, classes: np.ndarray | None = None) -> torch.Tensor:
    """Reconstructions (N, C, H, W) in [0, 1] of uint8 ``images`` (decoded from the mean code)."""
    return torch.sigmoid(method.decode(encode(method, images, classes)))


@torch.no_grad()
def traversal_values(
    method: Method, dataset: GroundTruthDataset, steps: int, limit: float | None = None, seed: int = 0
) -> torch.Tensor:
    """Per-latent traversal values (d, steps).

    ``limit`` given: ``linspace(-limit, limit)`` for every latent (disentanglement_lib's prior range,
    default 2 for Gaussian VAEs). ``limit=None`` on a non-Gaussian method: the 2%..98% quantiles of
    each latent over 512 encoded images.
    """
    d = method.latent_dim
    if limit is None and isinstance(method, GaussianVAE):
        limit = 2.0
    if limit is not None:
        return torch.linspace(-limit, limit, steps).repeat(d, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(dataset), 512)
    codes = encode(method, dataset.images(idx), dataset.index_to_classes(idx))
    lo, hi = torch.quantile(codes, 0.02, dim=0), torch.quantile(codes, 0.98, dim=0)
    t = torch.linspace(0, 1, steps)
    return lo[:, None] + (hi - lo)[:, None] * t[None, :]


@torch.no_grad()
def latent_traversal(
    method: Method, image: torch.Tensor, values: torch.Tensor, classes: np.ndarray | None = None
) -> torch.Tensor:
    """Decoded images (d * steps, C, H, W): row j varies latent j over ``values[j]`` from the code of
    ``image`` (factor ``classes`` (1, K) for methods with side inputs)."""
    image = image[None] if image.ndim == 3 else image[:1]
    z0 = encode(method, image, None if classes is None else np.asarray(classes)[:1])[:1]
    d, steps = values.shape
    z = z0.repeat(d * steps, 1)
    rows = torch.arange(d).repeat_interleave(steps)
    z[torch.arange(d * steps), rows] = values.flatten().to(z.dtype)
    return torch.sigmoid(method.decode(z))


@torch.no_grad()
def latent_kl(method: Method, images: torch.Tensor, classes: np.ndarray | None = None) -> np.ndarray | None:
    """Mean KL(q(z_j|x) || N(0,1)) per latent over ``images`` for Gaussian VAEs (None otherwise)."""
    if not isinstance(method, GaussianVAE):
        return None
    from ..nn import kl_standard_normal

    mu, logvar = method.posterior(method.prepare(images), **side_inputs(method, classes, images.device))
    return kl_standard_normal(mu, logvar).mean(0).cpu().numpy()


def traversal_grid(
    method: Method, dataset: GroundTruthDataset, index: int = 0, steps: int = 10, limit: float | None = None, seed: int = 0
) -> np.ndarray:
    """RGB uint8 grid: one row per latent, ``steps`` columns, starting from image ``index``."""
    image = dataset.images([index])[0]
    values = traversal_values(method, dataset, steps, limit, seed)
    return grid(latent_traversal(method, image, values, dataset.index_to_classes([index])), rows=method.latent_dim)
