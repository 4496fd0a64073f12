"""Reduced precision (untwine.nn.precision): bf16 autocast agrees with fp32 on one batch for every
method, losses stay fp32, ``auto`` falls back to fp32 without native bf16, the choice is stored
resolved, and a bf16 run trains and resumes exactly."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import yaml

from test_contract_methods import METHODS, TinyGrid, config, interface_method_registered  # noqa: F401
from test_trainer_interrupt import assert_same_run
from untwine.data.samplers import Streams
from interface_method import InterfaceMethod
from untwine.methods import ConfigError, build_method, get_method_class
from untwine.nn import precision as P
from untwine.nn.moments import batch_covariance
from untwine.train import TrainConfig, train
from untwine.train.trainer import resolved_precision

# bf16 keeps 8 bits of mantissa (relative rounding 2^-8 = 0.4% per operation): a loss summed
# over 4,096 pixels from bf16 convolutions lands within about 1% of fp32's
RTOL, ATOL = 0.02, 0.05


@pytest.fixture(scope="module")
def tiny():
    return TinyGrid()


def _losses(method, batch, precision):
    torch.manual_seed(5)  # the same reparameterisation / permutation noise for both precisions
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", P.SlowPrecisionWarning)
        for i, phase in enumerate(method.phases()):
            with P.autocast(precision, "cpu"):
                step = phase(batch, 0)
            out.update({f"{i}.{k}": v for k, v in step.losses.items()})
    return out


@pytest.mark.parametrize("name", METHODS)
def test_bf16_one_batch_agrees_with_fp32_and_stays_fp32(name, tiny):
    torch.manual_seed(0)
    method = build_method(name, tiny, **get_method_class(name).contract_hparams)
    batch = Streams(method.streams(), tiny, 8, seed=3).draw(0)
    fp32, bf16 = _losses(method, batch, "fp32"), _losses(method, batch, "bf16")
    assert fp32.keys() == bf16.keys()
    for key in fp32:
        a, b = fp32[key], bf16[key]
        if name != InterfaceMethod.name:  # untwine's own: fp32 where the losses begin (a user's method may differ)
            assert b.dtype == torch.float32, f"{name} loss {key} left autocast as {b.dtype}"
        assert bool(torch.isfinite(b)), f"{name} loss {key} is {float(b)} in bf16"
        assert math.isclose(a.item(), b.item(), rel_tol=RTOL, abs_tol=ATOL), f"{name} {key}: fp32 {a.item()} bf16 {b.item()}"
    # and the gradients of the bf16 loss are finite
    loss = sum(bf16.values())
    grads = torch.autograd.grad(loss, [p for p in method.parameters() if p.requires_grad], allow_unused=True)
    assert all(g is None or bool(torch.isfinite(g).all()) for g in grads)


def test_bf16_actually_computes_the_networks_in_bf16(tiny):
    """The agreement above would be empty if autocast did nothing: under bf16 the encoder trunk's
    output is bf16 and differs from fp32's, while the head casts back to fp32."""
    torch.manual_seed(0)
    method = build_method("beta_vae", tiny)
    x = method.prepare(tiny.images(np.arange(4)))
    with P.autocast("bf16", "cpu"):
        h = method.encoder(x)
        mu, logvar = method.head(h)
    assert h.dtype == torch.bfloat16 and mu.dtype == torch.float32 and logvar.dtype == torch.float32
    mu32, _ = method.posterior(x)
    assert not torch.equal(mu, mu32) and torch.allclose(mu, mu32, rtol=0.05, atol=0.05)


def test_full_precision_runs_matrix_products_in_fp32():
    x = torch.randn(64, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = x.T @ x  # autocast rounds a bare matmul to bf16
        kept = batch_covariance(x)
    assert plain.dtype == torch.bfloat16 and kept.dtype == torch.float32
    torch.testing.assert_close(kept, batch_covariance(x))


def test_auto_falls_back_to_fp32_without_native_bf16():
    assert P.resolve_precision("auto", "cpu", native=lambda d: False) == "fp32"
    assert P.resolve_precision("auto", "cpu", native=lambda d: True) == "bf16"
    assert P.resolve_precision("fp32", "cpu", native=lambda d: True) == "fp32"
    with pytest.warns(P.SlowPrecisionWarning, match="--precision auto"):
        assert P.resolve_precision("bf16", "cpu", native=lambda d: False) == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert P.resolve_precision("bf16", "cpu", native=lambda d: True) == "bf16"


def test_native_probe_reads_the_cpu(monkeypatch):
    monkeypatch.setattr(P.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert P.native_bf16("cpu") is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert P.native_bf16("cpu") is True
    monkeypatch.setattr(P.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(P, "_cpu_flag", lambda name: name == "bf16")
    assert P.native_bf16("cpu") is True


def test_precision_is_validated_and_stored_resolved(tmp_path, tiny, monkeypatch):
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp16")
    monkeypatch.setattr(P, "native_bf16", lambda device="cpu": False)
    from untwine.train import trainer

    monkeypatch.setattr(trainer, "resolve_precision", lambda name, device: P.resolve_precision(name, device, native=lambda d: False))
    assert resolved_precision(TrainConfig(precision="auto"), torch.device("cpu")).precision == "fp32"
    train(config("beta_vae", precision="auto"), tmp_path / "run", progress=False, dataset=tiny)
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["precision"] == "fp32"
    # resuming with auto resolves to the same choice and continues
    train(config("beta_vae", precision="auto", steps=3), tmp_path / "run", resume=True, progress=False, dataset=tiny)


def test_config_yaml_from_before_the_option_means_fp32(tmp_path):
    values = TrainConfig(method="beta_vae").to_dict()
    del values["precision"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(values))
    assert TrainConfig.from_yaml(tmp_path / "config.yaml").precision == "fp32"


def test_bf16_run_trains_and_resumes_exactly(tmp_path, tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", P.SlowPrecisionWarning)
        full = train(config("beta_tcvae", precision="bf16", steps=3), tmp_path / "full", progress=False, dataset=tiny)
        train(config("beta_tcvae", precision="bf16", steps=1), tmp_path / "part", progress=False, dataset=tiny)
        train(config("beta_tcvae", precision="bf16", steps=3), tmp_path / "part", resume=True, progress=False, dataset=tiny)
    assert full.config.precision == "bf16"
    assert all(math.isfinite(v) for row in full.history for v in row.values())
    assert_same_run(tmp_path / "full", tmp_path / "part")


def test_a_run_resumed_with_auto_keeps_its_own_precision(tmp_path, tiny, monkeypatch):
    """A bf16 run resumed with ``auto`` on a machine where auto would mean fp32 (or the reverse)
    continues in the precision it was trained in, and a finished run is reused, not refused."""
    from untwine.experiments.runs import train_or_continue
    from untwine.train import trainer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", P.SlowPrecisionWarning)
        train(config("beta_vae", precision="bf16", steps=2), tmp_path / "run", progress=False, dataset=tiny)
        monkeypatch.setattr(trainer, "resolve_precision",
                            lambda name, device: P.resolve_precision(name, device, native=lambda d: False))
        res = train(config("beta_vae", precision="auto", steps=3), tmp_path / "run", resume=True, progress=False,
                    dataset=tiny)
        assert res.config.precision == "bf16" and res.step == 3
        assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["precision"] == "bf16"
        reused, _ = train_or_continue(config("beta_vae", precision="auto", steps=3), tmp_path / "run", tiny)
        assert reused.step == 3
    # an explicit other precision is still refused, naming the field
    from untwine.train.run_dir import RunDirError

    with pytest.raises(RunDirError, match="precision"):
        train(config("beta_vae", precision="fp32", steps=4), tmp_path / "run", resume=True, progress=False, dataset=tiny)


def test_native_probe_on_cuda_asks_for_hardware_bf16_not_emulation(monkeypatch):
    """No GPU here: the CUDA branch of the probe is checked against a simulated torch.cuda."""
    asked = []

    def supported(including_emulation=True):
        asked.append(including_emulation)
        return capability[0] >= 8 or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    for capability, expected in (((7, 5), False), ((8, 0), True), ((9, 0), True)):
        assert P.native_bf16("cuda") is expected
        assert P.resolve_precision("auto", "cuda") == ("bf16" if expected else "fp32")
    assert asked and not any(asked)  # emulated bf16 never counts as native
