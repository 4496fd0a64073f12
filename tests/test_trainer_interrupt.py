"""Ctrl-C exact resume: the checkpoint written on an interrupt is the state after the last
completed step, so interrupting and resuming gives every tensor and logged row of an
uninterrupted run."""

import json
import os
import signal

import pytest
import torch

from untwine.methods.beta_vae import BetaVAE
from untwine.methods.factor_vae import FactorVAE
from untwine.train import TrainConfig, TrainingDiverged, train


def config(method="beta_vae", **kw):
    hparams = {"latent_dim": 3, **({"disc_hidden": 8} if method == "factor_vae" else {})}
    base = dict(method=method, dataset="toy_squares", hparams=hparams, steps=12, batch_size=8, seed=5,
                log_every=4, checkpoint_every=5)
    return TrainConfig(**{**base, **kw})


def tensors(obj, prefix=""):
    """Every tensor and number in a (nested) checkpoint, by path."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(tensors(v, f"{prefix}{k}."))
        return out
    if isinstance(obj, (list, tuple)):
        out = {}
        for i, v in enumerate(obj):
            out.update(tensors(v, f"{prefix}{i}."))
        return out
    return {prefix: obj} if isinstance(obj, (torch.Tensor, int, float)) else {}


def assert_same_run(a, b):
    ca = torch.load(a / "checkpoints" / "last.pt", weights_only=False)
    cb = torch.load(b / "checkpoints" / "last.pt", weights_only=False)
    ta, tb = tensors(ca), tensors(cb)
    assert ta.keys() == tb.keys()
    differ = [k for k in ta if not (torch.equal(ta[k], tb[k]) if isinstance(ta[k], torch.Tensor) else ta[k] == tb[k])]
    assert not differ, f"{len(differ)} of {len(ta)} checkpoint entries differ: {differ[:5]}"

    def rows(run):
        lines = (run / "logs" / "scalars.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(l).items() if k != "images_per_second"} for l in lines]

    assert rows(a) == rows(b)


@pytest.fixture(autouse=True)
def ctrl_c_reaches_python():
    """Python's own Ctrl-C handler, as in a terminal: a job started in the background of a
    non-interactive shell (a CI script run with ``&``) begins with SIGINT ignored, and the trainer
    rightly leaves an ignored Ctrl-C alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_inside(monkeypatch, cls, at_step, how, phase_name="training_step"):
    """Make ``cls.<phase_name>`` interrupt once, inside the step whose ``step`` argument is ``at_step``."""
    original = getattr(cls, phase_name)
    fired = []

    def phase(self, batch, step):
        if step == at_step and not fired:
            fired.append(step)
            if how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered inside the step
        return original(self, batch, step)

    monkeypatch.setattr(cls, phase_name, phase)
    return fired


@pytest.mark.parametrize("how", ["sigint", "raise"])
def test_interrupt_inside_a_step_resumes_exactly(tmp_path, toy_dataset, monkeypatch, how):
    train(config(), tmp_path / "full", progress=False, dataset=toy_dataset)
    fired = interrupt_inside(monkeypatch, BetaVAE, at_step=6, how=how)  # step 7: neither a log nor a checkpoint step
    with pytest.raises(KeyboardInterrupt):
        train(config(), tmp_path / "cut", progress=False, dataset=toy_dataset)
    assert fired == [6]
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=False)
    # a Ctrl-C lets the step finish (7 steps); a KeyboardInterrupt before any update rewinds it (6)
    assert saved["step"] == (7 if how == "sigint" else 6)
    train(config(), tmp_path / "cut", resume=True, progress=False, dataset=toy_dataset)
    assert_same_run(tmp_path / "full", tmp_path / "cut")


def test_interrupt_after_a_partial_update_keeps_the_last_checkpoint(tmp_path, toy_dataset, monkeypatch):
    """FactorVAE: a KeyboardInterrupt inside the update (after the first optimiser stepped) must not
    save the half-updated state; the run resumes from the last periodic checkpoint."""
    train(config("factor_vae"), tmp_path / "full", progress=False, dataset=toy_dataset)
    original = torch.optim.Adam.step
    calls = []

    def step(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2 * 7 + 1:  # step 8: after the first of the two optimisers stepped
            raise KeyboardInterrupt
        return original(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    with pytest.raises(KeyboardInterrupt):
        train(config("factor_vae"), tmp_path / "cut", progress=False, dataset=toy_dataset)
    monkeypatch.setattr(torch.optim.Adam, "step", original)
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=False)["step"] == 5
    train(config("factor_vae"), tmp_path / "cut", resume=True, progress=False, dataset=toy_dataset)
    assert_same_run(tmp_path / "full", tmp_path / "cut")


def test_interrupt_in_on_log_resumes_exactly(tmp_path, toy_dataset):
    train(config(), tmp_path / "full", progress=False, dataset=toy_dataset)

    def on_log(row):
        if row["step"] == 8:  # a log step that is not a checkpoint step
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config(), tmp_path / "cut", progress=False, dataset=toy_dataset, on_log=on_log)
    train(config(), tmp_path / "cut", resume=True, progress=False, dataset=toy_dataset)
    assert_same_run(tmp_path / "full", tmp_path / "cut")


def test_divergence_before_any_checkpoint_says_there_is_none(tmp_path, toy_dataset):
    with pytest.raises(TrainingDiverged) as err:
        train(config(hparams={"latent_dim": 3, "lr": 1e30}, steps=20, checkpoint_every=100), tmp_path / "r",
              progress=False, dataset=toy_dataset)
    assert "no checkpoint was saved yet" in str(err.value) and "intact" not in str(err.value)
    with pytest.raises(TrainingDiverged, match=r"checkpoint of step 1 .* is intact"):
        train(config(hparams={"latent_dim": 3, "lr": 1e30}, steps=20, checkpoint_every=1), tmp_path / "s",
              progress=False, dataset=toy_dataset)
