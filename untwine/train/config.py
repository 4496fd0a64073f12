"""The configuration of one training run: what to train, on what, for how long; stored as config.yaml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..methods import ConfigError, get_method_class


@dataclass
class TrainConfig:
    """Everything that determines a run. Same config and seed -> same numbers on the same machine.

    Attributes:
        method: registered method name (``untwine.methods.available_methods()``).
        dataset: registered dataset name (``untwine.data.available_datasets()``).
        hparams: method hyperparameters (validated by the method's record).
        dataset_options: keyword options of the dataset (e.g. ``{"path": ...}``).
        steps: number of optimisation steps (batches).
        batch_size: images (or pairs, tuples) per batch.
        seed: seeds initialisation, batch sampling and the reparameterisation noise.
        device: ``cpu``, ``cuda`` or ``auto`` (cuda when available).
        checkpoint_every: steps between atomic checkpoints (the last step is always saved).
        log_every: steps between logged scalars.
        threads: torch intra-op threads (0: torch's default).
        channels_last: store conv weights and image batches channels-last (NHWC). Same model and
            math (results differ only by float rounding); on CPU (oneDNN) the conv architecture
            trained 3% faster at batch 64 and 12-20% faster at batch 256 (benchmarks/README.md).
            No effect on dense (mlp) networks.
    """

    method: str = "beta_vae"
    dataset: str = "dsprites"
    hparams: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 64
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 1000
    log_every: int = 50
    threads: int = 0
    channels_last: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the run settings and the method's hyperparameters; raise ConfigError naming the fix."""
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ConfigError(f"threads must be >= 0 (0 = torch default), got {self.threads!r}")
        if self.device not in ("cpu", "cuda", "auto") and not str(self.device).startswith("cuda:"):
            raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")
        cls = get_method_class(self.method)  # unknown method -> ConfigError
        self.method = cls.name
        cls.Hyperparameters.from_dict(self.hparams)  # invalid hyperparameters -> ConfigError

    def method_hparams(self):
        """The validated hyperparameter record of the method."""
        return get_method_class(self.method).Hyperparameters.from_dict(self.hparams)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hparams"] = self.method_hparams().to_dict()  # full record, defaults included
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass the path of a config.yaml")
        try:
            values = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML ({e}); fix or recreate it") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings, got {type(values).__name__}")
        return cls.from_dict(values)
