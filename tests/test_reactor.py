"""Reactor flux and IBD cross-section against their published numbers."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.reach import reactor

cm2 = units.cm**2


def test_ibd_threshold_is_1806_kev():
    thr = reactor.ibd_threshold()
    assert thr == pytest.approx(1.806, abs=5e-4), "((m_n + m_e)^2 - m_p^2) / 2 m_p = 1.806 MeV"
    sigma = reactor.ibd_cross_section(np.array([thr - 1e-3, thr - 1e-6, thr + 1e-3, thr + 0.1]))
    assert sigma[0] == 0 and sigma[1] == 0, "no IBD below threshold"
    assert sigma[2] > 0 and sigma[3] > sigma[2]


def test_cross_section_prefactor_matches_vogel_beacom():
    # Vogel & Beacom (1999), Eq. 9: sigma_tot^(0) = 0.0952e-42 cm^2 (E_e p_e / MeV^2), tau_n = 886.8 s
    inputs = reactor.load_inputs()
    scaled = reactor.sigma0(inputs) * inputs.neutron_lifetime / (886.8 * units.s) / cm2
    assert scaled == pytest.approx(0.0952e-42, rel=0.01)


@pytest.mark.parametrize(("isotope", "published"), [("U235", 6.69), ("U238", 10.10), ("Pu239", 4.36),
                                                   ("Pu241", 6.04)])
def test_ibd_yield_per_fission_matches_huber_mueller(isotope, published):
    # Huber-Mueller IBD yields (1e-43 cm^2/fission) as quoted by Daya Bay, PRL 118 (2017) 251801
    value = reactor.ibd_yield_per_fission(isotope) / cm2 / 1e-43
    assert value == pytest.approx(published, rel=0.03), f"{isotope}: sigma_f = {value:.3f}e-43 cm^2"


def test_cross_section_scale_at_5_mev():
    # zeroth order at 5 MeV: 0.0952e-42 * E_e p_e (886.8 s) ~ 1.3e-42 cm^2; recoil lowers it by a few %
    s = float(reactor.ibd_cross_section(5.0)) / cm2
    assert 1.15e-42 < s < 1.35e-42


def test_cores_add_up_to_the_seed_power():
    cores = reactor.load_cores()
    local = sum(c.power for c in cores if c.plant in ("Taishan", "Yangjiang")) / units.GW
    assert local == pytest.approx(26.6, abs=1e-9), "seed 003 / NMO24: 26.6 GW_th from TS + YJ"
    near = [c.baseline / units.km for c in cores if c.plant in ("Taishan", "Yangjiang")]
    assert 52.0 < min(near) and max(near) < 53.0
    assert {c.name for c in cores} >= {"DYB", "HZ"}, "remote cores are part of the flux"


def test_target_protons_of_20_kt():
    n_p = reactor.target_protons()
    assert n_p == pytest.approx(1.44e33, rel=0.03), "JUNO: ~1.44e33 free protons in 20 kt LS"


def test_emitted_spectrum_mixes_isotopes_per_mev_thermal():
    e = np.linspace(2.0, 8.0, 7)
    inputs = reactor.load_inputs()
    pure = reactor.emitted_spectrum(e, [1, 0, 0, 0]) * inputs.energy_per_fission[0]
    assert np.allclose(pure, reactor.isotope_spectra(e)[0])
    assert np.all(np.diff(reactor.emitted_spectrum(e)) < 0), "reactor spectra fall with energy above 2 MeV"


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="isotope"):
        reactor.ibd_yield_per_fission("Th232")
    with pytest.raises(ValueError, match="cos_theta"):
        reactor.ibd_kinematics(3.0, 1.5)
    with pytest.raises(ValueError, match="e_nu"):
        reactor.isotope_spectra(-1.0)
