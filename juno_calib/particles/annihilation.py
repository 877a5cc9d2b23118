"""Positron annihilation in flight in the LS: Heitler's cross-section along the slowing-down path.

Physics
-------
* Two-photon annihilation of a positron on a free electron at rest, total cross-section per
  electron (Heitler, *The Quantum Theory of Radiation*, 3rd ed. 1954, Sec. 26; the form used by
  Geant4, Physics Reference Manual, G4eplusAnnihilation)::

      sigma(g) = pi r_e^2 / (g + 1) [ (g^2 + 4 g + 1) / (g^2 - 1) ln(g + sqrt(g^2 - 1))
                                      - (g + 3) / sqrt(g^2 - 1) ],

  ``g`` the positron's Lorentz factor. One-photon and three-photon annihilation are
  negligible in C/H.
* Along the path of a positron slowing down in the continuous-slowing-down approximation (the
  Bhabha collision stopping power of :mod:`juno_calib.particles.scintillator`), the number of
  annihilations expected while it slows from ``T`` to 0 is
  ``Lambda(T) = int_0^T n_e sigma(T') / S(T') dT'`` and the probability to annihilate in flight is
  ``P(T) = 1 - exp(-Lambda(T))``. Radiative losses (a few % of dE/dx at 8 MeV in C/H) are
  neglected: they shorten the path slightly, so ``P`` is a slight overestimate.
* An annihilation at kinetic energy ``T_a`` stops the track there: the positron's light is that
  of the slowing-down from ``T`` to ``T_a`` and the two photons share ``T_a + 2 m_e``; their energy
  split and angles follow Heitler's differential cross-section (sampled as in Geant4's
  G4eeToTwoGammaModel). ``in_flight_annihilation_scale`` (data) multiplies the cross-section;
  0 gives the annihilation at rest of the previous model, draw for draw.

>>> from juno_calib.particles.scintillator import Scintillator
>>> p = in_flight_probability([1.0, 8.0], Scintillator.load())
>>> bool(0.01 < p[0] < p[1] < 0.15)
True
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..core import validate
from ..core.constants import CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from .scintillator import T_MIN_BETHE, Scintillator, _collision_stopping_power

_N_TABLE = 2000


def heitler_cross_section(t) -> np.ndarray:
    """Heitler's two-photon annihilation cross-section per free electron at rest, mm^2.

    Parameters
    ----------
    t : array_like
        Positron kinetic energy, MeV, in [1 eV, 1 GeV], any shape (below 1 eV the closed form
        loses its digits; the free-electron picture itself fails below ~1 keV).

    Examples
    --------
    Low-energy limit ``pi r_e^2 / beta`` (Dirac), within 1% at 1 keV:

    >>> t = 1e-3
    >>> beta = math.sqrt(1 - (ELECTRON_MASS / (t + ELECTRON_MASS)) ** 2)
    >>> round(float(heitler_cross_section(t) * beta / (math.pi * CLASSICAL_ELECTRON_RADIUS**2)), 2)
    1.0
    """
    t = validate.energies("t", t, 1e-6, 1e3, why="the closed form loses its digits below 1 eV")
    return _heitler(t)


def _heitler(t):
    g = 1.0 + t / ELECTRON_MASS
    root = np.sqrt(g * g - 1.0)
    return (math.pi * CLASSICAL_ELECTRON_RADIUS**2 / (g + 1.0)
            * ((g * g + 4 * g + 1) / (g * g - 1) * np.log(g + root) - (g + 3) / root))


def _check_scint(scint):
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')


@lru_cache(maxsize=32)
def _flight_table(scint: Scintillator):
    """(T grid, Lambda(T)) of the LS on a log grid from ``T_MIN_BETHE`` to the light table's end."""
    t = np.geomspace(T_MIN_BETHE, scint.light_table_e_max, _N_TABLE)
    s = _collision_stopping_power(t, scint.z_over_a, scint.density, scint.mean_excitation_energy,
                                  positron=True)
    rate = scint.in_flight_annihilation_scale * scint.electron_density * _heitler(t) / s
    lam = np.concatenate([[0.5 * t[0] * rate[0]],
                          0.5 * t[0] * rate[0] + np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    return np.concatenate([[0.0], t]), np.concatenate([[0.0], lam])


def _lambda(t, scint):
    grid, lam = _flight_table(scint)
    return np.interp(t, grid, lam)


def in_flight_probability(t, scint: Scintillator) -> np.ndarray:
    """Probability that a positron of kinetic energy ``t`` (MeV) annihilates before it stops in the LS.

    Parameters
    ----------
    t : array_like
        Kinetic energy, MeV, in [0, ``scint.light_table_e_max``], any shape.
    scint : Scintillator

    Returns
    -------
    numpy.ndarray
        ``1 - exp(-Lambda(t))``, same shape as ``t``.
    """
    _check_scint(scint)
    t = validate.energies("t", t, 0.0, scint.light_table_e_max,
                          why="the positron light table ends at light_table_e_max")
    return -np.expm1(-_lambda(t, scint))


def sample_annihilation_energy(t, *, rng: np.random.Generator, scint: Scintillator,
                               in_flight_only: bool = False) -> np.ndarray:
    """Kinetic energy (MeV) at which positrons of kinetic energy ``t`` annihilate (0: at rest).

    Parameters
    ----------
    t : (n,) array_like
        Initial kinetic energies, MeV, in [0, ``scint.light_table_e_max``].
    rng : numpy.random.Generator
    scint : Scintillator
    in_flight_only : bool
        Sample conditionally on annihilation in flight (for a variance-reduced mean).

    Returns
    -------
    numpy.ndarray
        (n,) energies in [0, t]. With ``in_flight_annihilation_scale = 0`` (or every ``t = 0``)
        all are 0 and no random number is drawn.
    """
    _check_scint(scint)
    t = np.atleast_1d(validate.energies("t", t, 0.0, scint.light_table_e_max, ndim=(0, 1)))
    validate.generator("rng", rng)
    validate.instance("in_flight_only", in_flight_only, (bool, np.bool_))
    return _sample_annihilation_energy(t, rng=rng, scint=scint, in_flight_only=in_flight_only)


def _sample_annihilation_energy(t, *, rng, scint, in_flight_only=False):
    if scint.in_flight_annihilation_scale == 0 or not np.any(t > 0):
        return np.zeros(t.size)   # nothing can annihilate in flight: draw nothing
    grid, lam = _flight_table(scint)
    lam0 = np.interp(t, grid, lam)
    p = -np.expm1(-lam0)
    u = rng.random(t.size)
    if in_flight_only:
        u = u * p                                   # uniform on (0, P): always in flight
    flight = u < p
    # annihilation where Lambda(T0) - Lambda(Ta) = -ln(1 - u)
    target = lam0 + np.log1p(-np.where(flight, u, 0.0))
    ta = np.interp(np.clip(target, 0.0, None), lam, grid)
    return np.where(flight & (t > 0), np.minimum(ta, t), 0.0)


def sample_photons(t, *, rng: np.random.Generator):
    """Energies and polar angles of the two photons of an annihilation in flight at kinetic energy ``t``.

    Heitler's differential cross-section in the energy fraction ``eps`` of photon a, sampled as
    Geant4's G4eeToTwoGammaModel does (``eps`` from ``1/eps`` between the kinematic limits,
    rejection with ``1 - eps + (2 gamma eps - 1) / (eps (gamma + 1)^2)``); angles from energy
    and momentum conservation. At ``t = 0`` both photons have ``m_e`` and are back to back.

    Parameters
    ----------
    t : (n,) array_like
        Positron kinetic energy at annihilation, MeV, in [0, 1000].
    rng : numpy.random.Generator

    Returns
    -------
    e_a, e_b : (n,) ndarray
        Photon energies, MeV (``e_a + e_b = t + 2 m_e``).
    cos_a, cos_b : (n,) ndarray
        Cosines of the photons' angles to the positron's direction (opposite azimuths).
    """
    t = np.atleast_1d(validate.energies("t", t, 0.0, 1e3, ndim=(0, 1)))
    validate.generator("rng", rng)
    return _sample_photons(t, rng=rng)


def _sample_photons(t, *, rng):
    tau = t / ELECTRON_MASS
    gam, tau2 = tau + 1.0, tau + 2.0
    eps_min = 0.5 * (1.0 - np.sqrt(tau / tau2))
    ratio = np.log((1.0 - eps_min) / eps_min)
    eps = np.full(t.size, 0.5)
    todo = np.flatnonzero(tau > 0)
    while todo.size:
        r0, r1 = rng.random((2, todo.size))
        e = eps_min[todo] * np.exp(ratio[todo] * r0)
        g = 1.0 - e + (2.0 * gam[todo] * e - 1.0) / (e * tau2[todo] ** 2)
        ok = g >= r1
        eps[todo[ok]] = e[ok]
        todo = todo[~ok]
    total = t + 2 * ELECTRON_MASS
    pc = np.sqrt(tau * tau2)
    safe = np.where(pc > 0, pc, 1.0)
    cos_a = np.where(pc > 0, (eps * tau2 - 1.0) / (eps * safe), 1.0)
    cos_b = np.where(pc > 0, ((1 - eps) * tau2 - 1.0) / ((1 - eps) * safe), -1.0)
    return eps * total, (1 - eps) * total, np.clip(cos_a, -1, 1), np.clip(cos_b, -1, 1)
