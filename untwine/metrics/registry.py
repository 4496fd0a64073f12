"""The metric registry: each metric is registered where it is defined, with what it needs.

    @register_metric("mig", needs=("codes", "factor_classes"), num_train=10000, help="...")
    def mig(codes, factors, num_bins=20): ...

``needs`` says how :func:`~untwine.metrics.evaluate` calls the function:

* data (positional arguments, in this order), one of
  ``("codes",)`` -> ``fn(codes)``;
  ``("codes", "factor_classes")`` -> ``fn(codes, classes)``;
  ``("codes", "factor_values")`` -> ``fn(codes, values)``;
  either of the last two with ``"test_split"`` -> ``fn(codes, factors, codes_test, factors_test)``;
  ``("sampling",)`` -> ``fn(dataset, table, rng)`` (the metric samples from the dataset itself);
* the model (keyword arguments): ``"decoder"`` -> ``decode=model.decode``; ``"model"`` ->
  ``model=model``; ``"model.NAME"`` -> ``NAME=model.NAME`` (a method's own state, e.g. a prior).

Every other keyword parameter of the function is an option; those without a default are
required (``evaluate(metrics="all")`` skips a metric whose required options are not given).
An option may also have a *source* (``option_sources={"latent_groups": OptionSource(...)}``):
where the caller does not give it, the suite takes it from the model and/or the dataset being
evaluated (group-MIG's latent groups from ``model.latent_groups``, its factor groups from the
dataset's ``groups`` option). A given option always wins; ``"all"`` includes the metric exactly
when every required option is given or sourced; naming the metric where a source has nothing to
give is an error saying what is missing (checked once the model and dataset are known).
Array metrics also take ``num_train`` (and ``num_test`` with ``"test_split"``): the sample
sizes the suite draws. Sampling metrics take them as their own parameters.

The registered function is wrapped once: its array inputs are validated (2-D, finite codes,
equal lengths, the same latents in train and test) and a misspelt option gives an error that
lists the valid ones, however it is called.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .utils import check_codes, check_factors

DATA_NEEDS = ("codes", "factor_classes", "factor_values", "test_split", "sampling")
MODEL_NEEDS = ("decoder", "model")  # plus "model.NAME"


class MetricOptionError(ValueError):
    """A metric name, option or input the suite cannot use (the message says which and the fix)."""


@dataclass(frozen=True)
class OptionSource:
    """Where the suite takes an option the caller did not give: the model and/or the dataset.

    ``uses``: ``("model",)``, ``("dataset",)`` or both: what ``get(model, dataset)`` reads (the
    source is only consulted when those are known). ``get`` returns the option's value, or None
    when this model / dataset has nothing to give. ``what``: what it needs, for the error message
    (``"a model with latent_groups (a group method)"``).
    """

    uses: tuple[str, ...]
    get: Callable[[Any, Any], Any]
    what: str

    def known(self, model: Any, dataset: Any) -> bool:
        """Whether the model and dataset this source reads are known (not None)."""
        return all({"model": model, "dataset": dataset}[u] is not None for u in self.uses)

    def explain(self, option: str, model: Any, dataset: Any) -> str:
        """Where ``option`` comes from, and which of the model / dataset given lacks it."""
        lacking = []
        if "model" in self.uses and model is not None:
            lacking.append(type(model).__name__)
        if "dataset" in self.uses and dataset is not None:
            lacking.append(f"dataset {getattr(dataset, 'name', type(dataset).__name__)!r}")
        return f"{self.what} for {option}" + (f" ({' / '.join(lacking)} gives none)" if lacking else "")

    def value(self, model: Any, dataset: Any) -> Any:
        """The sourced value, or None (unknown context, or nothing to give)."""
        return self.get(model, dataset) if self.known(model, dataset) else None


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its function (wrapped) and what the suite must give it.

    ``bounds`` maps a score key of the function's result (``"num_active_dims"``) to its (low,
    high) range; ``bound`` is the range of every other score. ``permutation_invariant``: True
    when every score is unchanged by reordering the latents, or the score keys for which that
    holds (the suite's flat keys are ``name.key``).
    ``applies``: whether the metric makes sense on a dataset (``"all"`` skips it otherwise).
    ``example_options``: ``(num_latents, num_factors) -> options`` for a metric with required
    options (used by the contract tests and the docs).
    ``option_sources``: option name -> :class:`OptionSource`, where the suite takes an option
    not given from the model or dataset.
    ``example_model``: ``dataset -> model`` for a metric that needs a particular kind of model (the
    contract tests score it instead of their toy encoder). ``encodes``: False for a metric that
    never encodes images (it scores the model's own samples), so codes cannot reach it.
    """

    name: str
    fn: Callable[..., dict[str, float]]
    needs: tuple[str, ...]
    help: str
    num_train: int | None = None
    num_test: int | None = None
    bound: tuple[float, float] = (0.0, 1.0)
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    permutation_invariant: bool | tuple[str, ...] = False
    applies: Callable[[Any], bool] | None = None
    example_options: Callable[[int, int], dict[str, Any]] | None = None
    option_sources: Mapping[str, OptionSource] = field(default_factory=dict)
    example_model: Callable[[Any], Any] | None = None
    encodes: bool = True

    @property
    def sampling(self) -> bool:
        """Whether the metric samples from the dataset itself (``fn(dataset, table, rng)``)."""
        return "sampling" in self.needs

    @property
    def factor_kind(self) -> str | None:
        """``"factor_classes"``, ``"factor_values"`` or None (codes only / sampling)."""
        return next((n for n in ("factor_classes", "factor_values") if n in self.needs), None)

    @property
    def num_data_args(self) -> int:
        """How many positional data arguments the function takes."""
        if self.sampling:
            return 3
        return (1 + (self.factor_kind is not None)) * (2 if "test_split" in self.needs else 1)

    @property
    def injected(self) -> dict[str, str]:
        """Keyword name -> model need (``decode`` -> ``decoder``, ``prior`` -> ``model.prior``)."""
        out = {}
        for n in self.needs:
            if n == "decoder":
                out["decode"] = n
            elif n == "model":
                out["model"] = n
            elif n.startswith("model."):
                out[n[len("model."):]] = n
        return out

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The function's option parameters (after the data arguments, without injected ones)."""
        params = list(inspect.signature(self.fn).parameters.values())[self.num_data_args:]
        return {p.name: p for p in params if p.name not in self.injected
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def option_names(self) -> list[str]:
        """Every option the suite accepts for this metric."""
        sizes = [] if self.sampling else ["num_train"] + (["num_test"] if "test_split" in self.needs else [])
        return sizes + list(self.parameters())

    def required_options(self) -> list[str]:
        """Options without a default (the suite cannot run the metric without them)."""
        return [n for n, p in self.parameters().items() if p.default is inspect.Parameter.empty]

    def default_options(self) -> dict[str, Any]:
        """Default value of every option that has one (sample sizes included)."""
        out: dict[str, Any] = {}
        if not self.sampling:
            out["num_train"] = self.num_train
            if "test_split" in self.needs:
                out["num_test"] = self.num_test
        out.update({n: p.default for n, p in self.parameters().items() if p.default is not inspect.Parameter.empty})
        return out

    def sourced_options(self, model: Any = None, dataset: Any = None) -> dict[str, Any]:
        """The options this model and dataset give through :attr:`option_sources` (None: unknown)."""
        out = {}
        for n, src in self.option_sources.items():
            v = src.value(model, dataset)
            if v is not None:
                out[n] = v
        return out

    def missing_options(self, given: Mapping[str, Any], model: Any = None, dataset: Any = None,
                        defer: bool = False) -> list[str]:
        """Required options neither given nor sourced from ``model`` / ``dataset``.

        ``defer``: leave out options whose source cannot be consulted yet (model or dataset
        unknown), for a check before the run is loaded.
        """
        sourced = self.sourced_options(model, dataset)
        out = []
        for o in self.required_options():
            if o in given or o in sourced:
                continue
            src = self.option_sources.get(o)
            if defer and src is not None and not src.known(model, dataset):
                continue
            out.append(o)
        return out

    def bound_of(self, key: str) -> tuple[float, float]:
        """The declared (low, high) range of a flat result key."""
        return self.bounds.get(key, self.bound)

    def check_options(self, options: Mapping[str, Any], suite: bool = True) -> None:
        """Raise :class:`MetricOptionError` for an option this metric does not take.

        ``suite``: options of :func:`~untwine.metrics.evaluate` (sample sizes included), else the
        function's own keyword arguments.
        """
        valid = self.option_names() if suite else list(self.parameters())
        for key in options:
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise MetricOptionError(f"metric {self.name!r} has no option {key!r}; valid options: "
                                        f"{', '.join(valid) or '(none)'}.{hint}")


_SPECS: dict[str, MetricSpec] = {}


def _check_needs(name: str, needs: tuple[str, ...]) -> None:
    for n in needs:
        if n not in DATA_NEEDS + MODEL_NEEDS and not (n.startswith("model.") and n[len("model."):].isidentifier()):
            raise ValueError(f"metric {name!r}: unknown need {n!r}; needs are {', '.join(DATA_NEEDS + MODEL_NEEDS)} "
                             "or 'model.NAME'")
    if ("codes" in needs) == ("sampling" in needs):
        raise ValueError(f"metric {name!r} needs either 'codes' (the suite samples) or 'sampling' (it samples)")
    if "factor_classes" in needs and "factor_values" in needs:
        raise ValueError(f"metric {name!r}: needs 'factor_classes' or 'factor_values', not both")
    if "test_split" in needs and "codes" not in needs:
        raise ValueError(f"metric {name!r}: 'test_split' goes with 'codes'")


def _validate_data(spec: MetricSpec, args: tuple) -> tuple:
    """Checked copies of the positional data arguments of an array metric (others unchanged)."""
    n_data = spec.num_data_args
    args = list(args)
    kind = spec.factor_kind
    split = "test_split" in spec.needs
    labels = list(inspect.signature(spec.fn).parameters)[:n_data]  # the function's own names, for the messages
    codes_dims = None
    for i, label in enumerate(labels[: min(n_data, len(args))]):
        value = args[i]
        if value is None:  # an optional test split left out (e.g. SAP with continuous factors)
            continue
        if i % (2 if kind else 1) == 0:  # codes (train or test)
            z = check_codes(value, label)
            if codes_dims is not None and z.shape[1] != codes_dims:
                raise MetricOptionError(f"{spec.name}: {labels[0]} and {label} have different numbers of latents: "
                                        f"{codes_dims} vs {z.shape[1]}")
            codes_dims = z.shape[1] if codes_dims is None else codes_dims
            args[i] = z
        else:
            n = np.asarray(args[i - 1]).shape[0]
            if kind == "factor_classes":
                args[i] = check_factors(value, n, label)
            else:
                v = np.asarray(value, dtype=np.float64)
                v = v[:, None] if v.ndim == 1 else v
                if v.ndim != 2 or v.shape[0] != n:
                    raise MetricOptionError(f"{spec.name}: {labels[i - 1]} and {label} have different numbers of "
                                            f"samples: {n} vs {v.shape[0] if v.ndim else 0}")
                if not np.isfinite(v).all():
                    raise MetricOptionError(f"{spec.name}: {label} contain NaN or infinite values")
                args[i] = v
    if split and kind and len(args) >= 4 and args[1] is not None and args[3] is not None:
        if np.asarray(args[1]).shape[1] != np.asarray(args[3]).shape[1]:
            raise MetricOptionError(f"{spec.name}: {labels[1]} and {labels[3]} have different numbers of factors: "
                                    f"{np.asarray(args[1]).shape[1]} vs {np.asarray(args[3]).shape[1]}")
    return tuple(args)


def register_metric(name: str, *, needs: Iterable[str], help: str, num_train: int | None = None,
                    num_test: int | None = None, bound: tuple[float, float] = (0.0, 1.0),
                    bounds: Mapping[str, tuple[float, float]] | None = None,
                    permutation_invariant: bool | Iterable[str] = False,
                    applies: Callable[[Any], bool] | None = None,
                    example_options: Callable[[int, int], dict[str, Any]] | None = None,
                    example_model: Callable[[Any], Any] | None = None, encodes: bool = True,
                    option_sources: Mapping[str, OptionSource] | None = None,
                    ) -> Callable[[Callable[..., dict[str, float]]], Callable[..., dict[str, float]]]:
    """Decorator: register a metric function under ``name`` (see the module docstring).

    ``num_train`` (default 10,000) and ``num_test`` (default 5,000, with ``"test_split"``) are the
    suite's sample sizes for array metrics; sampling metrics declare them as parameters instead.
    ``help`` is the one-line description ``untwine list`` shows. Returns the wrapped function.
    """
    needs = tuple(needs)
    _check_needs(name, needs)
    if "sampling" in needs and (num_train is not None or num_test is not None):
        raise ValueError(f"metric {name!r} samples itself: give num_train/num_test as its parameters")
    if "codes" in needs:
        num_train = 10000 if num_train is None else int(num_train)
        num_test = (5000 if num_test is None else int(num_test)) if "test_split" in needs else None
    if not help or "\n" in help:
        raise ValueError(f"metric {name!r} needs a one-line help")
    invariant = permutation_invariant if isinstance(permutation_invariant, bool) else tuple(permutation_invariant)

    def decorate(fn: Callable[..., dict[str, float]]) -> Callable[..., dict[str, float]]:
        if name in _SPECS:
            raise ValueError(f"metric {name!r} registered twice")

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            spec.check_options({k: v for k, v in kwargs.items() if k not in spec.injected}, suite=False)
            if not spec.sampling:
                args = _validate_data(spec, args)
            return fn(*args, **kwargs)

        spec = MetricSpec(name, checked, needs, help, num_train, num_test, tuple(bound), dict(bounds or {}),
                          invariant, applies, example_options, dict(option_sources or {}), example_model,
                          bool(encodes))
        params = inspect.signature(fn).parameters
        missing = [k for k in spec.injected if k not in params]
        if missing:
            raise ValueError(f"metric {name!r} needs {', '.join(spec.injected[k] for k in missing)} but its function "
                             f"has no parameter {', '.join(missing)}")
        unsourced = [k for k in spec.option_sources if k not in spec.parameters()]
        if unsourced:
            raise ValueError(f"metric {name!r}: option_sources for {', '.join(unsourced)}, which are not options of "
                             "its function")
        if len(params) < spec.num_data_args:
            raise ValueError(f"metric {name!r}: its function takes fewer than the {spec.num_data_args} data arguments "
                             f"its needs {needs} imply")
        _SPECS[name] = spec
        return checked

    return decorate


def get_metric(name: str) -> MetricSpec:
    """The registration of ``name``; an unknown name gives an error listing the available ones."""
    if name not in _SPECS:
        close = difflib.get_close_matches(str(name), list(_SPECS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise MetricOptionError(f"unknown metric {name!r}; available: {', '.join(_SPECS)} (or 'all').{hint}")
    return _SPECS[name]


def available_metrics() -> list[str]:
    """Names accepted by :func:`~untwine.metrics.evaluate` (in suite order)."""
    return list(_SPECS)


def describe_metrics() -> list[tuple[str, str]]:
    """(name, one-line help) of every registered metric, for ``untwine list``."""
    return [(s.name, s.help) for s in _SPECS.values()]


def model_provides(model: Any, need: str) -> bool:
    """Whether ``model`` can give a metric the model need ``need``."""
    if need == "decoder":
        return callable(getattr(model, "decode", None))
    if need == "model":
        return model is not None
    return model is not None and hasattr(model, need[len("model."):])


def select_metrics(metrics: str | Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                   dataset: Any = None, model: Any = None) -> list[str]:
    """The metric names a request means, checked.

    ``metrics``: names, a comma-separated string, or ``"all"``: every metric whose required
    options are given or sourced from ``model`` / ``dataset`` (``option_sources``), that applies to ``dataset`` (when given) and whose model needs ``model``
    meets (when given). An empty request, an unknown name or an option for a metric that is not
    registered is an error; so is a named metric whose required option is neither given nor
    sourced (a sourced option whose model or dataset is not given yet is left to the later call
    that has them).
    """
    options = options or {}
    for n, given in options.items():  # options of unknown metrics, misspelt options: errors, also for "all"
        get_metric(n).check_options(given)
    if isinstance(metrics, str):
        if metrics.strip() == "all":
            out = []
            for n, s in _SPECS.items():
                if s.missing_options(options.get(n, {}), model, dataset):
                    continue
                if dataset is not None and s.applies is not None and not s.applies(dataset):
                    continue
                if model is not None and not all(model_provides(model, need) for need in s.injected.values()):
                    continue
                out.append(n)
            return out
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = list(dict.fromkeys(metrics))
    if not names:
        raise MetricOptionError(f"no metric given; choose from {', '.join(_SPECS)} (or 'all')")
    for n in names:
        spec = get_metric(n)
        missing = spec.missing_options(options.get(n, {}), model, dataset, defer=True)
        if missing:
            hints = [spec.option_sources[o].explain(o, model, dataset) for o in missing if o in spec.option_sources]
            raise MetricOptionError(f"metric {n!r} needs option(s) {', '.join(missing)}: pass "
                                    f"options={{{n!r}: {{{', '.join(repr(m) + ': ...' for m in missing)}}}}}"
                                    + (f", or evaluate {'; '.join(hints)}" if hints else ""))
    return names


def resolve_options(metrics: str | Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                    dataset: Any = None, model: Any = None) -> dict[str, dict[str, Any]]:
    """Metric name -> every option it runs with (its defaults overlaid with ``options``).

    What :func:`~untwine.metrics.evaluate` uses and a run's metrics.json records; misspelt options
    give a :class:`MetricOptionError` listing the valid ones. See :func:`select_metrics` for
    ``metrics``, ``dataset`` and ``model``; options not given but sourced
    (``option_sources``) are taken from the model and dataset.
    """
    options = options or {}
    out = {}
    for name in select_metrics(metrics, options, dataset, model):
        spec = _SPECS[name]
        given = dict(options.get(name, {}))
        out[name] = {**spec.default_options(), **spec.sourced_options(model, dataset), **given}
    return out

