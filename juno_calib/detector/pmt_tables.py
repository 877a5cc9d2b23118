"""Per-PMT expectation tables and the sampler that places photo-electrons (PE) on PMTs.

**The table.** The PMTs of one system (LPMT or SPMT) sit on a sphere and face the centre, and
every factor of the light model (:func:`juno_calib.detector.optics.direct_fraction` with the
angular efficiency, plus the indirect light of :mod:`juno_calib.detector.transport`) depends on
the vertex ``x`` and
the PMT ``k`` only through the vertex radius ``r = |x|`` and the angle ``alpha_k`` between ``x``
and the PMT's direction. With one cathode size and shape per system (the system's mean) a
single function ``T(r, alpha)`` (PE per MeV for unit detection efficiency) serves all its PMTs:

    mu_k(x) = w_k * T(r, alpha_k),    w_k = detection efficiency of PMT k.

``T`` is computed once on a uniform grid, ``r`` in [0, R_LS] and ``alpha`` in [0, pi]
(709 x 721 nodes by default, :data:`TABLE_SHAPE`), and interpolated bilinearly
(:func:`bilinear`). The largest interpolation error sits at the kink of ``T`` where total
reflection sets in; the tests bound it (``tests/test_pmt_tables.py``).

**The sampler.** Drawing the PMT of each PE from ``P(k) ~ mu_k(x)`` directly would evaluate all
17,612 (LPMT) or 25,600 (SPMT) expectations per vertex. :meth:`PMTTable.sample_pmts` instead
draws a direction ``n`` on the unit sphere and finds the PMT that owns it in a lookup grid in
``(theta, phi)`` whose cells belong to the PMT nearest to their centre, so that PMT ``k`` owns a
patch of solid angle ``A_k``. Both steps cost O(1) per PE; acceptance or rejection then fixes
the probabilities. The proposal density is ``T`` itself: ``T`` is split into its minimum
over the angle (the isotropic floor ``f``, all of ``T`` at the centre) and the rest
``T' = T - f``; a proposal is uniform (chosen with odds ``4 pi f : integral of T'``) or drawn
from the density ``T'(alpha)``, so that, whichever part it came from, a direction ``n`` was
proposed with density proportional to ``T(alpha_n)``. It is accepted with probability
``c w_k T(alpha_k) / (A_k T(alpha_n) B(r))``, ``c = 1 / max_k(w_k / A_k)``. Integrating the
proposal density over the patch of PMT ``k`` gives ``P(k) ~ w_k T(r, alpha_k)`` for any layout.

Exactness: the sampled distribution is exactly that of the table at its own resolution (``T``
averaged over each ``alpha`` bin, linear in ``r``), provided every acceptance is at most 1 and
``T > 0`` wherever a PMT's patch reaches. ``B(r)`` bounds ``T(alpha_k)/T(alpha_n)`` for
directions within ``bound`` patch radii of a PMT; the rare proposals beyond it (at most a share
``clip_mass`` of the proposal mass) are clipped and their share is returned on request. ``T``
never vanishes while the indirect light is on (its floor is positive everywhere),
also past the total-reflection onset, where ``T`` equals that floor on a whole band of
``alpha``. (An earlier version accepted the uniform and the ``T'`` proposals separately, with
``T'`` in place of ``T``: there the band had ``T' = 0``, nothing was proposed in it and the PMTs
whose patch straddled its edge were under-sampled — on the design LPMT layout at 17.3 m, 0.25 %
of the PE misplaced and 126 PMTs low by up to 44 %. ``tests/test_pmt_tables.py`` checks the
per-PMT counts past the onset.)

Cost: every round of the sampler is vectorised over all pending PE, and rejected PE are
redrawn in the next round, so the work grows with the number of PE times the mean number of
proposals per PE (the inverse acceptance, which depends on ``r``), not with the number of PMTs.
The tables and the lookup grid are built once per system.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.spatial import cKDTree

from ..core import validate
from ..core.validate import _short
from .optics import Optics, _ray_paths, direct_fraction, rayleigh_redetected
from .timing import cdf_guide, cos_guide

TABLE_SHAPE = (709, 721)
"""Default nodes of the table ``T(r, alpha)``: (in ``r``, in ``alpha``)."""

PATCH_PMTS = 64
"""PMTs per patch of the patch sampler (:attr:`PMTTable._patches`): smaller patches accept more
often, larger ones cost less to set up per vertex."""


def _grid_cell(x, step, n):
    """Cell index ``i`` in [0, n - 2] and weight ``w`` in [0, 1] of ``x`` on the uniform grid
    ``i * step`` of ``n`` nodes (``x = (i + w) step`` inside the grid, clipped to its ends)."""
    f = np.clip(np.asarray(x) / step, 0.0, n - 1.0)
    i = np.minimum(f.astype(np.int64), n - 2)
    return i, f - i


def bilinear(values, dx, dy, x, y):
    """Bilinear interpolation of ``values`` (n_x, n_y) on the uniform grid ``(i dx, j dy)``.

    ``x`` and ``y`` broadcast; points outside the grid take the value at its edge. The result
    is exact for functions of the form ``a + b x + c y + d x y``.

    >>> import numpy as np
    >>> gx, gy = np.meshgrid(np.arange(4.0), np.arange(3.0) * 0.5, indexing="ij")
    >>> round(float(bilinear(1 + 2 * gx + 3 * gy + gx * gy, 1.0, 0.5, 1.25, 0.8)), 12)  # 1 + 2.5 + 2.4 + 1
    6.9
    """
    n_x, n_y = values.shape
    i, wx = _grid_cell(x, dx, n_x)
    j, wy = _grid_cell(y, dy, n_y)
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


def _directions(cos_alpha, axis, e1, e2, *, rng: np.random.Generator):
    """Unit vectors at angle ``arccos(cos_alpha)`` (H,) from ``axis`` (H, 3), uniform azimuth."""
    phi = 2.0 * np.pi * rng.random(cos_alpha.size)
    s = np.sqrt(np.clip(1.0 - cos_alpha * cos_alpha, 0.0, 1.0))
    return (cos_alpha[:, None] * axis + (s * np.cos(phi))[:, None] * e1
            + (s * np.sin(phi))[:, None] * e2)


@dataclasses.dataclass(frozen=True, eq=False)
class PMTTable:
    """Expected PE of one PMT of a system vs vertex radius and vertex-PMT angle, and a sampler.

    ``mu_k(x) = weight_k * T(r, alpha_k)`` (see the module docstring). Build it with
    :meth:`build`.

    Attributes: ``values`` (n_r, n_alpha), ``T`` in PE per MeV on the uniform grid (``r`` in
    [0, ``r_ls``] mm, ``alpha`` in [0, pi]); ``direction`` (N, 3) PMT unit vectors; ``weight``
    (N,) PDEs; ``lookup`` (n_theta, n_phi) the PMT owning each cell of a grid in
    ``(theta, phi)`` (the nearest PMT to the cell centre), which partitions the sphere
    into one patch per PMT; ``cell_area`` (N,) the solid angle (sr) of each PMT's patch;
    ``bound``: the reach, in patch radii, of the sampler's acceptance bound; ``clip_mass``:
    the share of proposals whose acceptance may exceed 1 (and be clipped); ``scattered`` (n_r,)
    the indirect part of ``T`` averaged over the sphere, used to tell scattered PE
    from direct ones for their times.
    """

    r_ls: float
    values: np.ndarray
    direction: np.ndarray
    weight: np.ndarray
    lookup: np.ndarray
    cell_area: np.ndarray
    bound: float = 1.0
    clip_mass: float = 1e-3
    scattered: np.ndarray | None = None

    @classmethod
    def build(cls, pmt_position, cathode_radius: float, aspect: float, weight, optics: Optics,
              r_ls: float, acrylic_thickness: float, *, scale: float, indirect=None, angular=None,
              n_r: int = TABLE_SHAPE[0], n_alpha: int = TABLE_SHAPE[1], lookup_shape=(1024, 2048)):
        """Tabulate ``T`` for PMTs at ``pmt_position`` (N, 3) mm of one cathode size and shape.

        ``cathode_radius`` (mm) and ``aspect`` (depth / radius) describe the cathode; ``weight``
        (N,) are the PDEs; ``scale`` converts detection probability to PE per MeV (effective
        photons per MeV). ``indirect`` (n_r, n_alpha) is the indirect-light fraction on the
        table's grid (``None``: the first-order Rayleigh term of ``optics``), ``angular`` the
        relative efficiency vs the incidence cosine of the direct light, ``(cos_grid, eff)``
        (``None``: flat), as in :meth:`juno_calib.detector.response.DetectorResponse.detection_fraction`.
        ``lookup_shape`` is the (theta, phi) grid of the PMT lookup; every PMT must own at least
        one cell.
        """
        pos = np.asarray(pmt_position, dtype=float)
        radius = float(np.mean(np.linalg.norm(pos, axis=1)))
        direction = pos / np.linalg.norm(pos, axis=1, keepdims=True)
        r = np.linspace(0.0, r_ls, n_r)
        alpha = np.linspace(0.0, np.pi, n_alpha)
        vtx = np.stack([np.zeros_like(r), np.zeros_like(r), r], axis=1)
        pmt = radius * np.stack([np.sin(alpha), np.zeros_like(alpha), np.cos(alpha)], axis=1)
        direct = direct_fraction(vtx, pmt, cathode_radius, aspect, optics, r_ls, acrylic_thickness)
        if angular is not None:
            cos_grid, eff = (np.asarray(a, dtype=float) for a in angular)
            cos_eta = _ray_paths(vtx, pmt, r_ls, acrylic_thickness)["cos_eta"]
            direct = direct * np.where(cos_eta > 0, np.interp(cos_eta, cos_grid, eff), 0.0)
        if indirect is None:
            indirect = np.broadcast_to(rayleigh_redetected(r, direct[0, 0], optics, r_ls), direct.shape)
        indirect = np.asarray(indirect, dtype=float)
        if indirect.shape != direct.shape:
            raise ValueError(f"indirect must have the table's shape {direct.shape}, got {indirect.shape}")
        values = scale * (direct + indirect)
        # the indirect part averaged over the sphere (uniform in cos alpha), for the hit times
        w_cos = np.abs(np.gradient(np.cos(alpha)))
        scattered = scale * (indirect @ w_cos) / w_cos.sum()
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
                   lookup=lookup.reshape(n_t, n_p), cell_area=area, scattered=scattered)

    @property
    def d_r(self) -> float:
        """Table step in ``r`` (mm)."""
        return self.r_ls / (self.values.shape[0] - 1)

    @property
    def d_alpha(self) -> float:
        """Table step in ``alpha`` (rad)."""
        return np.pi / (self.values.shape[1] - 1)

    def expected(self, vertices) -> np.ndarray:
        """Expected PE per MeV, (M, N), of every PMT of the system for vertices (M, 3) mm in the LS."""
        x = validate.positions("vertices", vertices, r_max=self.r_ls, volume=validate.LS)
        r = np.linalg.norm(x, axis=1)
        cos_a = (x @ self.direction.T) / np.where(r > 0, r, 1.0)[:, None]
        cos_a = np.where(r[:, None] > 0, cos_a, 1.0)
        alpha = np.arccos(np.clip(cos_a, -1.0, 1.0))
        return self.weight[None, :] * bilinear(self.values, self.d_r, self.d_alpha, r[:, None], alpha)

    @cached_property
    def _bins(self):
        """Sampling tables: per row of ``r``, the bin values of ``T`` (``v``), the part above
        the row's minimum and its CDF in ``alpha`` (rows offset by their index), the row minima
        (the isotropic floor), masses and acceptance bounds."""
        v = 0.5 * (self.values[:, 1:] + self.values[:, :-1])
        floor = v.min(axis=1)
        vb = v - floor[:, None]
        cos_edges = np.cos(np.linspace(0.0, np.pi, self.values.shape[1]))
        d_cos = (cos_edges[:-1] - cos_edges[1:])[None, :]
        mass_b = vb * d_cos
        norm_b = mass_b.sum(axis=1)
        cdf = np.cumsum(mass_b, axis=1) / np.where(norm_b > 0, norm_b, 1.0)[:, None]
        cdf[:, -1] = 1.0
        n_r, n_bins = v.shape
        flat = (cdf + np.arange(n_r)[:, None]).ravel()
        # c = 1 / max(w / A): the largest constant that keeps every acceptance <= 1
        factor = self.weight / self.cell_area
        factor = factor / factor.max()
        # per-row bound on T(alpha_k)/T(alpha) for directions within `bound` cell radii
        reach = int(np.ceil(self.bound * np.sqrt(self.cell_area.max() / np.pi) / self.d_alpha))
        local_max = maximum_filter1d(v, size=2 * reach + 1, axis=1, mode="nearest")
        ratio = np.where(v > 0, local_max / np.where(v > 0, v, 1.0), 1.0)
        mass = v * d_cos
        # B(r): the smallest ratio exceeded only in bins holding < clip_mass of the row's mass
        order = np.argsort(ratio, axis=1)
        tail = np.cumsum(np.take_along_axis(mass, order, axis=1)[:, ::-1], axis=1)[:, ::-1]
        keep = tail >= self.clip_mass * np.maximum(norm_b, 1e-300)[:, None]
        last = n_bins - 1 - np.argmax(keep[:, ::-1], axis=1)
        ratio = np.take_along_axis(np.take_along_axis(ratio, order, axis=1), last[:, None], axis=1)[:, 0]
        return {"v": v, "floor": floor, "norm_b": norm_b, "flat_cdf": flat, "cos_edges": cos_edges,
                "factor": factor, "row_bound": np.maximum(ratio, 1.0)}

    def _owner(self, n):
        """Index of the PMT whose lookup cell contains the unit vectors ``n`` (H, 3)."""
        n_t, n_p = self.lookup.shape
        theta = np.arccos(np.clip(n[:, 2], -1.0, 1.0))
        phi = np.arctan2(n[:, 1], n[:, 0]) + np.pi
        ic = np.clip((theta * (n_t / np.pi)).astype(np.int64), 0, n_t - 1)
        ip = np.clip((phi * (n_p / (2 * np.pi))).astype(np.int64), 0, n_p - 1)
        return self.lookup[ic, ip]

    @cached_property
    def _envelope(self):
        """Proposal tables of the compiled sampler: the envelope ``G`` = maximum of ``T`` (bin
        values) within ``bound`` patch radii in ``alpha``, per row, split like ``T`` in
        :attr:`_bins` into its floor and the rest with its CDF. A proposal drawn from ``G`` and
        accepted with ``c w_k T_k / (A_k G_n)`` gives ``P(k) ~ w_k T_k`` (the acceptance is at most 1
        whenever PMT ``k`` lies within the reach of the proposed direction), without the row-wide
        bound ``B(r)`` of the numpy sampler, which is large near the total-reflection edge."""
        t = self._bins
        v = t["v"]
        reach = int(np.ceil(self.bound * np.sqrt(self.cell_area.max() / np.pi) / self.d_alpha))
        g = maximum_filter1d(v, size=2 * reach + 1, axis=1, mode="nearest")
        floor = g.min(axis=1)
        gb = g - floor[:, None]
        d_cos = (t["cos_edges"][:-1] - t["cos_edges"][1:])[None, :]
        mass_b = gb * d_cos
        norm_b = mass_b.sum(axis=1)
        cdf = np.cumsum(mass_b, axis=1) / np.where(norm_b > 0, norm_b, 1.0)[:, None]
        cdf[:, -1] = 1.0
        n_r, n_bins = g.shape
        small = np.int16 if self.direction.shape[0] <= np.iinfo(np.int16).max else np.int32
        n_t = self.lookup.shape[0]
        theta_cos = np.cos(np.linspace(0.0, np.pi, n_t + 1))
        theta_cos[0], theta_cos[-1] = 1.0, -1.0
        return {"v": g, "floor": floor, "norm_b": norm_b, "cdf": np.ascontiguousarray(cdf),
                "cdf_guide": cdf_guide(cdf, n_bins), "alpha_guide": cos_guide(t["cos_edges"], 8 * n_bins),
                "theta_cos": theta_cos, "theta_guide": cos_guide(theta_cos, 8 * n_t),
                "row_bound": np.ones(n_r), "lookup": np.ascontiguousarray(self.lookup.astype(small)).ravel()}

    @cached_property
    def _patches(self):
        """Patches of the patch sampler (:func:`juno_calib.detector.timing.simulate_events`): the
        PMTs grouped into compact patches of about :data:`PATCH_PMTS` neighbours (cells of a grid
        of bands in ``theta``, each band cut into equal cells in ``phi``), in patch order.

        Returns ``order`` (N,) the PMT indices patch by patch, ``start`` (P + 1,) the patch
        boundaries in that order, ``centre`` (P, 3) the unit mean direction of each patch,
        ``wmax`` (P,) the largest PDE in the patch, ``reach`` the largest angular radius of a
        patch in ``alpha`` bins (plus one for the bin edges) and ``g`` the envelope of ``T``: per
        row of ``r``, the maximum of the bin values within ``reach`` bins. For a vertex at
        ``(r, axis)`` and a patch whose centre lies in bin ``j_c``, ``G_p = (1 - w) g[i, j_c] + w
        g[i + 1, j_c]`` bounds ``T`` (bin value, linear in ``r``) of every PMT of the patch, since
        their angles to the axis differ from the centre's by at most the patch radius; ``g_min``,
        the minimum within the same reach, tells the kernel where the bound is loose (there it
        draws the PMT of the patch from its exact per-PMT masses instead).
        """
        d = self.direction
        n = d.shape[0]
        n_patch = max(1, int(round(n / PATCH_PMTS)))
        step = np.sqrt(4.0 * np.pi / n_patch)
        n_band = max(1, int(round(np.pi / step)))
        theta = np.arccos(np.clip(d[:, 2], -1.0, 1.0))
        phi = np.arctan2(d[:, 1], d[:, 0]) + np.pi
        band = np.minimum((theta / np.pi * n_band).astype(np.int64), n_band - 1)
        mid = (np.arange(n_band) + 0.5) * np.pi / n_band
        n_phi = np.maximum(1, np.round(2.0 * np.pi * np.sin(mid) / step)).astype(np.int64)
        first = np.concatenate([[0], np.cumsum(n_phi)])
        cell = first[band] + np.minimum((phi / (2.0 * np.pi) * n_phi[band]).astype(np.int64), n_phi[band] - 1)
        order = np.argsort(cell, kind="stable")
        _, inverse, counts = np.unique(cell[order], return_inverse=True, return_counts=True)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        centre = np.zeros((counts.size, 3))
        np.add.at(centre, inverse, d[order])
        centre /= np.linalg.norm(centre, axis=1, keepdims=True)
        cos_in = np.einsum("hk,hk->h", d[order], centre[inverse])
        radius = np.zeros(counts.size)
        np.maximum.at(radius, inverse, np.arccos(np.clip(cos_in, -1.0, 1.0)))
        wmax = np.zeros(counts.size)
        np.maximum.at(wmax, inverse, self.weight[order])
        reach = int(np.ceil(radius.max() / self.d_alpha)) + 1
        g = maximum_filter1d(self._bins["v"], size=2 * reach + 1, axis=1, mode="nearest")
        g_min = minimum_filter1d(self._bins["v"], size=2 * reach + 1, axis=1, mode="nearest")
        return {"order": order, "start": start, "centre": np.ascontiguousarray(centre), "wmax": wmax,
                "mass": counts * wmax, "reach": reach, "g": np.ascontiguousarray(g),
                "g_min": np.ascontiguousarray(g_min)}

    def _patch_record(self, position, tts, kind, offset: int = 0) -> np.ndarray:
        """Per-PMT record (N, 8) of the patch sampler, in patch order (:attr:`_patches`): position
        (mm), 1/|position|, acceptance factor ``w_k / wmax_p``, TTS sigma (ns), PMT type code (its
        SPE spectrum) and the PMT's index plus ``offset`` (both as floats); one 64-byte row per
        PMT."""
        p = self._patches
        order = p["order"]
        pos = np.asarray(position, dtype=float)[order]
        patch = np.repeat(np.arange(p["start"].size - 1), np.diff(p["start"]))
        rec = np.empty((order.size, 8))
        rec[:, :3] = pos
        rec[:, 3] = 1.0 / np.linalg.norm(pos, axis=1)
        rec[:, 4] = self.weight[order] / p["wmax"][patch]
        rec[:, 5] = np.asarray(tts, dtype=float)[order]
        rec[:, 6] = np.asarray(kind, dtype=float)[order]
        rec[:, 7] = order + offset
        return rec

    def pmt_record(self, position=None, tts=None) -> np.ndarray:
        """Per-PMT record (N, 8) of the compiled sampler: direction, acceptance factor, position
        (mm) and TTS sigma (ns), one 64-byte row per PMT (zeros where not given)."""
        rec = np.zeros((self.direction.shape[0], 8))
        rec[:, :3] = self.direction
        rec[:, 3] = self._bins["factor"]
        if position is not None:
            rec[:, 4:7] = position
        if tts is not None:
            rec[:, 7] = tts
        return rec

    @cached_property
    def _plain_record(self) -> np.ndarray:
        return self.pmt_record()

    def _vertex_terms(self, x, t=None):
        """Per-vertex terms of the sampler for vertices ``x`` (D, 3): the axis and its frame,
        the table row and weight in ``r``, the acceptance bound and the proposal odds (of the
        proposal tables ``t``, default :attr:`_bins`)."""
        t = self._bins if t is None else t
        n_r = self.values.shape[0]
        r = np.sqrt(np.einsum("dk,dk->d", x, x))
        axis = np.where(r[:, None] > 0, x / np.where(r > 0, r, 1.0)[:, None], [[0.0, 0.0, 1.0]])
        e1, e2 = _orthonormal_frame(axis)
        i_d, w_d = _grid_cell(r, self.d_r, n_r)
        bound_d = np.maximum(t["row_bound"][i_d], t["row_bound"][i_d + 1])
        mass_lo, mass_hi = (1 - w_d) * t["norm_b"][i_d], w_d * t["norm_b"][i_d + 1]
        floor_mass = 2.0 * ((1 - w_d) * t["floor"][i_d] + w_d * t["floor"][i_d + 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            p_up_d = np.where(mass_lo + mass_hi > 0, mass_hi / (mass_lo + mass_hi), 0.0)
        p_floor_d = floor_mass / (floor_mass + mass_lo + mass_hi)
        return axis, e1, e2, i_d, w_d, bound_d, p_floor_d, p_up_d

    def sample_pe(self, vertices, source=None, *, rng: np.random.Generator, times=None,
                  return_clipped: bool = False, return_charges: bool = False):
        """Draw one PMT per PE with the compiled kernel, and optionally a time per PE.

        The sampler of :meth:`sample_pmts` run PE by PE in
        :func:`juno_calib.detector.timing.place_and_time`, with proposals from the envelope
        :attr:`_envelope` instead of ``T`` and its row-wide bound (exact to the table as well).
        ``times`` is ``None`` (no times; returns the PMT indices (H,)) or a mapping with the
        time model's arrays (:meth:`juno_calib.detector.response.DetectorResponse.sample_hits`
        builds it); then returns ``(pmt, time)``, with ``return_charges`` ``(pmt, time, charge)``
        (single-PE charges, Normal(1, sigma_spe) redrawn while <= 0). ``return_clipped`` adds
        the fraction of proposals whose acceptance exceeded 1. The kernel's random numbers come
        from its own streams (xoshiro256**, one per block of PE) seeded by one draw from ``rng``:
        the result is reproducible for a given ``rng`` state and independent of the number of
        threads.
        """
        from .timing import place_and_time

        x, src = self._checked(vertices, source, rng)
        x = np.ascontiguousarray(x)
        t = self._bins
        env = self._envelope
        axis, e1, e2, i_d, w_d, _, p_floor_d, p_up_d = self._vertex_terms(x, env)
        frame = np.ascontiguousarray(np.concatenate([axis, e1, e2], axis=1))
        if times is None:
            args = (self._plain_record, False, np.zeros(1), np.zeros(self.values.shape[0]), np.ones(1),
                    np.ones(1), 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        else:
            args = (times["record"], True, times["spe_sigma"], times["scattered"], times["taus"],
                    times["weight_cdf"], times["rise"], times["r_ls"], times["r_acrylic"],
                    times["k_ls"], times["k_acrylic"], times["k_water"], times["attenuation_length"])
        seed = int(rng.integers(0, 2**63))
        k, tm, q, n_clip = place_and_time(src, x, frame, i_d, w_d, p_floor_d, p_up_d, t["v"], env["v"],
                                          env["cdf"], env["cdf_guide"], t["cos_edges"], env["alpha_guide"],
                                          env["lookup"], self.lookup.shape[1], env["theta_cos"],
                                          env["theta_guide"], *args, seed)
        if return_charges:
            out = (k, tm, q)
        else:
            out = k if times is None else (k, tm)
        if return_clipped:
            return out, n_clip / max(src.size, 1)
        return out

    def sample_pmts(self, vertices, source=None, *, rng: np.random.Generator,
                    return_clipped: bool = False):
        """Draw one PMT per PE: indices (H,) into the system's PMTs.

        Parameters
        ----------
        vertices : (D, 3) mm, emission points.
        source : (H,) int, the vertex of every PE (default: one PE per vertex).
        rng : generator.
        return_clipped : also return the fraction of proposals whose acceptance exceeded 1.

        Method: rejection sampling through the lookup grid, described in the module docstring.
        A proposal is uniform (odds of the isotropic floor) or draws the row of the table by the
        linear weight in ``r``, ``cos alpha`` by inverse CDF of ``T'`` and the azimuth uniformly;
        either way it is accepted with ``c w_k T_k / (A_k T_n B)``. Rejected PE are redrawn in
        the next round.
        """
        x, src = self._checked(vertices, source, rng)
        return self._sample_pmts(x, src, rng=rng, return_clipped=return_clipped)

    def _checked(self, vertices, source, rng):
        """The samplers' inputs: vertices (D, 3) in the LS, source (H,) indices into them."""
        x = validate.positions("vertices", vertices, r_max=self.r_ls, volume=validate.LS)
        validate.generator("rng", rng)
        if source is None:
            return x, np.arange(x.shape[0])
        src = np.asarray(source)
        if src.ndim != 1 or (src.size and (src.dtype.kind not in "iu" or src.min() < 0
                                           or src.max() >= x.shape[0])):
            raise ValueError(f"source must be a (H,) integer array of vertex indices in "
                             f"[0, {x.shape[0] - 1}], got {_short(source)}")
        return x, src.astype(np.int64)

    def _sample_pmts(self, x, src, *, rng, return_clipped=False):
        """Kernel of :meth:`sample_pmts` (inputs checked by it)."""
        t = self._bins
        v, flat, cos_edges, factor = t["v"], t["flat_cdf"], t["cos_edges"], t["factor"]
        n_bins = v.shape[1]
        axis, e1, e2, i_d, w_d, bound_d, p_floor_d, p_up_d = self._vertex_terms(x)
        out = np.empty(src.size, dtype=np.int64)
        todo = np.arange(src.size)
        n_clipped = 0
        while todo.size:  # rounds of the rejection sampler, each vectorised over pending PE
            d = src[todo]
            ii, ww = i_d[d], w_d[d]
            # uniform proposals (the floor), or cos(alpha) from T' by inverse CDF
            iso = rng.random(todo.size) < p_floor_d[d]
            c = 2.0 * rng.random(d.size) - 1.0
            j = np.minimum((np.arccos(c) / self.d_alpha).astype(np.int64), n_bins - 1)
            b = np.flatnonzero(~iso)
            row = ii[b] + (rng.random(b.size) < p_up_d[d[b]])
            j[b] = np.clip(np.searchsorted(flat, row + rng.random(b.size), side="right") - row * n_bins,
                           0, n_bins - 1)
            c[b] = cos_edges[j[b]] + rng.random(b.size) * (cos_edges[j[b] + 1] - cos_edges[j[b]])
            k = self._owner(_directions(c, axis[d], e1[d], e2[d], rng=rng))
            cos_k = np.einsum("hk,hk->h", self.direction[k], axis[d])
            jk = np.minimum((np.arccos(np.clip(cos_k, -1, 1)) / self.d_alpha).astype(np.int64), n_bins - 1)
            t_k = (1 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
            t_n = (1 - ww) * v[ii, j] + ww * v[ii + 1, j]
            acc = factor[k] * t_k / (t_n * bound_d[d])
            n_clipped += int(np.sum(acc > 1.0))
            ok = rng.random(d.size) < acc
            out[todo[ok]] = k[ok]
            todo = todo[~ok]
        if return_clipped:
            return out, n_clipped / max(src.size, 1)
        return out
