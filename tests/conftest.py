"""Shared fixtures: a seeded generator, the design configuration's parameter sets and response,
and a chapter runner."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from juno_calib.core.rng import make_rng

# --- Hypothesis profiles (tests/test_properties.py) -------------------------------------------
# "ci" (the default, used by `make test`): a few examples per public function, ~10 s of the suite
# on 2 shared cores; "long": many examples (~4 min), on demand:
#     JUNO_CALIB_HYPOTHESIS=long pytest tests/test_properties.py
# The deadline is per example (a slow example is an error, not a pass); a hang inside one call is
# caught by the SIGALRM guard of test_properties.py.
_COMMON = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much], print_blob=True)
# ci: derandomized, so that a CI run is reproducible (the same examples every time); long: random
settings.register_profile("ci", max_examples=12, deadline=timedelta(seconds=20), derandomize=True,
                          **_COMMON)
settings.register_profile("long", max_examples=400, deadline=timedelta(seconds=60), **_COMMON)
settings.load_profile(os.environ.get("JUNO_CALIB_HYPOTHESIS", "ci"))

#: counts of the property tests: calls made and bad inputs rejected with the library's error
PROPERTY_LOG = {"calls": 0, "rejected": 0, "accepted": 0, "functions": set()}


@pytest.fixture(scope="session")
def property_log():
    return PROPERTY_LOG


def pytest_terminal_summary(terminalreporter):
    if PROPERTY_LOG["calls"]:
        terminalreporter.write_line(
            f"property tests ({settings.default.max_examples} examples per test, profile "
            f"{os.environ.get('JUNO_CALIB_HYPOTHESIS', 'ci')}): {len(PROPERTY_LOG['functions'])} public "
            f"functions, {PROPERTY_LOG['calls']} calls, {PROPERTY_LOG['rejected']} rejected with the "
            f"library's own error, {PROPERTY_LOG['accepted']} returned results that met the invariants")


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


# `make test` runs on both cores (pytest-xdist, ``--dist loadgroup``). A chapter run is cached per
# worker (:func:`run_fast`), so every test that runs chapter NN carries the marker
# ``xdist_group("chapter-NN")`` in its file (chapter 8 shares chapter 2's file and group): each
# chapter is executed once, on one worker, and different chapters run in parallel. The markers are
# static: a collection hook that added them ran after pytest-xdist had read the groups, so every
# chapter ran twice.


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

    response = DetectorResponse.load("design", map_shape=(48, 9))
    _ = response.total_map  # tabulated here, not inside the first property-test example's deadline
    return response


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
