"""Ada-ML-VAE (Locatello et al. 2020, Sec. 4.2), disentanglement_lib's ``mlvae_argmax``.

As Ada-GVAE (:mod:`untwine.methods.ada_gvae`: pairs whose shared factors the model is not told,
shared latents S inferred per pair from the per-latent KL between the two posteriors, Eq. 5), but
on S both posteriors are replaced by their *product* (as ML-VAE, :mod:`untwine.methods.ml_vae`):
precision-weighted mean, variance ``2 v1 v2 / (v1 + v2)`` (disentanglement_lib) or the exact
``v1 v2 / (v1 + v2)`` with ``exact_product=True``. Loss: the pair ELBO of
:mod:`untwine.methods.shared_posterior` with the reference's per-member KL.
"""

from __future__ import annotations

from .ada_gvae import AdaptiveParams, AdaptiveVAE
from .base import register_method


@register_method
class AdaMLVAE(AdaptiveVAE):
    """Ada-ML-VAE: the inferred shared latents of a pair take the product of its two Gaussians."""

    name = "ada_ml_vae"
    Hyperparameters = AdaptiveParams
    aggregation = "product"
