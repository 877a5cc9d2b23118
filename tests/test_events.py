"""Event generators: containment, positron = electron + annihilation, sources, captures."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from juno_calib.hardware.sources import get_source, simulate_source
from juno_calib.particles.events import (
    capsule_transport,
    simulate_b12,
    simulate_electrons,
    simulate_gammas,
    simulate_positrons,
)
from juno_calib.particles.scintillator import ELECTRON_MASS
from juno_calib.particles.visible import electron_visible, positron_visible

GEO = SimpleNamespace(r_ls=17700.0)


def test_reference_gamma_normalisation(scint, rng):
    d = simulate_gammas(np.full(20_000, scint.reference_gamma_energy), [0, 0, 0], rng=rng,
                        scint=scint, geometry=GEO)
    ev = d.per_event()
    err = ev.std() / np.sqrt(ev.size)
    assert ev.mean() == pytest.approx(scint.reference_gamma_energy, abs=4 * err), (
        "e_vis is normalised so a contained 2.223 MeV gamma gives 2.223 MeV (PERF25)")


def test_electron_deposit_is_local_and_exact(scint, rng):
    d = simulate_electrons([1.0, 2.0], [[0, 0, 0], [1, 2, 3]], rng=rng, scint=scint)
    assert np.allclose(d.per_event(), electron_visible([1.0, 2.0], scint))


def test_positron_is_kinetic_plus_two_annihilation_gammas(scint, rng):
    n = 20_000
    pos = simulate_positrons(np.full(n, 2.0), [0, 0, 0], rng=rng, scint=scint, geometry=GEO)
    ann = simulate_gammas(np.full(2 * n, ELECTRON_MASS), [0, 0, 0], rng=rng, scint=scint,
                          geometry=GEO)
    expected = float(positron_visible(2.0, scint)) + 2 * ann.per_event().mean()
    err = pos.per_event().std() / np.sqrt(n) + 2 * ann.per_event().std() / np.sqrt(2 * n)
    assert pos.per_event().mean() == pytest.approx(expected, abs=4 * err)
    assert np.allclose(pos.per_event("energy") + pos.escaped, 2.0 + 2 * ELECTRON_MASS)


def test_edge_gammas_leak(scint, rng):
    n = 5000
    centre = simulate_gammas(np.full(n, 2.223), [0, 0, 0], rng=rng, scint=scint, geometry=GEO)
    edge = simulate_gammas(np.full(n, 2.223), [0, 0, 17600.0], rng=rng, scint=scint,
                           geometry=GEO)
    assert centre.per_event().mean() > edge.per_event().mean() + 0.2


def test_capsule_removes_and_degrades_gammas(scint, rng):
    n = 200_000
    e = np.full(n, 0.662)
    d = np.tile([0.0, 0.0, 1.0], (n, 1))
    out, _, lost = capsule_transport(e, d, rng=rng, scint=scint)
    mu = np.interp(0.662, scint.capsule_mu_energy, scint.capsule_mu_rho) * scint.capsule_density
    p_int = 1 - np.exp(-mu * scint.capsule_thickness)
    assert np.mean(out < 0.662) == pytest.approx(p_int, rel=0.05), "interaction probability"
    assert np.allclose(out + lost, e)


def test_neutron_source_capture_is_displaced_and_delayed(scint, rng):
    d = simulate_source(get_source("AmC"), 4000, [0, 0, 0], rng=rng, scint=scint,
                        geometry=GEO, part="capture")
    assert np.all(d.time > 0)
    assert d.time.mean() == pytest.approx(scint.capture_time, rel=0.1)
    assert np.median(np.linalg.norm(d.position, axis=1)) > 50.0, "captures away from the source"
    ev = d.per_event()
    assert np.mean(np.abs(ev[ev > 0] - 2.223) < 0.2) > 0.9, "mostly the n-H 2.223 MeV line"


def test_capture_displacement_follows_age_diffusion(scint, rng):
    from juno_calib.particles.events import capture_displacement

    x = capture_displacement(100_000, rng=rng, scint=scint)
    l2 = scint.thermal_diffusion_coefficient * scint.thermal_neutron_speed * scint.capture_time
    # <r^2> = 6 (tau + L^2): slowing-down (Fermi age) plus thermal diffusion
    assert np.mean(np.sum(x**2, axis=1)) == pytest.approx(6 * (scint.fermi_age + l2), rel=0.02)


def test_source_prompt_and_unknown_part(scint, rng):
    co = get_source("Co60")
    d = simulate_source(co, 2000, [0, 0, 0], rng=rng, scint=scint, geometry=GEO, capsule=False)
    # exact outcomes: every decay's deposits plus escaped energy is the gamma sum of one branch,
    # 1.173 + 1.332 MeV (99.85%) or 1.332 MeV alone (ENSDF), to rounding
    total = d.per_event("energy") + d.escaped
    sums = np.array([b.visible_energy_sum for b in co.branches])
    assert np.allclose(sums, [1.173228 + 1.332492, 1.332492], atol=1e-6)
    assert np.all(np.min(np.abs(total[:, None] - sums[None, :]), axis=1) < 1e-9)
    n_single = int(np.sum(np.abs(total - sums[1]) < 1e-9))
    # the single-gamma branch (0.15%, ENSDF) is drawn binomially: 3 expected in 2000, < 12 at 4 sigma
    assert n_single <= 3 + 4 * np.sqrt(3)
    with pytest.raises(ValueError, match="part"):
        simulate_source(get_source("Co60"), 10, [0, 0, 0], rng=rng, scint=scint, geometry=GEO,
                        part="delayed")
    with pytest.raises(ValueError, match="outside the LS"):
        simulate_source(get_source("Co60"), 10, [0, 0, 2e4], rng=rng, scint=scint, geometry=GEO)


def test_b12_energy_is_beta_plus_gamma(scint, rng):
    d = simulate_b12(5000, [0, 0, 0], rng=rng, scint=scint, geometry=GEO)
    assert d.per_event("energy").max() < 13.369 + 1e-9
    assert np.all(d.escaped == 0)


def test_amc_e0_state_emits_a_pair_not_a_gamma(scint, rng):
    """16O(0+, 6.049 MeV) -> 0+ g.s. is an E0 transition: no 6.049 MeV gamma (TUNL A=16, Tilley
    et al. 1993). What reaches the LS is bounded by the CSDA straight-path leakage, two 0.511 MeV
    gammas and the thick-target bremsstrahlung yield Y(T) T of one lepton carrying all of T."""
    import dataclasses

    from juno_calib.hardware.sources import Emission
    from juno_calib.particles.capsule import csda_range, lepton_through_capsule, radiation_yield

    amc = get_source("AmC")
    assert not any(abs(e - 6.0494) < 0.01 for e in amc.gamma_lines()), "no 6.049 MeV gamma line"
    (e0,) = [b.pairs for b in amc.branches if b.pairs][0]
    assert e0 == pytest.approx(6.0494), "TUNL: 16O 0+ level at 6049.4 keV"
    kinetic = e0 - 2 * ELECTRON_MASS
    brems = float(radiation_yield(kinetic, scint) * kinetic)   # Y(T) T is convex: bounds the pair's sum
    pair = get_source("AmC", branches=(Emission(1.0, pairs=(e0,), neutron=True),))
    # a wall that stops every lepton: only annihilation and bremsstrahlung gammas get out
    wall = max(float(csda_range(kinetic, scint)), float(csda_range(kinetic, scint, positron=True)))
    thick = dataclasses.replace(scint, capsule_thickness=wall * 1.001)
    d = simulate_source(pair, 3000, [0, 0, 0], rng=rng, scint=thick, geometry=GEO, part="prompt")
    dep = d.per_event("energy")
    assert np.allclose(dep + d.escaped, e0), "energy conservation"
    assert dep.max() <= 2 * ELECTRON_MASS + brems + 1e-9, "stopped leptons: <= 2 m_e + bremsstrahlung"
    assert dep.mean() > 0.5, "the annihilation gammas mostly reach the LS"
    # the assumed 2 mm wall: add the largest CSDA exit energy of the two leptons over the sharing
    share = np.linspace(0, 1, 2001)
    out_p, _ = lepton_through_capsule(kinetic * share, np.ones(share.size, bool), scint)
    out_e, _ = lepton_through_capsule(kinetic * (1 - share), np.zeros(share.size, bool), scint)
    leak = float((out_p + out_e).max())
    d = simulate_source(pair, 3000, [0, 0, 0], rng=rng, scint=scint, geometry=GEO, part="prompt")
    dep = d.per_event("energy")
    assert np.allclose(dep + d.escaped, e0), "energy conservation"
    assert dep.max() <= 2 * ELECTRON_MASS + brems + leak + 1e-3
    assert np.mean(np.abs(dep - e0) < 0.3) == 0.0, "no event near the old 6.049 MeV line"
