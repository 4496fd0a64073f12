"""Optimiser declarations of a method and the set of optimisers the trainer builds from them.

A method's ``optimizers()`` returns named :class:`OptimizerSpec` s over disjoint parameter sets:
the optimiser class by name (``"adam"`` by default; ``"adamw"``, ``"rmsprop"``, ``"sgd"``,
``"adagrad"``, ``"adamax"``), its learning rate and settings, and an optional learning-rate
schedule that advances once per training step. :class:`OptimizerSet` holds what was built; its
state (optimisers and schedules) goes into the checkpoint, and :meth:`OptimizerSet.reset`
rebuilds one optimiser from the method's current declaration (a progressive switch that
re-initialises a network).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn


#: optimiser classes by name
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adamax": torch.optim.Adamax,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
}

#: learning-rate schedules by name (``torch.optim.lr_scheduler`` classes; settings are their keywords)
SCHEDULES: dict[str, type] = {
    "step": torch.optim.lr_scheduler.StepLR,
    "multistep": torch.optim.lr_scheduler.MultiStepLR,
    "exponential": torch.optim.lr_scheduler.ExponentialLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
    "linear": torch.optim.lr_scheduler.LinearLR,
    "constant": torch.optim.lr_scheduler.ConstantLR,
}


@dataclass
class OptimizerSpec:
    """One optimiser: its class by name, learning rate and settings, over ``params``.

    Args:
        params: the parameters it updates (disjoint from every other optimiser's).
        lr: learning rate.
        betas: Adam-family betas (``None``: the class default, (0.9, 0.999) for Adam).
        eps: Adam-family epsilon (``None``: the class default).
        kind: optimiser class, a key of :data:`OPTIMIZERS`.
        settings: further keywords of the class (``weight_decay``, ``momentum``, ``alpha``, ...).
        schedule: ``None``, a key of :data:`SCHEDULES`, or a callable ``step -> lr factor``
            (``LambdaLR``); it steps once per training step.
        schedule_settings: keywords of the named schedule (e.g. ``{"step_size": 1000, "gamma": 0.5}``).
    """

    params: list[nn.Parameter]
    lr: float = 1e-4
    betas: tuple[float, float] | None = (0.9, 0.999)
    eps: float | None = None
    kind: str = "adam"
    settings: dict[str, Any] = field(default_factory=dict)
    schedule: str | Callable[[int], float] | None = None
    schedule_settings: dict[str, Any] = field(default_factory=dict)

    def build(self) -> torch.optim.Optimizer:
        """The torch optimiser; a bad class name or setting is a :class:`ConfigError` naming the valid ones."""
        if self.kind not in OPTIMIZERS:
            raise _config_error(f"unknown optimiser {self.kind!r}; choose one of {', '.join(OPTIMIZERS)}")
        cls = OPTIMIZERS[self.kind]
        kwargs = dict(self.settings)
        if self.betas is not None and "betas" in _keywords(cls):
            kwargs["betas"] = tuple(self.betas)
        if self.eps is not None:
            kwargs["eps"] = self.eps
        _check_keywords(cls, kwargs, f"optimiser {self.kind!r}")
        return cls(self.params, lr=self.lr, **kwargs)

    def build_schedule(self, optimizer: torch.optim.Optimizer) -> Any | None:
        """The learning-rate schedule of ``optimizer`` (None without one)."""
        if self.schedule is None:
            return None
        if callable(self.schedule):
            return torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule)
        if self.schedule not in SCHEDULES:
            raise _config_error(f"unknown learning-rate schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        cls = SCHEDULES[self.schedule]
        _check_keywords(cls, self.schedule_settings, f"schedule {self.schedule!r}")
        return cls(optimizer, **self.schedule_settings)


def _config_error(message: str) -> ValueError:
    """An :class:`untwine.methods.ConfigError` (imported late: ``base`` imports this module)."""
    from .base import ConfigError

    return ConfigError(message)


def _keywords(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params", "optimizer", "lr")]


def _check_keywords(cls: type, kwargs: dict[str, Any], what: str) -> None:
    valid = _keywords(cls)
    bad = sorted(set(kwargs) - set(valid))
    if bad:
        raise _config_error(f"{what} has no setting {', '.join(bad)}; valid: {', '.join(valid)}")


def check_disjoint(specs: dict[str, OptimizerSpec]) -> None:
    """Raise :class:`ConfigError` when a parameter belongs to two optimisers."""
    seen: dict[int, str] = {}
    for name, spec in specs.items():
        for p in spec.params:
            if id(p) in seen:
                raise _config_error(f"parameter shared by optimisers {seen[id(p)]!r} and {name!r}; they must be disjoint")
            seen[id(p)] = name


class OptimizerSet:
    """The optimisers (and schedules) built from a method's declarations, by name."""

    def __init__(self, method: nn.Module):
        self.method = method
        self.specs: dict[str, OptimizerSpec] = method.optimizers()
        if not self.specs:
            raise _config_error(f"{getattr(method, 'name', 'method')} declares no optimiser")
        check_disjoint(self.specs)
        self.optimizers = {name: spec.build() for name, spec in self.specs.items()}
        self.schedules = {name: spec.build_schedule(self.optimizers[name]) for name, spec in self.specs.items()}

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimizers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.optimizers

    def __iter__(self):
        return iter(self.optimizers)

    def params(self, name: str) -> list[nn.Parameter]:
        """The parameters optimiser ``name`` updates."""
        return self.specs[name].params

    def reset(self, name: str) -> None:
        """Rebuild optimiser ``name`` (fresh state, schedule from step 0) from the method's current
        declaration, e.g. after the network it updates was re-initialised or replaced."""
        specs = self.method.optimizers()
        if name not in specs:
            raise _config_error(f"no optimiser {name!r} to reset; declared: {', '.join(specs)}")
        check_disjoint(specs)
        self.specs[name] = specs[name]
        self.optimizers[name] = specs[name].build()
        self.schedules[name] = specs[name].build_schedule(self.optimizers[name])

    def step_schedules(self) -> None:
        """Advance every learning-rate schedule by one training step."""
        for schedule in self.schedules.values():
            if schedule is not None:
                schedule.step()

    def state_dict(self) -> dict[str, Any]:
        """``{"optimizers": {name: state}, "schedules": {name: state}}`` (schedules only where declared)."""
        return {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedules": {name: s.state_dict() for name, s in self.schedules.items() if s is not None},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, s in state.get("schedules", {}).items():
            self.schedules[name].load_state_dict(s)
