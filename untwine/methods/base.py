"""The method interface the trainer runs, the hyperparameter records, and the method registry.

A method is a ``torch.nn.Module`` that declares

* ``name`` and a ``Hyperparameters`` dataclass (fields made with :func:`hp`): the single source of
  the CLI flags, the run's config.yaml, the docs table and the error for a bad value;
* ``batch_kind``: what a training batch holds (``"images"``; weakly supervised methods ask for
  ``"weak_labels"``, ``"pairs"``, ...); the trainer asks :mod:`untwine.data` for that sampler;
* ``optimizers()``: named optimiser declarations over disjoint parameter sets;
* ``training_step(batch, step)``: one loss per optimiser plus named terms to log. Methods with
  several sequential update steps per batch (GANs, InfoGAN-CR) override ``phases()``;
* ``encode(x) -> representation`` (the mean for VAEs) and ``decode(z) -> logits``.

Images arrive as uint8 (N, C, H, W) and are turned into floats in [0, 1] by :meth:`Method.prepare`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import torch
from torch import nn

from ..nn import INIT_SCHEMES, GaussianHead, build_decoder, build_encoder, initialize, reconstruction_loss, reparameterize
from ..nn.losses import RECONSTRUCTIONS
from ..records import ConfigError, Record, hp  # noqa: F401  (ConfigError, hp: re-exported for method files)


# ---- hyperparameter records (the machinery is untwine.records) --------------------------------
@dataclass
class Hyperparameters(Record):
    """Base record of a method's hyperparameters; subclasses add fields made with :func:`hp`."""

    field_label: ClassVar[str] = "hyperparameter"


# ---- what a step returns and which optimisers exist --------------------------------------------
@dataclass
class OptimizerSpec:
    """An Adam optimiser over ``params``."""

    params: list[nn.Parameter]
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def build(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.params, lr=self.lr, betas=self.betas, eps=self.eps)


@dataclass
class StepOutput:
    """One update phase: a scalar loss per optimiser name, plus named terms for logging."""

    losses: dict[str, torch.Tensor]
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


Batch = dict[str, torch.Tensor]


class Method(nn.Module):
    """Base class of every method. See the module docstring for the contract."""

    name: ClassVar[str] = "method"
    Hyperparameters: ClassVar[type[Hyperparameters]] = Hyperparameters
    batch_kind: ClassVar[str] = "images"
    default_batch_size: ClassVar[int] = 64  # TrainConfig.batch_size when not given (decisions.md: 64 unless the paper says)
    # ``encode(x)`` is tensor code only (no data-dependent Python), so evaluation may run it as a
    # frozen TorchScript trace (untwine.metrics.codes.inference_encoder, checked against eager)
    encode_is_traceable: ClassVar[bool] = False

    def __init__(self, hparams: Hyperparameters, image_shape: Sequence[int]):
        super().__init__()
        if not isinstance(hparams, self.Hyperparameters):
            raise ConfigError(f"{self.name} expects {self.Hyperparameters.__name__}, got {type(hparams).__name__}")
        self.hparams = hparams
        self.image_shape = tuple(int(s) for s in image_shape)

    # representation and generation
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The representation used by every metric (float images in [0, 1] or uint8)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits (N, C, H, W) for codes (N, d)."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        return int(getattr(self.hparams, "latent_dim"))

    # training
    def optimizers(self) -> dict[str, OptimizerSpec]:
        """Named optimisers over disjoint parameter sets; default: one Adam over all parameters."""
        h = self.hparams
        return {
            "model": OptimizerSpec(
                list(self.parameters()),
                lr=getattr(h, "lr", 1e-4),
                betas=(getattr(h, "beta1", 0.9), getattr(h, "beta2", 0.999)),
            )
        }

    def training_step(self, batch: Batch, step: int) -> StepOutput:
        """Losses of one update for ``batch``; every optimiser named in ``losses`` steps once,
        all gradients taken at the same parameters (simultaneous update)."""
        raise NotImplementedError

    def bind_dataset(self, dataset: Any) -> None:
        """Called by the trainer before training (e.g. beta-TCVAE reads the dataset size). Default: no-op."""

    def sampler_options(self) -> dict[str, Any]:
        """Options the trainer passes to the ``batch_kind`` sampler (e.g. WeLa-VAE's label resolution)."""
        return {}

    def phases(self) -> list[Callable[[Batch, int], StepOutput]]:
        """Sequential update phases per batch; each phase is a fresh forward pass."""
        return [self.training_step]

    # helpers
    @staticmethod
    def prepare(x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float in [0, 1]; float input is passed through."""
        if x.dtype == torch.uint8:
            return x.float().div_(255.0)
        return x.float()


class GaussianVAE(Method):
    """Shared machinery of the VAE family: encoder trunk + Gaussian head, decoder, reconstruction.

    Subclasses write their objective in ``training_step`` from :meth:`forward_terms`.
    """

    encode_is_traceable = True

    def __init__(self, hparams: Hyperparameters, image_shape: Sequence[int], encoder_extra_inputs: int = 0):
        super().__init__(hparams, image_shape)
        h = hparams
        arch = getattr(h, "architecture", "conv")
        hidden_e = getattr(h, "encoder_hidden", None)
        hidden_d = getattr(h, "decoder_hidden", None)
        act = getattr(h, "activation", None)
        if encoder_extra_inputs:
            from ..nn.architectures import MLPEncoder

            if arch != "mlp":
                raise ConfigError("extra encoder inputs (labels) need architecture='mlp'")
            self.encoder = MLPEncoder(self.image_shape, tuple(hidden_e or (1200, 1200)), act or "relu", encoder_extra_inputs)
        else:
            self.encoder = build_encoder(arch, self.image_shape, hidden_e, act)
        self.head = GaussianHead(self.encoder.features, h.latent_dim)
        self.decoder = build_decoder(arch, h.latent_dim, self.image_shape, hidden_d, act)
        initialize(self, h.init)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x) for float images."""
        return self.head(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(self.prepare(x))[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruction(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(getattr(self.hparams, "reconstruction", "bernoulli"), logits, x)

    def forward_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode, sample and decode a float batch: mu, logvar, z, logits."""
        mu, logvar = self.posterior(x)
        z = reparameterize(mu, logvar)
        return {"mu": mu, "logvar": logvar, "z": z, "logits": self.decoder(z)}


@dataclass
class VAEHyperparameters(Hyperparameters):
    """Hyperparameters shared by the VAE family (disentanglement_lib defaults)."""

    latent_dim: int = hp(10, "number of latent dimensions d", low=1, high=4096)
    architecture: str = hp("conv", "encoder/decoder: 'conv' (disentanglement_lib, 64x64) or 'mlp'", choices=("conv", "mlp"))
    reconstruction: str = hp("bernoulli", "reconstruction likelihood", choices=RECONSTRUCTIONS)
    init: str = hp("torch", "weight init: torch (PyTorch defaults) or glorot (Glorot-uniform, zero biases: Keras, disentanglement_lib)", choices=INIT_SCHEMES)
    lr: float = hp(1e-4, "Adam learning rate", low=0.0, low_open=True)
    beta1: float = hp(0.9, "Adam beta1", low=0.0, high=1.0)
    beta2: float = hp(0.999, "Adam beta2", low=0.0, high=1.0)


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


def build_method(name: str, image_shape: Sequence[int], **hparams: Any) -> Method:
    """Instantiate a registered method with validated hyperparameters."""
    cls = get_method_class(name)
    return cls(cls.Hyperparameters.from_dict(hparams), image_shape)
