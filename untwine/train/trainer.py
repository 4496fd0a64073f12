"""The training loop: any registered method, any dataset, seeded, resumable, crash-safe.

The run directory's layout and files belong to :mod:`untwine.train.run_dir`.

Batches are drawn by index from in-memory uint8 tensors by the sampler the method's
``batch_kind`` names; each optimiser gets the gradient of its own loss with respect to its own
parameters, all taken at the same parameter values, then every optimiser steps.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..data import GroundTruthDataset, get_dataset, make_sampler
from ..methods import ConfigError, Method
from .config import TrainConfig
from .device import resolve_device
from .run_dir import CHECKPOINT, SCALARS, RunDir, RunDirError, load_run

log = logging.getLogger("untwine.train")

__all__ = ["RunDirError", "RunResult", "TrainingDiverged", "build_run", "load_checkpoint", "load_run", "resolve_device", "train"]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def build_run(config: TrainConfig, dataset: GroundTruthDataset | None = None) -> tuple[Method, GroundTruthDataset]:
    """The method (seeded initialisation) and the dataset of ``config``."""
    from ..methods import get_method_class

    if dataset is None:
        dataset = get_dataset(config.dataset, **config.dataset_options)
    torch.manual_seed(config.seed)
    cls = get_method_class(config.method)
    method = cls(config.method_hparams(), dataset.image_shape)
    if config.channels_last:  # same values; on CPU conv training ~1.1x and encoding ~2x faster
        method.to(memory_format=torch.channels_last)
    method.bind_dataset(dataset)
    return method, dataset


@dataclass
class RunResult:
    """What :func:`train` returns."""

    run_dir: Path
    method: Method
    dataset: GroundTruthDataset
    config: TrainConfig
    history: list[dict[str, float]] = field(default_factory=list)
    images_per_second: float = float("nan")
    step: int | None = None  # the step of the model's weights (set by train and load_run)


# thin wrappers over RunDir, kept by name for the loop (the integrator may call RunDir directly)
def _read_history(path: Path, up_to_step: int | None = None) -> list[dict[str, float]]:
    return RunDir(Path(path).parent.parent).read_history(up_to_step)


def load_checkpoint(run_dir: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read the checkpoint of ``run_dir`` (weights only), with a clear error when missing or unreadable."""
    return RunDir(run_dir).load_checkpoint(map_location)


def _save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    RunDir(run_dir).save_checkpoint(state)


def _prepare_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> TrainConfig:
    return RunDir(run_dir).prepare(config, resume)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    dataset: GroundTruthDataset | None = None,
    on_log: Callable[[dict[str, float]], None] | None = None,
) -> RunResult:
    """Train ``config.method`` on ``config.dataset`` into ``run_dir``.

    Args:
        config: the run's settings.
        run_dir: output directory; new, empty or a failed start (a config.yaml, no checkpoint)
            unless ``resume`` (see :meth:`RunDir.prepare`).
        resume: continue from ``run_dir/checkpoints/last.pt`` exactly where it stopped (the same
            batches, noise and parameters as an uninterrupted run).
        progress: show a progress bar.
        dataset: an already built dataset to reuse (must match ``config.dataset``).
        on_log: called with each logged row.

    Raises:
        RunDirError: run directory in use, or missing/corrupt checkpoint on resume.
        TrainingDiverged: a loss became NaN/inf (the last checkpoint is kept).
    """
    run_dir = Path(run_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    method, dataset = build_run(config, dataset)
    method.to(device)
    dataset = dataset.to(device) if device.type == "cuda" else dataset
    specs = method.optimizers()
    _check_disjoint(specs)
    optimizers = {name: spec.build() for name, spec in specs.items()}
    sampler = make_sampler(
        method.batch_kind, dataset, config.batch_size, seed=config.seed + 1, device=device, **method.sampler_options()
    )
    torch.manual_seed(config.seed + 2)  # reparameterisation / permutation noise stream
    config = _prepare_run_dir(run_dir, config, resume)  # only after dataset, method and device are valid

    start = 0
    if resume:
        state = load_checkpoint(run_dir, map_location=device)
        start = int(state["step"])
        method.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
    history = _read_history(run_dir / SCALARS, up_to_step=start)
    # a row written at the end of an interrupted/shorter run covers a partial logging interval:
    # drop it and restore the running sums so the resumed log equals an uninterrupted one
    history = [r for r in history if r["step"] % config.log_every == 0 or r["step"] < start]
    RunDir(run_dir).rewrite_history(history)

    def checkpoint(step: int) -> None:
        _save_checkpoint(
            run_dir,
            {
                "step": step,
                "model": method.state_dict(),
                "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
                "sampler": sampler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "config": config.to_dict(),
                "log_sums": {k: float(v) for k, v in sums.items()},
                "log_count": count,
                "untwine_checkpoint": 1,
            },
        )

    writer = _tensorboard(run_dir, purge_step=start)
    bar = _progress(progress, start, config.steps)
    params = {name: spec.params for name, spec in specs.items()}
    sums: dict[str, Any] = dict(state.get("log_sums", {})) if resume else {}
    count = int(state.get("log_count", 0)) if resume else 0
    t_last = t_start = time.perf_counter()
    images_seen = 0
    step = start
    method.train()
    try:
        with open(run_dir / SCALARS, "a") as scalars:
            while step < config.steps:
                batch = next(sampler)
                if config.channels_last:
                    batch = {k: v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in batch.items()}
                for phase in method.phases():
                    out = phase(batch, step)
                    _check_finite(out.losses, step, run_dir)
                    names = list(out.losses)
                    for i, name in enumerate(names):
                        if name not in optimizers:
                            raise ConfigError(f"{method.name} returned a loss for unknown optimiser {name!r}")
                        grads = torch.autograd.grad(
                            out.losses[name], params[name], retain_graph=i < len(names) - 1, allow_unused=True
                        )
                        for p, g in zip(params[name], grads):
                            p.grad = g
                    for name in names:
                        optimizers[name].step()
                    for k, v in out.logs.items():
                        sums[k] = sums.get(k, 0.0) + (v.detach() if isinstance(v, torch.Tensor) else v)
                step += 1
                count += 1
                images_seen += int(batch["x"].shape[0]) if "x" in batch else config.batch_size
                if step % config.log_every == 0 or step == config.steps:
                    now = time.perf_counter()
                    row = {"step": step, **{k: float(v) / count for k, v in sums.items()}}
                    row["images_per_second"] = count * config.batch_size / max(now - t_last, 1e-9)
                    scalars.write(json.dumps(row) + "\n")
                    scalars.flush()
                    history.append(row)
                    if writer is not None:
                        for k, v in row.items():
                            if k != "step":
                                writer.add_scalar(k, v, step)
                    if bar is not None:
                        bar.set_postfix({k: f"{row[k]:.4g}" for k in list(row)[1:4]})
                    if on_log is not None:
                        on_log(row)
                    if step % config.log_every == 0:  # a partial final interval stays in the checkpoint
                        sums, count, t_last = {}, 0, now
                if bar is not None:
                    bar.update(1)
                if step % config.checkpoint_every == 0 or step == config.steps:
                    checkpoint(step)
    except KeyboardInterrupt:
        checkpoint(step)
        log.warning("interrupted at step %d; checkpoint saved, continue with --resume", step)
        raise
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    method.eval()
    elapsed = time.perf_counter() - t_start
    ips = images_seen / elapsed if elapsed > 0 and images_seen else float("nan")
    return RunResult(run_dir, method, dataset, config, history, ips, step=step)


def _check_disjoint(specs: dict[str, Any]) -> None:
    seen: dict[int, str] = {}
    for name, spec in specs.items():
        for p in spec.params:
            if id(p) in seen:
                raise ConfigError(f"parameter shared by optimisers {seen[id(p)]!r} and {name!r}; they must be disjoint")
            seen[id(p)] = name


def _check_finite(losses: dict[str, torch.Tensor], step: int, run_dir: Path) -> None:
    for name, loss in losses.items():
        if not bool(torch.isfinite(loss)):
            raise TrainingDiverged(
                f"the {name!r} loss became {float(loss.detach())} at step {step}. Try a lower learning rate (--lr), "
                f"a smaller beta/gamma, or check the data; the last checkpoint in {run_dir / CHECKPOINT} is intact"
            )


def _tensorboard(run_dir: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        return None
    return SummaryWriter(str(RunDir(run_dir).tensorboard), purge_step=purge_step or None)


def _progress(enabled: bool, start: int, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    import sys

    # redraw at most once a second when the output is a log file rather than a terminal
    interval = 0.1 if sys.stderr.isatty() else 1.0
    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, leave=True, mininterval=interval)
