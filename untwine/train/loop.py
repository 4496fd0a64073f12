"""One training step, the update rule, the logging sums, and a Ctrl-C that waits for the step.

:class:`TrainingLoop` holds everything a step changes (method, optimisers, batch streams, the
noise generator, the logging sums) and writes it as one checkpoint state. A checkpoint is always
the state after a completed step: a first Ctrl-C lets the running step finish
(:func:`deferred_interrupt`); an interrupt that arrives anyway (a second Ctrl-C, a
``KeyboardInterrupt`` raised by code) before the step changed anything rewinds the generators to
the step's start, and one that arrives after is not saved at all (the last checkpoint stays).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from typing import Any, Callable, Iterator

import torch

from ..data import GroundTruthDataset
from ..data.samplers import Streams, count_images
from ..methods import ConfigError, Method
from ..methods.base import EventContext
from ..methods.optim import OptimizerSet
from ..nn.precision import autocast
from .config import TrainConfig

log = logging.getLogger("untwine.train")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def simultaneous_update(losses: dict[str, torch.Tensor], optimizers: OptimizerSet) -> None:
    """The update rule of every method: each optimiser named in ``losses`` gets the gradient of its
    own loss with respect to its own parameters, all taken at the same parameter values; then all
    of them step.

    The graph shared by the losses is kept until the last gradient; a parameter its loss does not
    reach gets no gradient (``grad`` None, so Adam leaves it and its state alone).
    """
    names = list(losses)
    for name in names:
        if name not in optimizers:
            raise ConfigError(f"a loss for unknown optimiser {name!r}; declared: {', '.join(optimizers)}")
    for i, name in enumerate(names):
        params = optimizers.params(name)
        grads = torch.autograd.grad(losses[name], params, retain_graph=i < len(names) - 1, allow_unused=True)
        for p, g in zip(params, grads):
            p.grad = g
    for name in names:
        optimizers[name].step()


class LogState:
    """Running sums of the logged terms over the current logging interval, and a throughput clock."""

    def __init__(self, sums: dict[str, Any] | None = None, count: int = 0):
        self.sums: dict[str, Any] = dict(sums or {})
        self.count = int(count)
        self.images = 0  # images since ``since`` (not checkpointed: throughput is wall-clock)
        self.since = time.perf_counter()

    def add(self, logs: dict[str, Any]) -> None:
        """Add one phase's logged terms."""
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + (v.detach() if isinstance(v, torch.Tensor) else v)

    def end_step(self, images: int) -> None:
        """Count a completed step of ``images`` images."""
        self.count += 1
        self.images += images

    def row(self, step: int) -> dict[str, float]:
        """Mean of every term over the interval, and images per second since the interval began."""
        elapsed = max(time.perf_counter() - self.since, 1e-9)
        row = {"step": step, **{k: float(v) / self.count for k, v in self.sums.items()}}
        row["images_per_second"] = self.images / elapsed
        return row

    def reset(self) -> None:
        """Start a new logging interval."""
        self.sums, self.count, self.images, self.since = {}, 0, 0, time.perf_counter()

    def state_dict(self) -> dict[str, Any]:
        return {"log_sums": {k: float(v) for k, v in self.sums.items()}, "log_count": self.count}


class TrainingLoop:
    """The state one training step changes, and the step itself.

    Built before the run directory exists, so that a bad option of a method, stream, optimiser or
    event fails without leaving anything behind.
    """

    def __init__(self, config: TrainConfig, method: Method, dataset: GroundTruthDataset, device: torch.device):
        self.config, self.method, self.dataset, self.device = config, method, dataset, device
        self.optimizers = OptimizerSet(method)
        try:
            self.streams = Streams(method.streams(), dataset, config.batch_size, seed=config.seed + 1, device=device)
        except (ValueError, KeyError) as e:
            raise ConfigError(f"{method.name}: {e}") from None
        self.events = _checked_events(method.events(), method.name)
        torch.manual_seed(config.seed + 2)  # reparameterisation / permutation noise stream
        self.log = LogState()
        self.step = 0
        self._start: dict[str, Any] | None = None  # generator states at the start of the running step
        self._changed = False  # the running step has changed the method or its optimisers

    # ---- one step ------------------------------------------------------------------------
    def advance(self, check: Callable[[dict[str, torch.Tensor], int], None]) -> None:
        """Run step ``self.step + 1``: the event due now, one batch per stream, every phase."""
        self._start, self._changed = self._generator_states(), False
        if self.step in self.events:
            self._changed = True
            self.events[self.step](EventContext(self.step, self.dataset, self.streams, self.optimizers, self.device))
        batch = self.streams.draw(self.step)
        if self.config.channels_last:
            batch = {s: {k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in b.items()}
                     for s, b in batch.items()}
        for phase in self.method.phases():
            with autocast(self.config.precision, self.device):  # forward pass only; nn.precision
                out = phase(batch, self.step)
            if self.config.precision != "fp32":  # a method's loss left in bf16 starts its backward in fp32
                out.losses = {k: v.float() for k, v in out.losses.items()}
            check(out.losses, self.step)
            self._changed = True
            simultaneous_update(out.losses, self.optimizers)
            self.log.add(out.logs)
        self.optimizers.step_schedules()
        self.log.end_step(count_images(batch))
        self.step += 1
        self._start = None
        self._changed = False

    # ---- checkpoint state ----------------------------------------------------------------
    def _generator_states(self) -> dict[str, Any]:
        return {
            "samplers": self.streams.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint of the last completed step (tensors and plain values only)."""
        optimizers = self.optimizers.state_dict()
        state = {
            "step": self.step,
            "model": self.method.state_dict(),
            "optimizers": optimizers["optimizers"],
            **({"schedules": optimizers["schedules"]} if optimizers["schedules"] else {}),
            **self._generator_states(),
            "config": self.config.to_dict(),
            **self.log.state_dict(),
            "untwine_checkpoint": 1,
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`state_dict`."""
        self.step = int(state["step"])
        self.method.load_state_dict(state["model"])
        self.optimizers.load_state_dict({"optimizers": state["optimizers"], "schedules": state.get("schedules", {})})
        samplers = state["samplers"] if "samplers" in state else {next(iter(self.streams)): state["sampler"]}
        self.streams.load_state_dict(samplers)
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.log = LogState(state.get("log_sums", {}), state.get("log_count", 0))

    def interrupted_state(self) -> dict[str, Any] | None:
        """The state after the last completed step when an interrupt stopped the running one, or
        None when that step had already changed the method or an optimiser (then the last
        checkpoint is the one to keep)."""
        if self._changed:
            return None
        if self._start is not None:  # stopped before it changed anything: rewind its draws
            self.streams.load_state_dict(self._start["samplers"])
            torch.set_rng_state(self._start["torch_rng"])
            if self._start["cuda_rng"] is not None:
                torch.cuda.set_rng_state(self._start["cuda_rng"], self.device)
            self._start = None
        return self.state_dict()


def _checked_events(events: dict[int, Callable[[EventContext], None]], name: str) -> dict[int, Callable]:
    for step, fn in events.items():
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ConfigError(f"{name}: event steps must be integers >= 0, got {step!r}")
        if not callable(fn):
            raise ConfigError(f"{name}: the event at step {step} is not callable")
    return dict(events)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, a first Ctrl-C (SIGINT) only sets a flag, read by the yielded callable, so the
    running step can finish and be saved; a second one raises ``KeyboardInterrupt`` at once.
    Outside the main thread, or under a handler someone else installed, Ctrl-C is left alone."""
    requested = [False]

    def handler(signum, frame):  # noqa: ARG001
        if requested[0]:
            raise KeyboardInterrupt
        requested[0] = True
        log.warning("interrupt: finishing the current step and saving it; press Ctrl-C again to stop at once")

    previous = None
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: requested[0]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
