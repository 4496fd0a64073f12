"""The command line: real invocations of `untwine.cli.main` on short runs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from untwine.cli import main

LAZY = ["--dataset", "dsprites", "--dataset-option", "lazy=true"]


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--method", "nope"], "unknown method 'nope'"),
        (["--beta", "-1"], "beta must be >= 0"),
        (["--steps", "0"], "steps must be between 1 and"),
        (["--latent-dim", "0"], "latent_dim must be between 1 and 4096"),
        (["--dataset", "mnits"], "unknown dataset 'mnits'"),
        (["--dataset-option", "path=/nonexistent/dsprites.npz"], "/nonexistent/dsprites.npz"),
        (["--dataset-option", "colour=1"], "takes no option"),
    ],
)
def test_bad_input_gives_one_clear_message(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "r"), "--steps", "2", "--no-progress", *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_train_resume_traverse_report(capsys, tmp_path):
    r = tmp_path / "run"
    code, out, _ = run(capsys, "train", *LAZY, "--steps", "4", "--batch-size", "8", "--log-every", "2",
                       "--latent-dim", "3", "--beta", "2", "--out", str(r), "--no-progress")
    assert code == 0 and (r / "checkpoints" / "last.pt").is_file()
    cfg = (r / "config.yaml").read_text()
    assert "beta: 2.0" in cfg and "latent_dim: 3" in cfg
    # an existing run is never overwritten
    before = (r / "checkpoints" / "last.pt").read_bytes()
    code, _, err = run(capsys, "train", *LAZY, "--steps", "4", "--out", str(r), "--no-progress")
    assert code == 2 and "--resume" in err
    assert (r / "checkpoints" / "last.pt").read_bytes() == before
    # resume extends the run with the stored settings
    code, out, _ = run(capsys, "train", "--resume", "--steps", "6", "--out", str(r), "--no-progress")
    assert code == 0
    rows = [json.loads(l) for l in (r / "logs" / "scalars.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 4, 6]
    code, out, _ = run(capsys, "traverse", str(r), "--steps", "5")
    assert code == 0 and (r / "traversal.png").stat().st_size > 1000
    code, out, _ = run(capsys, "report", str(r))
    assert code == 0 and "<img" in (r / "report.html").read_text()
    # evaluation with the model's frozen trace (default) and eagerly: the same score up to rounding
    code, out, _ = run(capsys, "evaluate", str(r), "--metrics", "mig")
    fast = json.loads((r / "metrics.json").read_text())["mig"]
    code2, out2, _ = run(capsys, "evaluate", str(r), "--metrics", "mig", "--eager-encoder")
    eager = json.loads((r / "metrics.json").read_text())["mig"]
    assert code == code2 == 0 and "mig" in out2
    assert eager == pytest.approx(fast, abs=1e-4)
    # metric options from the command line: used (another score) and recorded with the defaults
    code, _, _ = run(capsys, "evaluate", str(r), "--metrics", "mig", "--metric-option", "mig.num_bins=3",
                     "--metric-option", "mig.num_train=500")
    saved = json.loads((r / "metrics.json").read_text())
    assert code == 0 and saved["evaluations"]["mig"]["options"] == {"num_bins": 3, "num_train": 500}
    assert saved["mig"] != fast


def test_resume_of_a_corrupt_checkpoint_is_a_clear_error(capsys, tmp_path):
    r = tmp_path / "run"
    assert run(capsys, "train", *LAZY, "--steps", "2", "--batch-size", "4", "--latent-dim", "2", "--out", str(r),
               "--no-progress")[0] == 0
    (r / "checkpoints" / "last.pt").write_bytes(b"garbage")
    code, _, err = run(capsys, "train", "--resume", "--steps", "4", "--out", str(r), "--no-progress")
    assert code == 2 and "corrupt" in err and "Traceback" not in err
    assert (r / "checkpoints" / "last.pt").read_bytes() == b"garbage"  # nothing overwritten


def test_not_a_run_dir(capsys, tmp_path):
    code, _, err = run(capsys, "traverse", str(tmp_path))
    assert code == 2 and "not an untwine run directory" in err


def test_list_and_help(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "beta_vae" in out and "dsprites" in out
    assert run(capsys, "frobnicate")[0] == 2


def test_console_script_installed():
    exe = shutil.which("untwine") or str(Path(__import__("sys").executable).parent / "untwine")
    if not Path(exe).exists():
        pytest.skip("console script not installed (package not installed with pip)")
    res = subprocess.run([exe, "train", "--method", "nope", "--out", "/tmp/x"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown method" in res.stderr


# ---- flags generated from the records; bad input is one line, exit 2 ---------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "1.5"], "batch_size must be an integer"),
        (["--batch-size", "100000000"], "batch_size must be between 1 and 65536, got 100000000"),
        (["--latent-dim", "1000000000000"], "latent_dim must be between 1 and 4096, got 1000000000000"),
        (["--steps", "ten"], "steps must be an integer, got 'ten'"),
        (["--architecture", "mpl"], "architecture='mpl' is not allowed (did you mean 'mlp'?); choose one of conv, mlp"),
        (["--bta", "2"], "unrecognized arguments: --bta 2 (did you mean --beta?)"),
        (["--method", "wela_vae", "--encoder-hidden", "a,b"], "encoder_hidden must be a list of integers"),
        (["--method", "wela_vae", "--gamma", "-0.5"], "gamma must be >= 0.0, got -0.5"),
        (["--threads", "many"], "threads must be an integer or null (automatic), got 'many'"),
        (["--dataset-option", "nokeyvalue"], "--dataset-option must look like KEY=VALUE"),
    ],
)
def test_bad_flag_is_one_line_naming_the_field(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "train", "--out", str(tmp_path / "r"), "--steps", "2", "--no-progress", *argv)
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_record_flags_reach_the_config(capsys, tmp_path):
    r = tmp_path / "r"
    code, _, err = run(capsys, "train", "--method", "wela_vae", "--dataset", "blobs", "--steps", "1", "--threads", "auto",
                       "--encoder-hidden", "8,8", "--decoder-hidden", "8", "--gamma", "none", "--lambda-d-factor", "2",
                       "--no-channels-last", "--out", str(r), "--no-progress")
    assert code == 0, err
    cfg = yaml.safe_load((r / "config.yaml").read_text())
    assert cfg["hparams"]["encoder_hidden"] == [8, 8] and cfg["hparams"]["gamma"] is None
    assert cfg["hparams"]["lambda_d_factor"] == 2.0 and cfg["threads"] is None and cfg["channels_last"] is False
    assert cfg["batch_size"] == 256  # WeLa-VAE's default, stored resolved


def test_help_lists_every_flag_with_its_default(capsys):
    from untwine.methods import get_method_class
    from untwine.train import TrainConfig

    with pytest.raises(SystemExit):
        main(["train", "--method", "wela_vae", "--out", "x", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for record in (TrainConfig, get_method_class("wela_vae").Hyperparameters):
        for spec in record.field_specs():
            if spec.name not in ("hparams", "dataset_options"):
                assert "--" + spec.name.replace("_", "-") in out
    assert "--no-channels-last" in out and "(default: 256)" in out and "(default: 1200,1200)" in out
    assert "[between 1 and 4096]" in out and "{tc,beta_vae,dip_vae_i,dip_vae_ii}" in out


@pytest.mark.parametrize(
    "text, message",
    [
        ("method: beta_vae\nhparams: [1, 2]\n", "hparams must be a Hyperparameters record or a mapping"),
        ("method: beta_vae\nbatch_size: many\n", "batch_size must be an integer"),
        ("method: beta_vae\nhparams: {latent_dim: 99999}\n", "latent_dim must be between 1 and 4096"),
        ("method: beta_vae\nsteps: 5\nfoo: 1\n", "unknown config key(s) 'foo'"),
    ],
)
def test_malformed_config_file(capsys, tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    code, _, err = run(capsys, "train", "--config", str(path), "--out", str(tmp_path / "r"))
    assert code == 2 and message in err and str(path) in err and err.count("\n") == 1


def test_out_pointing_at_a_file(capsys, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    code, _, err = run(capsys, "train", *LAZY, "--steps", "1", "--out", str(f), "--no-progress")
    assert code == 2 and "is an existing file" in err and "Traceback" not in err
    assert f.read_text() == "keep"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--limit", "nan"], "limit must be finite"),
        (["--limit", "inf"], "limit must be finite"),
        (["--limit", "0"], "limit must be > 0.0"),
        (["--limit", "-1"], "limit must be > 0.0"),
        (["--scale", "0"], "scale must be between 1 and 16, got 0"),
        (["--scale", "100000"], "scale must be between 1 and 16"),
        (["--steps", "1000000"], "steps must be between 2 and 100"),
        (["--index", "1.5"], "index must be an integer, got '1.5'"),
        (["--index", "-1"], "index must be >= 0, got -1"),
    ],
)
def test_traverse_garbage(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "traverse", str(tmp_path), *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "traversal.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["--metric-option", "mig.num_binz=3"], "valid options: num_train, num_bins. Did you mean 'num_bins'?"),
    (["--metric-option", "num_bins=3"], "must look like METRIC.KEY=VALUE"),
    (["--metric-option", "mig.num_bins"], "must look like KEY=VALUE"),
    (["--metric-option", "dci.num_train=100"], "--metric-option for dci, which --metrics 'mig' does not compute"),
    (["--metric-option", "mgi.num_bins=3"], "mgi"),
])
def test_bad_metric_options_are_one_line(capsys, tmp_path, argv, message):
    code, _, err = run(capsys, "evaluate", str(tmp_path), "--metrics", "mig", *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "metrics.json").exists()


def test_empty_metrics_is_an_error_not_mig(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", str(tmp_path), "--metrics", "")
    assert code == 2 and "names no metric" in err


def test_list_shows_each_metric_with_its_help(capsys, monkeypatch):
    import untwine.metrics as M

    monkeypatch.setattr(M, "describe_metrics", lambda: [("mig", "Mutual Information Gap"), ("sap", "SAP score")],
                        raising=False)
    code, out, _ = run(capsys, "list")
    assert code == 0 and "mig  Mutual Information Gap" in out and "sap  SAP score" in out


def _fail_writes(monkeypatch, err_no):
    """Every directory creation and atomic write fails with ``err_no`` (as root, permissions are not enforced)."""
    import os
    import tempfile

    def raise_(path, *a, **k):
        raise OSError(err_no, os.strerror(err_no), str(path))

    monkeypatch.setattr(os, "mkdir", raise_)
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: raise_(dir))


@pytest.mark.parametrize("err_no, message", [("EROFS", "the file system is read-only"),
                                             ("EACCES", "permission denied"),
                                             ("ENOTDIR", "a part of the path is a file")])
def test_unwritable_out_is_one_line(capsys, tmp_path, monkeypatch, err_no, message):
    import errno

    _fail_writes(monkeypatch, getattr(errno, err_no))
    r = tmp_path / "r"
    code, _, err = run(capsys, "train", "--dataset", "blobs", "--steps", "1", "--out", str(r), "--no-progress")
    assert code == 2 and message in err and str(r) in err and err.count("\n") == 1


def test_full_disk_is_one_line(capsys, tmp_path, monkeypatch):
    import errno
    import tempfile

    r = tmp_path / "r"
    r.mkdir()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    code, _, err = run(capsys, "train", "--dataset", "blobs", "--steps", "1", "--out", str(r), "--no-progress")
    assert code == 2 and "no space left on the device" in err and "--resume" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["evaluate", "report", "traverse"])
def test_ctrl_c_outside_train_does_not_offer_resume(capsys, tmp_path, monkeypatch, command):
    from untwine.train import TrainConfig

    (tmp_path / "config.yaml").write_text(TrainConfig().to_yaml())

    def interrupt(cls, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(TrainConfig, "from_yaml", classmethod(interrupt))
    code, _, err = run(capsys, command, str(tmp_path))
    assert code == 130 and "interrupted" in err and "--resume" not in err


def test_ctrl_c_in_train_offers_resume(capsys, tmp_path, monkeypatch):
    from untwine.train import TrainConfig

    (tmp_path / "c.yaml").write_text(TrainConfig().to_yaml())
    monkeypatch.setattr(TrainConfig, "from_yaml", classmethod(lambda cls, path: (_ for _ in ()).throw(KeyboardInterrupt)))
    code, _, err = run(capsys, "train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "r"))
    assert code == 130 and "--resume" in err
