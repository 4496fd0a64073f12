"""Choosing the torch device of a run: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""

from __future__ import annotations

import torch

from ..methods import ConfigError


class DeviceUnavailable(ConfigError):
    """The requested device does not exist on this machine (a choice to change, not a damaged file)."""


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device for ``name``; ``auto`` is cuda when available, else cpu.

    Raises:
        DeviceUnavailable: a device this machine lacks (cuda without a GPU, cuda:3 with two GPUs),
            with how to choose another.
        ConfigError: a name torch does not know.
    """
    text = str(name).strip()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {text!r}; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"device {text!r} is not available: torch sees no CUDA GPU on this machine; "
                "choose another with --device cpu (or --device auto, the GPU when there is one)"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceUnavailable(
                f"device {text!r} is not available: this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1}); choose one of them or --device cpu"
            )
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceUnavailable(f"device {text!r} is not available on this machine; choose --device cpu")
        return device
    raise DeviceUnavailable(f"device {text!r} is not supported by untwine; use cpu, cuda, cuda:N or auto")
