"""The results store of a study: one SQLite database (``study.sqlite`` in the study directory).

Why SQLite: it is in the standard library, needs no server, and its transactions give what a
study needs when several processes touch it: a trial is *claimed* by one atomic update, so two
``untwine study run`` commands on the same study never train the same trial, and a crash mid-write
leaves the last committed state (write-ahead log). A Parquet file cannot be updated in place by
concurrent writers, and MLflow needs a tracking server or a directory layout of its own for
what is here one table. :func:`untwine.studies.load` turns the table into a pandas DataFrame.

Within one ``study run`` only the coordinating process writes (workers send their results to
it), each write one short transaction. Trials are ``pending``, ``running`` (with the owner
``host:pid`` and a heartbeat), ``done`` or ``failed`` (with the error). A ``running`` trial whose
owner process is gone (same host) or whose heartbeat is older than :data:`STALE_SECONDS` is
taken over by the next run, which continues it from its checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..io import _pid_alive
from .spec import Trial

STALE_SECONDS = 120.0  # a running trial whose owner has not written for this long is taken over
STATUSES = ("pending", "running", "done", "failed")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    label TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    seed INTEGER NOT NULL,
    swept TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    owner TEXT,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    metrics TEXT,
    timings TEXT,
    versions TEXT,
    run_path TEXT,
    evaluation_key TEXT,
    started_at REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def owner_name() -> str:
    """This process as a store owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str | None) -> bool:
    if not owner or ":" not in owner:
        return True
    host, pid = owner.rsplit(":", 1)
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


class StudyStore:
    """The SQLite store of one study directory (created on first use)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)  # autocommit; explicit BEGINs
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: claims are atomic across processes
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # ---- writing ----------------------------------------------------------------------------
    def sync(self, trials: Iterable[Trial], meta: dict[str, Any] | None = None) -> None:
        """Add the trials not yet stored (as pending); refresh labels and positions of known ones."""
        with self._transaction() as db:
            for t in trials:
                db.execute("INSERT INTO trials (id, position, label, method, dataset, seed, swept, config) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET position = excluded.position, "
                           "label = excluded.label, swept = excluded.swept",
                           (t.id, t.position, t.label, t.method, t.dataset, t.seed, json.dumps(t.swept),
                            json.dumps(t.config, sort_keys=True)))
            for k, v in (meta or {}).items():
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (k, json.dumps(v)))

    def claim(self, trial_id: str, owner: str, evaluation_key: str, rescore: bool = False) -> bool:
        """Mark ``trial_id`` running for ``owner`` if nobody else runs it and it is not done (``rescore``:
        done trials too); True if claimed."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT status, owner, heartbeat, evaluation_key FROM trials WHERE id = ?",
                             (trial_id,)).fetchone()
            if row is None:
                raise KeyError(f"trial {trial_id} is not in the store {self.path}")
            if row["status"] == "done" and row["evaluation_key"] == evaluation_key and not rescore:
                return False
            if row["status"] == "running" and row["owner"] != owner and not (
                    _owner_gone(row["owner"]) or (row["heartbeat"] or 0) < now - STALE_SECONDS):
                return False
            db.execute("UPDATE trials SET status = 'running', owner = ?, heartbeat = ?, started_at = ?, "
                       "attempts = attempts + 1, error = NULL WHERE id = ?", (owner, now, now, trial_id))
            return True

    def heartbeat(self, trial_ids: Iterable[str], owner: str) -> None:
        ids = list(trial_ids)
        if not ids:
            return
        with self._transaction() as db:
            db.executemany("UPDATE trials SET heartbeat = ? WHERE id = ? AND owner = ? AND status = 'running'",
                           [(time.time(), i, owner) for i in ids])

    def finish(self, trial_id: str, owner: str, result: dict[str, Any], evaluation_key: str) -> None:
        """Record a finished trial: its metrics, timings, versions and run path."""
        with self._transaction() as db:
            db.execute("UPDATE trials SET status = 'done', owner = ?, heartbeat = ?, finished_at = ?, error = NULL, "
                       "metrics = ?, timings = ?, versions = ?, run_path = ?, evaluation_key = ? WHERE id = ?",
                       (owner, time.time(), time.time(), json.dumps(result.get("metrics", {}), sort_keys=True),
                        json.dumps(result.get("timings", {}), sort_keys=True),
                        json.dumps(result.get("versions", {}), sort_keys=True), result.get("run_path"),
                        evaluation_key, trial_id))

    def fail(self, trial_id: str, owner: str, error: str) -> None:
        """Record a failed trial with its error (it is retried by the next run)."""
        with self._transaction() as db:
            db.execute("UPDATE trials SET status = 'failed', owner = ?, heartbeat = ?, finished_at = ?, error = ? "
                       "WHERE id = ?", (owner, time.time(), time.time(), error, trial_id))

    def release(self, trial_ids: Iterable[str], owner: str) -> None:
        """Give back trials this owner claimed but did not run (interrupted): pending again."""
        with self._transaction() as db:
            db.executemany("UPDATE trials SET status = 'pending', owner = NULL WHERE id = ? AND owner = ? "
                           "AND status = 'running'", [(i, owner) for i in trial_ids])

    # ---- reading ----------------------------------------------------------------------------
    def rows(self, trial_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every stored trial (or those of ``trial_ids``, in that order) as a dict, JSON fields decoded."""
        db = self._connect()
        try:
            rows = [dict(r) for r in db.execute("SELECT * FROM trials ORDER BY position")]
        finally:
            db.close()
        for r in rows:
            for k in ("swept", "config", "metrics", "timings", "versions"):
                r[k] = json.loads(r[k]) if r[k] else ({} if k != "metrics" else None)
            if r["status"] == "running" and (_owner_gone(r["owner"]) or (r["heartbeat"] or 0) < time.time() - STALE_SECONDS):
                r["status"] = "interrupted"  # its owner is gone: the next run continues it
        if trial_ids is not None:
            by_id = {r["id"]: r for r in rows}
            rows = [by_id[i] for i in trial_ids if i in by_id]
        return rows

    def meta(self) -> dict[str, Any]:
        db = self._connect()
        try:
            return {r["key"]: json.loads(r["value"]) for r in db.execute("SELECT key, value FROM meta")}
        finally:
            db.close()
