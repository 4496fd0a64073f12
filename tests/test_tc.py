"""Total-correlation estimators on Gaussian codes whose TC is known in closed form."""

import math

import pytest
import torch

from untwine.nn.total_correlation import stratified_log_weights, total_correlation


def gaussian_codes(rho: float, d: int, batch: int = 1500, s2: float = 0.25, seed: int = 0):
    """Means ~ N(0, S) with corr(mu_0, mu_1) = rho, posterior variance s2: q(z) = N(0, S + s2 I)."""
    g = torch.Generator().manual_seed(seed)
    cov = torch.eye(d, dtype=torch.float64)
    cov[0, 1] = cov[1, 0] = rho
    mu = torch.randn(batch, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    logvar = torch.full_like(mu, math.log(s2))
    z = mu + math.sqrt(s2) * torch.randn(batch, d, generator=g, dtype=torch.float64)
    agg = cov + s2 * torch.eye(d, dtype=torch.float64)
    analytic = 0.5 * (torch.log(torch.diagonal(agg)).sum() - torch.logdet(agg))
    return z, mu, logvar, float(analytic)


@pytest.mark.parametrize("rho", [0.0, 0.8])
@pytest.mark.parametrize("d", [2, 3])
def test_mss_matches_analytic_tc(rho, d):
    z, mu, logvar, analytic = gaussian_codes(rho, d)
    if rho > 0:
        assert analytic > 0.2
    tc = float(total_correlation(z, mu, logvar, dataset_size=10**6, estimator="mss"))
    assert abs(tc - analytic) < 0.05


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_mws_is_analytic_plus_known_offset(rho):
    # With overlapping posteriors every MWS log-density is low by log N, so MWS = TC + (d - 1) log N.
    d, n = 3, 10**6
    z, mu, logvar, analytic = gaussian_codes(rho, d)
    tc = float(total_correlation(z, mu, logvar, dataset_size=n, estimator="mws"))
    assert abs(tc - (d - 1) * math.log(n) - analytic) < 0.05


def test_no_constant_variant_differs_by_exactly_d_minus_1_log_bn():
    z, mu, logvar, _ = gaussian_codes(0.5, 4, batch=64)
    n = 737280
    with_c = total_correlation(z, mu, logvar, dataset_size=n, estimator="mws")
    without = total_correlation(z, mu, logvar, estimator="mws_no_constant")
    assert float(with_c - without) == pytest.approx(3 * math.log(64 * n), rel=1e-9)


def test_stratified_weights_by_hand():
    strat, o = 7 / 30, 1 / 3  # B = 4, N = 10, M = 3: (N - M) / (N M) and 1 / M
    w = stratified_log_weights(4, 10, dtype=torch.float64).exp()
    expected = [[0.1, strat, o, o], [o, 0.1, strat, o], [o, o, 0.1, strat], [strat, o, o, 0.1]]
    assert torch.allclose(w, torch.tensor(expected, dtype=torch.float64))
    assert torch.allclose(w.sum(1), torch.ones(4, dtype=torch.float64))
    ref = stratified_log_weights(4, 10, dtype=torch.float64, layout="reference").exp()
    expected_ref = [[0.1, strat, o, o], [0.1, strat, o, o], [strat, strat, o, o], [0.1, strat, o, o]]
    assert torch.allclose(ref, torch.tensor(expected_ref, dtype=torch.float64))


def test_tc_gradient_flows_and_errors_are_clear():
    z, mu, logvar, _ = gaussian_codes(0.5, 2, batch=16)
    mu = mu.clone().requires_grad_(True)
    total_correlation(z, mu, logvar, 1000, "mss").backward()
    assert mu.grad is not None and torch.isfinite(mu.grad).all()
    with pytest.raises(ValueError, match="dataset size"):
        total_correlation(z, mu, logvar, None, "mws")
    with pytest.raises(ValueError, match="unknown TC estimator"):
        total_correlation(z, mu, logvar, 10, "bogus")
    with pytest.raises(ValueError, match="at least the batch size"):
        total_correlation(z, mu, logvar, 4, "mss")
