"""Training: the loop, checkpoints and resume, logging; runs any registered method."""

from .config import TrainConfig
from .trainer import RunDirError, RunResult, TrainingDiverged, build_run, load_checkpoint, load_run, train

__all__ = ["RunDirError", "RunResult", "TrainConfig", "TrainingDiverged", "build_run", "load_checkpoint", "load_run", "train"]
