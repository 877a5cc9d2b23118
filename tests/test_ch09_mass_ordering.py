"""Chapter 9 runs with its --fast settings; its glued numbers carry the physics of the NMO
sensitivity: the seed's rate, Δχ² near seed 003's table, and the right ordering of effects."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.notebook

CONTRACT = ("dchi2_stat_6y", "dchi2_6y_with_nl", "years_to_3sigma", "dchi2_6y_abar_3p12", "n_ibd_per_day")


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("09_mass_ordering").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in CONTRACT:
        assert isinstance(glued[key], float), f"{key} = {glued.get(key)!r}"


def test_rate_is_the_seed_rate(glued):
    assert glued["n_ibd_per_day"] == pytest.approx(47.0, rel=1e-6), "seed 003: 47 IBD/day after selection"
    assert 0.6 < glued["efficiency_implied"] < 1.0
    assert glued["bkg_fraction"] == pytest.approx(0.09, abs=0.01), "seed 003: backgrounds ~9%"


def test_stat_only_near_seed_003(glued):
    # seed 003 / NMO24: statistics only, 6 years x 26.6 GW_th: 11.3 (model differences: +-15%)
    assert glued["dchi2_stat_6y"] == pytest.approx(11.3, rel=0.15)
    assert glued["dchi2_row_total"] == pytest.approx(9.0, rel=0.2), "seed 003 total with systematics: 9.0"


def test_effects_go_the_right_way(glued):
    stat = glued["dchi2_stat_6y"]
    assert glued["dchi2_6y_with_nl"] < stat, "an NL band can only lower the sensitivity"
    assert glued["dchi2_6y_abar_3p12"] < stat, "a_eff = 3.12% is worse than the default 3.02%"
    assert glued["dchi2_row_total"] < min(glued["dchi2_row_flux"], glued["dchi2_row_backgrounds"])
    assert glued["years_to_3sigma_stat"] == pytest.approx(9.0 * 6.0 / stat, rel=1e-6), "stat-only is linear"
    assert glued["years_to_3sigma_stat"] < glued["years_to_3sigma"] < 12.0
    assert glued["dchi2_at_years_3s"] == pytest.approx(9.0, abs=0.3)
