"""Seed 004: interventions, the intervention model's losses, the translation difficulty (Algorithm 1)
as a loss and as a metric, correlated/independent training sets scored on their held-out test
set, and the errors of bad settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from test_contract_methods import TinyGrid
from untwine import cli
from untwine.data import get_dataset
from untwine.data.weak import evaluation_part, expected_correlation, factor_correlation
from untwine.methods import build_method
from untwine.metrics import evaluate
from untwine.nn.translation import intervene, swap_features, translation_difficulty
from untwine.records import ConfigError
from untwine.train import TrainConfig, evaluate_run, train

FAST = {"translation_batch": 4}


# ---- interventions ------------------------------------------------------------------------------
def test_interventions_change_exactly_feature_k():
    g = torch.Generator().manual_seed(0)
    z, src = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    k = torch.tensor([0, 1, 2, 3, 1, 0])
    out = swap_features(z, src, k, feature_size=2)  # 4 features of 2 dims
    for i, ki in enumerate(k.tolist()):
        dims = list(range(2 * ki, 2 * ki + 2))
        rest = [j for j in range(8) if j not in dims]
        assert torch.equal(out[i, dims], src[i, dims]) and torch.equal(out[i, rest], z[i, rest])
    value = torch.tensor([5.0, -5.0])
    set3 = intervene(z, 3, value, feature_size=2)
    assert torch.equal(set3[:, 6:], value.expand(6, 2)) and torch.equal(set3[:, :6], z[:, :6])
    assert not torch.equal(z[:, 6:], set3[:, 6:])  # z itself is not modified in place


class LinearDecoder(nn.Module):
    """logits = A z (a 64x64 image)."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.a = a

    def forward(self, z):
        return (z @ self.a.T).reshape(-1, 1, 64, 64)


class InverseEncoder(nn.Module):
    """The exact inverse of LinearDecoder on its images: pinv(A) logit(x)."""

    def __init__(self, a: torch.Tensor):
        super().__init__()
        self.pinv = torch.linalg.pinv(a)

    def forward(self, x):
        return torch.logit(x.double().flatten(1)) @ self.pinv.T


def test_the_double_intervention_of_a_perfect_autoencoder_returns_the_input():
    m = build_method("intervention", (1, 64, 64), **FAST).double()
    a = torch.randn(64 * 64, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.3
    m.decoder, m.encoder = LinearDecoder(a), InverseEncoder(a)
    g = torch.Generator().manual_seed(2)
    z, z_r = torch.randn(8, 10, generator=g, dtype=torch.float64), torch.randn(8, 10, generator=g, dtype=torch.float64)
    k = torch.arange(8) % 10
    x1, x2_logits = m.intervene_twice(z, z_r, k)
    torch.testing.assert_close(x2_logits, m.decoder(z), atol=1e-6, rtol=0)  # x^2 = x
    # the first intervention did change the image (the test is not vacuous)
    assert (x1 - torch.sigmoid(m.decoder(z))).abs().max() > 0.01


def test_normalised_weights_average_one_and_follow_w():
    m = build_method("intervention", (1, 64, 64), **FAST)
    x = torch.rand(16, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    w = m.normalised_weights(x)
    assert w.shape == (16,) and torch.isclose(w.mean(), torch.tensor(1.0), atol=1e-5)
    raw = torch.exp(m.weight_net(x))
    torch.testing.assert_close(w, raw / raw.mean(), rtol=1e-4, atol=1e-6)  # exp output over its batch mean
    assert w.std() > 0  # an untrained W still weighs images differently


# ---- translation difficulty ---------------------------------------------------------------------
REGIONS = [(slice(4, 20), slice(4, 20)), (slice(30, 46), slice(8, 24)), (slice(10, 26), slice(40, 56)),
           (slice(44, 60), slice(44, 60))]


class BlockModel(nn.Module):
    """Codes of 4 features; feature j brightens block j. With ``entangled``, feature 0 also darkens
    block 1 and moves a bar in block 3: it changes several image factors."""

    feature_size = 1

    def __init__(self, entangled: bool):
        super().__init__()
        self.entangled = entangled

    def encode(self, x):
        x = x.float() / 255 if x.dtype == torch.uint8 else x
        return torch.stack([x[:, 0, r, c].mean((1, 2)) * 4 - 2 for r, c in REGIONS], 1)

    def decode(self, z):
        logits = torch.full((z.shape[0], 1, 64, 64), -6.0)
        for j, (r, c) in enumerate(REGIONS):
            logits[:, 0, r, c] = 3 * z[:, j, None, None]
        if self.entangled:
            logits[:, 0, REGIONS[1][0], REGIONS[1][1]] -= 3 * z[:, 0, None, None]
            shift = (z[:, 0] * 4).round().long().clamp(-6, 6)
            cols = torch.arange(64)
            bar = (cols[None] - 52 - shift[:, None]).abs() < 2  # a bar whose position follows feature 0
            logits[:, 0, 40:44, :] = torch.where(bar, 6.0, -6.0)[:, None, :].expand(-1, 4, -1)
        return logits


class BlockImages:
    """Images of BlockModel(False) for random codes: what the metric samples."""

    name, image_shape, factor_names, factor_sizes = "blocks", (1, 64, 64), (), ()

    def __init__(self, n=64):
        z = torch.rand(n, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.x = (torch.sigmoid(BlockModel(False).decode(z)) * 255).round().to(torch.uint8)

    def __len__(self):
        return len(self.x)

    def images(self, idx):
        return self.x[torch.as_tensor(np.asarray(idx))]


def test_l_diff_is_larger_when_a_feature_changes_several_factors():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(16, 4, generator=g) * 2 - 1
    scores = {}
    for entangled in (False, True):
        dec = BlockModel(entangled).decode
        u, v = dec(intervene(z, 0, torch.tensor([-0.8]))), torch.sigmoid(dec(intervene(z, 0, torch.tensor([0.8]))))
        out = translation_difficulty(u[:8], v[:8], u[8:], v[8:], steps=5, lr=1.0, generator=torch.Generator().manual_seed(3))
        scores[entangled] = out["cross_entropy"].item()
    assert scores[True] > 1.5 * scores[False], scores
    # the stand-alone metric orders the two models the same way, and is deterministic for a seed
    ds = BlockImages()
    opts = {"translation_difficulty": {"batch_size": 8, "repeats": 2, "marginal_images": 32}}
    clean = evaluate(BlockModel(False), ds, ["translation_difficulty"], options=opts, fast_encoder=False)
    messy = evaluate(BlockModel(True), ds, ["translation_difficulty"], options=opts, fast_encoder=False)
    assert messy["translation_difficulty.feature_0"] > 1.5 * clean["translation_difficulty.feature_0"]
    # a decoder that ignores its code scores a near-zero change (and so an easy translation)
    frozen = BlockModel(False)
    frozen.decode = lambda z: BlockModel(False).decode(torch.zeros_like(z))
    still = evaluate(frozen, ds, ["translation_difficulty"], options=opts, fast_encoder=False)
    assert still["translation_difficulty.change"] < 1e-3 < 10 < clean["translation_difficulty.change"]
    assert still["translation_difficulty.kl"] < 1e-2 < clean["translation_difficulty.kl"]
    again = evaluate(BlockModel(True), ds, ["translation_difficulty"], options=opts, fast_encoder=False)
    assert again == messy


def test_the_inner_fit_learns_and_gradients_reach_u_and_v_only_through_the_test_pairs():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d((torch.rand(16, 1, 64, 64, generator=g) > 0.85).float(), 3, 1, 1)
    u = torch.logit(x.clamp(0.02, 0.98)).requires_grad_(True)
    v = (x * 1.6).clamp(0, 1)  # a pixel-wise change a few steps can learn
    ut = u.detach().clone().requires_grad_(True)
    few = translation_difficulty(u[:8], v[:8], ut[8:], v[8:], steps=1, generator=torch.Generator().manual_seed(0))
    many = translation_difficulty(u[:8], v[:8], ut[8:], v[8:], steps=20, generator=torch.Generator().manual_seed(0))
    assert many["kl"] < 0.7 * few["kl"]
    many["cross_entropy"].backward()
    assert u.grad is None  # the fit's pairs are constants (first order)
    assert ut.grad is not None and ut.grad[8:].abs().sum() > 0
    with pytest.raises(ValueError, match="s >= 1"):
        translation_difficulty(u, v, u, v, steps=0)


# ---- the model trains ---------------------------------------------------------------------------
def test_every_loss_term_is_finite_and_each_optimiser_gets_its_loss():
    m = build_method("intervention", TinyGrid(), **FAST)
    x = TinyGrid().images(np.arange(12))
    out = m.training_step({"images": {"x": x[:6]}, "reference": {"x": x[6:]}}, 0)
    assert set(out.losses) == {"autoencoder", "weights", "discriminator"}
    for key in ("recon", "intervention", "adversarial", "translation", "translation_kl", "loss"):
        assert torch.isfinite(torch.as_tensor(out.logs[key])), key
    # the discriminator's loss is minus the adversarial objective (Disc maximises L_adv)
    assert out.logs["discriminator_loss"].item() == pytest.approx(-out.logs["adversarial"].item(), abs=1e-5)
    no_diff = build_method("intervention", TinyGrid(), lambda_diff=0.0)
    assert "translation" not in no_diff.training_step({"images": {"x": x[:6]}, "reference": {"x": x[6:]}}, 0).logs


@pytest.mark.integration
def test_intervention_trains_on_correlated_dsprites_and_is_scored_on_the_held_out_set(tmp_path):
    opts = {"lazy": True, "correlate": {"n_train": 5000, "n_test": 2000}}
    cfg = TrainConfig(method="intervention", dataset="dsprites", dataset_options=opts, steps=200, batch_size=16,
                      seed=0, log_every=20, threads=1, hparams=FAST)
    run = train(cfg, tmp_path / "run", progress=False)
    assert all(np.isfinite(v) for row in run.history for v in row.values())
    assert run.history[-1]["recon"] < run.history[0]["recon"]
    scores = evaluate_run(tmp_path / "run", ["translation_difficulty", "sap"],
                          options={"translation_difficulty": {"repeats": 1, "batch_size": 8, "marginal_images": 64},
                                   "sap": {"num_train": 500, "num_test": 200}})
    assert scores["evaluated_on"].startswith("held-out uniform test set (2,000 images")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["evaluated_on"] == scores["evaluated_on"] and np.isfinite(saved["translation_difficulty"])
    train_scores = evaluate_run(tmp_path / "run", ["sap"], options={"sap": {"num_train": 500, "num_test": 200}},
                                on="train")
    assert train_scores["evaluated_on"].startswith("the training data (5,000 images")


# ---- correlated and independent training sets ---------------------------------------------------
def test_the_correlate_option_gives_the_target_correlation_and_a_uniform_disjoint_test_set():
    f = ("posX", "scale")
    train_part = get_dataset("dsprites", lazy=True, correlate={"n_train": 40_000, "n_test": 5_000})
    assert train_part.split["factors"] == list(f) and len(train_part) == 40_000
    assert abs(train_part.split["train_correlation"] - expected_correlation(train_part.base, f, 0.2)) < 0.02
    test_part, described = evaluation_part(train_part)
    assert len(test_part) == 5_000 and "held-out" in described
    assert abs(factor_correlation(train_part.base, test_part.indices, f)) < 0.05
    assert not np.isin(train_part.indices, test_part.indices).any()
    independent = get_dataset("dsprites", lazy=True, correlate={"n_train": 40_000, "n_test": 5_000, "sigma": None})
    assert abs(independent.split["train_correlation"]) < 0.03
    np.testing.assert_array_equal(independent.held_out().indices, test_part.indices)  # one test set for both
    preset = get_dataset("dsprites", lazy=True, correlate=True)
    assert (len(preset), len(preset.held_out())) == (200_000, 50_000)  # appendix B's sizes
    assert evaluation_part(preset, "train")[0] is preset
    with pytest.raises(ValueError, match="no held-out test part"):
        evaluation_part(TinyGrid(), "test")


@pytest.mark.parametrize("option, message", [
    ("{factors: [posX, posX]}", "cannot be correlated with itself"),
    ("{factors: [posX, colour]}", "unknown factor 'colour'"),
    ("{sigma: 0}", "sigma must be > 0"),
    ("{sigma: -1}", "sigma must be > 0"),
    ("{n_test: 800000}", "lower n_test"),
    ("{n_train: 700000}", "lower n_train"),
    ("{part: validation}", "part must be 'train' or 'test'"),
    ("{sigmaa: 0.2}", "unknown key(s) sigmaa"),
])
def test_bad_correlate_options_are_one_clear_error(capsys, tmp_path, option, message):
    code = cli.main(["train", "--method", "vae", "--dataset", "dsprites", "--dataset-option", "lazy=true",
                     "--dataset-option", f"correlate={option}", "--steps", "2", "--no-progress",
                     "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags, message", [
    (["--latent-dim", "7"], "must equal num_features x feature_size = 10 x 1 = 10"),
    (["--num-features", "2", "--feature-size", "16", "--latent-dim", "30"], "= 2 x 16 = 32"),
    (["--translation-steps", "0"], "translation_steps must be"),
])
def test_bad_intervention_settings_are_one_clear_error(capsys, tmp_path, flags, message):
    code = cli.main(["train", "--method", "intervention", "--dataset", "dsprites", "--dataset-option", "lazy=true",
                     "--steps", "2", "--no-progress", "--out", str(tmp_path / "r"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err


def test_images_of_other_sizes_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="64x64 or 28x28"):
        build_method("intervention", (3, 32, 32))
    assert build_method("intervention", (3, 28, 28), num_features=2, feature_size=16).decode(
        torch.zeros(2, 32)).shape == (2, 3, 28, 28)
