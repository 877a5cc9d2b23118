"""Light transport from a point in the liquid scintillator (LS) to a photocathode.

A photon emitted isotropically at a vertex ``x`` inside the LS sphere (radius ``R``) reaches a PMT
at ``P`` through three media: LS (to ``R``), the acrylic shell (``R`` to ``R + t``) and water (to
``P``). The probability that it reaches the photocathode of the PMT is, per PMT,

    p = Omega/(4 pi) * Fresnel(LS->acrylic) * Fresnel(acrylic->water) * attenuation,

with every factor computed here from the data in ``data/optics.yaml`` and the geometry:

* ``Omega``: solid angle of the photocathode, the exact on-axis disk expression times the
  projected area of a spheroidal cap seen at incidence angle ``eta``
  (:func:`cathode_solid_angle`; this is also the PMT angular acceptance: the detection
  efficiency per unit area is taken as uniform, an optional linear fall-off is a parameter);
* Fresnel transmission (unpolarised) at ``R`` and ``R + t``. The angles follow from the
  spherical-shell invariant ``n r sin(angle) = const`` (Bouguer's formula for a spherically
  layered medium, Born & Wolf Sec. 3.2), so total internal reflection appears by itself when
  ``n_ls b / (R + t) > n_water`` (``b`` is the impact parameter of the ray);
* attenuation ``exp(-L/lambda)`` in LS (absorption and Rayleigh), acrylic and water.

This is the *direct* light, exact along the straight line (the bending of the ray at the
boundaries is neglected for the path and the solid angle; the Fresnel angles use the invariant).
The *indirect* light (Rayleigh-scattered, absorbed and re-emitted, reflected at the acrylic,
trapped by total reflection) is followed by the photon transport of
:mod:`juno_calib.detector.transport` (``indirect_model = "transport"``); the earlier first-order
term, scattered photons re-detected like light from the centre
(:func:`rayleigh_scattered_fraction`, :func:`rayleigh_redetected`), stays available as
``indirect_model = "first_order"`` for comparison. Reflections from PMT glass and the steel
structure are neglected. The per-PMT tables and the sampler built on this model are in
:mod:`juno_calib.detector.pmt_tables`.

Shapes: vertices ``(..., 3)`` and PMT positions ``(N, 3)`` in mm broadcast to ``(..., N)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import validate
from ..core.params import ParamSet, check_choice, check_range
from .geometry import _disk_solid_angle, disk_solid_angle

INDIRECT_MODELS = ("transport", "first_order")
"""Models of the indirect light: the photon transport of :mod:`juno_calib.detector.transport`,
or the earlier first-order term (:func:`rayleigh_redetected`, kept for comparison)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Optics(ParamSet):
    """Optical constants of the central detector (internal units: lengths in mm).

    Attributes are those of ``data/optics.yaml``; ``attenuation_length`` combines absorption
    and Rayleigh scattering, ``1/L = 1/L_abs + 1/L_ray``.
    """

    _section = "optics"
    n_ls: float
    n_acrylic: float
    n_water: float
    rayleigh_length: float
    absorption_length: float
    acrylic_transmittance: float
    water_attenuation_length: float
    scint_yield: float
    indirect_light: float
    indirect_model: str
    reemission_probability: float
    transport_photons: int
    transport_radii: int
    transport_bins: int
    transport_seed: int

    def __post_init__(self):
        for name in ("n_ls", "n_acrylic", "n_water"):
            check_range(name, getattr(self, name), 1.0, 3.0)
        if not self.n_water < self.n_ls:
            raise ValueError(
                f"n_water = {self.n_water} must be smaller than n_ls = {self.n_ls} "
                "(the LS is optically denser than water)"
            )
        for name in ("rayleigh_length", "absorption_length", "water_attenuation_length"):
            check_range(name, getattr(self, name), 0.0, np.inf, unit="m", lo_open=True)
        check_range("acrylic_transmittance", self.acrylic_transmittance, 0.0, 1.0, lo_open=True)
        check_range("scint_yield", self.scint_yield, 0.0, 1e6, lo_open=True)
        check_range("indirect_light", self.indirect_light, 0.0, 1.0)
        check_choice("indirect_model", self.indirect_model, INDIRECT_MODELS)
        check_range("reemission_probability", self.reemission_probability, 0.0, 1.0)
        for name, lo, hi in (("transport_photons", 1, 10**8), ("transport_radii", 2, 4096),
                             ("transport_bins", 2, 4096), ("transport_seed", 0, 2**63 - 1)):
            check_range(name, getattr(self, name), lo, hi)
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def attenuation_length(self) -> float:
        """LS attenuation length (mm): ``1/(1/L_abs + 1/L_ray)``.

        >>> o = Optics.load("design")
        >>> round(o.attenuation_length / 1000, 2)
        19.99
        """
        return 1.0 / (1.0 / self.absorption_length + 1.0 / self.rayleigh_length)


def cathode_projection(cos_eta, aspect):
    """Projected area of a spheroidal photocathode cap relative to its equatorial disk.

    A half-spheroid of equatorial radius ``a`` and depth ``c`` (``aspect = c/a``) lit by a
    parallel beam at angle ``eta`` to its axis presents the area
    ``pi a (a cos eta + sqrt(a^2 cos^2 eta + c^2 sin^2 eta)) / 2`` (half the silhouette ellipse
    of the full spheroid plus half the projected base disk). ``aspect = 0`` is a flat disk
    (``cos eta``), ``aspect = 1`` a hemisphere (``(1 + cos eta)/2``). Light from behind the
    cathode plane (``cos eta < 0``) is not detected.

    >>> float(cathode_projection(1.0, 0.75)), float(cathode_projection(0.5, 1.0))
    (1.0, 0.75)
    """
    cos_eta = validate.array("cos_eta", cos_eta, -1.0 - 1e-9, 1.0 + 1e-9)
    aspect = validate.array("aspect", aspect, 0.0, 10.0)
    return _cathode_projection(cos_eta, aspect)


def _cathode_projection(cos_eta, aspect):
    """Kernel of :func:`cathode_projection` (inputs checked by it)."""
    c = np.clip(cos_eta, 0.0, 1.0)
    s2 = 1.0 - c * c
    return 0.5 * (c + np.sqrt(c * c + aspect * aspect * s2)) * (cos_eta > 0)


def cathode_solid_angle(distance, radius, cos_eta, aspect):
    """Solid angle (sr) of a spheroidal photocathode cap seen from ``distance`` at angle ``eta``.

    The exact on-axis disk expression (:func:`juno_calib.detector.geometry.disk_solid_angle`) times the
    cap's projected area relative to its base disk (:func:`cathode_projection`). The product is
    exact on axis and in the far field; off axis it neglects terms of order ``(a/d)^2``
    (``a/d <= 0.15`` for a vertex in the LS and a 20-inch PMT). Arrays broadcast.

    >>> import numpy as np
    >>> d, a = 5000.0, 254.0
    >>> round(float(cathode_solid_angle(d, a, 1.0, 0.75) / (2 * np.pi * (1 - d / np.hypot(d, a)))), 12)
    1.0
    """
    return disk_solid_angle(radius, distance) * cathode_projection(cos_eta, aspect)


def fresnel_transmission(n1, n2, sin_i):
    """Unpolarised Fresnel power transmission from medium ``n1`` into ``n2``.

    ``T = 1 - (r_s^2 + r_p^2)/2`` with ``r_s = (n1 cos i - n2 cos t)/(n1 cos i + n2 cos t)``,
    ``r_p = (n2 cos i - n1 cos t)/(n2 cos i + n1 cos t)`` and
    ``cos t = sqrt(1 - (n1/n2)^2 sin^2 i)`` (Born & Wolf Sec. 1.5). Past the critical angle
    ``arcsin(n2/n1)`` the radicand is negative, ``cos t`` is imaginary and ``|r_s| = |r_p| = 1``:
    the light is totally reflected. Evaluating the radicand as ``max(., 0)`` gives exactly
    ``r_s = r_p = 1`` there, so ``T = 0`` follows from the indices; no angle is put in by hand.
    ``sin_i`` is the sine of the incidence angle (array).

    >>> round(float(fresnel_transmission(1.0, 1.5, 0.0)), 6)  # 4 n1 n2 / (n1 + n2)^2
    0.96
    """
    n1 = validate.array("n1", n1, 1.0, 3.0)
    n2 = validate.array("n2", n2, 1.0, 3.0)
    sin_i = validate.array("sin_i", sin_i, 0.0, 1.0 + 1e-9)
    return _fresnel_transmission(n1, n2, sin_i)


def _fresnel_transmission(n1, n2, sin_i):
    """Kernel of :func:`fresnel_transmission` (inputs checked by it)."""
    cos_i = np.sqrt(np.clip(1.0 - sin_i * sin_i, 0.0, 1.0))
    sin_t = (n1 / n2) * sin_i
    cos_t = np.sqrt(np.maximum(1.0 - sin_t * sin_t, 0.0))
    a, b = n1 * cos_i, n2 * cos_t
    c, d = n2 * cos_i, n1 * cos_t
    with np.errstate(invalid="ignore", divide="ignore"):
        rs = np.where(a + b > 0, (a - b) / (a + b), 1.0)
        rp = np.where(c + d > 0, (c - d) / (c + d), 1.0)
    return 1.0 - 0.5 * (rs * rs + rp * rp)


def boundary_transmission(impact, optics: Optics, r_ls: float, acrylic_thickness: float):
    """Fresnel transmission LS -> acrylic (at ``R``) -> water (at ``R + t``) of a ray.

    ``impact`` is the ray's impact parameter ``b`` (mm) with respect to the detector centre.
    In a spherically layered medium ``n(r) r sin(angle)`` is conserved along the ray, so the
    sines of the incidence angles are ``b/R`` at the LS/acrylic surface and
    ``n_ls b / (n_acrylic (R + t))`` at the acrylic/water surface; the transmitted light is
    lost when ``n_ls b > n_water (R + t)``.
    """
    validate.instance("optics", optics, Optics, hint='Optics.load("design")')
    r_ls = validate.number("r_ls", r_ls, 0.0, lo_open=True, unit="m")
    acrylic_thickness = validate.number("acrylic_thickness", acrylic_thickness, 0.0, r_ls, unit="mm")
    b = validate.array("impact", impact, 0.0, r_ls * (1 + 1e-9), unit="m",
                       why="the impact parameter of a ray from a vertex in the LS")
    return _boundary_transmission(b, optics, r_ls, acrylic_thickness)


def _boundary_transmission(b, optics, r_ls, acrylic_thickness):
    """Kernel of :func:`boundary_transmission` (inputs checked by it)."""
    r_out = r_ls + acrylic_thickness
    t1 = _fresnel_transmission(optics.n_ls, optics.n_acrylic, b / r_ls)
    t2 = _fresnel_transmission(optics.n_acrylic, optics.n_water, optics.n_ls * b / (optics.n_acrylic * r_out))
    return t1 * t2


def _sphere_exit(proj, r2, radius):
    """Distance along a ray from a point (``|x|^2 = r2``, ``x.u = proj``) to a sphere."""
    return -proj + np.sqrt(np.maximum(proj * proj - r2 + radius * radius, 0.0))


def ray_paths(vertex, pmt_position, r_ls: float, acrylic_thickness: float):
    """Straight-line geometry from vertices to PMTs.

    Parameters
    ----------
    vertex : (M, 3) array, mm, points inside the LS sphere.
    pmt_position : (N, 3) array, mm, points outside the acrylic.
    r_ls, acrylic_thickness : mm.

    Returns
    -------
    dict of (M, N) arrays: ``distance``, ``l_ls``, ``l_acrylic``, ``l_water`` (mm),
    ``impact`` (impact parameter w.r.t. the centre, mm) and ``cos_eta`` (cosine of the angle
    between the ray and the inward PMT axis, the PMT facing the centre).
    """
    r_ls = validate.number("r_ls", r_ls, 0.0, lo_open=True, unit="m")
    acrylic_thickness = validate.number("acrylic_thickness", acrylic_thickness, 0.0, r_ls, unit="mm")
    x = validate.positions("vertex", vertex, r_max=r_ls, volume=validate.LS)
    p = validate.positions("pmt_position", pmt_position, r_max=validate.PMT_R_MAX,
                             volume=validate.PMT_VOLUME)
    if np.any(np.einsum("nk,nk->n", p, p) <= (r_ls + acrylic_thickness) ** 2):
        raise ValueError(f"pmt_position: every PMT must sit outside the acrylic, r > "
                         f"{(r_ls + acrylic_thickness) / 1000:g} m")
    return _ray_paths(x, p, r_ls, acrylic_thickness)


def _ray_paths(x, p, r_ls, acrylic_thickness):
    """Kernel of :func:`ray_paths` (inputs checked by it)."""
    r2 = np.einsum("mk,mk->m", x, x)[:, None]
    p2 = np.einsum("nk,nk->n", p, p)[None, :]
    xp = x @ p.T
    dist = np.sqrt(np.maximum(r2 + p2 - 2.0 * xp, 0.0))
    proj = (xp - r2) / dist  # u . x with u the unit vector from vertex to PMT
    t_ls = _sphere_exit(proj, r2, r_ls)
    t_acr = _sphere_exit(proj, r2, r_ls + acrylic_thickness)
    impact = np.sqrt(np.maximum(r2 - proj * proj, 0.0))
    cos_eta = (p2 - xp) / (dist * np.sqrt(p2))
    return {
        "distance": dist, "l_ls": t_ls, "l_acrylic": t_acr - t_ls, "l_water": dist - t_acr,
        "impact": impact, "cos_eta": cos_eta,
    }


def attenuation(l_ls, l_acrylic, l_water, optics: Optics, acrylic_thickness: float):
    """Survival probability ``exp(-sum L_i / lambda_i)`` along LS, acrylic and water paths (mm).

    The acrylic's attenuation length follows from its transmittance over its thickness,
    ``lambda = -t / ln(T)``.
    """
    validate.instance("optics", optics, Optics, hint='Optics.load("design")')
    acrylic_thickness = validate.number("acrylic_thickness", acrylic_thickness, 0.0, 1e3, unit="mm",
                                        lo_open=True)
    l_ls, l_acrylic, l_water = (validate.array(name, val, 0.0, 1e6, unit="m") for name, val in
                                (("l_ls", l_ls), ("l_acrylic", l_acrylic), ("l_water", l_water)))
    return _attenuation(l_ls, l_acrylic, l_water, optics, acrylic_thickness)


def _attenuation(l_ls, l_acrylic, l_water, optics, acrylic_thickness):
    """Kernel of :func:`attenuation` (path lengths may be -1e-14 from rounding; not checked)."""
    mu_acr = -np.log(optics.acrylic_transmittance) / acrylic_thickness
    return np.exp(-l_ls / optics.attenuation_length - mu_acr * l_acrylic
                  - l_water / optics.water_attenuation_length)


def direct_fraction(vertex, pmt_position, cathode_radius, cathode_aspect, optics: Optics,
                    r_ls: float, acrylic_thickness: float, angular_slope: float = 0.0):
    """Fraction of isotropic photons from each vertex that reach each photocathode unscattered.

    Parameters
    ----------
    vertex : (M, 3) mm; pmt_position : (N, 3) mm, PMTs facing the centre.
    cathode_radius, cathode_aspect : (N,) or scalars, equatorial radius (mm) and depth/radius.
    optics : :class:`Optics`; r_ls, acrylic_thickness : mm.
    angular_slope : relative efficiency loss ``s (1 - cos eta)`` away from normal incidence.

    Returns
    -------
    (M, N) array of probabilities (before the detection efficiency).
    """
    validate.number("angular_slope", angular_slope, 0.0, 1.0)
    validate.array("cathode_radius", cathode_radius, 0.0, 1e3, unit="mm", lo_open=True)
    validate.instance("optics", optics, Optics, hint='Optics.load("design")')
    cathode_radius = np.asarray(cathode_radius, dtype=float)
    cathode_aspect = validate.array("cathode_aspect", cathode_aspect, 0.0, 10.0)
    g = ray_paths(vertex, pmt_position, r_ls, acrylic_thickness)
    omega = (_disk_solid_angle(cathode_radius, g["distance"])
             * _cathode_projection(g["cos_eta"], cathode_aspect))
    accept = 1.0 - angular_slope * (1.0 - g["cos_eta"])
    trans = _boundary_transmission(g["impact"], optics, r_ls, acrylic_thickness)
    att = _attenuation(g["l_ls"], g["l_acrylic"], g["l_water"], optics, acrylic_thickness)
    return omega / (4.0 * np.pi) * accept * trans * att


def rayleigh_scattered_fraction(radius, optics: Optics, r_ls: float, n_nodes: int = 64):
    """Fraction of isotropic photons from radius ``radius`` Rayleigh-scattered in the LS.

    Along a direction with LS path ``L`` to the sphere the probability to scatter before
    being absorbed or leaving is ``(lambda_att/lambda_ray) (1 - exp(-L/lambda_att))``; it is
    averaged over ``cos alpha`` (uniform in [-1, 1]) with Gauss-Legendre nodes. ``radius`` is
    an array (mm); returns the same shape.

    >>> from math import exp
    >>> o = Optics.load("design")
    >>> f = float(rayleigh_scattered_fraction(0.0, o, 17700.0))
    >>> abs(f - o.attenuation_length / o.rayleigh_length * (1 - exp(-17700 / o.attenuation_length))) < 1e-12
    True
    """
    validate.instance("optics", optics, Optics, hint='Optics.load("design")')
    r_ls = validate.number("r_ls", r_ls, 0.0, lo_open=True, unit="m")
    r = validate.array("radius", radius, 0.0, r_ls * (1 + 1e-9), unit="m", why="a vertex radius in the LS")
    n_nodes = validate.integer("n_nodes", n_nodes, 2, 1000)
    c, w = np.polynomial.legendre.leggauss(n_nodes)
    rr = r[..., None]
    path = _sphere_exit(rr * c, rr * rr, r_ls)
    lam = optics.attenuation_length
    frac = lam / optics.rayleigh_length * (1.0 - np.exp(-path / lam))
    return 0.5 * np.sum(frac * w, axis=-1)


def rayleigh_redetected(radius, direct_centre, optics: Optics, r_ls: float):
    """Fraction of photons from ``radius`` that reach each photocathode after one Rayleigh scattering.

    The earlier first-order model (``indirect_model = "first_order"``, kept for comparison with
    the photon transport of :mod:`juno_calib.detector.transport`): the scattered photons are
    re-detected like light emitted at the centre, ``kappa s(r) p_k(0)`` with ``s`` from
    :func:`rayleigh_scattered_fraction`, ``kappa = optics.indirect_light`` (1 = on, 0 = scattered
    light lost) and ``p_k(0)``
    the direct fraction of PMT ``k`` from the centre. ``radius``: (M,) mm; ``direct_centre``:
    scalar or (N,). Returns (M, 1) or (M, N), to be added to the direct fraction (M, N).

    >>> import dataclasses
    >>> o = Optics.load("design")
    >>> rayleigh_redetected(np.array([0.0, 9e3]), np.array([1e-4, 2e-4, 3e-4]), o, 17700.0).shape
    (2, 3)
    >>> off = dataclasses.replace(o, indirect_light=0.0)
    >>> float(rayleigh_redetected(np.zeros(1), 1.0, off, 17700.0)[0, 0])
    0.0
    """
    radius = validate.array("radius", radius, 0.0, ndim=1)
    direct_centre = validate.array("direct_centre", direct_centre, 0.0, 1.0, ndim=(0, 1))
    scat = optics.indirect_light * rayleigh_scattered_fraction(radius, optics, r_ls)
    return scat[:, None] * direct_centre


def total_reflection_onset(r_ls: float, acrylic_thickness: float, n_ls: float, n_water: float) -> float:
    """Vertex radius (mm) beyond which some light is totally reflected at the water surface.

    The one home of the formula. Light from radius ``r`` meets a sphere of radius ``R`` at
    incidence angles up to ``arcsin(r/R)``; along a ray through concentric shells
    ``n r sin(angle)`` is conserved (Born & Wolf Sec. 3.2), and the water surface is at
    ``R + t``, so light is lost past the critical angle ``arcsin(n_water/n_ls)`` for
    ``r > (R + t) n_water / n_ls``. ``acrylic_thickness = 0`` gives the textbook ``R n_water / n_ls``.

    >>> round(total_reflection_onset(17700.0, 0.0, 1.4955, 1.333) / 1000, 3)
    15.777
    """
    r_ls = validate.number("r_ls", r_ls, 0.0, lo_open=True, unit="m")
    t = validate.number("acrylic_thickness", acrylic_thickness, 0.0, r_ls, unit="mm")
    n_ls = validate.number("n_ls", n_ls, 1.0, 3.0)
    n_water = validate.number("n_water", n_water, 1.0, n_ls, hi_open=True,
                              why="the LS is optically denser than water")
    return (r_ls + t) * n_water / n_ls


def tir_radius(optics: Optics, geometry, *, acrylic: bool = False) -> float:
    """Vertex radius (mm) beyond which some light is totally reflected at the LS/water boundary.

    :func:`total_reflection_onset` for the optics and geometry: without the acrylic shell
    (``acrylic=False``) the textbook ``R n_water / n_ls``, with it the exact onset of this model,
    ``(R + t) n_water / n_ls``.
    """
    validate.instance("optics", optics, Optics, hint='Optics.load("design")')
    if not (hasattr(geometry, "r_ls") and hasattr(geometry, "acrylic_thickness")):
        raise TypeError(f"geometry must be a Geometry (e.g. Geometry.load()), got {type(geometry).__name__}")
    t = geometry.acrylic_thickness if acrylic else 0.0
    return total_reflection_onset(geometry.r_ls, t, optics.n_ls, optics.n_water)
