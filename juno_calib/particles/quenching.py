"""Fluctuations of an electron's light: a track-segment Monte Carlo with explicit delta rays.

The light model of :mod:`juno_calib.particles.scintillator` gives an electron of kinetic energy
``T`` a deterministic light ``L(T)``: Birks' law is integrated with the *mean* stopping power, so
the track's energy-loss fluctuations, the delta rays (knock-on electrons, each quenched as a short
track of its own) and the Cherenkov light they carry never vary from one electron to the next.
This module estimates what that omits.

Each electron is slowed down in steps of a fixed fraction ``step`` of its energy. Energy transfers
above ``t_cut`` are explicit delta rays, fewer below are the continuous (restricted) loss:

* restricted stopping power ``S_res(E) = S(E) - C ln(E / (2 t_cut))`` and delta-ray rate
  ``dN / (ds dT') = C / T'^2`` for ``t_cut < T' < E/2``, with ``C = 2 pi r_e^2 m_e c^2 n_e / beta^2``
  (the free-electron, high-energy limit of the Moller cross-section; e.g. PDG, "Passage of
  particles through matter", the delta-ray section);
* a step of continuous loss ``dE`` has path ``ds = dE / S_res(E)``, gives the light
  ``dE / (1 + k_B S_res(E) / rho)`` plus the Cherenkov term of the energy it spans, and produces a
  Poisson number of delta rays with energies drawn from ``1/T'^2``;
* every delta ray gives the deterministic light ``L(T')`` of the model (its own, softer delta rays
  are averaged); the primary loses their energy;
* below ``2 t_cut`` no delta ray above the cut is possible and the rest of the track gives
  ``L(E)``.

The photon statistics themselves (Poisson production and detection) are not part of this
estimate: they are the photo-statistics term of the detector response. Returned are the mean and
the spread of the visible energy per electron (MeV, the normalisation of
:func:`juno_calib.particles.visible.electron_visible`).
"""

from __future__ import annotations

import numpy as np

from ..core import units, validate
from .scintillator import (
    BETHE_K,
    ELECTRON_MASS,
    Scintillator,
    _cherenkov_photons,
    _collision_stopping_power,
    _light_unnormalised,
)
from .visible import visible_scale


def electron_light_spread(t, scint: Scintillator, *, rng: np.random.Generator, n_tracks: int = 2000,
                          t_cut: float = 10.0 * units.keV, step: float = 0.05) -> dict:
    """Mean and spread of the visible energy of electrons of kinetic energies ``t`` (K,) MeV.

    ``n_tracks`` electrons per energy; ``t_cut`` (MeV) separates explicit delta rays from the
    continuous loss; ``step`` is the fraction of its energy an electron loses continuously per
    step. Returns ``t`` (K,), ``mean`` (K,) and ``sigma`` (K,) of e_vis in MeV, ``deterministic``
    (K,) the model's e_vis ``c L(t)``, and ``n_delta`` (K,) the mean number of delta rays.
    """
    t = validate.energies("t", t, 0.0, float(scint._light_tables.t[-1]), lo_open=True, ndim=1, size_min=1)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    validate.generator("rng", rng)
    n_tracks = validate.integer("n_tracks", n_tracks, 2, 10**6)
    t_cut = validate.number("t_cut", t_cut, 1e-3, 0.5, unit="MeV")
    step = validate.number("step", step, 1e-3, 0.5)
    tab = scint._light_tables
    za, rho, i_mean = scint.z_over_a, scint.density, scint.mean_excitation_energy
    kb = scint.birks_kb

    def ch(e):
        return scint.cherenkov_weight * _cherenkov_photons(e, scint) / scint.npe_scint

    e = np.repeat(t, n_tracks)
    light = np.zeros_like(e)
    n_delta = np.zeros_like(e)
    active = e >= 2 * t_cut
    light[~active] = _light_unnormalised(e[~active], tab, False)
    while active.any():
        idx = np.flatnonzero(active)
        ee = e[idx]
        gam = ee / ELECTRON_MASS + 1.0
        c = 0.5 * BETHE_K * za * rho / (1.0 - 1.0 / gam**2)
        s_res = _collision_stopping_power(ee, za, rho, i_mean) - c * np.log(ee / (2 * t_cut))
        de = step * ee
        ds = de / s_res
        light[idx] += de / (1.0 + kb * s_res / rho) + ch(ee) - ch(ee - de)
        # delta rays of this step: Poisson number, energies from 1/T'^2 on [t_cut, E/2]
        lo, hi = 1.0 / t_cut, 2.0 / ee
        k = rng.poisson(c * ds * (lo - hi))
        owner = np.repeat(np.arange(idx.size), k)
        t_d = 1.0 / (lo - rng.random(owner.size) * (lo - hi[owner]))
        lost = de + np.bincount(owner, weights=t_d, minlength=idx.size)
        # rare: delta rays of one step that exceed the rest end the track (energy not conserved
        # by at most a fraction of one step)
        over = lost > ee
        light[idx] += np.bincount(owner, weights=_light_unnormalised(t_d, tab, False), minlength=idx.size)
        n_delta[idx] += k
        e_new = np.where(over, 0.0, ee - lost)
        e[idx] = e_new
        done = e_new < 2 * t_cut
        fin = idx[done]
        light[fin] += _light_unnormalised(np.maximum(e[fin], 0.0), tab, False)
        active[fin] = False
    scale = visible_scale(scint)
    ev = (scale * light).reshape(t.size, n_tracks)
    return {"t": t, "mean": ev.mean(axis=1), "sigma": ev.std(axis=1, ddof=1),
            "deterministic": scale * _light_unnormalised(t, tab, False),
            "n_delta": n_delta.reshape(t.size, n_tracks).mean(axis=1)}
