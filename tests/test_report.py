"""The HTML report: self-contained, every image decodes, renders in headless Chromium."""

import base64
import re

import pytest
from conftest import images_loaded_in_chromium

from untwine.train import TrainConfig, train
from untwine.viz.report import write_report


@pytest.fixture(scope="module")
def report(tmp_path_factory, request):
    from conftest import ToySquares

    tmp = tmp_path_factory.mktemp("report")
    ds = ToySquares()
    cfg = TrainConfig(method="beta_vae", dataset="toy_squares", hparams={"latent_dim": 4}, steps=8, batch_size=8, log_every=2)
    run = train(cfg, tmp / "run", progress=False, dataset=ds)
    path = write_report(tmp / "run", run.method, ds, cfg.to_dict(), run.history, {"mig": 0.25, "dci": {"disentanglement": 0.5}})
    return path


def test_report_is_self_contained_and_complete(report):
    html = report.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    # 1 reconstruction grid + 2 traversals x 4 latents + MI heat map + response curves + nearest neighbours per
    # feature + 1 loss-curve figure
    assert len(images) == 1 + 2 * 4 + 1 + 1 + 1 + 1
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "src=\"http" not in html and "<link" not in html  # nothing fetched from outside
    for text in ("Figure 1.", "Figure 2.", "Figure 3.", "Figure 4.", "Figure 5.", "Figure 6.", "Table 1.", "Which latent holds which factor",
                 "Nearest neighbours per feature", "among 36 random images", "mig", "dci.disentanglement", "latent_dim"):
        assert text in html


def test_report_renders_in_headless_chromium(report, tmp_path):
    loaded, total = images_loaded_in_chromium(report, tmp_path)
    assert total == 13 and loaded == total  # every figure of the report, decoded by the browser


def test_unused_latents_get_no_factor_label():
    """A latent at the prior (KL ~ 0) moves nothing in a traversal, whatever MIG's histogram says."""
    import numpy as np

    from untwine.viz.report import ACTIVE_MIN_KL, _active

    kl = np.array([0.0, ACTIVE_MIN_KL / 2, ACTIVE_MIN_KL, 2.5])
    assert [_active(kl, j) for j in range(4)] == [False, False, True, True]
    assert _active(None, 0)  # KL unknown (a method without a Gaussian posterior): labels as before
