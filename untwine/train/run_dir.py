"""The run directory: the one place that knows its layout and reads and writes its files.

A run directory holds::

    config.yaml            the TrainConfig (written atomically; rewritten only when --steps grows)
    checkpoints/last.pt    model, optimisers, sampler and RNG states and the config at the last saved step
    logs/scalars.jsonl     one line of mean loss terms per ``log_every`` steps
    logs/tensorboard/      the same scalars for TensorBoard
    metrics.json           scores merged by ``untwine evaluate`` (under a file lock)
    report.html            written by ``untwine report``

Checkpoints load with ``torch.load(weights_only=True)``: a file that would run code is refused.
Every file is written atomically (:func:`untwine.io.atomic_write`); temporary files left by a
killed writer are removed when the run is next opened.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch

from ..io import OS_ERROR_FIXES, atomic_write, atomic_write_json, atomic_write_text, remove_orphaned_temp_files
from ..methods import ConfigError
from .config import TrainConfig
from .device import resolve_device

if TYPE_CHECKING:  # pragma: no cover
    from ..data import GroundTruthDataset
    from .trainer import RunResult

try:  # file locks are POSIX; elsewhere merges are not guarded against concurrent writers
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

CONFIG = Path("config.yaml")
CHECKPOINT = Path("checkpoints") / "last.pt"
SCALARS = Path("logs") / "scalars.jsonl"
TENSORBOARD = Path("logs") / "tensorboard"
METRICS = Path("metrics.json")
REPORT = Path("report.html")

CHECKPOINT_MARK = "untwine_checkpoint"  # key with the format version, 1
_REQUIRED = {"step": int, "model": dict, "config": dict}
_FRESH_ENTRIES = {"config.yaml", "logs", "checkpoints"}  # what a failed start may leave behind


class RunDirError(ValueError):
    """The run directory cannot be used as asked (exists already, missing or corrupt checkpoint, other settings)."""


class RunDirWriteError(OSError, RunDirError):
    """A file of the run could not be written (full disk, read-only file system, no permission).

    Keeps ``errno`` and ``filename``; its message names the path and what to do.
    """

    def __str__(self) -> str:
        return str(self.strerror)




@contextlib.contextmanager
def _writing(path: Path, what: str, note: str = "") -> Iterator[None]:
    """Turn an OSError while writing ``what`` into one line that names ``path`` and the fix (and ``note``)."""
    try:
        yield
    except RunDirWriteError:
        raise
    except OSError as e:
        hint = OS_ERROR_FIXES.get(e.errno or 0)
        reason = e.strerror or str(e) or type(e).__name__
        where = e.filename if isinstance(e, (NotADirectoryError, FileExistsError)) and e.filename else path
        text = f"cannot write {what} {where}: " + (f"{hint} ({reason})" if hint else reason) + (f"; {note}" if note else "")
        raise RunDirWriteError(e.errno, text, str(where)) from None


def _plain(value: Any, where: str) -> Any:
    """``value`` as what ``torch.load(weights_only=True)`` accepts; numpy scalars become Python numbers."""
    if isinstance(value, (torch.Tensor, str, bool, int, float, type(None), torch.dtype, torch.device)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        out: dict[Any, Any] = OrderedDict() if isinstance(value, OrderedDict) else {}
        for k, v in value.items():
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else (torch.Size(items) if isinstance(value, torch.Size) else tuple(items))
    raise TypeError(
        f"checkpoint entry {where} is a {type(value).__name__}; a checkpoint holds only tensors, dicts, lists, "
        "tuples, str, int, float, bool and None (so that it loads with torch.load(weights_only=True))"
    )


def _canonical(values: dict[str, Any]) -> dict[str, Any]:
    """A config dict with defaults filled in (when it still validates), tuples as lists."""
    values = dict(values)
    values.setdefault("precision", "fp32")  # runs from before the precision option trained in fp32
    try:
        values = TrainConfig.from_dict(values).to_dict()
    except (ConfigError, TypeError, ValueError):
        pass
    return json.loads(json.dumps(values, default=str))


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_differences(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ("steps",)) -> list[tuple[str, Any, Any]]:
    """The fields (dotted, e.g. ``hparams.beta``) where two config dicts differ: (name, a's value, b's value)."""
    fa, fb = _flat(_canonical(a)), _flat(_canonical(b))
    missing = object()
    diff = []
    for key in sorted(set(fa) | set(fb)):
        if key in ignore:
            continue
        va, vb = fa.get(key, missing), fb.get(key, missing)
        if va != vb:
            diff.append((key, None if va is missing else va, None if vb is missing else vb))
    return diff


def _describe(diff: list[tuple[str, Any, Any]], a: str, b: str) -> str:
    shown = [f"{k} ({va!r} {a}, {vb!r} {b})" for k, va, vb in diff[:6]]
    more = f" and {len(diff) - 6} more" if len(diff) > 6 else ""
    return ", ".join(shown) + more


class RunDir:
    """One run directory: its paths and every read and write of its files.

    Args:
        path: the directory (need not exist yet; :meth:`prepare` creates it).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ---- paths -------------------------------------------------------------------------------
    @property
    def config(self) -> Path:
        """``config.yaml``."""
        return self.path / CONFIG

    @property
    def checkpoint(self) -> Path:
        """``checkpoints/last.pt``."""
        return self.path / CHECKPOINT

    @property
    def scalars(self) -> Path:
        """``logs/scalars.jsonl`` (the trainer appends one JSON row per logging interval)."""
        return self.path / SCALARS

    @property
    def tensorboard(self) -> Path:
        """``logs/tensorboard/``."""
        return self.path / TENSORBOARD

    @property
    def metrics(self) -> Path:
        """``metrics.json``."""
        return self.path / METRICS

    @property
    def metrics_lock(self) -> Path:
        """The lock file that serialises merges into metrics.json."""
        return self.path / f".{METRICS.name}.lock"

    @property
    def report(self) -> Path:
        """``report.html``."""
        return self.path / REPORT

    # ---- config --------------------------------------------------------------------------------
    def write_config(self, config: TrainConfig) -> None:
        """Write config.yaml atomically."""
        with _writing(self.config, "the run configuration"):
            atomic_write_text(self.config, config.to_yaml())

    def read_config(self) -> TrainConfig:
        """The run's config.yaml as a validated TrainConfig."""
        if not self.config.is_file():
            raise RunDirError(
                f"{self.path} is not an untwine run directory (no config.yaml); pass the --out of `untwine train`"
            )
        return TrainConfig.from_yaml(self.config)

    # ---- checkpoint ----------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write ``state`` to checkpoints/last.pt atomically (the previous checkpoint survives any failure).

        ``state`` holds only what ``torch.load(weights_only=True)`` reads back (numpy scalars are
        converted; anything else is a TypeError naming the entry); the format mark is added.
        """
        state = _plain({**state, CHECKPOINT_MARK: 1}, "state")
        buffer = io.BytesIO()
        torch.save(state, buffer)  # serialise first: a full disk then fails in write() with its errno
        data = buffer.getbuffer()
        note = ("the previous checkpoint is intact: continue with --resume once this is fixed" if self.checkpoint.is_file()
                else "no checkpoint of this run was saved yet")
        with _writing(self.checkpoint, "the checkpoint", note):
            atomic_write(self.checkpoint, lambda fh: fh.write(data))

    def load_checkpoint(self, device: str | torch.device = "cpu") -> dict[str, Any]:
        """Read checkpoints/last.pt onto ``device`` (weights only: never runs code from the file).

        Raises:
            DeviceUnavailable: ``device`` does not exist here (checked before the file is read).
            RunDirError: no checkpoint; a file that is corrupt, refused (it holds objects a
                checkpoint never holds) or not an untwine checkpoint.
            OSError: the file cannot be read (permissions, I/O error), with its path.
        """
        device = resolve_device(device)
        path = self.checkpoint
        if not path.is_file():
            raise RunDirError(
                f"no checkpoint at {path}; the run never saved one. Start it again without --resume "
                f"(a run directory without a checkpoint starts afresh), or choose another --out"
            )
        try:
            with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says it all
                warnings.simplefilter("ignore")
                state = torch.load(path, map_location=device, weights_only=True)
        except OSError:
            raise
        except pickle.UnpicklingError as e:
            code = re.search(r"GLOBAL (\S+)", str(e))
            if code:
                raise RunDirError(
                    f"checkpoint {path} is not an untwine checkpoint: it would call {code.group(1)} (loading it could "
                    "run code), so it was refused; restore the run's own checkpoint from a backup or start the run "
                    "again in a new --out"
                ) from None
            raise RunDirError(self._corrupt("not a torch checkpoint file or damaged")) from None
        except Exception as e:  # noqa: BLE001 - any other failure to unpickle means a damaged file
            reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
            raise RunDirError(self._corrupt(type(e).__name__ + (f": {reason}" if reason else ""))) from None
        missing = [k for k, kind in _REQUIRED.items() if not isinstance(state, dict) or not isinstance(state.get(k), kind)]
        if not isinstance(state, dict) or CHECKPOINT_MARK not in state or missing:
            what = f"a {type(state).__name__}" if not isinstance(state, dict) else "a dict without " + ", ".join(
                missing or [CHECKPOINT_MARK])
            raise RunDirError(
                f"{path} is not an untwine checkpoint (a readable torch file, but {what}); "
                "restore the run's own checkpoint from a backup or start the run again in a new --out"
            )
        return state

    def _corrupt(self, reason: str) -> str:
        return (f"checkpoint {self.checkpoint} is corrupt or not an untwine checkpoint ({reason}); "
                "restore it from a backup or start the run again in a new --out")

    def last_step(self) -> int | None:
        """The step of the saved checkpoint (not of the logs), or None when there is none."""
        if not self.checkpoint.is_file():
            return None
        return int(self.load_checkpoint("cpu")["step"])

    def check_config(self, config: TrainConfig | dict[str, Any], state: dict[str, Any], source: str = "requested",
                     action: str = "cannot resume") -> None:
        """Refuse ``config`` when it differs from the checkpoint's configuration in anything but ``steps``
        and ``device`` (a run trained on a GPU may continue on the CPU and back); a requested
        ``precision`` of ``auto`` accepts the precision the run resolved it to when it started.

        ``source`` is ``"requested"`` (settings passed in) or ``"config.yaml"`` (the file of the run);
        ``action`` starts the message (e.g. ``"cannot load"``). Raises RunDirError naming the fields.
        """
        mine = config.to_dict() if isinstance(config, TrainConfig) else dict(config)
        ignore = ("steps", "device") + (("precision",) if mine.get("precision") == "auto" else ())
        diff = config_differences(mine, state["config"], ignore=ignore)  # 'auto' accepts the run's own choice
        if not diff:
            return
        if source == "config.yaml":
            what, label, fix = "its config.yaml differs", "in config.yaml", "put back the run's own config.yaml"
        else:
            what, label, fix = ("the requested settings differ", "requested",
                                "use the run's own settings (only --steps may grow and --device change)")
        raise RunDirError(
            f"{action} {self.path}: {what} from its checkpoint in {_describe(diff, label, 'in the checkpoint')}; "
            f"{fix} or start a new run in another --out"
        )

    # ---- history -----------------------------------------------------------------------------
    def read_history(self, up_to_step: int | None = None) -> list[dict[str, float]]:
        """The logged rows (a torn last line after a kill is dropped), optionally up to a step."""
        if not self.scalars.is_file():
            return []
        rows = []
        for line in self.scalars.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and (up_to_step is None or row.get("step", 0) <= up_to_step):
                rows.append(row)
        return rows

    def rewrite_history(self, rows: list[dict[str, float]]) -> None:
        """Replace logs/scalars.jsonl with ``rows`` atomically."""
        with _writing(self.scalars, "the training log"):
            atomic_write_text(self.scalars, "".join(json.dumps(r) + "\n" for r in rows))

    # ---- metrics -----------------------------------------------------------------------------
    def read_metrics(self) -> dict[str, Any] | None:
        """metrics.json, or None when the run was never evaluated."""
        path = self.metrics
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(
                f"{path} is not valid JSON ({e}); delete it and run `untwine evaluate` again "
                "(or restore it from a backup)"
            ) from None
        if not isinstance(data, dict):
            raise RunDirError(f"{path} must hold a JSON object, got {type(data).__name__}; delete it and evaluate again")
        return data

    def merge_metrics(self, scores: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Merge ``scores`` and ``meta`` into metrics.json under an exclusive file lock; returns the result.

        The file is re-read inside the lock, so concurrent evaluations of one run keep each
        other's scores. Top-level keys are replaced; a dict in ``meta`` (e.g. the per-metric
        ``evaluations``) is merged one level deep.
        """
        with _writing(self.metrics, "the metrics"):
            self.path.mkdir(parents=True, exist_ok=True)
            with open(self.metrics_lock, "a") as lock:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    merged = self.read_metrics() or {}
                    merged.update(scores)
                    for key, value in (meta or {}).items():
                        old = merged.get(key)
                        merged[key] = {**old, **value} if isinstance(value, dict) and isinstance(old, dict) and key != "environment" else value
                    atomic_write_json(self.metrics, merged)
                finally:
                    if fcntl is not None:
                        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return merged

    def save_report(self, html: str) -> Path:
        """Write report.html atomically; returns its path."""
        with _writing(self.report, "the report"):
            return atomic_write_text(self.report, html)

    # ---- lifecycle -----------------------------------------------------------------------------
    def remove_orphans(self) -> list[Path]:
        """Remove temporary files left by killed writers (e.g. ``checkpoints/.last.pt.*.tmp``); returns them."""
        removed: list[Path] = []
        for d in (self.path, self.checkpoint.parent, self.scalars.parent):
            try:
                removed += remove_orphaned_temp_files(d)
            except OSError:  # a read-only directory: nothing to clean, reading still works
                pass
        return removed

    def is_failed_start(self) -> bool:
        """True when the directory holds a config.yaml but no checkpoint and no metrics (a start that failed)."""
        if not self.config.is_file() or self.checkpoint.exists() or self.metrics.exists():
            return False
        names = {p.name for p in self.path.iterdir() if not p.name.startswith(".")}
        if not names <= _FRESH_ENTRIES:
            return False
        try:  # an untwine config (prepare writes only validated ones), not somebody else's file
            TrainConfig.from_yaml(self.config)
        except (ConfigError, TypeError, ValueError):
            return False
        return True

    def prepare(self, config: TrainConfig, resume: bool) -> TrainConfig:
        """Make the directory ready for training ``config``; the only place a run directory is created.

        Call it only after everything else was validated (dataset, method, device), so that a
        failed command leaves nothing behind. A new run needs a missing or empty directory, or
        one holding only a failed start (a config.yaml but no checkpoint and no metrics.json):
        that is started afresh without ``--resume``, its old logs removed. Resuming needs
        config.yaml and a checkpoint whose configuration equals ``config`` and config.yaml in
        everything but ``steps``, which may not be below the checkpoint's step; config.yaml is
        rewritten when ``steps`` changed. Orphaned temporary files are removed.

        Returns:
            ``config``.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} is a file, not a directory; choose another --out")
        if resume:
            return self._prepare_resume(config)
        if self.path.is_dir() and any(self.path.iterdir()):
            if not self.is_failed_start():
                raise RunDirError(
                    f"run directory {self.path} already exists and is not empty; pass --resume to continue it, "
                    "or choose another --out"
                )
            with _writing(self.path, "the run directory"):
                for stale in (self.scalars, self.metrics_lock):
                    stale.unlink(missing_ok=True)
                shutil.rmtree(self.tensorboard, ignore_errors=True)
        self.remove_orphans()
        with _writing(self.path, "the run directory"):
            self.path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        return config

    def _prepare_resume(self, config: TrainConfig) -> TrainConfig:
        if not self.config.is_file():
            raise RunDirError(f"cannot resume: {self.config} does not exist; is {self.path} an untwine run directory?")
        self.remove_orphans()
        saved = TrainConfig.from_yaml(self.config)
        state = self.load_checkpoint("cpu")
        self.check_config(saved, state, "config.yaml")
        self.check_config(config, state, "requested")
        step = int(state["step"])
        if config.steps < step:
            raise RunDirError(
                f"cannot resume {self.path} with steps={config.steps}: its checkpoint is already at step {step}; "
                f"pass --steps {step} or more (the run is not shortened)"
            )
        if config.steps != saved.steps or config.device != saved.device:
            self.write_config(config)
        return config


def load_run(run_dir: str | os.PathLike, device: str = "cpu", dataset: GroundTruthDataset | None = None) -> RunResult:
    """Rebuild a trained method and its dataset from a run directory (config.yaml + last checkpoint).

    The result's ``step`` is the checkpoint's step and its ``history`` stops there. A config.yaml
    that disagrees with the checkpoint (in anything but ``steps``) is refused.
    """
    from .trainer import RunResult, build_run

    rd = RunDir(run_dir)
    dev = resolve_device(device)
    config = rd.read_config()
    state = rd.load_checkpoint(dev)
    rd.check_config(config, state, "config.yaml", "cannot load")
    rd.remove_orphans()
    method, dataset = build_run(config, dataset)
    try:
        method.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise RunDirError(
            f"checkpoint {rd.checkpoint} does not fit the {config.method} model of {rd.config} ({first}); "
            "it was written by another version or another run"
        ) from None
    method.to(dev).eval()
    step = int(state["step"])
    return RunResult(rd.path, method, dataset, config, rd.read_history(up_to_step=step), step=step)
