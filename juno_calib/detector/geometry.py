"""Geometry of the JUNO central detector (CD) and the layout of its photomultipliers.

Coordinates are Cartesian ``(..., 3)`` arrays in mm, origin at the CD centre, ``+z`` up: the
chimney (the calibration access) is at polar angle ``theta = 0``.

The PMT layout is a *model* built from a few numbers in ``data/geometry.yaml`` (the
collaboration's position table is not an input here); :func:`pmt_layout` states it. A
photocathode is a disk of its equatorial radius, perpendicular to the PMT axis: seen from the
centre it fills a cone of half-angle ``arctan(a / R)``, two photocathodes overlap (shadow each
other) when their cones intersect, and the coverage is the sum of the solid angles over 4 pi.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree

from ..core import units, validate
from ..core.params import ParamSet, check_choice, check_range

PMT_NNVT, PMT_HAMAMATSU, PMT_SPMT = 0, 1, 2
PMT_KINDS = (PMT_NNVT, PMT_HAMAMATSU, PMT_SPMT)
PMT_KIND_NAMES = ("NNVT MCP 20-inch", "Hamamatsu dynode 20-inch", "HZC 3-inch")
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 1/phi: the slowest-converging irrational rotation
_COUNTS = ("n_lpmt", "n_lpmt_hamamatsu", "n_spmt", "n_wp_pmt", "tt_n_walls", "tt_n_layers",
           "tt_walls_per_row")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Geometry(ParamSet):
    """Dimensions of the CD, water pool and top tracker (internal units; counts are ints)."""

    _section = "geometry"
    r_ls: float                 # LS sphere inner radius                          [PPNP22]
    acrylic_thickness: float    # acrylic vessel thickness                        [PPNP22]
    r_steel_shell: float        # stainless-steel latticed shell radius           [PPNP22]
    r_lpmt: float               # LPMT photocathode-centre radius                 [layout table]
    r_spmt: float               # SPMT photocathode-centre radius                 [JUNOSW-DOC]
    r_chimney: float            # chimney inner radius                            [SIM]
    lpmt_cathode_radius: float  # 20-inch photocathode equatorial radius          [PPNP22]
    lpmt_cathode_depth: float   # its semi-axis along the PMT axis                [PPNP22]
    spmt_cathode_radius: float  # 3-inch photocathode radius                      [SIM]
    spmt_glass_radius: float    # 3-inch glass dome radius                        [SIM]
    n_lpmt: int
    n_lpmt_hamamatsu: int
    n_spmt: int
    wp_radius: float
    wp_height: float
    n_wp_pmt: int
    tt_wall_size: float
    tt_n_walls: int
    tt_n_layers: int
    tt_walls_per_row: int
    tt_layer_spacing: float
    ls_density: float           # g/mm3 internally                                [SIM]

    def __post_init__(self):
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)):
                raise TypeError(f"{name} must be an integer count, got {value!r}")
            if float(value) != int(value):
                raise ValueError(f"{name} = {value!r} must be a whole number")
            object.__setattr__(self, name, int(value))
            check_range(name, getattr(self, name), 1, 10**6)
        m, r_out = "m", self.r_ls + self.acrylic_thickness
        for name, lo, hi, unit in (
            ("r_ls", 0.0, 100 * units.m, m),
            ("acrylic_thickness", 0.0, 0.05 * self.r_ls, m),
            ("r_lpmt", r_out, self.r_steel_shell, m),
            ("r_spmt", r_out, self.r_steel_shell, m),
            ("r_steel_shell", r_out, self.wp_radius, m),
            ("wp_height", 2 * self.r_steel_shell, math.inf, m),
            ("r_chimney", 0.0, 0.5 * self.r_ls, m),
            ("lpmt_cathode_radius", 0.0, 0.1 * self.r_lpmt, "mm"),
            ("lpmt_cathode_depth", 0.0, 2 * self.lpmt_cathode_radius, "mm"),
            ("spmt_glass_radius", 0.0, self.lpmt_cathode_radius, "mm"),
            ("spmt_cathode_radius", 0.0, self.spmt_glass_radius, "mm"),
            ("tt_wall_size", 0.0, math.inf, m),
            ("tt_layer_spacing", 0.0, math.inf, m),
            ("ls_density", 0.0, math.inf, "g/cm3"),
        ):
            check_range(name, getattr(self, name), lo, hi, unit=unit, lo_open=True)
        check_range("n_lpmt_hamamatsu", self.n_lpmt_hamamatsu, 0, self.n_lpmt)
        check_range("tt_walls_per_row", self.tt_walls_per_row, 1, self.tt_n_walls)

    @property
    def ls_mass(self) -> float:
        """LS mass from the sphere volume and the density, g (internal mass unit)."""
        return 4.0 / 3.0 * math.pi * self.r_ls**3 * self.ls_density


@lru_cache(maxsize=2)
def _design_geometry() -> Geometry:
    return Geometry.load("design")


# --- coordinates -----------------------------------------------------------------------------


def cartesian_to_spherical(xyz):
    """Radius, polar angle from +z and azimuth of points.

    Parameters
    ----------
    xyz : array_like, shape (..., 3), mm

    Returns
    -------
    r, theta, phi : arrays of shape (...); r in mm, theta in [0, pi], phi in (-pi, pi].
        The origin maps to theta = phi = 0.

    >>> r, th, ph = cartesian_to_spherical([0.0, 0.0, -2.0])
    >>> float(r), round(float(th / units.deg), 6)
    (2.0, 180.0)
    """
    xyz = validate.array("xyz", xyz)
    if xyz.shape[-1:] != (3,):
        raise ValueError(f"xyz must have shape (..., 3), got {xyz.shape}")
    x, y, z = np.moveaxis(xyz, -1, 0)
    rho = np.hypot(x, y)
    return np.hypot(rho, z), np.arctan2(rho, z), np.arctan2(y, x)


def spherical_to_cartesian(r, theta, phi):
    """Cartesian ``(..., 3)`` points (mm) from broadcastable ``r`` (mm), ``theta``, ``phi`` (rad).

    >>> spherical_to_cartesian(1.0, np.pi / 2, 0.0).round(12).tolist()
    [1.0, 0.0, 0.0]
    """
    r = validate.array("r", r, 0.0)
    theta = validate.array("theta", theta, 0.0, math.pi, unit="deg")
    phi = validate.array("phi", phi)
    try:
        r, theta, phi = np.broadcast_arrays(r, theta, phi)
    except ValueError:
        raise ValueError(f"r, theta and phi must broadcast together, got shapes {r.shape}, "
                         f"{theta.shape}, {phi.shape}") from None
    s = np.sin(theta)
    return np.stack([r * s * np.cos(phi), r * s * np.sin(phi), r * np.cos(theta)], axis=-1)


def sample_uniform_ls(n: int, *, rng: np.random.Generator, r_max: float | None = None,
                      geometry: Geometry | None = None) -> np.ndarray:
    """``(n, 3)`` points (mm) uniform in the LS sphere, or in a concentric sphere ``r_max`` (mm,
    at most ``geometry.r_ls``; ``geometry`` defaults to the design geometry).

    The radius is ``r_max * u**(1/3)`` and the direction isotropic, so the density is constant
    in volume: ``(r / r_max)**3`` is uniform on [0, 1].
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {n!r}")
    n = validate.integer("n", n, 0, 10**9)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    geometry = _design_geometry() if geometry is None else validate.instance(
        "geometry", geometry, Geometry, hint='Geometry.load("design")')
    r_max = geometry.r_ls if r_max is None else r_max
    check_range("r_max", r_max, 0.0, geometry.r_ls, unit="m", lo_open=True)
    r = r_max * np.cbrt(rng.random(n))
    return spherical_to_cartesian(r, np.arccos(rng.uniform(-1.0, 1.0, n)), rng.uniform(-np.pi, np.pi, n))


def fibonacci_directions(n: int) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere (Fibonacci lattice), shape (n, 3).

    Point ``i`` has ``z = 1 - (2 i + 1) / n`` and azimuth ``i`` times the golden angle, so every
    band of equal ``cos(theta)`` width holds the same number of points (a deterministic
    quadrature rule for integrals over directions).

    >>> u = fibonacci_directions(1000)
    >>> bool(np.allclose(np.linalg.norm(u, axis=1), 1.0)), round(float(u[:, 2].mean()), 12)
    (True, 0.0)
    """
    n = validate.integer("n", n, 1, 10**9)
    i = np.arange(n)
    z = 1.0 - (2.0 * i + 1.0) / n
    return spherical_to_cartesian(1.0, np.arccos(z), i * np.pi * (3.0 - math.sqrt(5.0)))


def disk_solid_angle(radius, distance):
    """Solid angle (sr) of a disk of ``radius`` seen on its axis from ``distance`` (same unit).

    Exact: ``2 pi (1 - d / sqrt(d^2 + a^2))``, written without cancellation; for ``a << d`` it
    tends to ``pi a^2 / d^2``.

    >>> round(float(disk_solid_angle(1.0, 0.0) / np.pi), 12)  # a half space
    2.0
    >>> round(float(disk_solid_angle(254.0, 19434.0) * 19434.0**2 / (np.pi * 254.0**2)), 4)
    0.9999
    """
    a = validate.array("radius", radius, 0.0, 1e12, unit="m")
    d = validate.array("distance", distance, 0.0, 1e12, unit="m")
    return _disk_solid_angle(a, d)


def _disk_solid_angle(a, d):
    """Kernel of :func:`disk_solid_angle` (inputs checked by it; a point, a = 0, subtends 0)."""
    hyp = np.hypot(a, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        q, s = a / hyp, d / hyp  # in ratios: no underflow of a^2 for tiny disks
        return np.where(a > 0, 2.0 * np.pi * q * q / (1.0 + s), 0.0)


def _chord(angle):
    """Chord length on the unit sphere for an angular separation (rad)."""
    return 2.0 * np.sin(np.minimum(angle, np.pi) / 2.0)


def _angle(chord):
    return 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


# --- PMT layout --------------------------------------------------------------------------------


def _readonly(a, dtype):
    a = np.array(a, dtype=dtype)  # a private copy
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class PMTLayout:
    """Positions, types and photocathode sizes of a set of PMTs (arrays are read-only).

    Layouts compare and hash by identity (usable as cache keys; ``pmt_layout`` returns one
    object per geometry).

    Attributes
    ----------
    position : (N, 3) mm, centre of each photocathode.
    kind : (N,) int, one of ``PMT_NNVT``, ``PMT_HAMAMATSU``, ``PMT_SPMT``.
    cathode_radius : (N,) mm, photocathode (equatorial) radius.
    notes : numbers describing how the layout was built (model diagnostics, internal units).
    """

    position: np.ndarray
    kind: np.ndarray
    cathode_radius: np.ndarray
    notes: Mapping[str, float] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        pos = _readonly(self.position, float)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"position must have shape (N, 3), got {pos.shape}")
        kind = _readonly(self.kind, np.int64)
        rad = _readonly(self.cathode_radius, float)
        if kind.shape != pos.shape[:1] or rad.shape != pos.shape[:1]:
            raise ValueError(
                f"kind {kind.shape} and cathode_radius {rad.shape} must have shape ({len(pos)},)"
            )
        bad = ~np.isin(kind, PMT_KINDS)
        if bad.any():
            codes = sorted(set(kind[bad].tolist()))
            raise ValueError(f"kind contains unknown codes {codes}; allowed {PMT_KINDS}")
        if np.any(rad <= 0) or not np.all(np.isfinite(pos)):
            raise ValueError("cathode_radius must be > 0 and positions finite")
        if np.any(np.linalg.norm(pos, axis=1) <= rad):
            raise ValueError("photocathodes must lie away from the CD centre (|position| > cathode_radius)")
        object.__setattr__(self, "position", pos)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "cathode_radius", rad)
        object.__setattr__(self, "notes", types.MappingProxyType(dict(self.notes)))

    @property
    def n(self) -> int:
        """Number of PMTs."""
        return len(self.kind)

    @property
    def radius(self) -> np.ndarray:
        """(N,) distance of each photocathode centre from the CD centre, mm."""
        return np.linalg.norm(self.position, axis=1)

    @property
    def direction(self) -> np.ndarray:
        """(N, 3) unit vector of each PMT's axis, pointing from the PMT to the CD centre."""
        return -self.position / self.radius[:, None]

    @property
    def angular_radius(self) -> np.ndarray:
        """(N,) half-angle (rad) of the cone each photocathode fills, seen from the centre."""
        return np.arctan2(self.cathode_radius, self.radius)

    def mask(self, kind) -> np.ndarray:
        """Boolean (N,) mask of the PMTs of type ``kind`` (a code or a sequence of codes)."""
        kinds = [kind] if np.ndim(kind) == 0 else list(kind)
        for k in kinds:
            check_choice("kind", k, PMT_KINDS)
        return np.isin(self.kind, kinds)

    def select(self, mask) -> PMTLayout:
        """The sub-layout of the PMTs picked by a boolean mask or an index array."""
        mask = np.asarray(mask)
        if mask.dtype == bool and mask.shape != (self.n,):
            raise ValueError(f"a boolean mask must have shape ({self.n},), got {mask.shape}")
        return PMTLayout(self.position[mask], self.kind[mask], self.cathode_radius[mask], self.notes)

    def solid_angle_from_centre(self) -> np.ndarray:
        """(N,) exact solid angle (sr) of each photocathode disk seen from the CD centre."""
        return disk_solid_angle(self.cathode_radius, self.radius)

    def coverage(self, kind=None) -> float:
        """Photo-coverage: summed photocathode solid angles over 4 pi (of type ``kind`` if given)."""
        omega = self.solid_angle_from_centre()
        if kind is not None:
            omega = omega[self.mask(kind)]
        return float(omega.sum() / (4.0 * np.pi))

    def pmt_in_direction(self, u) -> np.ndarray:
        """Index (int array ``(...)``) of the PMT whose photocathode a ray from the centre along
        ``u`` (``(..., 3)``, any length) hits, else -1. Exact for non-overlapping photocathodes."""
        u = validate.array("u", u)
        if u.shape[-1:] != (3,):
            raise ValueError(f"u must have shape (..., 3), got {u.shape}")
        flat = u.reshape(-1, 3)
        norm = np.linalg.norm(flat, axis=1, keepdims=True)
        if np.any(norm == 0):
            raise ValueError("u must not contain the zero vector (a ray needs a direction)")
        flat = flat / norm
        out = np.full(len(flat), -1, dtype=np.int64)
        centres = self.position / self.radius[:, None]
        alpha = self.angular_radius
        for a in np.unique(self.cathode_radius):  # one neighbour search per photocathode size
            idx = np.flatnonzero(self.cathode_radius == a)
            dist, j = cKDTree(centres[idx]).query(flat, distance_upper_bound=_chord(alpha[idx].max()))
            hit = np.isfinite(dist)
            hit[hit] = _angle(dist[hit]) < alpha[idx[j[hit]]]
            out[hit] = idx[j[hit]]
        return out.reshape(u.shape[:-1])

    def min_cathode_gap(self) -> float:
        """Smallest angular gap (rad) between the cones of any two photocathodes (< 0: overlap)."""
        if self.n < 2:
            return math.inf
        centres = self.position / self.radius[:, None]
        alpha = self.angular_radius
        tree = cKDTree(centres)
        pairs = tree.query_pairs(_chord(3.0 * alpha.max()), output_type="ndarray")
        if len(pairs) == 0:
            dist, j = tree.query(centres, k=2)
            return float((_angle(dist[:, 1]) - alpha - alpha[j[:, 1]]).min())
        i, j = pairs.T
        return float((_angle(np.linalg.norm(centres[i] - centres[j], axis=1)) - alpha[i] - alpha[j]).min())


def coverage_profile(layout: PMTLayout, cos_edges, *, n_directions: int = 1_000_000) -> np.ndarray:
    """Fraction ``(B,)`` of directions from the centre that hit a photocathode of ``layout``
    (select a type first for a per-type profile), in the bands ``cos_edges`` ``(B + 1,)`` of
    cos(theta). A Fibonacci lattice of ``n_directions`` is the quadrature: the mean over equal
    bands is ``layout.coverage()`` up to the quadrature error.
    """
    validate.instance("layout", layout, PMTLayout, hint="pmt_layout(Geometry.load())")
    n_directions = validate.integer("n_directions", n_directions, 1, 10**8)
    edges = validate.array("cos_edges", cos_edges, -1.0, 1.0)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0) or edges[0] < -1 or edges[-1] > 1:
        raise ValueError("cos_edges must be an increasing 1-d array within [-1, 1] with >= 2 entries")
    u = fibonacci_directions(n_directions)
    hit = layout.pmt_in_direction(u) >= 0
    total, _ = np.histogram(u[:, 2], bins=edges)
    covered, _ = np.histogram(u[hit, 2], bins=edges)
    return covered / np.maximum(total, 1)


def _golden_pick(n_items: int, n_pick: int) -> np.ndarray:
    """Boolean mask of ``n_pick`` of ``n_items`` spread evenly along the sequence.

    Item ``i`` gets the key ``frac((i + 1) / phi)``; the ``n_pick`` smallest keys are picked.
    Any run of consecutive items holds a picked fraction close to ``n_pick / n_items``.

    >>> m = _golden_pick(100, 25)
    >>> int(m.sum()), int(m[:50].sum()), int(m[50:].sum())
    (25, 12, 13)
    """
    key = ((np.arange(n_items) + 1) * _GOLDEN) % 1.0
    mask = np.zeros(n_items, dtype=bool)
    mask[np.argsort(key, kind="stable")[:n_pick]] = True
    return mask


def _lpmt_rings(theta_first: float, alpha: float, n_total: int):
    """Rings of constant theta from ``theta_first`` to the south pole, and PMTs per ring.

    Rings are spaced evenly by the smallest spacing >= 2 alpha (cones of neighbouring rings do
    not touch). In a ring at theta, ``n`` PMTs 2 pi / n apart are separated by the angle
    ``2 arcsin(sin(theta) sin(pi / n))``; they keep a clearance ``delta`` when that is
    ``>= 2 (alpha + delta)``. The common ``delta`` is the largest that fits ``n_total`` PMTs.
    """
    k = int(math.floor((math.pi - theta_first) / (2.0 * alpha))) + 1
    theta = np.linspace(theta_first, math.pi, k)
    s = np.sin(theta)
    ratio = math.sin(alpha) / np.maximum(s, 1e-300)  # n PMTs fit if sin(pi / n) >= ratio
    n_max = np.where(ratio < 1.0, np.floor(np.pi / np.arcsin(np.minimum(ratio, 1.0))), 1).astype(int)
    if n_max.sum() < n_total:
        raise ValueError(
            f"n_lpmt = {n_total} does not fit: rings of touching photocathodes hold at most {n_max.sum()}"
        )
    n = np.arange(2, n_max.max() + 1)
    # threshold clearance at which ring k can no longer hold n PMTs (n = 1 always fits)
    thresholds = np.arcsin(np.clip(s[:, None] * np.sin(np.pi / n[None, :]), 0.0, 1.0)) - alpha
    valid = n[None, :] <= n_max[:, None]
    flat = thresholds[valid]
    ring = np.broadcast_to(np.arange(k)[:, None], thresholds.shape)[valid]
    take = np.argsort(-flat, kind="stable")[: n_total - k]
    counts = 1 + np.bincount(ring[take], minlength=k)
    return theta, counts, float(flat[take[-1]]) if len(take) else math.inf, int(n_max.sum())


def _spmt_gaps(lpmt_u: np.ndarray, alpha_l: float, alpha_s: float, theta_min: float):
    """Centres (unit vectors) of the gaps between LPMT cones that fit an SPMT.

    ``alpha_s`` is the angular radius an SPMT needs (its glass dome). Gap centres are the
    vertices of the spherical Voronoi diagram of the LPMT centres (the points locally farthest
    from every LPMT). A vertex is kept if a cone ``alpha_s`` around it clears every LPMT cone
    and the chimney; of two vertices closer than ``2 alpha_s`` (the two vertices of a nearly
    square gap) the one with less room is dropped.
    """
    from scipy.spatial import SphericalVoronoi

    vertices = SphericalVoronoi(lpmt_u).vertices
    dist, _ = cKDTree(lpmt_u).query(vertices)
    room = _angle(dist) - alpha_l
    theta = np.arccos(np.clip(vertices[:, 2], -1.0, 1.0))
    ok = (room >= alpha_s) & (theta >= theta_min)
    vertices, room = vertices[ok], room[ok]
    pairs = cKDTree(vertices).query_pairs(_chord(2.0 * alpha_s), output_type="ndarray")
    keep = np.ones(len(vertices), dtype=bool)
    if len(pairs):
        i, j = pairs.T
        keep[np.where(room[i] < room[j], i, j)] = False
    vertices, room = vertices[keep], room[keep]
    order = np.lexsort((np.arctan2(vertices[:, 1], vertices[:, 0]), -vertices[:, 2]))
    return vertices[order], room[order]


@lru_cache(maxsize=4)
def _build_layout(r_lpmt, r_spmt, a_l, a_s, glass_s, r_chimney, n_lpmt, n_ham, n_spmt) -> PMTLayout:
    alpha_l = math.atan2(a_l, r_lpmt)
    alpha_glass = math.atan2(glass_s, r_spmt)
    theta_chimney = math.asin(min(r_chimney / r_lpmt, 1.0))
    theta, counts, clearance, n_max = _lpmt_rings(theta_chimney + alpha_l, alpha_l, n_lpmt)
    ring = np.repeat(np.arange(len(theta)), counts)
    j = np.arange(n_lpmt) - np.repeat(np.cumsum(counts) - counts, counts)
    # successive rings turned by the golden angle so gaps do not line up along meridians
    phi = ring * np.pi * (3.0 - math.sqrt(5.0)) + 2.0 * np.pi * j / counts[ring]
    u_l = spherical_to_cartesian(1.0, theta[ring], phi)
    kind_l = np.where(_golden_pick(n_lpmt, n_ham), PMT_HAMAMATSU, PMT_NNVT)

    theta_min_s = math.asin(min(r_chimney / r_spmt, 1.0)) + alpha_glass
    gaps, room = _spmt_gaps(u_l, alpha_l, alpha_glass, theta_min_s)
    if len(gaps) < n_spmt:
        raise ValueError(
            f"n_spmt = {n_spmt} does not fit: the gaps between LPMTs hold {len(gaps)} SPMTs of "
            f"glass radius {glass_s:g} mm"
        )
    pick = _golden_pick(len(gaps), n_spmt)
    notes = {
        "n_rings": float(len(theta)),
        "n_lpmt_max": float(n_max),  # LPMTs the rings hold with touching photocathodes
        "ring_spacing": float(theta[1] - theta[0]),
        "lpmt_ring_clearance": float(theta[1] - theta[0] - 2 * alpha_l),
        "lpmt_azimuthal_clearance": 2 * clearance,
        "theta_chimney": theta_chimney,
        "n_gaps": float(len(gaps)),
        "spmt_min_room": float(room[pick].min()),
    }
    return PMTLayout(
        position=np.concatenate([r_lpmt * u_l, r_spmt * gaps[pick]]),
        kind=np.concatenate([kind_l, np.full(n_spmt, PMT_SPMT)]),
        cathode_radius=np.concatenate([np.full(n_lpmt, a_l), np.full(n_spmt, a_s)]),
        notes=notes,
    )


def pmt_layout(geometry: Geometry) -> PMTLayout:
    """The CD's LPMTs (first, ring by ring from the top) and SPMTs (then, top to bottom).

    Model (deterministic; cached per geometry):

    1. LPMT photocathode centres lie at ``r_lpmt``. The first ring's cones touch the chimney
       opening (``theta = arcsin(r_chimney / r_lpmt)``); rings follow down to a single PMT at
       the south pole, spaced evenly by the smallest spacing that keeps neighbouring rings'
       cones apart. Each ring is filled evenly; the common in-ring clearance is the largest
       that gives exactly ``n_lpmt`` (:func:`_lpmt_rings`). Successive rings are rotated by
       the golden angle.
    2. Types: LPMT ``i`` (in this order) is a Hamamatsu tube if ``frac((i + 1) / phi)`` is
       among the ``n_lpmt_hamamatsu`` smallest such keys, else NNVT.
    3. SPMT photocathode centres lie at ``r_spmt`` at the gap centres of the LPMT pattern with
       room for the 3-inch glass dome (``spmt_glass_radius``), clear of the LPMT photocathode
       cones, the chimney and each other (:func:`_spmt_gaps`); the same golden-ratio rule,
       over the gaps ordered from top to bottom, picks ``n_spmt`` of them.

    Raises ``ValueError`` if the counts do not fit.
    """
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a Geometry, got {type(geometry).__name__}")
    g = geometry
    return _build_layout(g.r_lpmt, g.r_spmt, g.lpmt_cathode_radius, g.spmt_cathode_radius,
                         g.spmt_glass_radius, g.r_chimney, g.n_lpmt, g.n_lpmt_hamamatsu, g.n_spmt)
