"""``untwine study run``: train and score every trial of a study not yet done, locally or on Ray.

The coordinator (this process) validates the whole study first, adds its trials to the store,
then claims each trial just before it hands it to a worker (so two commands on one study split
the work and never run a trial twice), records every outcome as it arrives, and heartbeats the
trials in flight. A trial that raises or whose worker dies is recorded as failed with its error;
the others go on; the next ``study run`` retries only what is missing, failed or interrupted,
continuing interrupted trials from their checkpoints.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .spec import Study, StudyError, Trial
from .store import StudyStore, owner_name

HEARTBEAT_SECONDS = 15.0


@dataclass
class RunSummary:
    """What one ``study run`` did."""

    trials: int = 0
    already_done: int = 0
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # running elsewhere (another command)
    seconds: float = 0.0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def task_of(study: Study, trial: Trial) -> dict[str, Any]:
    """What a worker needs to run ``trial`` (plain data: it crosses process and machine boundaries)."""
    return {"id": trial.id, "label": trial.label, "config": trial.config,
            "run_dir": str((study.runs_dir / trial.id).resolve()), "metrics": study.metrics,
            "evaluation_seed": study.evaluation_seed, "analysis": study.analysis}


def run_study(
    study: Study,
    workers: int | None = None,
    ray_address: str | None = None,
    gpus_per_trial: float = 0.0,
    retries: int = 1,
    log: Callable[[str], None] | None = print,
    summary: bool = True,
    rescore: bool = False,
) -> RunSummary:
    """Run every trial of ``study`` that is not done (see the module docstring).

    ``workers``: local worker processes (default: the usable cores divided by the trials'
    threads, at most the number of trials to run). ``ray_address``: run on Ray instead ('auto',
    'local', HOST:PORT); connected to before anything is claimed, so an address that does not
    answer fails with nothing changed. ``summary``: call the study's ``analysis.summary`` at
    the end when every trial is done. ``rescore``: score the done trials again too (their runs
    are loaded, not retrained), e.g. after a metric was fixed.
    """
    say = log or (lambda _: None)
    t0 = time.perf_counter()
    trials = study.trials()
    threads = max(int(t.config.get("threads") or 1) for t in trials)
    if gpus_per_trial < 0:
        raise StudyError(f"--gpus-per-trial must be >= 0, got {gpus_per_trial}")
    if retries < 0:
        raise StudyError(f"--retries must be >= 0, got {retries}")
    if workers is not None and workers < 1:
        raise StudyError(f"--workers must be >= 1, got {workers}")
    if gpus_per_trial > 0:
        on_cpu = sorted({t.label for t in trials if t.config.get("device") == "cpu"})
        if ray_address is None:
            raise StudyError("--gpus-per-trial is a Ray resource; add --ray ADDRESS (locally, trials use the device "
                             "of their train.device setting)")
        if on_cpu:
            raise StudyError(f"--gpus-per-trial {gpus_per_trial:g}, but trials {', '.join(on_cpu[:3])} train on the CPU "
                             "(train.device: cpu); set `train: {device: cuda}` (or auto) in the study file")
    ray = None
    if ray_address is not None:
        from .ray_backend import connect

        ray = connect(ray_address)  # before any claim: a bad address changes nothing
    store = StudyStore(study.store_path)
    store.sync(trials, meta={"name": study.name, "profile": study.profile, "file": str(study.path)})
    key = study.evaluation_key()
    owner = owner_name()
    rows = {r["id"]: r for r in store.rows()}
    out = RunSummary(trials=len(trials))
    todo = []
    for t in trials:
        r = rows[t.id]
        if r["status"] == "done" and r["evaluation_key"] == key and not rescore:
            out.already_done += 1
        else:
            todo.append(t)
    say(f"study {study.name}" + (f" (profile {study.profile})" if study.profile else "")
        + f": {len(trials)} trials, {out.already_done} done, {len(todo)} to run -> {study.directory}")
    if not todo:
        _finish(study, out, t0, summary, say)
        return out
    queue = list(todo)
    running: dict[str, Trial] = {}
    last_beat = [time.monotonic()]

    def next_task() -> dict[str, Any] | None:
        while queue:
            t = queue.pop(0)
            if store.claim(t.id, owner, key, rescore):
                running[t.id] = t
                say(f"start  {t.label} seed {t.seed} ({t.id})" + _progress_of(study.runs_dir / t.id, t))
                return task_of(study, t)
            out.skipped.append(t.id)
            say(f"skip   {t.label} seed {t.seed}: done or running in another `study run`")
        return None

    def on_done(task: dict[str, Any], result: dict[str, Any]) -> None:
        running.pop(task["id"], None)
        store.finish(task["id"], owner, result, key)
        out.done.append(task["id"])
        tm = result["timings"]
        say(f"done   {task['label']} ({tm['train_seconds']:.0f} s training, {tm['eval_seconds']:.0f} s scoring)")

    def on_failed(task: dict[str, Any], error: str) -> None:
        running.pop(task["id"], None)
        store.fail(task["id"], owner, error)
        out.failed[task["id"]] = error
        say(f"FAILED {task['label']}: {error}")

    def on_wait(in_flight: list[dict[str, Any]]) -> None:
        if time.monotonic() - last_beat[0] >= HEARTBEAT_SECONDS:
            store.heartbeat([t["id"] for t in in_flight], owner)
            last_beat[0] = time.monotonic()

    try:
        if ray is not None:
            from .ray_backend import run_ray

            tasks = []
            while (task := next_task()) is not None:
                tasks.append(task)
            run_ray(ray, tasks, on_done, on_failed, on_wait, threads, gpus_per_trial, retries)
        else:
            n = workers or max(1, available_cores() // threads)
            n = min(n, len(todo))
            say(f"{n} local worker process(es), {threads} torch thread(s) each")
            from .local import run_local

            run_local(next_task, on_done, on_failed, on_wait, n, threads)
    except BaseException:
        store.release(list(running), owner)  # interrupted: pending again, continued from their checkpoints
        raise
    _finish(study, out, t0, summary, say)
    return out


def _progress_of(run_dir, trial: Trial) -> str:
    """How far an earlier attempt got: ", continuing from step N" (or scoring a finished run)."""
    from ..train import RunDir

    try:
        step = RunDir(run_dir).last_step() if (run_dir / "checkpoints").is_dir() else None
    except Exception:  # noqa: BLE001 - an unreadable checkpoint is the trial's error to report, not here
        return ""
    if step is None:
        return ""
    return " (finished: scoring it)" if step >= trial.config["steps"] else f" (continuing from step {step})"


def _finish(study: Study, out: RunSummary, t0: float, summary: bool, say: Callable[[str], None]) -> None:
    out.seconds = time.perf_counter() - t0
    say(f"{len(out.done)} trial(s) done, {len(out.failed)} failed, {out.already_done} done before"
        + (f", {len(out.skipped)} left to another run" if out.skipped else "") + f" ({out.seconds:.0f} s)")
    if out.failed:
        say("failed trials are retried by the next `untwine study run` (see `untwine study status`)")
    if summary and study.analysis and study.analysis.get("summary"):
        from .analysis import run_summary
        from .results import load

        if run_summary(study, load(study)):
            say(f"wrote the study's summary ({study.analysis['summary']} in {os.path.basename(study.analysis['file'])})")
