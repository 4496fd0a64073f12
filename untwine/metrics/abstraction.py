"""Task metrics of seed 000 (Valenti & Bacciu 2022): a code classified into a prior component.

For models with a Gaussian-mixture prior over *entities* (factor combinations, the AbsAE of
:mod:`untwine.methods.absae`): the model gives ``prior`` (``classify(z, alpha, threshold)``,
``sample_component``), its entity and relation presets (``hparams.entities``, ``relations``,
``wrap``) and, for relations, ``relate(relation, *codes)``. Test images are drawn uniformly from the
entities' images (the allowed grid).

* ``latent_classification`` (the paper's Fig. 2 / Table 4): per alpha, the accepted ratio (codes
  whose best component passes the threshold) and the accuracy among the accepted (0 if none);
* ``relation_accuracy`` (Fig. 3 / Table 5): codes drawn from the source entities' components, the
  ReL applied ``depth`` times feeding its output back (binary relations: a fresh right operand per
  step), the result classified against the symbolic relation applied ``depth`` times: the accuracy
  of the final code among the chains whose final code is accepted, and (``all``) among the chains
  whose every intermediate code was accepted (implementation notes A.7 recommend both);
* ``entity_disentanglement``: DCI, MIG and SAP of the code mapped through its classified
  component to the entity's factor bins, against the true bins (decisions.md).

The threshold is on the best component's density value (``threshold="density"``, the reference
code; a density can exceed 1) or on the posterior responsibility (``"responsibility"``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..data.weak.common import indices_for_classes
from ..data.weak.entities import as_entity_spec
from ..data.weak.relations import combination_entities, relation_table
from .codes import CodeTable
from .registry import register_metric

ALPHAS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
DEPTHS = (1, 5, 10)
_PRESET_DATASETS = ("dsprites", "shapes3d", "hwf")


def _has_entities(dataset: Any) -> bool:
    """Datasets with seed 000's entity presets, or few enough factor combinations to be entities."""
    if str(getattr(dataset, "name", "")).split("_")[0] in _PRESET_DATASETS:
        return True
    return combination_entities(getattr(dataset, "factor_names", ()), getattr(dataset, "factor_sizes", ())) is not None


class ExampleMixtureModel(torch.nn.Module):
    """The smallest model these metrics take (the contract tests'): a fixed linear encoder, a mixture
    prior fitted to the codes of every entity's images, and a ReL that jumps to the target's mean."""

    def __init__(self, dataset: Any, latent_dim: int = 4, seed: int = 0):
        super().__init__()
        from types import SimpleNamespace

        from ..nn.gaussian_mixture import GaussianMixture

        self.entities_option, self.relations_option, _ = combination_entities(dataset.factor_names, dataset.factor_sizes)
        self.hparams = SimpleNamespace(entities="seed000", relations="seed000", wrap=False)
        g = torch.Generator().manual_seed(seed)
        self.proj = torch.nn.Linear(int(np.prod(dataset.image_shape)), latent_dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(self.proj.weight.shape, generator=g))
        spec = as_entity_spec(dataset, self.entities_option)
        self.prior = GaussianMixture(spec.num_entities, latent_dim)
        rng = np.random.default_rng(seed)
        ent = np.repeat(np.arange(spec.num_entities), 3)
        idx = indices_for_classes(dataset, spec.sample_classes(ent, rng), rng)
        with torch.no_grad():
            self.prior.fit(self.encode(dataset.images(idx)), torch.from_numpy(ent), ridge=1e-2)
        self._table = torch.from_numpy(self.relations_option.table)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.float().flatten(1) / 255)

    def relate(self, relation: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        k, _ = self.prior.classify(z)
        return self.prior.means[self._table[relation, k]]


def _check_alpha(alpha: float) -> float:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return float(alpha)


def _spec(dataset: Any, model: Any):
    return as_entity_spec(dataset, getattr(model, "entities_option", "seed000"))


def _test_codes(dataset: Any, encode: Any, model: Any, rng: np.random.Generator, n: int
                ) -> tuple[torch.Tensor, np.ndarray, Any]:
    """Codes (n, d) of images drawn uniformly from the entities, their entity ids, the entity spec."""
    spec = _spec(dataset, model)
    classes = spec.sample_allowed_classes(n, rng)
    idx = indices_for_classes(dataset, classes, rng)
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset)
    codes = table.codes_for_indices(idx) if table.grid else table.encode_images(dataset.images(idx))
    if not np.isfinite(codes).all():
        raise ValueError("the model's codes contain NaN or infinite values")
    z = torch.from_numpy(np.asarray(codes)).float().to(model.prior.means.device)
    return z, spec.entity_of(dataset.index_to_classes(idx)), spec


def _ratio(num: torch.Tensor | np.ndarray, den: torch.Tensor | np.ndarray) -> float:
    d = float(np.sum(np.asarray(den)))
    return float(np.sum(np.asarray(num))) / d if d else 0.0


@register_metric("latent_classification", needs=("sampling", "model", "model.prior"), applies=_has_entities,
                 example_model=ExampleMixtureModel,
                 help="AbsAE: accuracy and accepted ratio of codes classified into prior components, per alpha")
def latent_classification(dataset: Any, encode: Any, rng: np.random.Generator, model: Any = None, prior: Any = None,
                          num_images: int = 5000, alphas: Sequence[float] = ALPHAS,
                          threshold: str = "density") -> dict[str, float]:
    """``accuracy_{alpha}`` and ``accepted_{alpha}`` for every alpha (module docstring)."""
    alphas = [_check_alpha(a) for a in alphas]
    z, truth, _ = _test_codes(dataset, encode, model, rng, num_images)
    truth = torch.from_numpy(truth).to(z.device)
    out = {}
    with torch.no_grad():
        for a in alphas:
            pred, accepted = model.prior.classify(z, a, threshold)
            out[f"accuracy_{a:g}"] = _ratio((pred == truth) & accepted, accepted)
            out[f"accepted_{a:g}"] = float(accepted.float().mean())
    return out


@register_metric("relation_accuracy", needs=("sampling", "model", "model.prior"), applies=_has_entities,
                 example_model=ExampleMixtureModel, encodes=False,
                 help="AbsAE: accuracy of ReL outputs classified into the target component, at depths 1, 5, 10")
def relation_accuracy(dataset: Any, encode: Any, rng: np.random.Generator, model: Any = None, prior: Any = None,
                      samples: int = 1280, depths: Sequence[int] = DEPTHS, alpha: float = 0.0,
                      threshold: str = "density") -> dict[str, float]:
    """Per depth: ``accuracy_d{k}`` / ``accepted_d{k}`` of the final code, ``accuracy_all_d{k}`` /
    ``accepted_all_d{k}`` over the chains whose every step was accepted (means over relations);
    per relation ``{name}_d1`` (accuracy at depth 1). ``samples`` chains per relation."""
    alpha = _check_alpha(alpha)
    if not depths or min(depths) < 1:
        raise ValueError(f"depths must be integers >= 1, got {tuple(depths)}")
    spec = _spec(dataset, model)
    h = model.hparams
    table = relation_table(spec, getattr(model, "relations_option", "seed000"), getattr(h, "wrap", False))
    gen = torch.Generator(device=model.prior.means.device).manual_seed(int(rng.integers(2**62)))
    sources = np.asarray(table.sources)
    deepest = max(depths)
    per: dict[str, list[float]] = {}
    out: dict[str, float] = {}
    with torch.no_grad():
        for r, name in enumerate(table.names):
            operands = sources[rng.integers(0, len(sources), (samples, deepest + (table.arity == 2)))]
            rel = torch.full((samples,), r, dtype=torch.long, device=gen.device)
            z = model.prior.sample_component(torch.from_numpy(operands[:, 0]).to(gen.device), gen)
            all_ok = torch.ones(samples, dtype=torch.bool, device=gen.device)
            for step in range(1, deepest + 1):
                if table.arity == 1:
                    z = model.relate(rel, z)
                    truth = table.apply_depth(r, np.repeat(operands[:, :1], step, axis=1))
                else:
                    right = model.prior.sample_component(torch.from_numpy(operands[:, step]).to(gen.device), gen)
                    op = model.prior.sample_component(torch.full((samples,), int(table.relation_entity[r]),
                                                                 dtype=torch.long, device=gen.device), gen)
                    z = model.relate(rel, z, right, op)
                    truth = table.apply_depth(r, operands[:, : step + 1])
                pred, accepted = model.prior.classify(z, alpha, threshold)
                all_ok &= accepted
                if step in depths:
                    t = torch.from_numpy(truth).to(z.device)
                    correct = pred == t
                    for key, value in ((f"accuracy_d{step}", _ratio(correct & accepted, accepted)),
                                       (f"accepted_d{step}", float(accepted.float().mean())),
                                       (f"accuracy_all_d{step}", _ratio(correct & all_ok, all_ok)),
                                       (f"accepted_all_d{step}", float(all_ok.float().mean()))):
                        per.setdefault(key, []).append(value)
                    if step == 1:
                        out[f"{name}_d1"] = _ratio(correct & accepted, accepted)
    out.update({k: float(np.mean(v)) for k, v in per.items()})
    return out


@register_metric("entity_disentanglement", needs=("sampling", "model", "model.prior"), applies=_has_entities,
                 example_model=ExampleMixtureModel,
                 help="AbsAE: DCI, MIG and SAP of the entity factor bins read from the classified component")
def entity_disentanglement(dataset: Any, encode: Any, rng: np.random.Generator, model: Any = None,
                           prior: Any = None, num_images: int = 5000) -> dict[str, float]:
    """``mig``, ``sap``, ``dci_disentanglement``, ``dci_completeness``, ``dci_informativeness``: the
    representation is the factor bins of the classified entity (alpha 0), the factors the true bins."""
    from .dci import dci
    from .mig import mig
    from .sap import sap

    z, truth, spec = _test_codes(dataset, encode, model, rng, num_images)
    with torch.no_grad():
        pred, _ = model.prior.classify(z, 0.0)
    rep = spec.entity_bins(pred.cpu().numpy()).astype(np.float64)
    true = spec.entity_bins(truth)
    half = num_images // 2
    d = dci(rep[:half], true[:half], rep[half:], true[half:])
    return {"mig": float(mig(rep, true)["mig"]), "sap": float(sap(rep[:half], true[:half], rep[half:], true[half:])["sap"]),
            "dci_disentanglement": float(d["disentanglement"]), "dci_completeness": float(d["completeness"]),
            "dci_informativeness": float(d["informativeness_test"])}
