"""The command line: real invocations of `untwine.cli.main` on short runs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

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
