"""Studies: declarative sweeps over methods, hyperparameters, datasets and seeds.

    study = load_study("experiments/seed002_dip_tradeoff/study.yaml", profile="cpu")
    run_study(study)                     # local worker processes; run_study(study, ray_address="auto")
    frame = load("experiments/seed002_dip_tradeoff/study.yaml", profile="cpu")   # pandas DataFrame

A study is one YAML file (:mod:`untwine.studies.spec`, schema in docs/studies.md) that expands to a
deterministic list of trials with stable ids; the results live in one SQLite store per study
directory (:mod:`untwine.studies.store`); ``untwine study run|status|results|report`` is the CLI.
"""

from .results import load, results_table, status_text
from .runner import RunSummary, run_study
from .spec import Study, StudyError, Trial, load_study

__all__ = ["Study", "StudyError", "Trial", "RunSummary", "load", "load_study", "results_table", "run_study",
           "status_text"]
