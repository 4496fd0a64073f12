"""Losses of the method zoo on cases computable by hand."""

import math

import pytest
import torch

from untwine.methods import ConfigError, DataFacts, build_method
from untwine.nn import kl_standard_normal, reparameterize
from untwine.nn.discriminator import discriminator_loss, discriminator_tc, permute_dims
from untwine.nn.moments import batch_covariance, dip_covariance, dip_penalty, third_central_moments
from untwine.nn.total_correlation import total_correlation


def whitened(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """Rows with batch mean 0 and biased batch covariance exactly I."""
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    evals, evecs = torch.linalg.eigh(x.T @ x / n)
    return x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T


def test_kl_matches_closed_form_and_torch_distributions():
    mu = torch.tensor([[0.0, 1.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0), math.log(0.25)]])
    # 0.5 (mu^2 + s^2 - log s^2 - 1) by hand
    by_hand = torch.tensor([[0.0, 0.5 * (1 + 4 - math.log(4) - 1), 0.5 * (4 + 0.25 - math.log(0.25) - 1)]])
    assert torch.allclose(kl_standard_normal(mu, logvar), by_hand)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(kl_standard_normal(mu, logvar), torch.distributions.kl_divergence(q, p))


def test_dip_penalties_vanish_at_identity_covariance():
    mu = whitened(500, 4)
    assert torch.allclose(batch_covariance(mu), torch.eye(4, dtype=torch.float64), atol=1e-10)
    logvar_zero_var = torch.full_like(mu, -60.0)
    assert float(dip_penalty(dip_covariance(mu, logvar_zero_var, "i"), 10.0, 100.0)) < 1e-15
    # DIP-II: Cov(mu) = 0.75 I plus E[sigma^2] = 0.25 gives the identity.
    mu2, logvar = mu * math.sqrt(0.75), torch.full_like(mu, math.log(0.25))
    assert float(dip_penalty(dip_covariance(mu2, logvar, "ii"), 5.0, 5.0)) < 1e-15
    assert float(dip_penalty(dip_covariance(mu2, logvar, "i"), 5.0, 5.0)) == pytest.approx(5.0 * 4 * 0.25**2)


def test_dip_penalty_by_hand():
    cov = torch.tensor([[1.0, 0.5], [0.5, 2.0]])
    # lambda_od * (0.5^2 + 0.5^2) + lambda_d * ((1-1)^2 + (2-1)^2)
    assert float(dip_penalty(cov, 3.0, 7.0)) == pytest.approx(3.0 * 0.5 + 7.0 * 1.0)


def test_third_central_moments_match_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(6, 3, generator=g, dtype=torch.float64).pow(2)  # skewed means
    logvar = torch.randn(6, 3, generator=g, dtype=torch.float64) * 0.3
    m3 = third_central_moments(mu, logvar)
    comp = torch.randint(6, (400_000,), generator=g)
    z = mu[comp] + (0.5 * logvar[comp]).exp() * torch.randn(400_000, 3, generator=g, dtype=torch.float64)
    c = z - z.mean(0)
    mc = torch.einsum("ni,nj,nk->ijk", c, c, c) / z.shape[0]
    assert torch.allclose(m3, mc, rtol=0.02, atol=0.05)
    assert float(third_central_moments(whitened(100, 2), torch.zeros(100, 2, dtype=torch.float64)).abs().max()) < 1.0


def test_permute_dims_keeps_marginals_and_breaks_dependence():
    torch.manual_seed(0)
    a = torch.randn(5000, 1)
    z = torch.cat([a, a + 0.1 * torch.randn(5000, 1), torch.randn(5000, 1)], 1)
    zp = permute_dims(z)
    assert torch.equal(zp.sort(0).values, z.sort(0).values)
    assert torch.corrcoef(z.T)[0, 1] > 0.99
    assert abs(float(torch.corrcoef(zp.T)[0, 1])) < 0.05


def test_discriminator_terms_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    assert float(discriminator_tc(logits)) == pytest.approx(0.5)
    even = torch.zeros(7, 2)
    assert float(discriminator_loss(even, even)) == pytest.approx(math.log(2))
    confident = torch.tensor([[100.0, -100.0]])
    assert float(discriminator_loss(confident, -confident)) == pytest.approx(-math.log(1 - 1e-6), rel=0.05)  # float32 clip


def test_factor_vae_optimizers_are_disjoint_and_cover_the_model():
    m = build_method("factor_vae", DataFacts((1, 64, 64)), disc_hidden=8)
    specs = m.optimizers()
    assert set(specs) == {"vae", "discriminator"}
    ids = [{id(p) for p in s.params} for s in specs.values()]
    assert not (ids[0] & ids[1]) and len(ids[0] | ids[1]) == len(list(m.parameters()))
    assert specs["discriminator"].betas == (0.5, 0.9)


def _mlp_batch(b=16, p=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(b, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    labels = torch.zeros(b, 2 * p)
    labels[torch.arange(b), torch.randint(p, (b,), generator=g)] = 1
    labels[torch.arange(b), p + torch.randint(p, (b,), generator=g)] = 1
    return {"x": x, "labels": labels}


def test_wela_with_gamma_zero_is_beta_tcvae():
    wela = build_method("wela_vae", DataFacts((1, 8, 8)), gamma=0.0, label_encoder=False, latent_dim=3, encoder_hidden=(32, 16),
                        decoder_hidden=(16, 32), dataset_size=1000, beta=40.0)
    tcvae = build_method("beta_tcvae", DataFacts((1, 8, 8)), architecture="mlp", latent_dim=3, dataset_size=1000, beta=40.0)
    # the same networks in both (WeLa's decoder returns image logits from forward)
    tcvae.encoder, tcvae.head, tcvae.decoder = wela.encoder, wela.head, wela.decoder
    batch = _mlp_batch()
    torch.manual_seed(3)
    a = wela.training_step({"images": batch}, 0)
    torch.manual_seed(3)
    b = tcvae.training_step({"images": batch}, 0)
    assert float(a.losses["model"]) == pytest.approx(float(b.losses["model"]), rel=1e-6)
    assert float(a.logs["label_ce"]) > 0  # the labels are still predicted, just not weighted


def test_wela_loss_terms_and_options():
    batch = _mlp_batch()
    small = dict(encoder_hidden=(32,), decoder_hidden=(32,), dataset_size=1000)
    m = build_method("wela_vae", DataFacts((1, 8, 8)), **small)
    assert m.gamma == 1500.0 and m.streams()["images"].kind == "weak_labels"
    assert m.streams()["images"].options == {"resolution": 3}
    torch.manual_seed(0)
    out = m.training_step({"images": batch}, 0)
    logs = out.logs
    expected = logs["recon"] + 1500.0 * logs["label_ce"] + logs["kl"] + 39.0 * logs["tc"]
    assert float(out.losses["model"]) == pytest.approx(float(expected), rel=1e-6)
    # an untrained head predicts ~uniformly: CE close to 2 log 3
    assert abs(float(logs["label_ce"]) - 2 * math.log(3)) < 0.5
    assert m.encode(batch["x"], batch["labels"]).shape == (16, 2)
    with pytest.raises(ConfigError, match="needs the weak labels"):
        m.encode(batch["x"])
    for reg in ("beta_vae", "dip_vae_i", "dip_vae_ii"):
        r = build_method("wela_vae", DataFacts((1, 8, 8)), regularizer=reg, **small)
        assert torch.isfinite(r.training_step({"images": batch}, 0).losses["model"])
    with pytest.raises(ConfigError, match="gamma"):
        build_method("wela_vae", DataFacts((1, 8, 8)), gamma=-0.5)
    with pytest.raises(ConfigError, match="gamma explicitly"):
        build_method("wela_vae", DataFacts((1, 8, 8)), resolution=9)


def test_beta_tcvae_loss_and_dataset_size():
    m = build_method("beta_tcvae", DataFacts((1, 8, 8)), architecture="mlp", latent_dim=3, beta=6.0)
    batch = {"x": _mlp_batch()["x"]}
    with pytest.raises(ConfigError, match="dataset size"):
        m.training_step({"images": batch}, 0)
    m = build_method("beta_tcvae", DataFacts((1, 8, 8), size=5000), architecture="mlp", latent_dim=3, beta=6.0)
    torch.manual_seed(0)
    out = m.training_step({"images": batch}, 0)
    out_logs = out.logs
    assert float(out.losses["model"]) == pytest.approx(float(out_logs["recon"] + out_logs["kl"] + 5.0 * out_logs["tc"]), rel=1e-6)
    # the logged TC is the estimator on the sampled codes with N = 5000
    torch.manual_seed(0)
    x = m.prepare(batch["x"])
    mu, logvar = m.posterior(x)
    z = reparameterize(mu, logvar)
    assert float(out_logs["tc"]) == pytest.approx(float(total_correlation(z, mu, logvar, 5000, "mws")), rel=1e-5)


def test_annealed_vae_capacity_and_loss():
    m = build_method("annealed_vae", DataFacts((1, 8, 8)), architecture="mlp", latent_dim=3, c_max=10.0, iteration_threshold=100, gamma=2.0)
    assert [m.capacity(s) for s in (0, 50, 100, 1000)] == [0.0, 5.0, 10.0, 10.0]
    out = m.training_step({"images": {"x": _mlp_batch()["x"]}}, 50)
    assert float(out.losses["model"]) == pytest.approx(float(out.logs["recon"] + 2.0 * (out.logs["kl"] - 5.0).abs()), rel=1e-6)


def test_dip_vae_defaults_follow_the_paper():
    one = build_method("dip_vae_i", DataFacts((1, 8, 8)), architecture="mlp")
    two = build_method("dip_vae_ii", DataFacts((1, 8, 8)), architecture="mlp", lambda_3=200.0)
    assert (one.hparams.lambda_od, one.hparams.lambda_d_factor) == (10.0, 10.0)
    assert (two.hparams.lambda_od, two.hparams.lambda_d_factor) == (5.0, 1.0)
    out = two.training_step({"images": {"x": _mlp_batch()["x"]}}, 0)
    assert set(out.logs) >= {"dip", "third_moment"}
    total = out.logs["recon"] + out.logs["kl"] + out.logs["dip"] + out.logs["third_moment"]
    assert float(out.losses["model"]) == pytest.approx(float(total), rel=1e-6)
