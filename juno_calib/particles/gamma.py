"""Gamma interactions in the LS and a vectorised Compton cascade.

Physics
-------
* Compton scattering on free electrons, Klein–Nishina (Z. Phys. 52 (1929) 853); total
  cross-section per electron in closed form, ``mu_C = n_e sigma_KN``; the scattered energy is
  sampled with the Butcher–Messel method (Nucl. Phys. 20 (1960) 15), as described in the
  Geant4 Physics Reference Manual. Atomic binding (incoherent scattering function) and
  coherent (Rayleigh) scattering are neglected: both matter only below ~100 keV in C/H.
* Pair production in the nuclear and electron fields with the Geant4 parametrisation of
  the Hubbell–Gimm–Overbo cross-sections, ``sigma(Z, E) = Z (Z+1) [F1 + Z F2 + F3/Z]``
  (coefficients in data). The kinetic energy ``E - 2 m_e`` is shared between e- and e+ with a
  uniform fraction (the Bethe–Heitler sharing is flat to ~20% at these energies); the e+
  stops and annihilates at rest into two back-to-back 0.511 MeV gammas, which are followed.
* Photo-absorption is modelled by a cutoff: a gamma below ``gamma_cutoff_energy`` deposits its
  energy where it is (in C/H, photo-absorption takes over from Compton scattering near
  25 keV and the mean free path there is < 3 cm).
* Electrons deposit locally (their range is mm–cm). Gammas that cross the LS sphere
  (``r > r_ls``) leave the LS: acrylic, water and everything outside have no deposits.

The cascade loops over interaction *generations*, each a set of numpy operations on all
gammas still alive, never over gammas. Validated against the NIST (Hubbell & Seltzer) mass
attenuation coefficients of H, C and water (tests/test_gamma.py).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..core import units, validate
from .scintillator import (
    AVOGADRO,
    CLASSICAL_ELECTRON_RADIUS,
    ELECTRON_MASS,
    Scintillator,
)

#: highest gamma energy the public functions accept (MeV): the Geant4 pair fit is used up to
#: ~100 GeV, the cascade here only for calibration and 12B energies
GAMMA_E_MAX = 1e3 * units.MeV
MICROBARN = 1e-28 * units.m**2 * 1e-6  #: unit of the pair-production fit coefficients
_MAX_GENERATIONS = 10_000


def klein_nishina_total(energy) -> np.ndarray:
    """Klein–Nishina total cross-section per free electron, mm^2.

    Parameters
    ----------
    energy : array_like
        Photon energy, MeV, any shape, > 0.

    Examples
    --------
    Thomson limit 8 pi r_e^2 / 3 = 0.6652 b at low energy:

    >>> round(float(klein_nishina_total(1e-6)) / 1e-22, 4)
    0.6652
    """
    k = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True) / ELECTRON_MASS
    return _klein_nishina_total(k)


def _klein_nishina_total(k) -> np.ndarray:
    """Kernel of :func:`klein_nishina_total`: ``k = E / m_e`` finite and > 0 (not checked)."""
    ks = np.maximum(k, 1e-3)  # closed form loses digits below; series below
    l2 = np.log1p(2 * ks)
    closed = (2 * math.pi * CLASSICAL_ELECTRON_RADIUS**2
              * ((1 + ks) / ks**2 * (2 * (1 + ks) / (1 + 2 * ks) - l2 / ks)
                 + l2 / (2 * ks) - (1 + 3 * ks) / (1 + 2 * ks) ** 2))
    thomson = 8 * math.pi / 3 * CLASSICAL_ELECTRON_RADIUS**2
    series = thomson * (1 - 2 * k + 5.2 * k**2 - 13.3 * k**3)
    return np.where(k < 1e-3, series, closed)


def klein_nishina_pdf(eps, energy) -> np.ndarray:
    """Normalised pdf of ``eps = E'/E`` for Compton scattering at photon energy ``energy``.

    ``dsigma/deps = pi r_e^2 / k (1/eps + eps)(1 - eps sin^2 theta / (1 + eps^2))``, on
    ``[1/(1+2k), 1]``; divided by :func:`klein_nishina_total`.
    """
    k = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True) / ELECTRON_MASS
    eps = validate.array("eps", eps, 0.0, 1.0, lo_open=True)
    one_minus_cos = (1 - eps) / (k * eps)
    sin2 = one_minus_cos * (2 - one_minus_cos)
    dsig = (math.pi * CLASSICAL_ELECTRON_RADIUS**2 / k * (1 / eps + eps)
            * (1 - eps * sin2 / (1 + eps**2)))
    inside = (eps >= 1 / (1 + 2 * k)) & (eps <= 1)
    return np.where(inside, dsig / _klein_nishina_total(k), 0.0)


def pair_cross_section(energy, z, scint: Scintillator) -> np.ndarray:
    """Pair-production cross-section per atom of charge ``z`` (nuclear + electron field), mm^2.

    Geant4 (G4BetheHeitlerModel) parametrisation, fitted above ``pair_fit_e_min`` and scaled by
    ``((E - 2m)/(E_min - 2m))^2`` below it; zero below the threshold ``2 m_e``.
    """
    e = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True)
    validate.number("z", z, 1, 100)
    _check_scint(scint)
    return _pair_cross_section(e, z, scint)


def _pair_cross_section(e, z, scint):
    x = np.log(np.maximum(e, scint.pair_fit_e_min) / ELECTRON_MASS)
    powers = np.stack([x**i for i in range(6)])
    f1, f2, f3 = (np.tensordot(np.asarray(c), powers, axes=1)
                  for c in (scint.pair_coeff_f1, scint.pair_coeff_f2, scint.pair_coeff_f3))
    sigma = z * (z + 1) * (f1 + z * f2 + f3 / z) * MICROBARN
    below = (e - 2 * ELECTRON_MASS) / (scint.pair_fit_e_min - 2 * ELECTRON_MASS)
    sigma = np.where(e < scint.pair_fit_e_min, sigma * np.clip(below, 0, None) ** 2, sigma)
    return np.where(e > 2 * ELECTRON_MASS, np.clip(sigma, 0, None), 0.0)


def attenuation(energy, scint: Scintillator) -> tuple[np.ndarray, np.ndarray]:
    """Linear attenuation coefficients ``(mu_compton, mu_pair)`` of the LS, 1/mm.

    Parameters
    ----------
    energy : array_like
        Photon energy, MeV, any shape, > 0.

    Examples
    --------
    1 MeV gamma attenuation length in the LS, about 16 cm:

    >>> mc, mp = attenuation(1.0, Scintillator.load())
    >>> round(float(1 / (mc + mp)) / units.cm, 1)
    16.4
    """
    e = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True)
    _check_scint(scint)
    return _attenuation(e, scint)


def _attenuation(e, scint):
    mu_c = scint.electron_density * _klein_nishina_total(e / ELECTRON_MASS)
    n_h = scint.density * AVOGADRO * scint.mass_fraction_h / scint.atomic_weight_h
    n_c = scint.density * AVOGADRO * scint.mass_fraction_c / scint.atomic_weight_c
    mu_p = n_h * _pair_cross_section(e, 1.0, scint) + n_c * _pair_cross_section(e, 6.0, scint)
    return mu_c, mu_p


def sample_compton(energy, *, rng: np.random.Generator) -> np.ndarray:
    """Sample ``eps = E'/E`` of Compton-scattered photons (Butcher–Messel method).

    Parameters
    ----------
    energy : array_like
        Photon energies, MeV, shape (n,).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        (n,) ``eps`` in ``[1/(1+2k), 1]``; the scattering angle follows from
        ``cos theta = 1 - (1 - eps)/(k eps)``.

    Raises
    ------
    ValueError
        For an energy that is not finite and > 0 (at E = 0 every draw would be rejected).
    """
    e = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True,
                          why="the gamma model's range (Klein-Nishina, Geant4 pair fit)")
    validate.generator("rng", rng)
    return _sample_compton(e.ravel(), rng=rng).reshape(e.shape)


def _sample_compton(energy, *, rng):
    """Kernel of :func:`sample_compton` (energies finite and > 0, not checked)."""
    k = np.asarray(energy, dtype=float) / ELECTRON_MASS
    eps0 = 1.0 / (1.0 + 2.0 * k)
    a1 = -np.log(eps0)
    a2 = 0.5 * (1.0 - eps0**2)
    out = np.empty_like(k)
    todo = np.arange(k.size)
    while todo.size:
        r1, r2, r3 = rng.random((3, todo.size))
        first = r1 * (a1[todo] + a2[todo]) < a1[todo]
        eps = np.where(first, np.exp(-a1[todo] * r2),
                       np.sqrt(eps0[todo] ** 2 + (1 - eps0[todo] ** 2) * r2))
        t = (1 - eps) / (k[todo] * eps)
        sin2 = t * (2 - t)
        accept = 1 - eps * sin2 / (1 + eps**2) >= r3
        out[todo[accept]] = eps[accept]
        todo = todo[~accept]
    return out


def isotropic_directions(n: int, *, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) unit vectors uniform on the sphere."""
    n = validate.integer("n", n, 0, 10**8)
    validate.generator("rng", rng)
    return _isotropic_directions(n, rng=rng)


def _isotropic_directions(n: int, *, rng: np.random.Generator) -> np.ndarray:
    cos_t = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * math.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    return np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])


def rotate(direction, cos_theta, phi) -> np.ndarray:
    """Turn unit vectors ``direction`` (n, 3) by polar angle ``theta`` and azimuth ``phi``.

    ``cos_theta`` in [-1, 1] and ``phi`` finite, (n,) or scalars.
    """
    u = _unit_vectors("direction", direction)
    cos_theta = validate.array("cos_theta", cos_theta, -1.0, 1.0, ndim=(0, 1))
    phi = validate.array("phi", phi, -1e3, 1e3, ndim=(0, 1))
    for name, a in (("cos_theta", cos_theta), ("phi", phi)):
        if a.ndim == 1 and a.shape[0] != u.shape[0]:
            raise ValueError(f"{name} must be a scalar or have shape ({u.shape[0]},) like direction, "
                             f"got shape {a.shape}")
    return _rotate(u, cos_theta, phi)


def _unit_vectors(name, direction):
    u = validate.positions(name, direction, unit="")
    norm = np.linalg.norm(u, axis=1)
    if u.size and not np.all(np.abs(norm - 1.0) < 1e-6):
        i = int(np.flatnonzero(~(np.abs(norm - 1.0) < 1e-6))[0])
        raise ValueError(f"{name}[{i}] has length {norm[i]:g}; directions must be unit vectors "
                         "(length 1 within 1e-6)")
    return u


def _rotate(u, cos_theta, phi) -> np.ndarray:
    """Kernel of :func:`rotate` (unit vectors, valid angles; not checked)."""
    ux, uy, uz = u[:, 0], u[:, 1], u[:, 2]
    sin_t = np.sqrt(np.clip(1 - cos_theta**2, 0, None))
    cp, sp = np.cos(phi), np.sin(phi)
    perp = np.sqrt(np.clip(1 - uz**2, 0, None))
    safe = perp > 1e-8
    den = np.where(safe, perp, 1.0)
    new = np.column_stack([
        sin_t * (ux * uz * cp - uy * sp) / den + ux * cos_theta,
        sin_t * (uy * uz * cp + ux * sp) / den + uy * cos_theta,
        -sin_t * cp * perp + uz * cos_theta,
    ])
    along = np.column_stack([sin_t * cp, sin_t * sp, np.sign(uz) * cos_theta])
    new = np.where(safe[:, None], new, along)
    return new / np.linalg.norm(new, axis=1, keepdims=True)


def distance_to_sphere(position, direction, radius: float) -> np.ndarray:
    """Distance along ``direction`` from ``position`` (inside) to a sphere of ``radius``, mm.

    ``position`` (n, 3) inside the sphere, ``direction`` (n, 3) unit vectors.
    """
    radius = validate.number("radius", radius, 0.0, 1 * units.km, lo_open=True, unit="m")
    position = validate.positions("position", position, r_max=radius)
    direction = _unit_vectors("direction", direction)
    if direction.shape != position.shape:
        raise ValueError(f"direction must have the shape of position {position.shape}, got "
                         f"{direction.shape}")
    return _distance_to_sphere(position, direction, radius)


def _distance_to_sphere(position, direction, radius: float) -> np.ndarray:
    b = np.einsum("ij,ij->i", position, direction)
    c = np.einsum("ij,ij->i", position, position) - radius**2
    return -b + np.sqrt(np.clip(b**2 - c, 0, None))


@dataclasses.dataclass(frozen=True)
class Cascade:
    """Result of :func:`compton_cascade` for ``n_events`` events (deposits flattened).

    Attributes
    ----------
    event : (M,) int
        Event index of each deposit.
    position : (M, 3) float
        Deposit position, mm.
    energy : (M,) float
        Kinetic energy given to an electron (or positron, see ``positron``), MeV.
    positron : (M,) bool
        True for the kinetic energy of a pair-production positron.
    escaped : (n_events,) float
        Gamma energy that left the LS sphere per event, MeV.
    """

    event: np.ndarray
    position: np.ndarray
    energy: np.ndarray
    positron: np.ndarray
    escaped: np.ndarray


def compton_cascade(energy, position, direction, event, n_events: int, *,
                    rng: np.random.Generator, scint: Scintillator,
                    r_ls: float | None) -> Cascade:
    """Follow gammas through the LS until they are absorbed or leave the sphere ``r_ls``.

    Parameters
    ----------
    energy : (n,) array
        Gamma energies, MeV (> 0).
    position : (n, 3) array
        Start points, mm, inside the sphere of radius ``r_ls``.
    direction : (n, 3) array
        Unit vectors.
    event : (n,) int array
        Event index of each gamma (several gammas may share an event).
    n_events : int
        Number of events (``event < n_events``).
    rng : numpy.random.Generator
    scint : Scintillator
    r_ls : float or None
        LS sphere radius, mm; ``None`` means an infinite LS (full containment).

    Returns
    -------
    Cascade
        Energy is conserved per event: ``sum(energy) + 2 m_e * n_pairs ... `` is accounted so
        that ``deposits + escaped == initial`` exactly (pair rest mass re-appears as the two
        annihilation gammas).
    """
    e = validate.energies("energy", energy, 0.0, GAMMA_E_MAX, lo_open=True, ndim=1)
    ev = np.asarray(event)
    if ev.dtype.kind not in "iu" or ev.shape != e.shape:
        raise ValueError(f"event must be an integer array of the shape of energy {e.shape}, got "
                         f"dtype {ev.dtype} and shape {ev.shape}")
    n_events = validate.integer("n_events", n_events, 0)
    if ev.size and (ev.min() < 0 or ev.max() >= n_events):
        raise ValueError(f"event indices must lie in [0, n_events) = [0, {n_events}), got "
                         f"[{ev.min()}, {ev.max()}]")
    if r_ls is not None:
        r_ls = validate.number("r_ls", r_ls, 0.0, lo_open=True, unit="m")
    pos = validate.positions("position", position, n=e.size, r_max=r_ls, volume=validate.LS)
    dirs = _unit_vectors("direction", direction)
    if dirs.shape != pos.shape:
        raise ValueError(f"direction must have shape {pos.shape} like position, got {dirs.shape}")
    validate.generator("rng", rng)
    _check_scint(scint)
    return _compton_cascade(e.copy(), pos.copy(), dirs.copy(), ev.astype(np.int64), n_events,
                            rng=rng, scint=scint, r_ls=r_ls)


def _check_scint(scint):
    validate.instance("scint", scint, Scintillator, hint="Scintillator.load()")


def _compton_cascade(e, pos, dirs, ev, n_events, *, rng, scint, r_ls) -> Cascade:
    """Kernel of :func:`compton_cascade` (inputs checked by it)."""
    out_ev, out_pos, out_e, out_pos_flag = [], [], [], []
    escaped = np.zeros(n_events)

    def deposit(mask_ev, mask_pos, t, is_positron=False):
        out_ev.append(mask_ev)
        out_pos.append(mask_pos)
        out_e.append(t)
        out_pos_flag.append(np.full(t.shape, is_positron))

    for _ in range(_MAX_GENERATIONS):
        if e.size == 0:
            break
        low = e < scint.gamma_cutoff_energy
        if low.any():
            deposit(ev[low], pos[low], e[low])
            keep = ~low
            e, pos, dirs, ev = e[keep], pos[keep], dirs[keep], ev[keep]
            if e.size == 0:
                break
        mu_c, mu_p = _attenuation(e, scint)
        mu = mu_c + mu_p
        step = rng.exponential(1.0, e.size) / mu
        if r_ls is not None:
            leave = step >= _distance_to_sphere(pos, dirs, r_ls)
            if leave.any():
                np.add.at(escaped, ev[leave], e[leave])
                keep = ~leave
                e, pos, dirs, ev = e[keep], pos[keep], dirs[keep], ev[keep]
                step, mu_c, mu_p, mu = step[keep], mu_c[keep], mu_p[keep], mu[keep]
        pos = pos + step[:, None] * dirs
        pair = rng.random(e.size) * mu < mu_p
        # Compton scattering
        c = ~pair
        eps = _sample_compton(e[c], rng=rng)
        deposit(ev[c], pos[c], e[c] * (1 - eps))
        k = e[c] / ELECTRON_MASS
        cos_t = 1 - (1 - eps) / (k * eps)
        new_dir = _rotate(dirs[c], cos_t, rng.uniform(0, 2 * math.pi, eps.size))
        ce, cpos, cev = e[c] * eps, pos[c], ev[c]
        # pair production: e-/e+ share E - 2m; two back-to-back annihilation gammas
        pe, ppos, pev = e[pair], pos[pair], ev[pair]
        kinetic = pe - 2 * ELECTRON_MASS
        share = rng.random(pe.size)
        deposit(pev, ppos, kinetic * share)
        deposit(pev, ppos, kinetic * (1 - share), is_positron=True)
        ann = _isotropic_directions(pe.size, rng=rng)
        e = np.concatenate([ce, np.full(2 * pe.size, ELECTRON_MASS)])
        pos = np.concatenate([cpos, ppos, ppos])
        dirs = np.concatenate([new_dir, ann, -ann])
        ev = np.concatenate([cev, pev, pev])
    else:  # pragma: no cover - a physics bug, not a user error
        raise RuntimeError("gamma cascade did not terminate")
    if out_ev:
        flat = (np.concatenate(out_ev), np.concatenate(out_pos), np.concatenate(out_e),
                np.concatenate(out_pos_flag))
    else:
        flat = (np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros(0, bool))
    keep = flat[2] > 0
    return Cascade(event=flat[0][keep], position=flat[1][keep], energy=flat[2][keep],
                   positron=flat[3][keep], escaped=escaped)

