"""The book's chapters and their declared parameters.

A chapter is a jupytext MyST notebook ``notebooks/NN_name.md``. Its parameters are the
literal assignments of the cell tagged ``parameters`` (names, defaults and types); its YAML
header declares, under ``juno_calib.parameters``, each parameter's allowed range or choices,
a one-line help text and the small-statistics override used by ``--fast`` and the tests::

    juno_calib:
      parameters:
        seed:     {min: 0, help: "seed of every random number in the chapter"}
        config:   {choices: [design, as_built], help: "detector configuration"}
        n_events: {min: 100, max: 10000000, fast: 2000, help: "events per source"}

Values given by a user are checked here, before any kernel starts.
"""

from __future__ import annotations

import ast
import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core.params import CONFIGS, TYPE_NAMES, Parameter

__all__ = ["Chapter", "Parameter", "chapters", "get_chapter", "load_chapter"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@dataclasses.dataclass(frozen=True)
class Chapter:
    """A chapter: its name (file stem), title, source path and parameters."""

    name: str
    title: str
    path: Path
    parameters: dict[str, Parameter]

    def resolve(self, given: dict[str, Any] | None = None, *, fast: bool = False) -> dict[str, Any]:
        """Checked parameter values: ``fast`` overrides first, then ``given`` (user values).

        Unknown names raise ``KeyError``-like ``ValueError`` listing the valid parameters.
        """
        given = dict(given or {})
        unknown = [k for k in given if k not in self.parameters]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for chapter {self.name}; "
                "valid parameters:\n" + self.parameter_help()
            )
        values: dict[str, Any] = {}
        if fast:
            values.update({p.name: p.fast for p in self.parameters.values() if p.fast is not None})
        for key, value in given.items():
            values[key] = self.parameters[key].convert(value)
        return values

    def parameter_help(self) -> str:
        """One line per parameter: name, type, default, allowed values, help."""
        lines = []
        for p in self.parameters.values():
            fast = f", --fast: {p.fast!r}" if p.fast is not None else ""
            lines.append(
                f"  {p.name} ({TYPE_NAMES[p.type]}, default {p.default!r}; {p.describe()}{fast})"
                + (f": {p.help}" if p.help else "")
            )
        return "\n".join(lines)


def _parameter_cell(nb) -> dict[str, Any]:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            out = {}
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    raise ValueError("no cell tagged 'parameters'")


def load_chapter(path: Path) -> Chapter:
    """Read a chapter's header and parameter cell."""
    import jupytext

    nb = jupytext.read(path)
    meta = nb.metadata.get("juno_calib", {})
    specs = meta.get("parameters", {})
    defaults = _parameter_cell(nb)
    if set(specs) != set(defaults):
        raise ValueError(
            f"{path.name}: the parameters cell ({sorted(defaults)}) and the header's "
            f"juno_calib.parameters ({sorted(specs)}) must name the same parameters"
        )
    params = {}
    for name, default in defaults.items():
        spec = dict(specs[name] or {})
        if name == "config":
            spec.setdefault("choices", list(CONFIGS))
        params[name] = Parameter(
            name=name,
            default=default,
            type=type(default),
            help=spec.get("help", ""),
            min=spec.get("min"),
            max=spec.get("max"),
            choices=tuple(spec["choices"]) if "choices" in spec else None,
            fast=spec.get("fast"),
        )
    title = meta.get("title") or path.stem
    return Chapter(name=path.stem, title=title, path=path, parameters=params)


@lru_cache(maxsize=1)
def chapters() -> dict[str, Chapter]:
    """All chapters in ``notebooks/``, keyed by name (``01_detector_layout`` ...)."""
    return {p.stem: load_chapter(p) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))}


def get_chapter(name: str) -> Chapter:
    """The chapter called ``name``: a chapter of the book by file stem, or a path to a
    jupytext ``.md`` notebook that follows the chapter conventions (used by the tests)."""
    path = Path(name)
    if path.suffix == ".md" and path.is_file():
        return load_chapter(path.resolve())
    stem = path.stem
    found = chapters()
    if stem not in found:
        raise ValueError(f"unknown chapter {name!r}; chapters: {', '.join(found)}")
    return found[stem]
