import pytest
import torch

from untwine.methods import ConfigError, DataFacts, available_methods, build_method


def test_registry_lists_vae_family():
    assert {"vae", "beta_vae"} <= set(available_methods())


def test_unknown_method_names_the_choices():
    with pytest.raises(ConfigError, match="available:.*beta_vae"):
        build_method("betavae2", DataFacts((1, 64, 64)))


@pytest.mark.parametrize("bad", [{"beta": -1.0}, {"latent_dim": 0}, {"lr": 0.0}, {"architecture": "resnet"}])
def test_invalid_hyperparameters_are_rejected(bad):
    with pytest.raises(ConfigError):
        build_method("beta_vae", DataFacts((1, 64, 64)), **bad)


def test_unknown_hyperparameter_suggests_close_name():
    with pytest.raises(ConfigError, match="did you mean 'beta'"):
        build_method("beta_vae", DataFacts((1, 64, 64)), betta=2.0)


def test_encode_returns_mean_of_posterior():
    torch.manual_seed(0)
    m = build_method("beta_vae", DataFacts((1, 64, 64)), latent_dim=6)
    x = torch.randint(0, 256, (5, 1, 64, 64), dtype=torch.uint8)
    mu, _ = m.posterior(x.float() / 255)
    assert torch.allclose(m.encode(x), mu)
    assert m.decode(mu).shape == (5, 1, 64, 64)


def test_docstring_lists_every_hyperparameter_with_its_default():
    from untwine.methods import get_method_class

    for name in available_methods():
        cls = get_method_class(name)
        for field_name, default, _ in cls.Hyperparameters.describe():
            assert f"{field_name} " in cls.__doc__ and repr(default) in cls.__doc__


def test_method_help_lists_flags(capsys):
    from untwine.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--method", "beta_vae", "--out", "x", "--help"])
    out = capsys.readouterr().out
    assert "--beta" in out and "--latent-dim" in out and "(default: 4.0)" in out
