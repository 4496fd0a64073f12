"""The metric registry and evaluate's dispatch on declared needs (decoder, model state, side inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _metrics_toy import ToyEncoder, ToyGrid

from untwine.data.base import GroundTruthDataset
from untwine.metrics import (CodeTable, MetricOptionError, available_metrics, describe_metrics, evaluate,
                             factor_vae_score, get_metric, mig, polar_cartesian_mse, register_metric,
                             resolve_options)
from untwine.metrics import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scratch_registry():
    """Register toy metrics for one test only."""
    saved = dict(registry._SPECS)
    yield
    registry._SPECS.clear()
    registry._SPECS.update(saved)


class ToyModel(ToyEncoder):
    """A toy encoder with a decoder and a piece of state of its own (a 'prior')."""

    def __init__(self, dataset, **kw):
        super().__init__(dataset, **kw)
        self.prior = torch.arange(3.0)
        self.decoded = 0

    def decode(self, z):
        self.decoded += z.shape[0]
        return torch.zeros(z.shape[0], *self.dataset.image_shape)


# ---- registry -----------------------------------------------------------------------------------
def test_every_metric_is_described_in_one_line():
    described = describe_metrics()
    assert [n for n, _ in described] == available_metrics()
    assert {"mig", "sap", "dci", "irs", "modularity", "unsupervised", "beta_vae_score", "factor_vae_score",
            "group_mig", "polar"} <= set(available_metrics())
    for name, text in described:
        assert text and "\n" not in text, name


def test_dead_state_is_gone():
    import untwine.metrics as M

    assert not hasattr(M, "METRICS")  # the registry is the one table of metrics
    assert not hasattr(get_metric("mig"), "defaults")  # defaults live in the function signatures
    assert get_metric("sap").default_options()["classifier"] == "svm"


def test_metrics_stay_plain_functions_with_their_defaults():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, (500, 2))
    z = y + 0.1 * rng.standard_normal(y.shape)
    assert mig(z, y) == mig(z, y, num_bins=20)
    assert mig.__name__ == "mig" and "Mutual Information Gap" in mig.__doc__
    with pytest.raises(MetricOptionError, match="no option 'num_bin'.*valid options: num_bins.*'num_bins'"):
        mig(z, y, num_bin=10)


def test_registration_rejects_impossible_needs(scratch_registry):
    with pytest.raises(ValueError, match="unknown need 'decoders'"):
        register_metric("toy_x", needs=("codes", "decoders"), help="x")
    with pytest.raises(ValueError, match="either 'codes'"):
        register_metric("toy_x", needs=("codes", "sampling"), help="x")
    with pytest.raises(ValueError, match="one-line help"):
        register_metric("toy_x", needs=("codes",), help="")
    with pytest.raises(ValueError, match="no parameter decode"):
        register_metric("toy_x", needs=("codes", "decoder"), help="x")(lambda codes: {})
    with pytest.raises(ValueError, match="registered twice"):
        register_metric("mig", needs=("codes",), help="x")(lambda codes: {})


# ---- options ------------------------------------------------------------------------------------
def test_misspelt_or_unknown_options_and_metrics_are_errors():
    ds = ToyGrid()
    enc = ToyEncoder(ds)
    with pytest.raises(MetricOptionError, match="'sap' has no option 'classifer'; valid options: num_train, num_test, "
                                                "classifier.*Did you mean 'classifier'"):
        evaluate(enc, ds, ["sap"], options={"sap": {"classifer": "threshold"}})
    with pytest.raises(MetricOptionError, match="has no option 'num_eval'.*Did you mean 'num_test'"):
        evaluate(enc, ds, ["factor_vae_score"], options={"factor_vae_score": {"num_eval": 10}})
    with pytest.raises(MetricOptionError, match="unknown metric 'migg'.*Did you mean 'mig'"):
        evaluate(enc, ds, ["mig"], options={"migg": {}})
    with pytest.raises(MetricOptionError, match="no option 'latent_group'"):  # also where "all" would skip it
        evaluate(enc, ds, "all", options={"group_mig": {"latent_group": list("ccsss")}})
    assert enc.images_seen == 0  # all checked before anything is encoded


@pytest.mark.parametrize("metrics", ["", " , ", [], ()])
def test_an_empty_metric_list_is_an_error_not_mig(metrics):
    ds = ToyGrid()
    with pytest.raises(MetricOptionError, match="no metric given"):
        evaluate(ToyEncoder(ds), ds, metrics)


def test_resolve_options_gives_every_option_used():
    opts = resolve_options("mig,sap", {"sap": {"classifier": "threshold", "num_test": 100}})
    assert opts == {"mig": {"num_train": 10000, "num_bins": 20},
                    "sap": {"num_train": 10000, "num_test": 100, "classifier": "threshold", "continuous_factors": False,
                            "C": 0.01, "threshold_candidates": 256, "svm_backend": "numpy", "inactive_std": 0.05,
                            "factor_names": None}}
    zdiff = resolve_options(["beta_vae_score"])["beta_vae_score"]
    assert zdiff == {"batch_size": 64, "num_train": 10000, "num_test": 5000, "classifier": "logistic", "C": 0.01,
                     "svm_loss": "hinge"}
    ds = ToyGrid()
    used = {}
    evaluate(ToyEncoder(ds), ds, ["mig"], options={"mig": {"num_train": 500}}, options_used=used)
    assert used == {"mig": {"num_train": 500, "num_bins": 20}}


def test_all_skips_what_cannot_run_here():
    five, two = ToyGrid(), ToyGrid((8, 8))
    everything = set(available_metrics())
    entity = {"latent_classification", "relation_accuracy", "entity_disentanglement"}  # <= 512 factor combinations
    assert set(resolve_options("all", dataset=five)) == everything - {"group_mig", "polar"} - entity
    assert set(resolve_options("all", dataset=two)) == everything - {"group_mig"}
    assert not entity & set(resolve_options("all", dataset=two, model=ToyEncoder(two)))  # they need a model's prior
    groups = {"group_mig": {"latent_groups": list("ccsss"), "factor_groups": list("ccsss")}}
    assert "group_mig" in resolve_options("all", groups, dataset=five)


def test_sampling_metrics_take_num_test_under_its_own_name():
    """No renaming: evaluate passes num_test straight to the sampling metrics (the same numbers)."""
    ds = ToyGrid()
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))  # a rotated code: votes disagree
    opts = {"num_train": 200, "num_test": 150, "num_variance_estimate": 500}
    direct = factor_vae_score(ds, ToyEncoder(ds, mixing=q), np.random.default_rng(0), **opts)
    assert 0.3 < direct["eval_accuracy"] < 0.95
    suite = evaluate(ToyEncoder(ds, mixing=q), ds, ["factor_vae_score"], options={"factor_vae_score": opts})
    assert suite == {f"factor_vae_score.{k}": v for k, v in direct.items()}
    other = evaluate(ToyEncoder(ds, mixing=q), ds, ["factor_vae_score"],
                     options={"factor_vae_score": {**opts, "num_test": 37}})
    assert other != suite  # the size reaches the metric


def test_seed002_study_rejects_a_misspelt_metric_option_before_training(tmp_path):
    import yaml

    from untwine.studies import StudyError, load_study

    here = ROOT / "experiments" / "seed002_dip_tradeoff"
    assert load_study(here / "study.yaml").metrics["zdiff"]["classifier"] == "linear_svm"  # the committed file is valid
    spec = yaml.safe_load((here / "study.yaml").read_text())
    spec["evaluation"]["metrics"]["zdiff"]["clasifier"] = spec["evaluation"]["metrics"]["zdiff"].pop("classifier")
    spec.pop("analysis")
    bad = tmp_path / "study.yaml"
    bad.write_text(yaml.safe_dump(spec))
    with pytest.raises(StudyError, match="evaluation.metrics.zdiff: metric 'beta_vae_score' has no option 'clasifier'"):
        load_study(bad)


# ---- dispatch on needs --------------------------------------------------------------------------
def test_factor_values_reach_a_metric_that_needs_them(scratch_registry):
    seen = {}

    @register_metric("toy_values", needs=("codes", "factor_values"), num_train=50, help="toy")
    def toy_values(codes, values):
        seen["values"] = values
        return {"toy_values": 0.0}

    ds = ToyGrid((4, 5))
    ds.factor_values = lambda factor: 10.0 + np.arange(ds.factor_sizes[ds.factor_index(factor)])
    evaluate(ToyEncoder(ds), ds, ["toy_values"])
    v = seen["values"]
    assert v.shape == (50, 2) and v.min() >= 10.0 and np.all(v == np.round(v))


def test_polar_mse_joins_the_suite_with_factor_values():
    ds = ToyGrid((8, 8))
    ds.factor_values = lambda factor: 8.0 * np.arange(8)  # positions 0..56, as Blobs' pixels
    r = evaluate(ToyEncoder(ds), ds, ["polar"], options={"polar": {"num_train": 400}})
    rng = np.random.default_rng(0)  # the suite's draw for seed 0, scored directly
    y = ds.sample_classes(400, rng)
    direct = polar_cartesian_mse(ToyEncoder(ds).encode(ds.images_from_classes(y)).double().numpy(), 8.0 * y)
    assert r == {f"polar.{k}": float(v) for k, v in direct.items()}


def test_the_decoder_reaches_a_metric_that_needs_it(scratch_registry):
    seen = {}

    @register_metric("toy_decoder", needs=("sampling", "decoder"), help="toy: decodes a few codes")
    def toy_decoder(dataset, table, rng, decode, num=7):
        codes = table.codes_for_classes(dataset.sample_classes(num, rng), rng)
        seen["decode"] = decode
        return {"toy_decoder": float(decode(torch.from_numpy(codes)).shape[0])}

    ds = ToyGrid()
    model = ToyModel(ds)
    assert evaluate(model, ds, ["toy_decoder"], options={"toy_decoder": {"num": 5}}) == {"toy_decoder": 5.0}
    assert seen["decode"] == model.decode and model.decoded == 5
    assert evaluate(CodeTable(model, ds), ds, ["toy_decoder"]) == {"toy_decoder": 7.0}  # through a table too
    with pytest.raises(MetricOptionError, match="needs a decoder"):
        evaluate(ToyEncoder(ds).encode, ds, ["toy_decoder"])  # an encode function: no decode
    assert "toy_decoder" not in resolve_options("all", model=ToyEncoder(ds).encode)
    assert "toy_decoder" in resolve_options("all", model=model)


def test_a_methods_state_reaches_a_metric_that_needs_it(scratch_registry):
    @register_metric("toy_prior", needs=("codes", "factor_classes", "model.prior"), num_train=100, help="toy")
    def toy_prior(codes, factors, prior):
        return {"toy_prior": float(prior.sum()) + 0.0 * codes.sum()}

    @register_metric("toy_model", needs=("codes", "model"), num_train=100, help="toy")
    def toy_model(codes, model):
        return {"toy_model": float(model is MODEL[0])}

    ds = ToyGrid()
    MODEL = [ToyModel(ds)]
    assert evaluate(MODEL[0], ds, ["toy_prior", "toy_model"]) == {"toy_prior": 3.0, "toy_model": 1.0}
    with pytest.raises(MetricOptionError, match="needs the model's 'prior'"):
        evaluate(ToyEncoder(ds), ds, ["toy_prior"])
    assert set(resolve_options("all", model=ToyEncoder(ds))).isdisjoint({"toy_prior"})


# ---- side inputs (PLAN.md interface 2) -------------------------------------------------------------
class SideInputModel(torch.nn.Module):
    """An encoder that needs the factor classes as a side input: codes = classes + image mean."""

    encode_is_traceable = True  # would be traced without the hook: side inputs must win

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.batches = []

    def encode_side_inputs(self, classes):
        return {"labels": torch.as_tensor(np.asarray(classes), dtype=torch.float32)}

    def encode(self, x, labels=None):
        if labels is None:
            raise AssertionError("encoded without its side inputs")
        if not torch.jit.is_tracing():
            self.batches.append(x.shape[0])
        return labels * self.w + x.reshape(x.shape[0], -1).float().mean(1, keepdim=True) * 0


class Collection(GroundTruthDataset):
    """A toy labelled collection (not a grid): one image per class vector, drawn per request."""

    name = "toy_collection"
    factor_names = ("a", "b")
    factor_sizes = (4, 5)
    image_shape = (1, 1, 2)

    def factor_values(self, factor):
        return np.arange(self.factor_sizes[self.factor_index(factor)], dtype=np.float64)

    def __len__(self):
        return 20

    def index_to_classes(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return np.stack([idx // 5, idx % 5], 1)

    def images(self, indices):
        return torch.from_numpy(self.index_to_classes(indices).astype(np.uint8)).reshape(-1, 1, 1, 2)

    def images_from_classes(self, classes, rng=None):
        c = np.asarray(classes)
        return self.images(c[:, 0] * 5 + c[:, 1])


@pytest.mark.parametrize("dataset", [ToyGrid((4, 5, 3)), Collection()], ids=["grid", "collection"])
def test_code_table_passes_each_batch_its_side_inputs(dataset):
    model = SideInputModel()
    table = CodeTable(model, dataset, batch_size=8, fast_encoder=True)
    classes = dataset.sample_classes(50, np.random.default_rng(0))
    codes = table.codes_for_classes(classes, np.random.default_rng(1))
    np.testing.assert_array_equal(codes, classes)  # each row got its own classes
    assert not table.uses_fast_encoder and max(model.batches) <= 8
    r = evaluate(model, dataset, ["mig"], options={"mig": {"num_train": 300}})
    y = dataset.sample_classes(300, np.random.default_rng(0))  # the suite's draw for seed 0
    assert r == mig(y.astype(np.float64), y)  # the codes are the classes


class NoSideInputModel(torch.nn.Module):
    """A traceable encoder whose encode_side_inputs gives nothing (the Method default)."""

    encode_is_traceable = True

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def encode_side_inputs(self, classes):
        return {}

    def encode(self, x):
        return self.lin(x.reshape(x.shape[0], -1).float())


def test_models_without_side_inputs_keep_the_fast_encoder():
    ds = ToyGrid((4, 5, 3))
    table = CodeTable(NoSideInputModel(), ds, batch_size=8)
    assert table.side_inputs is None
    table.codes_for_indices(np.arange(16))
    assert table.uses_fast_encoder


def test_side_input_models_need_the_classes():
    with pytest.raises(ValueError, match="side inputs"):
        CodeTable(SideInputModel(), ToyGrid((4, 5))).encode_images(torch.zeros(3, 1, 1, 2, dtype=torch.uint8))
