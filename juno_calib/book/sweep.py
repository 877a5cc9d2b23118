"""A chapter over a Cartesian grid of its parameters, one executed notebook per run, on Dask.

Every run goes through :func:`juno_calib.book.runner.run_chapter` (the runner of ``juno-calib run``)
and lands in its own folder ``OUT/<name=value>__...[__fast]/`` with the executed notebook, ``glued.json``
(every glued scalar) and ``params.json`` (the chapter, every parameter's value, ``fast``, and the
SHA-256 of the chapter's source). A rerun skips a run whose three files exist and whose
``params.json`` matches (``force`` redoes it); a changed chapter source therefore reruns. The
library under the chapter is not part of the key (as in jupyter-cache): use ``force`` after
changing it.

All runs' glued scalars are collected into ``OUT/sweep.parquet`` and ``OUT/sweep.csv`` (written
with pyarrow), one row per run with its parameters, ``status`` (``ok``/``failed``) and ``reused``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .chapters import ROOT, Chapter, get_chapter

DEFAULT_SWEEP_OUT = ROOT / "_build" / "sweeps"


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One point of a sweep: the values given, every parameter's value, and its folder."""

    given: dict[str, Any]
    parameters: dict[str, Any]
    folder: Path

    def record(self, chapter: Chapter, fast: bool) -> dict[str, Any]:
        """What ``params.json`` holds; a rerun is skipped only if it is equal."""
        return {"chapter": chapter.name, "parameters": self.parameters, "fast": fast,
                "chapter_sha256": hashlib.sha256(chapter.path.read_bytes()).hexdigest()}


@dataclasses.dataclass
class SweepResult:
    """Rows (one per run, in grid order), the failed runs' reports and the table's paths."""

    rows: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    paths: dict[str, Path]

    @property
    def n_reused(self) -> int:
        return sum(bool(r["reused"]) for r in self.rows)


def parse_values(text: str) -> list[str]:
    """``"1,2, 3"`` -> ``["1", "2", "3"]`` (each value is converted and checked by the chapter)."""
    values = [v.strip() for v in str(text).split(",")]
    if not values or any(v == "" for v in values):
        raise ValueError(f"sweep values must be a comma-separated list without empty entries, got {text!r}")
    return values


def _slug(given: Mapping[str, Any]) -> str:
    if not given:
        return "defaults"
    text = "__".join(f"{k}={v}" for k, v in given.items())
    text = re.sub(r"[^A-Za-z0-9_.=+-]", "-", text)
    if len(text) > 120:
        text = text[:100] + "-" + hashlib.sha1(text.encode()).hexdigest()[:10]
    return text


def plan_sweep(chapter: str | Chapter, grid: Mapping[str, Sequence], *, out_dir: str | Path | None = None,
               fast: bool = False) -> tuple[Chapter, list[SweepRun]]:
    """Every run of the Cartesian ``grid`` (name -> list of values, as text or Python values),
    checked by the chapter: an unknown name or a value of the wrong type or outside the allowed
    range raises ``ValueError``/``TypeError`` here, before any worker starts."""
    chapter = chapter if isinstance(chapter, Chapter) else get_chapter(str(chapter))
    grid = {k: list(v) for k, v in grid.items()}
    for name, values in grid.items():
        if not values:
            raise ValueError(f"parameter {name!r} has no values to sweep")
    out = Path(out_dir) if out_dir is not None else DEFAULT_SWEEP_OUT / chapter.name
    defaults = {p.name: p.default for p in chapter.parameters.values()}
    runs = []
    for combo in itertools.product(*grid.values()):
        text = dict(zip(grid, combo, strict=True))
        given = chapter.resolve(text, fast=False)  # converted and checked
        full = defaults | chapter.resolve(text, fast=fast)
        folder = out / (_slug(given) + ("__fast" if fast else ""))
        runs.append(SweepRun(given=given, parameters=full, folder=folder))
    if len({r.folder for r in runs}) != len(runs):
        raise ValueError(f"the grid {grid} has repeated points")
    return chapter, runs


def _is_done(run: SweepRun, chapter: Chapter, fast: bool) -> bool:
    files = [run.folder / f"{chapter.name}.ipynb", run.folder / "glued.json", run.folder / "params.json"]
    if not all(f.exists() for f in files):
        return False
    try:
        return json.loads(files[2].read_text()) == json.loads(json.dumps(run.record(chapter, fast)))
    except json.JSONDecodeError:
        return False


def _in_fresh_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in a new thread, which starts with an empty ``contextvars``
    context: papermill (through jupyter_core) keeps its asyncio loop in a context variable, and a
    Dask worker thread may carry a copied context whose loop another run is using."""
    out: dict[str, Any] = {}

    def target():
        try:
            out["value"] = func(*args, **kwargs)
        except BaseException as err:  # handed back to the caller's thread
            out["error"] = err

    thread = threading.Thread(target=target, name="juno-calib-sweep-run")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def _execute(chapter_path: str, given: dict[str, Any], fast: bool, folder: str, record: dict) -> dict:
    """Worker side: one run through the runner; a failure returns its message and traceback."""
    from .runner import run_chapter, scalars

    folder = Path(folder)
    stale = folder / "params.json"
    if stale.exists():
        stale.unlink()  # the outputs below will no longer match it
    try:
        result = _in_fresh_thread(run_chapter, chapter_path, given, fast=fast, out_dir=folder,
                                  json_path=folder / "glued.json", progress=False)
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
    (folder / "params.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return {"glued": scalars(result.glued)}


def run_sweep(chapter: str | Chapter, grid: Mapping[str, Sequence], *, out_dir: str | Path | None = None,
              fast: bool = False, force: bool = False, client=None, progress: bool = True) -> SweepResult:
    """Run ``chapter`` at every point of ``grid`` (see :func:`plan_sweep`) on the Dask ``client``
    (None: one after the other here), skip runs already done with the same parameters unless
    ``force``, and write the table of glued scalars. Failed runs are kept in the table (status
    ``failed``, their error in ``error``) and in :attr:`SweepResult.failures` with the traceback."""
    from tqdm import tqdm  # the terminal bar (tqdm.auto warns in a kernel without ipywidgets)

    chapter, runs = plan_sweep(chapter, grid, out_dir=out_dir, fast=fast)
    out = runs[0].folder.parent
    out.mkdir(parents=True, exist_ok=True)
    outcome: dict[int, dict] = {}
    todo = []
    for k, run in enumerate(runs):
        if not force and _is_done(run, chapter, fast):
            outcome[k] = {"glued": json.loads((run.folder / "glued.json").read_text()), "reused": True}
        else:
            todo.append(k)
    args = {k: (str(chapter.path), runs[k].given, fast, str(runs[k].folder), runs[k].record(chapter, fast))
            for k in todo}
    bar = tqdm(total=len(todo), desc=f"sweep {chapter.name}", unit="run", disable=not progress or not todo,
               file=sys.stderr)
    if client is None:
        for k in todo:
            outcome[k] = _execute(*args[k])
            bar.update()
    else:
        from distributed import as_completed

        futures = {client.submit(_execute, *args[k], pure=False): k for k in todo}
        for future in as_completed(futures):
            k = futures[future]
            if future.status == "finished":
                outcome[k] = future.result()
            else:
                err = future.exception()
                outcome[k] = {"error": f"{type(err).__name__}: {err}",
                              "traceback": "".join(traceback.format_tb(future.traceback() or None))}
            bar.update()
    bar.close()
    rows, failures = [], []
    for k, run in enumerate(runs):
        res = outcome[k]
        row = {"run": run.folder.name, "status": "failed" if "error" in res else "ok",
               "reused": bool(res.get("reused", False)), **run.parameters}
        for key, value in res.get("glued", {}).items():
            row[key if key not in row else f"glued_{key}"] = value
        if "error" in res:
            row["error"] = res["error"]
            failures.append({"run": run.folder.name, "parameters": run.parameters, **res})
        rows.append(row)
    return SweepResult(rows=rows, failures=failures, paths=write_table(rows, out / "sweep"))


def write_table(rows: list[dict[str, Any]], stem: Path) -> dict[str, Path]:
    """``stem.parquet`` and ``stem.csv`` of ``rows`` (pyarrow; missing values are null)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    names = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.Table.from_pylist([{k: r.get(k) for k in names} for r in rows])
    paths = {"parquet": stem.with_suffix(".parquet"), "csv": stem.with_suffix(".csv")}
    pq.write_table(table, paths["parquet"])
    pcsv.write_csv(table, paths["csv"])
    return paths
