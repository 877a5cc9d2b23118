"""The fused per-event kernel of the per-PMT path (juno_calib.detector.timing.simulate_events,
called by DetectorResponse.sample_hits): the patch sampler against the table (chi-square per PMT
on an irregular layout, with and without refined patches), the bound of every patch, the
ziggurat normals and exponentials, and the reproducibility of sample_hits for a given generator,
whatever the number of threads or the cut of the events into calls.

The time model (residuals vs emission (x) TTS, TOF), dark hits and PE totals vs the total-PE
path are tested through sample_hits in tests/test_timing.py and tests/test_response.py.
Statistical tests use a fixed seed and bands stated in each assert; never tuned to a seed."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from juno_calib.detector import response as response_module
from juno_calib.detector import timing as tm
from juno_calib.detector.geometry import sample_uniform_ls
from juno_calib.detector.optics import Optics
from juno_calib.detector.pmt_tables import PMTTable, _grid_cell

P_MIN = 1e-3


@pytest.fixture(scope="module")
def irregular(geometry):
    """500 LPMT-like PMTs on a Fibonacci sphere squeezed towards the poles (patch areas differ),
    seven different PDEs."""
    n = 500
    i = np.arange(n) + 0.5
    c = 1 - 2 * i / n
    c = np.sign(c) * np.sqrt(np.abs(c))
    phi = np.pi * (1 + 5**0.5) * i
    s = np.sqrt(1 - c * c)
    d = np.stack([s * np.cos(phi), s * np.sin(phi), c], 1)
    weight = 0.2 + 0.2 * (np.arange(n) % 7) / 6
    return PMTTable.build(geometry.r_lpmt * d, geometry.lpmt_cathode_radius,
                          geometry.lpmt_cathode_depth / geometry.lpmt_cathode_radius, weight,
                          Optics.load("design"), geometry.r_ls, geometry.acrylic_thickness, scale=1.0,
                          lookup_shape=(256, 512))


@numba.njit(cache=True)
def _place(n_pe, x, ii, ww, centre, mass, start, rec, v, g, g_min, cos_edges, alpha_guide, refine_cost, seed):
    r = np.sqrt(x[0] ** 2 + x[1] ** 2 + x[2] ** 2)
    ax, ay, az = (x[0] / r, x[1] / r, x[2] / r) if r > 0 else (0.0, 0.0, 1.0)
    n_p = mass.size
    gmax, cum, guide = np.empty(n_p), np.empty(n_p + 1), np.empty(n_p, np.int64)
    flag, mcum, mt = np.zeros(n_p, np.uint8), np.empty(rec.shape[0]), np.empty(rec.shape[0])
    total = tm._patch_setup(ax, ay, az, ii, ww, n_pe, centre, mass, start, rec, v, g, g_min, cos_edges,
                            alpha_guide, gmax, cum, guide, flag, mcum, mt, refine_cost)
    st = np.empty(4, np.uint64)
    tm._block_state(seed, 0, st)
    out = np.empty(n_pe, np.int64)
    for h in range(n_pe):
        out[h] = tm._draw_pmt(st, ax, ay, az, ii, ww, total, cum, guide, gmax, flag, mcum, mt, start, rec, v,
                              cos_edges, alpha_guide)[0]
    # the bound of every patch that is sampled by rejection: factor_k T_k <= G_p for all its PMTs
    worst = 0.0
    for p in range(n_p):
        if flag[p]:
            continue
        for k in range(start[p], start[p + 1]):
            cos_k = (rec[k, 0] * ax + rec[k, 1] * ay + rec[k, 2] * az) * rec[k, 3]
            jk = tm._cos_bin(cos_k, cos_edges, alpha_guide)
            t_k = (1.0 - ww) * v[ii, jk] + ww * v[ii + 1, jk]
            worst = max(worst, rec[k, 4] * t_k / gmax[p])
    return out, worst, int(flag.sum())


def _sample(table, x, n_pe, refine_cost, seed=11):
    p = table._patches
    rec = table._patch_record(table.direction * 19.5e3, np.zeros(table.weight.size), np.zeros(table.weight.size))
    i, w = _grid_cell(np.linalg.norm(x), table.d_r, table.values.shape[0])
    k, worst, n_refined = _place(n_pe, np.asarray(x, float), int(i), float(w), p["centre"], p["mass"], p["start"],
                                 rec, table._bins["v"], p["g"], p["g_min"], table._bins["cos_edges"],
                                 table._envelope["alpha_guide"], refine_cost, seed)
    return rec[k, 7].astype(int), worst, n_refined


@pytest.mark.parametrize("r", [0.0, 12e3, 17.3e3])
@pytest.mark.parametrize("refine_cost", [np.inf, 0.0])
def test_patch_sampler_reproduces_the_table(irregular, r, refine_cost):
    """P(k) ~ w_k T(r, alpha_k) (the table's bin value, linear in r): chi-square per PMT, pure
    rejection (refine_cost = inf) and every patch refined where the bound is loose (0)."""
    x = np.array([0.36, 0.48, 0.8]) * r
    n_pe = 200_000
    k, worst, n_refined = _sample(irregular, x, n_pe, refine_cost)
    assert worst <= 1.0 + 1e-12, f"acceptance {worst} > 1: the patch bound G_p fails"
    if refine_cost == 0.0 and r > 0:
        assert n_refined > 0, "the test must exercise refined patches"
    # the sampled distribution is the table's at its own resolution: bin values in alpha
    t = irregular._bins["v"]
    i, w = _grid_cell(np.linalg.norm(x), irregular.d_r, irregular.values.shape[0])
    ax = x / np.linalg.norm(x) if r > 0 else np.array([0.0, 0.0, 1.0])
    j = np.minimum((np.arccos(np.clip(irregular.direction @ ax, -1, 1)) / irregular.d_alpha).astype(int),
                   t.shape[1] - 1)
    p = irregular.weight * ((1 - w) * t[i, j] + w * t[i + 1, j])
    exp = n_pe * p / p.sum()
    chi2 = float(np.sum((np.bincount(k, minlength=p.size) - exp) ** 2 / exp))
    dof = p.size - 1
    assert chi2 < dof + 4 * np.sqrt(2 * dof), f"r = {r / 1e3} m: chi2 = {chi2:.0f} for {dof} dof (4 sigma band)"


def test_patch_bound_holds_on_the_real_layouts(response, rng):
    """No PMT of the design LPMT and SPMT layouts exceeds its patch's bound, at vertices
    throughout the LS (past the total-reflection onset included)."""
    for system in ("lpmt", "spmt"):
        for x in np.concatenate([sample_uniform_ls(6, rng=rng), [[0, 0, 17.6e3], [0, 17.0e3, 0]]]):
            _, worst, _ = _sample(response.tables[system], x, 10, np.inf)
            assert worst <= 1.0 + 1e-12, f"{system} at {x}: acceptance {worst} > 1"


@numba.njit(cache=True)
def _zig(n, normal, seed):
    st = np.empty(4, np.uint64)
    tm._block_state(seed, 0, st)
    out = np.empty(n)
    for i in range(n):
        out[i] = tm._std_normal(st) if normal else tm._std_exponential(st)
    return out


def test_ziggurat_normals_and_exponentials():
    z = _zig(400_000, True, 3)
    assert stats.kstest(z, "norm").pvalue > P_MIN
    # the tail beyond the base strip (r = 3.65) and the wedges: the rate beyond 3 and 4 sigma
    for a in (3.0, 4.0):
        p = 2 * stats.norm.sf(a)
        assert abs(np.mean(np.abs(z) > a) - p) < 5 * np.sqrt(p / z.size), f"|z| > {a}"
    e = _zig(400_000, False, 4)
    assert stats.kstest(e, "expon").pvalue > P_MIN
    for a in (5.0, 8.0):  # 8 lies in the tail (r = 7.70)
        p = np.exp(-a)
        assert abs(np.mean(e > a) - p) < 5 * np.sqrt(p / e.size), f"e > {a}"


def test_sample_hits_is_reproducible_whatever_the_threads_and_the_cut(response):
    rng = np.random.default_rng(1)
    n = 40
    x = sample_uniform_ls(n, rng=rng)
    event = np.repeat(np.arange(n // 2), 2)  # two deposits per event
    args = (event, x, np.full(n, 0.3), n // 2 + 3)  # and three events without deposits
    threads = numba.get_num_threads()
    hit_threads = response_module.HIT_THREADS
    runs = []
    try:
        for th, max_pe in ((1, 2**18), (threads, 2**18), (threads, 500)):
            numba.set_num_threads(th)
            response_module.HIT_THREADS = th
            runs.append(response.sample_hits(*args, rng=np.random.default_rng(9), max_pe=max_pe))
    finally:
        numba.set_num_threads(threads)
        response_module.HIT_THREADS = hit_threads
    for other in runs[1:]:
        for key in ("event", "pmt", "npe", "charge", "time"):
            np.testing.assert_array_equal(getattr(runs[0], key), getattr(other, key))
    assert not np.array_equal(response.sample_hits(*args, rng=np.random.default_rng(10)).pmt, runs[0].pmt)
    h = runs[0]
    assert np.all(np.diff(h.event) >= 0), "events in order"
    lp = h.pmt < h.n_pmt_lpmt
    keys = h.event[lp].astype(np.int64) * h.n_pmt_lpmt + h.pmt[lp]
    assert np.unique(keys).size == keys.size, "one row per LPMT channel and event"
