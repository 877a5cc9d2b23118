"""Tables that cost seconds to compute and depend only on their inputs, kept on disk.

One folder, ``$JUNO_CALIB_CACHE`` or ``~/.cache/juno_calib``, holds ``<kind>-<key>.npz`` files:
the photon-transport tables (:mod:`juno_calib.detector.transport`), the response's total map
(:mod:`juno_calib.detector.response`) and the reconstructed-vertex samples
(:mod:`juno_calib.calibration.vertex_model`). The key is a SHA-256 of every input *and* of the
source code that computes the table (:func:`code_digest`), so a file is never stale for its
inputs: a change of a parameter or of the code gives a new key, and the old file is not read
again. Files are written to a temporary name and renamed (atomic on POSIX): a build that is
interrupted, or two processes building the same table, never leave a partial file. Deleting the
folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

#: the package folder (code digests are taken relative to it)
PACKAGE = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """The cache folder: ``$JUNO_CALIB_CACHE`` or ``~/.cache/juno_calib``."""
    env = os.environ.get("JUNO_CALIB_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "juno_calib"


def code_digest(parts: Iterable[str], *, data: bool = True) -> str:
    """SHA-256 (hex) of the package's source files under ``parts`` (e.g. ``"detector"``,
    ``"particles/gamma.py"``), plus every ``data/*.yaml`` file if ``data``."""
    h = hashlib.sha256(np.__version__.encode())
    files: list[Path] = []
    for part in parts:
        p = PACKAGE / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    if data:
        files += sorted((PACKAGE.parent / "data").glob("*.y*ml"))
    for f in files:
        h.update(str(f.relative_to(PACKAGE.parent)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def digest(obj) -> str:
    """SHA-256 (hex) of a JSON-able description of inputs; arrays count by their bytes."""
    def default(x):
        if isinstance(x, np.ndarray):
            return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() + str(x.shape) + str(x.dtype)
        return repr(x)

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=default).encode()).hexdigest()


def path_for(kind: str, key: str, directory: str | Path | None = None) -> Path:
    """``<directory or cache_dir()>/<kind>-<key[:24]>.npz``."""
    return (cache_dir() if directory is None else Path(directory)) / f"{kind}-{key[:24]}.npz"


def load(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file whose stored key is ``key``; None if absent, unreadable or
    written for other inputs (a hash-prefix collision)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            if str(f["__key__"]) != key:
                return None
            return {k: f[k] for k in f.files if k != "__key__"}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # a damaged file is rebuilt, not trusted


def save(path: Path, key: str, arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> Path:
    """Write ``arrays`` (and ``key``) to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    (np.savez_compressed if compress else np.savez)(tmp, __key__=np.array(key), **arrays)
    os.replace(tmp, path)
    return path


def cached(kind: str, key: str, build: Callable[[], Mapping[str, np.ndarray]], *, use: bool = True,
           directory: str | Path | None = None, compress: bool = False) -> tuple[dict[str, np.ndarray], bool]:
    """``(arrays, from_disk)``: the cached arrays of ``kind``/``key``, or ``build()`` written to
    the cache (``use=False``: always build, never read or write)."""
    path = path_for(kind, key, directory)
    if use:
        hit = load(path, key)
        if hit is not None:
            return hit, True
    arrays = dict(build())
    if use:
        save(path, key, arrays, compress=compress)
    return arrays, False
