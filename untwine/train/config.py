"""The configuration of one training run: what to train, on what, for how long; stored as config.yaml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ..methods import ConfigError, Hyperparameters, get_method_class
from ..nn.precision import PRECISIONS
from ..records import Record, hp

MAX_STEPS = 10**9  # far beyond any run; stops a typo (an extra few zeros) from meaning "forever"
MAX_BATCH = 65536


@dataclass
class TrainConfig(Record):
    """Everything that determines a run. Same config and seed -> same numbers on the same machine.

    A record (:mod:`untwine.records`): every field is validated at construction and is a flag of
    ``untwine train``. ``hparams`` may be given as a mapping; it is validated once by the method's
    record and kept as that record (:meth:`method_hparams`). ``batch_size`` None takes the
    method's ``default_batch_size`` (64; WeLa-VAE 256) and is stored resolved.

    ``channels_last`` stores conv weights and image batches channels-last (NHWC): the same model
    and math (results differ only by float rounding); on CPU (oneDNN) the conv architecture trained
    3% faster at batch 64 and 12-20% faster at batch 256 (benchmarks/README.md); no effect on dense
    (mlp) networks.

    ``precision`` (:mod:`untwine.nn.precision`): ``auto`` (default) is resolved when training
    starts, on the run's device, and stored resolved in config.yaml (``fp32`` or ``bf16``);
    ``bf16`` where the processor only emulates it trains, slowly, with a warning. Evaluation
    always encodes in fp32.
    """

    field_label: ClassVar[str] = "config key"

    method: str = hp("beta_vae", "method name (see `untwine list`)")
    dataset: str = hp("dsprites", "dataset name (see `untwine list`)")
    hparams: Hyperparameters | dict[str, Any] = hp(
        {}, "method hyperparameters NAME: VALUE (`untwine train --method NAME --help` lists them)")
    dataset_options: dict[str, Any] = hp({}, "keyword options of the dataset, e.g. path (--dataset-option KEY=VALUE)")
    steps: int = hp(1000, "optimisation steps (batches)", low=1, high=MAX_STEPS)
    batch_size: int | None = hp(None, "images (or pairs, tuples) per batch (none: the method's default)", low=1, high=MAX_BATCH)
    seed: int = hp(0, "seeds initialisation, batch sampling and the reparameterisation noise", low=0, high=2**32 - 1)
    device: str = hp("cpu", "cpu, cuda, cuda:N or auto (cuda when available)")
    checkpoint_every: int = hp(1000, "steps between atomic checkpoints (the last step is always saved)", low=1, high=MAX_STEPS)
    log_every: int = hp(50, "steps between logged scalars", low=1, high=MAX_STEPS)
    threads: int | None = hp(None, "torch intra-op threads (none: torch's default)", low=1, high=4096, aliases={0: None})
    channels_last: bool = hp(True, "conv weights and image batches channels-last (NHWC; faster on CPU, same math)")
    precision: str = hp("auto", "forward-pass precision: fp32; bf16 (autocast, fp32 weights, losses and reductions); "
                        "auto (bf16 only where the processor has native bf16, else fp32); stored resolved",
                        choices=PRECISIONS)

    def validate(self) -> None:
        """Check the run settings and the method's hyperparameters; raise ConfigError naming the fix."""
        super().validate()
        if self.device not in ("cpu", "cuda", "auto") and not re.fullmatch(r"cuda:\d+", self.device):
            raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")
        cls = get_method_class(self.method)  # unknown method -> ConfigError
        self.method = cls.name
        if isinstance(self.hparams, Hyperparameters):
            if not isinstance(self.hparams, cls.Hyperparameters):
                raise ConfigError(f"hparams is a {type(self.hparams).__name__} record; method {cls.name} takes "
                                  f"{cls.Hyperparameters.__name__} (or a mapping of NAME: VALUE)")
        else:
            self.hparams = cls.Hyperparameters.from_dict(self.hparams)  # canonical once; invalid -> ConfigError
        if self.batch_size is None:
            self.batch_size = int(cls.default_batch_size)
        cls.check_config(self.hparams, self.steps)  # settings of the method that depend on the run's length

    def method_hparams(self) -> Hyperparameters:
        """The validated hyperparameter record of the method (built once, at construction)."""
        assert isinstance(self.hparams, Hyperparameters)
        return self.hparams

    def to_yaml(self) -> str:
        """config.yaml text: every field, the method's full record (defaults included)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        """Read a config.yaml; a missing file, bad YAML or a bad value is one ConfigError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass the path of a config.yaml")
        try:
            values = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            detail = str(e).replace("\n", " ")
            raise ConfigError(f"config file {path} is not valid YAML ({detail}); fix or recreate it") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings, got {type(values).__name__}")
        values.setdefault("precision", "fp32")  # written before the precision option: trained in fp32
        try:
            return cls.from_dict(values)
        except ConfigError as e:
            raise ConfigError(f"config file {path}: {e}") from None
