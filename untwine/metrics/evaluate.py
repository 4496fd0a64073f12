"""Run a suite of metrics on a model and a ground-truth dataset; one flat dict of scores.

Sampling follows disentanglement_lib: every metric is computed with its own random state seeded
with ``seed`` (``evaluation.random_seed``), so MIG, SAP, DCI, IRS, modularity and the
unsupervised scores all draw the same 10,000 training points (and SAP, DCI, modularity the same
5,000 test points) -- exactly as running each reference metric separately. The shared
:class:`~untwine.metrics.codes.CodeTable` encodes each distinct image once for the whole suite.
"""

from __future__ import annotations

import platform
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch

from ..data.base import GroundTruthDataset
from .codes import CodeTable
from .registry import MetricOptionError, MetricSpec, get_metric, model_provides, resolve_options


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


def _model_inputs(spec: MetricSpec, model: Any) -> dict[str, Any]:
    """The keyword arguments a metric's model needs (decoder, the model, a named attribute)."""
    out = {}
    for key, need in spec.injected.items():
        if not model_provides(model, need):
            what = {"decoder": "a decoder (model.decode)", "model": "the model"}.get(need, f"the model's {key!r}")
            raise MetricOptionError(f"metric {spec.name!r} needs {what}; {type(model).__name__} has none "
                                    "(pass the trained method, not an encode function)")
        out[key] = model.decode if need == "decoder" else model if need == "model" else getattr(model, key)
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
    options_used: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Compute ``metrics`` for a model on ``dataset``; returns one flat dict of named scores.

    Args:
        encode: a model with ``.encode`` (e.g. a :class:`~untwine.methods.Method`), a callable
            mapping uint8 images (N, C, H, W) to codes (N, d), or a :class:`CodeTable`; run under
            inference mode, a module in eval mode. Metrics that need the decoder or the model's
            state get them from this model.
        dataset: a :class:`~untwine.data.GroundTruthDataset`.
        metrics: names from :func:`available_metrics`, a comma-separated string, or ``"all"``
            (every metric whose required options are given or sourced from the model and
            dataset, that applies to the dataset and whose model needs the model meets); an
            empty list is an error.
        seed: the seed of every metric's random state (disentanglement_lib ``random_seed = 0``).
        batch_size: images per encoder call (default: 128 on the CPU, 1024 on accelerators).
        options: per-metric keyword options, e.g. ``{"sap": {"classifier": "threshold"},
            "dci": {"backend": "sklearn"}}``; ``num_train`` / ``num_test`` set the sample sizes
            (for every metric). A misspelt option is an error listing the valid ones.
        timings: if given, filled with seconds per metric (and ``"encode"``, the encoder share).
        device: where images are encoded (default: the model's device).
        fast_encoder: on the CPU, encode with a frozen TorchScript trace of the model, checked
            against it (:func:`~untwine.metrics.codes.inference_encoder`): None (default) for
            models that declare ``encode_is_traceable`` (untwine's methods), True for any
            module, False never. Models with ``encode_side_inputs`` are always encoded eagerly.
        options_used: if given, filled with :func:`resolve_options`' answer: metric name ->
            every option it ran with, defaults included (what a run records).
        progress: if given, called with a one-line message as each metric starts and ends (its
            seconds, and the images it had to encode), e.g. to print the progress of a long suite.

    Factors with a single class (dSprites' colour) are dropped before the array metrics and never
    chosen by the sampling metrics, as in the reference (so ``group_mig``'s ``factor_groups``
    lists the varying factors only; taken from the dataset's ``groups`` option, it is, and its
    ``latent_groups`` from a group method's ``latent_groups``: see :mod:`untwine.metrics.group_mig`).

    Keys are ``name`` for single-score metrics (``mig``, ``sap``) and ``name.score`` otherwise
    (``dci.disentanglement``, ``factor_vae_score.eval_accuracy``). Versions of the libraries the
    scores depend on come from :func:`metric_environment`.
    """
    table = encode if isinstance(encode, CodeTable) else None
    model = table.source if table is not None else encode
    resolved = resolve_options(metrics, options, dataset, model)
    extras = {name: _model_inputs(get_metric(name), model) for name in resolved}  # checked before any work
    if table is None:
        table = CodeTable(encode, dataset, batch_size, device, fast_encoder)
    if options_used is not None:
        options_used.update({k: dict(v) for k, v in resolved.items()})
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
            samples[key] = (z_tr, y_tr, z_te, y_te)
        return samples[key]

    def factors(classes: np.ndarray | None, kind: str) -> np.ndarray | None:
        if classes is None:
            return None
        return (classes if kind == "factor_classes" else dataset.classes_to_values(classes))[:, varying]

    for i, (name, opts) in enumerate(resolved.items(), 1):
        spec = get_metric(name)
        opts, extra = dict(opts), extras[name]
        t0, e0, n0 = time.perf_counter(), table.encode_seconds, table.num_encoded
        if progress is not None:
            progress(f"[{i}/{len(resolved)}] {name} ...")
        if spec.sampling:
            scores = spec.fn(dataset, table, np.random.default_rng(seed), **opts, **extra)
        else:
            split = "test_split" in spec.needs
            num_train = int(opts.pop("num_train"))
            num_test = int(opts.pop("num_test")) if split else 0
            z_tr, y_tr, z_te, y_te = draw(num_train, num_test)
            kind = spec.factor_kind
            args = [z_tr] + ([factors(y_tr, kind)] if kind else [])
            if split:
                args += [z_te] + ([factors(y_te, kind)] if kind else [])
            scores = spec.fn(*args, **opts, **extra)
        results.update(_flatten(name, scores))
        if progress is not None:
            encoded = table.num_encoded - n0
            progress(f"[{i}/{len(resolved)}] {name}: {time.perf_counter() - t0:.1f} s"
                     + (f" (encoded {encoded:,} images in {table.encode_seconds - e0:.1f} s)" if encoded else ""))
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
