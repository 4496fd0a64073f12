"""The method interface the trainer runs, the hyperparameter records, and the method registry.

A method is a ``torch.nn.Module`` built as ``Cls(hparams, data)`` (``data``: :class:`DataFacts`,
the image shape, size and factors of the training data) that declares

* ``name`` and a ``Hyperparameters`` dataclass (fields made with :func:`hp`): the single source of
  the CLI flags, the run's config.yaml, the docs table and the error for a bad value;
* ``streams()``: named batch streams (:class:`~untwine.data.samplers.StreamSpec`: sampler kind,
  batch size, options; default one ``"images"`` stream); a step's batch is ``{stream: {key: tensor}}``;
* ``optimizers()``: named :class:`~untwine.methods.optim.OptimizerSpec` s (class, learning rate,
  settings, schedule) over disjoint parameter sets;
* ``training_step(batch, step)``: one loss per optimiser plus named terms to log. Methods with
  several sequential update steps per batch (GANs, InfoGAN-CR) override ``phases()``;
* ``events()``: callables run when the run reaches a step count (end of a warm-up, a switch that
  re-initialises a network and its optimiser), given an :class:`EventContext`;
* ``encode(x, **side) -> representation`` (the mean for VAEs), ``encode_side_inputs(classes)``
  for encoders that need more than images, and ``decode(z) -> logits``.

Everything a method changes while training lives in its parameters, buffers and optimisers, so the
checkpoint holds it. Images arrive as uint8 (N, C, H, W) and are turned into floats in [0, 1] by
:meth:`Method.prepare`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from ..data.samplers import StreamSpec
from ..nn import INIT_SCHEMES, GaussianHead, build_decoder, build_encoder, initialize, reconstruction_loss, reparameterize
from ..nn.losses import RECONSTRUCTIONS
from ..records import ConfigError, Record, hp  # noqa: F401  (ConfigError, hp: re-exported for method files)
from .optim import OptimizerSet, OptimizerSpec


# ---- hyperparameter records (the machinery is untwine.records) --------------------------------
@dataclass
class Hyperparameters(Record):
    """Base record of a method's hyperparameters; subclasses add fields made with :func:`hp`."""

    field_label: ClassVar[str] = "hyperparameter"


# ---- the facts of the training data, what a step returns, the context of an event ------------
@dataclass(frozen=True)
class DataFacts:
    """What a method may know about its training data at construction.

    Attributes:
        image_shape: (C, H, W) of one image.
        size: number of images (0: unknown; beta-TCVAE's estimator then needs ``dataset_size``).
        factor_names, factor_sizes: the ground-truth factors (empty when unknown).
        name: the dataset's registered name.
        weak_labels: the dataset's ``weak_labels(classes, **options)`` hook, or None.
        factor_groups: the dataset's factor groups (``--dataset-option groups=...``; empty if none).
    """

    image_shape: tuple[int, ...]
    size: int = 0
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    name: str = "dataset"
    weak_labels: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    factor_groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "factor_sizes", tuple(int(s) for s in self.factor_sizes))
        object.__setattr__(self, "factor_names", tuple(self.factor_names))
        object.__setattr__(self, "factor_groups", tuple(tuple(g) for g in self.factor_groups))

    @classmethod
    def of(cls, dataset: Any) -> "DataFacts":
        """The facts of a :class:`untwine.data.GroundTruthDataset`.

        A DataFacts is returned as is; a bare image shape ``(C, H, W)`` gives facts with that
        shape only (size and factors unknown), enough to build a model outside training.
        """
        if isinstance(dataset, DataFacts):
            return dataset
        if isinstance(dataset, (tuple, list)) and all(isinstance(s, int) for s in dataset):
            if len(dataset) != 3 or min(dataset) < 1:
                raise ConfigError(f"an image shape must be (C, H, W) of positive sizes, got {tuple(dataset)}")
            return cls(image_shape=tuple(dataset))
        if not hasattr(dataset, "image_shape"):
            raise ConfigError(
                f"cannot build a method on a {type(dataset).__name__}: give a dataset, "
                "a DataFacts or an image shape (C, H, W)")
        return cls(
            image_shape=dataset.image_shape,
            size=len(dataset),
            factor_names=getattr(dataset, "factor_names", ()),
            factor_sizes=getattr(dataset, "factor_sizes", ()),
            name=getattr(dataset, "name", "dataset"),
            weak_labels=getattr(dataset, "weak_labels", None),
            factor_groups=getattr(dataset, "factor_groups", ()),
        )


@dataclass
class StepOutput:
    """One update phase: a scalar loss per optimiser name, plus named terms for logging."""

    losses: dict[str, torch.Tensor]
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


#: a step's batches: stream name -> that stream's batch (``{"images": {"x": uint8 (B, C, H, W), ...}}``)
Batch = dict[str, dict[str, torch.Tensor]]


@dataclass
class EventContext:
    """What an event callable (see :meth:`Method.events`) can reach.

    Attributes:
        step: the number of completed training steps (the event runs before step ``step + 1``).
        dataset: the training dataset (e.g. to encode a labelled set).
        streams: the method's batch streams by name (draw extra batches with ``next(streams[name])``).
        optimizers: the built optimisers by name (:class:`untwine.methods.optim.OptimizerSet`).
        device: the training device.
    """

    step: int
    dataset: Any
    streams: Any
    optimizers: OptimizerSet
    device: torch.device

    def reset_optimizer(self, name: str) -> None:
        """Rebuild optimiser ``name`` from the method's current declaration (fresh state)."""
        self.optimizers.reset(name)


class Method(nn.Module):
    """Base class of every method. See the module docstring for the contract."""

    name: ClassVar[str] = "method"
    Hyperparameters: ClassVar[type[Hyperparameters]] = Hyperparameters
    default_batch_size: ClassVar[int] = 64  # TrainConfig.batch_size when not given (decisions.md: 64 unless the paper says)
    # ``encode(x)`` is tensor code only (no data-dependent Python), so evaluation may run it as a
    # frozen TorchScript trace (untwine.metrics.codes.inference_encoder, checked against eager)
    encode_is_traceable: ClassVar[bool] = False

    #: hyperparameters for a run of a few steps on tiny data (the contract tests), where the defaults
    #: need more (e.g. a warm-up shorter than 2 steps)
    contract_hparams: ClassVar[dict[str, Any]] = {}

    @classmethod
    def check_config(cls, hparams: Hyperparameters, steps: int) -> None:
        """Check hyperparameters against the run's length (``TrainConfig`` calls it); raise
        :class:`ConfigError` naming the fix. Default: nothing to check."""

    def __init__(self, hparams: Hyperparameters, data: DataFacts):
        super().__init__()
        if not isinstance(hparams, self.Hyperparameters):
            raise ConfigError(f"{self.name} expects {self.Hyperparameters.__name__}, got {type(hparams).__name__}")
        if not isinstance(data, DataFacts):
            raise TypeError(f"{self.name} expects DataFacts (DataFacts.of(dataset)), got {type(data).__name__}")
        self.hparams = hparams
        self.data = data
        self.image_shape = data.image_shape

    # representation and generation
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The representation used by every metric (float images in [0, 1] or uint8)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits (N, C, H, W) for codes (N, d)."""
        raise NotImplementedError

    def encode_side_inputs(self, classes: np.ndarray) -> dict[str, torch.Tensor]:
        """Keyword inputs besides the images that ``encode`` needs for images of factor ``classes``
        (N, K) int: ``encode(x, **encode_side_inputs(classes))``. Default: none."""
        return {}

    @property
    def latent_dim(self) -> int:
        return int(getattr(self.hparams, "latent_dim"))

    # training
    def streams(self) -> dict[str, StreamSpec]:
        """Named batch streams drawn at every step (the first is the primary one, seeded with
        ``config.seed + 1``). Default: one ``images`` stream of uniformly drawn images."""
        return {"images": StreamSpec("images")}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        """Named optimisers over disjoint parameter sets (the loss names of ``training_step``)."""
        raise NotImplementedError(f"{self.name} must declare its optimisers")

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        """Losses of one update for ``batch``; every optimiser named in ``losses`` steps once,
        all gradients taken at the same parameters (simultaneous update)."""
        raise NotImplementedError

    def phases(self) -> list[Callable[[Batch, int], StepOutput]]:
        """Sequential update phases per batch; each phase is a fresh forward pass."""
        return [self.training_step]

    def events(self) -> dict[int, Callable[[EventContext], None]]:
        """Callables run once when the run reaches a step count, before that step's batch is drawn
        (``{warmup: self.build_prior}``). What they change must live in the method's parameters,
        buffers or optimisers, so that it is in the checkpoint. Default: none."""
        return {}

    # helpers
    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float in [0, 1]; float input is passed through."""
        if x.dtype == torch.uint8:
            return x.float().div_(255.0)
        return x.float()


@dataclass
class VAEHyperparameters(Hyperparameters):
    """Hyperparameters shared by the VAE family (disentanglement_lib defaults)."""

    latent_dim: int = hp(10, "number of latent dimensions d", low=1, high=4096)
    architecture: str = hp("conv", "encoder/decoder: 'conv' (disentanglement_lib, 64x64) or 'mlp'", choices=("conv", "mlp"))
    encoder_hidden: tuple[int, ...] | None = hp(None, "encoder hidden sizes (None: the architecture's default)")
    decoder_hidden: tuple[int, ...] | None = hp(None, "decoder hidden sizes (None: the architecture's default)")
    activation: str | None = hp(None, "hidden activation (None: the architecture's default)",
                                choices=(None, "relu", "tanh", "leaky_relu", "elu"))
    reconstruction: str = hp("bernoulli", "reconstruction likelihood", choices=RECONSTRUCTIONS)
    init: str = hp("glorot", "weight init: glorot (Glorot-uniform weights, zero biases: disentanglement_lib's Keras "
                   "defaults; measured in benchmarks/README.md) or torch (PyTorch's layer defaults)", choices=INIT_SCHEMES)
    lr: float = hp(1e-4, "Adam learning rate", low=0.0, low_open=True)
    beta1: float = hp(0.9, "Adam beta1", low=0.0, high=1.0)
    beta2: float = hp(0.999, "Adam beta2", low=0.0, high=1.0)

    def validate(self) -> None:
        super().validate()
        if self.architecture == "conv":
            given = [n for n in ("encoder_hidden", "decoder_hidden", "activation") if getattr(self, n) is not None]
            if given:
                raise ConfigError(f"{', '.join(given)} apply to architecture='mlp' only; the conv architecture "
                                  "(disentanglement_lib) has fixed layers: drop them or set architecture='mlp'")


class GaussianVAE(Method):
    """Shared machinery of the VAE family: encoder trunk + Gaussian head, decoder, reconstruction.

    The encoder and decoder are built from the record (``architecture``, ``encoder_hidden``,
    ``decoder_hidden``, ``activation``) unless passed in; an encoder must expose ``features``.
    Subclasses write their objective in ``training_step`` from :meth:`forward_terms`.
    """

    encode_is_traceable = True

    def __init__(self, hparams: VAEHyperparameters, data: DataFacts,
                 encoder: nn.Module | None = None, decoder: nn.Module | None = None):
        super().__init__(hparams, data)
        h = hparams
        self.encoder = encoder if encoder is not None else build_encoder(
            h.architecture, self.image_shape, h.encoder_hidden, h.activation)
        self.head = GaussianHead(self.encoder.features, h.latent_dim)
        self.decoder = decoder if decoder is not None else build_decoder(
            h.architecture, h.latent_dim, self.image_shape, h.decoder_hidden, h.activation)
        initialize(self, h.init)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        """One Adam over all parameters, named ``model`` (``lr``, ``beta1``, ``beta2``)."""
        h = self.hparams
        return {"model": OptimizerSpec(list(self.parameters()), lr=h.lr, betas=(h.beta1, h.beta2))}

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x) for float images."""
        return self.head(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(self.prepare(x))[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruction(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(self.hparams.reconstruction, logits, x)

    def forward_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode, sample and decode a float batch: mu, logvar, z, logits."""
        mu, logvar = self.posterior(x)
        z = reparameterize(mu, logvar)
        return {"mu": mu, "logvar": logvar, "z": z, "logits": self.decoder(z)}


# ---- registry ----------------------------------------------------------------------------------
_METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method available by its ``name``."""
    if cls.name in _METHODS:
        raise ValueError(f"method {cls.name!r} registered twice")
    _METHODS[cls.name] = cls
    cls.__doc__ = (cls.__doc__ or cls.name).rstrip() + "\n\n" + hyperparameter_table(cls.Hyperparameters)
    return cls


def hyperparameter_table(record: type[Hyperparameters]) -> str:
    """The docstring table of a hyperparameter record: name, default, help (generated, never stale)."""
    rows = [(name, repr(default), text) for name, default, text in record.describe()]
    w0 = max(len("name"), *(len(r[0]) for r in rows))
    w1 = max(len("default"), *(len(r[1]) for r in rows))
    line = f"    {'=' * w0}  {'=' * w1}  {'=' * 40}"
    out = ["    Hyperparameters (CLI flag ``--name-with-dashes``):", "", line,
           f"    {'name':<{w0}}  {'default':<{w1}}  meaning", line]
    out += [f"    {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    out.append(line)
    return "\n".join(out)


def available_methods() -> list[str]:
    """Names accepted by :func:`get_method`."""
    return sorted(_METHODS)


def get_method_class(name: str) -> type[Method]:
    """Method class by name; an unknown name gives a clear error with the valid names."""
    key = name.lower().replace("-", "_")
    if key not in _METHODS:
        close = difflib.get_close_matches(key, _METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(available_methods())}.{hint}")
    return _METHODS[key]


def build_method(name: str, data: Any, **hparams: Any) -> Method:
    """Instantiate a registered method with validated hyperparameters.

    ``data``: a :class:`DataFacts`, a dataset (its facts are taken with :meth:`DataFacts.of`),
    or an image shape ``(C, H, W)``.
    """
    cls = get_method_class(name)
    return cls(cls.Hyperparameters.from_dict(hparams), DataFacts.of(data))
