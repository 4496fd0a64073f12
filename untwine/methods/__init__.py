"""Methods, one file each; importing this package registers them all."""

from . import infogan_cr  # noqa: F401  (registration)
from . import (absae, ada_gvae, ada_ml_vae, annealed_vae, beta_tcvae, beta_vae, dip_vae, factor_vae, group_tcvae,  # noqa: F401
               gvae, ml_vae, vae, wela_vae)  # (registration)
from . import intervention  # noqa: F401  (registration)
from ..data.samplers import StreamSpec
from .base import (
    ConfigError,
    DataFacts,
    EventContext,
    GaussianVAE,
    Hyperparameters,
    Method,
    OptimizerSet,
    OptimizerSpec,
    StepOutput,
    VAEHyperparameters,
    available_methods,
    build_method,
    get_method_class,
    hp,
    hyperparameter_table,
    register_method,
)

__all__ = [
    "ConfigError",
    "DataFacts",
    "EventContext",
    "GaussianVAE",
    "Hyperparameters",
    "Method",
    "OptimizerSet",
    "OptimizerSpec",
    "StepOutput",
    "StreamSpec",
    "VAEHyperparameters",
    "available_methods",
    "build_method",
    "get_method_class",
    "hp",
    "hyperparameter_table",
    "register_method",
]
