"""Nearest neighbours per feature (seed 004, Fig. 5): the search, the figure, the report section."""

import base64
import re

import numpy as np
import pytest
import torch

from untwine.data import get_dataset
from untwine.methods import build_method
from untwine.viz.images import to_uint8_hwc
from untwine.viz.neighbours import MAX_FEATURES, cell_origin, feature_neighbours, nearest_neighbours, neighbours_figure

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNTWINE_CACHE_DIR", str(tmp_path / "cache"))


# ---- the search ----------------------------------------------------------------------------------
def grouped_codes():
    """Feature 0 puts images {0, 1, 2} together (and {3, 4, 5}); feature 1 puts {0, 3, 4} together."""
    return np.array([
        [0.0, 0.0],
        [0.1, 10.0],
        [0.3, 11.0],
        [10.0, 0.2],
        [11.0, 0.5],
        [12.0, 12.0],
    ])


def test_each_feature_finds_the_images_it_groups():
    codes = grouped_codes()
    nn = nearest_neighbours(codes, [0], k=2)
    assert nn.shape == (1, 2, 2) and nn.dtype == np.int64
    assert nn[0, 0].tolist() == [1, 2]  # by feature 0 alone
    assert nn[0, 1].tolist() == [3, 4]  # by feature 1 alone
    # several queries at once, as a tensor; distances on the feature alone, nearest first
    index, dist = nearest_neighbours(torch.tensor(codes, dtype=torch.float32), torch.tensor([5, 0, 4]), k=2,
                                     return_distances=True)
    assert index.shape == (3, 2, 2)
    assert index[0].tolist() == [[4, 3], [2, 1]]
    assert index[2].tolist() == [[3, 5], [3, 0]]  # a tie (3 and 5 at 1) goes to the lower index
    np.testing.assert_allclose(dist[0], [[1.0, 2.0], [1.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(dist[1], [[0.1, 0.3], [0.2, 0.5]], rtol=1e-6)
    # the query itself is a candidate only when asked
    assert nearest_neighbours(codes, [0], k=3, exclude_self=False)[0].tolist() == [[0, 1, 2], [0, 3, 4]]
    assert nearest_neighbours(codes, [], k=2).shape == (0, 2, 2)


def test_ties_go_to_the_lower_index_and_duplicates_count():
    codes = np.array([[1.0], [0.0], [2.0], [1.0], [1.0]])  # 3 and 4 duplicate the query 0
    assert nearest_neighbours(codes, [0], k=4).tolist() == [[[3, 4, 1, 2]]]


def test_feature_size_groups_dims():
    # feature 0 = dims 0-1: from image 0, image 3 (2, 2) is nearer than image 1 (3, 0) and image 2 (0, 4);
    # by dim 0 alone the order would be 2, 3, 1
    codes = np.array([
        [0.0, 0.0, 5.0, 5.0],
        [3.0, 0.0, 5.0, 6.0],
        [0.0, 4.0, 9.0, 9.0],
        [2.0, 2.0, 5.0, 5.5],
    ])
    assert nearest_neighbours(codes, [0], feature_size=2, k=3).tolist() == [[[3, 1, 2], [3, 1, 2]]]
    assert nearest_neighbours(codes, [0], feature_size=1, k=3)[0, 0].tolist() == [2, 3, 1]
    # random codes against a plain loop: feature f is dims [2f, 2f + 2)
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(50, 6))
    queries = [0, 7, 49]
    index, dist = nearest_neighbours(codes, queries, feature_size=2, k=5, return_distances=True)
    for qi, q in enumerate(queries):
        for f in range(3):
            d = np.linalg.norm(codes[:, 2 * f:2 * f + 2] - codes[q, 2 * f:2 * f + 2], axis=1)
            d[q] = np.inf
            assert index[qi, f].tolist() == np.argsort(d)[:5].tolist()
            np.testing.assert_allclose(dist[qi, f], np.sort(d)[:5])


@pytest.mark.parametrize("kwargs, message", [
    ({"feature_size": 3}, r"feature_size=3 does not divide the code size 4.*one of \[1, 2, 4\]"),
    ({"feature_size": 0}, "feature_size must be a positive int"),
    ({"k": 6}, r"k=6 .* pool of 6 codes \(5 candidates besides the query\): use k <= 5"),
    ({"k": 7, "exclude_self": False}, r"use k <= 6"),
    ({"k": 0}, "k must be a positive int"),
    ({"queries": [6]}, r"query index 6 is out of range for a pool of 6 codes: pass row indices in \[0, 6\)"),
    ({"queries": [-1]}, "query index -1 is out of range"),
    ({"queries": [0.5]}, "integer row indices"),
    ({"queries": [[0]]}, "1-D"),
])
def test_bad_input_is_a_clear_error(kwargs, message):
    codes = np.zeros((6, 4))
    args = {"queries": [0], **kwargs}
    with pytest.raises(ValueError, match=message):
        nearest_neighbours(codes, **args)


def test_bad_codes_are_a_clear_error():
    with pytest.raises(ValueError, match="2-D"):
        nearest_neighbours(np.zeros(6), [0])
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.array([[0.0], [np.nan], [1.0]]), [0], k=1)


# ---- a generated image folder --------------------------------------------------------------------
REDS, GREENS = (20, 120, 220), (30, 230)


def colour_folder(root):
    """12 flat-colour PNGs: every (red, green) pair twice (blue 0 and 90), shuffled names."""
    root.mkdir(parents=True, exist_ok=True)
    colours = [(r, g, b) for r in REDS for g in GREENS for b in (0, 90)]
    for i in np.random.default_rng(1).permutation(len(colours)):
        a = np.zeros((20, 20, 3), np.uint8)
        a[...] = colours[i]
        Image.fromarray(a).save(root / f"img_{len(list(root.iterdir())):02d}.png")
    return get_dataset("image_folder", path=str(root), cache="memory")


class ColourModel(torch.nn.Module):
    """Feature 0: the mean red; feature 1: the mean green (each ``feature_size`` dims, repeated)."""

    encode_is_traceable = False

    def __init__(self, feature_size=1):
        super().__init__()
        self.feature_size = feature_size
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.calls = []

    def encode(self, x):
        self.calls.append((self.training, torch.is_inference_mode_enabled(), x.dtype))
        rg = x.float().mean((2, 3))[:, :2] / 255 * self.weight
        return rg.repeat_interleave(self.feature_size, dim=1)


@pytest.mark.parametrize("feature_size", [1, 2])
def test_features_that_hold_one_colour_gather_images_of_that_colour(tmp_path, feature_size):
    ds = colour_folder(tmp_path / "colours")
    x = ds.images(np.arange(len(ds))).float().mean((2, 3))
    red, green = x[:, 0].round().long().numpy(), x[:, 1].round().long().numpy()
    model = ColourModel(feature_size).train()
    found = feature_neighbours(model, ds, num_queries=12, k=3, pool=100)
    assert model.training and model.calls and all(c == (False, True, torch.uint8) for c in model.calls)
    assert found.features == [0, 1] and found.feature_size == feature_size and found.num_features == 2
    assert found.pool.tolist() == list(range(12)) and sorted(found.queries.tolist()) == list(range(12))
    for q, nbrs in zip(found.queries, found.neighbours):
        assert q not in nbrs[0] and q not in nbrs[1]
        assert (red[nbrs[0]] == red[q]).all()  # 4 images per red: the 3 others
        assert (green[nbrs[1]] == green[q]).all()  # 6 images per green
    # the figure draws exactly those images: per feature a block, each row the query then its neighbours
    fig = neighbours_figure(model, ds, found=found)
    blocks = [ax for ax in fig.axes if ax.images]
    assert len(blocks) == 2
    for f, ax in enumerate(blocks):
        block = np.asarray(ax.images[0].get_array())
        assert [t.get_text() for t in ax.get_yticklabels()] == [f"$Z_{{{f}}}$"] * 12
        assert [t.get_text() for t in ax.get_xticklabels()] == ["query", "#1", "#2", "#3"]
        for r, q in enumerate(found.queries):
            for c, index in enumerate([q, *found.neighbours[r, f]]):
                top, left = cell_origin(r, c, 64, 64)
                np.testing.assert_array_equal(block[top:top + 64, left:left + 64], to_uint8_hwc(ds.images([index]))[0])
        assert len(ax.texts) == 12 * 3  # a distance on every neighbour
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_figure_of_an_untrained_vae_on_an_image_folder(tmp_path):
    import matplotlib.pyplot as plt

    ds = colour_folder(tmp_path / "colours")
    model = build_method("vae", ds, latent_dim=4)
    fig = neighbours_figure(model, ds, num_queries=2, k=3, pool=10, seed=3)
    blocks = [ax for ax in fig.axes if ax.images]
    assert len(blocks) == 4  # every feature
    assert [ax.get_yticklabels()[0].get_text() for ax in blocks] == ["$Z_{0}$", "$Z_{1}$", "$Z_{2}$", "$Z_{3}$"]
    # each block: 2 rows of query + 3 neighbours (64 x 64 images)
    assert all(ax.images[0].get_array().shape[:2] == cell_origin(2, 4, 64, 64) for ax in blocks)
    plt.close(fig)
    fig = neighbours_figure(model, ds, num_queries=3, k=2, pool=10, seed=3, features=[3, 1])
    blocks = [ax for ax in fig.axes if ax.images]
    assert len(blocks) == 2 and all(ax.images[0].get_array().shape[:2] == cell_origin(3, 3, 64, 64) for ax in blocks)
    assert [{t.get_text() for t in ax.get_yticklabels()} for ax in blocks] == [{"$Z_{3}$"}, {"$Z_{1}$"}]
    plt.close(fig)
    # seeded: the same pool and queries again; another seed draws others; the pool is a subset without repeats
    a, b = feature_neighbours(model, ds, 3, 2, 10, seed=3), feature_neighbours(model, ds, 3, 2, 10, seed=3)
    assert np.array_equal(a.pool, b.pool) and np.array_equal(a.queries, b.queries)
    assert np.array_equal(a.neighbours, b.neighbours)
    assert len(set(a.pool.tolist())) == 10 and set(a.queries.tolist()) <= set(a.pool.tolist())
    assert set(a.neighbours.ravel().tolist()) <= set(a.pool.tolist())
    assert not np.array_equal(feature_neighbours(model, ds, 3, 2, 10, seed=4).pool, a.pool)
    # more features than the cap: the first MAX_FEATURES by default
    wide = build_method("vae", ds, latent_dim=MAX_FEATURES + 2)
    assert feature_neighbours(wide, ds, 1, 1, 12).features == list(range(MAX_FEATURES))
    with pytest.raises(ValueError, match=r"features must name features in \[0, 4\)"):
        feature_neighbours(model, ds, features=[4])
    with pytest.raises(ValueError, match=r"k=3 neighbours need a pool of at least 4 images, got 3"):
        feature_neighbours(model, ds, num_queries=1, k=3, pool=3)
    with pytest.raises(ValueError, match="num_queries=13 but the pool has 12 images"):
        feature_neighbours(model, ds, num_queries=13)
    model.feature_size = 3
    with pytest.raises(ValueError, match="feature_size=3 does not divide the code size 4"):
        feature_neighbours(model, ds)


def test_the_report_of_an_image_folder_run_shows_the_neighbours(tmp_path):
    from conftest import images_loaded_in_chromium

    from untwine.train import TrainConfig, train
    from untwine.viz.report import write_report

    colour_folder(tmp_path / "colours")
    cfg = TrainConfig(method="vae", dataset="image_folder", dataset_options={"path": str(tmp_path / "colours"),
                      "cache": "memory"}, hparams={"latent_dim": 4}, steps=4, batch_size=8, log_every=2)
    run = train(cfg, tmp_path / "run", progress=False)
    page = write_report(tmp_path / "run", run.method, run.dataset, cfg.to_dict(), run.history)
    html = page.read_text()
    assert "<h2>Nearest neighbours per feature</h2>" in html and "Figure 5." in html
    assert "its 3 nearest neighbours by feature Z<sub>k</sub> alone" in html and "among 12 random images" in html
    assert "no factor labels" in html and "factors: none" in html
    assert "Which latent holds which factor" not in html  # no factors to hold
    section = html[html.index("Nearest neighbours per feature"):html.index("<h2>Training curves</h2>")]
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', section)
    assert len(pngs) == 1 and base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    # 1 reconstruction grid + 2 traversals x 4 latents + the neighbours + the loss curves
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 1 + 2 * 4 + 1 + 1
    loaded, total = images_loaded_in_chromium(page, tmp_path)
    assert total == 11 and loaded == total


def test_the_report_section_orders_features_by_kl_and_caps_them(tmp_path, monkeypatch):
    from untwine.viz import report
    from untwine.viz.traversal import latent_kl

    ds = colour_folder(tmp_path / "colours")
    model = build_method("vae", ds, latent_dim=12).eval()
    kl = latent_kl(model, ds.images(np.arange(12)))
    seen = []
    real = report.feature_neighbours
    monkeypatch.setattr(report, "feature_neighbours", lambda *a, **kw: seen.append(real(*a, **kw)) or seen[-1])
    text = "".join(report._neighbours_figure(model, ds, kl, 0, has_factors=False))
    assert seen[-1].features == np.argsort(-kl, kind="stable")[:MAX_FEATURES].tolist()
    assert "the 10 of 12 features with the highest KL" in text and "one latent (Z<sub>k</sub> = z<sub>k</sub>)" in text
    model.feature_size = 3  # 4 features of 3 dims, ordered by their summed KL
    text = "".join(report._neighbours_figure(model, ds, kl, 0, has_factors=True))
    assert seen[-1].features == np.argsort(-kl.reshape(4, 3).sum(1), kind="stable").tolist()
    assert "Each feature is 3 latent dims" in text and "summed over the feature's dims" in text
    assert "highest KL" not in text and "no factor labels" not in text
    text = "".join(report._neighbours_figure(model, ds, None, 0, has_factors=True))  # KL unknown
    assert seen[-1].features == [0, 1, 2, 3] and "Blocks in index order." in text
