"""Shared fixtures: a seeded generator, the design configuration's parameter sets and response,
and a chapter runner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from juno_calib.core.rng import make_rng

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_ignore_collect(collection_path, config):
    """``tests/browser`` looks at the built book in a browser: ``make check-book`` runs it after
    ``make book``; a plain ``pytest`` (``make test``) collects it only when it is named."""
    path = Path(collection_path).resolve()
    if path != BROWSER_TESTS and BROWSER_TESTS not in path.parents:
        return None
    named = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    if any(a == BROWSER_TESTS or BROWSER_TESTS in a.parents for a in named):
        return None
    return True


#: chapters whose tests share a file with another chapter's run on that chapter's worker
_SHARED_WORKER = {"08": "02"}


def pytest_collection_modifyitems(config, items):
    """``make test`` runs on both cores (pytest-xdist, ``--dist loadgroup``). A chapter run is
    cached per worker (:func:`run_fast`), so every test that runs chapter NN (``test_chNN_*.py``
    and the ``name``-parametrised tests of ``test_chapters.py``) goes to one worker: each chapter
    is executed once, and different chapters run in parallel."""
    for item in items:
        if item.get_closest_marker("notebook") is None:
            continue
        match = re.match(r"test_ch(\d\d)", item.path.name)
        chapter = match.group(1) if match else None
        callspec = getattr(item, "callspec", None)
        if chapter is None and callspec is not None and "name" in callspec.params:
            chapter = str(callspec.params["name"])[:2]
        if chapter is not None:
            item.add_marker(pytest.mark.xdist_group(f"chapter-{_SHARED_WORKER.get(chapter, chapter)}"))


@pytest.fixture
def rng():
    """A generator with a fixed seed: tests are reproducible, never tuned to a seed."""
    return make_rng(20211004)


@pytest.fixture(scope="session")
def geometry():
    from juno_calib.detector.geometry import Geometry

    return Geometry.load("design")


@pytest.fixture(scope="session")
def optics():
    from juno_calib.detector.optics import Optics

    return Optics.load("design")


@pytest.fixture(scope="session")
def scint():
    from juno_calib.particles.scintillator import Scintillator

    return Scintillator.load("design")


@pytest.fixture(scope="session")
def response():
    """The design detector response with a coarser total map (the tests measure its accuracy)."""
    from juno_calib.detector.response import DetectorResponse

    return DetectorResponse.load("design", map_shape=(48, 9))


@pytest.fixture(scope="session")
def run_fast(tmp_path_factory):
    """Run a chapter with its ``--fast`` overrides (plus ``extra`` values); return glued values.

    Results are cached per (chapter, parameters) for the session.
    """
    from juno_calib.book.runner import run_chapter

    cache = {}
    out = tmp_path_factory.mktemp("runs")

    def _run(chapter: str, **extra):
        key = (chapter, tuple(sorted(extra.items())))
        if key not in cache:
            cache[key] = run_chapter(chapter, extra, fast=True, out_dir=out, progress=False)
        return cache[key]

    return _run
