"""The contract every registered method keeps (a new method is tested here with no new test code):
it builds on tiny data for its streams, declares disjoint optimisers covering its trainable
parameters, encodes (with its side inputs) and decodes the right shapes, takes steps with finite
losses, survives a checkpoint round trip (resume equals an uninterrupted run, weights-only load),
and gives the same result for the same seed. Also run on tests/interface_method.py (two streams,
two optimisers in two phases, events)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interface_method import InterfaceMethod
from test_trainer_interrupt import assert_same_run
from untwine.data import FactorGridDataset
from untwine.data.samplers import available_batch_kinds
from untwine.methods import DataFacts, available_methods, build_method
from untwine.methods import base as mbase
from untwine.methods.optim import OptimizerSet
from untwine.train import TrainConfig, load_run, train


class TinyGrid(FactorGridDataset):
    """12 images 1x64x64 (a bar at one of 3 rows, of one of 4 widths) with weak labels: each factor
    one-hot in ``resolution`` bins."""

    name = "tiny_grid"
    factor_names = ("row", "width")
    factor_sizes = (3, 4)
    image_shape = (1, 64, 64)
    factor_groups = (("row",), ("width",))  # for the group methods (pairs share one group)

    def factor_values(self, factor):
        return np.arange(self.factor_sizes[self.factor_index(factor)], dtype=np.float64)

    def images(self, indices):
        c = torch.as_tensor(self.index_to_classes(np.asarray(indices, dtype=np.int64)))
        r = torch.arange(64)
        rows = (r >= c[:, 0, None] * 20) & (r < c[:, 0, None] * 20 + 8)
        cols = r < (c[:, 1, None] + 1) * 16
        return ((rows[:, :, None] & cols[:, None, :]).to(torch.uint8) * 255)[:, None]

    def weak_labels(self, classes, resolution=2):
        classes = np.asarray(classes)
        out = []
        for k, size in enumerate(self.factor_sizes):
            bins = np.minimum(classes[:, k] * resolution // size, resolution - 1)
            out.append(np.eye(resolution, dtype=np.float32)[bins])
        return np.concatenate(out, axis=1)


METHODS = sorted(set(available_methods()) | {InterfaceMethod.name})


@pytest.fixture(autouse=True)
def interface_method_registered(monkeypatch):
    monkeypatch.setitem(mbase._METHODS, InterfaceMethod.name, InterfaceMethod)


@pytest.fixture(scope="module")
def tiny():
    return TinyGrid()


def config(name, **kw):
    base = dict(method=name, dataset="tiny_grid", steps=2, batch_size=4, seed=11, log_every=1, checkpoint_every=1,
                threads=1, hparams=dict(mbase.get_method_class(name).contract_hparams))
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("name", METHODS)
def test_declarations(name, tiny):
    m = build_method(name, tiny, **mbase.get_method_class(name).contract_hparams)
    streams = m.streams()
    assert streams and all(s.kind in available_batch_kinds() for s in streams.values())
    specs = OptimizerSet(m).specs  # builds every optimiser; raises on shared parameters
    covered = {id(p) for s in specs.values() for p in s.params}
    trainable = {id(p) for p in m.parameters() if p.requires_grad}
    assert trainable <= covered, "every trainable parameter belongs to an optimiser"
    assert all(isinstance(step, int) and step >= 0 for step in m.events())


@pytest.mark.parametrize("name", METHODS)
def test_encode_decode_shapes(name, tiny):
    torch.manual_seed(0)
    m = build_method(name, tiny, **mbase.get_method_class(name).contract_hparams).eval()
    idx = np.arange(5)
    side = m.encode_side_inputs(tiny.index_to_classes(idx))
    with torch.no_grad():
        z = m.encode(tiny.images(idx), **side)
        assert z.shape == (5, m.latent_dim) and bool(torch.isfinite(z).all())
        x = m.decode(z)
    assert x.shape == (5, *tiny.image_shape) and bool(torch.isfinite(x).all())


@pytest.mark.parametrize("name", METHODS)
def test_steps_checkpoint_resume_and_seed(name, tiny, tmp_path):
    full = train(config(name), tmp_path / "full", progress=False, dataset=tiny)
    assert [r["step"] for r in full.history] == [1, 2]
    assert all(math.isfinite(v) for row in full.history for v in row.values())
    torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)  # plain tensors and values only
    # resume from step 1 gives every tensor and row of the uninterrupted run
    train(config(name, steps=1), tmp_path / "part", progress=False, dataset=tiny)
    train(config(name), tmp_path / "part", resume=True, progress=False, dataset=tiny)
    assert_same_run(tmp_path / "full", tmp_path / "part")
    # same seed, same result; and the checkpoint restores the model
    again = train(config(name), tmp_path / "again", progress=False, dataset=tiny)
    for a, b in zip(full.method.state_dict().values(), again.method.state_dict().values()):
        assert torch.equal(a, b)
    loaded = load_run(tmp_path / "full", dataset=tiny)
    for a, b in zip(full.method.state_dict().values(), loaded.method.state_dict().values()):
        assert torch.equal(a, b)


def test_every_method_is_covered():
    assert set(available_methods()) <= set(METHODS) and len(METHODS) >= 9
