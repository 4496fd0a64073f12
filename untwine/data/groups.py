"""Factor groups of a dataset (seed 003): a partition of its factors, e.g. content c and style \\c.

A dataset gets its groups from the dataset option ``groups`` (``get_dataset("dsprites",
groups="seed003")``, ``--dataset-option groups=seed003``): a preset name, or the groups written
out, ``"shape,scale;orientation,posX,posY"`` or ``[["shape", "scale"], [...]]``. Every factor
with more than one class must be in exactly one group (a constant factor, dSprites' colour, may
be left out); there are at least two groups. The result is ``dataset.factor_groups``, a tuple of
tuples of factor names, in the order given; methods that split their code by group
(``latent_groups``) number their blocks in this order, and group-MIG pairs them up.
"""

from __future__ import annotations

from typing import Any, Sequence

#: decisions.md, seed 003: the content group c and its complement, per dataset.
GROUP_PRESETS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "seed003": {
        "shapes3d": (("object_hue", "scale", "shape"), ("floor_hue", "wall_hue", "orientation")),
        "dsprites": (("shape", "scale"), ("orientation", "posX", "posY")),
    },
}


def _parse(spec: Any) -> list[list[str]]:
    if isinstance(spec, str):
        groups = [[f.strip() for f in part.split(",") if f.strip()] for part in spec.split(";")]
    elif isinstance(spec, Sequence) and all(isinstance(g, Sequence) and not isinstance(g, str) for g in spec):
        groups = [[str(f) for f in g] for g in spec]
    else:
        raise ValueError(f"groups must be a preset name ({', '.join(GROUP_PRESETS)}), 'a,b;c,d' or a list of "
                         f"lists of factor names, got {spec!r}")
    return groups


def resolve_factor_groups(dataset: Any, spec: Any) -> tuple[tuple[str, ...], ...]:
    """The checked factor groups of ``dataset`` for the option value ``spec``."""
    name = getattr(dataset, "name", "dataset")
    if isinstance(spec, str) and spec in GROUP_PRESETS:
        preset = GROUP_PRESETS[spec]
        if name not in preset:
            raise ValueError(f"groups preset {spec!r} has no groups for dataset {name!r} (it has them for "
                             f"{', '.join(preset)}); write the groups out, e.g. groups='a,b;c,d'")
        groups = [list(g) for g in preset[name]]
    elif isinstance(spec, str) and "," not in spec and ";" not in spec:
        raise ValueError(f"unknown groups preset {spec!r}; presets: {', '.join(GROUP_PRESETS)}, or write the groups "
                         "out, e.g. groups='shape,scale;orientation,posX,posY'")
    else:
        groups = _parse(spec)
    names = list(dataset.factor_names)
    sizes = dict(zip(names, dataset.factor_sizes))
    if len(groups) < 2 or any(not g for g in groups):
        raise ValueError(f"groups must be at least two non-empty groups of factors of {name!r} "
                         f"({', '.join(names)}), got {spec!r}")
    seen: dict[str, int] = {}
    for i, g in enumerate(groups):
        for f in g:
            if f not in sizes:
                raise ValueError(f"groups name the unknown factor {f!r}; the factors of {name!r} are {', '.join(names)}")
            if f in seen:
                raise ValueError(f"factor {f!r} is in two groups ({seen[f] + 1} and {i + 1}); each factor belongs to one")
            seen[f] = i
    missing = [f for f in names if f not in seen and sizes[f] > 1]
    if missing:
        raise ValueError(f"factor(s) {', '.join(missing)} of {name!r} are in no group; put each in one of the groups")
    return tuple(tuple(g) for g in groups)


def factor_group_index(dataset: Any) -> list[int]:
    """The group number of each factor of ``dataset`` (-1 for a constant factor left out)."""
    where = {f: i for i, g in enumerate(getattr(dataset, "factor_groups", ())) for f in g}
    return [where.get(f, -1) for f in dataset.factor_names]
