"""Reduced precision: bf16 autocast of the networks' forward pass, fp32 everywhere a loss is formed.

``--precision bf16`` runs the training step's forward pass under ``torch.autocast`` with bfloat16:
convolutions and linear layers compute in bf16 while the weights (the optimiser's master copy) stay
fp32. Everything a loss is made of stays fp32: the networks' outputs (Gaussian head, decoder
logits, discriminator logits) are cast back to fp32 where they leave the network
(:func:`fp32_output`), and the matrix products inside losses (DIP-VAE's covariance, the TC
estimators' pairwise densities) run with autocast switched off (:func:`full_precision`), so that
KL terms, TC estimators, ``logsumexp`` and every reduction see fp32 inputs.

``auto`` chooses bf16 only where the processor computes bf16 natively: on CPU the AVX512-BF16 or
AMX instructions (as torch reports them; oneDNN emulates bf16 on plain AVX-512 and falls back to
slow reference kernels on AVX2, both slower than fp32), on aarch64 the ``bf16`` CPU feature, on
CUDA compute capability 8.0 or newer (``torch.cuda.is_bf16_supported(including_emulation=False)``).
``bf16`` asked for explicitly where it is not native runs (the user may want to check numbers),
with a warning that it will be slow and the fix.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import warnings
from typing import Any, Callable, Iterator, TypeVar

import torch

PRECISIONS = ("fp32", "bf16", "auto")

F = TypeVar("F", bound=Callable[..., Any])


class SlowPrecisionWarning(UserWarning):
    """bf16 was asked for on a processor that only emulates it."""


def _cpu_flag(name: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("flags", "features")):
                    return name in line.split()
    except OSError:
        pass
    return False


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively (module docstring); never true for emulation."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # older torch: no including_emulation
            return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type != "cpu":
        return False
    if platform.machine().lower() in ("aarch64", "arm64"):
        return _cpu_flag("bf16")
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((probe is not None and probe()) or (amx is not None and amx()))


def resolve_precision(name: str, device: torch.device | str = "cpu",
                      native: Callable[[torch.device | str], bool] = native_bf16) -> str:
    """``fp32`` or ``bf16`` for the requested ``name`` on ``device``.

    ``auto``: bf16 where ``native(device)``, else fp32. ``bf16`` where it is not native: bf16, with a
    :class:`SlowPrecisionWarning` naming the fix. ``native`` is the probe (replaceable in tests).
    """
    if name not in PRECISIONS:
        from ..records import ConfigError

        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "fp32":
        return "fp32"
    is_native = native(device)
    if name == "auto":
        return "bf16" if is_native else "fp32"
    if not is_native:
        warnings.warn(f"--precision bf16 on {torch.device(device).type}: this processor has no native bf16 (no "
                      "AVX512-BF16/AMX on CPU, compute capability < 8.0 on CUDA), so bf16 is emulated and slower than "
                      "fp32; use --precision auto (fp32 here) unless you want to check bf16's numbers",
                      SlowPrecisionWarning, stacklevel=2)
    return "bf16"


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """The forward-pass context of a resolved ``precision`` (``fp32``: nothing)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def _autocast_off(device_type: str) -> Iterator[None]:
    with torch.autocast(device_type=device_type, enabled=False):
        yield


def full_precision(fn: F) -> F:
    """Decorator: run ``fn`` with autocast off and its floating tensor arguments as fp32."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not (torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")):
            return fn(*args, **kwargs)
        cast = [a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        kw = {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in kwargs.items()}
        with contextlib.ExitStack() as stack:
            for device_type in ("cpu", "cuda"):
                if torch.is_autocast_enabled(device_type):
                    stack.enter_context(_autocast_off(device_type))
            return fn(*cast, **kw)

    return wrapped  # type: ignore[return-value]


def fp32_output(x: Any) -> Any:
    """A network's output (a tensor or a tuple of them) as fp32: where a loss begins."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() and x.dtype != torch.float32 else x
    if isinstance(x, tuple):
        return tuple(fp32_output(t) for t in x)
    return x
