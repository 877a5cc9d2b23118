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
  A PE that the light model counts as indirect (scattered, re-emitted or reflected light of
  :mod:`juno_calib.detector.transport`, with probability ``R(r) / T(r, alpha_k)`` for PMT ``k``,
  ``R`` the indirect light averaged over the sphere) travels from the vertex to a scattering
  point (direction uniform, distance distributed as ``exp(-l / lambda_att)`` up to the LS
  surface) and from there to the PMT: one scattering stands for the indirect paths;
* ``t_TTS``: Gaussian transit-time spread of the PMT's type (NNVT MCP-PMT, Hamamatsu dynode,
  3-inch), the values and their sources in ``data/timing.yaml``.

Dark hits are uniform in the readout window ``[start, start + window]``. The per-PE work is a
compiled kernel (:func:`place_and_time`, numba), the same rejection sampler as
:meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pmts` (which stays as the pure-numpy
reference) with the time and the single-PE charge drawn in the same pass, in blocks of PE with
one random stream each (xoshiro256**, seeded from the caller's generator; reproducible and
independent of the number of threads); :func:`readout` then forms the readout:
LPMTs report the first-hit time, the number of PE and the summed charge per channel, SPMTs
every PE as its own hit (time, charge). :func:`channels` is the same readout with the charges
drawn from a numpy generator.

Not modelled (stated in chapter 4): the late-pulse and pre-pulse tails of the TTS (large for
MCP-PMTs), the PMT-to-PMT spread of transit times and its calibration, re-emission delays,
reflections, the bending of the ray at the acrylic and the electronics' time resolution.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
from scipy.special import erfc

from ..core import validate
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
    t = validate.array("t", t, unit="ns")
    validate.instance("timing", timing, Timing, hint='Timing.load("design")')
    return _emission_pdf(t, timing)


def _emission_pdf(t, timing: Timing) -> np.ndarray:
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
    t = validate.array("t", t, unit="ns")
    validate.instance("timing", timing, Timing, hint='Timing.load("design")')
    s = validate.number("tts_sigma", tts_sigma, 0.0, 100.0, unit="ns", why="a PMT's transit-time spread "
                        "is a few ns")
    tr = timing.scint_rise_time
    if s <= 0:
        return _emission_pdf(t, timing)
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
    r_ls = validate.number("r_ls", r_ls, 0.0, 1e6, unit="m", lo_open=True)
    acrylic_thickness = validate.number("acrylic_thickness", acrylic_thickness, 0.0, r_ls, unit="mm")
    vertex = validate.positions("vertex", vertex, r_max=r_ls, volume=validate.LS)
    pmt_position = validate.positions("pmt_position", pmt_position, r_max=validate.PMT_R_MAX,
                                   volume=validate.PMT_VOLUME)
    validate.instance("timing", timing, Timing, hint='Timing.load("design")')
    return _time_of_flight(vertex, pmt_position, r_ls, acrylic_thickness, timing)


def _time_of_flight(vertex, pmt_position, r_ls: float, acrylic_thickness: float, timing: Timing):
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
def _cos_bin(c, cos_edges, guide):
    """Bin ``j`` of ``c`` on edges ``cos_edges`` (decreasing, ``cos_edges[0] = 1``,
    ``cos_edges[-1] = -1``): ``cos_edges[j + 1] < c <= cos_edges[j]``, i.e. the bin of
    ``arccos(c)`` on the uniform grid of angles whose cosines are ``cos_edges``, clipped to
    ``[0, n - 1]``. No inverse trigonometry: the guide table (:func:`cos_guide`) gives the
    first candidate bin for a fine cell in ``c`` and a short walk along the edges ends it."""
    n_g = guide.size
    n_bins = cos_edges.size - 1
    m = int((1.0 - c) * (0.5 * n_g))
    if m < 0:
        m = 0
    elif m > n_g - 1:
        m = n_g - 1
    j = guide[m]
    while j < n_bins - 1 and c <= cos_edges[j + 1]:
        j += 1
    return j


def cos_guide(cos_edges, n_guide: int) -> np.ndarray:
    """Guide table of :func:`_cos_bin`: for fine cell ``m`` (``c`` in
    ``(1 - 2 (m + 1) / n_guide, 1 - 2 m / n_guide]``) the bin of its largest ``c``, a lower
    bound of the bin of every ``c`` in the cell."""
    cos_edges = validate.array("cos_edges", cos_edges, -1.0, 1.0, ndim=1, size_min=2)
    n_guide = validate.integer("n_guide", n_guide, 1, 10**7)
    c_top = 1.0 - 2.0 * np.arange(n_guide) / n_guide
    inner = np.asarray(cos_edges)[1:-1]
    return np.sum(c_top[:, None] <= inner[None, :], axis=1).astype(np.int32)


def cdf_guide(cdf, n_guide: int) -> np.ndarray:
    """Guide table (n_rows, n_guide) of the row-wise CDFs ``cdf`` (n_rows, n_bins): entry ``m``
    is the first bin ``j`` with ``cdf[j] > m / n_guide``, so an inverse-CDF search for
    ``u >= m / n_guide`` starts there (the method of guide tables, Chen & Asau 1974)."""
    cdf = validate.array("cdf", cdf, 0.0, 1.0 + 1e-9, ndim=2)
    if cdf.shape[1] < 1:
        raise ValueError(f"cdf needs at least one bin per row, got shape {cdf.shape}")
    n_guide = validate.integer("n_guide", n_guide, 1, 10**7)
    u = np.arange(n_guide) / n_guide
    out = np.empty((cdf.shape[0], n_guide), dtype=np.int32)
    for i in range(cdf.shape[0]):
        out[i] = np.searchsorted(cdf[i], u, side="right")
    return np.minimum(out, cdf.shape[1] - 1)


BLOCK = 512
"""PE per block of the compiled sampler: its rounds run over the pending PE of one block, so that
the per-PE temporaries and the table rows of the block's vertices stay in the CPU cache; every
block has its own random stream (:func:`_block_state`), so blocks run in parallel threads and
the result does not depend on the number of threads."""

_U64 = np.uint64


@numba.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@numba.njit(cache=True, inline="always")
def _uniform(st):
    """Next double in [0, 1) of the xoshiro256** stream ``st`` (4 uint64 words, advanced in place;
    Blackman & Vigna 2021), from the top 53 bits."""
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    res = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    return np.float64(res >> _U64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def _block_state(seed, block, st):
    """Seed the stream of block ``block`` from the call's ``seed`` with splitmix64 (the seeding
    recommended for xoshiro): streams of different blocks and calls are unrelated."""
    z = _U64(seed) ^ (_U64(block) * _U64(0xD1B54A32D192ED03))
    for i in range(4):
        z += _U64(0x9E3779B97F4A7C15)
        x = z
        x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
        st[i] = x ^ (x >> _U64(31))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _normal_pair(st):
    """Two independent standard normals (Marsaglia's polar method)."""
    while True:
        a = 2.0 * _uniform(st) - 1.0
        b = 2.0 * _uniform(st) - 1.0
        q = a * a + b * b
        if 0.0 < q < 1.0:
            break
    f = np.sqrt(-2.0 * np.log(q) / q)
    return a * f, b * f


@numba.njit(cache=True, error_model="numpy", parallel=True)
def place_and_time(src, vtx, frame, i_d, w_d, p_floor_d, p_up_d,
                   v, g, cdf, guide, cos_edges, alpha_guide, lookup, n_phi, theta_cos, theta_guide, rec,
                   with_time, spe_sigma, scat_row, taus, wcum, rise, r_ls, r_acr, k_ls, k_acr, k_w, lam_att,
                   seed):
    """PMT (H,), time (H,) and charge (H,) of every PE; PE ``h`` comes from vertex ``src[h]``.

    The rejection sampler of :meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pmts` with
    the proposal density ``g`` (the envelope of the table ``v``) and the acceptance
    ``factor_k T_k / G_n``. ``frame`` (D, 9) holds each vertex's axis and the two unit vectors
    completing it; ``rec`` (N, 8) each PMT's record (direction, acceptance factor, position,
    TTS sigma) in one cache line. The PE are processed in blocks of :data:`BLOCK` (in parallel
    threads, each block with its own random stream seeded from ``seed`` and the block index);
    within a block, rounds over the pending PE (independent iterations let the CPU overlap the
    memory accesses of the PMT lookup), then, if ``with_time``, every PE's time (module
    docstring) and charge (Normal(1, ``spe_sigma[k]``), redrawn while <= 0). Bins in ``alpha``
    and lookup rows in ``theta`` come from :func:`_cos_bin` (no inverse trigonometry), the
    inverse CDF from a guide table, the azimuth from Marsaglia's polar method (no
    trigonometry). Returns the PMT indices, times, charges and the number of proposals whose
    acceptance exceeded 1.
    """
    n_h = src.size
    n_bins = v.shape[1]
    n_guide = guide.shape[1]
    out_k = np.empty(n_h, np.int64)
    out_t = np.zeros(n_h)
    out_q = np.zeros(n_h, np.float32)
    two_pi = 2.0 * np.pi
    phi_scale = n_phi / two_pi
    n_blocks = (n_h + BLOCK - 1) // BLOCK
    n_clip = 0
    for blk in numba.prange(n_blocks):
        st = np.empty(4, np.uint64)
        _block_state(seed, blk, st)
        t_acc = np.empty(BLOCK)
        pend = np.empty(BLOCK, np.int64)
        prop_k = np.empty(BLOCK, np.int64)
        prop_j = np.empty(BLOCK, np.int64)
        b0 = blk * BLOCK
        b1 = min(b0 + BLOCK, n_h)
        n_pend = b1 - b0
        for i in range(n_pend):
            pend[i] = b0 + i
        while n_pend > 0:
            # pass 1: a proposal and its lookup cell for every pending PE of the block
            for i in range(n_pend):
                d = src[pend[i]]
                ii = i_d[d]
                # one uniform chooses the part of the proposal, the row and the bin: each
                # choice leaves a uniform, rescaled, for the next (conditional uniformity)
                u = _uniform(st)
                pf = p_floor_d[d]
                if u < pf:  # isotropic floor: cos(alpha) uniform
                    c = 2.0 * (u / pf) - 1.0
                    j = _cos_bin(c, cos_edges, alpha_guide)
                else:  # the rest of the envelope: row by the weight in r, bin by inverse CDF
                    u = (u - pf) / (1.0 - pf)
                    pu = p_up_d[d]
                    if u < pu:
                        row = ii + 1
                        u = u / pu
                    else:
                        row = ii
                        u = (u - pu) / (1.0 - pu)
                    m = int(u * n_guide)
                    j = guide[row, m if m < n_guide else n_guide - 1]
                    while j < n_bins - 1 and cdf[row, j] <= u:
                        j += 1
                    lo = cdf[row, j - 1] if j > 0 else 0.0
                    den = cdf[row, j] - lo
                    f = (u - lo) / den if den > 0.0 else 0.5
                    if f > 1.0:
                        f = 1.0
                    c = cos_edges[j] + f * (cos_edges[j + 1] - cos_edges[j])
                while True:  # Marsaglia: a uniform azimuth without trigonometry
                    a = 2.0 * _uniform(st) - 1.0
                    b = 2.0 * _uniform(st) - 1.0
                    q = a * a + b * b
                    if 0.0 < q <= 1.0:
                        break
                s = np.sqrt(max(1.0 - c * c, 0.0)) / q
                cp, sp = s * (a * a - b * b), s * (2.0 * a * b)
                nx = c * frame[d, 0] + cp * frame[d, 3] + sp * frame[d, 6]
                ny = c * frame[d, 1] + cp * frame[d, 4] + sp * frame[d, 7]
                nz = c * frame[d, 2] + cp * frame[d, 5] + sp * frame[d, 8]
                ic = _cos_bin(nz, theta_cos, theta_guide)
                ip = int((np.arctan2(ny, nx) + np.pi) * phi_scale)
                if ip > n_phi - 1:
                    ip = n_phi - 1
                prop_k[i] = ic * n_phi + ip
                prop_j[i] = j
            # pass 1b: the owners, in a tight gather loop (the CPU overlaps the cache misses)
            for i in range(n_pend):
                prop_k[i] = lookup[prop_k[i]]
            # pass 2: accept or keep pending
            n_next = 0
            for i in range(n_pend):
                h = pend[i]
                d = src[h]
                k = prop_k[i]
                j = prop_j[i]
                ii = i_d[d]
                ww = w_d[d]
                cos_k = rec[k, 0] * frame[d, 0] + rec[k, 1] * frame[d, 1] + rec[k, 2] * frame[d, 2]
                jk = _cos_bin(cos_k, cos_edges, alpha_guide)
                t_k = (1.0 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
                t_n = (1.0 - ww) * g[ii, j] + ww * g[ii + 1, j]
                num = rec[k, 3] * t_k
                if num > t_n:
                    n_clip += 1
                if _uniform(st) * t_n < num:
                    out_k[h] = k
                    t_acc[h - b0] = t_k
                else:
                    pend[n_next] = h
                    n_next += 1
            n_pend = n_next
        if not with_time:
            continue
        for h in range(b0, b1):
            d = src[h]
            k = out_k[h]
            ii = i_d[d]
            ww = w_d[d]
            # emission: rise exponential + one decay component (one uniform picks the
            # component and, rescaled, gives its exponential)
            uc = _uniform(st)
            comp = 0
            lo = 0.0
            while comp < taus.size - 1 and uc > wcum[comp]:
                lo = wcum[comp]
                comp += 1
            hi = wcum[comp] if comp < taus.size - 1 else 1.0
            ue = (uc - lo) / (hi - lo) if hi > lo else _uniform(st)
            te = -taus[comp] * np.log(1.0 - min(ue, 1.0 - 1e-16))
            if rise > 0.0:
                te -= rise * np.log(1.0 - _uniform(st))
            sx, sy, sz = vtx[d, 0], vtx[d, 1], vtx[d, 2]
            t0 = 0.0
            scat = (1.0 - ww) * scat_row[ii] + ww * scat_row[ii + 1]
            if scat > 0.0 and _uniform(st) * t_acc[h - b0] < scat:
                # Rayleigh-scattered PE: vertex -> scattering point -> PMT
                cz = 2.0 * _uniform(st) - 1.0
                while True:
                    a = 2.0 * _uniform(st) - 1.0
                    b = 2.0 * _uniform(st) - 1.0
                    q = a * a + b * b
                    if 0.0 < q <= 1.0:
                        break
                sz2 = np.sqrt(max(1.0 - cz * cz, 0.0)) / q
                ux, uy, uz = sz2 * (a * a - b * b), sz2 * (2.0 * a * b), cz
                r2 = sx * sx + sy * sy + sz * sz
                length = _exit(sx * ux + sy * uy + sz * uz, r2, r_ls)
                dist = -lam_att * np.log(1.0 - _uniform(st) * (1.0 - np.exp(-length / lam_att)))
                t0 = k_ls * dist
                sx, sy, sz = sx + dist * ux, sy + dist * uy, sz + dist * uz
            z_t, z_q = _normal_pair(st)
            out_t[h] = (te + t0 + path_time(sx, sy, sz, rec[k, 4], rec[k, 5], rec[k, 6],
                                            r_ls, r_acr, k_ls, k_acr, k_w)
                        + rec[k, 7] * z_t)
            qq = 1.0 + spe_sigma[k] * z_q
            while qq <= 0.0:
                qq = 1.0 + spe_sigma[k] * _normal_pair(st)[0]
            out_q[h] = qq
    return out_k, out_t, out_q, n_clip


@numba.njit(cache=True, error_model="numpy")
def deposit_of_pe(counts, first, last, cum, rng):
    """Deposit (PE,) of every PE of events with ``counts`` (E,) PE each: the deposits of event
    ``e`` are ``first[e]:last[e]``, chosen in proportion to their expected PE (the cumulative
    sums ``cum``, ``cum[0] = 0``); an event with one deposit needs no random number."""
    out = np.empty(counts.sum(), np.int64)
    h = 0
    for e in range(counts.size):
        a, b = first[e], last[e]
        n = counts[e]
        if b - a <= 1:
            for _ in range(n):
                out[h] = a
                h += 1
            continue
        lo_c, span = cum[a], cum[b] - cum[a]
        for _ in range(n):
            t = lo_c + rng.random() * span
            lo, hi = a, b - 1  # the last d in [a, b) with cum[d] <= t
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if cum[mid] <= t:
                    lo = mid
                else:
                    hi = mid - 1
            out[h] = lo
            h += 1
    return out


def spe_charges(pmts, spe_sigma, *, rng: np.random.Generator) -> np.ndarray:
    """Charge (float32) of PE on PMTs ``pmts``: Normal(1, ``spe_sigma[k]``), redrawn while <= 0."""
    spe_sigma = validate.array("spe_sigma", spe_sigma, 0.0, 2.0, ndim=1, why="the relative single-PE "
                               "charge width (~0.3 for a 20-inch PMT)")
    p = np.asarray(pmts)
    if p.ndim != 1 or (p.size and p.dtype.kind not in "iu"):
        raise TypeError(f"pmts must be a 1-d array of PMT indices (integers), got dtype {p.dtype}, "
                        f"shape {p.shape}")
    if p.size and (p.min() < 0 or p.max() >= spe_sigma.size):
        raise ValueError(f"pmts must be indices in [0, {spe_sigma.size - 1}] (one per entry of spe_sigma), "
                         f"got [{p.min()}, {p.max()}]")
    validate.generator("rng", rng)
    return _spe_charges(p, spe_sigma, rng=rng)


def _spe_charges(pmts, spe_sigma, *, rng: np.random.Generator) -> np.ndarray:
    sig = spe_sigma[pmts]
    q = 1.0 + sig * rng.standard_normal(pmts.size)
    bad = np.flatnonzero(q <= 0.0)
    while bad.size:
        q[bad] = 1.0 + sig[bad] * rng.standard_normal(bad.size)
        bad = bad[q[bad] <= 0.0]
    return q.astype(np.float32)


def channels(n_events, n_lpmt, starts, pmts, times, spe_sigma, rng):
    """:func:`readout` with every PE's charge drawn by :func:`spe_charges` (Normal(1, sigma_spe),
    redrawn while <= 0)."""
    return readout(n_events, n_lpmt, starts, pmts, times, _spe_charges(pmts, spe_sigma, rng=rng))


@numba.njit(cache=True, error_model="numpy")
def readout(n_events, n_lpmt, starts, pmts, times, charges):
    """Readout of events from their PE with given charges: LPMT channels (first-hit time, PE
    count, summed charge) and SPMT hits (one row per PE).

    ``starts`` (S, n_events + 1) and ``pmts``/``times`` (S arrays concatenated, see
    :meth:`DetectorResponse.sample_hits`): the PE of event ``e`` from source ``s`` are
    ``pmts[starts[s, e]:starts[s, e + 1]]``, ``charges`` their charges.
    Rows of one event are contiguous, events in order.
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
                qq = charges[h]
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
