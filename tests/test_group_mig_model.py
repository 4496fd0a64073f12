"""group-MIG from a model: latent groups from the method, factor groups from the dataset's groups option."""

from __future__ import annotations

import numpy as np
import pytest

from _metrics_toy import ToyEncoder, ToyGrid
from untwine.data.groups import resolve_factor_groups
from untwine.metrics import MetricOptionError, evaluate, group_mig, resolve_options

N = {"num_train": 4000}


def _grouped(groups="f1,f2;f3,f4"):
    """A grid with a constant factor f0 (dropped by the suite) and the groups {f1, f2}, {f3, f4}."""
    ds = ToyGrid((1, 6, 8, 8, 8))
    ds.factor_groups = resolve_factor_groups(ds, groups)
    return ds


class GroupModel(ToyEncoder):
    """A fake group method: latent j = factor ``order[j]``, ``latent_groups`` its block numbers."""

    def __init__(self, dataset, order, latent_groups):
        mixing = np.zeros((dataset.num_factors, len(order)))
        mixing[list(order), range(len(order))] = 1.0
        super().__init__(dataset, mixing=mixing)
        self.latent_groups = tuple(latent_groups)


def test_blocks_holding_their_groups_give_one_and_swapped_or_mixed_blocks_fall():
    ds = _grouped()
    exact = evaluate(GroupModel(ds, (1, 2, 3, 4), (0, 0, 1, 1)), ds, ["group_mig"], options={"group_mig": N})
    assert exact["group_mig"] == pytest.approx(1.0, abs=0.02)  # up to the 20-bin discretisation
    swapped = evaluate(GroupModel(ds, (1, 2, 3, 4), (1, 1, 0, 0)), ds, ["group_mig"], options={"group_mig": N})
    assert swapped["group_mig"] == pytest.approx(-1.0, abs=0.02)
    mixed = evaluate(GroupModel(ds, (1, 3, 2, 4), (0, 0, 1, 1)), ds, ["group_mig"], options={"group_mig": N})
    assert abs(mixed["group_mig"]) < 0.05  # half the factors in their block, half outside
    assert mixed["group_mig"] < exact["group_mig"] - 0.9


def test_the_array_version_falls_for_mixed_blocks():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, (4000, 4))
    z = y + 0.01 * rng.standard_normal(y.shape)
    groups = [0, 0, 1, 1]
    assert group_mig(z, y, groups, groups)["group_mig"] > 0.95
    assert abs(group_mig(z[:, [0, 2, 1, 3]], y, groups, groups)["group_mig"]) < 0.05


def test_the_suite_takes_the_groups_from_the_model_and_the_dataset_and_records_them():
    ds = _grouped()
    used: dict = {}
    r = evaluate(GroupModel(ds, (1, 2, 3, 4), (0, 0, 1, 1)), ds, "mig,group_mig", options={"group_mig": N},
                 options_used=used)
    assert set(r) == {"mig", "group_mig", "group_mig.group_0", "group_mig.group_1"}
    # the constant factor f0 is dropped by the suite, and from the factor groups with it
    assert used["group_mig"] == {"num_train": 4000, "num_bins": 20, "latent_groups": [0, 0, 1, 1],
                                 "factor_groups": [0, 0, 1, 1]}


def test_the_factor_groups_follow_the_dataset_order_of_factors():
    ds = _grouped("f3,f4;f1,f2")  # group 0 is now {f3, f4}
    opts = resolve_options(["group_mig"], dataset=ds, model=GroupModel(ds, (1, 2, 3, 4), (1, 1, 0, 0)))
    assert opts["group_mig"]["factor_groups"] == [1, 1, 0, 0]
    r = evaluate(GroupModel(ds, (1, 2, 3, 4), (1, 1, 0, 0)), ds, ["group_mig"], options={"group_mig": N})
    assert r["group_mig"] == pytest.approx(1.0, abs=0.02)


def test_explicit_options_win_over_the_model_and_dataset():
    ds = _grouped()
    model = GroupModel(ds, (1, 2, 3, 4), (0, 0, 1, 1))
    opts = {"group_mig": {**N, "latent_groups": list("sscc"), "factor_groups": list("ccss")}}
    assert evaluate(model, ds, ["group_mig"], options=opts)["group_mig"] == pytest.approx(-1.0, abs=0.02)
    # explicit options alone still work for a model without blocks on a dataset without groups
    plain = ToyGrid((6, 8, 8, 8))
    opts = {"group_mig": {**N, "latent_groups": list("ccss"), "factor_groups": list("ccss")}}
    assert evaluate(ToyEncoder(plain), plain, ["group_mig"], options=opts)["group_mig"] > 0.95


def test_all_includes_group_mig_exactly_when_model_and_dataset_give_the_groups():
    ds, plain = _grouped(), ToyGrid((1, 6, 8, 8, 8))
    group_model = GroupModel(ds, (1, 2, 3, 4), (0, 0, 1, 1))
    assert "group_mig" in resolve_options("all", dataset=ds, model=group_model)
    assert "group_mig" not in resolve_options("all", dataset=plain, model=group_model)  # no factor groups
    assert "group_mig" not in resolve_options("all", dataset=ds, model=ToyEncoder(ds))  # no latent groups
    assert "group_mig" not in resolve_options("all", dataset=ds)  # no model known
    from untwine.metrics import available_metrics, get_metric

    small = {"num_train": 1000, "num_test": 300, "batch_size": 8, "num_variance_estimate": 200}
    opts = {m: {k: v for k, v in small.items() if k in get_metric(m).option_names()} for m in available_metrics()}
    r = evaluate(group_model, ds, "all", options=opts)
    assert r["group_mig"] == pytest.approx(1.0, abs=0.02) and "mig" in r


def test_a_model_without_latent_groups_gets_an_error_naming_what_is_missing():
    ds = _grouped()
    enc = ToyEncoder(ds)
    with pytest.raises(MetricOptionError, match=r"needs option\(s\) latent_groups: .*a model with latent_groups "
                                                r".*ToyEncoder gives none"):
        evaluate(enc, ds, "mig,group_mig")
    assert enc.images_seen == 0  # checked before anything is encoded
    plain = ToyGrid((1, 6, 8, 8, 8))
    with pytest.raises(MetricOptionError, match=r"needs option\(s\) factor_groups: .*dataset option groups="
                                                r".*dataset 'toy_grid' gives none"):
        evaluate(GroupModel(plain, (1, 2, 3, 4), (0, 0, 1, 1)), plain, ["group_mig"])


def test_cli_evaluate_group_mig_on_a_run_without_latent_groups_is_one_clear_error(capsys, tmp_path):
    from untwine.cli import main
    from untwine.metrics import select_metrics

    assert select_metrics(["group_mig"]) == ["group_mig"]  # before a run is loaded: left to evaluate
    run = tmp_path / "R"
    assert main(["train", "--method", "beta_vae", "--dataset", "dsprites", "--dataset-option", "lazy=true",
                 "--dataset-option", "groups=seed003", "--steps", "1", "--batch-size", "4", "--out", str(run),
                 "--no-progress"]) == 0
    capsys.readouterr()
    code = main(["evaluate", str(run), "--metrics", "mig,group_mig"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "needs option(s) latent_groups" in err and "BetaVAE gives none" in err
    assert not (run / "metrics.json").exists()


def test_the_per_group_scores_tell_which_group_its_block_misses():
    """Group 0's factors in its block, group 1's outside theirs (seed 003, Fig. 3b: content vs not)."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, (4000, 4))
    z = np.concatenate([y + 0.01 * rng.standard_normal(y.shape), rng.standard_normal((4000, 1))], axis=1)
    r = group_mig(z, y, [0, 0, 0, 0, 1], [0, 0, 1, 1])
    assert r["group_0"] == pytest.approx(1.0, abs=0.05) and r["group_1"] == pytest.approx(-1.0, abs=0.05)
    assert r["group_mig"] == pytest.approx(0.5 * (r["group_0"] + r["group_1"]))
