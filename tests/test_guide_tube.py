"""Guide-tube sources: gamma attenuation in acrylic and water (NIST), where the neutrons are captured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.core.params import load_quantities
from juno_calib.detector.geometry import Geometry
from juno_calib.hardware.guide_tube import (
    attenuation_coefficient,
    load_medium,
    simulate_guide_tube,
    transmit_to_ls,
)
from juno_calib.hardware.sources import get_source

E_NH = 2.223  # MeV, the n-H capture line (EGAF)


def _nist_mu(medium) -> float:
    """NIST SRD 126 (XCOM basis) mu at the n-H line by the mixture rule, 1/mm.

    H and C from Table 3; O from Table 4's water, (mu_water - w_H mu_H) / w_O (the table's own
    mixture rule); log-log interpolation between the 2 and 3 MeV grid points.
    """
    x = {k: v.internal for k, v in load_quantities("reference/xcom").items()}
    e = np.log(x["energies"])

    def at(table):
        return math.exp(np.interp(math.log(E_NH), e, np.log(table)))

    h, c, w = at(x["mu_rho_h"]), at(x["mu_rho_c"]), at(x["mu_rho_water"])
    wh = x["water_mass_fraction_h"]
    o = (w - wh * h) / (1 - wh)
    f = medium.mass_fraction
    return medium.density * (f["h"] * h + f["c"] * c + f["o"] * o)


def test_attenuation_coefficients_match_nist_at_the_nh_line(scint):
    # the library's Klein-Nishina + pair model on the NIST compositions vs the NIST tables
    # (model tolerance 1.5%: binding, coherent scattering, photo-absorption neglected)
    tol = load_quantities("reference/xcom")["tolerance"].internal
    for name in ("acrylic", "water"):
        m = load_medium(name, scint)
        mu = float(attenuation_coefficient(E_NH, m, scint))
        assert mu == pytest.approx(_nist_mu(m), rel=tol), f"{name}: NIST SRD 126 mixture rule"
    # PMMA at 2.223 MeV: mu/rho ~ 0.0453 cm2/g (NIST SRD 126), mean free path ~ 18.6 cm
    mu_a = float(attenuation_coefficient(E_NH, load_medium("acrylic", scint), scint))
    assert 1 / mu_a / units.cm == pytest.approx(18.6, rel=0.02)


def test_transmission_through_12cm_of_acrylic_is_exp_minus_mu_x(scint, rng):
    # gammas starting on the outer acrylic surface, aimed at the centre, cross exactly the 12 cm
    # wall: the unscattered fraction is exp(-mu x) with NIST's mu (binomial 4-sigma band + the
    # model tolerance)
    geo = Geometry.load()
    acrylic, water = load_medium("acrylic", scint), load_medium("water", scint)
    n = 20000
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    start = u * (geo.r_ls + geo.acrylic_thickness)
    out = transmit_to_ls(np.full(n, E_NH), start, -u, rng=rng, scint=scint, geometry=geo,
                         acrylic=acrylic, water=water)
    assert np.allclose(out["path_acrylic"], geo.acrylic_thickness) and np.allclose(out["path_water"], 0.0)
    expected = math.exp(-_nist_mu(acrylic) * geo.acrylic_thickness)
    band = 4 * math.sqrt(expected * (1 - expected) / n) + 0.015 * expected * abs(math.log(expected))
    assert abs(out["reached"].mean() - expected) < band, (out["reached"].mean(), expected)
    assert np.allclose(np.linalg.norm(out["entry"], axis=1), geo.r_ls, rtol=1e-6)
    # from 2 cm out in the water: 2 cm of water, then the 12 cm of acrylic
    far = transmit_to_ls(np.full(3, E_NH), u[:3] * (geo.r_ls + geo.acrylic_thickness + 20.0), -u[:3],
                         rng=rng, scint=scint, geometry=geo, acrylic=acrylic, water=water)
    assert np.allclose(far["path_water"], 20.0) and np.allclose(far["path_acrylic"], geo.acrylic_thickness)
    mu_w = float(attenuation_coefficient(E_NH, water, scint))
    assert np.allclose(far["survival"], math.exp(-mu_w * 20.0) * expected, rtol=0.03)
    # pointing away from the vessel: the gamma never reaches the LS
    away = transmit_to_ls(np.full(3, E_NH), start[:3], u[:3], rng=rng, scint=scint, geometry=geo,
                          acrylic=acrylic, water=water)
    assert not away["reached"].any() and np.all(away["survival"] == 0)


def test_guide_tube_neutrons_are_captured_outside_and_few_gammas_reach_the_ls(scint, rng):
    geo = Geometry.load()
    src = get_source("AmC")
    pos = np.array([geo.r_ls + geo.acrylic_thickness + 20.0, 0.0, 0.0])
    dep, f = simulate_guide_tube(src, 4000, pos, rng=rng, scint=scint, geometry=geo)
    # every Am-C neutron is captured somewhere (the capture media partition the neutrons)
    assert f["captured_ls"] + f["captured_acrylic"] + f["captured_water"] == pytest.approx(1.0)
    # water and PMMA capture on H: n_H sigma_H dominates (O 0.19 mb, C 3.5 mb vs H 333 mb)
    assert load_medium("water", scint).capture_fraction_h > 0.999
    assert 0.99 < load_medium("acrylic", scint).capture_fraction_h < 0.995
    assert 0.99 < f["nh"] <= 1.0
    # a source outside the vessel: at most the gammas going inward (about half) reach the LS, and
    # the ~14 cm of water + acrylic remove about half of those
    assert f["captured_ls"] < 0.2 and f["nh_reach"] < 0.5 * f["nh"]
    # an n-H gamma outside the LS either misses it, reaches it unscattered or interacts on the way
    # (expected fraction; the unscattered ones are sampled: 4-sigma binomial band)
    band = 4 * math.sqrt(f["nh_reach"] / 4000)
    assert f["nh_reach"] + f["nh_scatter"] <= f["nh"] + band and f["nh_scatter"] > 0
    assert np.all(np.linalg.norm(dep.position, axis=1) <= geo.r_ls)
    with pytest.raises(ValueError, match="emits no neutrons"):
        simulate_guide_tube(get_source("Cs137"), 10, pos, rng=rng, scint=scint, geometry=geo)
    with pytest.raises(ValueError, match="position must be one point .* outside the LS"):
        simulate_guide_tube(src, 10, np.zeros(3), rng=rng, scint=scint, geometry=geo)
