"""Chapter 3 runs with its --fast statistics and its glued numbers carry the physics: the
configured light yield, the total-reflection radius, Poisson-limited resolution at the centre."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("03_detector_response").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in ("light_yield_center", "r_total_reflection_m", "sigma_over_e_ge68_center",
                "sigma_over_e_1mev_center"):
        assert isinstance(glued[key], float), f"{key} = {glued[key]!r}"


def test_light_yield_matches_the_design_configuration(glued):
    err = glued["light_yield_err"]
    assert abs(glued["light_yield_center"] - 1345.0) < 5 * err, (
        "dark-subtracted n-H peak / 2.223 MeV must return the design 1,345 PE/MeV (CALIB21)"
    )


def test_as_built_configuration_gives_its_light_yield_and_a_narrower_resolution(run_fast, glued):
    built = run_fast("03_detector_response", config="as_built").glued
    assert abs(built["light_yield_center"] - 1785.0) < 5 * built["light_yield_err"], (
        "as_built: the n-H peak at the centre must return PERF25's 1,785 PE/MeV")
    # photo-statistics term scales as 1/sqrt(Y0): sqrt(1345/1785) = 0.868
    assert built["res_a_pct"] / glued["res_a_pct"] == pytest.approx(np.sqrt(1345.0 / 1785.0), rel=0.1)


def test_total_reflection_radius(glued):
    assert glued["r_total_reflection_m"] == pytest.approx((17.70 + 0.12) * 1.333 / 1.4955, rel=1e-6), (
        "onset (R + t) n_w / n_LS: the water surface is outside the acrylic")
    assert glued["r_tir_thin_m"] == pytest.approx(17.70 * 1.333 / 1.4955, rel=1e-6), "textbook R n_w / n_LS"


def test_resolution_is_poisson_plus_dark_noise_at_the_centre(glued):
    a, c = glued["res_a_pct"] / 100, glued["res_c_pct"] / 100
    assert a == pytest.approx(1 / np.sqrt(1345.0), abs=4 * glued["res_a_err_pct"] / 100), "a = 1/sqrt(Y0)"
    expected_1mev = np.hypot(1 / np.sqrt(1345.0), np.sqrt(glued["dark_lpmt_pe"]) / 1345.0)
    assert glued["sigma_over_e_1mev_center"] == pytest.approx(expected_1mev, rel=0.1)
    assert 0.02 < glued["sigma_over_e_ge68_center"] < 0.06, "68Ge peak width at the centre (~0.9 MeV visible)"
    assert c == pytest.approx(np.sqrt(glued["dark_lpmt_pe"]) / 1345.0, rel=0.5)


def test_gamma_nonlinearity_below_electron_at_1mev(glued):
    assert glued["nl_gamma_1mev"] < glued["nl_electron_1mev"], "gamma light per MeV < electron (quenching)"
    assert glued["nl_positron_1p5mev"] < glued["nl_electron_1mev"]


def test_non_uniformity_shape(glued):
    assert 1.1 < glued["g_max"] < 1.5, "yield rises towards the edge"
    assert glued["r_g_max_m"] < glued["r_total_reflection_m"]
    assert glued["g_edge"] < glued["g_max"] - 0.2, "and collapses past total reflection"
