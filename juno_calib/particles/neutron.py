"""Slowing-down of fast neutrons in the LS: the mean squared displacement (the Fermi age).

The capture point of a source neutron is displaced by slowing-down (the Fermi age ``tau``,
``<r^2> = 6 tau``) and thermal diffusion (``L^2``, data). Age theory fails in hydrogen, so the
age here is *defined* by the second moment of a Monte Carlo of the slowing-down
(:func:`slowing_down_age`), with stated physics:

* elastic scattering on free H and C nuclei at rest, isotropic in the centre-of-mass frame
  (exact for n-p S-wave scattering below ~10 MeV; for carbon a simplification);
* the n-p cross-section from the S-wave effective-range expansion (triplet and singlet
  scattering lengths and effective ranges of Krane, *Introductory Nuclear Physics*, 1988, Ch. 4;
  data), which reproduces the measured 20.4 b at low energy and falls to ~1.6 b at 5 MeV;
* carbon with a constant elastic cross-section ``neutron_xs_c`` (data; the free-atom value below
  1 MeV; above, the real cross-section is lower with resonances and inelastic channels open
  above 4.8 MeV, so the constant shortens flights: a lower bound on the displacement);
* slowing-down to ``neutron_age_end_energy`` (data), below which the thermal diffusion length of
  data takes over; chemical binding is neglected.

>>> round(float(np_cross_section(1e-6)) / 1e-22, 1)   # 20.4 b at rest (measured: 20.49 b)
20.4
"""

from __future__ import annotations

import math

import numpy as np

from ..core import units, validate
from ..core.constants import AVOGADRO, HBAR_C
from .scintillator import Scintillator

#: hbar c in MeV fm (core.constants) and the neutron mass (MeV, CODATA 2018)
HBARC_MEV_FM = HBAR_C / (units.MeV * 1e-12 * units.mm)
NEUTRON_MASS = 939.56542052
_FM2_TO_MM2 = 1e-24  # 1 fm^2 = 1e-26 cm^2 = 1e-24 mm^2
_BARN_TO_MM2 = 1e-22
_MAX_STEPS = 500


def np_cross_section(e, scint: Scintillator | None = None) -> np.ndarray:
    """Elastic n-p cross-section (mm^2) at neutron lab energy ``e`` (MeV), S-wave effective range.

    ``sigma = pi/k^2 [3 sin^2 d_t + sin^2 d_s]``, ``k cot d = -1/a + r k^2 / 2``,
    ``k^2 = m E / (2 (hbar c)^2)``; lengths in fm from data.
    """
    e = validate.energies("e", e, 0.0, 20.0, lo_open=True,
                          why="S-wave n-p scattering holds below ~20 MeV")
    scint = Scintillator.load() if scint is None else scint
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    return _np_xs(e, scint)


def _np_xs(e, scint):
    k2 = NEUTRON_MASS * e / 2.0 / HBARC_MEV_FM**2          # fm^-2
    out = 0.0
    for w, a, r in ((3.0, scint.np_triplet_length, scint.np_triplet_range),
                    (1.0, scint.np_singlet_length, scint.np_singlet_range)):
        kcot = -1.0 / a + 0.5 * r * k2
        out = out + w / (k2 + kcot**2)                      # sin^2 d / k^2 = 1/(k^2 + (k cot d)^2)
    return math.pi * out * _FM2_TO_MM2


def slowing_down_age(energy, n: int, *, rng: np.random.Generator, scint: Scintillator,
                     xs_c: float | None = None) -> float:
    """Fermi age ``tau = <r^2>/6`` (mm^2) of neutrons of kinetic energy ``energy`` (MeV) in the LS.

    Monte Carlo of ``n`` neutrons (model in the module docstring) from the origin until they
    fall below ``scint.neutron_age_end_energy``. ``xs_c`` overrides the carbon cross-section
    (mm^2; 0 ignores carbon).
    """
    e0 = validate.number("energy", energy, 1e-3, 20.0, unit="MeV")
    n = validate.integer("n", n, 10, 10**7)
    validate.generator("rng", rng)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    sig_c = scint.neutron_xs_c * _BARN_TO_MM2 if xs_c is None else validate.number("xs_c", xs_c, 0.0, 1e-20)
    if e0 <= scint.neutron_age_end_energy:
        return 0.0
    n_h = scint.density * AVOGADRO * scint.mass_fraction_h / scint.atomic_weight_h
    n_c = scint.density * AVOGADRO * scint.mass_fraction_c / scint.atomic_weight_c
    e = np.full(n, e0)
    pos = np.zeros((n, 3))
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r2 = np.zeros(n)
    alive = np.arange(n)
    for _ in range(_MAX_STEPS):
        if alive.size == 0:
            break
        sh = n_h * _np_xs(e[alive], scint)
        sc = np.full(alive.size, n_c * sig_c)
        pos[alive] += (rng.exponential(1.0, alive.size) / (sh + sc))[:, None] * u[alive]
        on_h = rng.random(alive.size) * (sh + sc) < sh
        mass = np.where(on_h, 1.0, 12.0)
        mu = rng.uniform(-1.0, 1.0, alive.size)                # cos theta in the CM frame
        gain = (mass**2 + 2 * mass * mu + 1) / (mass + 1) ** 2
        cos_lab = (1 + mass * mu) / np.sqrt(mass**2 + 2 * mass * mu + 1)
        phi = rng.uniform(0.0, 2 * math.pi, alive.size)
        u[alive] = _turn(u[alive], cos_lab, phi)
        e[alive] *= gain
        done = e[alive] < scint.neutron_age_end_energy
        r2[alive[done]] = np.sum(pos[alive[done]] ** 2, axis=1)
        alive = alive[~done]
    else:  # pragma: no cover - a physics bug
        raise RuntimeError("slowing-down did not end")
    return float(r2.mean() / 6.0)


def _turn(u, cos_t, phi):
    """Turn unit vectors ``u`` by polar angle ``acos(cos_t)`` and azimuth ``phi``."""
    sin_t = np.sqrt(np.clip(1 - cos_t**2, 0, None))
    a = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    v = np.cross(u, a)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    w = np.cross(u, v)
    out = (cos_t[:, None] * u + sin_t[:, None] * (np.cos(phi)[:, None] * v + np.sin(phi)[:, None] * w))
    return out / np.linalg.norm(out, axis=1, keepdims=True)
