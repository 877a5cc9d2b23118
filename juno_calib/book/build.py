"""Build the book: execute every chapter of ``_toc.yml`` in parallel, then run Sphinx on the results.

Jupyter Book 1 executes notebooks one after the other while Sphinx reads them. ``juno-calib book``
runs the chapters first, ``jobs`` at a time (default: 2, the cores of the project's machines), each
exactly as myst-nb would run it (the same reader, kernel, working folder and timeout), and stores
each executed notebook in the book's jupyter-cache (``_build/.jupyter_cache``), keyed as myst-nb
keys it. The Sphinx build (``jupyter-book build -W -n --keep-going``) then finds every chapter in
the cache and only renders. Each chapter's execution time is printed as it finishes.

A chapter whose cell fails stops the build: every chapter still runs to the end, the failing
cells are printed with their tracebacks, and Sphinx is not started (exit status 1).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import yaml

# Threads per kernel when chapters run side by side: the cores are shared between the workers.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Executed:
    """One chapter's execution: its source, wall time, and the error text if a cell failed."""

    path: Path
    seconds: float
    error: str | None = None


def toc_files(node) -> list[str]:
    """Every ``file:`` entry of a ``_toc.yml`` tree, in reading order."""
    out: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                out.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                out += toc_files(child)
    elif isinstance(node, list):
        for child in node:
            out += toc_files(child)
    return out


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks among the book's pages, in ``_toc.yml`` order.

    A page is a notebook if it is an ``.ipynb`` file or a MyST markdown file with a jupytext
    (``format_name: myst``) or ``file_format: mystnb`` header, as myst-nb decides.
    """
    from myst_nb.core.read import is_myst_markdown_notebook

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found = []
    for entry in toc_files(toc):
        base = root / entry
        candidates = [base] if base.suffix in (".md", ".ipynb") else [
            base.with_name(base.name + s) for s in (".ipynb", ".md")
        ]
        for path in candidates:
            if not path.is_file():
                continue
            if path.suffix == ".ipynb" or is_myst_markdown_notebook(path.read_text("utf8")):
                found.append(path)
            break
    return found


def execute_settings(root: Path) -> dict:
    """The ``execute:`` and MyST settings of ``_config.yml`` that decide how a chapter runs."""
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    execute = config.get("execute") or {}
    parse = config.get("parse") or {}
    return {
        "mode": execute.get("execute_notebooks", "auto"),
        "timeout": execute.get("timeout", 30),
        "allow_errors": bool(execute.get("allow_errors", False)),
        "in_temp": bool(execute.get("run_in_temp", False)),
        "exclude": list(execute.get("exclude_patterns") or []),
        "extensions": list(parse.get("myst_enable_extensions") or []),
    }


def read_notebook(path: Path, extensions: list[str]):
    """The notebook as myst-nb reads it for the book (so that the cache keys agree)."""
    import nbformat
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    text = path.read_text("utf8")
    if path.suffix == ".ipynb":
        return nbformat.reads(text, as_version=4)
    config = MdParserConfig(enable_extensions=set(extensions))
    return read_myst_markdown_notebook(text, config=config, add_source_map=True, path=str(path))


def _limit_threads(n: int) -> None:
    for var in _THREAD_VARS:
        os.environ.setdefault(var, str(n))


def _run_one(path: str, settings: dict) -> tuple[str, str | None, float, str | None]:
    """Execute one notebook in a worker process: (path, executed notebook JSON, seconds, error)."""
    import tempfile

    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = read_notebook(Path(path), settings["extensions"])
    with tempfile.TemporaryDirectory() as tmp:
        cwd = tmp if settings["in_temp"] else str(Path(path).parent)
        result = single_nb_execution(
            nb, cwd=cwd, timeout=settings["timeout"], allow_errors=settings["allow_errors"]
        )
    if result.err is not None:
        return path, None, result.time, result.exc_string or repr(result.err)
    return path, nbformat.writes(result.nb), result.time, None


def execute_chapters(root: Path, cache_dir: Path, *, jobs: int = 2, echo=None) -> list[Executed]:
    """Run every notebook of the book, ``jobs`` at a time, into the jupyter-cache at ``cache_dir``.

    Returns one :class:`Executed` per notebook in ``_toc.yml`` order; notebooks excluded by
    ``execute.exclude_patterns`` are skipped. Nothing runs unless ``execute_notebooks`` is
    ``cache`` (the book's setting); other modes are left to myst-nb.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    echo = echo or _echo
    if jobs < 1:
        raise ValueError(f"jobs = {jobs} must be at least 1")
    settings = execute_settings(root)
    if settings["mode"] != "cache":
        echo(f"execute_notebooks is {settings['mode']!r}, not 'cache': myst-nb executes the chapters")
        return []
    paths = [
        p for p in toc_notebooks(root)
        if not any(fnmatch(str(p.relative_to(root)), pat) for pat in settings["exclude"])
    ]
    cache = get_cache(str(cache_dir))
    echo(f"executing {len(paths)} chapters, {jobs} at a time")
    results: dict[Path, Executed] = {}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_limit_threads, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(_run_one, str(p), settings): p for p in paths}
        for future in cf.as_completed(futures):
            path = futures[future]
            try:
                _, text, seconds, error = future.result()
            except Exception as err:  # the kernel or the worker died: the chapter failed
                text, seconds, error = None, float("nan"), f"{type(err).__name__}: {err}"
            name = path.relative_to(root)
            if error is None:
                nb = nbformat.reads(text, as_version=4)
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, str(path), data={"execution_seconds": seconds}),
                    check_validity=False,
                    overwrite=True,
                )
                echo(f"  {name}: executed in {seconds:.1f} s")
                for line in stderr_outputs(nb):
                    echo(f"  {name}: warning: a cell writes to stderr (readers see it): {line}")
            else:
                echo(f"  {name}: FAILED after {seconds:.1f} s")
            results[path] = Executed(path, seconds, error)
    return [results[p] for p in paths]


def _echo(text: str) -> None:
    print(text, flush=True)


def stderr_outputs(nb) -> list[str]:
    """The first line of every stderr output of an executed notebook (warnings, progress bars)."""
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = "".join(output.get("text", "")).strip()
                found.append(f"cell {i}: {text.splitlines()[0][:200] if text else '(empty)'}")
    return found


def _jupyter_book() -> str | None:
    # the jupyter-book script installed beside this interpreter (the package has no __main__)
    script = Path(sys.executable).with_name("jupyter-book")
    return str(script) if script.exists() else shutil.which("jupyter-book")


def build_book(root: Path, *, jobs: int = 2, echo=None) -> int:
    """Clean ``_build``, execute the chapters in parallel, then build the HTML with warnings as
    errors. Returns the exit status (0: built without a warning)."""
    echo = echo or _echo
    t0 = time.perf_counter()
    jb = _jupyter_book()
    if jb is None:
        echo("juno-calib: error: jupyter-book is not installed (pip install -e .)")
        return 2
    subprocess.run([jb, "clean", "--all", str(root)], check=True, stdout=subprocess.DEVNULL)
    executed = execute_chapters(root, root / "_build" / ".jupyter_cache", jobs=jobs, echo=echo)
    t_exec = time.perf_counter() - t0
    failed = [e for e in executed if e.error is not None]
    for e in failed:
        echo(f"\n--- {e.path.relative_to(root)}: a cell failed ---\n{e.error}")
    if failed:
        _summary(executed, jobs, t_exec, echo)
        names = ", ".join(e.path.stem for e in failed)
        echo(f"juno-calib: error: {len(failed)} chapter(s) failed ({names}); the book was not built")
        return 1
    t1 = time.perf_counter()
    proc = subprocess.run([jb, "build", "-W", "-n", "--keep-going", str(root)])
    _summary(executed, jobs, t_exec, echo)
    echo(f"sphinx build time: {time.perf_counter() - t1:.0f} s")
    echo(f"book build time: {time.perf_counter() - t0:.0f} s (exit {proc.returncode})")
    return proc.returncode


def _summary(executed: list[Executed], jobs: int, wall: float, echo) -> None:
    if not executed:
        return
    echo(f"\nchapter execution times ({jobs} at a time):")
    for e in executed:
        echo(f"  {e.path.stem:32s} {e.seconds:7.1f} s  {'FAILED' if e.error else 'ok'}")
    echo(f"  {'sum':32s} {sum(e.seconds for e in executed):7.1f} s; wall clock {wall:.1f} s")
