"""Configuration records: dataclasses whose fields carry a default, a one-line help, bounds and choices.

One kind of record serves every setting a user can give (a run's :class:`~untwine.train.TrainConfig`,
each method's hyperparameters): the same declaration validates a value from Python, a config file
or a command-line flag, writes the config.yaml entry and generates the ``--help`` line. Fields are
made with :func:`hp`; validation follows the type hints::

    int, float, bool, str            (an int is accepted for a float and converted; bool is no int)
    tuple[int, ...], tuple[float, float]   (every element checked; a list is converted)
    X | None                         (None means "automatic": the code picks the value)
    dict[str, Any]                   (a mapping with string keys)
    a Record subclass                (an instance of it)

``low``/``high`` bound numbers (every element of a numeric tuple), ``choices`` restricts a value
to a set, ``aliases`` maps a value of an older version to today's (e.g. ``{-1.0: None}`` for a
sentinel that became None). A bad value raises :class:`ConfigError` with one line naming the
field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

NONE_WORDS = ("none", "null", "auto")  # command-line spellings of None ("automatic")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and the fix."""


def hp(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: Sequence[Any] | None = None,
    aliases: Mapping[Any, Any] | None = None,
) -> Any:
    """A record field: default, one-line help and validation.

    ``low``/``high`` are inclusive bounds (``low_open=True`` makes the lower bound strict);
    ``choices`` restricts the value to a set; ``aliases`` maps deprecated values to their
    replacement before validation.
    """
    meta = {"help": help, "low": low, "high": high, "low_open": low_open,
            "choices": tuple(choices) if choices is not None else None, "aliases": dict(aliases or {})}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda d=tuple(default): d, metadata=meta)
    if isinstance(default, dict):
        return field(default_factory=lambda d=dict(default): dict(d), metadata=meta)
    return field(default=default, metadata=meta)


def did_you_mean(word: str, names: Sequence[str]) -> str | None:
    """The name closest to ``word`` (ignoring case and ``-``/``_``), or None when none is close."""
    def key(s: str) -> str:
        return s.lower().replace("-", "_")

    by_key = {key(n): n for n in names}
    close = difflib.get_close_matches(key(word), list(by_key), n=1)
    return by_key[close[0]] if close else None


# ---- one field: its type, bounds and the text forms of its values ----------------------------
@dataclass(frozen=True)
class FieldSpec:
    """What a record declares about one field (resolved type hint plus the :func:`hp` metadata)."""

    name: str
    hint: Any
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple | None = None
    aliases: dict = dataclasses.field(default_factory=dict)

    @property
    def optional(self) -> bool:
        """True for ``X | None`` (None = automatic)."""
        return _is_union(self.hint) and type(None) in typing.get_args(self.hint)

    @property
    def base(self) -> Any:
        """The hint without ``| None``."""
        if not self.optional:
            return self.hint
        rest = [a for a in typing.get_args(self.hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]

    def range_text(self) -> str:
        """The allowed values in words: ``between 1 and 4096``, ``> 0``, ``one of: conv, mlp``; '' when unbounded."""
        if self.choices is not None:
            return "one of: " + ", ".join(map(str, self.choices))
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return f"> {lo} and <= {hi}" if self.low_open else f"between {lo} and {hi}"
        if lo is not None:
            return f"{'>' if self.low_open else '>='} {lo}"
        if hi is not None:
            return f"<= {hi}"
        return ""

    def check(self, value: Any, prefix: str = "") -> Any:
        """The canonical form of ``value`` (list -> tuple, int -> float, alias -> value), or ConfigError."""
        name = prefix + self.name
        if _hashable(value) and not isinstance(value, bool) and value in self.aliases:
            value = self.aliases[value]
        if value is None:
            if self.optional or self.hint is Any:
                return None
            raise ConfigError(f"{name} must be {_kind(self.hint)}, got None (it has no automatic value)")
        value = _convert(name, self.base, value, self.optional)
        if self.choices is not None and value not in self.choices:
            close = did_you_mean(str(value), [str(c) for c in self.choices])
            hint = f" (did you mean {close!r}?)" if close else ""
            raise ConfigError(f"{name}={value!r} is not allowed{hint}; choose one of {', '.join(map(str, self.choices))}")
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not self._in_range(v):
                what = "every element of " + name if isinstance(value, tuple) else name
                got = f"{value!r}" if not isinstance(value, tuple) else f"{v!r} in {value!r}"
                raise ConfigError(f"{what} must be {self.range_text()}, got {got}" + (f" ({self.help})" if self.help else ""))
        return value

    def _in_range(self, v: float) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return self.high is None or v <= self.high

    def parse(self, text: str) -> Any:
        """A command-line word as a value of this field (validated later by :meth:`check`).

        ``none``/``auto``/``null`` is None for ``X | None``; tuples are comma-separated
        (``1200,1200``); numbers and booleans are read as such, anything else stays a string so
        the record's check names the field.
        """
        word = text.strip()
        if self.optional and word.lower() in NONE_WORDS:
            return None
        if _origin(self.base) is tuple:
            return tuple(_scalar(p) for p in word.split(",")) if word else ()
        if self.base is str:
            return text
        value = _scalar(word)
        return word if self.base is int and isinstance(value, float) else value  # "1e3": say what was typed

    def metavar(self) -> str:
        """The placeholder of the flag's value in ``--help``."""
        base = self.base
        if self.choices is not None:
            word = "{" + ",".join(map(str, self.choices)) + "}"
        elif _origin(base) is tuple:
            args = typing.get_args(base)
            elem = args[0] if args else Any
            word = f"{_word(elem)},{_word(elem)},..." if len(args) != 2 or args[1] is Ellipsis else ",".join(_word(a) for a in args)
        else:
            word = _word(base)
        return word + ("|none" if self.optional else "")


def _word(t: Any) -> str:
    return {int: "INT", float: "FLOAT", str: "TEXT", bool: "BOOL"}.get(t, "VALUE")


def _scalar(word: str) -> Any:
    word = word.strip()
    low = word.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return word


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _is_union(t: Any) -> bool:
    return isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union


def _origin(t: Any) -> Any:
    return tuple if t is tuple else typing.get_origin(t)


def _kind(t: Any) -> str:
    """A hint in words, for error messages."""
    if t is int:
        return "an integer"
    if t is float:
        return "a finite number"
    if t is bool:
        return "true or false"
    if t is str:
        return "a string"
    if _is_union(t):
        return " or ".join("null (automatic)" if a is type(None) else _kind(a) for a in typing.get_args(t))
    origin = _origin(t)
    if origin is tuple:
        args = typing.get_args(t)
        if not args or args[-1] is Ellipsis:
            elem = _kind(args[0]).split(" ", 1)[-1] if args and args[0] is not Any else "values"
            return f"a list of {elem}s like 1200,1200" if args and args[0] in (int, float) else f"a list of {elem}"
        return f"a list of {len(args)} values ({', '.join(_kind(a) for a in args)})"
    if origin in (dict, Mapping) or t is dict:
        return "a mapping of NAME: VALUE"
    if isinstance(t, type):
        return f"a {t.__name__} record" if issubclass(t, Record) else f"a {t.__name__}"
    return str(t)


def _convert(name: str, t: Any, value: Any, optional: bool = False) -> Any:
    """Check ``value`` against hint ``t`` and return its canonical form."""
    def bad() -> ConfigError:
        kind = _kind(t) + (" or null (automatic)" if optional else "")
        hint = ""
        if isinstance(value, str) and t is float and _scalar(value) != value:
            hint = " (text, not a number: YAML reads 1e-4 as text, write 1.0e-4)"
        return ConfigError(f"{name} must be {kind}, got {value!r}{hint}")

    if t is Any:
        return value
    if _is_union(t):
        for arg in typing.get_args(t):
            try:
                return _convert(name, arg, value)
            except ConfigError:
                continue
        raise bad()
    if t is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if t is int:  # numpy integers too; bool is no integer here
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad()
        return int(value)
    if t is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad()
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}")
        return float(value)
    if t is str:
        if not isinstance(value, str):
            raise bad()
        return value
    if t is type(None):
        if value is not None:
            raise bad()
        return None
    origin = _origin(t)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise bad()
        args = typing.get_args(t)
        if not args:
            return tuple(value)
        if args[-1] is Ellipsis:
            elems = [args[0]] * len(value)
        else:
            if len(value) != len(args):
                raise ConfigError(f"{name} must have {len(args)} values, got {len(value)}: {value!r}")
            elems = list(args)
        out = []
        for i, (e, v) in enumerate(zip(elems, value)):
            try:
                out.append(_convert(f"{name}[{i}]", e, v))
            except ConfigError:
                raise ConfigError(f"{name} must be {_kind(t)}, got {value!r} (element {v!r})") from None
        return tuple(out)
    if origin in (dict, Mapping) or t is dict:
        if not isinstance(value, Mapping) or isinstance(value, Record):
            raise bad()
        if any(not isinstance(k, str) for k in value):
            raise ConfigError(f"{name} must have string keys, got {list(value)!r}")
        return dict(value)
    if isinstance(t, type):
        if not isinstance(value, t):
            raise bad()
        return value
    raise TypeError(f"field {name}: untwine records do not support the type hint {t!r}")


# ---- the record base ---------------------------------------------------------------------------
@dataclass
class Record:
    """Base of every configuration record; subclasses are dataclasses of fields made with :func:`hp`.

    Construction validates (and canonicalises) every field; :meth:`validate` is the hook for
    checks across fields (call ``super().validate()`` first).
    """

    #: how error messages call a field of this record ("unknown hyperparameter(s) ...")
    field_label: ClassVar[str] = "field"

    def __new__(cls, *args: Any, **kwargs: Any):
        # a misspelt keyword is a ConfigError with a did-you-mean, as from a config file (not a TypeError)
        cls._reject_unknown(kwargs)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field against its type hint, bounds and choices; store the canonical value."""
        for spec in self.field_specs():
            value = spec.check(getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)

    @classmethod
    def field_specs(cls) -> list[FieldSpec]:
        """One :class:`FieldSpec` per field, in declaration order."""
        cache = cls.__dict__.get("_field_specs_cache")
        if cache is not None:
            return cache
        try:
            hints = typing.get_type_hints(cls)
        except Exception as e:  # noqa: BLE001 - a hint naming something the module does not import
            raise TypeError(f"cannot resolve the type hints of record {cls.__name__}: {e}") from None
        specs = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
            m = f.metadata
            specs.append(FieldSpec(f.name, hints.get(f.name, Any), default, m.get("help", ""), m.get("low"),
                                   m.get("high"), bool(m.get("low_open")), m.get("choices"), dict(m.get("aliases") or {})))
        setattr(cls, "_field_specs_cache", specs)  # per class (looked up in cls.__dict__ above)
        return specs

    @classmethod
    def field_names(cls) -> list[str]:
        """The field names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, what: str | None = None):
        """Build from a mapping (a config file section, keyword flags); missing names keep their default.

        Unknown names are rejected with a did-you-mean and the valid names; ``what`` names the
        mapping in that message (default: the record's ``field_label``).
        """
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"{cls.__name__} needs a mapping of NAME: VALUE, got {type(values).__name__} {values!r}")
        cls._reject_unknown(values, what)
        return cls(**dict(values))

    @classmethod
    def _reject_unknown(cls, values: Mapping[str, Any], what: str | None = None) -> None:
        names = cls.field_names()
        unknown = [k for k in values if k not in names]
        if unknown:
            hints = []
            for k in unknown:
                close = did_you_mean(str(k), names)
                hints.append(f"{k!r}" + (f" (did you mean {close!r}?)" if close else ""))
            raise ConfigError(f"unknown {what or cls.field_label}(s) {', '.join(hints)}; valid: {', '.join(names)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists, records as dicts), e.g. for config.yaml."""
        return {name: _plain(getattr(self, name)) for name in self.field_names()}

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) rows, for docs and ``--help``."""
        return [(s.name, s.default, s.help) for s in cls.field_specs()]


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
