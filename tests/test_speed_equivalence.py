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


def _openmp_env(**given):
    """OMP_WAIT_POLICY and GOMP_SPINCOUNT after ``import untwine`` in a fresh interpreter, with ``given``
    (None: unset) in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update({k: v for k, v in given.items() if v is not None})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    code = "import os, untwine; print(os.environ['OMP_WAIT_POLICY'], os.environ.get('GOMP_SPINCOUNT', '-'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return tuple(out.split())


def test_openmp_threads_spin_briefly_then_sleep_unless_the_user_says_otherwise():
    assert _openmp_env() == ("PASSIVE", "10000")
    assert _openmp_env(OMP_WAIT_POLICY="ACTIVE") == ("ACTIVE", "-")  # the user's spinning is not bounded
    assert _openmp_env(GOMP_SPINCOUNT="0") == ("PASSIVE", "0")
