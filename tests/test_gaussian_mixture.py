"""GaussianMixture: the Abstraction Autoencoder's adaptive prior (seed 000)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from untwine.nn.gaussian_mixture import GaussianMixture


def _random_mixture(K: int = 3, d: int = 4, seed: int = 0) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    gm = GaussianMixture(K, d).double()
    A = torch.randn(K, d, d, generator=g, dtype=torch.float64)
    cov = A @ A.mT + 0.5 * torch.eye(d, dtype=torch.float64)  # random SPD
    gm.means.copy_(torch.randn(K, d, generator=g, dtype=torch.float64) * 2)
    gm.scale_tril.copy_(torch.linalg.cholesky(cov))
    return gm


def _two_equal_components() -> GaussianMixture:
    gm = GaussianMixture(2, 2).double()
    gm.means.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64))
    gm.scale_tril.copy_(0.5 * torch.eye(2, dtype=torch.float64).repeat(2, 1, 1))
    return gm


def test_init_buffers_and_state_dict_keys():
    gm = GaussianMixture(5, 3)
    assert gm.means.shape == (5, 3) and torch.all(gm.means == 0)
    assert torch.equal(gm.scale_tril, torch.eye(3).repeat(5, 1, 1))
    assert gm.fitted.dtype == torch.bool and not bool(gm.fitted)
    assert set(gm.state_dict()) == {"means", "scale_tril", "fitted"}
    assert list(gm.parameters()) == []
    gm = gm.double()
    assert gm.means.dtype == torch.float64 and gm.fitted.dtype == torch.bool
    # usable before fit: standard normals at the origin
    z = torch.randn(7, 3, dtype=torch.float64)
    ref = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                                 torch.eye(3, dtype=torch.float64)).log_prob(z)
    torch.testing.assert_close(gm.log_prob(z), ref)


def test_log_prob_components_matches_torch_and_scipy():
    gm = _random_mixture()
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    lp = gm.log_prob_components(z)
    assert lp.shape == (50, 3)
    cov = gm.scale_tril @ gm.scale_tril.mT
    for k in range(3):
        ref = torch.distributions.MultivariateNormal(gm.means[k], covariance_matrix=cov[k]).log_prob(z)
        torch.testing.assert_close(lp[:, k], ref, rtol=1e-10, atol=1e-10)
        sp = multivariate_normal(gm.means[k].numpy(), cov[k].numpy()).logpdf(z.numpy())
        np.testing.assert_allclose(lp[:, k].numpy(), sp, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gm.log_prob(z), torch.logsumexp(lp, 1) - math.log(3))
    torch.testing.assert_close(gm.responsibilities(z), torch.softmax(lp, 1))
    torch.testing.assert_close(gm.covariances, cov)


def test_log_prob_float32_and_gradient_wrt_z():
    gm = _random_mixture().float()
    z = torch.randn(10, 4, requires_grad=True)
    lp = gm.log_prob_components(z)
    assert lp.dtype == torch.float32
    lp[:, 0].sum().backward()
    # d/dz log N(z; mu, Sigma) = -Sigma^{-1} (z - mu)
    cov = (gm.scale_tril @ gm.scale_tril.mT)[0].double()
    expected = -torch.linalg.solve(cov, (z.detach().double() - gm.means[0].double()).T).T
    torch.testing.assert_close(z.grad.double(), expected, rtol=1e-4, atol=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = gm.log_prob_components(z.detach())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, lp.detach())


def test_fit_matches_numpy_cov():
    g = torch.Generator().manual_seed(3)
    K, d, cov_scale, ridge = 3, 2, 0.1, 1e-4
    per = [torch.randn(n, d, generator=g, dtype=torch.float64) + 5 * k for k, n in enumerate((4, 6, 9))]
    codes = torch.cat(per)
    labels = torch.cat([torch.full((len(p),), k) for k, p in enumerate(per)])
    perm = torch.randperm(len(codes), generator=g)  # interleave the components
    gm = GaussianMixture(K, d).double()
    gm.fit(codes[perm], labels[perm], cov_scale=cov_scale, ridge=ridge)
    assert bool(gm.fitted)
    for k, p in enumerate(per):
        torch.testing.assert_close(gm.means[k], p.mean(0), rtol=0, atol=1e-12)
        expected = cov_scale * np.cov(p.numpy(), rowvar=False) + ridge * np.eye(d)
        got = (gm.scale_tril[k] @ gm.scale_tril[k].T).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
        assert torch.all(torch.triu(gm.scale_tril[k], 1) == 0)
    # float32 module: same numbers to float32 precision
    gm32 = GaussianMixture(K, d)
    gm32.fit(codes.float(), labels)
    torch.testing.assert_close(gm32.means, gm.means.float())
    torch.testing.assert_close(gm32.covariances, gm.covariances.float(), rtol=1e-5, atol=1e-6)


def test_fit_singular_codes_are_regularised_by_ridge():
    # 2 codes in 3 dimensions: rank-1 sample covariance, the ridge keeps it positive definite
    codes = torch.tensor([[0.0, 0, 0], [1, 1, 1], [5, 5, 5], [6, 5, 5]])
    gm = GaussianMixture(2, 3)
    gm.fit(codes, torch.tensor([0, 0, 1, 1]), ridge=1e-3)
    assert torch.isfinite(gm.log_prob(codes)).all()
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture(2, 3).double().fit(codes.double(), torch.tensor([0, 0, 1, 1]), ridge=0.0)


def test_fit_too_few_samples_names_component_and_count():
    codes = torch.randn(7, 2)
    labels = torch.tensor([0, 0, 0, 1, 2, 2, 2])  # component 1: one code, component 3: none
    with pytest.raises(ValueError) as err:
        GaussianMixture(4, 2).fit(codes, labels)
    msg = str(err.value)
    assert "1 (1 codes)" in msg and "3 (0 codes)" in msg and "0 (" not in msg
    assert "more samples per entity" in msg.lower() or "label more" in msg.lower()
    with pytest.raises(ValueError, match="3 codes"):
        GaussianMixture(3, 2).fit(codes, torch.tensor([0, 0, 0, 1, 1, 1, 2]), min_samples=3)


def test_fit_rejects_bad_labels_and_shapes():
    codes = torch.randn(6, 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        GaussianMixture(2, 2).fit(codes, torch.tensor([0, 0, 1, 1, 2, 2]))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        GaussianMixture(2, 2).fit(codes, torch.tensor([0, 0, 1, 1, -1, 1]))
    with pytest.raises(ValueError, match="shape"):
        GaussianMixture(2, 3).fit(codes, torch.tensor([0, 0, 0, 1, 1, 1]))
    with pytest.raises(ValueError, match="labels"):
        GaussianMixture(2, 2).fit(codes, torch.tensor([0.0, 0, 0, 1, 1, 1]))
    gm = GaussianMixture(2, 2)
    with pytest.raises(ValueError):
        gm.fit(codes, torch.tensor([0, 0, 0, 1, 1, 1]), min_samples=0)
    assert not bool(gm.fitted)


def test_classify_at_means_and_density_threshold():
    gm = _random_mixture()
    pred, acc = gm.classify(gm.means.clone())
    assert torch.equal(pred, torch.arange(3)) and acc.all()
    far = gm.means + 100.0
    pred, acc = gm.classify(far, alpha=1e-3)
    assert not acc.any()
    _, acc0 = gm.classify(far, alpha=0.0)
    assert acc0.all()
    # the density threshold (reference code) compares the best density value itself with alpha
    z = gm.means[:1] + 0.1
    best = gm.log_prob_components(z).max().exp().item()
    assert gm.classify(z, alpha=best * 0.999)[1].item()
    if best * 1.001 <= 1:
        assert not gm.classify(z, alpha=best * 1.001)[1].item()


def test_density_threshold_can_accept_alpha_one_in_low_variance_component():
    gm = GaussianMixture(2, 2).double()
    gm.means.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    gm.scale_tril.copy_(0.05 * torch.eye(2).repeat(2, 1, 1))  # peak density 1/(2 pi 0.0025) ~ 64
    pred, acc = gm.classify(torch.tensor([[0.0, 0.0], [10.0, 10.0]], dtype=torch.float64), alpha=1.0)
    assert torch.equal(pred, torch.tensor([0, 1])) and acc.all()


def test_responsibility_threshold_between_two_equal_components():
    gm = _two_equal_components()
    mid = torch.zeros(1, 2, dtype=torch.float64)
    torch.testing.assert_close(gm.responsibilities(mid), torch.full((1, 2), 0.5, dtype=torch.float64))
    for alpha in (0.0, 0.3, 0.5):
        assert gm.classify(mid, alpha, threshold="responsibility")[1].item()
    for alpha in (0.5 + 1e-6, 0.7, 1.0):
        assert not gm.classify(mid, alpha, threshold="responsibility")[1].item()
    # at a mean the posterior is ~1 (distance 2 in units of sd 0.5): accepted even at 0.9
    pred, acc = gm.classify(gm.means.clone(), 0.9, threshold="responsibility")
    assert torch.equal(pred, torch.tensor([0, 1])) and acc.all()


def test_classify_argument_errors():
    gm = GaussianMixture(2, 2)
    z = torch.zeros(3, 2)
    for alpha in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
            gm.classify(z, alpha=alpha)
    with pytest.raises(ValueError, match="density.*responsibility"):
        gm.classify(z, threshold="posterior")


def test_sample_seeded_deterministic_and_given_components():
    gm = _random_mixture().float()
    z1, c1 = gm.sample(100, generator=torch.Generator().manual_seed(7))
    z2, c2 = gm.sample(100, generator=torch.Generator().manual_seed(7))
    assert torch.equal(z1, z2) and torch.equal(c1, c2)
    z3, _ = gm.sample(100, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(z1, z3)
    assert z1.shape == (100, 4) and c1.shape == (100,) and c1.dtype == torch.long and not z1.requires_grad
    comps = torch.tensor([2, 2, 0, 1])
    z, c = gm.sample(4, generator=torch.Generator().manual_seed(0), components=comps)
    assert torch.equal(c, comps)
    torch.testing.assert_close(z, gm.sample_component(comps, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError):
        gm.sample(3, components=comps)
    with pytest.raises(ValueError):
        gm.sample_component(torch.tensor([0, 3]))


def test_sample_moments_and_uniform_components():
    K, d, n = 3, 4, 20_000
    gm = _random_mixture(K, d, seed=5)
    z, c = gm.sample(n, generator=torch.Generator().manual_seed(11))
    counts = torch.bincount(c, minlength=K).double()
    # counts ~ Binomial(n, 1/K): sd = sqrt(n p (1 - p)) ~ 67; allow 5 sd
    assert torch.all((counts - n / K).abs() < 5 * math.sqrt(n * (1 / K) * (1 - 1 / K)))
    cov = gm.covariances
    for k in range(K):
        zk = z[c == k]
        m = zk.shape[0]
        var = cov[k].diagonal()
        # sample mean: sd sqrt(Sigma_ii / m); 5 sd
        assert torch.all((zk.mean(0) - gm.means[k]).abs() < 5 * (var / m).sqrt())
        # sample covariance entry ij: sd ~ sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / m); 5 sd
        emp = torch.cov(zk.T)
        sd = ((var[:, None] * var[None, :] + cov[k] ** 2) / m).sqrt()
        assert torch.all((emp - cov[k]).abs() < 5 * sd)


def test_state_dict_round_trip_classifies_identically():
    g = torch.Generator().manual_seed(2)
    K, d = 4, 3
    labels = torch.arange(K).repeat_interleave(10)
    codes = torch.randn(40, d, generator=g) + 3 * torch.randn(K, d, generator=g)[labels]
    gm = GaussianMixture(K, d)
    gm.fit(codes, labels)
    fresh = GaussianMixture(K, d)
    fresh.load_state_dict(gm.state_dict())
    assert bool(fresh.fitted)
    z = torch.randn(200, d, generator=g) * 4
    for alpha, threshold in ((0.0, "density"), (0.01, "density"), (0.6, "responsibility")):
        p1, a1 = gm.classify(z, alpha, threshold)
        p2, a2 = fresh.classify(z, alpha, threshold)
        assert torch.equal(p1, p2) and torch.equal(a1, a2)
    assert not torch.equal(GaussianMixture(K, d).classify(z)[0], p1)  # the prior really was loaded
