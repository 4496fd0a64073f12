"""Ground-truth-factor datasets, loaders, renderers, caches and weak-supervision samplers."""

from .base import FactorGridDataset, GroundTruthDataset
from .registry import available_datasets, get_dataset, register_dataset
from .samplers import BatchSampler, make_sampler, register_sampler
from . import dsprites  # noqa: E402,F401  (registers "dsprites")
from . import blobs  # noqa: E402,F401  (registers "blobs")
from . import shapes3d  # noqa: E402,F401  (registers "shapes3d")
from . import mnist  # noqa: E402,F401  (registers "mnist", "colored_mnist")
from . import hwf  # noqa: E402,F401  (registers "hwf")
from . import folders  # noqa: E402,F401  (registers "image_folder", "celeba", "flowers102", "chairs3d")
from . import weak  # noqa: E402,F401  (registers the weak-supervision samplers)

__all__ = [
    "FactorGridDataset",
    "GroundTruthDataset",
    "available_datasets",
    "get_dataset",
    "register_dataset",
    "BatchSampler",
    "make_sampler",
    "register_sampler",
]
