"""Training: the loop, the run directory (checkpoints, resume, logs, metrics), evaluation of a run."""

from .config import TrainConfig
from .device import DeviceUnavailable, resolve_device
from .evaluation import evaluate_run
from .run_dir import RunDir, RunDirError, RunDirWriteError, load_run
from .trainer import RunResult, TrainingDiverged, build_run, load_checkpoint, train

__all__ = ["DeviceUnavailable", "RunDir", "RunDirError", "RunDirWriteError", "RunResult", "TrainConfig",
           "TrainingDiverged", "build_run", "evaluate_run", "load_checkpoint", "load_run", "resolve_device", "train"]
