"""Run a chapter through papermill and read back its glued values.

The executed notebook is written to a temporary file next to the target and moved into place
only when every cell succeeded, so a failed run never overwrites an earlier good output.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .chapters import ROOT, get_chapter

DEFAULT_OUT = ROOT / "_build" / "runs"


@dataclasses.dataclass(frozen=True)
class RunResult:
    """An executed chapter: where it was written, the parameters used and the glued values."""

    chapter: str
    notebook: Path
    parameters: dict[str, Any]
    glued: dict[str, Any]


def read_glued(nb) -> dict[str, Any]:
    """Every value glued with ``myst_nb.glue`` in an executed notebook, by name.

    Scalars come back as Python numbers/strings (parsed from the text payload); other objects
    (figures, tables) as their text representation.
    """
    out: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            # glue(..., display=False) stores the payload under a mime prefix
            # ("application/papermill.record/"); displayed values under plain "text/plain".
            prefix = meta.get("mime_prefix", "")
            data = output.get("data", {})
            text = data.get(prefix + "text/plain", data.get("text/plain", ""))
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
            out[meta["name"]] = value
    return out


def scalars(glued: dict[str, Any]) -> dict[str, Any]:
    """The glued values that are JSON scalars (numbers, strings, booleans)."""
    return {k: v for k, v in glued.items() if isinstance(v, (int, float, str, bool))}


def run_chapter(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    fast: bool = False,
    out_dir: str | Path | None = None,
    json_path: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Execute chapter ``name`` with ``parameters`` (checked first) and return its glued values.

    Parameters
    ----------
    name : chapter name, e.g. ``"01_detector_layout"``.
    parameters : values for the chapter's parameters; unknown names, wrong types and
        out-of-range values raise before any kernel starts.
    fast : apply the chapter's declared small-statistics overrides first.
    out_dir : folder of the executed notebook (default ``_build/runs``).
    json_path : if given, write every glued scalar there as a JSON object.
    progress : show papermill's cell progress bar.
    """
    import jupytext
    import nbformat
    import papermill as pm

    chapter = get_chapter(name)
    values = chapter.resolve(parameters, fast=fast)
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{chapter.name}.ipynb"
    partial = out_dir / f".{chapter.name}.partial.ipynb"
    nb = jupytext.read(chapter.path)
    try:
        pm.execute_notebook(
            nb,
            str(partial),
            parameters=values,
            cwd=str(chapter.path.parent),
            kernel_name="python3",
            progress_bar=progress,
            log_output=False,
        )
    except BaseException:
        failed = out_dir / f"{chapter.name}.failed.ipynb"
        if partial.exists():
            os.replace(partial, failed)
        raise
    os.replace(partial, target)
    glued = read_glued(nbformat.read(target, as_version=4))
    if json_path is not None:
        json_path = Path(json_path)
        tmp = json_path.with_name(f".{json_path.name}.partial")
        tmp.write_text(json.dumps(scalars(glued), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, json_path)
    full = {p.name: p.default for p in chapter.parameters.values()} | values
    return RunResult(chapter=chapter.name, notebook=target, parameters=full, glued=glued)
