"""The suite's speed paths change no results beyond float rounding: the frozen TorchScript
encoder (checked against eager, with fallbacks) and DCI's parallel, binned LightGBM fits."""

import numpy as np
import pytest
import torch

from untwine.methods import build_method
from untwine.metrics import CodeTable, dci, evaluate
from untwine.metrics.codes import inference_encoder


def _codes(model, dataset, **kw):
    table = CodeTable(model, dataset, batch_size=8, **kw)
    return table, table.codes_for_indices(np.arange(len(dataset)))


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_fast_encoder_gives_the_eager_codes(toy_dataset, arch):
    torch.manual_seed(0)
    model = build_method("beta_vae", toy_dataset, architecture=arch, latent_dim=4)
    model.train()
    fast_table, fast = _codes(model, toy_dataset)  # 36 images: 4 traced batches of 8, 4 eager
    eager_table, eager = _codes(model, toy_dataset, fast_encoder=False)
    assert fast_table.uses_fast_encoder and not eager_table.uses_fast_encoder
    assert model.training  # restored after encoding
    np.testing.assert_allclose(fast, eager, rtol=1e-5, atol=1e-6)
    # and both are the model's own codes of each image, in dataset order (computed here, not by the table)
    with torch.no_grad():
        direct = model.eval().encode(toy_dataset.images(np.arange(len(toy_dataset))))
    direct = (direct[0] if isinstance(direct, tuple) else direct).double().numpy()
    np.testing.assert_allclose(eager, direct, rtol=1e-5, atol=1e-6)  # batches of 8 vs one of 36: oneDNN rounds differently
    np.testing.assert_allclose(fast, direct, rtol=1e-5, atol=1e-6)


def test_fast_encoder_is_deterministic(toy_dataset):
    torch.manual_seed(0)
    model = build_method("beta_vae", toy_dataset, latent_dim=3)
    np.testing.assert_array_equal(_codes(model, toy_dataset)[1], _codes(model, toy_dataset)[1])


class _NumpyEncoder(torch.nn.Module):
    """Data-dependent Python in encode: a trace would bake the first batch's values in."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def encode(self, x):
        v = x.reshape(x.shape[0], -1).float().mean(1).numpy()  # leaves the graph
        return torch.from_numpy(np.stack([v, v ** 2], 1)) * self.w


class _RandomEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def encode(self, x):
        return x.reshape(x.shape[0], -1).float()[:, :2] * self.w + torch.rand(x.shape[0], 2)


def test_untraceable_or_disagreeing_models_are_encoded_eagerly(toy_dataset, monkeypatch):
    x = toy_dataset.images(np.arange(8))
    with pytest.warns(UserWarning, match="fast encoder unavailable"):
        assert inference_encoder(_NumpyEncoder().eval(), x) is None
    with pytest.warns(UserWarning, match="nondeterministic"):
        assert inference_encoder(_RandomEncoder().eval(), x) is None
    traceable = build_method("beta_vae", toy_dataset, latent_dim=2).eval()
    assert inference_encoder(traceable, x) is not None
    optimize = torch.jit.optimize_for_inference  # an optimisation pass that changed the maths:
    monkeypatch.setattr(torch.jit, "optimize_for_inference", lambda m: (lambda t: optimize(m)(t) + 1e-3))
    with pytest.warns(UserWarning, match="disagrees"):
        assert inference_encoder(traceable, x) is None
    monkeypatch.undo()
    model = _NumpyEncoder()
    with pytest.warns(UserWarning, match="fast encoder unavailable"):
        table, codes = _codes(model, toy_dataset, fast_encoder=True)
    assert not table.uses_fast_encoder
    with torch.no_grad():
        np.testing.assert_allclose(codes, model.encode(toy_dataset.images(np.arange(len(toy_dataset)))).numpy())
    # modules that do not declare a traceable encode are never traced unless asked
    assert not _codes(_NumpyEncoder(), toy_dataset)[0].uses_fast_encoder


def test_label_encoder_wela_is_not_traced(toy_dataset):
    model = build_method("wela_vae", toy_dataset, architecture="mlp", label_encoder=True)
    assert model.encode_is_traceable is False
    assert build_method("wela_vae", toy_dataset, architecture="mlp", label_encoder=False).encode_is_traceable


def test_evaluate_same_scores_with_either_encoder(toy_dataset):
    torch.manual_seed(0)
    model = build_method("beta_vae", toy_dataset, latent_dim=4)
    opts = {"mig": {"num_train": 200}}
    a = evaluate(model, toy_dataset, ["mig"], options=opts)
    b = evaluate(model, toy_dataset, ["mig"], options=opts, fast_encoder=False)
    assert a["mig"] == pytest.approx(b["mig"], abs=1e-6)


# ---- DCI ----------------------------------------------------------------------------------------
def _dci_data(n, sizes=(3, 5, 2), seed=0):
    rng = np.random.default_rng(seed)
    y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    z = np.concatenate([y / np.asarray(sizes) + 0.2 * rng.standard_normal(y.shape),
                        rng.standard_normal((n, 1)), np.zeros((n, 1))], 1)  # one noise, one constant latent
    return z[: n * 2 // 3], y[: n * 2 // 3], z[n * 2 // 3:], y[n * 2 // 3:]


def test_dci_parallel_fits_change_nothing():
    data = _dci_data(600)
    assert dci(*data, n_jobs=1) == dci(*data, n_jobs=3)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            dci(*data, n_jobs=bad)


def test_dci_bins_option():
    data = _dci_data(600)
    exact = dci(*data)
    binned = dci(*data, max_bin=16)  # approximate split search: runs, and stays near
    assert exact != binned and all(abs(exact[k] - binned[k]) < 0.2 for k in exact)
    for bad in (1, "many", True):
        with pytest.raises(ValueError, match="max_bin"):
            dci(*data, max_bin=bad)


def test_dci_constant_codes_equal_the_reference():
    """No split anywhere (LightGBM refuses such data): every stage a single-leaf tree, as sklearn."""
    z, y, z_te, y_te = _dci_data(450)
    zero, zero_te = np.zeros_like(z), np.zeros_like(z_te)
    fast = dci(zero, y, zero_te, y_te)
    ref = dci(zero, y, zero_te, y_te, backend="sklearn")
    majority = np.mean([np.bincount(y[:, j]).max() / len(y) for j in range(y.shape[1])])
    for key in ("disentanglement", "completeness"):
        assert fast[key] == pytest.approx(0.0, abs=1e-9) and ref[key] == pytest.approx(0.0, abs=1e-9)
    assert fast["informativeness_train"] == pytest.approx(majority) == ref["informativeness_train"]
    assert fast["informativeness_test"] == pytest.approx(ref["informativeness_test"], abs=0.02)  # ties


@pytest.mark.integration
def test_dci_agrees_with_sklearn_on_a_noisy_fixture():
    """Overlapping classes: trees fit noise, where coarse split search (max_bin=255) moved D by 0.05."""
    z, y, z_te, y_te = _dci_data(4500, sizes=(3, 6, 4), seed=5)
    q, _ = np.linalg.qr(np.random.default_rng(6).standard_normal((5, 5)))
    for code, code_te in ((z, z_te), (z @ q, z_te @ q)):
        fast = dci(code, y, code_te, y_te)
        ref = dci(code, y, code_te, y_te, backend="sklearn")
        for k in ref:
            assert fast[k] == pytest.approx(ref[k], abs=0.02), (k, fast, ref)
