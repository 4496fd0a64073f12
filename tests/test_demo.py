"""`untwine demo` (what `make run` runs): trains the demo model, evaluates it, says which latent holds
which factor and writes the report. A short run on lazily rendered dSprites."""

import json

import pytest

from untwine import cli as cli_module
from untwine.cli import main
from untwine.train import TrainConfig

pytestmark = pytest.mark.integration


def test_the_demo_trains_evaluates_names_the_factor_latents_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--steps", "4", "--metrics", "mig,factors_captured",
            "--dataset-option", "lazy=true"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    config = TrainConfig.from_yaml(out / "config.yaml")
    assert config.method == cli_module.DEMO_METHOD and config.batch_size == cli_module.DEMO_BATCH
    assert config.hparams.beta == cli_module.DEMO_HPARAMS["beta"] and config.steps == 4
    scores = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= scores["mig"] <= 1.0 and 0 <= scores["factors_captured"] <= 5
    # one line per varying dSprites factor, each naming its best latent
    for name in ("shape", "scale", "orientation", "posX", "posY"):
        assert any(line.split()[:1] == [name] and line.split()[1].startswith("z") for line in printed.splitlines()), printed
    html = (out / "report.html").read_text()
    assert "Which latent holds which factor" in html
    # a second call continues the same run to more steps
    assert main(["demo", "--out", str(out), "--steps", "6", "--metrics", "mig", "--dataset-option", "lazy=true"]) == 0
    assert "(resuming)" in capsys.readouterr().out
    assert TrainConfig.from_yaml(out / "config.yaml").steps == 6


def test_a_malformed_dataset_option_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--dataset-option", "lazy"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
