"""Every zoo method is trainable from ``untwine train --method NAME`` with its hyperparameters as flags."""

import pytest
import yaml

from untwine.cli import main

CASES = [
    ("beta_tcvae", ["--beta", "4", "--tc-estimator", "mss"], {"beta": 4.0, "tc_estimator": "mss"}),
    ("factor_vae", ["--gamma", "20", "--disc-hidden", "16", "--disc-layers", "2"], {"gamma": 20.0, "disc_hidden": 16}),
    ("dip_vae_i", ["--lambda-od", "2"], {"lambda_od": 2.0, "lambda_d_factor": 10.0}),
    ("dip_vae_ii", ["--lambda-3", "200"], {"lambda_3": 200.0, "lambda_d_factor": 1.0}),
    ("annealed_vae", ["--c-max", "5", "--iteration-threshold", "10"], {"c_max": 5.0, "iteration_threshold": 10}),
    ("wela_vae", ["--resolution", "2", "--encoder-hidden", "16,16", "--decoder-hidden", "16", "--no-label-encoder",
                  "--regularizer", "dip_vae_ii"], {"resolution": 2, "encoder_hidden": [16, 16], "label_encoder": False}),
]


@pytest.mark.parametrize("method,flags,expected", CASES)
def test_train_from_cli(tmp_path, method, flags, expected):
    out = tmp_path / method
    argv = ["train", "--method", method, "--dataset", "blobs", "--steps", "2", "--batch-size", "4", "--threads", "1",
            "--out", str(out), *flags]
    if method != "wela_vae":
        argv += ["--latent-dim", "3"]
    assert main(argv) == 0
    hp = yaml.safe_load((out / "config.yaml").read_text())["hparams"]
    for k, v in expected.items():
        assert hp[k] == v
    assert (out / "checkpoints" / "last.pt").is_file()


def test_bad_flag_value_is_a_clear_error(tmp_path, capsys):
    rc = main(["train", "--method", "wela_vae", "--dataset", "blobs", "--gamma", "-0.5", "--out", str(tmp_path / "x")])
    assert rc != 0
    assert "gamma" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # rejected before the run directory is created
