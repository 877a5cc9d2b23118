"""The *true* detector of the non-uniformity analysis (chapter 5): the real PMT layout with imperfections.

The response model (:mod:`juno_calib.detector.response`) gives the expected LPMT photo-electrons
(PE) per MeV of visible energy at a vertex ``x`` as a sum over PMTs,
``L(x) = sum_k w_k t_k(x)``, with ``w_k`` the detection efficiency of PMT ``k`` and ``t_k`` its
optical acceptance (solid angle, Fresnel, attenuation, indirect light). The
tabulated :class:`~juno_calib.detector.response.TotalMap` evaluates that sum in the ``phi = 0``
plane only and assumes ``phi`` symmetry. The true detector of chapter 5 does not:

* it sums over the real PMT positions at every ``(r, theta, phi)`` (types, rings, chimney gap);
* its efficiencies ``w_k`` carry imperfections (:class:`Imperfections`, ``data/imperfections.yaml``):
  isolated dead PMTs, isolated low-efficiency PMTs, a contiguous dead patch (a failed HV or
  readout unit), a PMT-to-PMT efficiency spread, and a ``phi``-dependent effect: the efficiency
  loss of each PMT in the residual magnetic field left by the compensation coils, which depends
  on the angle between the field (horizontal, fixed azimuth) and the PMT axis.

**Fast evaluation.** ``L`` is needed at millions of energy deposits. We write it as the
symmetric map times a per-vertex correction,

    L(x) = M(r, theta) * C(x),   C(x) = sum_k w_k T(r, alpha_k) / sum_k w0_k T(r, alpha_k(x_0)),

with ``M`` the tabulated ``phi = 0`` map of nominal efficiencies ``w0``, ``T(r, alpha)`` the
single-PMT table of :mod:`juno_calib.detector.pmt_tables` (one cathode shape per system) and
``x_0`` the point of the ``phi = 0`` plane with the same ``(r, theta)``. The table's own
approximation cancels in the ratio. ``C`` is smooth: it is computed with the full per-PMT sum
on shells equally spaced in ``r^3``, each with a ``(theta, phi)`` grid whose step shrinks with
the distance to the PMTs (the scale over which one PMT's light varies), and interpolated
(bilinear on each shell, linear in ``r^3`` between shells). A contiguous group of perturbed PMTs
(the dead patch) makes a dip too sharp for that grid: its PMTs enter the grid with their
nominal efficiency and the difference is summed exactly, PMT by PMT, for every vertex within
``exact_cone`` of the group (one term at its centroid farther away, where the group is small
seen from the vertex): ``L = M C + sum_{k in group} (w_k - w0_k) T(r, alpha_k)``.
:meth:`TrueDetector.light_direct` is the direct per-PMT sum with the exact cathode model, the
reference the tests compare with.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
from scipy.spatial import cKDTree

from ..core import validate
from ..core.params import ParamSet, check_range
from .pmt_tables import bilinear

IMPERFECTIONS = ("dead", "low_efficiency", "patch", "spread", "magnetic")
"""Names of the imperfections that can be switched on and off."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Imperfections(ParamSet):
    """Imperfections of the true detector (``data/imperfections.yaml``, internal units)."""

    _section = "imperfections"
    dead_fraction: float
    low_eff_fraction: float
    low_eff_factor: float
    patch_n_pmt: int
    patch_theta: float
    patch_phi: float
    efficiency_spread: float
    magnetic_loss: float
    magnetic_azimuth: float

    def __post_init__(self):
        check_range("dead_fraction", self.dead_fraction, 0.0, 0.5)
        check_range("low_eff_fraction", self.low_eff_fraction, 0.0, 0.5)
        check_range("low_eff_factor", self.low_eff_factor, 0.0, 1.0)
        check_range("patch_n_pmt", self.patch_n_pmt, 0, 2000)
        object.__setattr__(self, "patch_n_pmt", int(self.patch_n_pmt))
        check_range("patch_theta", self.patch_theta, 0.0, np.pi, unit="deg")
        check_range("patch_phi", self.patch_phi, -np.pi, 2 * np.pi, unit="deg")
        check_range("efficiency_spread", self.efficiency_spread, 0.0, 0.5)
        check_range("magnetic_loss", self.magnetic_loss, 0.0, 0.5)
        check_range("magnetic_azimuth", self.magnetic_azimuth, -np.pi, 2 * np.pi, unit="deg")


def check_imperfections(enabled) -> tuple[str, ...]:
    """Validate a collection of imperfection names; returns them as a sorted tuple."""
    if isinstance(enabled, str) or not isinstance(enabled, (list, tuple, set, frozenset)):
        raise TypeError(f"enabled must be a list of the imperfections' names (from {IMPERFECTIONS}), got "
                        f"{enabled!r} ({type(enabled).__name__})")
    for name in enabled:
        validate.choice("enabled (the imperfections)", name, IMPERFECTIONS)
    return tuple(sorted(set(enabled)))


def pmt_efficiencies(response, imperfections: Imperfections, enabled=IMPERFECTIONS, *,
                     rng: np.random.Generator) -> dict:
    """True detection efficiencies of the LPMTs with the ``enabled`` imperfections.

    Returns ``{"weight": (N,), "nominal": (N,), "dead": bool (N,), "low": bool (N,),
    "patch": bool (N,)}`` for the N LPMTs. The spread is log-normal with mean 1
    (``exp(s z - s^2/2)``); the magnetic loss is ``magnetic_loss * (1 - (b.n_k)^2)`` with ``b``
    the horizontal unit vector of the residual field and ``n_k`` the PMT axis (the loss is
    largest for a field transverse to the axis). Random choices are drawn whether or not an
    imperfection is enabled, so that switching one off leaves the others unchanged.
    """
    from .response import DetectorResponse

    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    validate.instance("imperfections", imperfections, Imperfections, hint="Imperfections.load()")
    validate.generator("rng", rng)
    enabled = check_imperfections(enabled)
    imp = imperfections
    n = response.n_lpmt
    nominal = np.asarray(response.pde[:n], dtype=float)
    u = np.asarray(response.layout.position[:n], dtype=float)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    r_spread, r_low, r_dead = rng.spawn(3)
    z = r_spread.standard_normal(n)
    low = r_low.random(n) < imp.low_eff_fraction
    dead = r_dead.random(n) < imp.dead_fraction
    centre = np.array([np.sin(imp.patch_theta) * np.cos(imp.patch_phi),
                       np.sin(imp.patch_theta) * np.sin(imp.patch_phi), np.cos(imp.patch_theta)])
    patch = np.zeros(n, bool)
    if imp.patch_n_pmt > 0:
        patch[cKDTree(u).query(centre, k=imp.patch_n_pmt)[1]] = True
    w = nominal.copy()
    if "spread" in enabled:
        s = imp.efficiency_spread
        w *= np.exp(s * z - 0.5 * s * s)
    if "magnetic" in enabled:
        b = np.array([np.cos(imp.magnetic_azimuth), np.sin(imp.magnetic_azimuth), 0.0])
        w *= 1.0 - imp.magnetic_loss * (1.0 - (u @ b) ** 2)
    if "low_efficiency" in enabled:
        w[low] *= imp.low_eff_factor
    if "dead" in enabled:
        w[dead] = 0.0
    if "patch" in enabled:
        w[patch] = 0.0
    return {"weight": w, "nominal": nominal, "dead": dead & ("dead" in enabled),
            "low": low & ("low_efficiency" in enabled), "patch": patch & ("patch" in enabled),
            "patch_set": patch}


def _ls_positions(name: str, positions, r_ls: float) -> np.ndarray:
    """Positions (..., 3) mm, finite and inside the LS sphere; returned with their shape."""
    x = validate.array(name, positions)
    if x.ndim == 0 or x.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3) (x, y, z in mm), got shape {x.shape}")
    validate.positions(name, x.reshape(-1, 3), r_max=r_ls, volume=validate.LS)
    return x


def _unit(theta, phi):
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1)


@dataclasses.dataclass(frozen=True, eq=False)
class ShellGrid:
    """Values on shells equally spaced in ``(r/R)^3``, each with its own ``(theta, phi)`` grid.

    ``u`` (S,) the shell coordinates ``(r/R)^3`` from 0 to 1; ``n_theta``, ``n_phi`` (S,) the grid
    of each shell (``theta`` from 0 to pi inclusive, ``phi`` periodic from 0 in steps 2 pi/n_phi);
    ``offset`` (S,) the start of each shell in ``values`` (K, V): V value sets (columns).
    """

    r_ls: float
    u: np.ndarray
    n_theta: np.ndarray
    n_phi: np.ndarray
    offset: np.ndarray
    values: np.ndarray

    @staticmethod
    def nodes(r_ls: float, r_pmt: float, n_shells: int, step: float):
        """Shell layout: grids whose angular step is ``step`` times the distance to the PMTs."""
        u = np.linspace(0.0, 1.0, n_shells)
        r = r_ls * np.cbrt(u)
        ang = step * (r_pmt - r) / r_pmt
        n_theta = np.clip(np.ceil(np.pi / ang).astype(int) + 1, 5, 400)
        n_phi = np.clip(2 * (n_theta - 1), 8, 800)
        n_phi[0] = n_theta[0] = 1  # the centre is one point
        offset = np.concatenate([[0], np.cumsum(n_theta * n_phi)[:-1]])
        return u, r, n_theta, n_phi, offset

    @staticmethod
    def shell_points(n_theta: int, n_phi: int):
        """(theta, phi) (n_theta * n_phi,) of one shell's nodes, theta-major."""
        th = np.linspace(0.0, np.pi, n_theta) if n_theta > 1 else np.zeros(1)
        ph = np.arange(n_phi) * (2 * np.pi / n_phi)
        tt, pp = np.meshgrid(th, ph, indexing="ij")
        return tt.ravel(), pp.ravel()

    def __call__(self, positions) -> np.ndarray:
        """Interpolated values (..., V) at positions (..., 3) mm (inside the LS)."""
        x = np.asarray(positions, dtype=float)
        shape = x.shape[:-1]
        x = x.reshape(-1, 3)
        r = np.sqrt(np.einsum("mk,mk->m", x, x))
        uu = np.clip((r / self.r_ls) ** 3, 0.0, 1.0)
        theta = np.arccos(np.clip(x[:, 2] / np.where(r > 0, r, 1.0), -1.0, 1.0))
        phi = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi)
        n_s = self.u.size
        i = np.minimum((uu * (n_s - 1)).astype(np.int64), n_s - 2)
        f = (uu - self.u[i]) / (self.u[i + 1] - self.u[i])
        return ((1 - f)[:, None] * self._on_shell(i, theta, phi)
                + f[:, None] * self._on_shell(i + 1, theta, phi)).reshape(*shape, -1)

    def _on_shell(self, s, theta, phi):
        nt, npp, off = self.n_theta[s], self.n_phi[s], self.offset[s]
        ft = theta / np.pi * np.maximum(nt - 1, 1)
        it = np.minimum(ft.astype(np.int64), np.maximum(nt - 2, 0))
        wt = np.where(nt > 1, ft - it, 0.0)
        fp = phi / (2 * np.pi) * npp
        ip = np.minimum(fp.astype(np.int64), npp - 1)
        wp = fp - ip
        ip1 = np.mod(ip + 1, npp)
        it1 = np.minimum(it + 1, nt - 1)
        v = self.values
        return (((1 - wt) * (1 - wp))[:, None] * v[off + it * npp + ip]
                + ((1 - wt) * wp)[:, None] * v[off + it * npp + ip1]
                + (wt * (1 - wp))[:, None] * v[off + it1 * npp + ip]
                + (wt * wp)[:, None] * v[off + it1 * npp + ip1])


def _table_sums(table, r: float, directions, weights, chunk: int = 128, n_s: int = 2049) -> np.ndarray:
    """sum_k W_kv T(r, alpha_k) for unit vertex directions (M, 3) at radius r: (M, V).

    One row of the single-PMT table ``T`` (linear in r between rows), resampled on a grid
    uniform in ``s = sin(alpha/2) = sqrt((1 - cos alpha)/2)`` (fine where ``T`` is steep, near
    ``alpha = 0``; no arccos per PMT) and interpolated linearly; float32 inside.
    """
    n_r = table.values.shape[0]
    fr = min(r / table.d_r, n_r - 1.0)
    i = min(int(fr), n_r - 2)
    row = (1 - (fr - i)) * table.values[i] + (fr - i) * table.values[i + 1]
    alpha = np.linspace(0.0, np.pi, row.size)
    s_nodes = np.linspace(0.0, 1.0, n_s)
    row_s = np.interp(2.0 * np.arcsin(s_nodes), alpha, row).astype(np.float32)
    slope = np.diff(row_s, append=row_s[-1]).astype(np.float32)
    pmt = (-0.5 * table.direction).astype(np.float32)
    w = np.asarray(weights, dtype=np.float32)
    out = np.empty((len(directions), w.shape[1]))
    half, scale = np.float32(0.5), np.float32(n_s - 1)
    for a in range(0, len(directions), chunk):  # chunks keep the (chunk, N) temporaries in cache
        c = directions[a:a + chunk].astype(np.float32) @ pmt.T  # -cos(alpha)/2
        c += half
        np.maximum(c, 0.0, out=c)
        np.sqrt(c, out=c)
        c *= scale
        ia = c.astype(np.int32)
        np.minimum(ia, n_s - 1, out=ia)
        c -= ia
        c *= slope[ia]
        c += row_s[ia]
        out[a:a + chunk] = c @ w
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class TrueDetector:
    """Light yield of the true detector: real layout, imperfect efficiencies (see module doc).

    Build with :meth:`build`. ``weights`` (N_lpmt, V) holds V efficiency sets (variants of
    the imperfections) evaluated together; ``variant`` picks the one :meth:`light` uses.
    """

    response: object
    weights: np.ndarray
    names: tuple
    correction: ShellGrid
    exact_index: np.ndarray
    exact_delta: np.ndarray
    exact_cone: float = 0.7
    variant: int = 0

    @classmethod
    def build(cls, response, weights, names=None, *, n_shells: int = 16, step: float = 1.2, exact=None,
              exact_cone: float = 0.7):
        """Tabulate the correction ``C`` for efficiency sets ``weights`` (N_lpmt,) or (N_lpmt, V).

        ``n_shells`` shells in ``r^3``; angular step = ``step`` x (distance to the PMTs) / r_pmt.
        ``exact``: boolean (N_lpmt,) mask of a compact group of PMTs summed exactly within the
        cone ``exact_cone`` (rad) around its centroid (see the module docstring).
        """
        check_range("n_shells", n_shells, 4, 400)
        check_range("step", step, 0.02, 2.0)
        w = np.asarray(weights, dtype=float)
        w = w[:, None] if w.ndim == 1 else w
        n = response.n_lpmt
        if w.shape[0] != n:
            raise ValueError(f"weights must have {n} rows (one per LPMT), got shape {w.shape}")
        names = tuple(names) if names is not None else tuple(str(v) for v in range(w.shape[1]))
        table = response.tables["lpmt"]
        r_pmt = float(np.mean(np.linalg.norm(response.layout.position[:n], axis=1)))
        r_ls = response.geometry.r_ls
        u, r, n_theta, n_phi, offset = ShellGrid.nodes(r_ls, r_pmt, n_shells, step)
        w0 = np.asarray(response.pde[:n], dtype=float)[:, None]
        exact = np.zeros(n, bool) if exact is None else np.asarray(exact, bool)
        if exact.shape != (n,):
            raise ValueError(f"exact must be a boolean mask of shape ({n},), got {exact.shape}")
        check_range("exact_cone", exact_cone, 0.0, np.pi)
        w_exact = w[exact] - w0[exact]
        w = w.copy()
        w[exact] = w0[exact]
        values = np.empty((int(np.sum(n_theta * n_phi)), w.shape[1]))
        for s in range(u.size):  # a few tens of shells; each is vectorised over its nodes and PMTs
            th, ph = ShellGrid.shell_points(int(n_theta[s]), int(n_phi[s]))
            num = _table_sums(table, r[s], _unit(th, ph), w)
            th0 = np.linspace(0.0, np.pi, int(n_theta[s])) if n_theta[s] > 1 else np.zeros(1)
            den = _table_sums(table, r[s], _unit(th0, np.zeros_like(th0)), w0)[:, 0]
            values[offset[s]:offset[s] + th.size] = num / np.repeat(den, int(n_phi[s]))[:, None]
        grid = ShellGrid(r_ls=r_ls, u=u, n_theta=n_theta, n_phi=n_phi, offset=offset, values=values)
        full = w.copy()
        full[exact] += w_exact
        return cls(response=response, weights=full, names=names, correction=grid,
                   exact_index=np.flatnonzero(exact), exact_delta=w_exact, exact_cone=float(exact_cone))

    def select(self, variant) -> TrueDetector:
        """The same detector evaluated with efficiency set ``variant`` (index or name)."""
        if isinstance(variant, str):
            v = self.names.index(validate.choice("variant", variant, self.names))
        else:
            v = validate.integer("variant", variant, 0, len(self.names) - 1)
        return dataclasses.replace(self, variant=v)

    @property
    def weight(self) -> np.ndarray:
        """(N_lpmt,) efficiencies of the selected variant."""
        return self.weights[:, self.variant]

    def light(self, positions) -> np.ndarray:
        """Expected LPMT PE per MeV of visible energy at positions (..., 3) mm (fast path)."""
        return self.light_variants(positions)[..., self.variant]

    def light_variants(self, positions) -> np.ndarray:
        """:meth:`light` of every efficiency set at once: (..., V)."""
        x = _ls_positions("positions", positions, self.response.geometry.r_ls)
        m = self.response.total_map.expected(x)["lpmt"]
        out = m[..., None] * self.correction(x)
        if self.exact_index.size:
            out += self._exact_term(x.reshape(-1, 3)).reshape(out.shape)
        return out

    def _exact_term(self, x) -> np.ndarray:
        """sum over the exactly treated PMTs of (w_k - w0_k) T(r, alpha_k): (M, V)."""
        table = self.response.tables["lpmt"]
        u = table.direction[self.exact_index]
        centroid = u.sum(axis=0)
        centroid /= np.linalg.norm(centroid)
        r = np.sqrt(np.einsum("mk,mk->m", x, x))
        safe = np.where(r > 0, r, 1.0)
        cos_c = np.where(r > 0, (x @ centroid) / safe, 1.0)
        near = cos_c > np.cos(self.exact_cone)
        out = np.empty((len(x), self.exact_delta.shape[1]))
        dr, da = table.d_r, table.d_alpha
        a_far = np.arccos(np.clip(cos_c[~near], -1.0, 1.0))
        out[~near] = bilinear(table.values, dr, da, r[~near], a_far)[:, None] * self.exact_delta.sum(axis=0)
        xn = x[near]
        cos_k = np.where(r[near][:, None] > 0, (xn @ u.T) / safe[near][:, None], 1.0)
        t = bilinear(table.values, dr, da, r[near][:, None], np.arccos(np.clip(cos_k, -1.0, 1.0)))
        out[near] = t @ self.exact_delta
        return out

    def light_direct(self, vertices, *, chunk: int = 32) -> np.ndarray:
        """Expected LPMT PE per MeV at vertices (M, 3) mm: the direct per-PMT sum (slow)."""
        resp = self.response
        n = resp.n_lpmt
        x = validate.positions("vertices", vertices, r_max=resp.geometry.r_ls, volume=validate.LS)
        chunk = validate.integer("chunk", chunk, 1, 10**5)
        out = np.empty(len(x))
        scale = resp.photon_yield * self.weight / resp.pde[:n]
        for a in range(0, len(x), chunk):  # chunks bound the (chunk, N) temporaries
            out[a:a + chunk] = resp.detection_fraction(x[a:a + chunk], chunk=chunk)[:, :n] @ scale
        return out

    @cached_property
    def centre(self) -> float:
        """Expected LPMT PE per MeV at the centre (fast path)."""
        return float(self.light(np.zeros(3)))

    def g(self, positions) -> np.ndarray:
        """True relative light yield ``L(x) / L(0)``."""
        return self.light(positions) / self.centre
