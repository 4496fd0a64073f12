"""The training loop: any registered method, any dataset, seeded, resumable, crash-safe.

A run directory holds::

    config.yaml            the TrainConfig (written once, atomically)
    checkpoints/last.pt    model, optimisers, sampler and RNG states at the last saved step
    logs/scalars.jsonl     one line of mean loss terms per ``log_every`` steps
    logs/tensorboard/      the same scalars for TensorBoard
    metrics.json           written by ``untwine evaluate``

Batches are drawn by index from in-memory uint8 tensors by the samplers of the method's streams;
the step and its update rule are in :mod:`untwine.train.loop`.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..data import GroundTruthDataset, get_dataset
from ..io import atomic_write, atomic_write_text
from ..methods import ConfigError, Method
from ..methods.base import DataFacts
from .config import TrainConfig
from .loop import TrainingDiverged, TrainingLoop, deferred_interrupt

log = logging.getLogger("untwine.train")

CHECKPOINT = Path("checkpoints") / "last.pt"
SCALARS = Path("logs") / "scalars.jsonl"


class RunDirError(ValueError):
    """The run directory cannot be used as asked (exists already, missing or corrupt checkpoint)."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; asking for cuda without one is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    return torch.device(name)


def build_run(config: TrainConfig, dataset: GroundTruthDataset | None = None) -> tuple[Method, GroundTruthDataset]:
    """The method (seeded initialisation) and the dataset of ``config``."""
    from ..methods import get_method_class

    if dataset is None:
        dataset = get_dataset(config.dataset, **config.dataset_options)
    torch.manual_seed(config.seed)
    cls = get_method_class(config.method)
    method = cls(config.method_hparams(), DataFacts.of(dataset))
    if config.channels_last:  # same values; on CPU conv training ~1.1x and encoding ~2x faster
        method.to(memory_format=torch.channels_last)
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


def _read_history(path: Path, up_to_step: int | None = None) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a torn last line after a kill: drop it
            continue
        if up_to_step is None or row.get("step", 0) <= up_to_step:
            rows.append(row)
    return rows


def load_checkpoint(run_dir: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read ``checkpoints/last.pt`` with a clear error when it is missing or unreadable."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise RunDirError(
            f"no checkpoint at {path}; the run never saved one. Start it again without --resume "
            f"(use a new --out, or delete {run_dir})"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a damaged file
        raise RunDirError(
            f"checkpoint {path} is corrupt or not an untwine checkpoint ({type(e).__name__}: {e}); "
            f"restore it from a backup or start the run again in a new --out"
        ) from None


def _save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    def write(fh: io.BufferedWriter) -> None:
        torch.save(state, fh)

    atomic_write(run_dir / CHECKPOINT, write)


def _prepare_run_dir(run_dir: Path, config: TrainConfig, resume: bool) -> TrainConfig:
    cfg_path = run_dir / "config.yaml"
    if resume:
        if not cfg_path.is_file():
            raise RunDirError(f"cannot resume: {cfg_path} does not exist; is {run_dir} an untwine run directory?")
        saved = TrainConfig.from_yaml(cfg_path)
        mine, theirs = config.to_dict(), saved.to_dict()
        mine.pop("steps"), theirs.pop("steps")
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise RunDirError(
                f"cannot resume {run_dir}: its config.yaml differs in {', '.join(diff)}; "
                "resume with the same settings (only --steps may change) or start a new run"
            )
        if config.steps != saved.steps:
            atomic_write_text(cfg_path, config.to_yaml())
        return config
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(
            f"run directory {run_dir} already exists and is not empty; pass --resume to continue it, "
            "or choose another --out"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, config.to_yaml())
    return config


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
        run_dir: output directory; must be new or empty unless ``resume``.
        resume: continue from ``run_dir/checkpoints/last.pt`` exactly where it stopped (the same
            batches, noise and parameters as an uninterrupted run).
        progress: show a progress bar.
        dataset: an already built dataset to reuse (must match ``config.dataset``).
        on_log: called with each logged row.

    Raises:
        RunDirError: run directory in use, or missing/corrupt checkpoint on resume.
        TrainingDiverged: a loss became NaN/inf (the last checkpoint is kept).
        KeyboardInterrupt: after saving the state of the last completed step.
    """
    run_dir = Path(run_dir)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    method, dataset = build_run(config, dataset)
    method.to(device)
    dataset = dataset.to(device) if device.type == "cuda" else dataset
    loop = TrainingLoop(config, method, dataset, device)  # everything validated: now the run directory
    config = _prepare_run_dir(run_dir, config, resume)
    if resume:
        loop.load_state_dict(load_checkpoint(run_dir, map_location=device))
    history = _restart_history(run_dir, loop.step, config.log_every)
    saved = [loop.step if resume else None]  # the step of the checkpoint on disk

    def save() -> None:
        if saved[0] != loop.step:
            _save_checkpoint(run_dir, loop.state_dict())
            saved[0] = loop.step

    def check(losses: dict[str, torch.Tensor], step: int) -> None:
        _check_finite(losses, step, run_dir, saved[0])

    writer = _tensorboard(run_dir, purge_step=loop.step)
    bar = _progress(progress, loop.step, config.steps)
    t_start, images_seen = time.perf_counter(), 0
    method.train()
    try:
        with deferred_interrupt() as interrupted, open(run_dir / SCALARS, "a") as scalars:
            while loop.step < config.steps:
                images_before = loop.log.images
                loop.advance(check)
                images_seen += loop.log.images - images_before
                step = loop.step
                if step % config.log_every == 0 or step == config.steps:
                    row = loop.log.row(step)
                    if step % config.log_every == 0:  # a partial final interval stays in the checkpoint
                        loop.log.reset()
                    _write_row(row, scalars, writer, bar, on_log)
                    history.append(row)
                if bar is not None:
                    bar.update(1)
                if step % config.checkpoint_every == 0 or step == config.steps:
                    save()
                if interrupted():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        state = loop.interrupted_state()
        if state is not None:
            if saved[0] != loop.step:
                _save_checkpoint(run_dir, state)
            log.warning("interrupted after step %d; checkpoint saved, continue with --resume", loop.step)
        else:
            log.warning("interrupted inside step %d; the checkpoint of step %s is kept, continue with --resume",
                        loop.step + 1, saved[0])
        raise
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    method.eval()
    elapsed = time.perf_counter() - t_start
    ips = images_seen / elapsed if elapsed > 0 and images_seen else float("nan")
    return RunResult(run_dir, method, dataset, config, history, ips)


def _restart_history(run_dir: Path, start: int, log_every: int) -> list[dict[str, float]]:
    """The logged rows up to ``start``, rewritten to the scalars file.

    A row written at the end of an interrupted or shorter run covers a partial logging interval:
    it is dropped (the checkpoint holds its running sums), so the resumed log equals an
    uninterrupted one.
    """
    history = _read_history(run_dir / SCALARS, up_to_step=start)
    history = [r for r in history if r["step"] % log_every == 0 or r["step"] < start]
    atomic_write_text(run_dir / SCALARS, "".join(json.dumps(r) + "\n" for r in history))
    return history


def _write_row(row: dict[str, float], scalars: Any, writer: Any, bar: Any,
               on_log: Callable[[dict[str, float]], None] | None) -> None:
    """One logged row to the scalars file, TensorBoard, the progress bar and ``on_log``."""
    scalars.write(json.dumps(row) + "\n")
    scalars.flush()
    if writer is not None:
        for k, v in row.items():
            if k != "step":
                writer.add_scalar(k, v, row["step"])
    if bar is not None:
        bar.set_postfix({k: f"{row[k]:.4g}" for k in list(row)[1:4]})
    if on_log is not None:
        on_log(row)


def _check_finite(losses: dict[str, torch.Tensor], step: int, run_dir: Path, saved_step: int | None) -> None:
    for name, loss in losses.items():
        if not bool(torch.isfinite(loss)):
            kept = (f"the checkpoint of step {saved_step} in {run_dir / CHECKPOINT} is intact" if saved_step is not None
                    else "no checkpoint was saved yet")
            raise TrainingDiverged(
                f"the {name!r} loss became {float(loss.detach())} at step {step}. Try a lower learning rate (--lr), "
                f"a smaller beta/gamma, or check the data; {kept}"
            )


def _tensorboard(run_dir: Path, purge_step: int):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is a dependency
        return None
    return SummaryWriter(str(run_dir / "logs" / "tensorboard"), purge_step=purge_step or None)


def _progress(enabled: bool, start: int, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    import sys

    # redraw at most once a second when the output is a log file rather than a terminal
    interval = 0.1 if sys.stderr.isatty() else 1.0
    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, leave=True, mininterval=interval)


def load_run(run_dir: str | Path, device: str = "cpu", dataset: GroundTruthDataset | None = None) -> RunResult:
    """Rebuild a trained method and its dataset from a run directory (config.yaml + last checkpoint)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise RunDirError(f"{run_dir} is not an untwine run directory (no config.yaml); pass the --out of `untwine train`")
    config = TrainConfig.from_yaml(cfg_path)
    state = load_checkpoint(run_dir, map_location=device)
    method, dataset = build_run(config, dataset)
    method.load_state_dict(state["model"])
    method.to(device).eval()
    return RunResult(run_dir, method, dataset, config, _read_history(run_dir / SCALARS))
