import json
import os

import numpy as np
import pytest

from untwine.io import atomic_save_npy, atomic_write, atomic_write_json, cache_dir


def test_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    atomic_write_json(path, {"mig": 0.5})

    def boom(fh):
        fh.write(b'{"mig": 0.')  # half written, then the process "dies"
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert json.loads(path.read_text()) == {"mig": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left behind


def test_npy_round_trip_and_permissions(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    p = atomic_save_npy(tmp_path / "a.npy", a)
    assert np.array_equal(np.load(p), a)
    assert oct(os.stat(p).st_mode & 0o777) != oct(0o600)  # not the private mode of a temp file


def test_cache_dir_is_overridable(tmp_path, monkeypatch):
    monkeypatch.setenv("UNTWINE_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir("dsprites") == tmp_path / "c" / "dsprites"
    assert (tmp_path / "c" / "dsprites").is_dir()
