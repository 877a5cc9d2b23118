"""Chapter 01 runs with its --fast parameters and glues the detector numbers other tools read."""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("chapter-01")]


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("01_detector_layout").glued


def test_counts_are_glued_as_exact_ints(glued):
    assert glued["n_lpmt"] == 17612 and isinstance(glued["n_lpmt"], int), "PPNP22: 17,612 LPMTs"
    assert glued["n_lpmt_hamamatsu"] == 4996 and isinstance(glued["n_lpmt_hamamatsu"], int), "PPNP22: 4,996"
    assert glued["n_spmt"] == 25600 and isinstance(glued["n_spmt"], int), "seed 000: 25,600 SPMTs"


def _cap(n, radius_mm, distance_mm):
    """Coverage of n identical disks facing the centre: n (1 - cos alpha) / 2, tan alpha = a / d."""
    return n * (1.0 - distance_mm / math.hypot(distance_mm, radius_mm)) / 2.0


def test_spmt_coverage_is_the_analytic_value(glued):
    # pinned: 25,600 photocathodes of radius 36 mm at 19.384 m (data/geometry.yaml, SIM and JUNOSW-DOC)
    assert isinstance(glued["coverage_spmt"], float)
    assert glued["coverage_spmt"] == pytest.approx(_cap(25600, 36.0, 19384.0), rel=1e-9)
    assert glued["coverage_spmt_glass_pct"] / 100 == pytest.approx(_cap(25600, 40.0, 19384.0), rel=1e-9)


def test_coverages_against_the_published_figures(glued):
    # the published figures have one (SPMT "~3%", seed 003) and two (LPMT "~75%", PPNP22)
    # significant digits: a value that rounds to them lies within half a unit of the last digit
    assert isinstance(glued["coverage_lpmt"], float)
    assert glued["coverage_lpmt"] == pytest.approx(0.75, abs=0.005), "PPNP22: ~75% LPMT coverage"
    # the model's SPMT photocathodes give 2.2%, which does not round to 3%: the quoted figure counts
    # the 80 mm glass dome (2.7%), as chapter 1 says; the test pins that reading of the figure
    assert round(glued["coverage_spmt_glass_pct"]) == 3, "seed 003: ~3% SPMT coverage (glass domes)"
    assert round(100 * glued["coverage_spmt"]) == 2, "the photocathodes alone: 2%, stated in chapter 1"
    # the ray-tracing cross-check in the chapter agrees with the solid angles
    assert glued["ray_lpmt_pct"] == pytest.approx(100 * glued["coverage_lpmt"], abs=0.1)
    assert glued["ray_spmt_pct"] == pytest.approx(100 * glued["coverage_spmt"], abs=0.05)


def test_detector_numbers_and_sampling_check(glued):
    assert glued["ls_mass_kt"] == pytest.approx(20.0, abs=0.2), "seed 000: 20 kton of LS"
    assert glued["min_gap_mm"] >= 0.0, "no overlapping photocathodes"
    assert glued["n_sample"] == 20000, "--fast uses the declared small sample"
    assert abs(glued["r3_pull"]) < 4 and abs(glued["cos_pull"]) < 4, "uniform vertices: <(r/R)^3> = 1/2"
