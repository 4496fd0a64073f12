"""The run directory: checkpoints (weights only), resume checks, metrics merge, failures and leftovers."""

import errno
import json
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from untwine.cli import main
from untwine.data import registry
from untwine.io import atomic_write
from untwine.methods import ConfigError
from untwine.train import (DeviceUnavailable, RunDir, RunDirError, RunDirWriteError, TrainConfig, TrainingDiverged,
                           evaluate_run, load_run, train)
from untwine.train import run_dir as run_dir_module
from untwine.viz import report_run

from conftest import ToySquares

LAZY = ["--dataset", "dsprites", "--dataset-option", "lazy=true"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def small_config(**kw):
    base = dict(method="beta_vae", dataset="toy_squares", hparams={"latent_dim": 3}, steps=6, batch_size=8,
                seed=3, log_every=2, checkpoint_every=3)
    base.update(kw)
    return TrainConfig(**base)


def params(method):
    return torch.cat([p.detach().flatten() for p in method.parameters()])


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


@pytest.fixture
def toy_registered(monkeypatch):
    """toy_squares as a registered dataset, so that evaluate/report can rebuild it from config.yaml."""
    monkeypatch.setitem(registry._DATASETS, "toy_squares", ToySquares)


@pytest.fixture(scope="module")
def _trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("trained") / "r"
    train(small_config(), path, progress=False, dataset=ToySquares())
    return path


@pytest.fixture
def toy_run(tmp_path, _trained):
    """A finished 6-step toy run (checkpoints at 3 and 6), a fresh copy per test."""
    shutil.copytree(_trained, tmp_path / "r")
    return tmp_path / "r"


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---- security: a checkpoint never runs code --------------------------------------------------
class Payload:
    """Unpickling this creates a marker file (stands for any code an attacker would run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(capsys, tmp_path, writer):
    r, marker = tmp_path / "r", tmp_path / "marker"
    r.mkdir()
    (r / "config.yaml").write_text(TrainConfig(dataset="blobs", steps=2).to_yaml())
    (r / "checkpoints").mkdir()
    state = {"step": 2, "model": {}, "config": {}, "x": Payload(marker), "untwine_checkpoint": 1}
    if writer == "torch":
        torch.save(state, r / "checkpoints" / "last.pt")
    else:
        (r / "checkpoints" / "last.pt").write_bytes(pickle.dumps(state, protocol=2))
    code, _, err = cli(capsys, "evaluate", r)
    assert not marker.exists()
    assert code == 2 and one_error_line(err), err
    assert "not an untwine checkpoint" in err or "corrupt" in err


@pytest.mark.parametrize("content", [{"weights": torch.zeros(2)}, [1, 2, 3], {"step": 1, "model": {}}])
def test_a_torch_file_that_is_no_checkpoint_gives_one_line(capsys, tmp_path, content):
    r = tmp_path / "r"
    r.mkdir()
    (r / "config.yaml").write_text(TrainConfig(dataset="blobs", steps=2).to_yaml())
    (r / "checkpoints").mkdir()
    torch.save(content, r / "checkpoints" / "last.pt")
    code, _, err = cli(capsys, "evaluate", r)
    assert code == 2 and one_error_line(err) and "not an untwine checkpoint" in err, err


def test_checkpoints_load_weights_only(toy_run):
    state = torch.load(toy_run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 6 and state["config"]["hparams"]["latent_dim"] == 3


def test_save_checkpoint_converts_numpy_scalars_and_names_what_it_cannot_save(tmp_path):
    rd = RunDir(tmp_path / "r")
    rd.save_checkpoint({"step": np.int64(4), "model": {}, "config": {}, "log_sums": {"kl": np.float32(0.5)}})
    state = rd.load_checkpoint()
    assert state["step"] == 4 and type(state["step"]) is int and state["log_sums"]["kl"] == 0.5
    with pytest.raises(TypeError, match=r"state\['extra'\]\['a'\] is a ndarray"):
        rd.save_checkpoint({"step": 5, "model": {}, "config": {}, "extra": {"a": np.zeros(3)}})
    assert rd.last_step() == 4  # the refused state was not written


# ---- resume and load against the checkpoint's configuration -----------------------------------
@pytest.mark.parametrize("field, value, named", [("beta", 8.0, "hparams.beta"), ("lr", 1e-3, "hparams.lr")])
def test_a_foreign_config_yaml_is_refused_on_resume(toy_run, toy_dataset, field, value, named):
    cfg = toy_run / "config.yaml"
    foreign = small_config(hparams={"latent_dim": 3, field: value})
    cfg.write_text(foreign.to_yaml())
    with pytest.raises(RunDirError, match=rf"config.yaml differs from its checkpoint in {named}"):
        train(small_config(steps=9, hparams={"latent_dim": 3, field: value}), toy_run, resume=True, progress=False,
              dataset=toy_dataset)
    assert RunDir(toy_run).last_step() == 6


def test_resume_under_another_method_is_refused(toy_run, toy_dataset):
    (toy_run / "config.yaml").write_text(small_config(method="beta_tcvae").to_yaml())
    with pytest.raises(RunDirError, match="method"):
        train(small_config(method="beta_tcvae", steps=9), toy_run, resume=True, progress=False, dataset=toy_dataset)


def test_the_cli_names_the_differing_fields_of_a_foreign_config(capsys, tmp_path):
    r = tmp_path / "r"
    assert cli(capsys, "train", *LAZY, "--steps", 2, "--batch-size", 4, "--latent-dim", 2, "--out", r,
               "--no-progress")[0] == 0
    text = (r / "config.yaml").read_text()
    (r / "config.yaml").write_text(text.replace("beta: 4.0", "beta: 9.0").replace("latent_dim: 2", "latent_dim: 5"))
    code, _, err = cli(capsys, "train", "--resume", "--steps", 4, "--out", r, "--no-progress")
    assert code == 2 and one_error_line(err), err
    assert "hparams.beta" in err and "hparams.latent_dim" in err
    code, _, err = cli(capsys, "evaluate", r)  # load_run refuses it too (a traceback before)
    assert code == 2 and one_error_line(err) and "hparams.latent_dim" in err, err


def test_resume_to_fewer_steps_than_done_is_an_error(toy_run, toy_dataset):
    before = (toy_run / "config.yaml").read_bytes()
    with pytest.raises(RunDirError, match="already at step 6"):
        train(small_config(steps=3), toy_run, resume=True, progress=False, dataset=toy_dataset)
    assert (toy_run / "config.yaml").read_bytes() == before


def test_resume_to_more_steps_rewrites_config_yaml(toy_run, toy_dataset):
    train(small_config(steps=8), toy_run, resume=True, progress=False, dataset=toy_dataset)
    assert TrainConfig.from_yaml(toy_run / "config.yaml").steps == 8 and RunDir(toy_run).last_step() == 8


def test_resume_on_another_device_is_allowed_and_recorded(toy_run, toy_dataset):
    # a run trained on a GPU continues on the CPU (and back): device is where it runs, not what it is
    train(small_config(steps=8, device="auto"), toy_run, resume=True, progress=False, dataset=toy_dataset)
    saved = TrainConfig.from_yaml(toy_run / "config.yaml")
    assert saved.device == "auto" and saved.steps == 8 and RunDir(toy_run).last_step() == 8


def test_load_run_refuses_a_config_yaml_that_disagrees_with_the_checkpoint(toy_run, toy_dataset):
    (toy_run / "config.yaml").write_text(small_config(hparams={"latent_dim": 4}).to_yaml())
    with pytest.raises(RunDirError, match=r"hparams.latent_dim \(4 in config.yaml, 3 in the checkpoint\)"):
        load_run(toy_run, dataset=toy_dataset)


def test_load_run_reports_the_checkpoint_step_and_history_up_to_it(toy_run, toy_dataset):
    with open(toy_run / "logs" / "scalars.jsonl", "a") as f:  # logged after the last checkpoint, then killed
        f.write(json.dumps({"step": 8, "loss": 1.0}) + "\n")
    run = load_run(toy_run, dataset=toy_dataset)
    assert run.step == 6 and [r["step"] for r in run.history] == [2, 4, 6]


# ---- metrics.json --------------------------------------------------------------------------
def _merge_many(path, tag, n):
    rd = RunDir(path)
    for i in range(n):
        rd.merge_metrics({f"{tag}_{i}": float(i)}, {"evaluations": {f"{tag}_{i}": {"step": i}}})


def test_concurrent_merges_keep_every_key(tmp_path):
    ctx = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    procs = [ctx.Process(target=_merge_many, args=(tmp_path, tag, 60)) for tag in ("mig", "irs")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    merged = RunDir(tmp_path).read_metrics()
    expected = {f"{tag}_{i}" for tag in ("mig", "irs") for i in range(60)}
    assert expected <= set(merged) and expected == set(merged["evaluations"])


def test_a_corrupt_metrics_json_is_named_and_kept(tmp_path):
    rd = RunDir(tmp_path)
    rd.metrics.write_text('{"mig": 0.')
    with pytest.raises(RunDirError, match=r"metrics.json is not valid JSON .*delete it"):
        rd.merge_metrics({"sap": 0.1})
    assert rd.metrics.read_text() == '{"mig": 0.'


@pytest.mark.parametrize("code, hint", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                                        (errno.ENOSPC, "free some space")])
def test_write_errors_name_the_path_and_the_fix(tmp_path, monkeypatch, code, hint):
    def fail(path, text):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(run_dir_module, "atomic_write_text", fail)
    rd = RunDir(tmp_path / "r")
    with pytest.raises(RunDirWriteError) as e:
        rd.write_config(small_config())
    assert e.value.errno == code and str(rd.config) in str(e.value) and hint in str(e.value)


def test_evaluation_records_the_checkpoint_step_seed_and_options(toy_run, toy_registered):
    scalars = toy_run / "logs" / "scalars.jsonl"
    with open(scalars, "a") as f:  # rows logged after the checkpoint (a kill before the next one)
        f.write(json.dumps({"step": 8, "loss": 1.0}) + "\n")
    scores = evaluate_run(toy_run, ["mig"], seed=5, options={"mig": {"num_train": 200}})
    assert scores["evaluated_at_step"] == 6 and scores["evaluation_seed"] == 5
    # every option the metric ran with, the defaults included
    assert scores["evaluations"]["mig"] == {"step": 6, "seed": 5, "options": {"num_train": 200, "num_bins": 20}}
    scalars.unlink()  # without logs the step is still known
    assert evaluate_run(toy_run, "mig")["evaluations"]["mig"]["step"] == 6
    html = report_run(toy_run).read_text()
    assert "at step 6." in html and "at step 8" not in html and "evaluation_seed" not in html


def test_the_report_marks_scores_of_an_older_checkpoint(toy_run, toy_dataset, toy_registered):
    evaluate_run(toy_run, "mig")
    train(small_config(steps=9), toy_run, resume=True, progress=False, dataset=toy_dataset)
    html = report_run(toy_run).read_text()
    assert "at step 6; the checkpoint is now at step 9" in html


# ---- devices -------------------------------------------------------------------------------
@NO_CUDA
def test_a_missing_device_is_not_a_corrupt_checkpoint(toy_run, toy_dataset):
    with pytest.raises(DeviceUnavailable, match="not available.*--device cpu") as e:
        load_run(toy_run, device="cuda", dataset=toy_dataset)
    assert "corrupt" not in str(e.value)


@NO_CUDA
def test_evaluate_on_a_missing_device_says_so(capsys, tmp_path):
    r = tmp_path / "r"
    assert cli(capsys, "train", *LAZY, "--steps", 2, "--batch-size", 4, "--latent-dim", 2, "--out", r,
               "--no-progress")[0] == 0
    code, _, err = cli(capsys, "evaluate", r, "--device", "cuda")
    assert code == 2 and one_error_line(err) and "not available" in err and "corrupt" not in err, err


def test_unknown_device_names():
    from untwine.train import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")


# ---- a failed train leaves nothing that blocks the corrected command ---------------------------
def test_an_unknown_dataset_creates_no_directory(capsys, tmp_path):
    r = tmp_path / "r"
    code, _, err = cli(capsys, "train", "--dataset", "mnits", "--steps", 2, "--out", r, "--no-progress")
    assert code == 2 and not r.exists()
    code, _, err = cli(capsys, "train", "--dataset", "dsprites", "--dataset-option", "colour=1", "--steps", 2,
                       "--out", r, "--no-progress")
    assert code == 2 and not r.exists()
    code, _, err = cli(capsys, "train", *LAZY, "--steps", 2, "--batch-size", 4, "--latent-dim", 2, "--out", r,
                       "--no-progress")
    assert code == 0, err


@NO_CUDA
def test_an_unavailable_device_creates_no_directory(tmp_path, toy_dataset):
    with pytest.raises(DeviceUnavailable):
        train(small_config(device="cuda"), tmp_path / "r", progress=False, dataset=toy_dataset)
    assert not (tmp_path / "r").exists()


def test_a_run_that_diverged_before_any_checkpoint_starts_afresh(tmp_path, toy_dataset):
    r = tmp_path / "r"
    with pytest.raises(TrainingDiverged):
        train(small_config(hparams={"latent_dim": 3, "lr": 1e30}, steps=20, checkpoint_every=1000), r,
              progress=False, dataset=toy_dataset)
    assert (r / "config.yaml").is_file() and not (r / "checkpoints" / "last.pt").exists()
    fresh = train(small_config(), r, progress=False, dataset=toy_dataset)  # no --resume needed
    ref = train(small_config(), tmp_path / "ref", progress=False, dataset=toy_dataset)
    assert torch.equal(params(fresh.method), params(ref.method))
    assert [row["loss"] for row in RunDir(r).read_history()] == [row["loss"] for row in ref.history]
    assert TrainConfig.from_yaml(r / "config.yaml").hparams.lr != 1e30


@pytest.mark.parametrize("config, extra", [("mine: 1\n", "notes.txt"), ("mine: 1\n", None),
                                           (TrainConfig(dataset="blobs").to_yaml(), "notes.txt")])
def test_a_directory_with_other_files_is_not_started_afresh(tmp_path, toy_dataset, config, extra):
    r = tmp_path / "r"
    r.mkdir()
    (r / "config.yaml").write_text(config)
    if extra:
        (r / extra).write_text("keep me")
    with pytest.raises(RunDirError, match="already exists"):
        train(small_config(), r, progress=False, dataset=toy_dataset)
    assert (r / "config.yaml").read_text() == config


def test_out_pointing_at_a_file_is_one_line(tmp_path, toy_dataset):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="is a file, not a directory"):
        train(small_config(), tmp_path / "f", progress=False, dataset=toy_dataset)


# ---- interrupted and failed checkpoint writes ------------------------------------------------
@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError(errno.ENOSPC, "No space left on device")])
def test_an_interrupted_write_keeps_the_old_file_and_no_temp(tmp_path, exc):
    path = tmp_path / "last.pt"
    path.write_bytes(b"old")

    def write(fh):
        fh.write(b"half")
        raise exc

    with pytest.raises(type(exc) if isinstance(exc, BaseException) else exc):
        atomic_write(path, write)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def _full_disk_after(monkeypatch, n_checkpoints):
    """Let ``n_checkpoints`` checkpoint writes succeed, then fail the next ones half-way with ENOSPC."""
    real, calls = run_dir_module.atomic_write, []

    def fake(path, write):
        if path.name != "last.pt":
            return real(path, write)
        calls.append(path)
        if len(calls) <= n_checkpoints:
            return real(path, write)

        def half(fh):
            fh.write(b"PK\x03\x04 partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return real(path, half)

    monkeypatch.setattr(run_dir_module, "atomic_write", fake)


def test_a_full_disk_names_the_path_and_keeps_the_last_checkpoint(tmp_path, toy_dataset, monkeypatch):
    full = train(small_config(), tmp_path / "full", progress=False, dataset=toy_dataset)
    _full_disk_after(monkeypatch, 1)  # the step-3 checkpoint is written, the step-6 one fails
    r = tmp_path / "r"
    with pytest.raises(RunDirWriteError) as e:
        train(small_config(), r, progress=False, dataset=toy_dataset)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(r / "checkpoints" / "last.pt")
    assert str(r / "checkpoints" / "last.pt") in str(e.value) and "free some space" in str(e.value)
    assert isinstance(e.value, OSError) and "\n" not in str(e.value) and "previous checkpoint is intact" in str(e.value)
    assert sorted(p.name for p in (r / "checkpoints").iterdir()) == ["last.pt"] and RunDir(r).last_step() == 3
    monkeypatch.undo()  # space freed: resume loses at most one interval and ends bit-identical
    resumed = train(small_config(), r, resume=True, progress=False, dataset=toy_dataset)
    assert torch.equal(params(full.method), params(resumed.method))


def test_a_kill_mid_write_is_cleaned_up_and_resumes_exactly(tmp_path, toy_dataset):
    full = train(small_config(), tmp_path / "full", progress=False, dataset=toy_dataset)
    train(small_config(steps=3), tmp_path / "r", progress=False, dataset=toy_dataset)
    ckpts = tmp_path / "r" / "checkpoints"
    orphan = ckpts / f".last.pt.{dead_pid()}.abcd1234.tmp"  # what kill -9 during a write leaves
    legacy = ckpts / ".last.pt.k2j4h5g6.tmp"  # the name older versions used
    live = ckpts / f".last.pt.{os.getpid()}.zzzz9999.tmp"  # a write in progress (this process)
    for p in (orphan, legacy, live):
        p.write_bytes(b"\0" * 1000)
    with open(tmp_path / "r" / "logs" / "scalars.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # torn last line
    resumed = train(small_config(), tmp_path / "r", resume=True, progress=False, dataset=toy_dataset)
    assert torch.equal(params(full.method), params(resumed.method))
    assert not orphan.exists() and not legacy.exists() and live.exists()
    rows = [json.loads(l) for l in (tmp_path / "r" / "logs" / "scalars.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == [r["loss"] for r in full.history]


def test_orphans_are_removed_when_a_finished_run_is_loaded(toy_run, toy_dataset):
    orphan = toy_run / "checkpoints" / f".last.pt.{dead_pid()}.abcd1234.tmp"
    orphan.write_bytes(b"\0")
    load_run(toy_run, dataset=toy_dataset)
    assert not orphan.exists()


def test_resume_without_a_checkpoint_says_start_afresh(tmp_path, toy_dataset):
    r = tmp_path / "r"
    with pytest.raises(TrainingDiverged):
        train(small_config(hparams={"latent_dim": 3, "lr": 1e30}, steps=20, checkpoint_every=1000), r,
              progress=False, dataset=toy_dataset)
    with pytest.raises(RunDirError, match="no checkpoint.*without --resume"):
        train(small_config(), r, resume=True, progress=False, dataset=toy_dataset)


def test_a_full_disk_before_the_first_checkpoint_leaves_a_fresh_start(tmp_path, toy_dataset, monkeypatch):
    _full_disk_after(monkeypatch, 0)
    r = tmp_path / "r"
    with pytest.raises(RunDirWriteError, match="no checkpoint of this run was saved yet"):
        train(small_config(), r, progress=False, dataset=toy_dataset)
    monkeypatch.undo()
    assert train(small_config(), r, progress=False, dataset=toy_dataset).step == 6  # no --resume needed
