"""The study report: one self-contained HTML page from a real (tiny) study, every section, graceful degradation."""

import base64
import re

import numpy as np
import pandas as pd
import pytest
from conftest import images_loaded_in_chromium

from untwine.studies import load, load_study, run_study
from untwine.studies.results import BASE_COLUMNS, score_columns, status_counts, swept_columns
from untwine.viz.study_report import write_study_report

pytestmark = pytest.mark.integration

STUDY = """\
name: tiny
datasets: [blobs]
seeds: [0, 1]
train: {steps: 20, batch_size: 16, log_every: 5, precision: fp32}
hparams: {latent_dim: 4, architecture: mlp, encoder_hidden: [32], decoder_hidden: [32]}
methods:
  - method: beta_vae
    grid: {beta: [1.0, 4.0]}
  - method: vae
evaluation:
  metrics: {mig: {num_train: 500}, sap: {num_train: 500, num_test: 200}}
"""
RECON = "train.recon"  # the reconstruction term of the last logged losses (train.loss = recon + beta * kl)
SECTIONS = ("Trade-offs against reconstruction", "Scores against hyperparameters", "Rank correlation between scores",
            "Traversals of the best model per method", "Results")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    (tmp / "study.yaml").write_text(STUDY)
    study = load_study(tmp / "study.yaml")
    summary = run_study(study, workers=2, log=None)
    assert not summary.failed, summary.failed
    return study


@pytest.fixture(scope="module")
def frame(study):
    return load(study)


def write(frame, study, path, **kw):
    args = dict(title="tiny study", subtitle="profile base", scores=score_columns(frame, study),
                swept=swept_columns(study), reconstruction=RECON, rank_by="mig", counts=status_counts(frame))
    return write_study_report(frame, path, **{**args, **kw})


def images(page):
    return re.findall(r"<img\b[^>]*>", page)


def tbody_rows(page):
    body = re.search(r"<h2>Results</h2>\s*<table>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert body, "no results table"
    return re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)


@pytest.fixture(scope="module")
def report(frame, study, tmp_path_factory):
    return write(frame, study, tmp_path_factory.mktemp("report") / "report.html", notes=["read me first"])


def test_frame_has_the_columns_the_report_uses(frame, study):
    assert (frame["status"] == "done").all() and len(frame) == 6
    assert RECON in frame.columns and frame[RECON].notna().all()
    assert score_columns(frame, study) == ["mig", "sap"] and swept_columns(study) == ["beta"]


def test_report_is_self_contained(report):
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I) and "<link" not in page
    imgs = images(page)
    # trade-offs + beta_vae's beta strips (vae sweeps nothing) + Spearman + a traversal per method
    assert len(imgs) == 5
    for tag in imgs:
        m = re.search(r'src="data:image/png;base64,([^"]+)"', tag)
        assert m, tag[:120]
        assert base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_has_every_section(report, frame):
    page = report.read_text()
    for heading in SECTIONS + ("Notes",):
        assert f"<h2>{heading}</h2>" in page
    assert "<li>read me first</li>" in page
    assert "6 trials: 6 done" in page
    assert 'alt="trade-offs"' in page and 'alt="hyperparameters beta_vae"' in page
    assert 'alt="hyperparameters vae"' not in page  # vae varies no hyperparameter
    assert 'alt="Spearman rank correlation"' in page and "over the 6 done trials" in page
    for method in ("beta_vae", "vae"):
        assert f'alt="traversal {method}"' in page
        best = frame.loc[frame[frame["method"] == method]["mig"].idxmax()]
        assert f"<b>{method}</b>: {best['label']}, seed {best['seed']}, highest mig" in page
    rows = tbody_rows(page)
    assert len(rows) == len(frame)
    for row, label, seed in zip(rows, frame["label"], frame["seed"]):
        assert f"<td>{label}</td>" in row and f"<td class='num'>{seed}</td>" in row


def test_failed_trial_shows_its_error(frame, study, tmp_path):
    broken = frame.copy()
    broken.loc[0, "status"] = "failed"
    broken.loc[0, "error"] = "RuntimeError: loss is NaN at step 7 <x>"
    page = write(broken, study, tmp_path / "r.html").read_text()
    rows = tbody_rows(page)
    assert "<th>error</th>" in page
    assert "RuntimeError: loss is NaN at step 7 &lt;x&gt;" in rows[0] and "<td>failed</td>" in rows[0]
    assert "loss is NaN" not in "".join(rows[1:])
    assert "5 done, 1 failed" in page and "over the 5 done trials" in page


def test_empty_frame_gives_a_valid_page(study, tmp_path):
    for empty in (pd.DataFrame(columns=BASE_COLUMNS), pd.DataFrame()):
        page = write_study_report(empty, tmp_path / "empty.html", title="nothing yet", scores=["mig"], swept=["beta"],
                                  reconstruction=RECON, rank_by=None, counts=status_counts(pd.DataFrame(
                                      columns=BASE_COLUMNS))).read_text()
        assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
        assert "<h1>nothing yet</h1>" in page and "0 trials: 0 done" in page
        assert not images(page) and "<p>No trials.</p>" in page and "No reconstruction column was found" in page
        for heading in SECTIONS:
            assert f"<h2>{heading}</h2>" in page


def test_degrades_without_reconstruction_nan_scores_one_seed_and_a_lost_run(frame, study, tmp_path):
    part = frame[frame["seed"] == 0].copy()
    part.loc[part["method"] == "vae", "run_path"] = str(tmp_path / "gone")
    part.loc[part.index[0], "mig"] = np.nan
    page = write(part, study, tmp_path / "r.html", reconstruction=None).read_text()
    assert "No reconstruction column was found" in page and 'alt="trade-offs"' not in page
    assert 'alt="hyperparameters beta_vae"' in page and 'alt="traversal beta_vae"' in page
    assert re.search(r"<b>vae</b>: the run of vae, seed 0 could not be loaded \([^)]*gone", page)
    assert len(images(page)) == 3  # beta strips, Spearman (3 done trials), beta_vae's traversal
    assert len(tbody_rows(page)) == 3


def test_report_renders_in_headless_chromium(report, tmp_path):
    loaded, total = images_loaded_in_chromium(report, tmp_path)
    assert total == 5 and loaded == total  # every figure of the report, decoded by the browser
