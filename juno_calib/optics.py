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

Neglected (stated in chapter 3): the bending of the ray at the boundaries (the path and the
solid angle use the straight line from vertex to PMT; the Fresnel angles use the invariant),
reflections from PMT glass and the steel structure, re-emission after absorption (the absorption
length is an effective one), and light reflected at the acrylic that is detected elsewhere. The
first-order Rayleigh term is modelled: scattered photons are re-detected like light from the
centre (:func:`rayleigh_scattered_fraction`).

Shapes: vertices ``(..., 3)`` and PMT positions ``(N, 3)`` in mm broadcast to ``(..., N)``.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
from scipy.ndimage import maximum_filter1d

from .geometry import disk_solid_angle
from .params import ParamSet, check_range


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
    rayleigh_redetection: float

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
        check_range("rayleigh_redetection", self.rayleigh_redetection, 0.0, 1.0)

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
    c = np.clip(np.asarray(cos_eta, dtype=float), 0.0, 1.0)
    s2 = 1.0 - c * c
    return 0.5 * (c + np.sqrt(c * c + aspect * aspect * s2)) * (np.asarray(cos_eta) > 0)


def cathode_solid_angle(distance, radius, cos_eta, aspect):
    """Solid angle (sr) of a spheroidal photocathode cap seen from ``distance`` at angle ``eta``.

    The exact on-axis disk expression (:func:`juno_calib.geometry.disk_solid_angle`) times the
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
    sin_i = np.asarray(sin_i, dtype=float)
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
    b = np.asarray(impact, dtype=float)
    r_out = r_ls + acrylic_thickness
    t1 = fresnel_transmission(optics.n_ls, optics.n_acrylic, b / r_ls)
    t2 = fresnel_transmission(optics.n_acrylic, optics.n_water, optics.n_ls * b / (optics.n_acrylic * r_out))
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
    x = np.atleast_2d(np.asarray(vertex, dtype=float))
    p = np.atleast_2d(np.asarray(pmt_position, dtype=float))
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
    mu_acr = -np.log(optics.acrylic_transmittance) / acrylic_thickness
    return np.exp(
        -np.asarray(l_ls) / optics.attenuation_length
        - mu_acr * np.asarray(l_acrylic)
        - np.asarray(l_water) / optics.water_attenuation_length
    )


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
    g = ray_paths(vertex, pmt_position, r_ls, acrylic_thickness)
    omega = cathode_solid_angle(g["distance"], cathode_radius, g["cos_eta"], cathode_aspect)
    accept = 1.0 - angular_slope * (1.0 - g["cos_eta"])
    trans = boundary_transmission(g["impact"], optics, r_ls, acrylic_thickness)
    att = attenuation(g["l_ls"], g["l_acrylic"], g["l_water"], optics, acrylic_thickness)
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
    r = np.asarray(radius, dtype=float)
    c, w = np.polynomial.legendre.leggauss(n_nodes)
    rr = r[..., None]
    path = _sphere_exit(rr * c, rr * rr, r_ls)
    lam = optics.attenuation_length
    frac = lam / optics.rayleigh_length * (1.0 - np.exp(-path / lam))
    return 0.5 * np.sum(frac * w, axis=-1)


def tir_radius(optics: Optics, geometry, *, acrylic: bool = False) -> float:
    """Vertex radius (mm) beyond which some light is totally reflected at the LS/water boundary.

    Light from radius ``r`` meets the sphere at incidence angles up to ``arcsin(r/R)``; with the
    critical angle ``arcsin(n_water/n_ls)`` the onset is ``R n_water / n_ls``. With the acrylic
    shell the water surface sits at ``R + t`` and the invariant ``n r sin(angle)`` moves the
    exact onset of this model to ``(R + t) n_water / n_ls`` (``acrylic=True``).
    """
    r_out = geometry.r_ls + (geometry.acrylic_thickness if acrylic else 0.0)
    return r_out * optics.n_water / optics.n_ls


def _bilinear(values, dx, dy, x, y):
    """Bilinear interpolation of ``values`` on the uniform grid ``(i dx, j dy)`` at (x, y)."""
    n_x, n_y = values.shape
    fx = np.clip(np.asarray(x) / dx, 0.0, n_x - 1.0)
    fy = np.clip(np.asarray(y) / dy, 0.0, n_y - 1.0)
    i = np.minimum(fx.astype(np.int64), n_x - 2)
    j = np.minimum(fy.astype(np.int64), n_y - 2)
    wx, wy = fx - i, fy - j
    return ((1 - wx) * (1 - wy) * values[i, j] + wx * (1 - wy) * values[i + 1, j]
            + (1 - wx) * wy * values[i, j + 1] + wx * wy * values[i + 1, j + 1])


def _orthonormal_frame(axis):
    """Two unit vectors (D, 3) completing the unit vectors ``axis`` (D, 3) to a frame."""
    ax, ay, az = axis[:, 0], axis[:, 1], axis[:, 2]
    polar = np.abs(az) >= 0.9  # use x instead of z as the helper axis near the poles
    e1 = np.where(polar[:, None], np.stack([np.zeros_like(ax), az, -ay], 1),
                  np.stack([ay, -ax, np.zeros_like(ax)], 1))
    e1 /= np.sqrt(np.einsum("dk,dk->d", e1, e1))[:, None]
    e2 = np.stack([ay * e1[:, 2] - az * e1[:, 1], az * e1[:, 0] - ax * e1[:, 2],
                   ax * e1[:, 1] - ay * e1[:, 0]], 1)
    return e1, e2


@dataclasses.dataclass(frozen=True, eq=False)
class PMTTable:
    """Expected PE of one PMT of a system vs vertex radius and vertex-PMT angle, and a sampler.

    The PMTs of a system sit on a sphere facing the centre, so the expectation of PMT ``k``
    for a vertex ``x`` depends only on ``r = |x|`` and ``alpha``, the angle between ``x`` and
    the PMT direction: ``mu_k(x) = weight_k * T(r, alpha_k)``. ``T`` (PE per MeV for unit PDE)
    is tabulated on a uniform grid in ``r`` (0 to R) and ``alpha`` (0 to pi) and interpolated
    bilinearly.

    Attributes: ``values`` (n_r, n_alpha); ``direction`` (N, 3) PMT unit vectors; ``weight``
    (N,) PDEs; ``lookup`` (n_theta, n_phi) the PMT owning each cell of a grid in
    ``(theta, phi)`` (the nearest PMT to the cell centre), which partitions the sphere
    into one cell per PMT; ``cell_area`` (N,) the solid angle (sr) of each PMT's cell;
    ``bound``: the reach, in cell radii, of the sampler's acceptance bound; ``clip_mass``:
    the share of proposals whose acceptance may exceed 1 (and be clipped).
    """

    r_ls: float
    values: np.ndarray
    direction: np.ndarray
    weight: np.ndarray
    lookup: np.ndarray
    cell_area: np.ndarray
    bound: float = 1.0
    clip_mass: float = 1e-3

    @classmethod
    def build(cls, pmt_position, cathode_radius: float, aspect: float, weight, optics: Optics,
              r_ls: float, acrylic_thickness: float, *, scale: float, angular_slope: float = 0.0,
              n_r: int = 709, n_alpha: int = 721, lookup_shape=(1024, 2048)):
        """Tabulate ``T`` for PMTs at ``pmt_position`` (N, 3) of one cathode size and shape.

        ``scale`` converts detection probability to PE per MeV (effective photons per MeV);
        the Rayleigh term is included as in :class:`juno_calib.response.DetectorResponse`.
        ``lookup_shape`` is the (theta, phi) grid of the PMT lookup; every PMT must own
        at least one cell.
        """
        from scipy.spatial import cKDTree

        pos = np.asarray(pmt_position, dtype=float)
        radius = float(np.mean(np.linalg.norm(pos, axis=1)))
        direction = pos / np.linalg.norm(pos, axis=1, keepdims=True)
        r = np.linspace(0.0, r_ls, n_r)
        alpha = np.linspace(0.0, np.pi, n_alpha)
        vtx = np.stack([np.zeros_like(r), np.zeros_like(r), r], axis=1)
        pmt = radius * np.stack([np.sin(alpha), np.zeros_like(alpha), np.cos(alpha)], axis=1)
        direct = direct_fraction(vtx, pmt, cathode_radius, aspect, optics, r_ls, acrylic_thickness,
                                 angular_slope)
        scat = optics.rayleigh_redetection * rayleigh_scattered_fraction(r, optics, r_ls)
        values = scale * (direct + scat[:, None] * direct[0, 0])
        n_t, n_p = (int(v) for v in lookup_shape)
        theta_edges = np.linspace(0.0, np.pi, n_t + 1)
        tt, pp = np.meshgrid(0.5 * (theta_edges[1:] + theta_edges[:-1]),
                             -np.pi + (np.arange(n_p) + 0.5) * 2.0 * np.pi / n_p, indexing="ij")
        centres = np.stack([np.sin(tt) * np.cos(pp), np.sin(tt) * np.sin(pp), np.cos(tt)], axis=-1)
        lookup = cKDTree(direction).query(centres.reshape(-1, 3))[1].astype(np.int32)
        cell = np.repeat(-np.diff(np.cos(theta_edges)) * 2.0 * np.pi / n_p, n_p)
        area = np.bincount(lookup, weights=cell, minlength=direction.shape[0])
        if area.min() == 0:
            raise ValueError(
                f"lookup_shape = {lookup_shape} leaves {int(np.sum(area == 0))} PMTs without a "
                "lookup cell; use a finer grid"
            )
        return cls(r_ls=r_ls, values=values, direction=direction, weight=np.asarray(weight, float),
                   lookup=lookup.reshape(n_t, n_p), cell_area=area)

    d_r = property(lambda self: self.r_ls / (self.values.shape[0] - 1), doc="table step in r (mm)")
    d_alpha = property(lambda self: np.pi / (self.values.shape[1] - 1), doc="table step in alpha (rad)")

    def expected(self, vertices) -> np.ndarray:
        """Expected PE per MeV, (M, N), of every PMT of the system for vertices (M, 3) mm."""
        x = np.atleast_2d(np.asarray(vertices, dtype=float))
        r = np.linalg.norm(x, axis=1)
        cos_a = (x @ self.direction.T) / np.where(r > 0, r, 1.0)[:, None]
        cos_a = np.where(r[:, None] > 0, cos_a, 1.0)
        alpha = np.arccos(np.clip(cos_a, -1.0, 1.0))
        return self.weight[None, :] * _bilinear(self.values, self.d_r, self.d_alpha, r[:, None], alpha)

    @cached_property
    def _bins(self):
        """Sampling tables: per row of ``r``, the bin values above the row's minimum (the part
        of ``T`` that depends on the angle), their CDF in ``alpha`` (rows offset by their
        index), the row minima (the isotropic floor), masses and acceptance bounds."""
        v = 0.5 * (self.values[:, 1:] + self.values[:, :-1])
        floor = v.min(axis=1)
        vb = v - floor[:, None]
        cos_edges = np.cos(np.linspace(0.0, np.pi, self.values.shape[1]))
        mass = vb * (cos_edges[:-1] - cos_edges[1:])[None, :]
        norm_b = mass.sum(axis=1)
        cdf = np.cumsum(mass, axis=1) / np.where(norm_b > 0, norm_b, 1.0)[:, None]
        cdf[:, -1] = 1.0
        n_r, n_bins = v.shape
        flat = (cdf + np.arange(n_r)[:, None]).ravel()
        factor = self.weight / self.cell_area * (self.cell_area.min() / self.weight.max())
        # per-row bound on T'(alpha_k)/T'(alpha) for directions within `bound` cell radii
        reach = int(np.ceil(self.bound * np.sqrt(self.cell_area.max() / np.pi) / self.d_alpha))
        local_max = maximum_filter1d(vb, size=2 * reach + 1, axis=1, mode="nearest")
        ratio = np.where(vb > 0, local_max / np.where(vb > 0, vb, 1.0), 1.0)
        # B(r): the smallest ratio exceeded only in bins holding < clip_mass of the row's mass
        order = np.argsort(ratio, axis=1)
        tail = np.cumsum(np.take_along_axis(mass, order, axis=1)[:, ::-1], axis=1)[:, ::-1]
        keep = tail >= self.clip_mass * np.maximum(norm_b, 1e-300)[:, None]
        last = n_bins - 1 - np.argmax(keep[:, ::-1], axis=1)
        ratio = np.take_along_axis(np.take_along_axis(ratio, order, axis=1), last[:, None], axis=1)[:, 0]
        return {"v": vb, "floor": floor, "norm_b": norm_b, "flat_cdf": flat, "cos_edges": cos_edges,
                "factor": factor, "row_bound": np.maximum(ratio, 1.0)}

    @staticmethod
    def _directions(cos_alpha, axis, e1, e2, *, rng):
        """Unit vectors at angle ``arccos(cos_alpha)`` from ``axis``, uniform azimuth (H, 3)."""
        phi = 2.0 * np.pi * rng.random(cos_alpha.size)
        s = np.sqrt(np.clip(1.0 - cos_alpha * cos_alpha, 0.0, 1.0))
        return (cos_alpha[:, None] * axis + (s * np.cos(phi))[:, None] * e1
                + (s * np.sin(phi))[:, None] * e2)

    def _owner(self, n):
        """Index of the PMT whose lookup cell contains the unit vectors ``n`` (H, 3)."""
        n_t, n_p = self.lookup.shape
        theta = np.arccos(np.clip(n[:, 2], -1.0, 1.0))
        phi = np.arctan2(n[:, 1], n[:, 0]) + np.pi
        ic = np.clip((theta * (n_t / np.pi)).astype(np.int64), 0, n_t - 1)
        ip = np.clip((phi * (n_p / (2 * np.pi))).astype(np.int64), 0, n_p - 1)
        return self.lookup[ic, ip]

    def sample_pmts(self, vertices, source=None, *, rng: np.random.Generator,
                    return_clipped: bool = False):
        """Draw one PMT per PE: indices (H,) into the system's PMTs.

        Parameters
        ----------
        vertices : (D, 3) mm, emission points.
        source : (H,) int, the vertex of every PE (default: one PE per vertex).
        rng : generator.
        return_clipped : also return the fraction of proposals whose acceptance exceeded 1.

        Method (rejection sampling, cost grows with the number of PE, not of PMTs). The
        lookup grid partitions the sphere into one cell per PMT (solid angle ``A_k``). ``T`` is
        split into its minimum over the angle (an isotropic floor ``f``; all of it at the
        centre) and the rest ``T' = T - f``. A proposal is a direction ``n`` on the unit sphere,
        uniform (part A) or from the density ``T'`` at ``r`` (part B: row of the table chosen
        by the linear weight in ``r``, ``cos alpha`` by inverse CDF, azimuth uniform); ``k`` is
        the PMT owning ``n``. It is accepted with probability ``c w_k / A_k`` (A) or
        ``c w_k T'(alpha_k) / (A_k T'(alpha_n) B(r))`` (B), ``c = A_min / max(w)``; part A
        is chosen with odds ``4 pi f : (integral of T') B(r)``. Then every round gives
        ``P(k)`` proportional to ``w_k (f + T'(alpha_k)) = w_k T(alpha_k)`` exactly, for any
        layout. ``B(r)`` bounds ``T'(alpha_k)/T'(alpha_n)`` within ``bound`` cell radii; the
        rare proposals above it (``clip_mass``) are clipped, and their share is reported.
        Rejected PE are redrawn in the next round.
        """
        x = np.atleast_2d(np.asarray(vertices, dtype=float))
        src = np.arange(x.shape[0]) if source is None else np.asarray(source, dtype=np.int64)
        t = self._bins
        v, flat, cos_edges, factor = t["v"], t["flat_cdf"], t["cos_edges"], t["factor"]
        n_r, n_bins = v.shape
        r = np.sqrt(np.einsum("dk,dk->d", x, x))
        axis = np.where(r[:, None] > 0, x / np.where(r > 0, r, 1.0)[:, None], [[0.0, 0.0, 1.0]])
        e1, e2 = _orthonormal_frame(axis)
        fr = np.clip(r / self.d_r, 0.0, n_r - 1.0)
        i_d = np.minimum(fr.astype(np.int64), n_r - 2)
        w_d = fr - i_d
        bound_d = np.maximum(t["row_bound"][i_d], t["row_bound"][i_d + 1])
        mass_lo, mass_hi = (1 - w_d) * t["norm_b"][i_d], w_d * t["norm_b"][i_d + 1]
        floor_mass = 2.0 * ((1 - w_d) * t["floor"][i_d] + w_d * t["floor"][i_d + 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            p_up_d = np.where(mass_lo + mass_hi > 0, mass_hi / (mass_lo + mass_hi), 0.0)
        p_floor_d = floor_mass / (floor_mass + (mass_lo + mass_hi) * bound_d)
        out = np.empty(src.size, dtype=np.int64)
        todo = np.arange(src.size)
        n_clipped = 0
        while todo.size:  # rounds of the rejection sampler, each vectorised over pending PE
            iso = rng.random(todo.size) < p_floor_d[src[todo]]
            # part A: uniform directions, accepted with c w_k / A_k
            a_idx = todo[iso]
            da = src[a_idx]
            k = self._owner(self._directions(2.0 * rng.random(a_idx.size) - 1.0, axis[da], e1[da], e2[da],
                                             rng=rng))
            ok = rng.random(a_idx.size) < factor[k]
            out[a_idx[ok]] = k[ok]
            # part B: directions from T', accepted with c w_k T'_k / (A_k T'_n B)
            b_idx = todo[~iso]
            d = src[b_idx]
            ii, ww = i_d[d], w_d[d]
            row = ii + (rng.random(d.size) < p_up_d[d])
            j = np.clip(np.searchsorted(flat, row + rng.random(d.size), side="right") - row * n_bins,
                        0, n_bins - 1)
            c = cos_edges[j] + rng.random(d.size) * (cos_edges[j + 1] - cos_edges[j])
            kb = self._owner(self._directions(c, axis[d], e1[d], e2[d], rng=rng))
            cos_k = np.einsum("hk,hk->h", self.direction[kb], axis[d])
            jk = np.minimum((np.arccos(np.clip(cos_k, -1, 1)) / self.d_alpha).astype(np.int64), n_bins - 1)
            t_k = (1 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
            t_n = (1 - ww) * v[ii, j] + ww * v[ii + 1, j]
            acc = factor[kb] * t_k / (t_n * bound_d[d])
            n_clipped += int(np.sum(acc > 1.0))
            ok_b = rng.random(d.size) < acc
            out[b_idx[ok_b]] = kb[ok_b]
            todo = np.concatenate([a_idx[~ok], b_idx[~ok_b]])
        if return_clipped:
            return out, n_clipped / max(src.size, 1)
        return out
