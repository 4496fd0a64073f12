"""Contract of every registered metric (from the registry: a new metric is tested with no new test code).

Each metric, on a toy factor grid: returns finite floats in its declared range, is deterministic
for a seed, is invariant to permuting the latents where its registration says so, and rejects
NaN codes; array metrics also reject inputs of mismatched lengths with a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _metrics_toy import ToyEncoder, ToyGrid

from untwine.metrics import available_metrics, evaluate, get_metric

NAMES = available_metrics()
ARRAY_NAMES = [n for n in NAMES if not get_metric(n).sampling]
# small samples for whichever of these options a metric has (sizes only: the numbers stay generic)
SMALL = {"num_train": 600, "num_test": 300, "num_variance_estimate": 500, "batch_size": 16}


def _dataset(spec):
    """The first toy grid the metric applies to (five factors, else two)."""
    for sizes in ((3, 6, 10, 8, 8), (8, 8)):
        ds = ToyGrid(sizes)
        if spec.applies is None or spec.applies(ds):
            return ds
    raise AssertionError(f"metric {spec.name!r} applies to no toy grid; extend the contract's datasets")


def _options(spec, num_latents, num_factors):
    opts = {k: v for k, v in SMALL.items() if k in spec.option_names()}
    if spec.example_options is not None:
        opts.update(spec.example_options(num_latents, num_factors))
    missing = [o for o in spec.required_options() if o not in opts]
    assert not missing, f"metric {spec.name!r} has required options {missing}: declare example_options"
    return opts


class _Permuted(torch.nn.Module):
    """Another encoder's codes with the latents in another order."""

    def __init__(self, inner, perm):
        super().__init__()
        self.inner, self.perm = inner, torch.as_tensor(perm)

    def encode(self, x):
        return self.inner.encode(x)[:, self.perm]

    def decode(self, z):
        return self.inner.decode(z[:, torch.argsort(self.perm)])


class _NaNEncoder(torch.nn.Module):
    def __init__(self, inner, latent=0):
        super().__init__()
        self.inner, self.latent = inner, latent
        for name in ("prior", "relate", "hparams", "entities_option", "relations_option"):  # a model's other parts
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))

    def encode(self, x):
        z = self.inner.encode(x).clone()
        z[:, self.latent] = float("nan")
        return z

    def decode(self, z):
        return self.inner.decode(z)


def _model(spec, ds, **toy):
    """The metric's example model where it declares one (a model with a prior), else the toy encoder."""
    return spec.example_model(ds) if spec.example_model is not None else ToyEncoder(ds, **toy)


def _run(spec, encoder, ds, seed=0):
    d = int(encoder.encode(ds.images([0])).shape[1])
    return evaluate(encoder, ds, [spec.name], seed=seed, options={spec.name: _options(spec, d, ds.num_factors)})


def _key(spec, flat_key):
    """The metric function's own score key of a flat result key."""
    return spec.name if flat_key == spec.name else flat_key[len(spec.name) + 1:]


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_finite_floats_in_the_declared_range(name):
    spec = get_metric(name)
    ds = _dataset(spec)
    r = _run(spec, _model(spec, ds, noise=0.1, extra=1), ds)
    assert r, f"{name} returned no scores"
    for key, value in r.items():
        assert isinstance(value, float) and np.isfinite(value), (key, value)
        lo, hi = spec.bound_of(_key(spec, key))
        assert lo - 1e-9 <= value <= hi + 1e-9, f"{key} = {value} outside the declared [{lo}, {hi}]"


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores(name):
    spec = get_metric(name)
    ds = _dataset(spec)
    a = _run(spec, _model(spec, ds, noise=0.1, extra=1), ds, seed=3)
    b = _run(spec, _model(spec, ds, noise=0.1, extra=1), ds, seed=3)
    assert a == b


@pytest.mark.parametrize("name", [n for n in NAMES if get_metric(n).permutation_invariant])
def test_invariant_to_permuting_latents_where_declared(name):
    spec = get_metric(name)
    ds = _dataset(spec)
    enc = ToyEncoder(ds, noise=0.1, extra=1)
    d = ds.num_factors + 1
    perm = np.random.default_rng(0).permutation(d)
    if np.array_equal(perm, np.arange(d)):
        perm = perm[::-1].copy()
    a, b = _run(spec, enc, ds), _run(spec, _Permuted(enc, perm), ds)
    keys = list(a) if spec.permutation_invariant is True else \
        [k for k in a if _key(spec, k) in spec.permutation_invariant]
    assert keys, f"{name} declares invariant scores it does not return: {spec.permutation_invariant}"
    for k in keys:
        assert b[k] == pytest.approx(a[k], rel=1e-8, abs=1e-10), k


@pytest.mark.parametrize("name", NAMES)
def test_nan_codes_are_rejected_clearly(name):
    spec = get_metric(name)
    if not spec.encodes:
        pytest.skip(f"{name} scores the model's own samples; no image code reaches it")
    ds = _dataset(spec)
    with pytest.raises(ValueError, match="NaN"):
        _run(spec, _NaNEncoder(_model(spec, ds)), ds)


def _arrays(spec, n=200, seed=0):
    """Positional data arguments of an array metric, from the toy encoder on sampled classes."""
    ds = _dataset(spec)
    enc = ToyEncoder(ds, noise=0.1, extra=1)
    rng = np.random.default_rng(seed)

    def pair(m):
        classes = ds.sample_classes(m, rng)
        z = enc.encode(ds.images_from_classes(classes)).double().numpy()
        f = classes if spec.factor_kind == "factor_classes" else ds.classes_to_values(classes)
        return [z] + ([f] if spec.factor_kind else [])

    args = pair(n) + (pair(n // 2) if "test_split" in spec.needs else [])
    opts = {k: v for k, v in _options(spec, args[0].shape[1], ds.num_factors).items()
            if k not in ("num_train", "num_test")}
    return args, opts


@pytest.mark.parametrize("name", ARRAY_NAMES)
def test_array_inputs_are_checked_once_for_every_metric(name):
    spec = get_metric(name)
    args, opts = _arrays(spec)
    assert np.isfinite(list(spec.fn(*args, **opts).values())).all()  # the valid call runs
    for i in range(len(args)):
        bad = list(args)
        bad[i] = bad[i].astype(np.float64).copy()
        bad[i][3, 0] = np.nan
        if i % (2 if spec.factor_kind else 1) == 0 or spec.factor_kind == "factor_values":
            with pytest.raises(ValueError, match="NaN"):
                spec.fn(*bad, **opts)
        short = list(args)
        short[i] = short[i][:-1]
        if len(args) > 1:
            with pytest.raises(ValueError, match="different numbers"):
                spec.fn(*short, **opts)
    inf = list(args)
    inf[0] = inf[0].copy()
    inf[0][0, -1] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        spec.fn(*inf, **opts)
    if "test_split" in spec.needs:  # train and test codes must have the same latents
        fewer = list(args)
        fewer[len(args) // 2] = fewer[len(args) // 2][:, :-1]
        with pytest.raises(ValueError, match="latents"):
            spec.fn(*fewer, **opts)


@pytest.mark.parametrize("name", NAMES)
def test_misspelt_option_lists_the_valid_ones(name):
    spec = get_metric(name)
    ds = _dataset(spec)
    valid = spec.option_names()
    with pytest.raises(ValueError, match="valid options: " + ", ".join(valid[:2])):
        evaluate(_model(spec, ds), ds, [name], options={name: {"no_such_option": 1}})
