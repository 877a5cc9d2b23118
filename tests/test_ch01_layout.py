"""Chapter 01 runs with its --fast parameters and glues the detector numbers other tools read."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("01_detector_layout").glued


def test_counts_are_glued_as_exact_ints(glued):
    assert glued["n_lpmt"] == 17612 and isinstance(glued["n_lpmt"], int), "PPNP22: 17,612 LPMTs"
    assert glued["n_lpmt_hamamatsu"] == 4996 and isinstance(glued["n_lpmt_hamamatsu"], int), "PPNP22: 4,996"
    assert glued["n_spmt"] == 25600 and isinstance(glued["n_spmt"], int), "seed 000: 25,600 SPMTs"


def test_coverages_are_fractions_near_published(glued):
    assert isinstance(glued["coverage_lpmt"], float) and isinstance(glued["coverage_spmt"], float)
    assert glued["coverage_lpmt"] == pytest.approx(0.75, abs=0.01), "PPNP22: ~75% LPMT coverage (a fraction)"
    assert glued["coverage_spmt"] == pytest.approx(0.03, abs=0.01), "seed 003: ~3% SPMT coverage (a fraction)"
    # the ray-tracing cross-check in the chapter agrees with the solid angles
    assert glued["ray_lpmt_pct"] == pytest.approx(100 * glued["coverage_lpmt"], abs=0.1)
    assert glued["ray_spmt_pct"] == pytest.approx(100 * glued["coverage_spmt"], abs=0.05)


def test_detector_numbers_and_sampling_check(glued):
    assert glued["ls_mass_kt"] == pytest.approx(20.0, abs=0.2), "seed 000: 20 kton of LS"
    assert glued["min_gap_mm"] >= 0.0, "no overlapping photocathodes"
    assert glued["n_sample"] == 20000, "--fast uses the declared small sample"
    assert abs(glued["r3_pull"]) < 4 and abs(glued["cos_pull"]) < 4, "uniform vertices: <(r/R)^3> = 1/2"
