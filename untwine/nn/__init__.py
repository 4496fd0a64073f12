"""Building blocks: encoders/decoders, Gaussian heads, KL, reconstruction losses, TC estimators."""

from .architectures import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, build_decoder, build_encoder
from .init import INIT_SCHEMES, initialize
from .gaussian import GaussianHead, gaussian_log_density, kl_gaussians, kl_standard_normal, reparameterize
from .losses import bernoulli_reconstruction, gaussian_reconstruction, reconstruction_loss
from .discriminator import (FACTORISATIONS, Discriminator, discriminator_loss, discriminator_tc, factorisation_blocks,
                            permute_blocks, permute_dims)
from .moments import batch_covariance, dip_covariance, dip_penalty, third_central_moments
from .total_correlation import TC_ESTIMATORS, pairwise_log_density, stratified_log_weights, total_correlation

__all__ = [
    "Discriminator",
    "FACTORISATIONS",
    "INIT_SCHEMES",
    "TC_ESTIMATORS",
    "batch_covariance",
    "dip_covariance",
    "dip_penalty",
    "discriminator_loss",
    "discriminator_tc",
    "factorisation_blocks",
    "pairwise_log_density",
    "permute_blocks",
    "permute_dims",
    "stratified_log_weights",
    "third_central_moments",
    "total_correlation",
    "ConvDecoder",
    "ConvEncoder",
    "GaussianHead",
    "MLPDecoder",
    "MLPEncoder",
    "bernoulli_reconstruction",
    "build_decoder",
    "build_encoder",
    "gaussian_log_density",
    "gaussian_reconstruction",
    "initialize",
    "kl_gaussians",
    "kl_standard_normal",
    "reconstruction_loss",
    "reparameterize",
]
