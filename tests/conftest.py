"""Shared fixtures: a seeded generator, the design configuration's parameter sets and response,
and a chapter runner."""

from __future__ import annotations

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
