"""Electrons and positrons crossing the steel wall of a source capsule (CSDA, straight path).

Used for the e+e- pair of the 16O 0+ state at 6.049 MeV (Am-C), which decays by internal pair
creation (E0), not by a gamma. Model (stated, every number in ``data/scintillator.yaml``):

* The leptons start at the centre of a spherical capsule whose wall (thickness
  ``capsule_thickness``, iron: ``capsule_z_over_a``, ``capsule_density``,
  ``capsule_mean_excitation``, ``capsule_atomic_number``) is the only matter they cross: the
  straight radial path through the wall is the wall thickness for every direction.
* Energy loss in the continuous-slowing-down approximation (CSDA): collision stopping power of
  :func:`juno_calib.particles.scintillator.collision_stopping_power` (Moller for e-, Bhabha for
  e+; ICRU 37) plus the radiative loss implied by the thick-target radiation yield
  ``Y(T) = k Z T / (1 + k Z T)`` (Koch & Motz 1959, as given by Attix 1986): the energy radiated
  while slowing from ``T`` to ``T'`` is ``Y(T) T - Y(T') T'``, so
  ``S_tot = S_col / (1 - d(Y T)/dT)``.
* A straight path ignores multiple scattering, which lengthens the real path and turns leptons
  back: the energy that leaves the capsule in this model is an *upper bound*, and the source
  pellet (americium oxide and 13C) that the leptons also cross is ignored (a further bound).

>>> from juno_calib.particles.scintillator import Scintillator
>>> s = Scintillator.load()
>>> out, rad = lepton_through_capsule([0.5, 5.0], [False, False], s)
>>> float(out[0]), bool(out[1] > 0)
(0.0, True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core import validate
from .scintillator import T_MIN_BETHE, Scintillator, _collision_stopping_power

#: largest lepton kinetic energy handled (MeV): the table's end, above every E0 pair here
T_MAX_LEPTON = 30.0
_N_TABLE = 3000


def radiation_yield(t, scint: Scintillator) -> np.ndarray:
    """Fraction of a lepton's kinetic energy ``t`` (MeV) radiated while it stops in the capsule.

    ``Y(T) = k Z T / (1 + k Z T)`` (Koch & Motz; Attix, Ch. 8), ``k = capsule_brems_yield_k``.

    >>> from juno_calib.particles.scintillator import Scintillator
    >>> round(float(radiation_yield(2.5, Scintillator.load())), 4)
    0.0375
    """
    t = validate.energies("t", t, 0.0, T_MAX_LEPTON)
    _check_scint(scint)
    return _radiation_yield(t, scint)


def _radiation_yield(t, scint):
    x = scint.capsule_brems_yield_k * scint.capsule_atomic_number * t
    return x / (1.0 + x)


def _check_scint(scint):
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')


@lru_cache(maxsize=16)
def _range_tables(scint: Scintillator):
    """CSDA range R(T) (mm) of electrons and positrons in the capsule wall, on a log grid."""
    t = np.geomspace(T_MIN_BETHE, T_MAX_LEPTON, _N_TABLE)
    kz = scint.capsule_brems_yield_k * scint.capsule_atomic_number
    d_rad = kz * t * (2.0 + kz * t) / (1.0 + kz * t) ** 2   # d(Y T)/dT
    out = {}
    for positron in (False, True):
        s_col = _collision_stopping_power(t, scint.capsule_z_over_a, scint.capsule_density,
                                          scint.capsule_mean_excitation, positron)
        inv = (1.0 - d_rad) / s_col                          # 1 / S_tot
        steps = 0.5 * (inv[1:] + inv[:-1]) * np.diff(t)
        out[positron] = np.concatenate([[t[0] * inv[0]], t[0] * inv[0] + np.cumsum(steps)])
    return t, out[False], out[True]


def csda_range(t, scint: Scintillator, *, positron: bool = False) -> np.ndarray:
    """CSDA range (mm) of an electron (or positron) of kinetic energy ``t`` (MeV) in the capsule wall.

    >>> from juno_calib.particles.scintillator import Scintillator
    >>> 1.8 < float(csda_range(2.5, Scintillator.load())) < 2.3   # ESTAR iron: 1.62 g/cm2
    True
    """
    t = validate.energies("t", t, 0.0, T_MAX_LEPTON)
    _check_scint(scint)
    validate.instance("positron", positron, (bool, np.bool_))
    grid, r_e, r_p = _range_tables(scint)
    return np.interp(t, grid, r_p if positron else r_e, left=0.0)


def lepton_through_capsule(t, positron, scint: Scintillator):
    """Kinetic energy with which leptons leave the capsule wall, and the energy they radiated.

    Parameters
    ----------
    t : (n,) array_like
        Kinetic energies at the capsule centre, MeV, in [0, 30].
    positron : (n,) array_like of bool
        True for a positron (Bhabha stopping power).
    scint : Scintillator
        Carries the capsule data.

    Returns
    -------
    t_out : (n,) ndarray
        Kinetic energy on leaving the wall (0: stopped in it), MeV.
    radiated : (n,) ndarray
        Energy radiated as bremsstrahlung inside the wall, MeV; ``t - t_out - radiated`` is
        left in the steel.
    """
    t = np.atleast_1d(validate.energies("t", t, 0.0, T_MAX_LEPTON, ndim=(0, 1)))
    pos = np.atleast_1d(np.asarray(positron))
    if pos.dtype != bool or pos.shape != t.shape:
        raise ValueError(f"positron must be a bool array of the shape of t {t.shape}, got dtype "
                         f"{pos.dtype} and shape {pos.shape}")
    _check_scint(scint)
    return _lepton_through_capsule(t, pos, scint)


def _lepton_through_capsule(t, positron, scint):
    """Kernel of :func:`lepton_through_capsule` (inputs checked by it)."""
    grid, r_e, r_p = _range_tables(scint)
    r = np.where(positron, np.interp(t, grid, r_p, left=0.0), np.interp(t, grid, r_e, left=0.0))
    left = r - scint.capsule_thickness
    t_out = np.where(positron, np.interp(left, r_p, grid), np.interp(left, r_e, grid))
    t_out = np.where(left > 0.0, np.minimum(t_out, t), 0.0)
    radiated = _radiation_yield(t, scint) * t - _radiation_yield(t_out, scint) * t_out
    return t_out, np.clip(radiated, 0.0, None)
