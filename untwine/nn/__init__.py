"""Building blocks: encoders/decoders, Gaussian heads, KL, reconstruction losses, TC estimators."""

from .architectures import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, build_decoder, build_encoder
from .gaussian import GaussianHead, gaussian_log_density, kl_gaussians, kl_standard_normal, reparameterize
from .losses import bernoulli_reconstruction, gaussian_reconstruction, reconstruction_loss

__all__ = [
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
    "kl_gaussians",
    "kl_standard_normal",
    "reconstruction_loss",
    "reparameterize",
]
