"""Chapter 3 runs with its --fast statistics and its glued numbers carry the physics: the
configured light yield, the total-reflection radius, Poisson-limited resolution at the centre."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("chapter-03")]


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("03_detector_response").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in ("light_yield_center", "r_total_reflection_m", "sigma_over_e_ge68_center",
                "sigma_over_e_1mev_center", "a_fv_charge", "sigma_over_e_ge68_center_charge"):
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
    # c = sqrt(N_dark) / Y0 (seed 000, Eq. 1) within 4 sigma of the fit's own error: with --fast's 400
    # events per energy point c is known to ~20% (the band is statistics, not a model tolerance); the
    # exact Poisson + dark-noise variance behind c is tested with large samples in
    # tests/test_response.py::test_total_path_is_poisson_with_the_map_mean
    c_expected = np.sqrt(glued["dark_lpmt_pe"]) / 1345.0
    assert abs(c - c_expected) < 4 * glued["res_c_err_pct"] / 100, (c, c_expected, glued["res_c_err_pct"])


def test_ge68_width_is_point_like_width_plus_the_cascade_light_spread(glued):
    # prediction: (sigma/E)^2 = point-like width at the same e_vis (the fitted a, b, c) + the relative
    # spread of the decays' summed visible energy (no photo-statistics). Band: 4 sigma of the
    # measured width, from the peak fit with the seed and --fast statistics used
    point, spread = glued["ge68_point_pct"] / 100, glued["ge68_evis_width_pct"] / 100
    predicted = np.hypot(point, spread)
    measured, err = glued["sigma_over_e_ge68_center"], glued["sigma_over_e_ge68_err"]
    assert abs(measured - predicted) < 4 * err, (measured, predicted, err)
    assert spread > 0, "two gamma sharing their energy among Compton electrons: never a single line"


def test_gamma_nonlinearity_below_electron_at_1mev(glued):
    assert glued["nl_gamma_1mev"] < glued["nl_electron_1mev"], "gamma light per MeV < electron (quenching)"
    assert glued["nl_positron_1p5mev"] < glued["nl_electron_1mev"]


def test_non_uniformity_shape(glued, response):
    # g_max is the largest node of the map: the direct per-PMT model at that node (exact), and
    # within the map's measured interpolation error (map_max_pct) of the model's true maximum along
    # the same line (a fine radial scan of the direct model)
    m = 1000.0
    cos_t, r_max = glued["g_max_cos"], glued["r_g_max_m"] * m
    u = np.array([np.sqrt(1 - cos_t**2), 0.0, cos_t])
    centre = response.expected_total(np.zeros((1, 3)))["lpmt"][0]
    node = response.expected_total(r_max * u[None, :])["lpmt"][0] / centre
    assert glued["g_max"] == pytest.approx(node, rel=1e-9), "map nodes are the direct model"
    r = np.append(np.linspace(12.0 * m, glued["r_total_reflection_m"] * m, 60), r_max)
    scan = response.expected_total(r[:, None] * u[None, :])["lpmt"] / centre
    assert glued["g_max"] <= scan.max() * (1 + 1e-9)
    assert scan.max() - glued["g_max"] < glued["map_max_pct"] / 100 * scan.max(), "the map's own error"
    assert glued["g_max"] > 1.0, "yield rises towards the edge"
    assert glued["r_g_max_m"] < glued["r_total_reflection_m"]
    assert glued["g_edge"] < glued["g_max"] - 0.2, "and collapses past total reflection"


def test_charge_resolution_is_photo_statistics_times_the_excess_noise_factor(glued):
    # centre, electrons: a in charge = sqrt(ENF / Y0) for the LPMT signal's ENF (compound Poisson),
    # within 4 sigma of the fit's own error
    a, err = glued["res_a_charge_pct"], glued["res_a_charge_err_pct"]
    assert abs(a - glued["res_a_charge_expected_pct"]) < 4 * err, (a, glued["res_a_charge_expected_pct"], err)
    assert glued["res_a_charge_expected_pct"] == pytest.approx(
        glued["res_a_expected_pct"] * np.sqrt(glued["enf_lpmt_signal"]), rel=1e-9)


def test_a_fv_charge_is_the_volume_average_of_the_charge_photo_statistics(glued):
    # fiducial volume, perfect map: a^2 = ENF <1/g>_FV / Y0 (the ENF of the signal PE)
    a, err = glued["a_fv_charge"], glued["a_fv_charge_err"]
    assert abs(a - glued["a_fv_charge_expected"]) < 4 * err, (a, glued["a_fv_charge_expected"], err)
    assert glued["inv_g_fv"] < 1.0, "g > 1 over most of the fiducial volume: more light than at the centre"


def test_as_built_ge68_budget_adds_up(glued):
    # the quadrature sum of the model's terms (photo-statistics, dark noise, gamma cascade, SPE
    # charge) predicts the simulated as-built charge peak within 4 sigma of its fit error
    assert abs(glued["ab_sum_charge"] - glued["ab_sim_charge"]) < 4 * glued["ab_sim_charge_err"]
    assert abs(glued["ab_sum_pe"] - glued["ab_sim_pe"]) < 4 * glued["ab_sim_pe_err"]
    # photo-statistics at PERF25's 1,785 PE/MeV for the peak's visible energy
    assert glued["ab_photo"] == pytest.approx(1 / np.sqrt(1785.0 * glued["ab_e_vis"]), rel=0.02)
    assert glued["ab_charge_no_tail"] < glued["ab_charge"] < glued["ab_charge_double_tail"]
