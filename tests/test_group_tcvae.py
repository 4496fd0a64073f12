"""group-tcVAE (seed 003): the pair KL, block-wise permutation, the factorisation levels, the
minibatch TC over blocks, training through the trainer, resume, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import ToySquares
from test_contract_methods import TinyGrid, config
from test_trainer_interrupt import assert_same_run
from untwine.methods import ConfigError, build_method
from untwine.methods.group_tcvae import shared_block_kl
from untwine.nn import factorisation_blocks, permute_blocks, permute_dims, total_correlation
from untwine.train import TrainConfig, train


class GroupedSquares(ToySquares):
    factor_groups = (("row",), ("column",))


@pytest.fixture(scope="module")
def tiny():
    return TinyGrid()


# ---- pair KL -------------------------------------------------------------------------------------

def test_pair_kl_zero_for_identical_posteriors_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    shared = torch.tensor([[True, True, False, False]] * 5)
    for symmetric in (False, True):
        assert torch.allclose(shared_block_kl(mu, logvar, mu, logvar, shared, symmetric), torch.zeros(5), atol=1e-6)
        # a change outside the shared block does not count; inside it does
        mu2 = mu.clone()
        mu2[:, 2:] += 3.0
        assert torch.allclose(shared_block_kl(mu, logvar, mu2, logvar, shared, symmetric), torch.zeros(5), atol=1e-6)
        mu2[:, 0] += 0.5
        assert (shared_block_kl(mu, logvar, mu2, logvar, shared, symmetric) > 0).all()
        lv2 = logvar.clone()
        lv2[:, 1] += 1.0
        assert (shared_block_kl(mu, logvar, mu, lv2, shared, symmetric) > 0).all()


def test_pair_kl_hand_computed():
    # q1 = N(1, 1), q2 = N(0, 2) on the shared latent 0; latent 1 (not shared) differs wildly
    mu1, lv1 = torch.tensor([[1.0, 5.0]]), torch.tensor([[0.0, 0.0]])
    mu2, lv2 = torch.tensor([[0.0, -3.0]]), torch.tensor([[math.log(2.0), 2.0]])
    shared = torch.tensor([[True, False]])
    # KL(N(1,1) || N(0,2)) = 0.5 (log 2 + (1 + 1) / 2 - 1) = 0.5 log 2
    assert shared_block_kl(mu1, lv1, mu2, lv2, shared).item() == pytest.approx(0.5 * math.log(2.0), abs=1e-6)
    # KL(N(0,2) || N(1,1)) = 0.5 (-log 2 + (2 + 1) / 1 - 1) = 1 - 0.5 log 2; the mean of both = 0.5
    assert shared_block_kl(mu2, lv2, mu1, lv1, shared).item() == pytest.approx(1 - 0.5 * math.log(2.0), abs=1e-6)
    assert shared_block_kl(mu1, lv1, mu2, lv2, shared, symmetric=True).item() == pytest.approx(0.5, abs=1e-6)


def test_method_pair_kl_on_the_shared_block(tiny):
    m = build_method("group_tcvae", tiny, disc_hidden=8, disc_layers=1)
    x = tiny.images(np.arange(4))
    group = torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        same = m.training_step({"pairs": {"x1": x, "x2": x, "group": group}}, 1).logs["pair_kl"]
        other = tiny.images(np.arange(4, 8))
        diff = m.training_step({"pairs": {"x1": x, "x2": other, "group": group}}, 1).logs["pair_kl"]
        mu1, lv1 = m.posterior(m.prepare(x))
        mu2, lv2 = m.posterior(m.prepare(other))
    assert float(same) == pytest.approx(0.0, abs=1e-6)
    # the block of each pair's own group: latents 0..4 for group 0, 5..9 for group 1 (split 5, 5)
    mask = torch.zeros(4, 10, dtype=torch.bool)
    mask[[0, 2], :5] = True
    mask[[1, 3], 5:] = True
    assert float(diff) > 0
    assert float(diff) == pytest.approx(float(shared_block_kl(mu1, lv1, mu2, lv2, mask).mean()), rel=1e-5)


# ---- block-wise permutation and the factorisation levels ----------------------------------------

def test_factorisation_levels_give_the_right_blocks():
    assert factorisation_blocks((3, 2), "inter") == [[0, 1, 2], [3, 4]]
    assert factorisation_blocks((3, 2), "inter+intra_one") == [[0, 1, 2], [3], [4]]
    assert factorisation_blocks((3, 2), "full") == [[0], [1], [2], [3], [4]]
    assert factorisation_blocks((1, 2, 2), "inter+intra_one") == [[0], [1], [2], [3], [4]]
    with pytest.raises(ValueError, match="unknown factorisation"):
        factorisation_blocks((3, 2), "intra")


def test_method_uses_the_blocks_of_its_factorisation(tiny):
    for level, blocks in [("inter", [[0, 1, 2, 3], [4, 5]]), ("inter+intra_one", [[0, 1, 2, 3], [4], [5]]),
                          ("full", [[j] for j in range(6)])]:
        m = build_method("group_tcvae", tiny, latent_dim=6, latent_split=(4, 2), factorisation=level,
                         disc_hidden=8, disc_layers=1)
        assert m.blocks == blocks


def _sorted_rows(a: torch.Tensor) -> np.ndarray:
    a = a.numpy()
    return a[np.lexsort(a.T[::-1])]


def test_permute_blocks_keeps_each_block_and_breaks_dependence_between_blocks():
    g = torch.Generator().manual_seed(0)
    b = 20000
    base = torch.randn(b, 2, generator=g)
    base[:, 1] = 0.8 * base[:, 0] + 0.6 * base[:, 1]  # dependence inside the block
    z = torch.cat([base, base], dim=1)  # z_\c a copy of z_c: blocks fully dependent
    blocks = [[0, 1], [2, 3]]
    out = permute_blocks(z, blocks, generator=torch.Generator().manual_seed(1))
    for cols in blocks:
        # each block's rows are kept intact, as a set (so its joint distribution is the batch's)
        assert np.array_equal(_sorted_rows(out[:, cols]), _sorted_rows(z[:, cols]))
        assert not torch.equal(out[:, cols], z[:, cols])
    c = np.corrcoef(out.numpy().T)
    assert c[0, 1] == pytest.approx(np.corrcoef(z.numpy().T)[0, 1], abs=1e-6)  # within a block: preserved
    assert c[2, 3] == pytest.approx(c[0, 1], abs=1e-6)
    for i in (0, 1):
        for j in (2, 3):
            assert abs(c[i, j]) < 0.03, c  # between blocks: ~0 (was 1 or 0.8 before)
    # without permutation the blocks were dependent
    assert np.corrcoef(z.numpy().T)[0, 2] == pytest.approx(1.0)


def test_permute_blocks_singletons_is_permute_dims_and_checks_the_partition():
    z = torch.arange(24.0).reshape(6, 4).requires_grad_()
    out = permute_blocks(z, [[0], [1], [2], [3]], generator=torch.Generator().manual_seed(3))
    ref = permute_dims(z, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, ref)
    out.sum().backward()  # gradients flow through the gather
    assert torch.equal(z.grad, torch.ones_like(z))
    with pytest.raises(ValueError, match="partition"):
        permute_blocks(z, [[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="no block"):
        permute_blocks(z, [[0, 1], [2]])


# ---- minibatch TC over blocks -------------------------------------------------------------------

def test_minibatch_tc_over_blocks():
    g = torch.Generator().manual_seed(0)
    b = 256
    mu = torch.randn(b, 4, generator=g)
    logvar = torch.full_like(mu, -2.0)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(b, 4, generator=g)
    for est in ("mws", "mss"):
        singles = total_correlation(z, mu, logvar, 1000, est, blocks=[[0], [1], [2], [3]])
        assert torch.allclose(singles, total_correlation(z, mu, logvar, 1000, est))
        assert total_correlation(z, mu, logvar, 1000, est, blocks=[[0, 1, 2, 3]]).abs().item() < 1e-5
    # z_c = a + e, z_\c = a + e' (a ~ N(0, I_2), noise variance s2 = e^-1): the true inter-block TC is
    # the mutual information 2 * (-0.5 log(1 - rho^2)), rho = 1 / (1 + s2); independent blocks: 0
    b = 1024
    a = torch.randn(b, 2, generator=g)
    lv = torch.full((b, 4), -1.0)
    blocks = factorisation_blocks((2, 2), "inter")
    rho = 1.0 / (1.0 + math.exp(-1.0))
    for mu_, expected in [(torch.cat([a, a], 1), -math.log(1 - rho**2)), (torch.cat([a, torch.randn(b, 2, generator=g)], 1), 0.0)]:
        z_ = mu_ + torch.exp(0.5 * lv) * torch.randn(b, 4, generator=g)
        assert total_correlation(z_, mu_, lv, b, "mss", blocks=blocks).item() == pytest.approx(expected, abs=0.1)


# ---- bad input -----------------------------------------------------------------------------------

def test_bad_input_is_one_clear_config_error(tiny):
    with pytest.raises(ConfigError) as e:
        build_method("group_tcvae", tiny, factorisation="intra")
    assert "factorisation" in str(e.value) and "inter+intra_one" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_method("group_tcvae", tiny, latent_split=(3, 3))
    assert "latent_split" in str(e.value) and "latent_dim=10" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_method("group_tcvae", tiny, tc_estimator="sampling")
    assert "tc_estimator" in str(e.value)
    with pytest.raises(ConfigError, match="groups"):
        build_method("group_tcvae", ToySquares())  # no factor groups on the data


def test_defaults():
    m = build_method("group_tcvae", GroupedSquares(), disc_hidden=8, disc_layers=1)
    h = m.hparams
    assert (h.beta, h.gamma, h.factorisation, h.tc_estimator, h.symmetric_kl) == (10.0, 16.0, "inter", "discriminator", False)
    assert type(m).default_batch_size == 32
    assert set(m.optimizers()) == {"vae", "discriminator"}
    m2 = build_method("group_tcvae", GroupedSquares(), tc_estimator="minibatch")
    assert m2.discriminator is None and set(m2.optimizers()) == {"vae"}


# ---- resume and training -------------------------------------------------------------------------

def test_resume_is_exact_with_the_minibatch_estimator(tiny, tmp_path):
    hp = {"tc_estimator": "minibatch", "factorisation": "inter+intra_one", "symmetric_kl": True}
    train(config("group_tcvae", hparams=hp), tmp_path / "full", progress=False, dataset=tiny)
    train(config("group_tcvae", steps=1, hparams=hp), tmp_path / "part", progress=False, dataset=tiny)
    train(config("group_tcvae", hparams=hp), tmp_path / "part", resume=True, progress=False, dataset=tiny)
    assert_same_run(tmp_path / "full", tmp_path / "part")


@pytest.mark.integration
@pytest.mark.parametrize("factorisation,estimator", [("inter", "discriminator"), ("full", "minibatch")])
def test_trains_through_the_trainer(tmp_path, factorisation, estimator):
    steps = 240
    cfg = TrainConfig(method="group_tcvae", dataset="dsprites", steps=steps, batch_size=8, seed=0, log_every=40,
                      checkpoint_every=steps, threads=1,
                      hparams={"latent_dim": 6, "lr": 1e-3, "factorisation": factorisation, "tc_estimator": estimator,
                               "disc_hidden": 128, "disc_layers": 2})
    res = train(cfg, tmp_path / "run", progress=False, dataset=GroupedSquares())
    assert all(math.isfinite(v) for row in res.history for v in row.values())
    vae = [row["recon"] + row["kl"] for row in res.history]  # the VAE part: -(ELBO of both members)
    assert vae[-1] < 0.7 * vae[0], vae
    assert res.history[-1]["pair_kl"] >= 0
    if estimator == "discriminator":
        assert res.history[-1]["discriminator_loss"] < math.log(2) + 0.05
