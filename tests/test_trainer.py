import json

import pytest
import torch

from untwine.methods import ConfigError
from untwine.train import RunDirError, TrainConfig, TrainingDiverged, load_run, train


def small_config(**kw):
    base = dict(method="beta_vae", dataset="toy_squares", hparams={"latent_dim": 3}, steps=6, batch_size=8,
                seed=3, log_every=2, checkpoint_every=3)
    base.update(kw)
    return _cfg(base)


def _cfg(values):
    # toy_squares is not a registered dataset; validation only checks the method part
    return TrainConfig(**values)


def params(method):
    return torch.cat([p.detach().flatten() for p in method.parameters()])


def test_same_seed_same_numbers(tmp_path, toy_dataset):
    a = train(small_config(), tmp_path / "a", progress=False, dataset=toy_dataset)
    b = train(small_config(), tmp_path / "b", progress=False, dataset=toy_dataset)
    assert torch.equal(params(a.method), params(b.method))
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    c = train(small_config(seed=4), tmp_path / "c", progress=False, dataset=toy_dataset)
    assert not torch.equal(params(a.method), params(c.method))


def test_resume_continues_exactly(tmp_path, toy_dataset):
    full = train(small_config(), tmp_path / "full", progress=False, dataset=toy_dataset)
    train(small_config(steps=3), tmp_path / "part", progress=False, dataset=toy_dataset)
    resumed = train(small_config(), tmp_path / "part", resume=True, progress=False, dataset=toy_dataset)
    assert torch.equal(params(full.method), params(resumed.method))
    rows = [json.loads(l) for l in (tmp_path / "part" / "logs" / "scalars.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert [r["loss"] for r in rows] == [r["loss"] for r in full.history]


def test_existing_run_dir_is_not_overwritten(tmp_path, toy_dataset):
    train(small_config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    before = (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(RunDirError, match="--resume"):
        train(small_config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    assert (tmp_path / "r" / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_with_missing_or_corrupt_checkpoint(tmp_path, toy_dataset):
    with pytest.raises(RunDirError, match="config.yaml does not exist"):
        train(small_config(), tmp_path / "none", resume=True, progress=False, dataset=toy_dataset)
    train(small_config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    ckpt = tmp_path / "r" / "checkpoints" / "last.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(RunDirError, match="corrupt"):
        train(small_config(steps=8), tmp_path / "r", resume=True, progress=False, dataset=toy_dataset)
    ckpt.unlink()
    with pytest.raises(RunDirError, match="no checkpoint"):
        train(small_config(steps=8), tmp_path / "r", resume=True, progress=False, dataset=toy_dataset)


def test_resume_with_other_settings_is_refused(tmp_path, toy_dataset):
    train(small_config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    with pytest.raises(RunDirError, match="requested settings differ from its checkpoint in hparams.latent_dim"):
        train(small_config(hparams={"latent_dim": 4}), tmp_path / "r", resume=True, progress=False, dataset=toy_dataset)


def test_nan_guard_names_the_problem(tmp_path, toy_dataset):
    with pytest.raises(TrainingDiverged, match="lower learning rate"):
        train(small_config(hparams={"latent_dim": 3, "lr": 1e30}, steps=20), tmp_path / "r", progress=False,
              dataset=toy_dataset)


@pytest.mark.parametrize("bad", [{"steps": 0}, {"batch_size": -1}, {"seed": -2}, {"method": "nope"},
                                 {"hparams": {"beta": -1}}, {"device": "tpu"}])
def test_invalid_config(bad):
    with pytest.raises(ConfigError):
        small_config(**bad)


def test_training_lowers_the_loss(tmp_path, toy_dataset):
    r = train(small_config(steps=60, log_every=10, batch_size=16, hparams={"latent_dim": 3, "lr": 1e-3}),
              tmp_path / "r", progress=False, dataset=toy_dataset)
    assert r.history[-1]["loss"] < 0.5 * r.history[0]["loss"]


def test_load_run_restores_the_model(tmp_path, toy_dataset):
    r = train(small_config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    loaded = load_run(tmp_path / "r", dataset=toy_dataset)
    assert torch.equal(params(r.method), params(loaded.method))


# ---- a method with two optimisers and two sequential phases (GAN-style) --------------------
from dataclasses import dataclass  # noqa: E402

from torch import nn  # noqa: E402

from untwine.methods import Method, OptimizerSpec, StepOutput  # noqa: E402
from untwine.methods.base import Hyperparameters, hp  # noqa: E402


@dataclass
class TwoPhaseParams(Hyperparameters):
    latent_dim: int = hp(2, "code size", low=1)


class TwoPhase(Method):
    """Phase 1 moves only the 'critic' (a scalar), phase 2 only the 'model' (an encoder)."""

    name = "two_phase_test"
    Hyperparameters = TwoPhaseParams

    def __init__(self, hparams, data):
        super().__init__(hparams, data)
        self.enc = nn.Linear(64 * 64, hparams.latent_dim)
        self.critic = nn.Parameter(torch.zeros(()))
        self.calls = []

    def encode(self, x):
        return self.enc(self.prepare(x).flatten(1))

    def optimizers(self):
        return {"model": OptimizerSpec(list(self.enc.parameters()), lr=1e-2),
                "critic": OptimizerSpec([self.critic], lr=1e-1)}

    def critic_phase(self, batch, step):
        self.calls.append(("critic", float(self.critic)))
        return StepOutput({"critic": (self.critic - 1.0) ** 2}, {"critic": self.critic.detach()})

    def model_phase(self, batch, step):
        self.calls.append(("model", float(self.critic)))
        z = self.encode(batch["images"]["x"])
        return StepOutput({"model": (z - self.critic.detach()).pow(2).mean()}, {"fit": (z - self.critic).pow(2).mean()})

    def phases(self):
        return [self.critic_phase, self.model_phase]


def test_sequential_phases_and_separate_optimisers(tmp_path, toy_dataset, monkeypatch):
    from untwine.methods import base as mbase

    monkeypatch.setitem(mbase._METHODS, TwoPhase.name, TwoPhase)
    cfg = TrainConfig(method=TwoPhase.name, dataset="toy_squares", steps=3, batch_size=4, log_every=1)
    r = train(cfg, tmp_path / "r", progress=False, dataset=toy_dataset)
    kinds = [k for k, _ in r.method.calls]
    assert kinds == ["critic", "model"] * 3
    # the model phase of a step sees the critic already updated by the critic phase of that step
    crit = [v for k, v in r.method.calls if k == "critic"]
    model = [v for k, v in r.method.calls if k == "model"]
    assert model[0] != crit[0] and model[0] == crit[1]
    assert (tmp_path / "r" / "logs" / "tensorboard").is_dir()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "r" / "logs" / "tensorboard").iterdir())


def test_shared_parameters_between_optimisers_are_rejected(tmp_path, toy_dataset, monkeypatch):
    from untwine.methods import base as mbase

    class Shared(TwoPhase):
        name = "shared_params_test"

        def optimizers(self):
            return {"model": OptimizerSpec(list(self.parameters())), "critic": OptimizerSpec([self.critic])}

    monkeypatch.setitem(mbase._METHODS, Shared.name, Shared)
    cfg = TrainConfig(method=Shared.name, dataset="toy_squares", steps=1, batch_size=4)
    with pytest.raises(ConfigError, match="disjoint"):
        train(cfg, tmp_path / "r", progress=False, dataset=toy_dataset)
