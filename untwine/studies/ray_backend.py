"""Execution on a Ray cluster (``untwine study run FILE --ray ADDRESS``); ray is an optional extra.

Each trial is one Ray task with ``num_cpus`` = its torch threads and ``num_gpus`` = the
``--gpus-per-trial`` fraction (several small trials share a GPU), scheduled by Ray, retried by
Ray when its worker dies (``--retries``). Results come back to this process, the store's only
writer. The study directory must be on a file system every node sees (the trials write their
runs there); on one machine that holds trivially.
"""

from __future__ import annotations

import socket
from typing import Any, Callable
from urllib.parse import urlparse

from .spec import StudyError

INSTALL_HINT = "pip install 'untwine[ray]'  (or: pip install ray)"


def import_ray():
    try:
        import ray
    except ImportError:
        raise StudyError(f"--ray needs the ray package, which is not installed; install it with {INSTALL_HINT}, "
                         "or leave out --ray to run the study on this machine") from None
    return ray


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast when a HOST:PORT (or ray://HOST:PORT) address does not accept connections."""
    url = urlparse(address if "://" in address else f"tcp://{address}")
    if not url.hostname or not url.port:
        raise StudyError(f"--ray {address!r} is not an address; give HOST:PORT of the head node (e.g. 10.0.0.1:6379), "
                         "'auto' (the cluster this machine belongs to) or 'local' (start Ray here)")
    try:
        with socket.create_connection((url.hostname, url.port), timeout=timeout):
            pass
    except OSError as e:
        raise StudyError(f"the Ray address {address} does not answer ({e.strerror or e}); start the cluster "
                         "(`ray start --head` on the head node), check the address, or leave out --ray to run "
                         "locally. Nothing was run.") from None


def connect(address: str) -> Any:
    """Connect to the cluster at ``address`` ('auto', 'local', HOST:PORT, ray://HOST:PORT); returns ray."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address not in ("auto", "local"):
        _probe(address)
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise StudyError(f"cannot connect to the Ray cluster at {address!r} ({str(e).splitlines()[0]}); start it "
                         "(`ray start --head`), give its HOST:PORT, use --ray local to start Ray on this machine, or "
                         "leave out --ray. Nothing was run.") from None
    return ray


def _remote_trial(task: dict[str, Any]) -> dict[str, Any]:
    from .trial import run_trial

    return run_trial(task)


def run_ray(
    ray: Any,
    tasks: list[dict[str, Any]],
    on_done: Callable[[dict[str, Any], dict[str, Any]], None],
    on_failed: Callable[[dict[str, Any], str], None],
    on_wait: Callable[[list[dict[str, Any]]], None],
    threads: int,
    gpus_per_trial: float = 0.0,
    retries: int = 1,
) -> None:
    """Submit every task to Ray and record the outcomes as they arrive."""
    remote = ray.remote(num_cpus=threads, num_gpus=gpus_per_trial, max_retries=retries)(_remote_trial)
    refs = {remote.remote(t): t for t in tasks}
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=5.0)
            for ref in done:
                task = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - RayTaskError, WorkerCrashedError: the trial failed
                    cause = getattr(e, "cause", None) or e
                    text = str(cause).strip().splitlines()
                    on_failed(task, f"{type(cause).__name__}: {text[-1] if text else ''} (on Ray)")
                    continue
                on_done(task, result)
            on_wait(list(refs.values()))
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
