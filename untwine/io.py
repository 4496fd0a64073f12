"""Crash-safe file writing and the cache directory (used by every layer; imports nothing of untwine)."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


#: what an operating-system error means for the user, and the fix (one table for every command)
OS_ERROR_FIXES: dict[int, str] = {
    errno.EROFS: "the file system is read-only; choose a writable location (another --out, or $UNTWINE_CACHE_DIR for the cache)",
    errno.EACCES: "permission denied; choose a location you can write (another --out) or fix its permissions",
    errno.EPERM: "operation not permitted; choose another location or fix its permissions",
    errno.ENOSPC: "no space left on the device; free some space or choose another location, then run again",
    errno.EDQUOT: "disk quota exceeded; free some space or choose another location, then run again",
    errno.ENOTDIR: "a part of the path is a file, not a directory; choose another path",
    errno.EISDIR: "it is a directory; give the path of a file",
    errno.ENOENT: "no such file or directory; check the path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
}


def cache_dir(subdir: str = "") -> Path:
    """The untwine cache directory: ``$UNTWINE_CACHE_DIR`` or the user cache dir (``~/.cache/untwine``)."""
    root = os.environ.get("UNTWINE_CACHE_DIR")
    if root:
        base = Path(root).expanduser()
    else:
        try:
            from platformdirs import user_cache_dir

            base = Path(user_cache_dir("untwine"))
        except ImportError:  # pragma: no cover - platformdirs is a dependency
            base = Path.home() / ".cache" / "untwine"
    path = base / subdir if subdir else base
    path.mkdir(parents=True, exist_ok=True)
    return path


# temporary files are ".NAME.PID.RANDOM.tmp" next to their target; older versions wrote ".NAME.RANDOM.tmp"
_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # mkstemp: 8 random characters
_TEMP_PID = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], Any]) -> Path:
    """Write a file atomically: ``write(fh)`` fills a temporary file that then replaces ``path``.

    A crash or kill at any moment leaves either the old file or the new one, never a torn one. An
    exception (also KeyboardInterrupt) removes the temporary file; one left by ``kill -9`` is named
    ``.NAME.PID.RANDOM.tmp`` and found by :func:`remove_orphaned_temp_files`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user (PermissionError), or cannot tell
        return True
    return True


def remove_orphaned_temp_files(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` in ``directory`` whose writer is gone.

    A file is an orphan when the process id in its name no longer runs (killed mid-write), or when
    its name has no process id (written by an older untwine). A write in progress on this machine is
    never touched; writers on other machines sharing the directory are not recognised. Returns the
    removed paths.
    """
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        if not _TEMP.match(entry.name) or not entry.is_file():
            continue
        m = _TEMP_PID.match(entry.name)
        if m and _pid_alive(int(m.group(1))):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except FileNotFoundError:  # its writer finished or another cleaner was first
            pass
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write a UTF-8 text file."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Atomically save one array in ``.npy`` format."""
    return atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
