"""Parameters as frozen dataclasses loaded from ``data/*.yaml``.

Every number the simulation starts from lives in a YAML file under ``data/`` as::

    r_ls: {value: 17.7, unit: m, source: "PPNP22; CALIB21"}

A parameter set is a frozen dataclass deriving from :class:`ParamSet`. Its ``_section``
names the file ``data/<section>.yaml``; a detector *configuration* (``design`` or
``as_built``) is the set of base files plus the overrides in ``data/config/<config>.yaml``.
Values are converted to internal units (:mod:`juno_calib.core.units`) on loading; the original
value, unit and source of every field are kept in ``provenance`` for the chapters' input
tables. Variations are made with :func:`dataclasses.replace`, which re-runs validation.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import yaml

from . import units

CONFIGS = ("design", "as_built")


#: Type names in parameter messages.
TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool"}


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A declared parameter of a chapter (:mod:`juno_calib.book.chapters`) or of an ensemble study
    (:mod:`juno_calib.scale.studies`): its default, type, allowed range or choices, help text and
    the small-statistics override of ``--fast`` (chapters). ``kind`` is how error messages call it
    ("parameter", "study parameter")."""

    name: str
    default: Any
    type: type
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    fast: Any = None
    kind: str = "parameter"

    def describe(self) -> str:
        """The allowed values as text (for error messages and ``juno-calib list``)."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"{TYPE_NAMES[self.type]} in [{lo}, {hi}]"

    def convert(self, value: Any) -> Any:
        """``value`` (a string from the command line, or a Python value) as this type, checked."""
        if isinstance(value, str) and self.type is not str:
            value = self._parse(value)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise TypeError(
                f"{self.kind} {self.name!r} must be {TYPE_NAMES[self.type]}, got {value!r} "
                f"({type(value).__name__}); allowed: {self.describe()}"
            )
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f"{self.kind} {self.name!r} = {value!r} is not allowed; {self.describe()}"
            )
        if self.type in (int, float):
            if (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max
            ) or value != value:
                raise ValueError(
                    f"{self.kind} {self.name!r} = {value!r} is outside the allowed range: "
                    f"{self.describe()}"
                )
        return value

    def _parse(self, text: str) -> Any:
        """Command-line text as a Python literal (bool: true/false, 1/0, yes/no)."""
        import ast

        if self.type is bool:
            low = text.strip().lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise TypeError(f"{self.kind} {self.name!r} must be bool (true/false), got {text!r}")
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            # (a study's message adds the allowed values, as it always did; a chapter's does not)
            allowed = "" if self.kind == "parameter" else f"; allowed: {self.describe()}"
            raise TypeError(f"{self.kind} {self.name!r} must be {TYPE_NAMES[self.type]}, "
                            f"got {text!r}{allowed}") from None


def data_dir() -> Path:
    """The ``data/`` folder (``$JUNO_CALIB_DATA`` overrides the checkout's own)."""
    env = os.environ.get("JUNO_CALIB_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


@dataclasses.dataclass(frozen=True, slots=True)
class Quantity:
    """A number as written in a data file: value, unit and where it comes from."""

    value: Any
    unit: str
    source: str

    @property
    def internal(self):
        """The value in internal units (lists become tuples of floats)."""
        if isinstance(self.value, list):
            return tuple(units.to_internal(float(v), self.unit) for v in self.value)
        if isinstance(self.value, str):
            return self.value
        return units.to_internal(self.value, self.unit)


@cache
def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    with path.open() as fh:
        return yaml.safe_load(fh) or {}


def load_yaml(name: str) -> dict:
    """Read ``data/<name>.yaml`` (cached; do not mutate the result)."""
    return _read_yaml(data_dir() / f"{name}.yaml")


def _quantity(section: str, key: str, entry: Any) -> Quantity:
    if not isinstance(entry, Mapping) or "value" not in entry or "source" not in entry:
        raise ValueError(
            f"data/{section}.yaml: entry {key!r} must be a mapping with 'value', 'unit' and "
            f"'source', got {entry!r}"
        )
    value = entry["value"]
    if isinstance(value, str):
        # YAML 1.1 reads "1.248e9" (no sign in the exponent) as a string: accept numeric text,
        # refuse anything else with the unit set, rather than carry a string into a formula.
        try:
            value = float(value)
        except ValueError:
            if entry.get("unit"):
                raise ValueError(
                    f"data/{section}.yaml: entry {key!r} has unit {entry['unit']!r} but a "
                    f"non-numeric value {value!r}"
                ) from None
    return Quantity(value=value, unit=str(entry.get("unit", "")), source=str(entry["source"]))


def load_quantities(section: str, config: str = "design") -> dict[str, Quantity]:
    """All quantities of ``data/<section>.yaml`` with the overrides of ``config`` applied."""
    check_choice("config", config, CONFIGS)
    raw = load_yaml(section).get("parameters", {})
    quantities = {key: _quantity(section, key, entry) for key, entry in raw.items()}
    overrides = load_yaml(f"config/{config}").get(section, {})
    for key, entry in overrides.items():
        if key not in quantities:
            raise ValueError(
                f"data/config/{config}.yaml overrides unknown parameter {section}.{key}; "
                f"known: {', '.join(sorted(quantities))}"
            )
        quantities[key] = _quantity(f"config/{config}", key, entry)
    return quantities


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParamSet:
    """Base class of the parameter dataclasses.

    Subclasses set ``_section`` and declare their fields in internal units; the base adds
    ``config`` (the configuration name) and ``provenance`` (field -> :class:`Quantity`).
    """

    _section: ClassVar[str] = ""
    config: str = "design"
    provenance: Mapping[str, Quantity] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def load(cls, config: str = "design", **overrides):
        """Build the set for ``config`` from the data files; ``overrides`` are internal units."""
        quantities = load_quantities(cls._section, config)
        names = [f.name for f in dataclasses.fields(cls) if f.name not in ("config", "provenance")]
        missing = [n for n in names if n not in quantities and n not in overrides]
        if missing:
            raise ValueError(f"data/{cls._section}.yaml lacks parameters: {', '.join(missing)}")
        unknown = [k for k in overrides if k not in names]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for {cls.__name__}; "
                f"valid: {', '.join(names)}"
            )
        values = {n: quantities[n].internal for n in names if n not in overrides}
        values.update(overrides)
        prov = {n: quantities[n] for n in names if n in quantities}
        return cls(config=config, provenance=prov, **values)

    def source(self, name: str) -> str:
        """Where the value of field ``name`` comes from."""
        q = self.provenance.get(name)
        return q.source if q is not None else "user override"

    def inputs_rows(self, names: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
        """Rows (parameter, value with unit, source) for a chapter's inputs table.

        Values are shown in the unit of the data file; a field changed with
        :func:`dataclasses.replace` shows its current value.
        """
        names = list(names) if names is not None else list(self.provenance)
        rows = []
        for name in names:
            q = self.provenance.get(name)
            value = getattr(self, name)
            unit = q.unit if q is not None else ""
            shown = value if isinstance(value, str) else _fmt(value, unit)
            rows.append((f"{self._section}.{name}", shown, self.source(name)))
        return rows


def _fmt(value, unit: str) -> str:
    if isinstance(value, tuple):  # e.g. the 12B branch energies: each element in the file's unit
        text = "[" + ", ".join(_fmt(units.from_internal(v, unit) if unit else v, "") for v in value) + "]"
        return f"{text} {unit}".strip() if unit not in ("", "1") else text
    shown = units.from_internal(value, unit) if unit else value
    text = f"{shown:.6g}" if isinstance(shown, float) else str(shown)
    return f"{text} {unit}".strip() if unit not in ("", "1") else text


def markdown_rows(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """A MyST/markdown table with any number of columns.

    >>> print(markdown_rows(["a", "b"], [(1, 2)]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(rows: Iterable[tuple[str, str, str]]) -> str:
    """A chapter's inputs table from (parameter, value, source) rows."""
    return markdown_rows(("parameter", "value", "source"), [(f"`{p}`", v, s) for p, v, s in rows])


# --- validation helpers: every message names the parameter, its value and the allowed range ---


def check_range(name: str, value, lo=-math.inf, hi=math.inf, *, unit: str = "",
                lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ``ValueError`` unless ``lo <= value <= hi`` (bounds optionally open), finite.

    ``unit`` (a :mod:`juno_calib.core.units` name) is used to print the value and the bounds.

    >>> check_range("n_events", 10, 1, 100)
    >>> check_range("n_events", 0, 1, 100)
    Traceback (most recent call last):
    ...
    ValueError: n_events = 0 is outside the allowed range [1, 100]
    """
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    bad = (
        not math.isfinite(v)
        or (v <= lo if lo_open else v < lo)
        or (v >= hi if hi_open else v > hi)
    )
    if bad:
        f = units.unit_factor(unit) if unit else 1.0
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        u = f" {unit}" if unit else ""
        raise ValueError(
            f"{name} = {v / f:g}{u} is outside the allowed range "
            f"{left}{lo / f:g}, {hi / f:g}{right}{u}"
        )


def check_choice(name: str, value, choices: Iterable) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} = {value!r} is not allowed; choose one of {', '.join(map(repr, choices))}")
