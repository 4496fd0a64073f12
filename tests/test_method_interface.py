"""The method interface: named streams, optimiser classes and schedules, events, side inputs, and
exact resume across events (with the method of tests/interface_method.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interface_method import InterfaceMethod
from test_trainer_interrupt import assert_same_run
from untwine.data import get_dataset, make_sampler
from untwine.data.samplers import count_images
from untwine.methods import ConfigError, DataFacts, OptimizerSpec, build_method
from untwine.methods import base as mbase
from untwine.train import TrainConfig, train


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(mbase._METHODS, InterfaceMethod.name, InterfaceMethod)


def config(**kw):
    base = dict(method=InterfaceMethod.name, dataset="toy_squares", steps=8, batch_size=4, seed=2, log_every=2,
                checkpoint_every=100)
    return TrainConfig(**{**base, **kw})


def ckpt(run):
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


@pytest.mark.parametrize("first", [2, 3, 4, 5, 6])  # before, at and between the events (steps 3 and 5)
def test_resume_across_events_is_exact(tmp_path, toy_dataset, registered, first):
    full = train(config(), tmp_path / "full", progress=False, dataset=toy_dataset)
    train(config(steps=first), tmp_path / "part", progress=False, dataset=toy_dataset)
    train(config(), tmp_path / "part", resume=True, progress=False, dataset=toy_dataset)
    assert_same_run(tmp_path / "full", tmp_path / "part")
    assert bool(full.method.prior_ready) and not torch.equal(full.method.prior_mean, torch.zeros(2))


def test_events_schedules_and_streams_reach_the_checkpoint(tmp_path, toy_dataset, registered):
    r = train(config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    state = ckpt(tmp_path / "r")
    # the critic was rebuilt at step 5: its RMSprop state counts the 3 steps since
    critic_state = state["optimizers"]["critic"]["state"]
    assert {float(s["step"]) for s in critic_state.values()} == {3.0}
    assert float(state["optimizers"]["model"]["state"][0]["step"]) == 8.0
    # StepLR(step_size=2, gamma=0.5) over 8 steps: lr 1e-2 * 0.5^4, and its state is saved
    assert r.method.optimizers()["model"].lr == 1e-2
    assert state["schedules"]["model"]["last_epoch"] == 8
    assert state["optimizers"]["model"]["param_groups"][0]["lr"] == pytest.approx(1e-2 * 0.5**4)
    assert set(state["samplers"]) == {"images", "pairs"}
    assert bool(state["model"]["prior_ready"])


def test_primary_stream_keeps_the_seed_and_streams_differ(toy_dataset):
    from untwine.data.samplers import StreamSpec, Streams

    streams = Streams({"images": StreamSpec("images"), "other": StreamSpec("images", batch_size=3)}, toy_dataset, 4, seed=7)
    reference = make_sampler("images", toy_dataset, 4, seed=7)
    batch = streams.draw(0)
    assert torch.equal(batch["images"]["index"], next(reference)["index"])
    assert batch["other"]["index"].shape == (3,)
    late = Streams({"images": StreamSpec("images"), "late": StreamSpec("images", start=2)}, toy_dataset, 4, seed=7)
    assert set(late.draw(0)) == {"images"} and set(late.draw(2)) == {"images", "late"}


def test_images_are_counted_per_image():
    x = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    batches = {"images": {"x": x, "index": torch.arange(4)},
               "pairs": {"x1": x[:2], "x2": x[:2], "shared": torch.ones(2, 3, dtype=torch.bool)},
               "groups": {"x": torch.zeros(2, 3, 1, 8, 8, dtype=torch.uint8)}}
    assert count_images(batches) == 4 + 2 + 2 + 6


def test_optimizer_declarations_name_class_settings_and_schedule():
    p = [torch.nn.Parameter(torch.zeros(3))]
    assert isinstance(OptimizerSpec(p).build(), torch.optim.Adam)
    sgd = OptimizerSpec(p, lr=0.1, kind="sgd", settings={"momentum": 0.9}).build()
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    assert isinstance(OptimizerSpec(p, kind="adamw", settings={"weight_decay": 0.1}).build(), torch.optim.AdamW)
    with pytest.raises(ConfigError, match="unknown optimiser 'adamm'.*adam"):
        OptimizerSpec(p, kind="adamm").build()
    with pytest.raises(ConfigError, match="no setting momentun.*momentum"):
        OptimizerSpec(p, kind="sgd", settings={"momentun": 0.9}).build()
    opt = OptimizerSpec(p).build()
    with pytest.raises(ConfigError, match="unknown learning-rate schedule"):
        OptimizerSpec(p, schedule="stepp").build_schedule(opt)
    lam = OptimizerSpec(p, schedule=lambda step: 0.5).build_schedule(opt)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-4) and lam is not None


def test_vae_record_declares_what_the_base_reads():
    from untwine.methods.base import VAEHyperparameters

    names = {f for f in VAEHyperparameters.__dataclass_fields__}
    assert {"architecture", "encoder_hidden", "decoder_hidden", "activation", "reconstruction", "lr", "beta1",
            "beta2"} <= names
    m = build_method("beta_vae", DataFacts((1, 16, 16)), architecture="mlp", encoder_hidden=(8,), decoder_hidden=(6,),
                     activation="tanh", latent_dim=2)
    assert [l.out_features for l in m.encoder.modules() if isinstance(l, torch.nn.Linear)] == [8]
    assert m.decode(torch.zeros(1, 2)).shape == (1, 1, 16, 16)
    with pytest.raises(ConfigError, match="architecture='mlp'"):
        build_method("beta_vae", DataFacts((1, 64, 64)), encoder_hidden=(8,))


def test_encoder_and_decoder_can_be_passed_in():
    from untwine.methods.beta_vae import BetaVAE, BetaVAEParams
    from untwine.nn import build_decoder, build_encoder

    enc, dec = build_encoder("mlp", (1, 8, 8), (5,)), build_decoder("mlp", 3, (1, 8, 8), (7,))
    m = BetaVAE(BetaVAEParams(latent_dim=3, architecture="mlp"), DataFacts((1, 8, 8)), encoder=enc, decoder=dec)
    assert m.encoder is enc and m.decoder is dec and m.head.mean.in_features == 5


def test_data_facts_of_a_dataset(toy_dataset):
    facts = DataFacts.of(toy_dataset)
    assert (facts.image_shape, facts.size, facts.factor_names, facts.factor_sizes) == ((1, 64, 64), 36, ("row", "column"), (6, 6))
    assert build_method("beta_tcvae", toy_dataset).dataset_size() == 36


def test_wela_side_inputs_are_the_sampler_labels():
    blobs = get_dataset("blobs")
    m = build_method("wela_vae", blobs, encoder_hidden=(16,), decoder_hidden=(16,), resolution=3)
    sampler = make_sampler("weak_labels", blobs, 8, seed=0, **m.streams()["images"].options)
    batch = next(sampler)
    side = m.encode_side_inputs(blobs.index_to_classes(batch["index"].numpy()))
    assert set(side) == {"labels"} and torch.equal(side["labels"], batch["labels"])
    assert m.encode(batch["x"], **side).shape == (8, 2)
    free = build_method("wela_vae", blobs, encoder_hidden=(16,), decoder_hidden=(16,), label_encoder=False)
    assert free.encode_side_inputs(np.zeros((2, 2), dtype=np.int64)) == {}


def test_events_must_be_at_valid_steps(tmp_path, toy_dataset, registered, monkeypatch):
    monkeypatch.setattr(InterfaceMethod, "events", lambda self: {-1: self.build_prior})
    with pytest.raises(ConfigError, match="event steps"):
        train(config(), tmp_path / "r", progress=False, dataset=toy_dataset)
    assert not (tmp_path / "r").exists()  # validated before the run directory is made


def test_report_and_traversals_encode_with_side_inputs(tmp_path):
    """WeLa-VAE with its label encoder: traversals and the report encode with the labels (they
    stopped with 'needs the weak labels' before)."""
    from untwine.train import load_run
    from untwine.viz import traversal_grid
    from untwine.viz.report import write_report

    blobs = get_dataset("blobs")
    cfg = TrainConfig(method="wela_vae", dataset="blobs", hparams={"encoder_hidden": [16], "decoder_hidden": [16]},
                      steps=2, batch_size=8, log_every=1, checkpoint_every=2)
    train(cfg, tmp_path / "r", progress=False, dataset=blobs)
    run = load_run(tmp_path / "r", dataset=blobs)
    assert traversal_grid(run.method, blobs, index=5, steps=4).shape[0] > 0
    path = write_report(tmp_path / "r", run.method, blobs, run.config.to_dict(), run.history, n_examples=4)
    assert "Latent traversals" in path.read_text()
