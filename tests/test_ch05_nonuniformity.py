"""Chapter 5 runs with its --fast statistics and its glued numbers carry the physics: the map
buys resolution, the uncorrected detector is far worse, the terms of Eq. 1 are physical."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("chapter-05")]

CONTRACT = ("a", "b", "c", "abar", "residual_nonuniformity_fv", "n_points", "abar_uncorrected",
            "abar_acu_only", "residual_nonuniformity_fv_3d")


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("05_nonuniformity").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in CONTRACT:
        assert isinstance(glued[key], float), f"{key} = {glued[key]!r}"


def test_the_plan_has_the_requested_number_of_points(glued):
    # --fast asks for 100 points; the plan rule tunes one spacing to get as close as it can
    assert abs(glued["n_points"] - 100) <= 5


def test_resolution_at_1mev_is_photo_statistics_and_dark_noise(glued):
    # sigma/E at 1 MeV without b is sqrt(a^2 + c^2) (the 9-energy fit trades a against c, their
    # sum in quadrature is well measured): at least the Poisson width of Y0 g PE (g <= 1.25 in the
    # fiducial volume, chapter 3) with the dark noise, at most 1.5 times it (the positrons' own
    # visible-energy spread adds)
    poisson = np.sqrt(1 / (glued["y0"] * 1.25) + (glued["c_dark_pct"] / 100) ** 2)
    at_1mev = np.hypot(glued["a"], glued["c"])
    assert 0.95 * poisson < at_1mev < 1.5 * poisson, f"sqrt(a^2 + c^2) = {at_1mev:.4f}, Poisson {poisson:.4f}"


def test_correction_buys_resolution(glued):
    assert glued["abar"] < glued["abar_uncorrected"] - 0.02, (
        "uncorrected, the ~10% non-uniformity of g over the fiducial volume must dominate a-bar")
    assert glued["residual_nonuniformity_fv"] < 0.3 * glued["residual_uncorrected_pct"] / 100
    assert 0.02 < glued["abar"] < 0.045, "a-bar of a 1,345 PE/MeV detector after correction (seed 000: 3.12%)"


def test_acu_alone_is_not_better_than_the_full_plan(glued):
    # fewer points cannot map better; the --fast positron statistics allow 0.15 points of noise
    assert glued["abar_acu_only"] > glued["abar"] - 0.0015


def test_spallation_map_does_not_spoil_the_source_map(glued):
    assert glued["residual_nonuniformity_fv_3d"] < glued["residual_nonuniformity_fv"] + 0.002


def test_both_vertex_modes_are_shown_and_the_default_is_smeared(glued):
    for mode in ("smeared", "reconstructed"):
        for key in (f"abar_{mode}", f"residual_fv_{mode}"):
            assert isinstance(glued[key], float), f"{key} = {glued[key]!r}"
        assert 0.02 < glued[f"abar_{mode}"] < 0.045, f"a-bar with {mode} vertices of a 1,345 PE/MeV detector"
    # the default run's contract keys are those of the smeared vertex
    assert glued["abar"] == glued["abar_smeared"]
    assert glued["residual_nonuniformity_fv"] == glued["residual_fv_smeared"]


def test_vertex_model_reproduces_the_direct_reconstruction(glued):
    # the same validation events, corrected at their directly reconstructed vertex and at model
    # draws: a-bar and the vertex term agree within 4 bootstrap standard deviations
    for key in ("abar", "dg"):
        diff, err = glued[f"val_{key}_diff_pct"], glued[f"val_{key}_diff_err_pct"]
        assert abs(diff) < 4 * err, f"{key}: direct - model = {diff:.4f} +- {err:.4f} (points)"
    # a reconstruction that scatters the vertex: its term is not zero (g varies over the volume)
    assert glued["val_dg_direct_pct"] > 0 and glued["dg_all_reconstructed_pct"] > 0


def test_bad_parameters_are_rejected_before_running():
    from juno_calib.book.chapters import get_chapter

    ch = get_chapter("05_nonuniformity")
    with pytest.raises(ValueError, match="vertex_resolution_1mev"):
        ch.resolve({"vertex_resolution_1mev": -1.0})
    with pytest.raises((TypeError, ValueError), match="imperfections"):
        ch.resolve({"imperfections": 3})
    with pytest.raises(ValueError, match="spallation_days"):
        ch.resolve({"spallation_days": 0.0})
    with pytest.raises(ValueError, match="vertex"):
        ch.resolve({"vertex": "exact"})
    assert ch.resolve({"vertex": "reconstructed"})["vertex"] == "reconstructed"


def test_neutron_age_is_a_parameter_inside_its_monte_carlo_bracket(glued):
    # the Fermi age of Am-C neutrons (approx., data) lies between the slowing-down Monte Carlo's
    # bounds; it displaces the captures further than the old fission-in-water 27 cm2
    assert glued["tau_mc_carbon_cm2"] < glued["fermi_age_used_cm2"] < glued["tau_mc_no_carbon_cm2"]
    assert glued["capture_rms_after_cm"] > glued["capture_rms_before_cm"]
    for key in ("edge_visible", "edge_full", "gt_inside"):
        for when in ("before", "after"):
            assert 0.0 <= glued[f"{key}_{when}"] <= 1.0
    assert glued["edge_visible_after"] < 1.0, "near the acrylic some capture light is lost"
