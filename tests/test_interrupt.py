"""Ctrl-C during ``juno-calib run``: a real subprocess in its own session gets SIGINT on its
process group (what a terminal's Ctrl-C does) while a chapter executes. The run must stop
promptly with status 130 and a one-line message, shut its kernel down, remove the partial
notebook and leave the previous notebook and JSON byte for byte as they were."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "03_detector_response"
#: generous bound on how long a stop may take (kernel interrupt + shutdown, no cell is finished);
#: a hang, not a speed, is what it detects
STOP_WITHIN_S = 60.0


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")
def test_ctrl_c_stops_the_run_and_keeps_earlier_outputs(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    previous_nb = out / f"{CHAPTER}.ipynb"
    previous_json = tmp_path / "glued.json"
    previous_nb.write_text('{"previous": "notebook"}\n')
    previous_json.write_text('{"previous": "json"}\n')
    partial = out / f".{CHAPTER}.partial.ipynb"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "juno_calib", "run", CHAPTER, "--fast", "--out", str(out),
         "--json", str(previous_json)],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # wait until cells are executing: the partial notebook exists and was rewritten (papermill
        # saves it after every cell), and the kernel is a child of the run
        deadline = time.monotonic() + 120
        first = None
        while time.monotonic() < deadline and proc.poll() is None:
            if partial.exists():
                first = first or partial.stat().st_mtime_ns
                if partial.stat().st_mtime_ns != first and _children(proc.pid):
                    break
            time.sleep(0.2)
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()}"
        kernels = _children(proc.pid)
        assert kernels, "no kernel process found under the run"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
        t0 = time.monotonic()
        stdout, stderr = proc.communicate(timeout=STOP_WITHIN_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert time.monotonic() - t0 < STOP_WITHIN_S
    assert proc.returncode == 130, (proc.returncode, stderr[-2000:])
    lines = [ln for ln in stderr.splitlines() if ln.startswith("juno-calib:")]
    assert len(lines) == 1 and "interrupted" in lines[0], stderr[-2000:]
    assert "Traceback" not in stderr
    assert previous_nb.read_text() == '{"previous": "notebook"}\n', "previous notebook overwritten"
    assert previous_json.read_text() == '{"previous": "json"}\n', "previous JSON overwritten"
    assert not partial.exists(), "partial notebook left behind"
    assert not (out / f"{CHAPTER}.failed.ipynb").exists()
    time.sleep(1.0)
    assert not [k for k in kernels if _alive(k)], "the kernel outlived the interrupted run"
