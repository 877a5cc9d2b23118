"""Neutron sources in the guide tube: where their capture gammas are made and what reaches the LS.

The guide tube (GT) runs in the water, outside the 12 cm acrylic vessel. A neutron source in it
is thermalised and captured mostly in the water, partly in the acrylic and, near the wall, in
the LS. The calibration line is the 2.223 MeV gamma of capture on hydrogen; from a capture
outside the LS it reaches the LS only through water and acrylic.

Model (stated):

* Capture points: the age-diffusion displacement of
  :func:`juno_calib.particles.events.capture_displacement` (Fermi age and diffusion length of
  water, ``data/scintillator.yaml``) from the source, the same law in every medium.
* The medium of a capture (LS, acrylic, water) by radius; in each, the capture on H has the
  probability n_H sigma_H / sum n_Z sigma_Z (H, C, O thermal cross-sections, Mughabghab). Other
  captures (C, O) give other lines and are not in the n-H peak.
* An n-H gamma outside the LS goes isotropically; it reaches the LS *unscattered* with
  probability exp(-mu_w L_w - mu_a L_a) along its straight path (lengths L in water and
  acrylic, linear attenuation coefficients mu of :func:`attenuation_coefficient`); it then
  enters the LS at the crossing point with its full energy and is followed by the LS cascade
  (:func:`juno_calib.particles.gamma.compton_cascade`). A gamma that scatters in water or
  acrylic, or misses the LS, is not followed: it loses energy before the LS and falls below the
  peak, so the peak rate here is a lower bound (a forward scatter of a few degrees loses less
  than the peak width and would still count).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import units, validate
from ..core.params import check_choice, load_quantities
from ..particles.events import Deposits, capture_displacement, ls_radius
from ..particles.gamma import compton_cascade, isotropic_directions, klein_nishina_total, pair_cross_section
from ..particles.scintillator import AVOGADRO, Scintillator
from ..particles.visible import electron_visible, positron_visible
from .sources import Source, get_source

MEDIA = ("acrylic", "water")
_Z = {"h": 1.0, "c": 6.0, "o": 8.0}


@dataclasses.dataclass(frozen=True)
class Medium:
    """A medium of H, C and O: density (internal g/mm^3), mass fractions and atomic weights."""

    name: str
    density: float
    mass_fraction: dict
    atomic_weight: dict
    capture_xs: dict

    def number_density(self, element: str) -> float:
        """Atoms of ``element`` ("h", "c", "o") per mm^3."""
        return self.density * AVOGADRO * self.mass_fraction[element] / self.atomic_weight[element]

    @property
    def capture_fraction_h(self) -> float:
        """Fraction of thermal-neutron captures on H: n_H sigma_H / sum_Z n_Z sigma_Z."""
        rates = {el: self.number_density(el) * self.capture_xs[el] for el in _Z}
        return rates["h"] / sum(rates.values())


def load_medium(name: str, scint: Scintillator) -> Medium:
    """The acrylic or the water of ``data/materials.yaml`` (H and C atomic weights and capture
    cross-sections from ``scint``, the one place they live).

    >>> from juno_calib.particles.scintillator import Scintillator
    >>> round(load_medium("water", Scintillator.load()).capture_fraction_h, 4)
    0.9997
    """
    check_choice("name", name, MEDIA)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    q = {k: v.internal for k, v in load_quantities("materials", scint.config).items()}
    fractions = {el: float(q[f"{name}_mass_fraction_{el}"]) for el in _Z}
    if abs(sum(fractions.values()) - 1.0) > 1e-4:
        raise ValueError(f"data/materials.yaml: the mass fractions of {name} sum to "
                         f"{sum(fractions.values()):.6f}, must sum to 1")
    return Medium(name=name, density=float(q[f"{name}_density"]), mass_fraction=fractions,
                  atomic_weight={"h": scint.atomic_weight_h, "c": scint.atomic_weight_c,
                                 "o": float(q["atomic_weight_o"])},
                  capture_xs={"h": scint.capture_xs_h, "c": scint.capture_xs_c,
                              "o": float(q["capture_xs_o"])})


def attenuation_coefficient(energy, medium: Medium, scint: Scintillator) -> np.ndarray:
    """Linear attenuation coefficient of ``medium`` (1/mm) for gammas of ``energy`` (MeV).

    Compton scattering on its electrons (Klein–Nishina) plus pair production on its nuclei (the
    Geant4 fit of ``scint``'s data), the model of the LS cascade applied to the medium; binding,
    coherent scattering and photo-absorption are neglected (< 1% above 0.2 MeV in H, C, O).

    >>> from juno_calib.particles.scintillator import Scintillator
    >>> s = Scintillator.load()
    >>> round(float(attenuation_coefficient(2.223, load_medium("acrylic", s), s)) * 10, 4)  # 1/cm
    0.0538
    """
    e = validate.energies("energy", energy, 0.0, 1e3 * units.MeV, lo_open=True)
    validate.instance("medium", medium, Medium, hint='load_medium("acrylic", scint)')
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    n_e = sum(medium.number_density(el) * z for el, z in _Z.items())
    mu = n_e * klein_nishina_total(e)
    for el, z in _Z.items():
        if medium.mass_fraction[el] > 0:
            mu = mu + medium.number_density(el) * pair_cross_section(e, z, scint)
    return mu


def _sphere_entry(pos, dirs, radius):
    """Distance along ``dirs`` from ``pos`` (outside or on the sphere) to where the ray enters the
    sphere ``radius``; inf where it misses (or points away)."""
    b = np.sum(pos * dirs, axis=1)
    c = np.sum(pos * pos, axis=1) - radius**2
    disc = b * b - c
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    return np.where((disc > 0) & (t >= 0) & (b < 0), t, np.inf)


def transmit_to_ls(energy, start, direction, *, rng: np.random.Generator, scint: Scintillator, geometry,
                   acrylic: Medium, water: Medium) -> dict[str, np.ndarray]:
    """Gammas from points outside the LS: which reach it unscattered, and where they enter.

    energy : (n,) MeV; start : (n, 3) mm, outside the LS (r >= r_ls); direction : (n, 3) unit
    vectors. The path to the LS sphere is split into water (r > r_ls + acrylic thickness) and
    acrylic; a gamma survives with probability exp(-mu_w L_w - mu_a L_a).

    Returns ``reached`` (n,) bool, ``entry`` (n, 3) (the crossing point, just inside the LS,
    valid where reached), ``path_water`` and ``path_acrylic`` (n,) mm (inf where the ray misses
    the LS) and ``survival`` (n,), the probability of crossing unscattered.
    """
    e = validate.energies("energy", energy, 0.0, 1e3 * units.MeV, lo_open=True, ndim=1)
    pos = validate.positions("start", start, n=e.size, r_max=1 * units.km, volume="the experiment (1 km)")
    dirs = np.asarray(direction, dtype=float)
    if dirs.shape != pos.shape or not np.all(np.isfinite(dirs)):
        raise ValueError(f"direction must be finite unit vectors of shape {pos.shape}, "
                         f"got shape {dirs.shape}")
    norm = np.linalg.norm(dirs, axis=1)
    if np.any(np.abs(norm - 1.0) > 1e-6):
        raise ValueError(f"direction must be unit vectors, got norms from {norm.min():g} to {norm.max():g}")
    validate.generator("rng", rng)
    for name, m in (("acrylic", acrylic), ("water", water)):
        validate.instance(name, m, Medium, hint=f'load_medium("{name}", scint)')
    r_ls = ls_radius(geometry)
    t_ac = validate.number("geometry.acrylic_thickness", geometry.acrylic_thickness, 0.0, 1 * units.m,
                           unit="cm")
    r = np.linalg.norm(pos, axis=1)
    if np.any(r < r_ls * (1 - 1e-9)):
        raise ValueError(f"start must lie outside the LS (r >= r_ls = {r_ls / units.m:g} m), got r = "
                         f"{r.min() / units.m:g} m")
    to_ls = _sphere_entry(pos, dirs, r_ls)
    in_water = r > r_ls + t_ac
    to_acrylic = np.where(in_water, _sphere_entry(pos, dirs, r_ls + t_ac), 0.0)
    hits = np.isfinite(to_ls)
    path_w = np.where(hits, to_acrylic, np.inf)
    path_a = np.where(hits, np.where(hits, to_ls, 0.0) - to_acrylic, np.inf)
    mu_w = attenuation_coefficient(e, water, scint)
    mu_a = attenuation_coefficient(e, acrylic, scint)
    optical_depth = mu_w * np.where(hits, path_w, 0.0) + mu_a * np.where(hits, path_a, 0.0)
    survival = np.where(hits, np.exp(-optical_depth), 0.0)
    reached = rng.random(e.size) < survival
    entry = pos + np.where(hits, to_ls, 0.0)[:, None] * dirs
    entry = entry * (r_ls * (1 - 1e-9) / np.maximum(np.linalg.norm(entry, axis=1), 1e-9))[:, None]
    return {"reached": reached, "entry": entry, "path_water": path_w, "path_acrylic": path_a,
            "survival": survival}


def simulate_guide_tube(source, n_events: int, position, *, rng: np.random.Generator,
                        scint: Scintillator, geometry) -> tuple[Deposits, dict]:
    """n-H capture gammas of a neutron source at ``position`` in the guide tube (model above).

    n_events : emitted neutrons; position : (3,) mm, outside the LS (in the water or acrylic).

    Returns the LS deposits of the ``n_events`` neutrons (events without a capture gamma in the
    LS have none) and a dict of fractions per neutron: ``captured_ls``, ``captured_acrylic``,
    ``captured_water`` (where the neutron is captured), ``nh`` (captured on H), ``nh_reach`` (an
    n-H gamma that reaches the LS unscattered, or starts in it) and ``nh_scatter`` (the expected
    fraction whose n-H gamma heads for the LS but interacts in water or acrylic first: these are
    dropped; the ones that scatter forward by a little are the model's missing peak events).
    """
    validate.instance("source", source, Source, hint='get_source("AmC")')
    if not source.emits_neutrons:
        raise ValueError(f"source {source.name} emits no neutrons: the guide-tube model follows "
                         "capture gammas")
    n = validate.integer("n_events", n_events, 1, 10**7)
    validate.generator("rng", rng)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    r_ls = ls_radius(geometry)
    t_ac = validate.number("geometry.acrylic_thickness", geometry.acrylic_thickness, 0.0, 1 * units.m,
                           unit="cm")
    src_pos = validate.positions("position", position, r_max=1 * units.km, volume="the experiment (1 km)")
    if src_pos.shape != (1, 3) or np.linalg.norm(src_pos) < r_ls:
        raise ValueError(f"position must be one point (3,) outside the LS (r >= {r_ls / units.m:g} m), got "
                         f"{np.asarray(position).tolist()}")
    acrylic, water = load_medium("acrylic", scint), load_medium("water", scint)
    p_n = sum(b.probability for b in source.branches if b.neutron)
    has_n = rng.random(n) < p_n
    idx = np.flatnonzero(has_n)
    cap = src_pos[0] + capture_displacement(idx.size, rng=rng, scint=scint)
    r = np.linalg.norm(cap, axis=1)
    medium = np.where(r < r_ls, 0, np.where(r < r_ls + t_ac, 1, 2))  # LS, acrylic, water
    f_h = np.array([scint.capture_fraction_h, acrylic.capture_fraction_h, water.capture_fraction_h])
    on_h = rng.random(idx.size) < f_h[medium]
    e_nh = get_source("nH", scint.config).peak_energy()
    dirs = isotropic_directions(int(on_h.sum()), rng=rng)
    start, ev, med = cap[on_h], idx[on_h], medium[on_h]
    outside = med > 0
    tr = transmit_to_ls(np.full(int(outside.sum()), e_nh), start[outside], dirs[outside], rng=rng,
                        scint=scint, geometry=geometry, acrylic=acrylic, water=water)
    go = ~outside
    go[np.flatnonzero(outside)[tr["reached"]]] = True
    start = start.copy()
    start[np.flatnonzero(outside)] = tr["entry"]
    cas = compton_cascade(np.full(int(go.sum()), e_nh), start[go], dirs[go], ev[go], n, rng=rng,
                          scint=scint, r_ls=r_ls)
    e_vis = np.where(cas.positron, positron_visible(cas.energy, scint), electron_visible(cas.energy, scint))
    time = rng.exponential(scint.capture_time, n)[cas.event]
    dep = Deposits(n, cas.event, cas.position, cas.energy, e_vis, time, cas.escaped)
    heading = np.isfinite(tr["path_water"])
    frac = {"captured_ls": float(np.sum(medium == 0) / n), "captured_acrylic": float(np.sum(medium == 1) / n),
            "captured_water": float(np.sum(medium == 2) / n), "nh": float(on_h.sum() / n),
            "nh_reach": float(go.sum() / n), "nh_scatter": float(np.sum(1.0 - tr["survival"][heading]) / n)}
    return dep, frac


__all__ = ["MEDIA", "Medium", "load_medium", "attenuation_coefficient", "transmit_to_ls",
           "simulate_guide_tube"]
