"""The committed experiment configs: they validate, they still describe the committed results
(same values, same weight init), and seed 001's reference profile is the run of decisions.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from untwine.methods import get_method_class

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SEED001 = EXPERIMENTS / "seed001_wela_blobs"
SEED002 = EXPERIMENTS / "seed002_dip_tradeoff"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _seed001_records(cfg: dict) -> dict:
    return {m["name"]: get_method_class(m["method"]).Hyperparameters.from_dict({**cfg["common"], **m["hparams"]})
            for m in cfg["models"]}


def _seed002_records(cfg: dict) -> dict:
    out = {}
    for method, sweep in cfg["sweeps"].items():
        for v in sweep["values"]:
            values = {**cfg["common"], **sweep.get("fixed", {}), sweep["param"]: v}
            out[f"{method} {sweep['param']}={v:g}"] = get_method_class(method).Hyperparameters.from_dict(values)
    return out


def test_seed001_reference_profile_is_the_authors_code_run():
    """decisions.md (Metrics, Blobs): the paper's network, 2,400 steps at batch 256, many seeds."""
    cfg = _load(SEED001 / "reference.yaml")
    assert cfg["steps"] == 2400 and cfg["batch_size"] == 256 and len(cfg["seeds"]) >= 10
    for name, h in _seed001_records(cfg).items():
        assert h.encoder_hidden == (1200, 1200) and h.decoder_hidden == (1200, 1200), name
        assert h.activation == "tanh" and h.lr == 1e-4 and h.init == "glorot" and h.beta == 40.0, name


@pytest.mark.parametrize("folder,records,init", [(SEED001, _seed001_records, "glorot"), (SEED002, _seed002_records, "torch")])
def test_config_still_describes_committed_results(folder, records, init):
    """Re-running config.yaml reproduces results/: same values and the weight init the runs used."""
    cfg = _load(folder / "config.yaml")
    committed = json.loads((folder / "results" / "results.json").read_text())["config"]
    for key in committed:
        if key == "common":  # config.yaml may pin values the committed runs had by default
            for k, v in committed["common"].items():
                assert cfg["common"][k] == v, k
        else:
            assert cfg[key] == committed[key], key
    for name, h in records(cfg).items():
        assert h.init == init, name


SEED003 = EXPERIMENTS / "seed003_groups"


@pytest.mark.parametrize("config,results", [("config.yaml", "results"), ("config_long.yaml", "results_long")])
def test_seed003_jobs_validate_and_match_the_committed_results(config, results):
    """Every job of the group study is a valid run; the committed rows are the config's jobs."""
    import importlib.util

    from untwine.train import TrainConfig

    spec = importlib.util.spec_from_file_location("seed003_run", SEED003 / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    cfg = _load(SEED003 / config)
    jobs = run.jobs_of(cfg)
    assert len({j["tag"] for j in jobs}) == len(jobs) >= 3
    for j in jobs:
        c = TrainConfig(method=j["method"], dataset=j["dataset"], dataset_options=j["dataset_options"], hparams=j["hparams"],
                        steps=cfg["steps"], batch_size=j["batch_size"], seed=j["seed"])
        h = c.method_hparams()
        assert getattr(h, "group_size", 2) * c.batch_size == 64, j["tag"]  # the same images per step for every model
    committed = json.loads((SEED003 / results / "results.json").read_text())
    assert committed["config"] == cfg
    assert {r["tag"] for r in committed["runs"]} | set(committed["missing"]) == {j["tag"] for j in jobs}


def test_the_demo_trains_the_frontier_candidate_it_names():
    """`untwine demo` (make run) trains what experiments/demo_frontier chose, so the README's frontier
    numbers are numbers of the shipped demo."""
    from untwine import cli

    cfg = _load(EXPERIMENTS / "demo_frontier" / "config.yaml")
    chosen = cfg["candidates"][cfg["demo"]["candidate"]]
    assert cli.DEMO_METHOD == chosen["method"] and cli.DEMO_BATCH == chosen["batch_size"]
    assert {k: v for k, v in cli.DEMO_HPARAMS.items() if k != "latent_dim"} == chosen["hparams"]
    assert cli.DEMO_STEPS == cfg["demo"]["steps"] in chosen.get("checkpoints", cfg["checkpoints"])
    assert len(chosen.get("seeds", cfg["seeds"])) >= 3  # the bar is measured on 3 seeds
