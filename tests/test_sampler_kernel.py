"""Building blocks of the compiled per-PMT sampler (juno_calib.detector.timing.place_and_time):
the trigonometry-free bin search, the guide tables of the inverse CDF, the random streams
(uniform and normal, per block) and the reproducibility of the sampler for a given generator,
whatever the number of threads. The sampler's output distribution itself is tested against the
tables in tests/test_pmt_tables.py (chi2 per PMT) and tests/test_timing.py (times).

Statistical tests use a fixed seed and require p > 1e-3; never tuned to a seed."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from juno_calib.detector.timing import _block_state, _cos_bin, _normal_pair, _uniform, cdf_guide, cos_guide

P_MIN = 1e-3


@numba.njit
def _bins(c, edges, guide):
    out = np.empty(c.size, np.int64)
    for i in range(c.size):
        out[i] = _cos_bin(c[i], edges, guide)
    return out


@numba.njit
def _stream(seed, block, n, normal):
    st = np.empty(4, np.uint64)
    _block_state(seed, block, st)
    out = np.empty(n)
    for i in range(0, n - 1, 2):
        if normal:
            out[i], out[i + 1] = _normal_pair(st)
        else:
            out[i], out[i + 1] = _uniform(st), _uniform(st)
    return out


@pytest.mark.parametrize("n_bins", [360, 720, 1024])
def test_cos_bin_is_the_bin_of_the_angle_without_inverse_trigonometry(rng, n_bins):
    angle_edges = np.linspace(0.0, np.pi, n_bins + 1)
    edges = np.cos(angle_edges)
    edges[0], edges[-1] = 1.0, -1.0
    guide = cos_guide(edges, 8 * n_bins)
    # uniform in cos, uniform in angle (dense near the poles), the poles and out-of-range values
    c = np.concatenate([2 * rng.random(100_000) - 1, np.cos(np.pi * rng.random(100_000)),
                        [1.0, -1.0, 1.0 + 1e-12, -1.0 - 1e-12, 0.0]])
    got = _bins(c, edges, guide)
    want = np.minimum((np.arccos(np.clip(c, -1, 1)) / (np.pi / n_bins)).astype(np.int64), n_bins - 1)
    # the two may differ only where arccos rounds across an edge: then c is within 1e-12 of it
    diff = np.flatnonzero(got != want)
    assert np.all(np.abs(got[diff] - want[diff]) == 1)
    assert np.all(np.min(np.abs(c[diff, None] - edges[None, :]), axis=1) < 1e-12)
    # and the defining inequality holds everywhere
    cc = np.clip(c, -1, 1)
    assert np.all((cc <= edges[got]) & ((cc > edges[got + 1]) | (got == n_bins - 1)))


def test_cdf_guide_starts_every_inverse_cdf_search_at_or_below_the_answer(rng):
    mass = rng.random((5, 300)) ** 4  # uneven rows with near-empty bins
    mass[2, 100:200] = 0.0  # an empty band
    cdf = np.cumsum(mass, axis=1) / mass.sum(axis=1, keepdims=True)
    cdf[:, -1] = 1.0
    guide = cdf_guide(cdf, 300)
    u = rng.random(20_000)
    m = (u * 300).astype(int)
    for row in range(5):
        answer = np.searchsorted(cdf[row], u, side="right")
        assert np.all(guide[row, m] <= answer)


def test_block_streams_are_uniform_and_unrelated():
    u = _stream(12345, 0, 200_000, False)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    v = _stream(12345, 1, 200_000, False)  # the next block's stream
    assert abs(np.corrcoef(u, v)[0, 1]) < 5 / np.sqrt(u.size)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(u.size)
    assert not np.array_equal(_stream(12346, 0, 100, False), u[:100])


def test_normal_pairs_are_standard_normal():
    z = _stream(7, 3, 200_000, True)
    assert stats.kstest(z, "norm").pvalue > P_MIN
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / np.sqrt(z.size / 2)


def test_sampler_is_reproducible_and_independent_of_the_number_of_threads(response):
    table = response.tables["lpmt"]
    times = response._time_arrays["lpmt"]
    x = np.array([[0.0, 0.0, 0.0], [3e3, -8e3, 12e3], [0.0, 1.7e4, 0.0]])
    src = np.repeat(np.arange(3), 3000)
    threads = numba.get_num_threads()
    try:
        runs = []
        for n in sorted({1, threads}):
            numba.set_num_threads(n)
            runs.append(table.sample_pe(x, src, rng=np.random.default_rng(5), times=times, return_charges=True))
            runs.append(table.sample_pe(x, src, rng=np.random.default_rng(5), times=times, return_charges=True))
    finally:
        numba.set_num_threads(threads)
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    other_seed = table.sample_pe(x, src, rng=np.random.default_rng(6), times=times)
    assert not np.array_equal(other_seed[0], runs[0][0])
