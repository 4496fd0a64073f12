"""Name -> dataset registry: ``get_dataset("dsprites", **options)``."""

from __future__ import annotations

import difflib
import inspect
from typing import Callable

from .base import GroundTruthDataset

_DATASETS: dict[str, Callable[..., GroundTruthDataset]] = {}


def register_dataset(name: str):
    """Class/function decorator that makes a dataset available to :func:`get_dataset`."""

    def wrap(factory):
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} registered twice")
        _DATASETS[name] = factory
        return factory

    return wrap


def available_datasets() -> list[str]:
    """Names accepted by :func:`get_dataset`."""
    return sorted(_DATASETS)


def get_dataset(name: str, **options) -> GroundTruthDataset:
    """Build a registered dataset by name; unknown names or options give a clear ``ValueError``.

    Besides its own options, every dataset takes ``groups`` (a preset such as ``"seed003"`` or
    the groups written out): its ``factor_groups``, see :mod:`untwine.data.groups`; and ``augment``
    (seed 000's corrupted copies and a split keeping them together, :mod:`untwine.data.augment`);
    and ``correlate`` (seed 004: a training part with two correlated factors, or independent ones,
    and a uniform held-out test part; :func:`untwine.data.weak.correlate_dataset`).
    """
    key = name.lower().replace("-", "_")
    if key not in _DATASETS:
        close = difflib.get_close_matches(key, _DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available_datasets())}.{hint}")
    factory = _DATASETS[key]
    groups = options.pop("groups", None)  # every dataset takes it (untwine.data.groups)
    augment = options.pop("augment", None)  # and this (untwine.data.augment: seed 000's corrupted copies)
    correlate = options.pop("correlate", None)  # and this (untwine.data.weak.correlated: seed 004's splits)
    check_options(factory, options, f"dataset {name!r}")
    dataset = factory(**options)
    if groups is not None:
        from .groups import resolve_factor_groups

        dataset.factor_groups = resolve_factor_groups(dataset, groups)
    if augment is not None:
        from .augment import augment_dataset

        dataset = augment_dataset(dataset, augment)
    if correlate is not None and correlate is not False:
        from .weak.correlated import correlate_dataset

        dataset = correlate_dataset(dataset, correlate)
    return dataset


def check_dataset_options(name: str, options: dict) -> None:
    """Raise a ValueError for an unknown dataset or an option it does not take (nothing is built)."""
    key = name.lower().replace("-", "_")
    if key not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available_datasets())}")
    check_options(_DATASETS[key], {k: v for k, v in options.items() if k not in ("groups", "augment", "correlate")},
                  f"dataset {name!r}")


def check_options(fn: Callable, options: dict, what: str, positional: tuple[str, ...] = ("self",)) -> None:
    """Raise a ValueError naming the valid options when ``options`` has keys ``fn`` does not accept."""
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(
            f"{what} takes no option(s) {', '.join(unknown)}; "
            f"its options are: {', '.join(p for p in params if p not in positional) or 'none'}"
        )
