"""Cross-check against disent 0.8.0 (the disentanglement_lib ports) on fixed inputs.

The inputs are regenerated from the seeds in ``tests/_metrics_vectors.py``; disent's values were
computed once with ``tests/_metrics_vectors.py`` in a throwaway venv (disent is no dependency).
"""

import json
from pathlib import Path

import pytest
from _metrics_vectors import make_case

from untwine.metrics import dci, mig, sap

VECTORS = Path(__file__).parent / "data" / "metric_vectors_disent.json"


def _cases():
    data = json.loads(VECTORS.read_text())
    return list(data["cases"].items())


@pytest.mark.parametrize("name,case", _cases())
def test_mig_and_sap_equal_disent(name, case):
    z, y = make_case(case["seed"], case["kind"], case["n_train"], case["n_test"], case["sizes"])
    n = case["n_train"]
    ref = case["values"]
    assert mig(z[:n], y[:n])["mig"] == pytest.approx(ref["mig.discrete_score"], abs=1e-9)
    # our LinearSVC solver vs liblinear (tolerance 1e-4): at most a couple of test points flip
    assert sap(z[:n], y[:n], z[n:], y[n:])["sap"] == pytest.approx(ref["sap.score"], abs=4e-3)


@pytest.mark.integration
@pytest.mark.parametrize("name,case", _cases())
def test_dci_matches_disent(name, case):
    z, y = make_case(case["seed"], case["kind"], case["n_train"], case["n_test"], case["sizes"])
    n = case["n_train"]
    ref = case["values"]
    fast = dci(z[:n], y[:n], z[n:], y[n:])  # LightGBM trees, sklearn's boosting
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert fast[key] == pytest.approx(ref[f"dci.{key}"], abs=0.02), (key, fast, ref)
