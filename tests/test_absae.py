"""The Abstraction Autoencoder + Relational Learner (seed 000): its structure, the warm-up switch and
resume, the ReL on known Gaussians, its metrics, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from test_contract_methods import TinyGrid
from test_trainer_interrupt import assert_same_run
from untwine import cli
from untwine.data.weak.relations import cyclic_moves
from untwine.methods import DataFacts, build_method
from untwine.metrics import evaluate
from untwine.records import ConfigError
from untwine.train import TrainConfig, train

TINY = {"channels": 4, "hidden": 32, "mlp_layers": 1, "rel_batch": 8}


def test_presets_and_generic_structure():
    d = build_method("absae", DataFacts(image_shape=(1, 64, 64), name="dsprites"))
    assert (d.num_entities, d.num_relations, d.arity) == (27, 5, 1) and d.prior.means.shape == (27, 8)
    h = build_method("absae", DataFacts(image_shape=(1, 45, 45), name="hwf"))
    assert (h.num_entities, h.arity) == (13, 2) and h.rel[0].in_features == 3 * 8  # [z_a, z_b, z_op]
    g = build_method("absae", TinyGrid(), **TINY)
    assert (g.num_entities, g.num_relations) == (12, 2)
    assert g.rel[0].in_features == 8 + 2  # [z, one-hot(relation)]
    with pytest.raises(ConfigError, match="factor combinations"):
        build_method("absae", DataFacts(image_shape=(1, 64, 64), name="big", factor_names=("a", "b"),
                                        factor_sizes=(40, 40)))


def test_cyclic_moves_are_permutations_that_return_after_n_steps():
    t = cyclic_moves(["row", "width"], [3, 4])
    for r, n in enumerate((3, 4)):
        assert sorted(t.table[r]) == list(range(12))  # a permutation of the entities
        ent = np.arange(12)
        assert np.array_equal(t.apply_depth(r, np.repeat(ent[:, None], n, 1)), ent)  # back after n moves
        assert not np.array_equal(t.apply(r, ent), ent)
    assert t.apply(0, np.array([0]))[0] == 4 and t.apply(1, np.array([3]))[0] == 0  # row +1; width 3 -> 0


def _two_gaussians(model, sep: float = 4.0):
    """Fit the prior of a 2-entity model to two separated clouds (entity 0 at -sep, 1 at +sep on z0)."""
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(400, model.latent_dim, generator=g) * torch.linspace(0.5, 1.5, model.latent_dim)
    labels = torch.arange(2).repeat_interleave(200)
    codes[:, 0] += torch.where(labels == 0, -sep, sep)
    model.prior.fit(codes, labels, cov_scale=1.0, ridge=1e-4)


@pytest.mark.parametrize("rel_loss", ["likelihood", "regression"])
def test_the_rel_learns_to_move_codes_between_two_gaussians(rel_loss):
    torch.manual_seed(0)
    facts = DataFacts(image_shape=(1, 64, 64), name="pair", factor_names=("side",), factor_sizes=(2,))
    m = build_method("absae", facts, latent_dim=4, hidden=64, mlp_layers=1, rel_batch=64, rel_loss=rel_loss,
                     lr=1e-3)
    _two_gaussians(m)
    opt = torch.optim.Adam(m.rel.parameters(), lr=1e-3)
    table = torch.from_numpy(m.relations_option.table)
    for step in range(300):
        src = torch.randint(2, (64, 1))
        batch = {"relations": {"relation": torch.zeros(64, dtype=torch.long), "source": src, "target": table[0, src[:, 0]],
                               "relation_entity": torch.full((64,), -1)}}
        out = m.relation_phase(batch, step)
        opt.zero_grad()
        out.losses["rel"].backward()
        opt.step()
    with torch.no_grad():
        for src, tgt in ((0, 1), (1, 0)):
            z = m.prior.sample_component(torch.full((2000,), src))
            moved = m.relate(torch.zeros(2000, dtype=torch.long), z)
            pred, _ = m.prior.classify(moved)
            assert (pred == tgt).float().mean() > 0.99
            assert torch.allclose(moved.mean(0), m.prior.means[tgt], atol=0.5)  # lands on the target component


def _config(steps, **hp):
    return TrainConfig(method="absae", dataset="tiny_grid", steps=steps, batch_size=4, seed=3, log_every=1,
                       checkpoint_every=1, threads=1, hparams={**TINY, "tau": 1, **hp})


def test_the_prior_switches_at_the_warmup_step_and_resume_is_exact(tmp_path):
    ds = TinyGrid()
    before = train(_config(3, warmup=3), tmp_path / "before", progress=False, dataset=ds)
    assert not before.method.prior_ready  # the event runs before step warmup + 1
    assert all("rel" not in row for row in before.history)
    full = train(_config(6, warmup=3), tmp_path / "full", progress=False, dataset=ds)
    assert full.method.prior_ready and [("rel" in r) for r in full.history] == [False] * 3 + [True] * 3
    # the mixture is the labelled codes' at step 3: each component sits on its (single) labelled image
    assert torch.isfinite(full.method.prior.scale_tril).all()
    train(_config(4, warmup=3), tmp_path / "part", progress=False, dataset=ds)  # stops right after the switch
    train(_config(6, warmup=3), tmp_path / "part", resume=True, progress=False, dataset=ds)
    assert_same_run(tmp_path / "full", tmp_path / "part")


@pytest.mark.integration
def test_absae_trains_on_dsprites_without_nan_and_its_metrics_run(tmp_path):
    from untwine.data import get_dataset

    ds = get_dataset("dsprites", lazy=True)
    cfg = TrainConfig(method="absae", dataset="dsprites", dataset_options={"lazy": True}, steps=200, batch_size=16,
                      seed=0, log_every=50, threads=1, hparams={**TINY, "warmup": 100, "tau": 3})
    run = train(cfg, tmp_path / "run", progress=False, dataset=ds)
    assert run.method.prior_ready and all(np.isfinite(v) for r in run.history for v in r.values())
    scores = evaluate(run.method, ds, ["latent_classification", "relation_accuracy", "entity_disentanglement"],
                      options={"latent_classification": {"num_images": 300},
                               "relation_accuracy": {"samples": 40, "depths": [1, 2]},
                               "entity_disentanglement": {"num_images": 300}})
    for key in ("latent_classification.accuracy_0", "latent_classification.accepted_0.9", "relation_accuracy.accuracy_d2",
                "relation_accuracy.accepted_all_d2", "relation_accuracy.shape_d1", "entity_disentanglement.mig"):
        assert 0.0 <= scores[key] <= 1.0, key
    assert scores["latent_classification.accepted_0"] == 1.0  # alpha 0 accepts every code
    from untwine.viz import report_run
    from untwine.viz.abstraction import component_samples, relation_chain

    assert component_samples(run.method, [0, 5], per_component=3).shape == (6, 1, 64, 64)
    images, entities = relation_chain(run.method, ds.images([0])[0], relation=4, steps=3)
    assert images.shape == (4, 1, 64, 64) and len(entities) == 4 and all(0 <= e < 27 for e in entities)
    page = report_run(tmp_path / "run").read_text()
    assert "Prior components and relations" in page and page.count("<tr><td class='lab'>") >= 5  # one chain per relation


def test_metrics_on_a_hand_built_prior_and_identity_rel():
    """A model whose codes are its entity's prior mean and whose ReL applies the relation exactly
    scores 1 everywhere; the bad alpha is one clear error."""
    from untwine.metrics.abstraction import latent_classification, relation_accuracy

    ds = TinyGrid()
    m = build_method("absae", ds, **TINY).eval()
    means = torch.randn(12, m.latent_dim) * 10
    m.prior.fit(means.repeat_interleave(3, 0) + 0.01 * torch.randn(36, m.latent_dim), torch.arange(12).repeat_interleave(3))
    table = torch.from_numpy(m.relations_option.table)

    class Perfect(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.prior, self.hparams = m.prior, m.hparams
            self.entities_option, self.relations_option = m.entities_option, m.relations_option

        def encode(self, x):  # the mean of the image's entity, read off the bar (TinyGrid)
            lit = x[:, 0] > 0
            row = lit.any(2).float().argmax(1) // 20
            width = lit.any(1).sum(1) // 16 - 1
            return m.prior.means[row * 4 + width]

        def relate(self, relation, z):  # the relation applied exactly, in the latent space
            k, _ = m.prior.classify(z)
            return m.prior.means[table[relation, k]]

    rng = np.random.default_rng(0)
    r = latent_classification(ds, Perfect(), rng, model=Perfect(), num_images=50)
    assert r["accuracy_0"] == 1.0 and r["accepted_0"] == 1.0
    rel = relation_accuracy(ds, Perfect(), rng, model=Perfect(), samples=30, depths=(1, 3))
    assert rel["accuracy_d1"] == 1.0 and rel["accuracy_d3"] == 1.0 and rel["accuracy_all_d3"] == 1.0
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        latent_classification(ds, Perfect(), rng, model=Perfect(), alphas=(1.5,))


def test_bad_absae_settings_are_one_clear_error(capsys, tmp_path):
    with pytest.raises(ConfigError, match="warm-up .* longer than the run"):
        _config(5, warmup=10)
    assert cli.main(["train", "--method", "absae", "--dataset", "dsprites", "--warmup", "5000", "--steps", "100",
                     "--out", str(tmp_path / "r")]) == 2
    assert "longer than the run" in capsys.readouterr().err
    with pytest.raises(ValueError, match="tau=2 labelled images per entity, but"):
        train(_config(3, tau=2, warmup=1), tmp_path / "t", progress=False, dataset=TinyGrid())  # 1 image per entity


def test_too_few_labelled_images_is_one_clear_error_before_training(capsys, tmp_path):
    with pytest.raises(ValueError, match="fewer than 2 labelled images"):  # 1 batch of 4 cannot cover 12 entities twice
        train(_config(3, tau=1, warmup=1, labelled_batches=1), tmp_path / "lb", progress=False, dataset=TinyGrid())
    assert not (tmp_path / "lb").exists()
    args = ["train", "--method", "absae", "--dataset", "dsprites", "--dataset-option", "lazy=true", "--tau", "500",
            "--steps", "2000", "--out", str(tmp_path / "d")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "tau=500" in err and "at most 450" in err and not (tmp_path / "d").exists()


def test_absae_trains_on_the_train_part_of_augmented_dsprites(tmp_path):
    cfg = TrainConfig(method="absae", dataset="dsprites", steps=6, batch_size=8, seed=0, log_every=3, threads=1,
                      dataset_options={"lazy": True, "augment": {"holdout": 0.2, "part": "train"}},
                      hparams={**TINY, "rel_batch": 4, "warmup": 3, "tau": 3})
    run = train(cfg, tmp_path / "aug", progress=False)
    assert run.method.prior_ready and len(run.dataset) < 7 * 737280
    labelled = run.dataset.index_to_classes(np.arange(0, len(run.dataset), 9973))
    assert run.dataset.accepts_classes(labelled).all()


def test_binary_relations_take_both_operands_and_the_operator_component():
    """HWF: the ReL reads [z_a, z_b, z_op], z_op drawn from the operator's prior component (entities 10-12)."""
    torch.manual_seed(0)
    m = build_method("absae", DataFacts(image_shape=(1, 45, 45), name="hwf"), **TINY)
    m.prior.fit(torch.randn(13 * 4, m.latent_dim) + torch.arange(13).repeat_interleave(4)[:, None],
                torch.arange(13).repeat_interleave(4))
    table = torch.from_numpy(np.stack([(np.add.outer(np.arange(10), np.arange(10))) % 10]))
    src = torch.randint(10, (8, 2))
    batch = {"relations": {"relation": torch.zeros(8, dtype=torch.long), "source": src, "target": table[0, src[:, 0], src[:, 1]],
                           "relation_entity": torch.full((8,), 10)}}
    m.hparams.rel_batch = 8
    out = m.relation_phase(batch, 0)
    assert torch.isfinite(out.losses["rel"]) and out.losses["rel"].requires_grad
    z = m.relate(torch.zeros(3, dtype=torch.long), *(torch.zeros(3, m.latent_dim) for _ in range(3)))
    assert z.shape == (3, m.latent_dim) and m.relation_entities == [10, 11, 12]
    from untwine.viz.abstraction import relation_chain

    images, entities = relation_chain(m, torch.zeros(1, 45, 45, dtype=torch.uint8), relation=2, steps=2)
    assert images.shape == (3, 1, 45, 45) and len(entities) == 3
