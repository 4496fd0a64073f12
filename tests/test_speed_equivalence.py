"""Speed settings change no results: channels-last training equals contiguous training up to float
rounding (single- and multi-optimiser methods), and untwine's OpenMP wait-policy default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from untwine.methods import DataFacts
from untwine.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def params(method):
    return torch.cat([p.detach().flatten() for p in method.parameters()])


@pytest.mark.parametrize("method,hparams", [("beta_vae", {"latent_dim": 3}), ("factor_vae", {"latent_dim": 3})])
def test_channels_last_trains_the_same_model(tmp_path, toy_dataset, method, hparams):
    runs = {}
    for cl in (False, True):
        cfg = TrainConfig(method=method, dataset="toy_squares", hparams=hparams, steps=5, batch_size=8, seed=1,
                          log_every=1, checkpoint_every=5, channels_last=cl)
        runs[cl] = train(cfg, tmp_path / str(cl), progress=False, dataset=toy_dataset)
    a, b = params(runs[False].method), params(runs[True].method)
    start = params(type(runs[False].method)(runs[False].method.hparams, DataFacts.of(toy_dataset)))
    assert not torch.allclose(a, start)  # it trained
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    for ra, rb in zip(runs[False].history, runs[True].history):
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5)


def test_channels_last_is_the_default():
    assert TrainConfig().channels_last is True


def _policy(env_value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    code = "import os, untwine; print(os.environ['OMP_WAIT_POLICY'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_openmp_threads_sleep_unless_the_user_says_otherwise():
    assert _policy(None) == "PASSIVE"
    assert _policy("ACTIVE") == "ACTIVE"
