"""Slowing-down of Am-Be/Am-C neutrons in the LS: the n-p cross-section, an exact first-flight
limit of the Monte Carlo, and the data's Fermi age inside the Monte Carlo's bracket."""

from __future__ import annotations

import pytest

from juno_calib.core import units
from juno_calib.core.constants import AVOGADRO
from juno_calib.core.rng import make_rng
from juno_calib.particles.neutron import np_cross_section, slowing_down_age
from juno_calib.particles.scintillator import Scintillator

BARN = 1e-22  # mm^2


@pytest.fixture(scope="module")
def scint():
    return Scintillator.load()


def test_np_cross_section_effective_range(scint):
    # free-proton scattering at rest: 20.49 b (Mughabghab 2006); ENDF/B H-1 elastic: 4.26 b at
    # 1 MeV, 1.61 b at 5 MeV. The S-wave effective-range expansion holds to ~2% here.
    for e, sigma, tol in ((1e-6, 20.49, 0.01), (1.0, 4.26, 0.03), (5.0, 1.61, 0.04)):
        assert float(np_cross_section(e, scint)) / BARN == pytest.approx(sigma, rel=tol), e


def test_first_flight_limit_is_exact(scint):
    """If the first collision ends the slowing-down, <r^2> = 2 lambda^2 (exponential flight):
    tau = lambda^2 / 3. Hydrogen only, end energy just below the start energy."""
    import dataclasses

    s = dataclasses.replace(scint, neutron_age_end_energy=0.999999 * units.MeV)
    n_h = s.density * AVOGADRO * s.mass_fraction_h / s.atomic_weight_h
    lam = 1.0 / (n_h * float(np_cross_section(1.0, s)))
    n = 40000  # std(s^2)/<s^2> = sqrt(5): 4 sigma = 4.5%
    tau = slowing_down_age(1.0, n, rng=make_rng(11), scint=s, xs_c=0.0)
    assert tau == pytest.approx(lam**2 / 3, rel=4 * 5**0.5 / n**0.5)


def test_data_age_lies_in_the_monte_carlo_bracket(scint):
    """data/scintillator.yaml: the estimated Fermi age of 4.2 MeV neutrons lies between the Monte
    Carlo with carbon at its free-atom cross-section (too much scattering: lower bound) and
    without carbon; the library default (fission neutrons in water) lies below the bracket."""
    lo = slowing_down_age(4.2, 4000, rng=make_rng(12), scint=scint)
    hi = slowing_down_age(4.2, 4000, rng=make_rng(13), scint=scint, xs_c=0.0)
    assert lo < scint.fermi_age_amc_estimate < hi
    assert scint.fermi_age < lo, "the default (fission neutrons in water, Lamarsh: 27 cm2) is a lower bound"
