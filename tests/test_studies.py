"""Studies: the file schema and its errors, trial expansion, the SQLite store, local and Ray execution.

The integration tests run tiny real studies (an MLP beta-VAE on Blobs, a few dozen steps) through
the worker processes, kill workers and coordinators with SIGKILL, and run two coordinators at once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from untwine import cli
from untwine.studies import StudyError, load, load_study, results_table, run_study, status_text
from untwine.studies.store import StudyStore, owner_name

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "name": "tiny",
    "datasets": ["blobs"],
    "seeds": [0, 1],
    "train": {"steps": 20, "batch_size": 16, "log_every": 5, "precision": "fp32"},
    "hparams": {"latent_dim": 4, "architecture": "mlp", "encoder_hidden": [32], "decoder_hidden": [32]},
    "methods": [{"method": "beta_vae", "grid": {"beta": [1.0, 4.0]}}, {"method": "vae", "label": "plain"}],
    "evaluation": {"metrics": {"mig": {"num_train": 500}, "sap": {"num_train": 500, "num_test": 200}}},
}


def write_study(tmp_path: Path, name: str = "study.yaml", **changes) -> Path:
    spec = json.loads(json.dumps(TINY))
    for k, v in changes.items():
        if v is None:
            spec.pop(k, None)
        else:
            spec[k] = v
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "untwine.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# ---- the file and its trials ---------------------------------------------------------------------
def test_expansion_is_deterministic_and_ids_follow_the_training_configuration(tmp_path):
    study = load_study(write_study(tmp_path))
    trials = study.trials()
    assert [(t.label, t.seed) for t in trials] == [("beta_vae beta=1", 0), ("beta_vae beta=1", 1), ("beta_vae beta=4", 0),
                                                   ("beta_vae beta=4", 1), ("plain", 0), ("plain", 1)]
    again = load_study(write_study(tmp_path, "copy.yaml"))
    assert [t.id for t in again.trials()] == [t.id for t in trials]  # stable across files and loads
    assert len({t.id for t in trials}) == len(trials)
    # logging does not change a run's numbers: same ids; the steps do
    other = load_study(write_study(tmp_path, "log.yaml", train={**TINY["train"], "log_every": 7}))
    assert [t.id for t in other.trials()] == [t.id for t in trials]
    longer = load_study(write_study(tmp_path, "long.yaml", train={**TINY["train"], "steps": 21}))
    assert not {t.id for t in longer.trials()} & {t.id for t in trials}
    # the full hyperparameter record is hashed: writing a default explicitly is the same trial
    explicit = load_study(write_study(tmp_path, "explicit.yaml", methods=[{"method": "vae", "label": "plain",
                                                                            "hparams": {"lr": 1e-4}}]))
    assert [t.id for t in explicit.trials()] == [t.id for t in trials[-2:]]
    assert trials[0].train_config().threads == 1  # studies default to one torch thread per trial


def test_seeds_first_runs_every_configuration_at_a_seed_before_the_next_seed(tmp_path):
    by_file = load_study(write_study(tmp_path)).trials()
    by_seed = load_study(write_study(tmp_path, "s.yaml", order="seeds_first")).trials()
    assert [(t.label, t.seed) for t in by_seed] == [("beta_vae beta=1", 0), ("beta_vae beta=4", 0), ("plain", 0),
                                                    ("beta_vae beta=1", 1), ("beta_vae beta=4", 1), ("plain", 1)]
    assert sorted(t.id for t in by_seed) == sorted(t.id for t in by_file)  # the same trials
    with pytest.raises(StudyError, match="order: 'seed_first' is not an order"):
        load_study(write_study(tmp_path, "bad.yaml", order="seed_first"))


def test_profiles_overlay_the_study(tmp_path):
    path = write_study(tmp_path, profiles={"cpu": {}, "paper": {"seeds": [0, 1, 2], "train": {"steps": 50}}},
                       default_profile="cpu")
    cpu, paper = load_study(path), load_study(path, profile="paper")
    assert cpu.profile == "cpu" and len(cpu.trials()) == 6 and cpu.directory.name == "cpu"
    assert len(paper.trials()) == 9 and {t.config["steps"] for t in paper.trials()} == {50}
    assert {t.config["batch_size"] for t in paper.trials()} == {16}  # deep merge keeps the other train keys
    with pytest.raises(StudyError, match="no profile 'papr' \\(did you mean 'paper'\\?\\)"):
        load_study(path, profile="papr")


@pytest.mark.parametrize("change,match", [
    ({"metods": []}, r"metods: unknown key \(did you mean 'methods'\?\)"),
    ({"methods": [{"method": "beta_vea"}]}, r"methods\[0\]\.method: unknown method 'beta_vea'"),
    ({"methods": [{"method": "beta_vae", "grid": {"beta": [1.0, -2.0]}}]},
     r"methods\[0\]\.grid point beta=-2: .*beta.*fix the value in the study file"),
    ({"methods": [{"method": "beta_vae", "grid": {"beta": []}}]}, r"methods\[0\]\.grid\.beta: is an empty list"),
    ({"methods": [{"method": "beta_vae", "grid": {}}]}, r"methods\[0\]\.grid: must be a non-empty mapping"),
    ({"methods": []}, r"methods: must be a non-empty list"),
    ({"datasets": ["dsprite"]}, r"datasets\[0\]\.name: unknown dataset 'dsprite' \(did you mean 'dsprites'\?\)"),
    ({"datasets": [{"name": "blobs", "options": {"colour": 1}}]}, r"datasets\[0\]\.options: .*takes no option"),
    ({"evaluation": {"metrics": ["mgi"]}}, r"evaluation\.metrics\.mgi: unknown metric 'mgi'.*Did you mean 'mig'"),
    ({"evaluation": {"metrics": {"mig": {"num_bin": 3}}}}, r"evaluation\.metrics\.mig: .*no option 'num_bin'"),
    ({"train": {"step": 3}}, r"train\.step: unknown key \(did you mean 'steps'\?\)"),
    ({"train": {"steps": 0}}, r"steps"),
    ({"seeds": []}, r"seeds: is an empty list"),
    ({"seeds": [0, 0]}, r"seeds: .* repeats a seed"),
    ({"methods": [{"method": "beta_vae", "grid": {"beta": [1.0, 4.0]}}, {"method": "beta_vae", "label": "again"}]},
     r"trains the same configuration as"),
])
def test_bad_study_files_name_the_file_the_key_and_the_fix(tmp_path, change, match):
    path = write_study(tmp_path, **change)
    with pytest.raises(StudyError, match=match) as e:
        load_study(path)
    assert str(path) in str(e.value)


def test_bad_study_file_is_exit_2_before_anything_runs(tmp_path, capsys):
    path = write_study(tmp_path, methods=[{"method": "beta_vae", "grid": {"beta": [4.0, -1.0]}}])
    assert cli.main(["study", "run", str(path)]) == 2
    assert "grid point beta=-1" in capsys.readouterr().err
    assert not (tmp_path / "study.study").exists()  # nothing was created, let alone run
    assert cli.main(["study", "run", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_ray_address_that_does_not_answer_is_one_clear_error(tmp_path, capsys):
    path = write_study(tmp_path)
    assert cli.main(["study", "run", str(path), "--ray", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "does not answer" in err and "Nothing was run" in err
    assert not (tmp_path / "study.study").exists()


def test_without_ray_installed_the_error_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert cli.main(["study", "run", str(write_study(tmp_path)), "--ray", "auto"]) == 2
    assert "pip install 'untwine[ray]'" in capsys.readouterr().err


# ---- the store ---------------------------------------------------------------------------------
def test_a_claim_is_exclusive_until_its_owner_is_gone(tmp_path):
    study = load_study(write_study(tmp_path))
    a, b = StudyStore(tmp_path / "s.sqlite"), StudyStore(tmp_path / "s.sqlite")
    a.sync(study.trials())
    t = study.trials()[0].id
    assert a.claim(t, owner_name(), "k")
    assert not b.claim(t, "otherhost:1", "k")  # running, owner alive (its host is not this one: trusted)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("UPDATE trials SET owner = ? WHERE id = ?", (f"{owner_name().rsplit(':', 1)[0]}:{dead.pid}", t))
    assert b.claim(t, "otherhost:1", "k")  # the owner process is gone: taken over
    b.finish(t, "otherhost:1", {"metrics": {"mig": 0.5}, "timings": {}, "versions": {}, "run_path": "x"}, "k")
    assert not a.claim(t, owner_name(), "k")  # done with this evaluation
    assert a.claim(t, owner_name(), "k2")  # done with another evaluation: scored again
    row = a.rows([t])[0]
    assert row["attempts"] == 3 and row["status"] == "running"


# ---- running ------------------------------------------------------------------------------------
@pytest.mark.integration
def test_a_study_runs_records_every_result_once_and_a_rerun_does_nothing(tmp_path, capsys):
    path = write_study(tmp_path)
    study = load_study(path)
    summary = run_study(study, workers=2, log=None)
    assert len(summary.done) == 6 and not summary.failed
    frame = load(path)
    assert list(frame["status"]) == ["done"] * 6 and frame["current"].all()
    assert (frame["attempts"] == 1).all()
    assert frame["mig"].between(0, 1).all() and frame["sap"].between(0, 1).all()
    assert {"beta", "train.loss", "train_seconds", "run_path"} <= set(frame.columns)
    # beta = 1 and the plain VAE are the same model: the same numbers (deterministic per seed)
    b1, vae = frame[frame["label"] == "beta_vae beta=1"], frame[frame["label"] == "plain"]
    assert list(b1["mig"]) == list(vae["mig"])
    for r in frame.itertuples():
        assert json.loads((Path(r.run_path) / "trial.json").read_text())["id"] == r.id
    again = run_study(study, workers=2, log=None)
    assert again.already_done == 6 and not again.done
    assert (load(path)["attempts"] == 1).all()
    rescored = run_study(study, workers=2, log=None, rescore=True)  # loaded and scored again, not retrained
    assert len(rescored.done) == 6
    after = load(path)
    assert (after["attempts"] == 2).all() and list(after["mig"]) == list(frame["mig"])
    assert list(after["train_seconds"]) == list(frame["train_seconds"])
    assert cli.main(["study", "status", str(path)]) == 0
    assert "6 done, 0 missing" in capsys.readouterr().out
    assert cli.main(["study", "results", str(path), "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0].startswith("label,dataset,seed,status,") and len(csv.splitlines()) == 7
    assert "| plain | blobs | 1 | done |" in results_table(study)
    assert cli.main(["study", "report", str(path)]) == 0
    assert (study.directory / "report.html").stat().st_size > 10_000


@pytest.mark.integration
def test_a_trial_that_raises_is_recorded_failed_and_the_rest_finish(tmp_path):
    (tmp_path / "analysis.py").write_text(
        "def score(run, dataset):\n"
        "    if run.config.seed == 1:\n"
        "        raise RuntimeError('seed 1 is cursed')\n"
        "    return {'extra': 1.0}\n")
    path = write_study(tmp_path, analysis={"file": "analysis.py", "score": "score"})
    study = load_study(path)
    summary = run_study(study, workers=2, log=None)
    assert len(summary.done) == 3 and len(summary.failed) == 3
    frame = load(path)
    failed = frame[frame["status"] == "failed"]
    assert set(failed["seed"]) == {1} and failed["error"].str.contains("RuntimeError: seed 1 is cursed").all()
    assert (frame.loc[frame["status"] == "done", "extra"] == 1.0).all()
    assert "failed" in status_text(study) and "seed 1 is cursed" in status_text(study)
    again = run_study(study, workers=2, log=None)  # retries only the failed ones
    assert again.already_done == 3 and len(again.failed) == 3
    frame = load(path)
    assert list(frame.loc[frame["seed"] == 0, "attempts"]) == [1, 1, 1]
    assert list(frame.loc[frame["seed"] == 1, "attempts"]) == [2, 2, 2]
    assert _cli("study", "run", str(path)).returncode == 1  # failed trials: exit 1


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def _wait_for(condition, timeout: float = 120.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _checkpointed_running_trial(study, attempt: int = 1):
    """A trial running its ``attempt``-th attempt that has saved a checkpoint during this attempt."""
    if not study.store_path.is_file():
        return None
    for r in StudyStore(study.store_path).rows():
        ckpt = study.runs_dir / r["id"] / "checkpoints" / "last.pt"
        if r["status"] == "running" and r["attempts"] == attempt and ckpt.is_file() \
                and ckpt.stat().st_mtime > r["started_at"]:
            return r["id"]
    return None


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")
def test_sigkill_of_a_worker_and_of_the_study_loses_nothing_finished(tmp_path):
    path = write_study(tmp_path, seeds=[0], train={**TINY["train"], "steps": 3000, "checkpoint_every": 100},
                       methods=[{"method": "beta_vae", "grid": {"beta": [1.0, 2.0, 4.0]}}])
    study = load_study(path)
    proc = subprocess.Popen([sys.executable, "-m", "untwine.cli", "study", "run", str(path), "--workers", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        victim = _wait_for(lambda: _checkpointed_running_trial(study), what="a checkpoint")
        workers = [p for p in _children(proc.pid)
                   if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)  # the worker dies mid-trial
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    rows = {r["id"]: r for r in StudyStore(study.store_path).rows()}
    assert rows[victim]["status"] == "failed" and "SIGKILL" in rows[victim]["error"]
    assert sum(r["status"] == "done" for r in rows.values()) == 2  # the others finished
    done_before = {i: r["finished_at"] for i, r in rows.items() if r["status"] == "done"}

    # now kill the whole study (coordinator and worker) mid-trial, then run it again
    proc = subprocess.Popen([sys.executable, "-m", "untwine.cli", "study", "run", str(path), "--workers", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        assert _wait_for(lambda: _checkpointed_running_trial(study, attempt=2), what="the retry's checkpoint") == victim
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator alone: its workers must not train on as orphans
        proc.wait(timeout=60)
        _wait_for(lambda: not any(_alive(p) for p in workers), timeout=30, what="the orphaned workers to die")
    finally:
        proc.kill()
    assert load(path).set_index("id").loc[victim, "status"] == "interrupted"
    result = _cli("study", "run", str(path), "--workers", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 done before" in result.stdout and result.stdout.count("start ") == 1
    assert "continuing from step" in result.stdout  # from the checkpoint the killed attempt saved
    rows = {r["id"]: r for r in StudyStore(study.store_path).rows()}
    assert all(r["status"] == "done" for r in rows.values())
    assert {i: rows[i]["finished_at"] for i in done_before} == done_before  # finished trials were not redone
    assert rows[victim]["attempts"] == 3


@pytest.mark.integration
def test_sigterm_releases_the_running_trial(tmp_path):
    path = write_study(tmp_path, seeds=[0], train={**TINY["train"], "steps": 3000, "checkpoint_every": 100},
                       methods=[{"method": "beta_vae"}])
    study = load_study(path)
    proc = subprocess.Popen([sys.executable, "-m", "untwine.cli", "study", "run", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _checkpointed_running_trial(study), what="a checkpoint")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    assert list(load(path)["status"]) == ["missing"]  # released at once: the next run continues it


@pytest.mark.integration
def test_two_study_runs_at_once_run_every_trial_exactly_once(tmp_path):
    path = write_study(tmp_path, seeds=[0, 1, 2])  # 9 trials
    procs = [subprocess.Popen([sys.executable, "-m", "untwine.cli", "study", "run", str(path), "--workers", "1"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    started = [line.split("(")[-1].rstrip(")") for out in outs for line in out.splitlines() if line.startswith("start ")]
    frame = load(path)
    assert sorted(started) == sorted(frame["id"])  # every trial started once, by one of the two
    assert (frame["status"] == "done").all() and (frame["attempts"] == 1).all()
    with sqlite3.connect(load_study(path).store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.integration
def test_a_ray_study_gives_the_local_results(tmp_path):
    pytest.importorskip("ray")
    path = write_study(tmp_path)
    run_study(load_study(path, out=tmp_path / "local"), workers=2, log=None)
    # through the CLI, as a user runs it (--ray local starts Ray in that process, not in this one)
    res = _cli("study", "run", str(path), "--out", str(tmp_path / "ray"), "--ray", "local", timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    local, on_ray = load(path, out=tmp_path / "local"), load(path, out=tmp_path / "ray")
    assert len(on_ray) == 6 and (on_ray["status"] == "done").all()
    cols = ["id", "label", "seed", "status", "mig", "sap", "train.loss"]
    assert local[cols].equals(on_ray[cols])


def test_gpu_shares_need_ray_and_trials_on_a_gpu(tmp_path, capsys):
    path = write_study(tmp_path)
    assert cli.main(["study", "run", str(path), "--gpus-per-trial", "0.5"]) == 2
    assert "add --ray" in capsys.readouterr().err
    assert cli.main(["study", "run", str(path), "--gpus-per-trial", "0.5", "--ray", "auto"]) == 2
    assert "train.device: cpu" in capsys.readouterr().err  # checked before connecting to anything
    assert not (tmp_path / "study.study").exists()


def test_unknown_study_action_suggests_the_right_one(capsys):
    assert cli.main(["study", "statu", "x.yaml"]) == 2
    assert "did you mean 'status'" in capsys.readouterr().err


@pytest.mark.integration
def test_a_failing_summary_is_one_clear_error_and_keeps_the_results(tmp_path):
    (tmp_path / "analysis.py").write_text("def summary(frame, study):\n    frame['no_such_column']\n")
    path = write_study(tmp_path, seeds=[0], methods=[{"method": "vae"}],
                       analysis={"file": "analysis.py", "summary": "summary"})
    with pytest.raises(StudyError, match=r"analysis.summary \(summary in analysis.py\) raised KeyError.*results are kept"):
        run_study(load_study(path), workers=1, log=None)
    assert list(load(path)["status"]) == ["done"]
    assert cli.main(["study", "report", str(path)]) == 2  # the report is written, the summary's error reported
    assert (load_study(path).directory / "report.html").is_file()
