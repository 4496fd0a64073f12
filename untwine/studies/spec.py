"""Study files: the YAML schema, its validation, profiles, and the expansion into trials.

A study is one YAML file (schema in ``docs/studies.md``)::

    name: seed002_dip_tradeoff            # default: the file's stem
    datasets: [dsprites]                   # names, or {name: ..., options: {...}, label: ...}
    seeds: [0]
    train: {steps: 1000, batch_size: 32, precision: fp32}   # TrainConfig fields
    hparams: {latent_dim: 10}              # given to every method that has them
    methods:
      - method: beta_vae
        grid: {beta: [1.0, 16.0]}          # the Cartesian product of the lists
      - method: dip_vae_i
        hparams: {lambda_d_factor: 10.0}
        grid: {lambda_od: [10.0, 50.0]}
    evaluation:
      seed: 0
      metrics: {sap: {num_train: 2000}, sap_threshold: {metric: sap, classifier: threshold}}
    profiles:                              # overlays chosen with --profile
      paper: {train: {steps: 300000, batch_size: 400}, seeds: [0, 1, 2, 3, 4]}

:func:`load_study` reads, overlays the profile and validates everything (methods, datasets,
metrics and every hyperparameter of every grid point) before anything runs; a problem is one
:class:`StudyError` naming the file, the key and the fix. :meth:`Study.trials` is the
deterministic list of :class:`Trial`, each with an id derived from its training configuration.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..records import ConfigError, did_you_mean

TOP_KEYS = ("name", "description", "out", "datasets", "dataset", "seeds", "train", "hparams", "methods",
            "evaluation", "analysis", "profiles", "default_profile", "report", "order")
ORDERS = ("file", "seeds_first")
METHOD_KEYS = ("method", "label", "hparams", "grid", "points", "train", "datasets")
DATASET_KEYS = ("name", "options", "label")
EVALUATION_KEYS = ("seed", "metrics")
ANALYSIS_KEYS = ("file", "score", "summary")
REPORT_KEYS = ("rank_by", "reconstruction")
# TrainConfig fields a study sets per trial itself (not under `train:`)
_TRIAL_FIELDS = ("method", "dataset", "hparams", "dataset_options", "seed")
# fields that do not change a run's numbers: left out of the trial id
_ID_EXCLUDED = ("log_every", "checkpoint_every")
STUDY_TRAIN_DEFAULTS = {"threads": 1}  # one torch thread per trial: parallel workers use the cores


class StudyError(ConfigError):
    """A study file is invalid; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Trial:
    """One training run of a study, with its evaluation.

    ``id``: ``LABEL-HASH`` where HASH is the first 10 hex digits of the SHA-1 of the training
    configuration (canonical JSON of the validated :class:`~untwine.train.TrainConfig`, the
    method's full hyperparameter record included, ``log_every``/``checkpoint_every`` left out):
    the same configuration always gets the same id, in any study or profile.
    """

    id: str
    position: int
    label: str
    method: str
    dataset: str
    seed: int
    swept: dict[str, Any]
    config: dict[str, Any]  # TrainConfig.to_dict() (requested, precision unresolved)

    def train_config(self):
        from ..train import TrainConfig

        return TrainConfig.from_dict(self.config)


@dataclass
class Study:
    """A validated study file (a profile applied)."""

    path: Path
    name: str
    profile: str | None
    description: str
    out: Path
    spec: dict[str, Any]
    metrics: dict[str, dict[str, Any]]  # label -> {metric: name, **options}
    evaluation_seed: int
    analysis: dict[str, Any] | None
    report: dict[str, Any]
    _trials: list[Trial] = field(default_factory=list, repr=False)

    @property
    def directory(self) -> Path:
        """Where the store and the runs go: ``out/PROFILE`` (``out/base`` without a profile)."""
        return self.out / (self.profile or "base")

    @property
    def store_path(self) -> Path:
        return self.directory / "study.sqlite"

    @property
    def runs_dir(self) -> Path:
        return self.directory / "runs"

    def trials(self) -> list[Trial]:
        """The trials, in the file's order (datasets, then methods, then grid points, then seeds), or
        with ``order: seeds_first`` every configuration at the first seed, then at the next, ..."""
        return list(self._trials)

    def evaluation_key(self) -> str:
        """A hash of the evaluation (metrics, options, seed, analysis): a trial scored with another is redone."""
        blob = json.dumps({"metrics": self.metrics, "seed": self.evaluation_seed,
                           "analysis": [Path(self.analysis["file"]).name, self.analysis["score"]]
                           if self.analysis and self.analysis.get("score") else None},
                          sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


# ---- reading ------------------------------------------------------------------------------------
def _err(path: Path, key: str, problem: str, fix: str) -> StudyError:
    return StudyError(f"study file {path}: {key}: {problem}; {fix}")


def _check_keys(path: Path, where: str, values: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise _err(path, where or "(top level)", f"must be a mapping, got {type(values).__name__} {values!r}",
                   "write KEY: VALUE pairs")
    for k in values:
        if k not in allowed:
            close = did_you_mean(str(k), list(allowed))
            raise _err(path, f"{where + '.' if where else ''}{k}", "unknown key" + (f" (did you mean {close!r}?)" if close else ""),
                       f"use one of: {', '.join(allowed)}")
    return dict(values)


def _overlay(base: Any, over: Any) -> Any:
    """Deep merge of mappings (a profile over the study); anything else is replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = _overlay(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def read_study_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a study file; a missing file or bad YAML is a :class:`StudyError`."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file {path} does not exist; pass the path of a study YAML file "
                         "(examples: experiments/seed002_dip_tradeoff/study.yaml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise StudyError(f"study file {path} is not valid YAML ({str(e).replace(chr(10), ' ')}); fix the file") from None
    if not isinstance(raw, dict):
        raise StudyError(f"study file {path} must hold a mapping of study keys, got {type(raw).__name__}")
    return raw


def load_study(path: str | Path, profile: str | None = None, out: str | Path | None = None) -> Study:
    """Read and validate a study file with ``profile`` applied (None: the file's ``default_profile``).

    ``out`` overrides the study directory (default: the file's ``out`` key, relative to the file,
    else ``<file stem>.study`` next to it). Every trial is expanded and validated here.
    """
    path = Path(path)
    raw = _check_keys(path, "", read_study_file(path), TOP_KEYS)
    profiles = raw.pop("profiles", None) or {}
    if not isinstance(profiles, Mapping):
        raise _err(path, "profiles", "must map profile names to overlays", "write profiles: {cpu: {...}, paper: {...}}")
    default_profile = raw.pop("default_profile", None)
    if default_profile is not None and default_profile not in profiles:
        raise _err(path, "default_profile", f"{default_profile!r} is not a profile",
                   f"name one of: {', '.join(map(str, profiles)) or '(none defined)'}")
    profile = default_profile if profile is None else profile
    spec = raw
    if profile is not None:
        if profile not in profiles:
            close = did_you_mean(str(profile), [str(p) for p in profiles])
            raise StudyError(f"study file {path}: no profile {profile!r}" + (f" (did you mean {close!r}?)" if close else "")
                             + f"; profiles: {', '.join(map(str, profiles)) or '(none)'}")
        over = _check_keys(path, f"profiles.{profile}", profiles[profile], tuple(k for k in TOP_KEYS if k not in
                                                                                  ("profiles", "default_profile")))
        spec = _overlay(raw, over)
    name = str(spec.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise _err(path, "name", f"{name!r} has characters other than letters, digits, '_', '.', '-'", "rename it")
    if out is not None:
        out_dir = Path(out)
    elif spec.get("out"):
        out_dir = (path.parent / str(spec["out"])).resolve()
    else:
        out_dir = path.parent.resolve() / f"{path.stem}.study"
    metrics, eval_seed = _evaluation(path, spec.get("evaluation"))
    analysis = _analysis(path, spec.get("analysis"))
    report = _check_keys(path, "report", spec.get("report"), REPORT_KEYS)
    for key in ("rank_by", "reconstruction"):
        if key in report and not isinstance(report[key], str):
            raise _err(path, f"report.{key}", "must be a result column name", "e.g. rank_by: dci.disentanglement")
    study = Study(path=path, name=name, profile=profile, description=str(spec.get("description") or ""),
                  out=out_dir, spec=spec, metrics=metrics, evaluation_seed=eval_seed, analysis=analysis, report=report)
    study._trials = _expand(path, spec)
    order = spec.get("order", "file")
    if order not in ORDERS:
        raise _err(path, "order", f"{order!r} is not an order", "write order: file (the file's order) or order: "
                   "seeds_first (every configuration at the first seed, then at the next, ...)")
    if order == "seeds_first":  # a study stopped early then covers every configuration at its first seeds
        seeds = [t.seed for t in study._trials]
        rank = {s: i for i, s in enumerate(dict.fromkeys(seeds))}
        study._trials.sort(key=lambda t: rank[t.seed])
    return study


# ---- sections -------------------------------------------------------------------------------------
def _evaluation(path: Path, section: Any) -> tuple[dict[str, dict[str, Any]], int]:
    from .. import metrics as M

    ev = _check_keys(path, "evaluation", section, EVALUATION_KEYS)
    seed = ev.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise _err(path, "evaluation.seed", f"must be an integer >= 0, got {seed!r}", "e.g. seed: 0")
    given = ev.get("metrics", {})
    if isinstance(given, str):
        given = [m.strip() for m in given.split(",") if m.strip()]
    if isinstance(given, list):
        given = {str(m): {} for m in given}
    if not isinstance(given, Mapping):
        raise _err(path, "evaluation.metrics", "must be a list of metric names or a mapping LABEL: {metric: NAME, "
                   "OPTION: VALUE}", "e.g. metrics: [mig, dci]")
    out: dict[str, dict[str, Any]] = {}
    for label, opts in given.items():
        opts = dict(opts or {})
        if not isinstance(opts, dict):
            raise _err(path, f"evaluation.metrics.{label}", "must be a mapping of options", "e.g. {num_train: 2000}")
        name = str(opts.pop("metric", label))
        try:
            M.resolve_options([name], {name: opts})
        except ValueError as e:
            raise _err(path, f"evaluation.metrics.{label}", str(e), "fix the metric name or option") from None
        out[str(label)] = {"metric": name, **opts}
    return out, int(seed)


def _analysis(path: Path, section: Any) -> dict[str, Any] | None:
    if section is None:
        return None
    an = _check_keys(path, "analysis", section, ANALYSIS_KEYS)
    if "file" not in an:
        raise _err(path, "analysis", "has no file", "write analysis: {file: analysis.py, score: FUNCTION}")
    file = (path.parent / str(an["file"])).resolve()
    if not file.is_file():
        raise _err(path, "analysis.file", f"{file} does not exist", "give a Python file relative to the study file")
    an["file"] = str(file)
    from .analysis import load_function

    for key in ("score", "summary"):
        if key in an:
            try:
                load_function(file, str(an[key]))
            except (ImportError, AttributeError, SyntaxError) as e:
                raise _err(path, f"analysis.{key}", str(e), f"define {an[key]}() in {file.name}") from None
    return an


def _as_list(path: Path, key: str, value: Any, what: str) -> list[Any]:
    if value is None:
        raise _err(path, key, "is missing", f"give {what}")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _err(path, key, "is an empty list", f"give {what}")
    return values


def _datasets(path: Path, key: str, spec_value: Any) -> list[tuple[str, str, dict[str, Any]]]:
    from ..data import available_datasets
    from ..data.registry import check_dataset_options

    out = []
    for i, d in enumerate(_as_list(path, key, spec_value, "at least one dataset name (see `untwine list`)")):
        where = f"{key}[{i}]"
        d = {"name": d} if isinstance(d, str) else _check_keys(path, where, d, DATASET_KEYS)
        name = str(d.get("name", ""))
        if name not in available_datasets():
            close = did_you_mean(name, available_datasets())
            raise _err(path, f"{where}.name", f"unknown dataset {name!r}" + (f" (did you mean {close!r}?)" if close else ""),
                       f"use one of: {', '.join(available_datasets())}")
        options = d.get("options") or {}
        if not isinstance(options, Mapping):
            raise _err(path, f"{where}.options", "must be a mapping", "e.g. options: {groups: seed003}")
        try:
            check_dataset_options(name, dict(options))
        except ValueError as e:
            raise _err(path, f"{where}.options", str(e), "fix the option name") from None
        out.append((str(d.get("label") or name), name, dict(options)))
    labels = [d[0] for d in out]
    if len(set(labels)) != len(labels):
        raise _err(path, key, f"datasets {labels} repeat a label", "give each entry its own label:")
    return out


def _grid_points(path: Path, where: str, m: dict[str, Any]) -> list[dict[str, Any]]:
    points = []
    grid = m.get("grid")
    if grid is not None:
        if not isinstance(grid, Mapping) or not grid:
            raise _err(path, f"{where}.grid", "must be a non-empty mapping NAME: [VALUES]", "e.g. grid: {beta: [1, 4, 16]}")
        names, lists = [], []
        for k, v in grid.items():
            vals = v if isinstance(v, list) else [v]
            if not vals:
                raise _err(path, f"{where}.grid.{k}", "is an empty list", "give at least one value")
            names.append(str(k))
            lists.append(vals)
        points += [dict(zip(names, combo)) for combo in itertools.product(*lists)]
    explicit = m.get("points")
    if explicit is not None:
        if not isinstance(explicit, list) or not explicit or not all(isinstance(p, Mapping) for p in explicit):
            raise _err(path, f"{where}.points", "must be a non-empty list of mappings NAME: VALUE",
                       "e.g. points: [{beta: 1}, {beta: 4, lr: 0.0005}]")
        points += [dict(p) for p in explicit]
    return points or [{}]


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _expand(path: Path, spec: dict[str, Any]) -> list[Trial]:
    from ..methods import get_method_class
    from ..train import TrainConfig

    seeds = _as_list(path, "seeds", spec.get("seeds", [0]), "a list of seeds, e.g. seeds: [0, 1, 2]")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**32:
            raise _err(path, "seeds", f"{s!r} is not an integer in [0, 2^32)", "e.g. seeds: [0, 1, 2]")
    if len(set(seeds)) != len(seeds):
        raise _err(path, "seeds", f"{seeds} repeats a seed", "list each seed once")
    base_train = _train_section(path, "train", spec.get("train"))
    common_hp = spec.get("hparams") or {}
    if not isinstance(common_hp, Mapping):
        raise _err(path, "hparams", "must be a mapping NAME: VALUE", "e.g. hparams: {latent_dim: 10}")
    ds_default = spec.get("datasets", spec.get("dataset"))
    if "datasets" in spec and "dataset" in spec:
        raise _err(path, "dataset", "is given with datasets", "use one of the two keys")
    methods = spec.get("methods")
    if not isinstance(methods, list) or not methods:
        raise _err(path, "methods", "must be a non-empty list", "e.g. methods: [{method: beta_vae, grid: {beta: [1, 4]}}]")
    trials: list[Trial] = []
    seen: dict[str, str] = {}
    for i, m in enumerate(methods):
        where = f"methods[{i}]"
        m = {"method": m} if isinstance(m, str) else _check_keys(path, where, m, METHOD_KEYS)
        try:
            cls = get_method_class(str(m.get("method", "")))
        except ConfigError as e:
            raise _err(path, f"{where}.method", str(e), "see `untwine list` for the method names") from None
        label = str(m.get("label") or cls.name)
        own_hp = m.get("hparams") or {}
        if not isinstance(own_hp, Mapping):
            raise _err(path, f"{where}.hparams", "must be a mapping NAME: VALUE", "e.g. hparams: {beta: 4}")
        hp_names = cls.Hyperparameters.field_names()
        # study-wide hparams apply where the method has them; a method's own must all be its own
        shared = {k: v for k, v in common_hp.items() if k in hp_names}
        train = {**base_train, **_train_section(path, f"{where}.train", m.get("train"))}
        datasets = _datasets(path, f"{where}.datasets" if "datasets" in m else "datasets",
                             m.get("datasets", ds_default))
        points = _grid_points(path, where, m)
        for ds_label, ds_name, ds_options in datasets:
            for point in points:
                for seed in seeds:
                    hparams = {**shared, **own_hp, **point}
                    values = {**train, "method": cls.name, "dataset": ds_name, "dataset_options": ds_options,
                              "hparams": hparams, "seed": seed}
                    try:
                        config = TrainConfig.from_dict(values)
                    except ConfigError as e:
                        at = ", ".join(f"{k}={_fmt_value(v)}" for k, v in point.items())
                        raise _err(path, where + (f".grid point {at}" if at else ""), str(e),
                                   "fix the value in the study file (every grid point is checked before any trial "
                                   "runs)") from None
                    cfg = config.to_dict()
                    tag = " ".join([label] + [f"{k}={_fmt_value(v)}" for k, v in point.items()])
                    if len(datasets) > 1 or "datasets" in m:
                        tag += f" [{ds_label}]"
                    digest = hashlib.sha1(json.dumps({k: v for k, v in cfg.items() if k not in _ID_EXCLUDED},
                                                     sort_keys=True).encode()).hexdigest()[:10]
                    trial_id = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}-{digest}"
                    if digest in seen:
                        raise _err(path, where, f"trial {tag!r} (seed {seed}) trains the same configuration as "
                                   f"{seen[digest]!r}", "remove the duplicate grid point or method entry")
                    seen[digest] = tag
                    trials.append(Trial(trial_id, len(trials), tag, cls.name, ds_label, int(seed),
                                        {k: point[k] for k in point}, cfg))
    return trials


def _train_section(path: Path, key: str, section: Any) -> dict[str, Any]:
    from ..train import TrainConfig

    allowed = tuple(n for n in TrainConfig.field_names() if n not in _TRIAL_FIELDS)
    values = _check_keys(path, key, section, allowed)
    return {**STUDY_TRAIN_DEFAULTS, **values} if key == "train" else values
