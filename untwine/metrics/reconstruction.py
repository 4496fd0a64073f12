"""Reconstruction error of a model: the x-axis of the disentanglement/reconstruction trade-off.

Seed 002 (Kumar et al. 2018, Fig. 1 and Table 1) plots its scores against the "average
reconstruction error (per pixel)". Here: ``num_images`` images drawn uniformly (with
replacement) with the suite's random generator, reconstructed as ``sigmoid(decode(encode(x)))``
from the encoder's representation (the mean for VAEs; the suite's shared table of codes, so an
image already encoded for another metric is not encoded again), in batches of 500, in fp32:

* ``mse_per_pixel``: squared error against the image in [0, 1], averaged over pixels;
* ``bce_per_image``: the Bernoulli negative log-likelihood (binary cross-entropy of the decoder's
  logits), summed over the pixels of an image and averaged over images (the VAE loss's term).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .codes import CodeTable
from .registry import register_metric

BATCH = 500


@register_metric("reconstruction", needs=("sampling", "decoder"), bound=(0.0, math.inf),
                 help="reconstruction error: MSE per pixel and Bernoulli NLL per image (seed 002's trade-off axis)")
def reconstruction(dataset: Any, encode: Any, rng: np.random.Generator, decode: Any = None,
                   num_images: int = 2000) -> dict[str, float]:
    """Mean reconstruction errors on ``num_images`` random images (module docstring).

    ``encode``: a :class:`CodeTable` (the suite's: images it already encoded are not encoded
    again), a model with ``.encode`` or a callable on uint8 images; ``decode``: codes -> logits.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}")
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset)
    idx = rng.integers(0, len(dataset), num_images)
    se = bce = 0.0
    with torch.inference_mode():
        for i in range(0, num_images, BATCH):
            batch = idx[i : i + BATCH]
            x = dataset.images(batch)
            codes = table.codes_for_indices(batch) if table.grid else table.encode_images(x)
            if not np.isfinite(codes).all():
                raise ValueError("reconstruction: the model's codes contain NaN or infinite values")
            z = torch.from_numpy(codes).float()
            logits = decode(z if table.device is None else z.to(table.device)).float().cpu()
            x = x.float() / 255
            se += float((torch.sigmoid(logits) - x).pow(2).sum())
            bce += float(torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
    pixels = num_images * int(np.prod(dataset.image_shape))
    return {"mse_per_pixel": se / pixels, "bce_per_image": bce / num_images}
