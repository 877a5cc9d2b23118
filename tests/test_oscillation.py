"""Three-flavour ν̄e survival probability: analytic limits, averaging, the ordering signature,
the matter term, and the parameter sets (PDG 2022, JUNO 2025)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.reach import oscillation as osc

km, eV2 = units.km, units.eV**2


@pytest.fixture(scope="module")
def no():
    return osc.load_parameters("global", "normal")


def test_no_oscillation_at_zero_baseline(no):
    e = np.linspace(1.81, 12.0, 50)
    for p in (no, no.other_ordering()):
        assert np.allclose(osc.survival_probability(e, 0.0, p), 1.0, atol=1e-14), "P(L -> 0) = 1"
        assert np.allclose(osc.survival_probability(e, 1e-3 * units.m, p), 1.0, atol=1e-9)


def test_fast_oscillations_average_to_the_incoherent_sum(no):
    # over ~100 periods of the solar term (period ~99 km at 3 MeV) every sin^2 averages to 1/2
    L = np.linspace(1000.0, 11000.0, 400001) * km
    mean = osc.survival_probability(3.0, L, no).mean()
    assert mean == pytest.approx(osc.averaged_survival_probability(no), abs=2e-3), (
        "<P> = 1 - cos^4(t13) sin^2(2 t12)/2 - sin^2(2 t13)/2 when all phases average")


def test_probability_is_bounded_and_ordering_shows_at_juno(no):
    e = np.linspace(1.81, 10.0, 3000)
    p_no = osc.survival_probability(e, 52.5 * km, no)
    p_io = osc.survival_probability(e, 52.5 * km, no.other_ordering())
    assert np.all((p_no >= 0) & (p_no <= 1)) and np.all((p_io >= 0) & (p_io <= 1))
    assert np.max(np.abs(p_no - p_io)) > 0.02, "the orderings differ in the fast ripple at 52.5 km"
    same = dataclasses.replace(no, sin2_theta13=0.0)
    assert np.allclose(osc.survival_probability(e, 52.5 * km, same),
                       osc.survival_probability(e, 52.5 * km, same.other_ordering()), atol=1e-13), (
        "with theta13 = 0 the ordering is invisible")


def test_other_ordering_keeps_dm2_ee(no):
    io = no.other_ordering()
    assert io.ordering == "inverted" and io.dm2_31 < 0
    assert io.dm2_ee == pytest.approx(no.dm2_ee, rel=1e-12)
    assert abs(io.dm2_32) > abs(io.dm2_31), "IO: |dm32| = |dm31| + dm21"
    assert io.other_ordering().dm2_31 == pytest.approx(no.dm2_31, rel=1e-12)


def test_parameter_sets_carry_the_published_values():
    g = osc.load_parameters("global", "normal")
    j = osc.load_parameters("juno2025", "normal")
    assert j.sin2_theta12 == pytest.approx(0.3092) and j.dm2_21 == pytest.approx(7.50e-5 * eV2), (
        "OSC25 (JUNO 2025): sin^2 theta12 = 0.3092 +- 0.0087, dm21 = (7.50 +- 0.12)e-5 eV^2")
    assert osc.fit_errors("juno2025")["sin2_theta12"] == pytest.approx(0.0087)
    assert g.dm2_31 == pytest.approx((2.453e-3 + 7.53e-5) * eV2), "PDG 2022: dm31 = dm32 + dm21 (NO)"
    assert osc.load_parameters("global", "inverted").dm2_31 == pytest.approx((-2.536e-3 + 7.53e-5) * eV2)


def test_matter_reduces_to_vacuum_and_is_a_percent_level_effect(no):
    e = np.linspace(1.9, 8.0, 400)
    vac = osc.survival_probability(e, 52.5 * km, no)
    zero = osc.survival_probability_matter(e, [52.5 * km], no, density=0.0)[0]
    assert np.allclose(zero, vac, atol=1e-10), "exact diagonalisation with V = 0 is the vacuum formula"
    mat = osc.survival_probability_matter(e, [0.0, 52.5 * km], no)
    assert np.allclose(mat[0], 1.0, atol=1e-12)
    # the potential 2EV / dm21 is ~1% at 4 MeV (Khan, Nunokawa, Parke 2020): P moves by < 0.01
    assert 1e-4 < np.max(np.abs(mat[1] - vac)) < 0.01
    ratio = 2 * 4.0 * osc.matter_potential() / no.dm2_21
    assert 0.005 < ratio < 0.015


def test_bad_input_is_refused(no):
    with pytest.raises(ValueError, match="e_nu"):
        osc.survival_probability(-1.0, 52.5 * km, no)
    with pytest.raises(ValueError, match="baseline"):
        osc.survival_probability(3.0, -1.0, no)
    with pytest.raises(ValueError, match="sin2_theta12"):
        dataclasses.replace(no, sin2_theta12=1.2)
    with pytest.raises(ValueError, match="ordering"):
        osc.load_parameters("global", "sideways")
    with pytest.raises(ValueError, match="fit"):
        osc.load_parameters("nufit99")
