"""Configuration records (untwine.records): validation by type hint, canonical values, the config file."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from untwine.methods import ConfigError, Hyperparameters, build_method, get_method_class, hp
from untwine.records import Record
from untwine.train import TrainConfig


@dataclass
class Toy(Record):
    count: int = hp(3, "an integer", low=1, high=10)
    rate: float = hp(0.5, "a number in (0, 1]", low=0.0, low_open=True, high=1.0)
    sizes: tuple[int, ...] = hp((4, 4), "layer sizes", low=1)
    pair: tuple[float, float] = hp((0.9, 0.999), "two numbers")
    mode: str = hp("a", "a choice", choices=("a", "b"))
    flag: bool = hp(False, "a switch")
    auto: float | None = hp(None, "automatic when none", low=0.0, aliases={-1.0: None})
    extra: dict = hp({}, "a mapping")


def test_values_are_canonicalised():
    t = Toy(rate=1, sizes=[2, 3], pair=[1, 0.5], auto=-1.0)
    assert t.rate == 1.0 and type(t.rate) is float
    assert t.sizes == (2, 3) and t.pair == (1.0, 0.5) and type(t.pair[0]) is float
    assert t.auto is None  # a deprecated spelling becomes today's
    assert Toy.from_dict(t.to_dict()) == t
    assert t.to_dict()["sizes"] == [2, 3]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"count": True}, "count must be an integer, got True"),
        ({"count": 2.0}, "count must be an integer, got 2.0"),
        ({"count": 11}, "count must be between 1 and 10, got 11"),
        ({"rate": 0.0}, "rate must be > 0.0 and <= 1.0, got 0.0"),
        ({"rate": float("nan")}, "rate must be finite"),
        ({"rate": "1e-4"}, "rate must be a finite number, got '1e-4' (text, not a number"),
        ({"sizes": ("a",)}, "sizes must be a list of integers like 1200,1200, got ('a',)"),
        ({"sizes": (4, 0)}, "every element of sizes must be >= 1, got 0 in (4, 0)"),
        ({"sizes": 4}, "sizes must be a list of integers"),
        ({"pair": (1.0,)}, "pair must have 2 values, got 1"),
        ({"mode": "c"}, "mode='c' is not allowed"),
        ({"mode": "B"}, "did you mean 'b'?"),
        ({"flag": 1}, "flag must be true or false, got 1"),
        ({"auto": -0.5}, "auto must be >= 0.0, got -0.5"),
        ({"auto": "x"}, "auto must be a finite number or null (automatic), got 'x'"),
        ({"extra": [1]}, "extra must be a mapping of NAME: VALUE, got [1]"),
        ({"cuont": 1}, "unknown field(s) 'cuont' (did you mean 'count'?); valid: count, rate"),
    ],
)
def test_one_line_error_names_field_value_and_range(values, message):
    with pytest.raises(ConfigError) as e:
        Toy.from_dict(values)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_field_text_forms():
    specs = {s.name: s for s in Toy.field_specs()}
    assert specs["sizes"].parse("1200,1200") == (1200, 1200)
    assert specs["auto"].parse("none") is None and specs["auto"].parse("auto") is None
    assert specs["auto"].parse("2") == 2
    assert specs["rate"].parse("abc") == "abc"  # rejected by the record, which names the field
    assert specs["count"].range_text() == "between 1 and 10"
    assert specs["mode"].range_text() == "one of: a, b"


def test_method_records_follow_type_hints():
    with pytest.raises(ConfigError, match=r"encoder_hidden must be a list of integers.*\('a',\)"):
        build_method("wela_vae", (1, 64, 64), encoder_hidden=("a",))
    with pytest.raises(ConfigError, match="latent_dim must be between 1 and 4096"):
        build_method("beta_vae", (1, 64, 64), latent_dim=10**9)
    with pytest.raises(ConfigError, match="decoder_hidden must list at least one layer"):
        build_method("wela_vae", (1, 64, 64), decoder_hidden=[])
    h = get_method_class("beta_vae").Hyperparameters.from_dict({"lr": 1, "beta": 2})
    assert type(h.lr) is float and type(h.beta) is float


def test_hyperparameters_are_records():
    assert issubclass(Hyperparameters, Record)
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        get_method_class("beta_vae").Hyperparameters.from_dict({"bta": 1})


def test_wela_automatic_values_are_none():
    cls = get_method_class("wela_vae")
    h = cls.Hyperparameters()
    assert h.gamma is None and h.lambda_d_factor is None and h.dataset_size is None
    assert build_method("wela_vae", (1, 64, 64), resolution=3, encoder_hidden=[8], decoder_hidden=[8]).gamma == 1500.0
    assert build_method("wela_vae", (1, 64, 64), gamma=7.0, encoder_hidden=[8], decoder_hidden=[8]).gamma == 7.0
    # the -1 of older config.yaml files is read as None (deprecated alias)
    old = cls.Hyperparameters.from_dict({"gamma": -1.0, "lambda_d_factor": -1.0, "dataset_size": 0})
    assert old == h
    with pytest.raises(ConfigError, match="gamma must be >= 0.0, got -0.5"):
        cls.Hyperparameters.from_dict({"gamma": -0.5})
    with pytest.raises(ConfigError, match="set gamma explicitly for resolution=9"):
        cls.Hyperparameters.from_dict({"resolution": 9})
    assert get_method_class("beta_tcvae").Hyperparameters().dataset_size is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"batch_size": 1.5}, "batch_size must be an integer"),
        ({"steps": True}, "steps must be an integer, got True"),
        ({"threads": True}, "threads must be an integer"),
        ({"batch_size": 10**7}, "batch_size must be between 1 and 65536"),
        ({"steps": 10**13}, "steps must be between 1 and"),
        ({"hparams": [1, 2]}, "hparams must be a Hyperparameters record or a mapping"),
        ({"dataset_options": ["path"]}, "dataset_options must be a mapping"),
        ({"device": "cuda:x"}, "device must be"),
        ({"seed": -1}, "seed must be between 0 and"),
        ({"method": "wela_vae", "hparams": {"encoder_hidden": ("a",)}}, "encoder_hidden must be a list of integers"),
        ({"hparams": get_method_class("wela_vae").Hyperparameters()}, "method beta_vae takes BetaVAEParams"),
    ],
)
def test_train_config_rejects_bad_values(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**values)


def test_hparams_canonicalised_once():
    c = TrainConfig(method="beta_tcvae", hparams={"beta": 3})
    assert c.method_hparams() is c.method_hparams() is c.hparams
    assert c.hparams.beta == 3.0 and c.hparams.dataset_size is None
    d = c.to_dict()
    assert isinstance(d["hparams"], dict) and d["hparams"]["latent_dim"] == 10 and d["hparams"]["beta"] == 3.0
    assert list(d) == ["method", "dataset", "hparams", "dataset_options", "steps", "batch_size", "seed", "device",
                       "checkpoint_every", "log_every", "threads", "channels_last", "precision"]
    assert TrainConfig.from_dict(d) == c


def test_default_batch_size_is_the_methods():
    assert get_method_class("beta_vae").default_batch_size == 64
    assert TrainConfig(method="beta_vae").batch_size == 64
    assert TrainConfig(method="wela_vae").batch_size == 256  # the paper's (decisions.md)
    assert TrainConfig(method="wela_vae", batch_size=32).batch_size == 32
    assert yaml.safe_load(TrainConfig(method="wela_vae").to_yaml())["batch_size"] == 256  # stored resolved


def test_old_config_yaml_still_loads(tmp_path):
    # written by untwine before None meant "automatic"
    text = """method: wela_vae
dataset: blobs
hparams: {latent_dim: 2, gamma: -1.0, dataset_size: 0, lambda_d_factor: -1.0, encoder_hidden: [16, 16]}
dataset_options: {}
steps: 10
batch_size: 64
seed: 0
device: cpu
checkpoint_every: 1000
log_every: 50
threads: 0
"""
    (tmp_path / "config.yaml").write_text(text)
    c = TrainConfig.from_yaml(tmp_path / "config.yaml")
    assert c.hparams.gamma is None and c.hparams.dataset_size is None and c.threads is None
    assert c.hparams.encoder_hidden == (16, 16) and c.batch_size == 64 and c.channels_last is True


@pytest.mark.parametrize(
    "text, message",
    [
        ("steps: ten\n", "steps must be an integer, got 'ten'"),
        ("hparams: [1, 2]\n", "hparams must be a Hyperparameters record or a mapping"),
        ("hparams: {bta: 2}\n", "did you mean 'beta'"),
        ("stepz: 3\n", "unknown config key(s) 'stepz' (did you mean 'steps'?)"),
        ("- a\n- b\n", "must hold a mapping"),
        ("steps: [1\n", "is not valid YAML"),
    ],
)
def test_malformed_config_file_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_yaml(path)
    assert message in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_numpy_numbers_are_accepted_and_converted():
    import numpy as np

    c = TrainConfig(seed=np.int64(3), hparams={"beta": np.float32(2.5), "latent_dim": np.int32(4)})
    assert type(c.seed) is int and type(c.hparams.beta) is float and type(c.hparams.latent_dim) is int
    assert c.to_yaml() == TrainConfig(seed=3, hparams={"beta": 2.5, "latent_dim": 4}).to_yaml()


def test_misspelt_keyword_from_python_is_a_config_error():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) 'stepz' \(did you mean 'steps'\?\)"):
        TrainConfig(stepz=3)
    with pytest.raises(ConfigError, match=r"unknown hyperparameter\(s\) 'bta' \(did you mean 'beta'\?\)"):
        get_method_class("beta_vae").Hyperparameters(bta=1)
