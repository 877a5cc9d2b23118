"""Gamma interactions: Klein–Nishina, attenuation vs NIST, cascade energy conservation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from juno_calib.core import units
from juno_calib.core.params import load_quantities
from juno_calib.particles.gamma import (
    CLASSICAL_ELECTRON_RADIUS,
    ELECTRON_MASS,
    attenuation,
    compton_cascade,
    isotropic_directions,
    klein_nishina_pdf,
    klein_nishina_total,
    pair_cross_section,
    sample_compton,
)
from juno_calib.particles.scintillator import AVOGADRO

CM2_G = units.cm**2 / units.g


@pytest.fixture(scope="module")
def xcom():
    return {k: v.internal for k, v in load_quantities("reference/xcom").items()}


def _dsigma_domega(cos_t, k):
    ratio = 1.0 / (1.0 + k * (1 - cos_t))
    return 0.5 * CLASSICAL_ELECTRON_RADIUS**2 * ratio**2 * (ratio + 1 / ratio - (1 - cos_t**2))


@pytest.mark.parametrize("energy", [0.01, 0.2, 1.0, 5.0])
def test_klein_nishina_total_equals_integral_of_differential(energy):
    k = energy / ELECTRON_MASS
    integral, _ = integrate.quad(lambda c: 2 * math.pi * _dsigma_domega(c, k), -1, 1,
                                 epsabs=0, epsrel=1e-10)
    assert float(klein_nishina_total(energy)) == pytest.approx(integral, rel=1e-8)


def test_thomson_limit():
    thomson = 8 * math.pi / 3 * CLASSICAL_ELECTRON_RADIUS**2
    assert float(klein_nishina_total(1e-5)) == pytest.approx(thomson, rel=1e-4)
    assert thomson / units.mm**2 == pytest.approx(0.6652e-22, rel=1e-3), "0.6652 barn"


def test_attenuation_of_h_c_water_vs_nist(scint, xcom):
    e = np.array(xcom["energies"])
    na = AVOGADRO

    def mu_rho(z, a):
        return na / a * (z * klein_nishina_total(e) + pair_cross_section(e, z, scint))

    h, c, o = mu_rho(1.0, 1.008), mu_rho(6.0, 12.011), mu_rho(8.0, 15.999)
    wh = xcom["water_mass_fraction_h"]
    tol = xcom["tolerance"]
    for name, model, ref in (("H", h, xcom["mu_rho_h"]), ("C", c, xcom["mu_rho_c"]),
                             ("water", wh * h + (1 - wh) * o, xcom["mu_rho_water"])):
        ref = np.array(ref)
        assert np.allclose(model, ref, rtol=tol), (
            f"{name}: model mu/rho {model / CM2_G} vs NIST SRD 126 {ref / CM2_G} cm2/g")


def test_ls_attenuation_length_at_1mev_vs_xcom(scint, xcom):
    mc, mp = attenuation(1.0, scint)
    length = 1.0 / float(mc + mp)
    assert length == pytest.approx(xcom["ls_attenuation_length_1mev"], rel=xcom["ls_tolerance"]), (
        "1 MeV gamma attenuation length in the LS vs NIST XCOM mixture rule (16.34 cm)")


def test_pair_threshold(scint):
    assert pair_cross_section(1.0, 6.0, scint) == 0.0
    assert pair_cross_section(2.0, 6.0, scint) > 0.0


def test_compton_sampling_follows_klein_nishina(rng):
    energy = 1.0
    eps = sample_compton(np.full(200_000, energy), rng=rng)
    edges = np.linspace(1 / (1 + 2 * energy / ELECTRON_MASS), 1.0, 41)
    counts, _ = np.histogram(eps, edges)
    expected = np.array([integrate.quad(lambda x: float(klein_nishina_pdf(x, energy)), a, b)[0]
                         for a, b in zip(edges[:-1], edges[1:], strict=False)]) * eps.size
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    p = stats.chi2.sf(chi2, edges.size - 2)
    # a correct sampler fails this 1-in-1000 bound by chance; a wrong one (e.g. Thomson
    # angular distribution, factor-2 error in eps) gives chi2 of thousands
    assert p > 1e-3, f"chi2 = {chi2:.1f} for {edges.size - 1} bins"


def test_cascade_conserves_energy_per_event(scint, rng):
    n = 3000
    e = rng.uniform(0.1, 8.0, n)
    pos = rng.uniform(-1, 1, (n, 3)) * 16000.0 / math.sqrt(3)
    cas = compton_cascade(e, pos, isotropic_directions(n, rng=rng), np.arange(n), n, rng=rng,
                          scint=scint, r_ls=17700.0)
    dep = np.bincount(cas.event, weights=cas.energy, minlength=n)
    assert np.allclose(dep + cas.escaped, e, rtol=1e-12, atol=1e-12)
    assert np.all(np.linalg.norm(cas.position, axis=1) <= 17700.0 + 1e-6)


def test_centre_contained_edge_leaks(scint, rng):
    n = 4000
    dirs = isotropic_directions(n, rng=rng)
    r_ls = 17700.0
    centre = compton_cascade(np.full(n, 2.223), np.zeros((n, 3)), dirs, np.arange(n), n,
                             rng=rng, scint=scint, r_ls=r_ls)
    edge = compton_cascade(np.full(n, 2.223), np.tile([0, 0, r_ls - 50.0], (n, 1)), dirs,
                           np.arange(n), n, rng=rng, scint=scint, r_ls=r_ls)
    assert centre.escaped.sum() == 0.0, "17.7 m of LS contains a 2.2 MeV gamma"
    # 5 cm from the surface, about half of the gammas head outwards: a large leak
    assert 0.2 < np.mean(edge.escaped > 0) < 0.7


def test_gamma_nl_below_electron(scint, rng):
    from juno_calib.particles.scintillator import light_unnormalised
    from juno_calib.particles.visible import electron_visible, visible_scale

    for energy in (0.662, 1.0, 4.43):
        n = 5000
        cas = compton_cascade(np.full(n, energy), np.zeros((n, 3)),
                              isotropic_directions(n, rng=rng), np.arange(n), n, rng=rng,
                              scint=scint, r_ls=None)
        light = np.where(cas.positron, light_unnormalised(cas.energy, scint, positron=True),
                         light_unnormalised(cas.energy, scint))
        gamma_vis = visible_scale(scint) * light.sum() / n
        assert gamma_vis < float(electron_visible(energy, scint)), (
            f"gamma NL below electron NL at {energy} MeV (as published by Daya Bay/JUNO)")


def test_start_outside_sphere_rejected(scint, rng):
    with pytest.raises(ValueError, match="outside the LS sphere"):
        compton_cascade([1.0], [[0, 0, 2e4]], [[0, 0, 1]], [0], 1, rng=rng, scint=scint,
                        r_ls=17700.0)
