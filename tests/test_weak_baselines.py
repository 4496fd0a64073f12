"""GVAE, ML-VAE, Ada-GVAE, Ada-ML-VAE: the aggregations by hand and against disentanglement_lib's
formulas, the adaptive shared set, the group ELBO's KL conventions, streams, errors, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from test_contract_methods import TinyGrid, config
from test_group_tcvae import GroupedSquares
from untwine.methods import ConfigError, build_method
from untwine.nn import gaussian_log_density, kl_standard_normal
from untwine.nn.aggregation import (adaptive_shared, aggregate_gaussians, average_gaussians, product_of_gaussians,
                                    replace_shared)
from untwine.train import TrainConfig, train

BASELINES = ("gvae", "ml_vae", "ada_gvae", "ada_ml_vae")


@pytest.fixture(scope="module")
def tiny():
    return TinyGrid()


def two(m1, v1, m2, v2):
    """One group of two 1-d Gaussians as (1, 2, 1) mean and log-variance tensors."""
    mu = torch.tensor([[[m1], [m2]]], dtype=torch.float64)
    return mu, torch.log(torch.tensor([[[v1], [v2]]], dtype=torch.float64))


# ---- aggregations by hand ----------------------------------------------------------------------

def test_average_of_two_gaussians_by_hand():
    mu, logvar = average_gaussians(*two(0.0, 1.0, 2.0, 3.0))
    assert mu.item() == pytest.approx(1.0)               # (0 + 2) / 2
    assert logvar.exp().item() == pytest.approx(2.0)     # (1 + 3) / 2


def test_product_of_two_gaussians_by_hand():
    mu, logvar = product_of_gaussians(*two(0.0, 1.0, 2.0, 3.0), normalised=False)
    assert logvar.exp().item() == pytest.approx(0.75)    # 1 / (1/1 + 1/3)
    assert mu.item() == pytest.approx(0.5)               # (0/1 + 2/3) * 3/4
    mu_n, logvar_n = product_of_gaussians(*two(0.0, 1.0, 2.0, 3.0))
    assert mu_n.item() == pytest.approx(0.5)
    assert logvar_n.exp().item() == pytest.approx(1.5)   # 2 v1 v2 / (v1 + v2) = 6 / 4


def test_exact_product_is_the_closed_form_of_the_product_density():
    """log N(z; m1, v1) + log N(z; m2, v2) - log N(z; m, v) is the same for every z."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    logvar = torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    m, lv = product_of_gaussians(mu, logvar, normalised=False)
    z = torch.randn(50, 6, 1, 4, generator=g, dtype=torch.float64) * 3
    gap = gaussian_log_density(z, mu, logvar).sum(2) - gaussian_log_density(z[:, :, 0], m, lv)
    assert torch.allclose(gap, gap[:1].expand_as(gap), atol=1e-9)


def test_k_member_aggregations_equal_their_definitions():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(5, 4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 4, 3, generator=g, dtype=torch.float64)
    v = logvar.exp()
    m, lv = average_gaussians(mu, logvar)
    assert torch.allclose(m, mu.mean(1)) and torch.allclose(lv.exp(), v.mean(1))
    precision = (1 / v).sum(1)
    m, lv = product_of_gaussians(mu, logvar)
    assert torch.allclose(m, (mu / v).sum(1) / precision)
    assert torch.allclose(lv.exp(), 4 / precision)
    with pytest.raises(ValueError, match="average, product"):
        aggregate_gaussians(mu, logvar, "median")


def test_product_survives_tiny_variances():
    mu, logvar = two(1.0, 1e-30, -1.0, 1e-32)
    m, lv = product_of_gaussians(mu, logvar.float())
    assert torch.isfinite(m).all() and torch.isfinite(lv).all()
    assert m.item() == pytest.approx((1.0 - 1e2) / (1 + 1e2), rel=1e-4)  # precisions 1e30 and 1e32


# ---- the adaptive shared set -------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_adaptive_shared_set_is_the_true_one_when_k_latents_differ(k):
    """Two posteriors equal except in k latents (means apart by 2 to 2.5 sd): exactly those k are
    not shared, for every pair."""
    g = torch.Generator().manual_seed(k)
    b, d = 64, 10
    mu1 = torch.randn(b, d, generator=g)
    logvar = torch.randn(b, d, generator=g) * 0.5
    changed = torch.argsort(torch.rand(b, d, generator=g), 1) < k
    shift = (2 + 0.5 * torch.rand(b, d, generator=g)) * torch.where(torch.rand(b, d, generator=g) < 0.5, -1.0, 1.0)
    mu2 = mu1 + changed * shift * torch.exp(0.5 * logvar)
    assert torch.equal(adaptive_shared(mu1, logvar, mu2, logvar), ~changed)


def test_adaptive_threshold_is_halfway_and_ties_share_everything():
    # per-latent KL(q1 || q2) with unit variances: 0.5 * (mu1 - mu2)^2 = 0, 0.5, 1, 2 -> midpoint 1
    mu1 = torch.zeros(1, 4)
    mu2 = torch.tensor([[0.0, 1.0, math.sqrt(2.0), 2.0]])
    zeros = torch.zeros(1, 4)
    assert adaptive_shared(mu1, zeros, mu2, zeros).tolist() == [[True, True, False, False]]  # 1 is in the upper bin
    assert adaptive_shared(mu1, zeros, mu1.clone(), zeros).all()  # identical posteriors: nothing to tell apart


def _reference_aggregate(mu1, logvar1, mu2, logvar2, product: bool):
    """disentanglement_lib's ``group_vae_argmax`` / ``mlvae_argmax`` aggregation, written out in numpy
    from its formulas: compute_kl, the two-bin histogram over [min, max], then the where()."""
    v1, v2 = np.exp(logvar1), np.exp(logvar2)
    if product:
        new_var = 2 * v1 * v2 / (v1 + v2)
        new_mean = (mu1 / v1 + mu2 / v2) * new_var * 0.5
    else:
        new_mean, new_var = 0.5 * mu1 + 0.5 * mu2, 0.5 * v1 + 0.5 * v2
    kl = v1 / v2 + (mu2 - mu1) ** 2 / v2 - 1 + logvar2 - logvar1
    lo, hi = kl.min(1, keepdims=True), kl.max(1, keepdims=True)
    keep_own = np.clip(np.floor(2 * (kl - lo) / (hi - lo)), 0, 1) == 1
    out = []
    for mu, lv in ((mu1, logvar1), (mu2, logvar2)):
        out.append((np.where(keep_own, mu, new_mean), np.where(keep_own, lv, np.log(new_var))))
    return out


@pytest.mark.parametrize("how", ["average", "product"])
def test_adaptive_aggregation_equals_disentanglement_libs(how):
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(200, 2, 10, generator=g, dtype=torch.float64)
    logvar = torch.randn(200, 2, 10, generator=g, dtype=torch.float64)
    shared = adaptive_shared(mu[:, 0], logvar[:, 0], mu[:, 1], logvar[:, 1])
    mu_t, logvar_t = replace_shared(mu, logvar, *aggregate_gaussians(mu, logvar, how), shared)
    ref = _reference_aggregate(*(t.numpy() for t in (mu[:, 0], logvar[:, 0], mu[:, 1], logvar[:, 1])), how == "product")
    for i, (ref_mu, ref_logvar) in enumerate(ref):
        np.testing.assert_allclose(mu_t[:, i].numpy(), ref_mu, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(logvar_t[:, i].numpy(), ref_logvar, rtol=1e-12, atol=1e-12)


# ---- the methods -------------------------------------------------------------------------------

def _fixed_posterior(method, mu, logvar):
    """Make ``method.posterior`` return the given (B*K, d) Gaussians whatever the images."""
    method.posterior = lambda x: (mu, logvar)
    return method


def _pair_batch(tiny, n, group):
    x = torch.as_tensor(tiny.images(np.arange(n)))
    return {"pairs": {"x1": x, "x2": x.flip(0), "group": torch.full((n,), group)}}


@pytest.mark.parametrize("group_kl", ["per_member", "once"])
def test_group_kl_conventions_by_hand(tiny, group_kl):
    """One pair, d = 2 (one latent per group), sharing group 0: the shared latent takes the average
    N(1, 2) of N(0, 1) and N(2, 3); the other latent keeps N(0, 1) and N(1, 1)."""
    m = build_method("gvae", tiny, latent_dim=2, group_kl=group_kl)
    mu = torch.tensor([[0.0, 0.0], [2.0, 1.0]])
    logvar = torch.log(torch.tensor([[1.0, 1.0], [3.0, 1.0]]))
    _fixed_posterior(m, mu, logvar)
    out = m.training_step(_pair_batch(tiny, 1, 0), 0)
    kl_shared = 0.5 * (1.0 + 2.0 - math.log(2.0) - 1.0)   # KL(N(1, 2) || N(0, 1))
    kl_own = [0.0, 0.5]                                   # KL(N(0, 1)), KL(N(1, 1))
    expected = (0.5 * (2 * kl_shared + sum(kl_own)) if group_kl == "per_member"
                else 0.5 * (kl_shared + sum(kl_own)))
    assert out.logs["kl"].item() == pytest.approx(expected, rel=1e-6)
    assert out.logs["shared_latents"].item() == 1.0


def test_gvae_and_ml_vae_share_the_block_of_the_pair_group(tiny):
    for name, expect in (("gvae", average_gaussians), ("ml_vae", product_of_gaussians)):
        m = build_method(name, tiny, latent_dim=4, latent_split=(1, 3))
        g = torch.Generator().manual_seed(0)
        mu, logvar = torch.randn(4, 4, generator=g), torch.randn(4, 4, generator=g)
        _fixed_posterior(m, mu, logvar)
        for group, block in ((0, [0]), (1, [1, 2, 3])):
            mask = m.shared_mask(_pair_batch(tiny, 2, group)["pairs"], mu.unflatten(0, (2, 2)), logvar.unflatten(0, (2, 2)))
            assert mask.tolist() == [[j in block for j in range(4)]] * 2
        gm, glv = expect(mu.unflatten(0, (2, 2)), logvar.unflatten(0, (2, 2)))
        assert gm.shape == (2, 4) and torch.isfinite(glv).all()


def test_defaults_streams_and_group_size(tiny):
    assert build_method("ml_vae", tiny).hparams.group_kl == "once"
    for name in ("gvae", "ada_gvae", "ada_ml_vae"):
        h = build_method(name, tiny).hparams
        assert (h.group_kl, h.beta, h.exact_product) == ("per_member", 1.0, False)
    assert build_method("gvae", tiny).streams()["pairs"].options == {"shared_factors": "dataset"}
    spec = build_method("ml_vae", tiny, group_size=4).streams()["groups"]
    assert (spec.kind, spec.options) == ("groups", {"shared_factors": "dataset", "group_size": 4})
    assert build_method("ada_gvae", tiny).streams()["pairs"].options == {"k": -1, "k_mode": "exact"}
    assert build_method("ada_ml_vae", tiny, pairs="groups").streams()["pairs"].options == {"shared_factors": "dataset"}
    assert build_method("gvae", tiny).latent_groups == (0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
    assert not hasattr(build_method("ada_gvae", tiny), "latent_groups")


def test_group_of_four_trains_one_step(tiny, tmp_path):
    res = train(config("gvae", hparams={"group_size": 4}, steps=2), tmp_path / "run", progress=False, dataset=tiny)
    assert all(math.isfinite(row["loss"]) for row in res.history)


class Ungrouped(TinyGrid):
    factor_groups = ()


class Factorless(Ungrouped):
    factor_sizes = (3, 1)


def test_bad_input_is_one_clear_config_error(tiny):
    with pytest.raises(ConfigError, match="groups=seed003"):
        build_method("gvae", Ungrouped())
    with pytest.raises(ConfigError, match="pairs=groups needs the dataset's factor groups"):
        build_method("ada_gvae", Ungrouped(), pairs="groups")
    build_method("ada_gvae", Ungrouped())  # pairs=k needs no groups
    with pytest.raises(ConfigError, match="at least two varying ground-truth factors"):
        build_method("ada_gvae", Factorless())
    with pytest.raises(ConfigError, match="k=0"):
        build_method("ada_ml_vae", tiny, k=0)
    with pytest.raises(ConfigError, match="latent_split"):
        build_method("ml_vae", tiny, latent_dim=4, latent_split=(2, 3))
    with pytest.raises(ConfigError, match="group_size"):
        build_method("gvae", tiny, group_size=1)
    with pytest.raises(ConfigError, match="pairs"):
        build_method("ada_gvae", tiny, pairs="triples")


def test_identical_members_make_gvae_and_ml_vae_one_vae(tiny):
    """With x1 = x2 the average is the posterior itself: GVAE's KL equals the plain per-image KL."""
    m = build_method("gvae", tiny, latent_dim=2)
    mu = torch.tensor([[0.3, -1.0], [0.3, -1.0]])
    logvar = torch.tensor([[-0.5, 0.2], [-0.5, 0.2]])
    _fixed_posterior(m, mu, logvar)
    out = m.training_step(_pair_batch(tiny, 1, 1), 0)
    assert out.logs["kl"].item() == pytest.approx(kl_standard_normal(mu[:1], logvar[:1]).sum().item(), rel=1e-6)


@pytest.mark.integration
@pytest.mark.parametrize("name", BASELINES)
def test_trains_through_the_trainer(tmp_path, name):
    steps = 240
    hp = {"latent_dim": 6, "lr": 1e-3, **({"pairs": "groups"} if name.startswith("ada") else {})}
    cfg = TrainConfig(method=name, dataset="dsprites", steps=steps, batch_size=8, seed=0, log_every=40,
                      checkpoint_every=steps, threads=1, hparams=hp)
    res = train(cfg, tmp_path / "run", progress=False, dataset=GroupedSquares())
    assert all(math.isfinite(v) for row in res.history for v in row.values())
    assert res.history[-1]["loss"] < 0.7 * res.history[0]["loss"], [r["loss"] for r in res.history]
