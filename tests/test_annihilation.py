"""Positron annihilation in flight: Heitler's cross-section, its integral along the slowing-down
path in the LS, the photons' kinematics, and the at-rest limit of the previous model."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.integrate import quad

from juno_calib.core.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from juno_calib.core.rng import make_rng
from juno_calib.particles.annihilation import (
    heitler_cross_section,
    in_flight_probability,
    sample_annihilation_energy,
    sample_photons,
)
from juno_calib.particles.events import mean_positron_visible, simulate_gammas, simulate_positrons
from juno_calib.particles.scintillator import Scintillator, collision_stopping_power
from juno_calib.particles.visible import positron_visible

GEO = SimpleNamespace(r_ls=17700.0)
MB = 1e-27 * 100.0  # 1 mb = 1e-27 cm^2 = 1e-25 mm^2


@pytest.fixture(scope="module")
def scint():
    return Scintillator.load()


def test_heitler_matches_measured_cross_sections():
    # Colgate & Gilbert, Phys. Rev. 89 (1953) 790 ("Electron-positron annihilation in flight"):
    # 11.0 +- 2.5, 6.3 +- 1.2, 3.7 +- 0.6 mb per electron at 50, 100, 200 MeV (Be absorber)
    for t, sigma, err in ((50.0, 11.0, 2.5), (100.0, 6.3, 1.2), (200.0, 3.7, 0.6)):
        assert float(heitler_cross_section(t)) / MB == pytest.approx(sigma, abs=err), t


def test_heitler_limits():
    pr2 = math.pi * CLASSICAL_ELECTRON_RADIUS**2
    t = 1e-3  # Dirac's low-energy limit pi r_e^2 / beta
    beta = math.sqrt(1 - (ELECTRON_MASS / (t + ELECTRON_MASS)) ** 2)
    assert float(heitler_cross_section(t)) == pytest.approx(pr2 / beta, rel=0.01)
    t = 500.0  # high-energy limit pi r_e^2 (ln 2 gamma - 1) / gamma (Heitler 1954, Sec. 26)
    g = 1 + t / ELECTRON_MASS
    assert float(heitler_cross_section(t)) == pytest.approx(pr2 * (math.log(2 * g) - 1) / g, rel=0.01)


def test_in_flight_probability_is_the_integral_along_the_path(scint):
    """P(T) = 1 - exp(-int_0^T n_e sigma / S_Bhabha dT'), checked against an independent quadrature
    (0.5%: the library's trapezoid table); it grows to ~10% at 5-8 MeV."""
    def rate(t):
        s = collision_stopping_power(t, z_over_a=scint.z_over_a, density=scint.density,
                                     mean_excitation=scint.mean_excitation_energy, positron=True)
        return float(scint.electron_density * heitler_cross_section(t) / s)

    for t in (1.0, 4.0, 8.0):
        lam, _ = quad(rate, 1e-3, t, limit=200)
        assert float(in_flight_probability(t, scint)) == pytest.approx(-math.expm1(-lam), rel=5e-3)
    p = in_flight_probability([0.0, 1.0, 5.0, 8.0], scint)
    assert p[0] == 0.0 and np.all(np.diff(p) > 0)
    assert 0.05 < p[2] < p[3] < 0.2, "several percent at 5-8 MeV"


def test_photons_conserve_energy_and_momentum():
    t = np.array([0.0, 0.3, 2.0, 7.0] * 500)
    ea, eb, ca, cb = sample_photons(t, rng=make_rng(3))
    assert np.allclose(ea + eb, t + 2 * ELECTRON_MASS)
    pc = np.sqrt(t * (t + 2 * ELECTRON_MASS))
    assert np.allclose(ea * ca + eb * cb, pc, atol=1e-9), "momentum along the positron"
    sa, sb = np.sqrt(1 - ca**2), np.sqrt(1 - cb**2)
    assert np.allclose(ea * sa, eb * sb, atol=1e-6), "transverse momentum balances"
    assert np.allclose(ea[t == 0], ELECTRON_MASS) and np.all(ca[t == 0] == 1) and np.all(cb[t == 0] == -1)


def test_zero_cross_section_is_the_at_rest_model(scint):
    off = dataclasses.replace(scint, in_flight_annihilation_scale=0.0)
    assert np.all(in_flight_probability([1.0, 8.0], off) == 0.0)
    n = 4000
    d = simulate_positrons(np.full(n, 5.0), [0, 0, 0], rng=make_rng(5), scint=off, geometry=GEO)
    kin = d.energy[d.energy == 5.0]
    assert kin.size == n, "every track runs to its end: the kinetic deposit is the full 5 MeV"
    assert np.allclose(d.e_vis[d.energy == 5.0], positron_visible(5.0, off))
    # the two gammas are 0.511 MeV each: same draws as two back-to-back annihilation gammas
    ann = simulate_gammas(np.full(2 * n, ELECTRON_MASS), [0, 0, 0], rng=make_rng(6), scint=off, geometry=GEO)
    err = d.per_event().std() / math.sqrt(n) + 2 * ann.per_event().std() / math.sqrt(2 * n)
    assert d.per_event().mean() == pytest.approx(float(positron_visible(5.0, off)) + 2 * ann.per_event().mean(),
                                                 abs=4 * err)


def test_simulated_in_flight_fraction_and_mean(scint):
    n, t = 20000, 6.0
    ta = sample_annihilation_energy(np.full(n, t), rng=make_rng(7), scint=scint)
    p = float(in_flight_probability(t, scint))
    assert np.mean(ta > 0) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n)), "binomial, 4 sigma"
    d = simulate_positrons(np.full(n, t), [0, 0, 0], rng=make_rng(8), scint=scint, geometry=GEO)
    assert np.allclose(d.per_event("energy") + d.escaped, t + 2 * ELECTRON_MASS), "energy conservation"
    ok = d.escaped == 0
    mean = mean_positron_visible([t], rng=make_rng(9), scint=scint, geometry=GEO, n_annihilation=20000,
                                 n_in_flight=2000)[0]
    err = d.per_event()[ok].std() / math.sqrt(ok.sum())
    assert d.per_event()[ok].mean() == pytest.approx(mean, abs=4 * err + 2e-3), "forced sampling = brute force"
