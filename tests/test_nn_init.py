"""Weight initialisation schemes (``untwine.nn.init``) and the ``init`` hyperparameter."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from untwine.methods import ConfigError, build_method
from untwine.nn import GaussianHead, build_decoder, build_encoder, initialize

LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def _layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, LAYERS)]


def _glorot_bound(m: nn.Module) -> float:
    w = m.weight
    receptive = w[0][0].numel() if w.dim() > 2 else 1
    a, b = w.shape[0] * receptive, w.shape[1] * receptive  # (out, in) or (in, out) for transposed
    return math.sqrt(6.0 / (a + b))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_glorot_zero_biases_and_glorot_range(architecture):
    torch.manual_seed(0)
    model = build_method("beta_vae", (1, 64, 64), architecture=architecture, init="glorot")
    layers = _layers(model)
    assert len(layers) >= 7  # encoder, both head maps, decoder
    for m in layers:
        assert torch.count_nonzero(m.bias) == 0
        bound = _glorot_bound(m)
        top = m.weight.abs().max().item()
        # uniform on [-b, b]: within the bound and filling it (>= 2,560 draws per layer here)
        assert top <= bound and top > 0.9 * bound, (type(m).__name__, tuple(m.weight.shape), top, bound)


def test_torch_scheme_is_pytorch_defaults_unchanged():
    """init="torch" gives exactly the parameters of the layers as PyTorch builds them."""
    torch.manual_seed(0)
    model = build_method("beta_vae", (1, 64, 64), init="torch")
    torch.manual_seed(0)
    ref = nn.Module()
    ref.encoder = build_encoder("conv", (1, 64, 64))
    ref.head = GaussianHead(ref.encoder.features, 10)
    ref.decoder = build_decoder("conv", 10, (1, 64, 64))
    got = model.state_dict()
    assert got.keys() == ref.state_dict().keys()
    for k, v in ref.state_dict().items():
        assert torch.equal(got[k], v), k
    assert any(torch.count_nonzero(m.bias) > 0 for m in _layers(model))  # not the glorot scheme


def test_default_scheme_and_choices():
    # glorot by default for every VAE (disentanglement_lib's; chosen by the comparison in benchmarks/README.md)
    assert build_method("beta_vae", (1, 64, 64)).hparams.init == "glorot"
    assert build_method("wela_vae", (1, 64, 64)).hparams.init == "glorot"
    with pytest.raises(ConfigError, match="init"):
        build_method("beta_vae", (1, 64, 64), init="he")
    with pytest.raises(ValueError, match="unknown init scheme"):
        initialize(nn.Linear(2, 2), "he")


@pytest.mark.parametrize("init", ["torch", "glorot"])
def test_deterministic_per_seed(init):
    states = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        states.append(_state(build_method("beta_tcvae", (1, 64, 64), init=init)))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_wela_glorot_unchanged_by_the_shared_function():
    """WeLa-VAE's init="glorot" equals its former hand-written loop over the torch-built model."""
    kw = dict(encoder_hidden=(32, 32), decoder_hidden=(32, 32))
    torch.manual_seed(7)
    old = build_method("wela_vae", (1, 64, 64), init="torch", **kw)
    for m in old.modules():  # what wela_vae.py did by hand before nn.init existed
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    torch.manual_seed(7)
    new = build_method("wela_vae", (1, 64, 64), init="glorot", **kw)
    assert new.hparams.init == "glorot"
    for k, v in old.state_dict().items():
        assert torch.equal(new.state_dict()[k], v), k


@pytest.mark.parametrize("init", ["torch", "glorot"])
def test_factor_vae_discriminator_follows_the_scheme(init):
    torch.manual_seed(0)
    disc = build_method("factor_vae", (1, 64, 64), init=init).discriminator
    zero_biases = all(torch.count_nonzero(m.bias) == 0 for m in _layers(disc))
    assert zero_biases == (init == "glorot")
