"""The source catalogue reproduces seed 000, Table 1 and the nuclear data it is built from."""

from __future__ import annotations

import math

import pytest

from juno_calib.core import units
from juno_calib.hardware.sources import NAMES, Emission, capture_fractions, catalogue, get_source


def test_catalogue_is_table1_of_seed000():
    cat = catalogue()
    assert tuple(cat) == NAMES
    # seed 000, Table 1: the radiation each source is calibrated with (MeV), 1 keV tolerance
    table1 = {"Cs137": 0.662, "Mn54": 0.835, "Co60": 1.173 + 1.333, "K40": 1.461, "Ge68": 2 * 0.511,
              "nH": 2.22, "nC12": 4.94}
    for name, e in table1.items():
        assert cat[name].peak_energy() == pytest.approx(e, abs=6e-3), f"{name}: seed 000 Table 1 gives {e} MeV"
    assert 4.43891 in cat["AmBe"].gamma_lines(), "Am-Be: 12C* 4.43 MeV (seed 000 prints 4.42)"
    assert 6.12989 in cat["AmC"].gamma_lines(), "Am-C: 16O* 6.13 MeV (seed 000 Table 1)"


def test_branch_fractions_of_the_brief_and_physics_inputs():
    ambe, amc = get_source("AmBe"), get_source("AmC")
    assert [b.probability for b in ambe.branches] == [0.392, 0.608], "SIM generator branches"
    assert [b.probability for b in amc.branches] == [0.831, 0.085, 0.084], "SIM generator branches"
    assert all(b.neutron for b in ambe.branches + amc.branches), "every Am-Be/Am-C branch emits a neutron"
    ge = get_source("Ge68").branches[0]
    assert ge.back_to_back and ge.gammas == (pytest.approx(0.511, abs=1e-3),) * 2
    k40 = get_source("K40")
    assert k40.peak_fraction() == pytest.approx(0.107, abs=1e-3), "40K: 10.7% EC branch with the 1.461 MeV gamma"


def test_half_lives_against_nuclear_data():
    # ENSDF/NNDC values, 0.1% tolerance: a unit slip (days vs years) would fail by orders of magnitude
    expected = {"Cs137": 30.08 * units.year, "Mn54": 312.2 * units.day, "Co60": 5.2714 * units.year,
                "Ge68": 270.93 * units.day, "K40": 1.248e9 * units.year, "AmC": 432.6 * units.year}
    for name, t in expected.items():
        assert get_source(name).half_life == pytest.approx(t, rel=1e-3), f"{name} half-life (ENSDF)"
    assert math.isinf(get_source("nH").half_life) and get_source("nH").activity == 0


def test_decay_law_half_life():
    s = get_source("Ge68")
    assert s.activity_after(2 * s.half_life) == pytest.approx(s.activity / 4, rel=1e-12)


def test_neutron_capture_on_hydrogen_dominates():
    # n_H sigma_H / (n_H sigma_H + n_C sigma_C) with 0.3326 b (1H) and 3.53 mb (natural C,
    # Mughabghab 2006) and the LS mass fractions 12.2/87.8 (SIM)
    f = capture_fractions()
    expected = 1.0 / (1.0 + (0.878 / 12.011) * 3.53e-3 / ((0.122 / 1.008) * 0.3326))
    assert f["nH"] == pytest.approx(expected, rel=1e-9)
    assert f["nH"] + f["nC12"] == pytest.approx(1.0)
    assert 0.99 < f["nH"] < 0.995, "captures on 12C are below 1% in a LAB scintillator"


def test_overrides_and_bad_inputs_are_rejected_clearly():
    assert get_source("AmC", activity=50 * units.Bq).activity == 50 * units.Bq
    with pytest.raises(ValueError, match=r"AmC.activity = -5 Bq is outside the allowed range"):
        get_source("AmC", activity=-5 * units.Bq)
    with pytest.raises(ValueError, match="unknown source 'Am241'; valid names: Cs137"):
        get_source("Am241")
    with pytest.raises(ValueError, match="unknown Source field"):
        get_source("Cs137", activty=1.0)
    with pytest.raises(ValueError, match="capture process has no activity"):
        get_source("nH", activity=1 * units.Bq)
    with pytest.raises(ValueError, match="sum to 0.9"):
        get_source("Mn54", branches=(Emission(0.9, (0.8,)),))
    with pytest.raises(ValueError, match="Emission.probability = 1.5"):
        Emission(1.5)
