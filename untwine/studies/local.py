"""Local execution: a pool of worker processes on this machine, one trial each at a time.

Each worker is a spawned process with its own torch thread count (``train.threads``, default 1),
so N one-thread trials keep N cores busy (on CPU, two one-thread trials train more models per
hour than one two-thread trial: benchmarks/study_speed.py). A worker keeps the datasets it loaded
for its next trials. The coordinator hands each worker one trial over its own pipe, so it always
knows which trial a worker holds: a worker that dies (SIGKILL, out of memory) fails exactly that
trial, is replaced, and the study goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from multiprocessing.connection import wait
from typing import Any, Callable


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the coordinator dies (even by SIGKILL), so no orphan
    goes on training a trial that the next ``study run`` takes over."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux / no glibc: a worker notices when it asks for its next task
        pass


def _worker_main(conn, threads: int) -> None:
    _die_with_parent()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    import torch

    torch.set_num_threads(threads)
    from .trial import run_trial

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            conn.send(("done", task["id"], run_trial(task)))
        except BaseException as e:  # noqa: BLE001 - any error fails this trial, not the worker
            conn.send(("failed", task["id"], describe_error(e)))


def describe_error(e: BaseException) -> str:
    """One line of what went wrong, then the innermost frames of the traceback."""
    frames = traceback.extract_tb(e.__traceback__)[-3:]
    where = "; ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(e).__name__}: {e}" + (f" (at {where})" if where else "")


def death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = f"killed by {name}" + (" (out of memory, or killed by hand?)" if name == "SIGKILL" else "")
    else:
        why = f"exited with code {exitcode}"
    return (f"the worker process was {why} during this trial; run `untwine study run` again to continue it "
            "from its last checkpoint")


class _Worker:
    def __init__(self, ctx, threads: int):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads), daemon=True)
        self.proc.start()
        child.close()
        self.task: dict[str, Any] | None = None

    def stop(self, kill: bool = False) -> None:
        if kill and self.proc.is_alive():
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def run_local(
    next_task: Callable[[], dict[str, Any] | None],
    on_done: Callable[[dict[str, Any], dict[str, Any]], None],
    on_failed: Callable[[dict[str, Any], str], None],
    on_wait: Callable[[list[dict[str, Any]]], None],
    workers: int,
    threads: int,
) -> None:
    """Run tasks from ``next_task()`` (None: no more) on ``workers`` processes until all are done.

    ``on_done(task, result)`` / ``on_failed(task, error)`` record each outcome; ``on_wait(running)``
    is called every few seconds with the tasks in flight (heartbeats). On an exception (Ctrl-C)
    the workers are killed and the exception propagates; the caller releases the running tasks.
    """
    ctx = mp.get_context("spawn")  # fresh interpreters: no copied torch thread pools or locks
    pool = [_Worker(ctx, threads) for _ in range(max(1, workers))]
    exhausted = False
    try:
        while True:
            for w in pool:
                if w.task is None and not exhausted:
                    task = next_task()
                    if task is None:
                        exhausted = True
                        break
                    w.task = task
                    w.conn.send(task)
            busy = [w for w in pool if w.task is not None]
            if not busy:
                break
            ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=5.0))
            for i, w in enumerate(pool):
                if w.task is None or (w.conn not in ready and w.proc.sentinel not in ready):
                    continue
                message = None
                try:
                    if w.conn.poll():
                        message = w.conn.recv()
                except (EOFError, OSError):
                    message = None
                task, w.task = w.task, None
                if message is None:  # the process died holding the task
                    w.proc.join(timeout=5)
                    on_failed(task, death_message(w.proc.exitcode))
                    w.stop(kill=True)
                    pool[i] = _Worker(ctx, threads)
                elif message[0] == "done":
                    on_done(task, message[2])
                else:
                    on_failed(task, message[2])
            on_wait([w.task for w in pool if w.task is not None])
    finally:
        for w in pool:
            w.stop(kill=w.task is not None)
