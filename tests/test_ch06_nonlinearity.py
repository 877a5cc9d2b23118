"""Chapter 6 runs with its --fast statistics; its glued contract values are plain numbers in
physical ranges and carry the physics: a sub-per-cent positron-scale bias, an effective Birks
constant of the right size, and an instrumental non-linearity reduced by dual calorimetry."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("chapter-06")]

CONTRACT = ("nl_bias_max_positron", "nl_bias_max_positron_sources_only", "instrumental_nl_residual",
            "kB_median", "kC_median", "tau_max", "n_eff_min")


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("06_nonlinearity").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in CONTRACT:
        assert isinstance(glued[key], float), f"{key} = {glued[key]!r}"


def test_positron_scale_bias_is_sub_percent(glued):
    # seed 000 quotes ~0.2% after the gamma-source + 12B fit; the model mismatch here is of that size
    for key in ("nl_bias_max_positron", "nl_bias_max_positron_sources_only"):
        assert 0.0 < glued[key] < 0.01, f"{key} = {glued[key]}: the calibration model misses only small effects"


def test_birks_constant_is_an_effective_value_of_the_right_size(glued):
    # the fit's kB absorbs the missing density effect; it must stay near the 12-15e-3 of SIM/GNA
    assert 0.008 < glued["kB_median"] < 0.025, glued["kB_median"]
    assert 0.0 < glued["kC_median"] < 20.0, glued["kC_median"]


def test_dual_calorimetry_reduces_the_instrumental_nonlinearity(glued):
    assert glued["instrumental_nl_residual"] < 0.5 * glued["instrumental_nl_raw_pct"] / 100, (
        "the LPMT/SPMT laser scan must remove most of the channel non-linearity")
    assert glued["ibd_max_pe"] < glued["laser_max_pe"], "the scan covers the IBD range"


def test_chain_diagnostics(glued):
    assert glued["tau_max"] > 1.0
    assert glued["n_eff_min"] > 50, "even the --fast chains give tens of independent samples"
    assert glued["chain_over_tau"] == pytest.approx(glued["n_steps_used"] / glued["tau_max"])
    assert 0.15 < glued["acceptance"] < 0.8, "stretch-move acceptance"


def test_annihilation_in_flight_is_glued_from_the_library(glued):
    from juno_calib.particles.annihilation import in_flight_probability
    from juno_calib.particles.scintillator import Scintillator

    p7 = float(in_flight_probability(7.0, Scintillator.load()))
    assert glued["p_flight_7mev_pct"] == pytest.approx(100 * p7, rel=1e-3), "interpolated on the figure grid"
    assert 5.0 < glued["p_flight_7mev_pct"] < 20.0, "Heitler along the path: several percent at 5-8 MeV"
    # the gammas take over part of the kinetic energy: the response moves by << 1%, downwards
    # (gammas of a few MeV give slightly less light than a positron track of the same energy)
    assert -0.2 < glued["flight_shift_8mev_pct"] < 0.0
    assert abs(glued["nl_bias_max_positron_pct"] - glued["nl_bias_max_positron_at_rest_pct"]) < 0.2
