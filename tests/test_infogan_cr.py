"""InfoGAN-CR (untwine.methods.infogan_cr): the CR pairs, the Q and CR losses on hand cases, the
progressive switch (event), training through the trainer with an exact resume across the switch, the
traced encoder, and clear errors for bad settings."""

from __future__ import annotations

import math

import pytest
import torch

from test_contract_methods import TinyGrid
from test_trainer_interrupt import assert_same_run
from untwine.methods import DataFacts, EventContext, build_method
from untwine.methods.infogan_cr import CRDiscriminator, cr_loss, q_loss
from untwine.methods.optim import OptimizerSet
from untwine.records import ConfigError
from untwine.train import TrainConfig, train

FACTS = DataFacts((1, 64, 64))


def _model(**hp):
    torch.manual_seed(0)
    return build_method("infogan_cr", FACTS, **hp)


@pytest.mark.parametrize("gap", [0.0, 0.5, 1.5])
def test_cr_pairs_share_exactly_code_k_and_the_nuisance_and_differ_elsewhere(gap):
    m = _model(gap=gap)
    K = m.hparams.num_codes
    z_a, z_b, k = m.cr_pairs(4000, generator=torch.Generator().manual_seed(1))
    assert z_a.shape == z_b.shape == (4000, 10) and k.shape == (4000,) and k.dtype == torch.int64
    assert set(k.tolist()) == set(range(K))
    rows = torch.arange(4000)
    assert torch.equal(z_a[rows, k], z_b[rows, k])  # code k shared exactly
    assert torch.equal(z_a[:, K:], z_b[:, K:])  # the whole nuisance vector shared
    other = ~torch.nn.functional.one_hot(k, K).bool()
    diff = (z_a[:, :K] - z_b[:, :K]).abs()[other]
    assert bool((diff > 0).all()) and float(diff.min()) >= gap - 1e-6  # every other code differs, by >= gap
    assert float(z_a.abs().max()) <= 1.0 and float(z_b.abs().max()) <= 1.0
    # the shared code and the nuisance are U(-1, 1); the others independent across the pair
    shared = z_a[rows, k]
    assert abs(float(shared.mean())) < 0.05 and abs(float(shared.std()) - 1 / math.sqrt(3)) < 0.03
    if gap == 0.0:
        a, b = z_a[:, :K][other], z_b[:, :K][other]
        assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.05
    # the same generator state gives the same pairs; the global generator is the default
    again = m.cr_pairs(4000, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip((z_a, z_b, k), again))
    torch.manual_seed(3)
    g1 = m.cr_pairs(5)
    torch.manual_seed(3)
    assert all(torch.equal(x, y) for x, y in zip(g1, m.cr_pairs(5)))


def test_q_loss_is_the_gaussian_nll_with_std_1_half_the_summed_squared_error():
    q = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    c = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    # squared errors per row 1 and 4 -> / 2 -> 0.5 and 2 -> mean 1.25; plus (K/2) log 2 pi with K = 2
    assert float(q_loss(q, c)) == pytest.approx(1.25 + math.log(2 * math.pi))
    nll = -torch.distributions.Normal(q, 1.0).log_prob(c).sum(1).mean()
    assert float(q_loss(q, c)) == pytest.approx(float(nll))


class _FixedLogits(torch.nn.Module):
    """A CR discriminator stub: the same logits for every pair."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x_a, x_b):
        assert x_a.shape == x_b.shape and x_a.shape[1:] == (1, 64, 64)
        assert float(x_a.detach().min()) >= 0 and float(x_a.detach().max()) <= 1  # images (sigmoid of the logits)
        return self.logits[: len(x_a)]


def test_cr_loss_is_the_cross_entropy_of_the_shared_code_in_both_the_cr_d_and_the_g_loss():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    k = torch.tensor([0, 3])
    hand = (-math.log(math.exp(2) / (math.exp(2) + 4)) + math.log(5)) / 2
    assert float(cr_loss(logits, k)) == pytest.approx(hand)

    m = _model(cr_start=5, cr_weight=2.0).eval()  # eval: BN and spectral norms fixed, so passes repeat exactly
    m.cr_discriminator = _FixedLogits(logits)
    batch = {"images": {"x": torch.zeros(2, 1, 64, 64, dtype=torch.uint8)}}
    original = m.cr_pairs

    def pairs_with_known_k(n, generator=None):
        z_a, z_b, _ = original(n, generator)
        return z_a, z_b, k

    m.cr_pairs = pairs_with_known_k
    assert m.cr_discriminator_phase(batch, 4).losses == {}  # before the switch: no CR-D loss
    out = m.cr_discriminator_phase(batch, 5)
    assert float(out.losses["cr_discriminator"]) == pytest.approx(hand)
    assert float(out.logs["cr_accuracy"]) == 0.5
    # the generator loss adds cr_weight x the same cross-entropy from step cr_start on (same noise)
    torch.manual_seed(7)
    before = m.generator_phase(batch, 4)
    torch.manual_seed(7)
    after = m.generator_phase(batch, 5)
    assert before.logs["cr_coe"] == 0.0 and after.logs["cr_coe"] == 2.0 and "g_cr_loss" not in before.logs
    added = (after.losses["generator"] - before.losses["generator"]).detach()
    assert float(added) == pytest.approx(2.0 * hand, rel=1e-5)


def test_one_draw_of_noise_per_batch_is_shared_by_every_phase_unless_asked_otherwise():
    m = _model()
    batch = {"images": {"x": torch.zeros(4, 1, 64, 64, dtype=torch.uint8)}}
    m.cr_discriminator_phase(batch, 0)
    drawn = m.noise(4, 0)
    assert drawn is m.noise(4, 0)
    m.cr_discriminator_phase(batch, 0)  # the first phase of a step always draws
    assert not torch.equal(drawn["z"], m.noise(4, 0)["z"])
    fresh = _model(shared_noise=False)
    assert not torch.equal(fresh.noise(4, 0)["z"], fresh.noise(4, 0)["z"])
    assert len(m.phases()) == 4 and len(_model(generator_steps=3).phases()) == 5


def test_spectral_norm_vectors_advance_once_per_step_in_the_d_and_cr_d_steps_only():
    m = _model(cr_start=0)
    batch = {"images": {"x": (torch.rand(4, 1, 64, 64) * 255).to(torch.uint8)}}

    def vectors(net):
        # the power iteration's u of each layer (a 1-vector, the real/fake head's, is always 1)
        return [v.clone() for k, v in net.state_dict().items() if k.endswith("._u") and v.numel() > 1]

    def moved(before, net):
        return [not torch.equal(a, b) for a, b in zip(before, vectors(net))]

    cr_phase, d_phase, *g_phases = m.phases()
    d0, h0 = vectors(m.discriminator), vectors(m.cr_discriminator)
    cr_phase(batch, 0)
    assert all(moved(h0, m.cr_discriminator)) and not any(moved(d0, m.discriminator))
    h1 = vectors(m.cr_discriminator)
    d_phase(batch, 0)
    assert all(moved(d0, m.discriminator)) and not any(moved(h1, m.cr_discriminator))
    d1 = vectors(m.discriminator)
    outs = [g(batch, 0) for g in g_phases]
    assert outs[0].logs == {} and "g_cr_loss" in outs[-1].logs  # only the last generator step logs
    assert not any(moved(d1, m.discriminator)) and not any(moved(h1, m.cr_discriminator))
    assert m.discriminator.training and m.cr_discriminator.training  # the modes are restored


def test_the_switch_reinitialises_the_cr_discriminator_and_its_optimiser():
    m = _model(cr_start=7)
    assert list(m.events()) == [7] and _model(cr_start=0).events() == {}
    opts = OptimizerSet(m)
    batch = {"images": {"x": (torch.rand(4, 1, 64, 64) * 255).to(torch.uint8)}}
    for phase in m.phases():  # train every network once (at step 7 the CR-D trains too)
        out = phase(batch, 7)
        for name, loss in out.losses.items():
            opts[name].zero_grad()
            loss.backward()
            opts[name].step()
    assert all(opts[n].state for n in opts)
    trained = {k: v.clone() for k, v in m.cr_discriminator.state_dict().items()}
    d_state = {k: v.clone() for k, v in m.discriminator.state_dict().items()}
    torch.manual_seed(42)
    m.switch_cr_on(EventContext(7, None, {}, opts, torch.device("cpu")))
    torch.manual_seed(42)
    fresh = CRDiscriminator(1, 5).state_dict()
    now = m.cr_discriminator.state_dict()
    assert all(torch.equal(now[k], fresh[k]) for k in fresh)  # a fresh initialisation (weights, biases, SN vectors)
    assert any(not torch.equal(now[k], trained[k]) for k in trained)
    assert not opts["cr_discriminator"].state  # fresh Adam state, over the module's (same) parameters
    assert [id(p) for p in opts.params("cr_discriminator")] == [id(p) for p in m.cr_discriminator.parameters()]
    assert opts["discriminator"].state and opts["generator"].state  # the others keep theirs
    assert all(torch.equal(v, d_state[k]) for k, v in m.discriminator.state_dict().items())


def _config(steps, **hp):
    return TrainConfig(method="infogan_cr", dataset="tiny_grid", steps=steps, batch_size=4, seed=5, log_every=1,
                       checkpoint_every=5, threads=1, hparams={"cr_start": 10, **hp})


def test_training_switches_at_cr_start_without_nan_and_resume_across_the_switch_is_exact(tmp_path):
    ds = TinyGrid()
    full = train(_config(30), tmp_path / "full", progress=False, dataset=ds)
    rows = full.history
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert all(math.isfinite(v) for r in rows for v in r.values())
    # step t (1-based row) runs with t - 1 completed steps: the CR is on from row cr_start + 1
    assert [("cr_loss" in r) for r in rows] == [False] * 10 + [True] * 20
    assert [r["cr_coe"] for r in rows] == [0.0] * 10 + [2.0] * 20
    assert all(p.isfinite().all() for p in full.method.parameters())
    # stop right at the switch (the event runs on resume), then after it, then finish
    train(_config(10), tmp_path / "part", progress=False, dataset=ds)
    train(_config(17), tmp_path / "part", resume=True, progress=False, dataset=ds)
    train(_config(30), tmp_path / "part", resume=True, progress=False, dataset=ds)
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_encode_is_q_on_real_images_traceable_and_decode_sets_the_nuisance_to_zero():
    from untwine.metrics.codes import inference_encoder

    m = _model().eval()
    x = (torch.rand(6, 1, 64, 64) * 255).to(torch.uint8)
    with torch.no_grad():
        z = m.encode(x)
        assert z.shape == (6, 5) and m.latent_dim == 5
        assert torch.allclose(z, m.encode(x.float() / 255))
        assert torch.allclose(z, m.discriminator(x.float() / 255)[1])
        fast = inference_encoder(m, x)
        assert fast is not None and torch.allclose(torch.as_tensor(fast(x)), z, atol=1e-5)
        c = torch.rand(3, 5) * 2 - 1
        assert torch.equal(m.decode(c), m.decode(torch.cat([c, torch.zeros(3, 5)], 1)))
        assert m.decode(c).shape == (3, 1, 64, 64)
    with pytest.raises(ValueError, match=r"\(N, 5\) or full latents \(N, 10\)"):
        m.decode(torch.zeros(3, 7))
    rgb = build_method("infogan_cr", DataFacts((3, 64, 64))).eval()
    with torch.no_grad():
        assert rgb.encode(torch.rand(2, 3, 64, 64)).shape == (2, 5) and rgb.decode(c).shape == (3, 3, 64, 64)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"64x64 images.*\(1, 32, 32\).*resize"):
        build_method("infogan_cr", DataFacts((1, 32, 32)))
    with pytest.raises(ConfigError, match=r"gap=2.0 can never be satisfied.*\[0, 2\)"):
        build_method("infogan_cr", FACTS, gap=2.0)
    with pytest.raises(ConfigError, match=r"gap must be between 0.0 and 2.0"):
        build_method("infogan_cr", FACTS, gap=3.0)
    with pytest.raises(ConfigError, match=r"gap must be"):
        build_method("infogan_cr", FACTS, gap=-0.1)
    with pytest.raises(ConfigError, match=r"gap=2.0 can never"):
        _config(5, gap=2.0)
    # a run that ends before the switch is allowed: plain InfoGAN (e.g. the first part of a longer run)
    assert _config(5, cr_start=288000).steps == 5
