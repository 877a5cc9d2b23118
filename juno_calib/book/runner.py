"""Run a chapter through papermill and read back its glued values.

The executed notebook is written to a temporary file next to the target and moved into place
only when every cell succeeded, so a failed run never overwrites an earlier good output.

Ctrl-C (SIGINT) interrupts a run promptly: the kernel is interrupted and shut down, the partial
notebook is removed, the previous notebook and JSON are left untouched and
:class:`RunInterrupted` (a ``KeyboardInterrupt``) is raised; ``juno-calib run`` turns it into a
one-line message and exit status 130. The handler is installed for the duration of the run even
when the process inherited SIGINT as ignored (a job started from a script).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from .chapters import ROOT, get_chapter

DEFAULT_OUT = ROOT / "_build" / "runs"


class RunInterrupted(KeyboardInterrupt):
    """A chapter run stopped by Ctrl-C; the kernel is shut down and earlier outputs are intact."""


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigint_raises():
    """SIGINT raises KeyboardInterrupt in this (main) thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _stop_kernel(km, timeout: float = 30.0) -> None:
    """Interrupt, then shut down the kernel of ``km`` if it still runs.

    Runs in a fresh thread: the event loop of this thread may hold the interrupted execution's
    tasks, which would re-raise the KeyboardInterrupt on the next use. SIGINT is ignored
    meanwhile, so that a second Ctrl-C cannot leave the kernel running.
    """
    def stop():
        with contextlib.suppress(Exception):
            if km.has_kernel and km.is_alive():
                with contextlib.suppress(Exception):
                    km.interrupt_kernel()
                km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()

    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        worker = threading.Thread(target=stop, name="juno-calib-kernel-stop", daemon=True)
        worker.start()
        worker.join(timeout)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)


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
    from jupyter_client.manager import KernelManager

    chapter = get_chapter(name)
    values = chapter.resolve(parameters, fast=fast)
    out_dir = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{chapter.name}.ipynb"
    partial = out_dir / f".{chapter.name}.partial.ipynb"
    nb = jupytext.read(chapter.path)
    # our own kernel manager, so that an interrupted run can stop its kernel (see _stop_kernel)
    km = KernelManager(kernel_name="python3")
    try:
        with _sigint_raises():
            pm.execute_notebook(
                nb,
                str(partial),
                parameters=values,
                cwd=str(chapter.path.parent),
                kernel_name="python3",
                progress_bar=progress,
                log_output=False,
                km=km,
            )
    except KeyboardInterrupt:
        _stop_kernel(km)
        partial.unlink(missing_ok=True)
        raise RunInterrupted(f"chapter {chapter.name} interrupted; kernel shut down, earlier "
                             f"outputs in {out_dir} left untouched") from None
    except BaseException:
        _stop_kernel(km)
        failed = out_dir / f"{chapter.name}.failed.ipynb"
        if partial.exists():
            os.replace(partial, failed)
        raise
    _stop_kernel(km)  # we own the kernel manager: nbclient shuts down only kernels it started
    os.replace(partial, target)
    glued = read_glued(nbformat.read(target, as_version=4))
    if json_path is not None:
        json_path = Path(json_path)
        tmp = json_path.with_name(f".{json_path.name}.partial")
        tmp.write_text(json.dumps(scalars(glued), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, json_path)
    full = {p.name: p.default for p in chapter.parameters.values()} | values
    return RunResult(chapter=chapter.name, notebook=target, parameters=full, glued=glued)
