"""Hit times of the per-PMT path: scintillation emission, time of flight and transit-time spread.

Every photo-electron (PE) of :meth:`juno_calib.detector.response.DetectorResponse.sample_hits`
gets a time (ns, relative to the event time)

    t = t_emit + t_flight + t_TTS,

* ``t_emit``: the scintillation emission profile. Decay constants ``tau_i`` with weights
  ``w_i`` (``data/timing.yaml``, SIM, weights renormalised to 1) and a rise time ``tau_r``:
  ``t_emit = E_r + E_i`` with ``E_r ~ Exp(tau_r)`` and ``E_i ~ Exp(tau_i)`` (component ``i``
  drawn with probability ``w_i``), whose density is
  ``f(t) = sum_i w_i (exp(-t/tau_i) - exp(-t/tau_r)) / (tau_i - tau_r)`` (:func:`emission_pdf`);
* ``t_flight``: the light path of the model (:func:`juno_calib.detector.optics.ray_paths`, the
  straight line from the emission point to the PMT centre) travelled at the group velocity
  ``c / n_g`` of each medium, ``(n_LS L_LS + n_acr L_acr + n_w L_w) / c`` (:func:`time_of_flight`).
  A PE that the light model counts as Rayleigh-scattered (the first-order term of
  :func:`juno_calib.detector.optics.rayleigh_redetected`; probability ``R(r) / T(r, alpha_k)`` for
  PMT ``k``) travels from the vertex to a scattering point (direction uniform, distance
  distributed as ``exp(-l / lambda_att)`` up to the LS surface) and from there to the PMT;
* ``t_TTS``: Gaussian transit-time spread of the PMT's type (NNVT MCP-PMT, Hamamatsu dynode,
  3-inch), the values and their sources in ``data/timing.yaml``.

Dark hits are uniform in the readout window ``[start, start + window]``. The per-PE work is a
compiled kernel (:func:`place_and_time`, numba), the same rejection sampler as
:meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pmts` (which stays as the pure-numpy
reference) with the time drawn in the same pass; :func:`channels` then forms the readout:
LPMTs report the first-hit time, the number of PE and the summed charge per channel, SPMTs
every PE as its own hit (time, charge).

Not modelled (stated in chapter 4): the late-pulse and pre-pulse tails of the TTS (large for
MCP-PMTs), the PMT-to-PMT spread of transit times and its calibration, re-emission delays,
reflections, the bending of the ray at the acrylic and the electronics' time resolution.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
from scipy.special import erfc

from ..core.params import ParamSet, check_range
from .optics import ray_paths

N_COMPONENTS = 4


@dataclasses.dataclass(frozen=True, kw_only=True)
class Timing(ParamSet):
    """Constants of the hit-time model (``data/timing.yaml``; internal units ns, mm)."""

    _section = "timing"
    scint_tau_1: float
    scint_tau_2: float
    scint_tau_3: float
    scint_tau_4: float
    scint_weight_1: float
    scint_weight_2: float
    scint_weight_3: float
    scint_weight_4: float
    scint_rise_time: float
    speed_of_light: float
    group_index_ls: float
    group_index_acrylic: float
    group_index_water: float
    tts_nnvt: float
    tts_hamamatsu: float
    tts_spmt: float
    readout_window_start: float

    def __post_init__(self):
        for i in range(1, N_COMPONENTS + 1):
            check_range(f"scint_tau_{i}", getattr(self, f"scint_tau_{i}"), 0.0, 1e4, unit="ns", lo_open=True)
            check_range(f"scint_weight_{i}", getattr(self, f"scint_weight_{i}"), 0.0, 1.0)
        if sum(self.weights_raw) <= 0:
            raise ValueError("scint_weight_1..4 must not all be 0")
        check_range("scint_rise_time", self.scint_rise_time, 0.0, 100.0, unit="ns")
        for t in self.taus:
            if self.scint_rise_time > 0 and abs(t - self.scint_rise_time) < 1e-9:
                raise ValueError(f"scint_rise_time = {self.scint_rise_time} ns must differ from the decay "
                                 f"constants {self.taus} ns")
        check_range("speed_of_light", self.speed_of_light, 1.0, 1e3, unit="mm/ns")
        for name in ("group_index_ls", "group_index_acrylic", "group_index_water"):
            check_range(name, getattr(self, name), 1.0, 3.0)
        for name in ("tts_nnvt", "tts_hamamatsu", "tts_spmt"):
            check_range(name, getattr(self, name), 0.0, 100.0, unit="ns")
        check_range("readout_window_start", self.readout_window_start, -1e5, 0.0, unit="ns")

    @property
    def taus(self) -> tuple:
        return tuple(getattr(self, f"scint_tau_{i}") for i in range(1, N_COMPONENTS + 1))

    @property
    def weights_raw(self) -> tuple:
        return tuple(getattr(self, f"scint_weight_{i}") for i in range(1, N_COMPONENTS + 1))

    @property
    def weights(self) -> np.ndarray:
        """Component weights normalised to 1 (the SIM values sum to 1.01)."""
        w = np.asarray(self.weights_raw, dtype=float)
        return w / w.sum()

    def tts(self, kind) -> np.ndarray:
        """Gaussian TTS sigma (ns) for PMT type codes ``kind`` (0 NNVT, 1 Hamamatsu, 2 SPMT)."""
        return np.choose(np.asarray(kind), [self.tts_nnvt, self.tts_hamamatsu, self.tts_spmt]).astype(float)


def emission_pdf(t, timing: Timing) -> np.ndarray:
    """Density (1/ns) of the scintillation emission time ``t`` (ns): decay mixture with rise time.

    >>> import numpy as np
    >>> tm = Timing.load("design")
    >>> t = np.linspace(0, 5000, 500001)
    >>> round(float(np.sum(emission_pdf(t, tm)) * (t[1] - t[0])), 4)
    1.0
    """
    t = np.asarray(t, dtype=float)
    tr = timing.scint_rise_time
    out = np.zeros_like(t)
    pos = t >= 0
    for w, tau in zip(timing.weights, timing.taus, strict=True):
        if tr > 0:
            out[pos] += w * (np.exp(-t[pos] / tau) - np.exp(-t[pos] / tr)) / (tau - tr)
        else:
            out[pos] += w * np.exp(-t[pos] / tau) / tau
    return out


def _emg(t, tau, sigma):
    """Exponential (mean ``tau``) convolved with a Gaussian (sigma): exponentially modified Gaussian."""
    lam = 1.0 / tau
    arg = (sigma * sigma * lam - t) / (np.sqrt(2.0) * sigma)
    # lam/2 exp(lam (sigma^2 lam / 2 - t)) erfc(arg), written with erfcx-free guards
    expo = lam * (0.5 * sigma * sigma * lam - t)
    with np.errstate(over="ignore", invalid="ignore"):
        val = 0.5 * lam * np.exp(np.minimum(expo, 700.0)) * erfc(arg)
    return np.nan_to_num(val)


def residual_pdf(t, timing: Timing, tts_sigma: float) -> np.ndarray:
    """Density of ``t_emit + t_TTS`` (emission profile convolved with a Gaussian TTS of sigma
    ``tts_sigma``): the time residual of direct light from a known vertex at a known time.

    With rise time, each component ``(e^{-t/tau} - e^{-t/tau_r})/(tau - tau_r)`` is
    ``(tau EMG_tau - tau_r EMG_tau_r)/(tau - tau_r)`` after the convolution.
    """
    t = np.asarray(t, dtype=float)
    tr = timing.scint_rise_time
    s = float(tts_sigma)
    if s <= 0:
        return emission_pdf(t, timing)
    out = np.zeros_like(t)
    for w, tau in zip(timing.weights, timing.taus, strict=True):
        if tr > 0:
            out += w * (tau * _emg(t, tau, s) - tr * _emg(t, tr, s)) / (tau - tr)
        else:
            out += w * _emg(t, tau, s)
    return out


def time_of_flight(vertex, pmt_position, r_ls: float, acrylic_thickness: float, timing: Timing):
    """Time of flight (M, N) ns from vertices (M, 3) to PMTs (N, 3) along the model's straight
    path, at the group velocity of LS, acrylic and water."""
    g = ray_paths(vertex, pmt_position, r_ls, acrylic_thickness)
    return (timing.group_index_ls * g["l_ls"] + timing.group_index_acrylic * g["l_acrylic"]
            + timing.group_index_water * g["l_water"]) / timing.speed_of_light


# ---- compiled kernels ---------------------------------------------------------------------------

@numba.njit(cache=True, error_model="numpy")
def _exit(proj, r2, radius):
    """Distance along a ray from a point (|x|^2 = r2, x.u = proj) to the sphere ``radius``."""
    disc = proj * proj - r2 + radius * radius
    return -proj + np.sqrt(disc if disc > 0.0 else 0.0)


@numba.njit(cache=True, error_model="numpy")
def path_time(sx, sy, sz, px, py, pz, r_ls, r_acr, k_ls, k_acr, k_w):
    """Flight time from a point ``s`` in the LS to a PMT at ``p`` (straight line); ``k_*`` are
    the group slownesses n_g / c (ns/mm) of LS, acrylic and water."""
    dx, dy, dz = px - sx, py - sy, pz - sz
    dist = np.sqrt(dx * dx + dy * dy + dz * dz)
    r2 = sx * sx + sy * sy + sz * sz
    proj = (sx * dx + sy * dy + sz * dz) / dist
    t_ls = _exit(proj, r2, r_ls)
    t_acr = _exit(proj, r2, r_acr)
    return k_ls * t_ls + k_acr * (t_acr - t_ls) + k_w * (dist - t_acr)


@numba.njit(cache=True, error_model="numpy")
def _path_times(vtx, pmt_pos, r_ls, r_acr, k_ls, k_acr, k_w):
    """(M, N) flight times with the kernel's formula (checked against :func:`time_of_flight`)."""
    out = np.empty((vtx.shape[0], pmt_pos.shape[0]))
    for i in range(vtx.shape[0]):
        for j in range(pmt_pos.shape[0]):
            out[i, j] = path_time(vtx[i, 0], vtx[i, 1], vtx[i, 2], pmt_pos[j, 0], pmt_pos[j, 1],
                                  pmt_pos[j, 2], r_ls, r_acr, k_ls, k_acr, k_w)
    return out


@numba.njit(cache=True, error_model="numpy", inline="always")
def _propose(d_alpha, n_bins, p_floor, p_up, ii, flat, cos_edges, ax, ay, az, e1x, e1y, e1z,
             e2x, e2y, e2z, rng):
    """One proposal: its bin ``j`` in alpha and its direction (nx, ny, nz)."""
    if rng.random() < p_floor:
        c = 2.0 * rng.random() - 1.0
        j = int(np.arccos(c) / d_alpha)
        if j > n_bins - 1:
            j = n_bins - 1
    else:
        row = ii + (1 if rng.random() < p_up else 0)
        u = row + rng.random()
        j = np.searchsorted(flat[row * n_bins:(row + 1) * n_bins], u, side="right")
        if j > n_bins - 1:
            j = n_bins - 1
        c = cos_edges[j] + rng.random() * (cos_edges[j + 1] - cos_edges[j])
    phi = 2.0 * np.pi * rng.random()
    s = np.sqrt(max(1.0 - c * c, 0.0))
    cp, sp = s * np.cos(phi), s * np.sin(phi)
    return (j, c * ax + cp * e1x + sp * e2x, c * ay + cp * e1y + sp * e2y, c * az + cp * e1z + sp * e2z)


@numba.njit(cache=True, error_model="numpy")
def place_and_time(src, vtx, axis, e1, e2, i_d, w_d, bound_d, p_floor_d, p_up_d,
                   v, g, flat, cos_edges, factor, direction, lookup, d_alpha,
                   with_time, scat_row, pmt_pos, tts, taus, wcum, rise,
                   r_ls, r_acr, k_ls, k_acr, k_w, lam_att, rng):
    """PMT (H,) and time (H,) of every PE; PE ``h`` comes from vertex ``src[h]``.

    The rejection sampler of :meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pmts` with
    the proposal density ``g`` (the envelope of the table ``v``; ``g = v`` with ``bound_d = B(r)``
    is the numpy sampler) and the acceptance ``factor_k T_k / (G_n bound)``, in rounds over the
    pending PE like the numpy sampler (independent iterations let the CPU overlap the memory
    accesses of the PMT lookup), then, if ``with_time``, every PE's time (module docstring).
    Returns the PMT indices, the times and the number of proposals whose acceptance exceeded 1.
    """
    n_h = src.size
    n_bins = v.shape[1]
    n_t, n_p = lookup.shape
    out_k = np.empty(n_h, np.int64)
    t_acc = np.empty(n_h)
    out_t = np.zeros(n_h)
    n_clip = 0
    two_pi = 2.0 * np.pi
    pend = np.arange(n_h)
    n_pend = n_h
    prop_k = np.empty(n_h, np.int64)
    prop_j = np.empty(n_h, np.int64)
    flat_lookup = lookup.ravel()
    while n_pend > 0:
        # pass 1: a proposal and its lookup cell for every pending PE (independent iterations)
        for i in range(n_pend):
            h = pend[i]
            d = src[h]
            j, nx, ny, nz = _propose(d_alpha, n_bins, p_floor_d[d], p_up_d[d], i_d[d], flat, cos_edges,
                                     axis[d, 0], axis[d, 1], axis[d, 2], e1[d, 0], e1[d, 1], e1[d, 2],
                                     e2[d, 0], e2[d, 1], e2[d, 2], rng)
            theta = np.arccos(min(max(nz, -1.0), 1.0))
            ph = np.arctan2(ny, nx) + np.pi
            ic = min(max(int(theta * (n_t / np.pi)), 0), n_t - 1)
            ip = min(max(int(ph * (n_p / two_pi)), 0), n_p - 1)
            prop_k[i] = ic * n_p + ip
            prop_j[i] = j
        # pass 1b: the owners, in a tight gather loop (the CPU overlaps the cache misses)
        for i in range(n_pend):
            prop_k[i] = flat_lookup[prop_k[i]]
        # pass 2: accept or keep pending
        n_next = 0
        for i in range(n_pend):
            h = pend[i]
            d = src[h]
            k = prop_k[i]
            j = prop_j[i]
            ii = i_d[d]
            ww = w_d[d]
            cos_k = direction[k, 0] * axis[d, 0] + direction[k, 1] * axis[d, 1] + direction[k, 2] * axis[d, 2]
            jk = int(np.arccos(min(max(cos_k, -1.0), 1.0)) / d_alpha)
            if jk > n_bins - 1:
                jk = n_bins - 1
            t_k = (1.0 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
            t_n = (1.0 - ww) * g[ii, j] + ww * g[ii + 1, j]
            acc = factor[k] * t_k / (t_n * bound_d[d])
            if acc > 1.0:
                n_clip += 1
            if rng.random() < acc:
                out_k[h] = k
                t_acc[h] = t_k
            else:
                pend[n_next] = h
                n_next += 1
        n_pend = n_next
    if not with_time:
        return out_k, out_t, n_clip
    for h in range(n_h):
        d = src[h]
        k = out_k[h]
        ii = i_d[d]
        ww = w_d[d]
        # emission: rise exponential + one decay component
        uc = rng.random()
        comp = 0
        while comp < taus.size - 1 and uc > wcum[comp]:
            comp += 1
        te = rng.exponential(taus[comp])
        if rise > 0.0:
            te += rng.exponential(rise)
        sx, sy, sz = vtx[d, 0], vtx[d, 1], vtx[d, 2]
        t0 = 0.0
        scat = (1.0 - ww) * scat_row[ii] + ww * scat_row[ii + 1]
        if scat > 0.0 and rng.random() * t_acc[h] < scat:
            # Rayleigh-scattered PE: vertex -> scattering point -> PMT
            cz = 2.0 * rng.random() - 1.0
            ps = two_pi * rng.random()
            sz2 = np.sqrt(max(1.0 - cz * cz, 0.0))
            ux, uy, uz = sz2 * np.cos(ps), sz2 * np.sin(ps), cz
            r2 = sx * sx + sy * sy + sz * sz
            length = _exit(sx * ux + sy * uy + sz * uz, r2, r_ls)
            dist = -lam_att * np.log(1.0 - rng.random() * (1.0 - np.exp(-length / lam_att)))
            t0 = k_ls * dist
            sx, sy, sz = sx + dist * ux, sy + dist * uy, sz + dist * uz
        out_t[h] = (te + t0 + path_time(sx, sy, sz, pmt_pos[k, 0], pmt_pos[k, 1], pmt_pos[k, 2],
                                        r_ls, r_acr, k_ls, k_acr, k_w)
                    + tts[k] * rng.standard_normal())
    return out_k, out_t, n_clip


@numba.njit(cache=True, error_model="numpy")
def channels(n_events, n_lpmt, starts, pmts, times, spe_sigma, rng):
    """Readout of events from their PE: LPMT channels (first-hit time, PE count, summed charge)
    and SPMT hits (one row per PE).

    ``starts`` (S, n_events + 1) and ``pmts``/``times`` (S arrays concatenated, see
    :meth:`DetectorResponse.sample_hits`): the PE of event ``e`` from source ``s`` are
    ``pmts[starts[s, e]:starts[s, e + 1]]``. Charges: Normal(1, sigma_spe) per PE, redrawn
    while <= 0. Rows of one event are contiguous, events in order.
    """
    n_tot = pmts.size
    ev = np.empty(n_tot, np.int32)
    pm = np.empty(n_tot, np.int32)
    npe = np.empty(n_tot, np.int32)
    q = np.empty(n_tot, np.float32)
    tt = np.empty(n_tot, np.float32)
    slot = np.full(n_lpmt, -1, np.int64)
    n_rows = 0
    for e in range(n_events):
        first_row = n_rows
        for s in range(starts.shape[0]):
            for h in range(starts[s, e], starts[s, e + 1]):
                k = pmts[h]
                sig = spe_sigma[k]
                qq = 1.0 + sig * rng.standard_normal()
                while qq <= 0.0:
                    qq = 1.0 + sig * rng.standard_normal()
                if k < n_lpmt and slot[k] >= 0:
                    r = slot[k]
                    npe[r] += 1
                    q[r] += qq
                    if times[h] < tt[r]:
                        tt[r] = times[h]
                else:
                    r = n_rows
                    n_rows += 1
                    ev[r] = e
                    pm[r] = k
                    npe[r] = 1
                    q[r] = qq
                    tt[r] = times[h]
                    if k < n_lpmt:
                        slot[k] = r
        for r in range(first_row, n_rows):
            if pm[r] < n_lpmt:
                slot[pm[r]] = -1
    return ev[:n_rows], pm[:n_rows], npe[:n_rows], q[:n_rows], tt[:n_rows]
