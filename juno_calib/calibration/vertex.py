"""Vertex reconstruction from LPMT hits: a corrected charge-weighted centre as the first guess,
then a maximum-likelihood fit of the charges and first-hit times (chapter 4).

**What the reconstruction sees.** Only what the experiment measures: per LPMT channel a
charge ``q_k`` (in single-PE units) and a first-hit time ``t_k``; the PMT positions, types,
detection efficiencies and dark rates; and two calibrations made with a point source at known
positions (:meth:`VertexReco.calibrate`):

* the *time-residual PDF* per LPMT type, the histogram of ``t_k - TOF_k(x_source)`` of the
  single-PE channels of a source run at the centre (each event aligned on its median residual,
  since the event time is not measured), smoothed; the first of ``n`` PE then has the density
  ``f_n(t) = n f(t) (1 - F(t))^(n-1)`` (order statistics);
* the *radial bias of the charge-weighted centre*, ``|x_cw|`` vs the source radius, from
  source runs at known radii.

The charge term uses the per-PMT expectations of the light model
(``mu_k(x) = E w_k T(r, alpha_k)``, :class:`juno_calib.detector.pmt_tables.PMTTable`, and its
sum over all LPMTs from the total map): the reconstruction assumes the light model is known,
as a collaboration's reconstruction assumes its tuned simulation. The time of flight of the
reconstruction is its own simpler model: a straight line, with the acrylic counted as LS, at
the group velocities of LS and water.

**Likelihood.** With ``q_k`` the charge (PE units) and ``n_k = max(1, round(q_k))`` the
estimated PE of fired channel ``k``,

    -ln L(x, t0) = E S(x) - sum_k q_k ln(E w_k T_k(x) + b_k) - sum_k ln f_{n_k, type_k}(t_k - t0 - TOF_k(x)),

``S(x) = sum_k w_k T_k(x)`` over all LPMTs, ``b_k`` the dark-noise mean and the energy scale
``E`` profiled as ``(sum q_k - B) / S(x)`` (``B`` the total dark mean). Unfired PMTs enter only
through ``E S(x)``. It is minimised with Nelder-Mead (scipy) in ``(x, y, z, t0)`` from the
corrected charge-weighted centre; the negative log-likelihood is a compiled kernel (numba).

Not modelled here (stated in chapter 4): the SPMT hits, the energy dependence of the
dark-hit share in the time PDF, the radial dependence of the scattered-light share of the
time PDF, and extended (gamma-cascade) light sources beyond the light centre.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import numba
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import minimize

from ..core.params import check_choice, check_range
from ..detector.response import PMT_HAMAMATSU, PMT_NNVT, DetectorResponse, Hits

N_FIRST = 48
"""First-hit PDFs are tabulated for 1..N_FIRST PE per channel (larger counts use the last)."""
RESIDUAL_RANGE = (-60.0, 440.0)
"""Time-residual range (ns) of the PDF tables; outside it the density is that of the edges."""
RESIDUAL_STEP = 0.5
"""Bin width (ns) of the time-residual PDF."""
TOTAL_SHAPE = (64, 17)
"""Nodes (in (r/R)^3, cos theta) of the tabulated sum of the per-PMT expectations."""


@dataclasses.dataclass(frozen=True)
class Vertices:
    """Result of :meth:`VertexReco.reconstruct` for ``n`` events (positions in mm, times in ns).

    ``position`` (n, 3) the fitted vertex (the corrected charge-weighted centre when
    ``method="charge_centre"``); ``t0`` (n,) the event time; ``energy`` (n,) the profiled
    energy scale (MeV, from the expected PE); ``first_guess`` (n, 3) the corrected
    charge-weighted centre; ``charge_centre`` (n, 3) the uncorrected one; ``n_calls`` (n,)
    likelihood evaluations; ``success`` (n,) whether the minimiser converged; ``uncorrected``
    (n, 3) the fitted vertex before the calibrated radial-bias correction.
    """

    position: np.ndarray
    t0: np.ndarray
    energy: np.ndarray
    first_guess: np.ndarray
    charge_centre: np.ndarray
    n_calls: np.ndarray
    success: np.ndarray
    uncorrected: np.ndarray | None = None

    @property
    def radius(self) -> np.ndarray:
        return np.linalg.norm(self.position, axis=1)


def _event_starts(event, n_events):
    return np.searchsorted(event, np.arange(n_events + 1), side="left")


def lpmt_channels(hits: Hits):
    """LPMT rows of ``hits`` and their per-event offsets: (starts (n+1,), pmt, charge, time)."""
    if not isinstance(hits, Hits):
        raise TypeError(f"hits must be a juno_calib.detector.response.Hits, got {type(hits).__name__}")
    lp = hits.pmt < hits.n_pmt_lpmt
    ev = hits.event[lp]
    if ev.size > 1 and np.any(np.diff(ev) < 0):
        raise ValueError("hits must be ordered by event (as DetectorResponse.sample_hits returns them)")
    return (_event_starts(ev, hits.n_events), hits.pmt[lp].astype(np.int64),
            hits.charge[lp].astype(float), hits.time[lp].astype(float))


def charge_centre(hits: Hits, response: DetectorResponse, *, dark_subtracted: bool = True) -> np.ndarray:
    """Charge-weighted centre (n, 3) mm of the LPMT positions, ``sum q_k P_k / Q``.

    ``Q`` is the summed charge minus the expected dark charge (``dark_subtracted``): dark hits
    are spread over the whole sphere and only dilute the centre.
    """
    starts, pmt, q, _ = lpmt_channels(hits)
    pos = np.asarray(response.layout.position, dtype=float)[pmt]
    ev = np.repeat(np.arange(hits.n_events), np.diff(starts))
    num = np.stack([np.bincount(ev, weights=q * pos[:, i], minlength=hits.n_events) for i in range(3)], 1)
    den = np.bincount(ev, weights=q, minlength=hits.n_events)
    if dark_subtracted:
        den = den - response.dark_mean["lpmt"]
    return num / np.maximum(den, 1.0)[:, None]


# ---- compiled likelihood ----------------------------------------------------------------------

@numba.njit(cache=True)
def _tof(x, y, z, px, py, pz, r_out, k_ls, k_w):
    """Reconstruction's time of flight: straight line, LS (incl. acrylic) to ``r_out``, then water."""
    dx, dy, dz = px - x, py - y, pz - z
    dist = np.sqrt(dx * dx + dy * dy + dz * dz)
    r2 = x * x + y * y + z * z
    proj = (x * dx + y * dy + z * dz) / dist
    disc = proj * proj - r2 + r_out * r_out
    l_ls = -proj + np.sqrt(disc if disc > 0.0 else 0.0)
    if l_ls > dist:
        l_ls = dist
    return k_ls * l_ls + k_w * (dist - l_ls)


@numba.njit(cache=True)
def _nll(p, pmt, n_pe, q_pe, t_hit, kind, pmt_pos, pmt_dir, weight, dark, table, d_r, d_alpha,
         total, r_ls, r_out, k_ls, k_w, log_first, t_lo, dt, use_charge, use_time, n_sum, dark_sum):
    """Negative log-likelihood of one event at ``p = (x, y, z [m], t0 [ns])``."""
    x, y, z, t0 = p[0] * 1000.0, p[1] * 1000.0, p[2] * 1000.0, p[3]
    r = np.sqrt(x * x + y * y + z * z)
    penalty = 0.0
    if r > r_ls:  # the tables end at the LS surface: clamp, and push back smoothly
        penalty = 1e3 * ((r - r_ls) / 100.0) ** 2
        s = r_ls / r
        x, y, z, r = x * s, y * s, z * s, r_ls
    n_r, n_a = table.shape
    fr = min(r / d_r, n_r - 1.0)
    ir = min(int(fr), n_r - 2)
    wr = fr - ir
    out = penalty
    e = 1.0
    if use_charge:
        # S(x) = sum_k w_k T_k(x) over all LPMTs, tabulated in (r^3, cos theta)
        n_u, n_c = total.shape
        u = (r / r_ls) ** 3 * (n_u - 1.0)
        cth = (z / r if r > 0 else 1.0) + 1.0
        c = cth / 2.0 * (n_c - 1.0)
        iu = min(int(u), n_u - 2)
        ic = min(int(c), n_c - 2)
        wu, wc = u - iu, c - ic
        s_tot = ((1 - wu) * (1 - wc) * total[iu, ic] + wu * (1 - wc) * total[iu + 1, ic]
                 + (1 - wu) * wc * total[iu, ic + 1] + wu * wc * total[iu + 1, ic + 1])
        e = max(n_sum - dark_sum, 1.0) / s_tot
        out += e * s_tot
    n_t = log_first.shape[2]
    n_max = log_first.shape[1]
    for h in range(pmt.size):
        k = pmt[h]
        if use_charge:
            ca = (x * pmt_dir[k, 0] + y * pmt_dir[k, 1] + z * pmt_dir[k, 2]) / r if r > 0 else 1.0
            fa = np.arccos(min(max(ca, -1.0), 1.0)) / d_alpha
            ia = min(int(fa), n_a - 2)
            wa = fa - ia
            tv = ((1 - wr) * (1 - wa) * table[ir, ia] + wr * (1 - wa) * table[ir + 1, ia]
                  + (1 - wr) * wa * table[ir, ia + 1] + wr * wa * table[ir + 1, ia + 1])
            out -= q_pe[h] * np.log(e * weight[k] * tv + dark[k])
        if use_time:
            res = t_hit[h] - t0 - _tof(x, y, z, pmt_pos[k, 0], pmt_pos[k, 1], pmt_pos[k, 2], r_out, k_ls, k_w)
            ft = (res - t_lo) / dt
            if ft < 0.0:
                ft = 0.0
            elif ft > n_t - 1.0:
                ft = n_t - 1.0
            it = min(int(ft), n_t - 2)
            wt = ft - it
            nn = min(n_pe[h], n_max) - 1
            out -= (1 - wt) * log_first[kind[k], nn, it] + wt * log_first[kind[k], nn, it + 1]
    return out


@numba.njit(cache=True)
def _residuals(x, t_hit, pmt, pmt_pos, r_out, k_ls, k_w):
    out = np.empty(pmt.size)
    for h in range(pmt.size):
        k = pmt[h]
        out[h] = t_hit[h] - _tof(x[0], x[1], x[2], pmt_pos[k, 0], pmt_pos[k, 1], pmt_pos[k, 2],
                                 r_out, k_ls, k_w)
    return out


def _first_hit_logpdf(pdf, step):
    """log f_n for n = 1..N_FIRST from a single-PE density ``pdf`` (normalised on its grid)."""
    cdf = np.clip(np.cumsum(pdf) * step - 0.5 * pdf * step, 0.0, 1.0)
    n = np.arange(1, N_FIRST + 1)[:, None]
    with np.errstate(divide="ignore"):
        f = n * pdf[None, :] * (1.0 - cdf[None, :]) ** (n - 1)
    floor = 1e-12
    return np.log(np.maximum(f, floor))


@dataclasses.dataclass(frozen=True, eq=False)
class VertexReco:
    """A calibrated vertex reconstruction for one detector response (see the module docstring).

    Build it with :meth:`calibrate`; then :meth:`reconstruct` hits.
    ``single_pdf`` (2, n_t): single-PE time-residual densities of NNVT and Hamamatsu LPMTs on
    the grid ``t_grid``; ``bias_r_true``/``bias_r_cw``: the calibration of the radial bias of the
    charge-weighted centre (mm); ``t_offset``: median of the single-PE residual (ns).
    """

    response: DetectorResponse
    t_grid: np.ndarray
    single_pdf: np.ndarray
    bias_r_true: np.ndarray
    bias_r_cw: np.ndarray
    t_offset: float
    radial_fit_r: np.ndarray | None = None
    radial_fit_bias: np.ndarray | None = None

    @classmethod
    def calibrate(cls, response: DetectorResponse, *, rng: np.random.Generator, n_time_events: int = 200,
                  n_radii: int = 36, n_per_radius: int = 30, e_vis: float = 2.223,
                  smoothing_ns: float = 1.0, n_fit_per_radius: int = 6):
        """Calibrate with point sources of ``e_vis`` MeV (the n-H gamma's visible energy).

        Time PDF: ``n_time_events`` events at the centre. Radial bias of the charge-weighted
        centre: ``n_per_radius`` events at each of ``n_radii`` radii from 0 to the LS surface
        (random directions). Radial bias of the likelihood fit: the first ``n_fit_per_radius``
        of them are fitted (0: no correction of the fit). ``smoothing_ns``: Gaussian smoothing
        of the residual histogram.
        """
        check_range("n_fit_per_radius", n_fit_per_radius, 0, n_per_radius)
        if not isinstance(response, DetectorResponse):
            raise TypeError(f"response must be a DetectorResponse, got {type(response).__name__}")
        check_range("n_time_events", n_time_events, 10, 1e6)
        check_range("n_radii", n_radii, 4, 1000)
        check_range("n_per_radius", n_per_radius, 1, 1e5)
        check_range("e_vis", e_vis, 0.1, 100.0, unit="MeV")
        check_range("smoothing_ns", smoothing_ns, 0.0, 20.0, unit="ns")
        n_time_events, n_radii, n_per_radius = int(n_time_events), int(n_radii), int(n_per_radius)
        r_ls = response.geometry.r_ls
        # -- time-residual PDF from a source at the centre
        hits = response.sample_hits(np.arange(n_time_events), np.zeros((n_time_events, 3)),
                                    np.full(n_time_events, e_vis), n_time_events, rng=rng)
        starts, pmt, q, t = lpmt_channels(hits)
        k_ls, k_w, r_out = cls._tof_constants(response)
        pos = np.ascontiguousarray(np.asarray(response.layout.position, dtype=float))
        res = _residuals(np.zeros(3), t, pmt, pos, r_out, k_ls, k_w)
        ev = np.repeat(np.arange(n_time_events), np.diff(starts))
        single = np.rint(q) <= 1
        med = np.array([np.median(res[starts[i]:starts[i + 1]]) for i in range(n_time_events)])
        res = res - med[ev]
        edges = np.arange(RESIDUAL_RANGE[0], RESIDUAL_RANGE[1] + RESIDUAL_STEP / 2, RESIDUAL_STEP)
        grid = 0.5 * (edges[1:] + edges[:-1])
        kinds = response.kind[pmt]
        pdfs = []
        for code in (PMT_NNVT, PMT_HAMAMATSU):
            sel = single & (kinds == code)
            h = np.histogram(res[sel], bins=edges)[0].astype(float) + 0.5  # +0.5: no empty bins
            if smoothing_ns > 0:
                h = gaussian_filter1d(h, smoothing_ns / RESIDUAL_STEP, mode="nearest")
            pdfs.append(h / (h.sum() * RESIDUAL_STEP))
        single_pdf = np.array(pdfs)
        cdf = np.cumsum(single_pdf.mean(axis=0)) * RESIDUAL_STEP
        t_offset = float(np.interp(0.5, cdf, grid))
        # -- radial bias of the charge-weighted centre
        r_true = np.linspace(0.0, r_ls * (1 - 1e-6), n_radii)
        n = n_radii * n_per_radius
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        x = d * np.repeat(r_true, n_per_radius)[:, None]
        hits = response.sample_hits(np.arange(n), x, np.full(n, e_vis), n, rng=rng)
        cw = charge_centre(hits, response)
        r_cw = np.einsum("ij,ij->i", cw, d).reshape(n_radii, n_per_radius).mean(axis=1)
        reco = cls(response=response, t_grid=grid, single_pdf=single_pdf, bias_r_true=r_true,
                   bias_r_cw=r_cw, t_offset=t_offset)
        n_fit = int(n_fit_per_radius)
        if n_fit == 0:
            return reco
        # fit the first n_fit events of every radius; the mean radial bias vs the fitted radius
        ev_fit = (np.arange(n_radii)[:, None] * n_per_radius + np.arange(n_fit)[None, :]).ravel()
        keep = np.isin(hits.event, ev_fit)
        sub = Hits(n_events=ev_fit.size, event=np.searchsorted(ev_fit, hits.event[keep]).astype(np.int32),
                   pmt=hits.pmt[keep], npe=hits.npe[keep], charge=hits.charge[keep], time=hits.time[keep],
                   n_pmt_lpmt=hits.n_pmt_lpmt)
        fit = reco.reconstruct(sub)
        r_fit = fit.radius.reshape(n_radii, n_fit).mean(axis=1)
        bias = r_fit - r_true
        order = np.argsort(r_fit)
        return dataclasses.replace(reco, radial_fit_r=r_fit[order], radial_fit_bias=bias[order])

    @staticmethod
    def _tof_constants(response):
        tm, g = response.timing, response.geometry
        return (tm.group_index_ls / tm.speed_of_light, tm.group_index_water / tm.speed_of_light,
                float(g.r_ls + g.acrylic_thickness))

    def correct_charge_centre(self, cw) -> np.ndarray:
        """The charge-weighted centre (n, 3) moved to the radius its calibration assigns to it.

        The calibration ``|x_cw|(r)`` is inverted where it rises; beyond its maximum (the
        total-reflection region, where the centre turns back) the guess stays at the radius
        of the maximum.
        """
        cw = np.atleast_2d(np.asarray(cw, dtype=float))
        rc = np.linalg.norm(cw, axis=1)
        mono = np.maximum.accumulate(self.bias_r_cw)
        top = int(np.argmax(mono >= mono[-1] - 1e-9))
        r_new = np.interp(rc, mono[: top + 1], self.bias_r_true[: top + 1])
        return cw * (r_new / np.where(rc > 0, rc, 1.0))[:, None]

    @cached_property
    def table_total(self) -> np.ndarray:
        """``S(r^3, cos theta) = sum_k w_k T(r, alpha_k)`` over all LPMTs (PE per MeV), on a grid
        uniform in ``(r / R)^3`` and ``cos theta`` at ``phi = 0`` (the layout's small ``phi``
        dependence neglected): the normalisation of the per-PMT expectations of the fit."""
        table = self.response.tables["lpmt"]
        r_ls = self.response.geometry.r_ls
        n_u, n_c = TOTAL_SHAPE
        r = r_ls * np.cbrt(np.linspace(0.0, 1.0, n_u))
        c = np.linspace(-1.0, 1.0, n_c)
        rr, cc = np.meshgrid(r, c, indexing="ij")
        vtx = np.stack([rr * np.sqrt(1 - cc**2), np.zeros_like(rr), rr * cc], -1).reshape(-1, 3)
        tot = np.concatenate([table.expected(vtx[i:i + 64]).sum(axis=1) for i in range(0, len(vtx), 64)])
        return tot.reshape(n_u, n_c)

    def correct_fit_radius(self, x) -> np.ndarray:
        """Fitted vertices (n, 3) with the radial bias of the fit, calibrated with the sources at
        known radii (:meth:`calibrate`, ``fit_bias=True``), subtracted."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        r = np.linalg.norm(x, axis=1)
        shift = np.interp(r, self.radial_fit_r, self.radial_fit_bias)
        r_new = np.clip(r - shift, 0.0, self.response.geometry.r_ls)
        return x * (r_new / np.where(r > 0, r, 1.0))[:, None]

    @property
    def _log_first(self):
        return np.stack([_first_hit_logpdf(p, RESIDUAL_STEP) for p in self.single_pdf]).astype(float)

    def reconstruct(self, hits: Hits, *, method: str = "likelihood", use: str = "charge+time",
                    xatol_mm: float = 2.0) -> Vertices:
        """Reconstruct the vertices of all events of ``hits``.

        ``method``: "likelihood" (the fit) or "charge_centre" (the corrected first guess only).
        ``use``: which terms of the likelihood, "charge+time", "charge" or "time".
        ``xatol_mm``: the minimiser's position tolerance. Events without LPMT hits get NaN.
        """
        check_choice("method", method, ("likelihood", "charge_centre"))
        check_choice("use", use, ("charge+time", "charge", "time"))
        check_range("xatol_mm", xatol_mm, 1e-3, 1e3, unit="mm")
        resp = self.response
        if hits.n_pmt_lpmt != resp.n_lpmt:
            raise ValueError(f"hits have n_pmt_lpmt = {hits.n_pmt_lpmt}, the response {resp.n_lpmt}")
        starts, pmt, q, t = lpmt_channels(hits)
        n_ev = hits.n_events
        raw = charge_centre(hits, resp)
        guess = self.correct_charge_centre(raw)
        empty = np.diff(starts) == 0
        guess[empty] = np.nan
        out_x = guess.copy()
        t0 = np.full(n_ev, np.nan)
        energy = np.full(n_ev, np.nan)
        calls = np.zeros(n_ev, dtype=np.int64)
        ok = np.zeros(n_ev, dtype=bool)
        if method == "charge_centre":
            return Vertices(position=out_x, t0=t0, energy=energy, first_guess=guess, charge_centre=raw,
                            n_calls=calls, success=~empty)
        table = resp.tables["lpmt"]
        pos = np.ascontiguousarray(np.asarray(resp.layout.position, dtype=float)[: resp.n_lpmt])
        direc = np.ascontiguousarray(table.direction)
        dark = resp.dark_rate[: resp.n_lpmt] * resp.pmts.readout_window
        kind = resp.kind[: resp.n_lpmt].astype(np.int64)
        k_ls, k_w, r_out = self._tof_constants(resp)
        log_first = self._log_first
        n_pe = np.maximum(np.rint(q), 1).astype(np.int64)
        consts = (kind, pos, direc, table.weight, dark, table.values, table.d_r, table.d_alpha,
                  self.table_total, resp.geometry.r_ls, r_out, k_ls, k_w, log_first,
                  float(self.t_grid[0]), RESIDUAL_STEP, use != "time", use != "charge")
        dark_sum = float(resp.dark_mean["lpmt"])
        for i in np.flatnonzero(~empty):  # one minimisation per event (compiled likelihood)
            sl = slice(starts[i], starts[i + 1])
            pm, nn, qq, tt = pmt[sl], n_pe[sl], q[sl], t[sl]
            res = _residuals(guess[i], tt, pm, pos, r_out, k_ls, k_w)
            p0 = np.array([*(guess[i] / 1000.0), np.median(res) - self.t_offset])
            args = (pm, nn, qq, tt, *consts, float(qq.sum()), dark_sum)
            simplex = p0 + np.vstack([np.zeros(4), np.diag([0.3, 0.3, 0.3, 2.0])])
            fit = minimize(_nll, p0, args=args, method="Nelder-Mead",
                           options={"initial_simplex": simplex, "xatol": xatol_mm / 1000.0,
                                    "fatol": 1e-2, "maxfev": 2000})
            x = fit.x[:3] * 1000.0
            r = np.linalg.norm(x)
            if r > resp.geometry.r_ls:
                x *= resp.geometry.r_ls / r
            out_x[i], t0[i], calls[i], ok[i] = x, fit.x[3], fit.nfev, fit.success
            if use != "time":
                energy[i] = max(qq.sum() - dark_sum, 1.0) / float(resp.total_map.expected(x)["lpmt"])
        raw_fit = out_x.copy()
        if self.radial_fit_r is not None:
            out_x = self.correct_fit_radius(out_x)
        return Vertices(position=out_x, t0=t0, energy=energy, first_guess=guess, charge_centre=raw,
                        n_calls=calls, success=ok, uncorrected=raw_fit)


def reconstruct(hits: Hits, reco: VertexReco, *, method: str = "likelihood") -> np.ndarray:
    """Reconstructed vertices (n, 3) mm of the events of ``hits`` (see :meth:`VertexReco.reconstruct`)."""
    if not isinstance(reco, VertexReco):
        raise TypeError(f"reco must be a VertexReco (VertexReco.calibrate), got {type(reco).__name__}")
    return reco.reconstruct(hits, method=method).position


def reconstruct_deposits(deposits, reco: VertexReco, *, rng: np.random.Generator,
                         method: str = "likelihood"):
    """Simulate the per-PMT hits of ``deposits`` and reconstruct them: returns ``(vertices (n, 3)
    mm, hits)``. ``deposits`` is a :class:`juno_calib.particles.events.Deposits` (or anything with
    ``event``, ``position``, ``e_vis``, ``n_events``); its light centre for comparison is
    :func:`light_centre`."""
    hits = reco.response.sample_hits(deposits.event, deposits.position, deposits.e_vis, deposits.n_events,
                                     rng=rng)
    return reco.reconstruct(hits, method=method).position, hits


def light_centre(deposits) -> np.ndarray:
    """The e_vis-weighted centre (n, 3) mm of each event's deposits (the point a point-source
    reconstruction aims at); NaN for events without visible energy."""
    ev = np.asarray(deposits.event)
    w = np.asarray(deposits.e_vis, dtype=float)
    pos = np.asarray(deposits.position, dtype=float)
    n = int(deposits.n_events)
    den = np.bincount(ev, weights=w, minlength=n)
    num = np.stack([np.bincount(ev, weights=w * pos[:, i], minlength=n) for i in range(3)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den[:, None] > 0, num / den[:, None], np.nan)
