"""The committed experiment configs and study files: they validate, they still describe the committed
results (same trials, same weight init), and seed 001's reference profile is the run of decisions.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from untwine.studies import load_study

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SEED001 = EXPERIMENTS / "seed001_wela_blobs"
SEED002 = EXPERIMENTS / "seed002_dip_tradeoff"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_seed001_reference_profile_is_the_authors_code_run():
    """decisions.md (Metrics, Blobs): the paper's network, 2,400 steps at batch 256, many seeds."""
    study = load_study(SEED001 / "study.yaml", profile="reference")
    trials = study.trials()
    assert {t.config["steps"] for t in trials} == {2400} and {t.config["batch_size"] for t in trials} == {256}
    assert len({t.seed for t in trials}) >= 10
    for t in trials:
        h = t.train_config().method_hparams()
        assert h.encoder_hidden == (1200, 1200) and h.decoder_hidden == (1200, 1200), t.label
        assert h.activation == "tanh" and h.lr == 1e-4 and h.init == "glorot" and h.beta == 40.0, t.label


@pytest.mark.parametrize("folder,init,count", [(SEED001, "glorot", 30), (SEED002, "torch", 18)])
def test_the_cpu_profile_is_the_committed_results(folder, init, count):
    """`untwine study run FOLDER/study.yaml` (profile cpu) made results/: the same trials, labels and seeds,
    the weight init the runs used, fp32 (machine-independent), and every trial in the committed table."""
    study = load_study(folder / "study.yaml")
    assert study.profile == "cpu"
    trials = study.trials()
    assert len(trials) == count
    for t in trials:
        c = t.train_config()
        assert c.method_hparams().init == init and c.precision == "fp32" and c.threads == 1, t.label
    with open(folder / "results" / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["label"], int(r["seed"])) for r in rows) == sorted((t.label, t.seed) for t in trials)


@pytest.mark.parametrize("folder,count", [(SEED001, 150 + 50 * 7 - 100), (SEED002, 5 * (9 + 8 + 8))])
def test_paper_profiles_expand_and_validate(folder, count):
    """The paper's settings (steps, grids, seeds) are valid trials, ready for `--profile paper --ray auto`."""
    trials = load_study(folder / "study.yaml", profile="paper").trials()
    assert len(trials) == count and len({t.id for t in trials}) == count


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
