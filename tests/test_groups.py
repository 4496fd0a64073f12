"""Factor groups (untwine.data.groups): presets, written-out groups, every error, and from the CLI."""

from __future__ import annotations

import pytest
import yaml

from _metrics_toy import ToyGrid
from untwine.cli import main
from untwine.data import get_dataset
from untwine.data.groups import GROUP_PRESETS, factor_group_index, resolve_factor_groups

LAZY = ["--method", "beta_vae", "--dataset", "dsprites", "--dataset-option", "lazy=true"]


@pytest.fixture(scope="module")
def dsprites():
    return get_dataset("dsprites", lazy=True)


def test_the_seed003_preset(dsprites):
    groups = resolve_factor_groups(dsprites, "seed003")
    assert groups == (("shape", "scale"), ("orientation", "posX", "posY")) == GROUP_PRESETS["seed003"]["dsprites"]
    ds = get_dataset("dsprites", lazy=True, groups="seed003")
    assert ds.factor_groups == groups
    assert factor_group_index(ds) == [-1, 0, 0, 1, 1, 1]  # colour is constant: in no group


def test_written_out_and_list_forms(dsprites):
    assert resolve_factor_groups(dsprites, " shape ,scale; orientation,posX ,posY") == \
        (("shape", "scale"), ("orientation", "posX", "posY"))
    assert resolve_factor_groups(dsprites, [["posX", "posY"], ("shape", "scale", "orientation")]) == \
        (("posX", "posY"), ("shape", "scale", "orientation"))
    # order given is kept; a constant factor may be put in a group too
    assert resolve_factor_groups(dsprites, "color,posX;posY,shape,scale,orientation")[0] == ("color", "posX")


def test_a_dataset_without_the_groups_option_has_none(dsprites):
    assert dsprites.factor_groups == ()
    assert factor_group_index(dsprites) == [-1] * 6


@pytest.mark.parametrize("spec, message", [
    ("shap,scale;orientation,posX,posY",
     "unknown factor 'shap'; the factors of 'dsprites' are color, shape, scale, orientation, posX, posY"),
    ("shape,scale;scale,orientation,posX,posY", "factor 'scale' is in two groups (1 and 2)"),
    ("shape,scale;orientation,posX", "factor(s) posY of 'dsprites' are in no group"),
    ("shape,scale,orientation,posX,posY", "at least two non-empty groups"),
    ("shape,scale;;orientation,posX,posY", "at least two non-empty groups"),
    ("seed004", "unknown groups preset 'seed004'; presets: seed003"),
    (42, "groups must be a preset name"),
])
def test_bad_groups_are_one_clear_error(dsprites, spec, message):
    with pytest.raises(ValueError) as e:
        resolve_factor_groups(dsprites, spec)
    assert message in str(e.value)


def test_a_preset_without_the_dataset():
    ds = ToyGrid((3, 4))
    with pytest.raises(ValueError, match=r"preset 'seed003' has no groups for dataset 'toy_grid' \(it has them for "
                                         r"shapes3d, dsprites\)"):
        resolve_factor_groups(ds, "seed003")


def test_a_constant_factor_may_be_left_out_not_a_varying_one():
    ds = ToyGrid((1, 4, 5, 6))
    assert resolve_factor_groups(ds, "f1;f2,f3") == (("f1",), ("f2", "f3"))
    with pytest.raises(ValueError, match=r"factor\(s\) f3 of 'toy_grid' are in no group"):
        resolve_factor_groups(ds, "f0,f1;f2")


# ---- the command line ---------------------------------------------------------------------------
def test_cli_bad_groups_exit_2_with_one_line_and_write_nothing(capsys, tmp_path):
    out = tmp_path / "R"
    code = main(["train", *LAZY, "--dataset-option", "groups=shap,scale;orientation,posX,posY", "--out", str(out),
                 "--steps", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "unknown factor 'shap'" in lines[0]
    assert "posY" in lines[0] and "Traceback" not in err
    assert not out.exists()


def test_cli_seed003_is_recorded_and_reloaded(capsys, tmp_path):
    from untwine.train import load_run

    out = tmp_path / "R"
    code = main(["train", *LAZY, "--dataset-option", "groups=seed003", "--out", str(out), "--steps", "1",
                 "--batch-size", "4", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["dataset_options"] == {"lazy": True, "groups": "seed003"}
    run = load_run(out)
    assert run.dataset.factor_groups == (("shape", "scale"), ("orientation", "posX", "posY"))
