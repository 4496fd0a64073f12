"""Run a suite of metrics on a model and a ground-truth dataset; one flat dict of scores.

Sampling follows disentanglement_lib: every metric is computed with its own random state seeded
with ``seed`` (``evaluation.random_seed``), so MIG, SAP, DCI, IRS, modularity and the
unsupervised scores all draw the same 10,000 training points (and SAP, DCI, modularity the same
5,000 test points) -- exactly as running each reference metric separately. The shared
:class:`~untwine.metrics.codes.CodeTable` encodes each distinct image once for the whole suite.
"""

from __future__ import annotations

import difflib
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from ..data.base import GroundTruthDataset
from .codes import CodeTable


@dataclass(frozen=True)
class MetricSpec:
    """How the suite feeds a metric.

    ``kind``: ``"train"`` -> ``fn(codes, factors, **opts)``; ``"train_test"`` ->
    ``fn(codes, factors, codes_test, factors_test, **opts)``; ``"codes"`` -> ``fn(codes, **opts)``;
    ``"sampling"`` -> ``fn(dataset, table, rng, **opts)``.
    """

    name: str
    fn: Callable[..., dict[str, float]]
    kind: str
    num_train: int = 10000
    num_test: int = 0
    needs_options: tuple[str, ...] = ()  # options without which the metric cannot run ("all" skips it)
    help: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)


_SPECS: dict[str, MetricSpec] = {}
METRICS: dict[str, Callable[..., dict[str, float]]] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add a metric to the suite (name -> function in :data:`METRICS`)."""
    if spec.name in _SPECS:
        raise ValueError(f"metric {spec.name!r} registered twice")
    if spec.kind not in ("train", "train_test", "codes", "sampling"):
        raise ValueError(f"unknown metric kind {spec.kind!r}")
    _SPECS[spec.name] = spec
    METRICS[spec.name] = spec.fn
    return spec


def available_metrics() -> list[str]:
    """Names accepted by :func:`evaluate` (in suite order)."""
    return list(_SPECS)


def _resolve(metrics: str | Iterable[str], options: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if isinstance(metrics, str):
        if metrics == "all":
            return [n for n, s in _SPECS.items() if all(o in options.get(n, {}) for o in s.needs_options)]
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = list(dict.fromkeys(metrics))
    for n in names:
        if n not in _SPECS:
            close = difflib.get_close_matches(n, list(_SPECS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown metric {n!r}; available: {', '.join(_SPECS)} (or 'all').{hint}")
        missing = [o for o in _SPECS[n].needs_options if o not in options.get(n, {})]
        if missing:
            raise ValueError(f"metric {n!r} needs option(s) {', '.join(missing)}: pass "
                             f"options={{{n!r}: {{{', '.join(repr(m) + ': ...' for m in missing)}}}}}")
    unknown_opts = sorted(set(options) - set(_SPECS))
    if unknown_opts:
        raise ValueError(f"options given for unknown metric(s) {', '.join(unknown_opts)}; "
                         f"available: {', '.join(_SPECS)}")
    return names


def metric_environment() -> dict[str, str]:
    """Library versions that classifier-based scores depend on (record them with every result)."""
    import sklearn

    env = {"torch": torch.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__,
           "python": platform.python_version()}
    try:
        import lightgbm

        env["lightgbm"] = lightgbm.__version__
    except ImportError:  # pragma: no cover - optional backend
        pass
    return env


def _flatten(name: str, scores: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in scores.items():
        out[name if k == name else f"{name}.{k}"] = float(v)
    return out


def evaluate(
    encode: Any,
    dataset: GroundTruthDataset,
    metrics: str | Iterable[str] = ("mig",),
    seed: int = 0,
    batch_size: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    timings: dict[str, float] | None = None,
    device: torch.device | str | None = None,
    fast_encoder: bool | None = None,
) -> dict[str, float]:
    """Compute ``metrics`` for a model on ``dataset``; returns one flat dict of named scores.

    Args:
        encode: a model with ``.encode`` (e.g. a :class:`~untwine.methods.Method`) or a callable
            mapping uint8 images (N, C, H, W) to codes (N, d); run under inference mode, a
            module in eval mode.
        dataset: a :class:`~untwine.data.GroundTruthDataset`.
        metrics: names from :func:`available_metrics`, a comma-separated string, or ``"all"``
            (every metric that needs no extra option; ``group_mig`` needs its group assignment).
        seed: the seed of every metric's random state (disentanglement_lib ``random_seed = 0``).
        batch_size: images per encoder call (default: 128 on the CPU, 1024 on accelerators).
        options: per-metric keyword options, e.g. ``{"sap": {"classifier": "threshold"},
            "dci": {"backend": "sklearn"}}``; ``num_train`` / ``num_test`` override the sample sizes.
        timings: if given, filled with seconds per metric (and ``"encode"``, the encoder share).
        device: where images are encoded (default: the model's device).
        fast_encoder: on the CPU, encode with a frozen TorchScript trace of the model, checked
            against it (:func:`~untwine.metrics.codes.inference_encoder`): None (default) for
            models that declare ``encode_is_traceable`` (untwine's methods), True for any
            module, False never.

    Factors with a single class (dSprites' colour) are dropped before the array metrics and never
    chosen by the sampling metrics, as in the reference (so ``group_mig``'s ``factor_groups``
    lists the varying factors only).

    Keys are ``name`` for single-score metrics (``mig``, ``sap``) and ``name.score`` otherwise
    (``dci.disentanglement``, ``factor_vae_score.eval_accuracy``). Versions of the libraries the
    scores depend on come from :func:`metric_environment`.
    """
    options = {k: dict(v) for k, v in (options or {}).items()}
    names = _resolve(metrics, options)
    table = encode if isinstance(encode, CodeTable) else CodeTable(encode, dataset, batch_size, device, fast_encoder)
    results: dict[str, float] = {}
    samples: dict[tuple[int, int], tuple] = {}
    # factors with a single class (dSprites' colour) are no factors of variation (as the reference)
    varying = np.asarray(dataset.factor_sizes) > 1

    def draw(num_train: int, num_test: int):
        # the reference metrics each start from RandomState(seed) and draw train then test points
        key = (num_train, num_test)
        if key not in samples:
            rng = np.random.default_rng(seed)
            y_tr = dataset.sample_classes(num_train, rng)
            y_te = dataset.sample_classes(num_test, rng) if num_test else None
            z_tr = table.codes_for_classes(y_tr, rng)
            z_te = table.codes_for_classes(y_te, rng) if num_test else None
            samples[key] = (z_tr, y_tr[:, varying], z_te, None if y_te is None else y_te[:, varying])
        return samples[key]

    for name in names:
        spec = _SPECS[name]
        opts = dict(options.get(name, {}))
        num_train = int(opts.pop("num_train", spec.num_train))
        num_test = int(opts.pop("num_test", spec.num_test))
        t0, e0 = time.perf_counter(), table.encode_seconds
        if spec.kind == "sampling":
            rng = np.random.default_rng(seed)
            if "num_train" in options.get(name, {}):
                opts["num_train"] = num_train
            if "num_test" in options.get(name, {}):
                opts["num_eval"] = num_test
            scores = spec.fn(dataset, table, rng, **opts)
        else:
            z_tr, y_tr, z_te, y_te = draw(num_train, num_test if spec.kind == "train_test" else 0)
            if spec.kind == "train":
                scores = spec.fn(z_tr, y_tr, **opts)
            elif spec.kind == "train_test":
                scores = spec.fn(z_tr, y_tr, z_te, y_te, **opts)
            else:
                scores = spec.fn(z_tr, **opts)
        results.update(_flatten(name, scores))
        if timings is not None:
            timings[name] = time.perf_counter() - t0
            timings[f"{name}.encode"] = table.encode_seconds - e0
    if timings is not None:
        timings["encode"] = table.encode_seconds
        timings["images_encoded"] = float(table.num_encoded)
    return results


def format_table(results: Mapping[str, float], title: str = "metric") -> str:
    """A plain two-column text table of flat results (for the CLI)."""
    if not results:
        return "(no metrics)"
    w = max(len(title), *(len(k) for k in results))
    lines = [f"{title:<{w}}  value", f"{'-' * w}  ------"]
    for k, v in results.items():
        lines.append(f"{k:<{w}}  {v:.4f}" if isinstance(v, float) else f"{k:<{w}}  {v}")
    return "\n".join(lines)
