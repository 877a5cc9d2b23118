"""Optics: solid angles, Fresnel transmission and total internal reflection, attenuation.

Each test compares the model with an independent expression (a numerical integral, a textbook
formula, a physical identity) so that a wrong sign, a factor 2 or a missing effect fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate

from juno_calib.core import units
from juno_calib.detector.optics import (
    attenuation,
    boundary_transmission,
    cathode_projection,
    cathode_solid_angle,
    direct_fraction,
    fresnel_transmission,
    ray_paths,
    rayleigh_scattered_fraction,
    tir_radius,
)


def _disk_solid_angle_numeric(d, a, eta):
    """Solid angle of a flat disk (radius a, centre at distance d, normal tilted by eta from the
    line of sight) by direct integration of dA cos(angle)/r^2 over the disk."""
    normal = np.array([np.sin(eta), 0.0, np.cos(eta)])
    e1 = np.array([np.cos(eta), 0.0, -np.sin(eta)])
    e2 = np.array([0.0, 1.0, 0.0])
    centre = np.array([0.0, 0.0, d])

    def f(phi, rho):
        p = centre + rho * (np.cos(phi) * e1 + np.sin(phi) * e2)
        r = np.linalg.norm(p)
        return rho * abs(p @ normal) / r**3

    return integrate.dblquad(f, 0.0, a, 0.0, 2 * np.pi, epsabs=1e-12, epsrel=1e-10)[0]


@pytest.mark.parametrize("d", [0.5, 1.0, 3.0, 10.0])
def test_on_axis_solid_angle_is_the_exact_disk_expression(d):
    a = 1.0
    exact = 2 * np.pi * (1 - d / np.sqrt(d * d + a * a))
    numeric = _disk_solid_angle_numeric(d, a, 0.0)
    model = float(cathode_solid_angle(d, a, 1.0, 0.0))
    assert model == pytest.approx(exact, rel=1e-12), "on axis: 2 pi (1 - d / sqrt(d^2 + a^2))"
    assert model == pytest.approx(numeric, rel=1e-7), "on-axis disk vs direct integration"


@pytest.mark.parametrize("eta_deg", [20.0, 45.0, 65.0])
def test_tilted_disk_solid_angle_within_the_stated_far_field_error(eta_deg):
    # 20-inch cathode at the closest distance of a vertex in the LS (~1.7 m): a/d = 0.15
    a, d = 254.0, 1700.0
    eta = np.radians(eta_deg)
    numeric = _disk_solid_angle_numeric(d, a, eta)
    model = float(cathode_solid_angle(d, a, np.cos(eta), 0.0))
    assert model == pytest.approx(numeric, rel=2 * (a / d) ** 2), (
        "flat disk tilted by eta: on-axis expression x cos(eta) is exact up to O((a/d)^2)"
    )


@pytest.mark.parametrize("aspect", [0.3, 0.748, 1.0])
@pytest.mark.parametrize("eta_deg", [0.0, 30.0, 60.0, 85.0])
def test_cap_projection_matches_monte_carlo_silhouette(aspect, eta_deg, rng):
    """Fraction of a parallel beam (at eta to the axis) hitting a half-spheroid, by ray tracing."""
    eta = np.radians(eta_deg)
    u = np.array([np.sin(eta), 0.0, -np.cos(eta)])  # beam travelling towards the cap, axis +z
    e1 = np.array([np.cos(eta), 0.0, np.sin(eta)])
    e2 = np.array([0.0, 1.0, 0.0])
    n = 400_000
    s = rng.uniform(-1.6, 1.6, size=(n, 2))  # beam cross-section, in units of a
    start = s[:, :1] * e1 + s[:, 1:] * e2 - 5.0 * u
    c = max(aspect, 1e-9)
    # intersections with the spheroid x^2 + y^2 + (z/c)^2 = 1 and with the base disk z = 0
    scale = np.array([1.0, 1.0, 1.0 / c])
    p, q = start * scale, u * scale
    A, B, C = q @ q, 2 * p @ q, np.einsum("ij,ij->i", p, p) - 1.0
    disc = B * B - 4 * A * C
    t1 = (-B - np.sqrt(np.maximum(disc, 0))) / (2 * A)
    z1 = start[:, 2] + t1 * u[2]
    hit_dome = (disc > 0) & (z1 >= 0)
    t0 = -start[:, 2] / u[2] if u[2] != 0 else np.full(n, np.inf)
    hit_base = np.linalg.norm(start[:, :2] + t0[:, None] * u[:2], axis=1) <= 1.0
    frac = np.mean(hit_dome | hit_base) * 3.2**2 / np.pi  # hit area / (pi a^2)
    expected = float(cathode_projection(np.cos(eta), aspect))
    err = 3.2**2 / np.pi * np.sqrt(frac * np.pi / 3.2**2 / n)
    assert frac == pytest.approx(expected, abs=5 * err + 1e-3), (
        f"projected area of a spheroid cap (aspect {aspect}) at {eta_deg} deg"
    )


def test_fresnel_normal_incidence_and_brewster(optics):
    n1, n2 = optics.n_ls, optics.n_water
    assert float(fresnel_transmission(n1, n2, 0.0)) == pytest.approx(4 * n1 * n2 / (n1 + n2) ** 2, rel=1e-12)
    # at Brewster's angle r_p = 0, so T = 1 - R_s / 2 with R_s from the Fresnel s formula
    tb = np.arctan(n2 / n1)
    tt = np.arcsin(n1 / n2 * np.sin(tb))
    rs = np.sin(tb - tt) / np.sin(tb + tt)  # Born & Wolf form of r_s
    assert float(fresnel_transmission(n1, n2, np.sin(tb))) == pytest.approx(1 - rs**2 / 2, rel=1e-10)


def test_fresnel_reciprocity():
    """T(n1 -> n2, i) = T(n2 -> n1, t): transmission is the same both ways (Stokes relations)."""
    n1, n2 = 1.333, 1.50
    i = np.linspace(0.0, 1.5, 40)
    t = np.arcsin(n1 / n2 * np.sin(i))
    assert np.allclose(fresnel_transmission(n1, n2, np.sin(i)), fresnel_transmission(n2, n1, np.sin(t)),
                       rtol=1e-10)


def test_total_internal_reflection_sets_in_exactly_at_the_critical_angle(optics):
    n1, n2 = optics.n_ls, optics.n_water
    crit = np.arcsin(n2 / n1)
    below = fresnel_transmission(n1, n2, np.sin(crit * (1 - 1e-6)))
    above = fresnel_transmission(n1, n2, np.sin(np.linspace(crit * (1 + 1e-9), np.pi / 2, 50)))
    assert below > 0, "light is transmitted just below arcsin(n_water/n_ls)"
    assert np.all(above == 0), "total internal reflection beyond arcsin(n_water/n_ls)"
    # and no TIR from the optically thinner side
    assert np.all(fresnel_transmission(n2, n1, np.sin(np.linspace(0, 1.5, 50))) > 0)


def test_boundary_transmission_follows_the_spherical_invariant(optics, geometry):
    """The light is lost when n_ls b > n_water (R + t) (Bouguer: n r sin(angle) conserved)."""
    r_out = geometry.r_ls + geometry.acrylic_thickness
    b_c = r_out * optics.n_water / optics.n_ls
    t = boundary_transmission(np.array([b_c * (1 - 1e-7), b_c * (1 + 1e-7)]), optics,
                              geometry.r_ls, geometry.acrylic_thickness)
    assert t[0] > 0 and t[1] == 0
    # a radial ray crosses both surfaces at normal incidence
    expected = (4 * optics.n_ls * optics.n_acrylic / (optics.n_ls + optics.n_acrylic) ** 2
                * 4 * optics.n_acrylic * optics.n_water / (optics.n_acrylic + optics.n_water) ** 2)
    assert float(boundary_transmission(0.0, optics, geometry.r_ls, geometry.acrylic_thickness)) == \
        pytest.approx(expected, rel=1e-12)


def test_tir_radius(optics, geometry):
    r_c = tir_radius(optics, geometry)
    assert r_c == pytest.approx(17.70 * units.m * 1.333 / 1.4955, rel=1e-12), "R n_water / n_ls: critical angle arcsin(n_w / n_LS) at the sphere (Born & Wolf Sec. 1.5)"
    assert r_c / units.m == pytest.approx(15.777, abs=1e-3)
    shift = tir_radius(optics, geometry, acrylic=True) - r_c
    assert shift == pytest.approx(geometry.acrylic_thickness * optics.n_water / optics.n_ls, rel=1e-12)


def test_model_total_reflection_onset_radius(optics, geometry):
    """In the full ray model (paths to PMTs on the LPMT sphere) the direct light of some PMTs
    vanishes from r_c = (R + t) n_water / n_ls on, the exact onset for the layered sphere; the
    textbook estimate R n_water / n_ls is 0.107 m lower."""
    alpha = np.linspace(0.0, np.pi, 40001)
    ring = geometry.r_lpmt * np.stack([np.sin(alpha), np.zeros_like(alpha), np.cos(alpha)], 1)

    def some_light_lost(r):
        g = ray_paths(np.array([[0.0, 0.0, r]]), ring, geometry.r_ls, geometry.acrylic_thickness)
        return bool(np.any(boundary_transmission(g["impact"], optics, geometry.r_ls,
                                                 geometry.acrylic_thickness) == 0))

    lo, hi = 15.0 * units.m, 17.0 * units.m
    assert not some_light_lost(lo) and some_light_lost(hi)
    while hi - lo > 0.1 * units.mm:  # bisection for the onset
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if some_light_lost(mid) else (mid, hi)
    onset = hi
    expected = tir_radius(optics, geometry, acrylic=True)
    assert onset == pytest.approx(expected, abs=1.0 * units.mm), (
        f"TIR onset {onset / units.m:.4f} m vs (R + t) n_w / n_ls = {expected / units.m:.4f} m"
    )
    assert onset - tir_radius(optics, geometry) > 0.09 * units.m


def test_attenuation_is_exponential_in_each_medium(optics, geometry):
    t = geometry.acrylic_thickness
    survive = attenuation(np.array([0.0, 1.0, 0.0, 0.0]) * optics.attenuation_length, [0, 0, t, 0],
                          [0, 0, 0, optics.water_attenuation_length], optics, t)
    assert survive == pytest.approx([1.0, np.exp(-1), optics.acrylic_transmittance, np.exp(-1)], rel=1e-12)
    # LS attenuation length = 1 / (1/L_abs + 1/L_ray): design 77 m (+) 27 m = 19.99 m (data/optics.yaml, SIM)
    assert optics.attenuation_length / units.m == pytest.approx(19.99, abs=0.01)


def test_direct_fraction_at_the_centre_factorises(optics, geometry):
    """From the centre: Omega/4pi x normal-incidence Fresnel x exp(-R/L) x acrylic x water."""
    a, c = geometry.lpmt_cathode_radius, geometry.lpmt_cathode_depth
    pmt = np.array([[0.0, 0.0, geometry.r_lpmt]])
    f = float(direct_fraction(np.zeros((1, 3)), pmt, a, c / a, optics, geometry.r_ls,
                              geometry.acrylic_thickness)[0, 0])
    d = geometry.r_lpmt
    omega = 2 * np.pi * (1 - d / np.hypot(d, a))
    fres = float(boundary_transmission(0.0, optics, geometry.r_ls, geometry.acrylic_thickness))
    water = d - geometry.r_ls - geometry.acrylic_thickness
    att = (np.exp(-geometry.r_ls / optics.attenuation_length) * optics.acrylic_transmittance
           * np.exp(-water / optics.water_attenuation_length))
    assert f == pytest.approx(omega / (4 * np.pi) * fres * att, rel=1e-12)


def test_direct_light_rises_towards_a_near_pmt_and_fades_with_attenuation(optics, geometry):
    pmt = np.array([[0.0, 0.0, geometry.r_lpmt]])
    vtx = np.array([[0, 0, z] for z in (-10e3, 0.0, 10e3)], dtype=float)
    f = direct_fraction(vtx, pmt, 254.0, 0.75, optics, geometry.r_ls, geometry.acrylic_thickness)[:, 0]
    assert f[0] < f[1] < f[2]
    clear = dataclasses.replace(optics, absorption_length=1e12, rayleigh_length=1e12)
    g = direct_fraction(vtx, pmt, 254.0, 0.75, clear, geometry.r_ls, geometry.acrylic_thickness)[:, 0]
    ratio = f / g
    assert ratio[1] / ratio[0] == pytest.approx(np.exp(10e3 / optics.attenuation_length), rel=1e-7), \
        "10 m less LS path gains exp(10 m / L_att)"


def test_rayleigh_fraction_grows_with_the_ls_path(optics, geometry):
    f = rayleigh_scattered_fraction(np.array([0.0, 10e3, 17.7e3]), optics, geometry.r_ls)
    lam, lr = optics.attenuation_length, optics.rayleigh_length
    assert f[0] == pytest.approx(lam / lr * (1 - np.exp(-geometry.r_ls / lam)), rel=1e-12)
    assert f[0] > f[1] > f[2] > 0, "off-centre the mean LS path is shorter"
    infinite = dataclasses.replace(optics, rayleigh_length=1e15)
    assert float(rayleigh_scattered_fraction(0.0, infinite, geometry.r_ls)) < 1e-9


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_water": 1.6}, "n_water = 1.6 must be smaller than n_ls"),
        ({"rayleigh_length": -1.0}, "rayleigh_length = -0.001 m is outside the allowed range"),
        ({"acrylic_transmittance": 1.5}, "acrylic_transmittance = 1.5 is outside the allowed range"),
        ({"n_ls": 0.5}, "n_ls = 0.5 is outside the allowed range [1, 3]"),
        ({"indirect_light": 2.0}, "indirect_light = 2 is outside the allowed range [0, 1]"),
        ({"indirect_model": "diffuse"}, "indirect_model"),
        ({"reemission_probability": -0.1}, "reemission_probability = -0.1 is outside the allowed range [0, 1]"),
    ],
)
def test_bad_optics_rejected(optics, change, message):
    with pytest.raises(ValueError) as err:
        dataclasses.replace(optics, **change)
    assert message in str(err.value)
