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

Dark hits are uniform in the readout window ``[start, start + window]``.

:meth:`DetectorResponse.sample_hits` runs one compiled pass over the events,
:func:`simulate_events` (numba, events in parallel, one xoshiro256** stream per event seeded
from the caller's generator: reproducible and independent of the number of threads): per event
and system the signal PE are assigned to deposits, placed on PMTs by the *patch sampler*
(:func:`_patch_setup`, :func:`_draw_pmt`: the PMTs grouped in compact patches of ~64; per vertex
one bound of the table per patch, a patch drawn from the bounded masses, a PMT in it uniformly
and accepted with ``w_k T_k / (wmax_p G_p)``, or, where the bound is loose and the patch expects
many PE, drawn from its exact per-PMT masses; exactly ``P(k) ~ w_k T(r, alpha_k)`` of the
table), timed (:func:`_pe_time`; exponentials and normals from the ziggurat,
:func:`_std_exponential`, :func:`_std_normal`), charged, joined by the dark hits (alias table
of the dark rates) and read out on the fly: LPMTs report the first-hit time, the number of PE
and the summed charge per channel, SPMTs every PE as its own hit (time, charge).

:func:`place_and_time` is the previous kernel (the rejection sampler of
:meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pmts` through the lookup grid, in blocks
of PE with one stream each), used by :meth:`PMTTable.sample_pe`; with :func:`readout` it forms
``DetectorResponse._sample_hits_blocked``, kept to measure the speed-up in ``benchmarks/``.
:func:`channels` is the readout with the charges drawn from a numpy generator.

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
def _next_u64(st):
    """Next 64-bit output of the xoshiro256** stream ``st`` (4 uint64 words, advanced in place;
    Blackman & Vigna 2021)."""
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
    return res


@numba.njit(cache=True, inline="always")
def _uniform(st):
    """Next double in [0, 1) of the xoshiro256** stream ``st``, from the top 53 bits."""
    return np.float64(_next_u64(st) >> _U64(11)) * (1.0 / 9007199254740992.0)


def _ziggurat_tables(r, f, f_inv, n_bits):
    """Tables of Marsaglia & Tsang's ziggurat (256 layers, base strip with the tail at ``r``)
    for the decreasing density ``f`` (unnormalised, ``f(0) = 1``, inverse ``f_inv``): the layer
    area ``v`` is solved so that the top layer closes at ``x = 0``; returns ``k`` (uint64: the
    inner share of each layer in units of ``2**n_bits``), ``w`` (``x_i / 2**n_bits``), ``f_i``
    and ``v``."""
    scale = 2.0**n_bits

    def layers(v):
        x = np.empty(256)
        x[255] = r
        for i in range(254, 0, -1):
            x[i] = f_inv(v / x[i + 1] + f(x[i + 1]))
        return x

    # bisection on v: the top layer must close, x_1 (1 - f(x_1)) = v (a v too large runs out
    # of the density before the top, f_inv(> 1); one too small leaves a top layer too big)
    lo, hi = 0.5 * r * f(r), 2.0 * r * f(r) + 1e-3
    for _ in range(200):
        v = 0.5 * (lo + hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = layers(v)
            top = x[1] * (1.0 - f(x[1]))
        if not np.isfinite(top) or not x[1] > 0.0:
            hi = v
        elif top > v:
            lo = v
        else:
            hi = v
    x = layers(v)
    q = v / f(r)
    k = np.zeros(256, np.uint64)
    k[0] = np.uint64(r / q * scale)
    k[2:] = (x[1:255] / x[2:] * scale).astype(np.uint64)
    w = np.empty(256)
    w[0] = q / scale
    w[1:] = x[1:] / scale
    fx = np.empty(256)
    fx[0] = 1.0
    fx[1:] = f(x[1:])
    return k, w, fx, v


ZIG_NORMAL_R = 3.6541528853610088
"""Start of the tail of the normal ziggurat (the value of numpy's generator)."""
ZIG_EXP_R = 7.69711747013104972
"""Start of the tail of the exponential ziggurat (the value of numpy's generator)."""
_ZN_K, _ZN_W, _ZN_F, _ = _ziggurat_tables(ZIG_NORMAL_R, lambda x: np.exp(-0.5 * x * x),
                                          lambda y: np.sqrt(-2.0 * np.log(y)), 52)
_ZE_K, _ZE_W, _ZE_F, _ = _ziggurat_tables(ZIG_EXP_R, lambda x: np.exp(-x), lambda y: -np.log(y), 53)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _std_normal(st):
    """A standard normal from the stream ``st``: the ziggurat of Marsaglia & Tsang (2000) as in
    numpy's generator (256 layers, 52-bit mantissa; ~99 % of the draws cost one 64-bit number,
    a table look-up and a multiplication; exact: rejection in the wedges, Marsaglia's tail)."""
    while True:
        r = _next_u64(st)
        idx = np.int64(r & _U64(0xFF))
        r >>= _U64(8)
        neg = (r & _U64(1)) != _U64(0)
        rabs = (r >> _U64(1)) & _U64(0x000FFFFFFFFFFFFF)
        x = np.float64(rabs) * _ZN_W[idx]
        if neg:
            x = -x
        if rabs < _ZN_K[idx]:
            return x
        if idx == 0:  # the tail beyond r
            while True:
                xx = -np.log1p(-_uniform(st)) / ZIG_NORMAL_R
                yy = -np.log1p(-_uniform(st))
                if yy + yy > xx * xx:
                    return -(ZIG_NORMAL_R + xx) if neg else ZIG_NORMAL_R + xx
        elif (_ZN_F[idx - 1] - _ZN_F[idx]) * _uniform(st) + _ZN_F[idx] < np.exp(-0.5 * x * x):
            return x


@numba.njit(cache=True, inline="always", error_model="numpy")
def _std_exponential(st):
    """A standard exponential (mean 1) from the stream ``st``: ziggurat as in numpy's generator
    (256 layers, 53-bit mantissa; exact: rejection in the wedges, memoryless tail)."""
    while True:
        ri = _next_u64(st) >> _U64(3)
        idx = np.int64(ri & _U64(0xFF))
        ri >>= _U64(8)
        x = np.float64(ri) * _ZE_W[idx]
        if ri < _ZE_K[idx]:
            return x
        if idx == 0:
            return ZIG_EXP_R - np.log1p(-_uniform(st))
        if (_ZE_F[idx - 1] - _ZE_F[idx]) * _uniform(st) + _ZE_F[idx] < np.exp(-x):
            return x


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


# ---- the fused per-event kernel of sample_hits ----------------------------------------------------

EVENT_CHUNK = 8
"""Events per task of :func:`simulate_events` (the scratch arrays are allocated once per task)."""
PE_BATCH = 128
"""PE per batch of :func:`_event_system`: the PMTs of a batch are drawn first, then their times."""


REFINE_COST = 0.1
"""Cost of evaluating one PMT's table value relative to a rejected proposal: a patch is drawn
from its exact per-PMT masses when the rejections it would cause are expected to cost more."""


@numba.njit(cache=True, error_model="numpy", inline="always")
def _patch_setup(ax, ay, az, ii, ww, n_pe, centre, mass, start, rec, v, g, g_min, cos_edges, alpha_guide,
                 gmax, cum, guide, flag, mcum, mt, refine_cost):
    """Proposal over the patches for one vertex (axis ``a``, table row ``ii`` and weight ``ww``)
    that will emit about ``n_pe`` PE.

    Every patch ``p`` gets its bound ``G_p`` (``gmax``) on ``T`` over its PMTs and the proposal
    mass ``mass_p G_p``. Where the bound is loose (``G_p`` over the minimum of ``T`` in the
    same reach) and the patch expects enough PE that its rejections would cost more than
    evaluating its PMTs, the patch is *refined* (``flag[p] = 1``): its mass becomes the exact
    ``sum_k w_k T_k``, with the per-PMT cumulative masses ``mcum`` and values ``T_k`` (``mt``)
    kept for :func:`_draw_pmt`. ``cum`` (``cum[0] = 0``) holds the cumulative masses and
    ``guide`` a guide table of them (entry ``m``: the first patch whose cumulative mass exceeds
    ``m / n_guide`` of the total). Returns the total mass."""
    n_p = mass.size
    acc = 0.0
    for p in range(n_p):
        c = centre[p, 0] * ax + centre[p, 1] * ay + centre[p, 2] * az
        jc = _cos_bin(c, cos_edges, alpha_guide)
        gp = (1.0 - ww) * g[ii, jc] + ww * g[ii + 1, jc]
        gmax[p] = gp
        cum[p + 1] = (1.0 - ww) * g_min[ii, jc] + ww * g_min[ii + 1, jc]  # scratch: the minimum
        acc += mass[p] * gp
    scale = n_pe / acc if acc > 0.0 else 0.0
    run = 0.0
    cum[0] = 0.0
    for p in range(n_p):
        m_p = mass[p] * gmax[p]
        a, b = start[p], start[p + 1]
        g_lo = cum[p + 1]
        flag[p] = 0
        if g_lo > 0.0 and scale * m_p * (gmax[p] / g_lo - 1.0) > refine_cost * (b - a):
            w_p = mass[p] / (b - a)
            s = 0.0
            for k in range(a, b):
                cos_k = (rec[k, 0] * ax + rec[k, 1] * ay + rec[k, 2] * az) * rec[k, 3]
                jk = _cos_bin(cos_k, cos_edges, alpha_guide)
                t_k = (1.0 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
                mt[k] = t_k
                s += w_p * rec[k, 4] * t_k
                mcum[k] = s
            m_p = s
            flag[p] = 1
        run += m_p
        cum[p + 1] = run
    n_g = guide.size
    p = 0
    for m in range(n_g):
        thr = m * run / n_g
        while p < n_p - 1 and cum[p + 1] <= thr:
            p += 1
        guide[m] = p
    return run


@numba.njit(cache=True, error_model="numpy", inline="always")
def _draw_pmt(st, ax, ay, az, ii, ww, total, cum, guide, gmax, flag, mcum, mt, start, rec, v, cos_edges,
              alpha_guide):
    """One PE's PMT (index into the patch-ordered record ``rec``) and its table value ``T_k``.

    A patch ``p`` is proposed with probability ``mass_p / total`` (guide table, then a short
    walk). In a refined patch the PMT follows from the same uniform and the patch's exact
    cumulative masses (no rejection). Otherwise a PMT ``k`` is proposed uniformly among the
    patch's members and accepted with ``factor_k T_k / G_p`` (``factor_k = w_k / wmax_p``,
    ``T_k`` the bin value of the table at the PMT's angle, linear in ``r``), at most 1 since
    ``G_p`` bounds ``T`` over the patch. Either way ``P(k) ~ w_k T_k``: exactly the distribution
    of the table."""
    n_g = guide.size
    n_p = gmax.size
    while True:
        u = _uniform(st)
        p = guide[int(u * n_g)]
        x = u * total
        while p < n_p - 1 and cum[p + 1] <= x:
            p += 1
        a = start[p]
        if flag[p]:
            x -= cum[p]  # uniform in [0, mass_p) given p
            k = a
            last = start[p + 1] - 1
            while k < last and mcum[k] <= x:
                k += 1
            return k, mt[k]
        k = a + int(_uniform(st) * (start[p + 1] - a))
        cos_k = (rec[k, 0] * ax + rec[k, 1] * ay + rec[k, 2] * az) * rec[k, 3]
        jk = _cos_bin(cos_k, cos_edges, alpha_guide)
        t_k = (1.0 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
        if _uniform(st) * gmax[p] < rec[k, 4] * t_k:
            return k, t_k


@numba.njit(cache=True, error_model="numpy", inline="always")
def _pe_time(st, sx, sy, sz, px, py, pz, tts, t_k, scat, taus, wcum, rise, r_ls, r_acr, k_ls, k_acr, k_w,
             lam_att):
    """Hit time of one PE from ``s`` on the PMT at ``p`` (the model of the module docstring):
    emission = rise exponential + one decay component (chosen with the weights ``wcum``,
    cumulative), the flight (via a Rayleigh scattering point with probability ``scat / T_k``:
    direction uniform, distance exponential with ``lam_att`` truncated at the LS surface, drawn
    as an exponential modulo the path length, which is exactly the truncated law) and the TTS
    (Gaussian, sigma ``tts``). Exponentials and normals from the ziggurat. Returns the time and a
    standard normal for the charge."""
    uc = _uniform(st)
    comp = 0
    while comp < taus.size - 1 and uc > wcum[comp]:
        comp += 1
    te = taus[comp] * _std_exponential(st)
    if rise > 0.0:
        te += rise * _std_exponential(st)
    t0 = 0.0
    if scat > 0.0 and _uniform(st) * t_k < scat:
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
        dist = np.fmod(lam_att * _std_exponential(st), length) if length > 0.0 else 0.0
        t0 = k_ls * dist
        sx, sy, sz = sx + dist * ux, sy + dist * uy, sz + dist * uz
    return (te + t0 + path_time(sx, sy, sz, px, py, pz, r_ls, r_acr, k_ls, k_acr, k_w)
            + tts * _std_normal(st)), _std_normal(st)


@numba.njit(cache=True, error_model="numpy")
def _std_gamma(st, shape):
    """A Gamma(``shape``, 1) variate from the stream ``st``: Marsaglia & Tsang (2000), exact; for
    ``shape < 1`` the boost ``G(shape + 1) U^(1/shape)``."""
    if shape < 1.0:
        return _std_gamma(st, shape + 1.0) * _uniform(st) ** (1.0 / shape)
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    while True:
        x = _std_normal(st)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(st)
        if u < 1.0 - 0.0331 * (x * x) * (x * x):
            return d * v
        if np.log(u) < 0.5 * x * x + d * (1.0 - v + np.log(v)):
            return d * v


@numba.njit(cache=True, error_model="numpy", inline="always")
def _charge(st, kind, z, spe):
    """Charge of one PE on a PMT of type ``kind`` in units of the type's mean SPE charge: the SPE
    spectrum of :mod:`juno_calib.detector.spe` (``spe`` = peak sigma, tail fraction, tail mean,
    tail shape and mean per type): with the tail fraction a Gamma tail, otherwise the main peak
    Normal(1, sigma) from the normal ``z``, redrawn while <= 0."""
    peak_sigma, tail_fraction, tail_mean, tail_shape, mean = spe
    f = tail_fraction[kind]
    if f > 0.0 and _uniform(st) < f:
        q = _std_gamma(st, tail_shape[kind]) * tail_mean[kind] / tail_shape[kind]
    else:
        q = 1.0 + peak_sigma[kind] * z
        while q <= 0.0:
            q = 1.0 + peak_sigma[kind] * _std_normal(st)
    return q / mean[kind]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _emit(lpmt, pid, t, q, e, row, slot, ev_o, pm_o, npe_o, q_o, t_o):
    """Add one PE to the readout of event ``e`` (next free row ``row``): an LPMT PE joins its
    channel (first-hit time, PE count, charge), an SPMT PE is a hit of its own. Returns the
    next free row."""
    if lpmt:
        r = slot[pid]
        if r >= 0:
            npe_o[r] += 1
            q_o[r] += q
            if t < t_o[r]:
                t_o[r] = t
            return row
        slot[pid] = row
    ev_o[row] = e
    pm_o[row] = pid
    npe_o[row] = 1
    q_o[row] = q
    t_o[row] = t
    return row + 1


@numba.njit(cache=True, error_model="numpy")
def _event_system(st, e, lpmt, n_sig, n_dark, a, b, deps, cum_d, tab, emis, geo, t_open, window, scratch, row,
                  out, refine_cost):
    """The PE of one system in event ``e`` (deposits ``a:b``): signal PE assigned to deposits,
    placed on patches/PMTs, timed and charged; dark hits; all into the readout. Returns the
    next free row."""
    v, g, g_min, cos_edges, alpha_guide, centre, mass, start, rec, scat_row, dark_prob, dark_alias = tab
    dep_pos, dep_axis, dep_row, dep_w = deps
    counts, gmax, cum, guide, flag, mcum, mt, buf_k, buf_t, slot = scratch
    ev_o, pm_o, npe_o, q_o, t_o = out
    taus, wcum, peak_sigma, tail_fraction, tail_mean, tail_shape, spe_mean = emis
    spe = (peak_sigma, tail_fraction, tail_mean, tail_shape, spe_mean)
    rise, r_ls, r_acr, k_ls, k_acr, k_w, lam_att = geo
    if n_sig > 0:
        n_dep = b - a
        if n_dep == 1:
            counts[0] = n_sig
        else:
            for i in range(n_dep):
                counts[i] = 0
            lo_c, span = cum_d[a], cum_d[b] - cum_d[a]
            for _ in range(n_sig):
                x = lo_c + _uniform(st) * span
                lo, hi = a, b - 1  # the last d in [a, b) with cum_d[d] <= x
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if cum_d[mid] <= x:
                        lo = mid
                    else:
                        hi = mid - 1
                counts[lo - a] += 1
        for i in range(n_dep):
            c = counts[i]
            if c == 0:
                continue
            d = a + i
            ax, ay, az = dep_axis[d, 0], dep_axis[d, 1], dep_axis[d, 2]
            sx, sy, sz = dep_pos[d, 0], dep_pos[d, 1], dep_pos[d, 2]
            ii = dep_row[d]
            ww = dep_w[d]
            scat = (1.0 - ww) * scat_row[ii] + ww * scat_row[ii + 1]
            total = _patch_setup(ax, ay, az, ii, ww, c, centre, mass, start, rec, v, g, g_min, cos_edges,
                                 alpha_guide, gmax, cum, guide, flag, mcum, mt, refine_cost)
            for b0 in range(0, c, PE_BATCH):
                nb = min(PE_BATCH, c - b0)
                # pass 1: the PMTs of a batch (independent draws: the CPU overlaps their cache misses)
                for j in range(nb):
                    buf_k[j], buf_t[j] = _draw_pmt(st, ax, ay, az, ii, ww, total, cum, guide, gmax, flag,
                                                   mcum, mt, start, rec, v, cos_edges, alpha_guide)
                # pass 2: times, charges, readout (the batch's records are in the cache)
                for j in range(nb):
                    k = buf_k[j]
                    t, z_q = _pe_time(st, sx, sy, sz, rec[k, 0], rec[k, 1], rec[k, 2], rec[k, 5], buf_t[j],
                                      scat, taus, wcum, rise, r_ls, r_acr, k_ls, k_acr, k_w, lam_att)
                    q = _charge(st, int(rec[k, 6]), z_q, spe)
                    row = _emit(lpmt, int(rec[k, 7]), t, q, e, row, slot, ev_o, pm_o, npe_o, q_o, t_o)
    n_k = dark_prob.size
    for _ in range(n_dark):  # dark hits: PMT by the alias table of the dark rates, time uniform
        u = _uniform(st) * n_k
        k = int(u)
        if k > n_k - 1:
            k = n_k - 1
        if u - k >= dark_prob[k]:
            k = dark_alias[k]
        t = t_open + window * _uniform(st)
        q = _charge(st, int(rec[k, 6]), _std_normal(st), spe)
        row = _emit(lpmt, int(rec[k, 7]), t, q, e, row, slot, ev_o, pm_o, npe_o, q_o, t_o)
    return row


@numba.njit(cache=True, error_model="numpy", parallel=True)
def simulate_events(seed, e_base, dep_first, dep_last, n_pe, dep_pos, dep_axis, dep_row, dep_w, cum_l, cum_s,
                    tab_l, tab_s, emis, geo, n_lpmt, t_open, window, n_guide, refine_cost):
    """Readout of events from their deposits, per-PMT path (:meth:`DetectorResponse.sample_hits`).

    Event ``e`` has the deposits ``dep_first[e]:dep_last[e]`` (positions ``dep_pos``, unit axes
    ``dep_axis``, table rows ``dep_row`` and weights ``dep_w`` in ``r``) and ``n_pe[e]`` = (LPMT
    signal, LPMT dark, SPMT signal, SPMT dark) PE. Per system, every signal PE goes to a deposit
    in proportion to its expected PE (cumulative sums ``cum_l``/``cum_s``), to a PMT by the patch
    sampler (:func:`_draw_pmt`, one proposal set-up per deposit, :func:`_patch_setup`), gets a
    time (:func:`_pe_time`) and a charge (:func:`_charge`, the SPE spectrum of the PMT's type); dark
    PE a PMT in proportion to its dark rate (alias
    table), a time uniform in ``[t_open, t_open + window]`` and a charge. ``tab_l``/``tab_s`` are
    the systems' tables (see :meth:`DetectorResponse._hit_tables`). The readout is formed on the
    fly (LPMT channels first-hit time, PE count and charge; SPMT hits), rows of an event in the
    order LPMT signal, LPMT dark, SPMT signal, SPMT dark of first appearance. Every event has its
    own random stream (xoshiro256** seeded from ``seed`` and the event index ``e_base + e``): the
    result depends neither on the number of threads nor on how the events are cut into calls.
    Returns ``(event, pmt, npe, charge, time)`` with event indices ``e_base + e``.
    """
    n_e = dep_first.size
    off = np.zeros(n_e + 1, np.int64)
    max_dep = 1
    for e in range(n_e):
        off[e + 1] = off[e] + n_pe[e, 0] + n_pe[e, 1] + n_pe[e, 2] + n_pe[e, 3]
        if dep_last[e] - dep_first[e] > max_dep:
            max_dep = dep_last[e] - dep_first[e]
    n_tot = off[n_e]
    ev_o = np.empty(n_tot, np.int32)
    pm_o = np.empty(n_tot, np.int32)
    npe_o = np.empty(n_tot, np.int32)
    q_o = np.empty(n_tot, np.float32)
    t_o = np.empty(n_tot, np.float32)
    used = np.zeros(n_e, np.int64)
    out = (ev_o, pm_o, npe_o, q_o, t_o)
    deps = (dep_pos, dep_axis, dep_row, dep_w)
    n_p = max(tab_l[6].size, tab_s[6].size)
    n_k = max(tab_l[8].shape[0], tab_s[8].shape[0])
    n_chunks = (n_e + EVENT_CHUNK - 1) // EVENT_CHUNK
    for c in numba.prange(n_chunks):
        st = np.empty(4, np.uint64)
        slot = np.full(n_lpmt, -1, np.int32)
        counts = np.empty(max_dep, np.int64)
        gmax = np.empty(n_p)
        cum = np.empty(n_p + 1)
        guide = np.empty(n_guide, np.int64)
        buf_k = np.empty(PE_BATCH, np.int64)
        buf_t = np.empty(PE_BATCH)
        flag = np.zeros(n_p, np.uint8)
        mcum = np.empty(n_k)
        mt = np.empty(n_k)
        scratch = (counts, gmax, cum, guide, flag, mcum, mt, buf_k, buf_t, slot)
        for e in range(c * EVENT_CHUNK, min((c + 1) * EVENT_CHUNK, n_e)):
            _block_state(seed, e_base + e, st)
            a, b = dep_first[e], dep_last[e]
            row = _event_system(st, e_base + e, True, n_pe[e, 0], n_pe[e, 1], a, b, deps, cum_l, tab_l, emis,
                                geo, t_open, window, scratch, off[e], out, refine_cost)
            for r in range(off[e], row):
                slot[pm_o[r]] = -1
            row = _event_system(st, e_base + e, False, n_pe[e, 2], n_pe[e, 3], a, b, deps, cum_s, tab_s, emis,
                                geo, t_open, window, scratch, row, out, refine_cost)
            used[e] = row - off[e]
    # compaction: the rows of event e move to final[e]
    final = np.zeros(n_e + 1, np.int64)
    for e in range(n_e):
        final[e + 1] = final[e] + used[e]
    n_rows = final[n_e]
    out_ev = np.empty(n_rows, np.int32)
    out_pm = np.empty(n_rows, np.int32)
    out_npe = np.empty(n_rows, np.int32)
    out_q = np.empty(n_rows, np.float32)
    out_t = np.empty(n_rows, np.float32)
    for e in numba.prange(n_e):
        for i in range(used[e]):
            out_ev[final[e] + i] = ev_o[off[e] + i]
            out_pm[final[e] + i] = pm_o[off[e] + i]
            out_npe[final[e] + i] = npe_o[off[e] + i]
            out_q[final[e] + i] = q_o[off[e] + i]
            out_t[final[e] + i] = t_o[off[e] + i]
    return out_ev, out_pm, out_npe, out_q, out_t


def _alias_table(weights) -> tuple:
    """Walker's alias table (Vose's construction) of the discrete distribution ``weights`` (N,):
    draw ``i`` uniform in [0, N) and ``f`` uniform in [0, 1); the outcome is ``i`` if
    ``f < prob[i]``, else ``alias[i]``."""
    w = validate.array("weights", weights, 0.0, ndim=1, size_min=1)
    if not w.sum() > 0:
        raise ValueError("weights must not all be 0")
    n = w.size
    scaled = w * (n / w.sum())
    prob = np.ones(n)
    alias = np.arange(n, dtype=np.int64)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = scaled[s], g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias
