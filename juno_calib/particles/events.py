"""Event generators: energy deposits (with e_vis) of particles and calibration sources.

Every generator returns :class:`Deposits`, the flattened list of electron (or positron)
deposits of ``n_events`` events with their positions, deposited kinetic energy and
visible-energy equivalent ``e_vis`` (:mod:`juno_calib.particles.visible`, normalised so a contained
2.223 MeV n-H gamma has mean total e_vis 2.223 MeV). Optics turns e_vis at a position into PE.

Models stated here:

* Electrons deposit at their start point (range mm–cm). Positrons: kinetic e_vis at the
  start point plus two annihilation gammas followed by the cascade; in flight (Heitler,
  :mod:`juno_calib.particles.annihilation`) the track ends early and the gammas carry the rest
  of the kinetic energy, otherwise two back-to-back 0.511 MeV gammas. (Positrons of pair
  production inside the gamma cascade still annihilate at rest.)
* Gammas: the vectorised cascade of :mod:`juno_calib.particles.gamma`, isotropic start directions.
* Sources (simulated by :mod:`juno_calib.hardware.sources` with these generators): each event
  picks one decay branch; its gammas start at the source (isotropic; the two 68Ge annihilation
  gammas back to back). 68Ge positrons stop in the capsule (no positron light). E0 pairs (the
  6.049 MeV 0+ state of 16O in Am-C) start as e+e- in the capsule: :func:`emit_pairs`.
* Capsule (``capsule=True``): a steel shell of thickness ``capsule_thickness``. A gamma
  interacts in it with probability ``1 - exp(-mu(E) t)`` (mu from the NIST iron table). An
  interacting gamma is absorbed with probability ``1 - mu_KN/mu`` (photo-absorption, pair), else
  it Compton-scatters once (Klein–Nishina) and leaves with the scattered energy and direction;
  the electron's energy stays in the steel (invisible). This gives the shadowing and the
  low-energy tail.
* Neutrons (Am-Be, Am-C): captured away from the source. Age–diffusion model: the capture
  point is displaced by a 3-D Gaussian with per-axis variance ``2 (tau + L^2)``, Fermi age
  ``tau`` (data; ``fermi_age_amc_estimate`` is the slowing-down Monte Carlo's value for 4.2 MeV
  neutrons, :mod:`juno_calib.particles.neutron`) and thermal diffusion length
  ``L^2 = D v tau_c`` (data); capture on H or C with the fractions of
  :attr:`Scintillator.capture_fraction_h`; capture gammas from the ``nH`` and ``nC12`` sources;
  capture time exponential with ``capture_time``. Captures outside the LS give no deposits (their
  energy is counted as escaped). The neutron's own quenched
  proton-recoil light in the prompt event is *not* included.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import units, validate
from ..core.constants import AVOGADRO, ELECTRON_MASS
from ..core.params import check_choice
from .annihilation import _sample_annihilation_energy, _sample_photons, in_flight_probability
from .beta import B12Decay, sample_b12
from .capsule import _lepton_through_capsule
from .gamma import (
    _compton_cascade,
    _isotropic_directions,
    _klein_nishina_total,
    _rotate,
    _sample_compton,
    _unit_vectors,
)
from .scintillator import Scintillator
from .visible import electron_visible, positron_visible

PARTS = ("all", "prompt", "capture")


@dataclasses.dataclass(frozen=True)
class Deposits:
    """Energy deposits of ``n_events`` events, flattened (M deposits in total).

    Attributes
    ----------
    n_events : int
    event : (M,) int
        Event index of each deposit.
    position : (M, 3) float
        Position, mm.
    energy : (M,) float
        Deposited (electron/positron kinetic) energy, MeV.
    e_vis : (M,) float
        Visible-energy equivalent (quenched scintillation + Cherenkov), MeV.
    time : (M,) float
        Time after the decay, ns (0 for prompt deposits; the capture time for n captures).
    escaped : (n_events,) float
        Gamma energy that left the LS (or was absorbed in the capsule), MeV.
    """

    n_events: int
    event: np.ndarray
    position: np.ndarray
    energy: np.ndarray
    e_vis: np.ndarray
    time: np.ndarray | None = None
    escaped: np.ndarray | None = None

    def per_event(self, field: str = "e_vis") -> np.ndarray:
        """(n_events,) sums of ``field`` ("e_vis" or "energy") per event."""
        check_choice("field", field, ("e_vis", "energy"))
        return np.bincount(self.event, weights=getattr(self, field), minlength=self.n_events)

    def select(self, mask) -> Deposits:
        """The deposits where ``mask`` (M,) is True (same events)."""
        mask = np.asarray(mask, dtype=bool)
        return dataclasses.replace(
            self, event=self.event[mask], position=self.position[mask],
            energy=self.energy[mask], e_vis=self.e_vis[mask],
            time=None if self.time is None else self.time[mask])


def empty_deposits(n_events: int) -> Deposits:
    return Deposits(n_events, np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0),
                    np.zeros(0), np.zeros(0), np.zeros(n_events))


def merge_deposits(parts: list[Deposits], n_events: int) -> Deposits:
    parts = [p for p in parts if p is not None]
    if not parts:
        return empty_deposits(n_events)
    esc = np.zeros(n_events)
    for p in parts:
        if p.escaped is not None:
            esc += p.escaped
    return Deposits(
        n_events,
        np.concatenate([p.event for p in parts]),
        np.concatenate([p.position for p in parts]),
        np.concatenate([p.energy for p in parts]),
        np.concatenate([p.e_vis for p in parts]),
        np.concatenate([p.time if p.time is not None else np.zeros(p.energy.size)
                        for p in parts]),
        esc,
    )


def _positions(positions, n: int, r_ls: float) -> np.ndarray:
    """Vertices (3,) or (n, 3), finite, inside the LS sphere: an (n, 3) copy."""
    return np.array(validate.positions("positions", positions, n=n, r_max=r_ls, volume=validate.LS))


def ls_radius(geometry) -> float:
    """The LS radius ``geometry.r_ls`` (mm) of a Geometry (or any object with ``r_ls``), checked."""
    if not hasattr(geometry, "r_ls"):
        raise TypeError(f"geometry must be a Geometry (e.g. Geometry.load()) or have an r_ls, got "
                        f"{geometry!r} ({type(geometry).__name__})")
    return validate.number("geometry.r_ls", geometry.r_ls, 0.0, 100 * units.m, unit="m", lo_open=True)


def _geometry_r_ls(geometry, scint) -> float:
    if geometry is None:
        from ..detector.geometry import Geometry

        geometry = Geometry.load(scint.config)
    return ls_radius(geometry)


def _check_common(rng, scint):
    validate.generator("rng", rng)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')


def _kinetic(name, t, scint, lo_open=False):
    """Kinetic energies (n,) in the light table's range [0, light_table_e_max]."""
    t = np.atleast_1d(validate.energies(name, t, 0.0, scint.light_table_e_max, lo_open=lo_open, ndim=(0, 1),
                                 why="the light table ends at light_table_e_max"))
    return t


def _gamma_deposits(energy, position, direction, event, n_events, *, rng, scint, r_ls,
                    time=None) -> Deposits:
    """Cascade gammas and turn the electron/positron deposits into e_vis."""
    cas = _compton_cascade(energy, position, direction, event, n_events, rng=rng, scint=scint,
                           r_ls=r_ls)
    e_vis = np.where(cas.positron, positron_visible(cas.energy, scint),
                     electron_visible(cas.energy, scint))
    t = np.zeros(cas.energy.size) if time is None else np.asarray(time)[cas.event]
    return Deposits(n_events, cas.event, cas.position, cas.energy, e_vis, t, cas.escaped)


def simulate_electrons(t, positions, *, rng: np.random.Generator,
                       scint: Scintillator, geometry=None) -> Deposits:
    """One point deposit per electron.

    Parameters
    ----------
    t : (n,) array_like
        Kinetic energies, MeV, in [0, ``scint.light_table_e_max``].
    positions : (n, 3) or (3,) array_like
        Vertices, mm, inside the LS sphere.
    rng : numpy.random.Generator
        Unused (the electron model is deterministic); kept for a uniform interface.
    scint : Scintillator
    geometry : Geometry, optional
        Its ``r_ls`` bounds the vertices; default: the geometry of ``scint.config``.
    """
    _check_common(rng, scint)
    t = _kinetic("t", t, scint)
    pos = _positions(positions, t.size, _geometry_r_ls(geometry, scint))
    return Deposits(t.size, np.arange(t.size), pos, t.copy(), electron_visible(t, scint),
                    np.zeros(t.size), np.zeros(t.size))


def simulate_gammas(energy, positions, *, rng: np.random.Generator, scint: Scintillator,
                    geometry) -> Deposits:
    """Isotropic gammas (one per event) through the LS sphere of radius ``geometry.r_ls``.

    Parameters
    ----------
    energy : float or (n,) array_like
        Gamma energies, MeV.
    positions : (n, 3) or (3,) array_like
        Vertices, mm (inside the LS).
    rng : numpy.random.Generator
    scint : Scintillator
    geometry : juno_calib.detector.geometry.Geometry (only ``r_ls`` is used)

    >>> from types import SimpleNamespace
    >>> from juno_calib.core.rng import make_rng
    >>> d = simulate_gammas(np.full(100, 1.0), [0, 0, 0], rng=make_rng(1),
    ...                     scint=Scintillator.load(), geometry=SimpleNamespace(r_ls=17700.0))
    >>> bool(np.allclose(d.per_event("energy") + d.escaped, 1.0))
    True
    """
    _check_common(rng, scint)
    e = _kinetic("energy", energy, scint, lo_open=True)
    r_ls = ls_radius(geometry)
    pos = _positions(positions, e.size, r_ls)
    dirs = _isotropic_directions(e.size, rng=rng)
    return _gamma_deposits(e, pos, dirs, np.arange(e.size), e.size, rng=rng, scint=scint, r_ls=r_ls)


def simulate_positrons(t, positions, *, rng: np.random.Generator, scint: Scintillator,
                       geometry) -> Deposits:
    """Positrons: the kinetic deposit at the vertex and the two annihilation gammas.

    The positron annihilates in flight with the probability of
    :mod:`juno_calib.particles.annihilation` (Heitler's cross-section along the slowing-down
    path): its track then ends at the kinetic energy ``T_a`` drawn from that process, the
    deposit is ``T - T_a`` with the light ``positron_visible(T) - positron_visible(T_a)``, and the
    two gammas share ``T_a + 2 m_e`` with Heitler's energy and angle distribution about the
    positron's direction (isotropic: multiple scattering has randomised it). Otherwise it stops
    and annihilates at rest into two back-to-back 0.511 MeV gammas. The track is a point (cm).
    """
    _check_common(rng, scint)
    t = _kinetic("t", t, scint)
    n = t.size
    r_ls = ls_radius(geometry)
    pos = _positions(positions, n, r_ls)
    return _simulate_positrons(t, pos, np.arange(n), n, rng=rng, scint=scint, r_ls=r_ls)


def _simulate_positrons(t, pos, event, n_events, *, rng, scint, r_ls) -> Deposits:
    """Kernel of :func:`simulate_positrons` for positrons ``t`` at ``pos`` (n, 3) of ``event``."""
    n = t.size
    d = _isotropic_directions(n, rng=rng)
    t_ann = _sample_annihilation_energy(t, rng=rng, scint=scint)   # no draw when switched off
    kin = Deposits(n_events, event, pos, t - t_ann,
                   positron_visible(t, scint) - positron_visible(t_ann, scint),
                   np.zeros(n), np.zeros(n_events))
    e_a, e_b = np.full(n, ELECTRON_MASS), np.full(n, ELECTRON_MASS)
    dir_a, dir_b = d, -d
    flight = t_ann > 0
    if flight.any():
        ea, eb, ca, cb = _sample_photons(t_ann[flight], rng=rng)
        phi = rng.uniform(0.0, 2 * np.pi, ea.size)
        e_a[flight], e_b[flight] = ea, eb
        dir_a, dir_b = d.copy(), -d
        dir_a[flight] = _rotate(d[flight], ca, phi)
        dir_b[flight] = _rotate(d[flight], cb, phi + np.pi)
    ann = _gamma_deposits(np.concatenate([e_a, e_b]), np.concatenate([pos, pos]),
                          np.concatenate([dir_a, dir_b]), np.tile(event, 2), n_events, rng=rng,
                          scint=scint, r_ls=r_ls)
    return merge_deposits([kin, ann], n_events)


def mean_positron_visible(t, *, rng: np.random.Generator, scint: Scintillator, geometry,
                          n_annihilation: int, n_in_flight: int) -> np.ndarray:
    """Mean visible energy (MeV) of positrons of kinetic energy ``t`` at the centre, gammas contained.

    ``positron_visible(t) + A + P(t) * D(t)``: ``A`` is the mean light of two contained 0.511 MeV
    gammas (``n_annihilation`` pairs), ``P`` the in-flight probability and ``D`` the mean change
    of an in-flight annihilation (shorter track, harder gammas) over ``n_in_flight`` forced
    in-flight samples per energy: the rare process is sampled directly, so its small
    contribution carries little statistical noise. Used by the true detector's positron curve.

    Parameters
    ----------
    t : (k,) array_like
        Kinetic energies, MeV, in [0, ``scint.light_table_e_max``].
    rng : numpy.random.Generator
    scint : Scintillator
    geometry : Geometry (``r_ls``)
    n_annihilation, n_in_flight : int
        Sample sizes (>= 100 and >= 0).
    """
    _check_common(rng, scint)
    t = _kinetic("t", t, scint)
    r_ls = ls_radius(geometry)
    n_ann = validate.integer("n_annihilation", n_annihilation, 100, 10**8)
    m = validate.integer("n_in_flight", n_in_flight, 0, 10**7)
    rest = _simulate_positrons(np.zeros(n_ann), np.zeros((n_ann, 3)), np.arange(n_ann), n_ann,
                               rng=rng, scint=scint, r_ls=r_ls)
    contained = rest.escaped == 0
    a = float(rest.per_event()[contained].mean())
    p = np.asarray(in_flight_probability(t, scint))
    if m == 0 or not np.any(p > 0):
        return positron_visible(t, scint) + a
    t_rep = np.repeat(t, m)
    ta = _sample_annihilation_energy(t_rep, rng=rng, scint=scint, in_flight_only=True)
    ea, eb, ca, cb = _sample_photons(ta, rng=rng)
    d = _isotropic_directions(ta.size, rng=rng)
    phi = rng.uniform(0.0, 2 * np.pi, ta.size)
    dirs = np.concatenate([_rotate(d, ca, phi), _rotate(d, cb, phi + np.pi)])
    ev = np.arange(ta.size)
    gam = _gamma_deposits(np.concatenate([ea, eb]), np.zeros((2 * ta.size, 3)), dirs,
                          np.tile(ev, 2), ta.size, rng=rng, scint=scint, r_ls=r_ls)
    change = gam.per_event() - positron_visible(ta, scint) - a
    ok = (gam.escaped == 0).reshape(t.size, m)
    delta = np.where(ok, change.reshape(t.size, m), 0.0).sum(1) / np.maximum(ok.sum(1), 1)
    return positron_visible(t, scint) + a + p * delta


def capsule_transport(energy, direction, *, rng: np.random.Generator, scint: Scintillator):
    """Pass gammas through the source capsule (model in the module docstring).

    Returns
    -------
    energy : (n,) float
        Energy after the capsule, MeV (0 where absorbed).
    direction : (n, 3) float
        Direction after the capsule.
    lost : (n,) float
        Energy left in the capsule, MeV.
    """
    _check_common(rng, scint)
    e = _kinetic("energy", energy, scint, lo_open=True)
    dirs = _unit_vectors("direction", direction)
    if dirs.shape != (e.size, 3):
        raise ValueError(f"direction must have shape ({e.size}, 3) like energy, got {dirs.shape}")
    return _capsule_transport(e, dirs.copy(), rng=rng, scint=scint)


def _capsule_transport(e, dirs, *, rng, scint):
    """Kernel of :func:`capsule_transport` (inputs checked by it)."""
    mu_rho = np.exp(np.interp(np.log(e), np.log(scint.capsule_mu_energy),
                              np.log(scint.capsule_mu_rho)))
    mu = mu_rho * scint.capsule_density
    interacts = rng.random(e.size) < -np.expm1(-mu * scint.capsule_thickness)
    n_e = scint.capsule_density * AVOGADRO * scint.capsule_z_over_a
    mu_kn = n_e * _klein_nishina_total(e / ELECTRON_MASS)
    absorbed = interacts & (rng.random(e.size) * mu > mu_kn)
    scatter = interacts & ~absorbed
    out = np.where(absorbed, 0.0, e)
    eps = _sample_compton(e[scatter], rng=rng)
    k = e[scatter] / ELECTRON_MASS
    dirs[scatter] = _rotate(dirs[scatter], 1 - (1 - eps) / (k * eps),
                           rng.uniform(0, 2 * np.pi, eps.size))
    out[scatter] = e[scatter] * eps
    return out, dirs, e - out


def capture_displacement(n, *, rng, scint):
    """(n, 3) displacement of the capture point from the neutron source, mm."""
    n = validate.integer("n", n, 0, 10**8)
    _check_common(rng, scint)
    diff_area = (scint.thermal_diffusion_coefficient * scint.thermal_neutron_speed
                 * scint.capture_time)
    sigma = np.sqrt(2.0 * (scint.fermi_age + diff_area))
    return rng.normal(0.0, sigma, (n, 3))


def _branch_gammas(branches, choice):
    """Flatten the gammas of the chosen branches: (energy, event, back_to_back flag)."""
    energies, events, b2b = [], [], []
    for i, br in enumerate(branches):  # loop over a handful of branches, not events
        idx = np.flatnonzero(choice == i)
        for e in br.gammas:
            energies.append(np.full(idx.size, e))
            events.append(idx)
            b2b.append(np.full(idx.size, br.back_to_back))
    if not energies:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)
    return np.concatenate(energies), np.concatenate(events), np.concatenate(b2b)


def emit_branches(branches, n_events, position, *, rng, scint, r_ls, capsule, time=None):
    """Kernel of :func:`juno_calib.hardware.sources.simulate_source`: gammas of the chosen
    branches from ``position`` (3,) or (n_events, 3). Trusts its inputs (checked by the caller)."""
    probs = np.array([b.probability for b in branches], dtype=float)
    choice = rng.choice(len(branches), size=n_events, p=probs / probs.sum())
    e, ev, b2b = _branch_gammas(branches, choice)
    if e.size == 0:
        return empty_deposits(n_events), choice
    pos = np.asarray(position, dtype=float).reshape(-1, 3)
    pos = pos[ev] if pos.shape[0] == n_events else np.broadcast_to(pos, (e.size, 3)).copy()
    dirs = _isotropic_directions(e.size, rng=rng)
    # back-to-back pairs: the second gamma of each event takes minus the first's direction
    if b2b.any():
        idx = np.flatnonzero(b2b)
        order = idx[np.argsort(ev[idx], kind="stable")]
        first, second = order[0::2], order[1::2]
        dirs[second] = -dirs[first]
    lost = np.zeros(n_events)
    if capsule:
        e, dirs, loss = _capsule_transport(e, dirs.copy(), rng=rng, scint=scint)
        np.add.at(lost, ev, loss)
        keep = e > 0
        e, ev, pos, dirs = e[keep], ev[keep], pos[keep], dirs[keep]
    dep = _gamma_deposits(e, pos, dirs, ev, n_events, rng=rng, scint=scint, r_ls=r_ls, time=time)
    return dataclasses.replace(dep, escaped=dep.escaped + lost), choice


def emit_pairs(branches, choice, position, *, rng, scint, r_ls, capsule, time=None):
    """E0 e+e- pairs of the chosen branches, emitted at ``position`` (3,) inside the capsule.

    Kernel of :func:`juno_calib.hardware.sources.simulate_source` (trusts its inputs); returns
    ``None`` when no chosen branch has ``pairs`` (then no random number is drawn).

    Model: the pair's kinetic energy ``E - 2 m_e`` is shared with a uniform fraction (as the
    cascade's pair production; the Born-approximation E0 spectrum favours equal sharing, which
    lets less energy through the wall). Each lepton, isotropic, crosses the capsule wall
    (:func:`juno_calib.particles.capsule.lepton_through_capsule`, straight-path CSDA: an upper
    bound on what gets through). Its bremsstrahlung is one photon of the radiated energy along
    the lepton's direction, passed through the capsule (photons below the lowest energy of the
    iron attenuation table are absorbed). A positron stopped in the wall annihilates at rest
    into two back-to-back 0.511 MeV gammas that cross the wall; a lepton that leaves the wall
    deposits its remaining kinetic energy in the LS at the source position (a positron is
    followed by :func:`simulate_positrons`' kernel, annihilation in flight included). Without
    ``capsule`` the leptons deposit all their kinetic energy in the LS.
    """
    energies, events = [], []
    for i, br in enumerate(branches):  # a handful of branches, not events
        idx = np.flatnonzero(choice == i)
        for e in br.pairs:
            energies.append(np.full(idx.size, e))
            events.append(idx)
    if not energies or not sum(a.size for a in energies):
        return None
    e, ev = np.concatenate(energies), np.concatenate(events)
    n_events = choice.size
    kinetic = e - 2 * ELECTRON_MASS
    share = rng.random(e.size)
    t = np.concatenate([kinetic * share, kinetic * (1 - share)])   # e+ then e-
    is_pos = np.repeat([True, False], e.size)
    lev = np.concatenate([ev, ev])
    dirs = _isotropic_directions(t.size, rng=rng)
    if capsule:
        t_out, radiated = _lepton_through_capsule(t, is_pos, scint)
    else:
        t_out, radiated = t.copy(), np.zeros(t.size)
    lost = np.bincount(lev, weights=t - t_out - radiated, minlength=n_events)
    pos = np.asarray(position, dtype=float).reshape(3)
    # gammas that start inside the capsule: bremsstrahlung, annihilation of stopped positrons
    stopped = is_pos & (t_out <= 0)
    g_e = [radiated[radiated > 0]]
    g_dir = [dirs[radiated > 0]]
    g_ev = [lev[radiated > 0]]
    ann_dir = _isotropic_directions(int(stopped.sum()), rng=rng)
    g_e += [np.full(2 * ann_dir.shape[0], ELECTRON_MASS)]
    g_dir += [ann_dir, -ann_dir]
    g_ev += [lev[stopped], lev[stopped]]
    g_e, g_dir, g_ev = np.concatenate(g_e), np.concatenate(g_dir), np.concatenate(g_ev)
    if capsule:
        too_soft = g_e < scint.capsule_mu_energy[0]
        np.add.at(lost, g_ev[too_soft], g_e[too_soft])
        g_e, g_dir, g_ev = g_e[~too_soft], g_dir[~too_soft], g_ev[~too_soft]
        g_e, g_dir, loss = _capsule_transport(g_e, g_dir.copy(), rng=rng, scint=scint)
        np.add.at(lost, g_ev, loss)
        keep = g_e > 0
        g_e, g_dir, g_ev = g_e[keep], g_dir[keep], g_ev[keep]
    # leptons that reach the LS: an electron deposits locally, a positron is followed like any
    # positron (annihilation in flight or at rest)
    out_e = (t_out > 0) & ~is_pos
    lep = Deposits(n_events, lev[out_e], np.broadcast_to(pos, (int(out_e.sum()), 3)).copy(),
                   t_out[out_e], electron_visible(t_out[out_e], scint), np.zeros(int(out_e.sum())),
                   np.zeros(n_events))
    free = is_pos & (t_out > 0)
    pos_ls = _simulate_positrons(t_out[free], np.broadcast_to(pos, (int(free.sum()), 3)).copy(),
                                 lev[free], n_events, rng=rng, scint=scint, r_ls=r_ls)
    gam = _gamma_deposits(g_e, np.broadcast_to(pos, (g_e.size, 3)).copy(), g_dir, g_ev, n_events,
                          rng=rng, scint=scint, r_ls=r_ls, time=time)
    merged = merge_deposits([lep, pos_ls, gam], n_events)
    if time is not None:
        merged = dataclasses.replace(merged, time=np.asarray(time)[merged.event])
    return dataclasses.replace(merged, escaped=merged.escaped + lost)


def simulate_b12(n_events: int, positions, *, rng: np.random.Generator, scint: Scintillator,
                 geometry) -> Deposits:
    """12B decays at ``positions``: beta (allowed shape, :mod:`juno_calib.particles.beta`) plus the
    4.44 MeV gamma of the 12C 2+ branch.

    Every position is checked (finite, inside the LS sphere) before any decay is sampled, so
    whether a bad position is rejected does not depend on the branch drawn for it."""
    _check_common(rng, scint)
    n = validate.integer("n_events", n_events, 0, 10**8)
    r_ls = ls_radius(geometry)
    pos = _positions(positions, n, r_ls)
    decay = B12Decay.load(scint.config)
    t, branch = sample_b12(n, rng=rng, decay=decay)
    beta = Deposits(n, np.arange(n), pos, t.copy(), electron_visible(t, scint), np.zeros(n),
                    np.zeros(n))
    levels = np.asarray(decay.b12_levels)
    gamma_branch = np.flatnonzero(np.isclose(levels, levels[1]))[0]  # the 4.44 MeV 2+ state
    idx = np.flatnonzero(branch == gamma_branch)
    gam = _gamma_deposits(np.full(idx.size, levels[gamma_branch]), pos[idx],
                          _isotropic_directions(idx.size, rng=rng), idx, n, rng=rng,
                          scint=scint, r_ls=r_ls)
    return merge_deposits([beta, gam], n)
