"""Hit times of the per-PMT path: the emission profile, the time of flight against the geometry,
the time residual at the centre (emission profile convolved with the TTS of each PMT type),
dark hits in the readout window and the channel readout (LPMT first hit, SPMT every hit).

Statistical tests use a fixed seed; KS tests require p > 1e-3 (a correct model fails one in a
thousand runs) and are never tuned to a seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from juno_calib.detector.response import PMT_HAMAMATSU, PMT_NNVT, DetectorResponse, PMTs
from juno_calib.detector.timing import (
    Timing,
    _path_times,
    channels,
    emission_pdf,
    residual_pdf,
    time_of_flight,
)

P_MIN = 1e-3


@pytest.fixture(scope="module")
def timing():
    return Timing.load("design")


@pytest.fixture(scope="module")
def direct_only(optics):
    """Design response without scattered light and without dark noise (coarse tables)."""
    o = dataclasses.replace(optics, indirect_light=0.0)
    p = PMTs.load("design")
    p = dataclasses.replace(p, dcr_nnvt=0.0, dcr_hamamatsu=0.0, dcr_spmt=0.0)
    return DetectorResponse.load("design", optics=o, pmts=p, map_shape=(8, 5), table_shape=(96, 361))


def _cdf(pdf, grid):
    c = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return lambda t: np.interp(t, grid, c / c[-1])


def test_emission_profile_mean_is_the_weighted_decay_constants_plus_the_rise_time(timing, rng):
    # E[t] = sum_i w_i tau_i + tau_r for the rise exponential convolved with the decay mixture
    t = np.linspace(0.0, 8000.0, 800001)
    mean = float(np.sum(t * emission_pdf(t, timing)) * (t[1] - t[0]))
    expect = float(np.dot(timing.weights, timing.taus) + timing.scint_rise_time)
    assert mean == pytest.approx(expect, rel=1e-3), "mean emission time = sum w_i tau_i + tau_rise"
    assert emission_pdf(np.array([0.0]), timing)[0] == pytest.approx(0.0, abs=1e-12), \
        "with a rise time the profile starts at 0"


def test_time_of_flight_follows_the_geometry_and_group_velocities(response, rng, timing):
    g = response.geometry
    pmts = np.asarray(response.layout.position, float)[::97]
    # from the centre every ray is radial: R n_LS + t n_acr + (R_pmt - R - t) n_w, over c
    tof0 = time_of_flight(np.zeros((1, 3)), pmts, g.r_ls, g.acrylic_thickness, timing)[0]
    rp = np.linalg.norm(pmts, axis=1)
    expect = (g.r_ls * timing.group_index_ls + g.acrylic_thickness * timing.group_index_acrylic
              + (rp - g.r_ls - g.acrylic_thickness) * timing.group_index_water) / timing.speed_of_light
    assert np.allclose(tof0, expect, rtol=1e-12)
    # the compiled kernel's formula equals the numpy ray geometry anywhere in the LS
    x = rng.normal(size=(50, 3))
    x *= (g.r_ls * rng.random(50) ** (1 / 3) / np.linalg.norm(x, axis=1))[:, None]
    ref = time_of_flight(x, pmts, g.r_ls, g.acrylic_thickness, timing)
    ker = _path_times(x, pmts, g.r_ls, g.r_ls + g.acrylic_thickness, timing.group_index_ls / timing.speed_of_light,
                      timing.group_index_acrylic / timing.speed_of_light,
                      timing.group_index_water / timing.speed_of_light)
    assert np.allclose(ker, ref, rtol=1e-10, atol=1e-9)
    # a vertex next to a PMT sees it first: TOF grows with the distance, never faster than light in LS
    d = np.linalg.norm(x[:, None, :] - pmts[None], axis=2)
    assert np.all(ref >= d * timing.group_index_water / timing.speed_of_light - 1e-9)
    assert np.all(ref <= d * max(timing.group_index_ls, timing.group_index_acrylic) / timing.speed_of_light + 1e-9)


def test_time_residual_at_the_centre_is_the_emission_profile_convolved_with_the_tts(direct_only, rng, timing):
    r = direct_only
    n = 3000  # 0.02 MeV at the centre: ~27 PE per event, nearly all channels with a single PE
    hits = r.sample_hits(np.arange(n), np.zeros((n, 3)), np.full(n, 0.02), n, rng=rng)
    tof = r.time_of_flight(np.zeros((1, 3)))[0]
    sel = (hits.pmt < r.n_lpmt) & (hits.npe == 1)
    res = hits.time[sel] - tof[hits.pmt[sel]]
    kind = r.kind[hits.pmt[sel]]
    grid = np.linspace(-60.0, 6000.0, 600001)
    cdfs = {code: _cdf(residual_pdf(grid, timing, timing.tts(code)), grid) for code in (PMT_NNVT, PMT_HAMAMATSU)}
    for code, other in ((PMT_NNVT, PMT_HAMAMATSU), (PMT_HAMAMATSU, PMT_NNVT)):
        x = res[kind == code]
        assert x.size > 10000
        p = stats.kstest(x, cdfs[code]).pvalue
        assert p > P_MIN, f"type {code}: residual vs emission (x) TTS, KS p = {p:.2g}"
        # the two types differ: the other type's TTS is rejected
        assert stats.kstest(x, cdfs[other]).pvalue < 1e-6, "NNVT and Hamamatsu TTS must be distinguishable"


def test_dark_hits_are_uniform_in_the_readout_window(response, rng):
    n = 200
    hits = response.sample_hits(np.zeros(0, int), np.zeros((0, 3)), np.zeros(0), n, rng=rng)
    t0, w = response.timing.readout_window_start, response.pmts.readout_window
    assert hits.time.min() >= t0 and hits.time.max() <= t0 + w
    p = stats.kstest(hits.time, stats.uniform(t0, w).cdf).pvalue
    assert p > P_MIN, f"dark-hit times uniform in [{t0}, {t0 + w}] ns: KS p = {p:.2g}"


def test_readout_forms_lpmt_channels_and_keeps_every_spmt_hit(rng):
    # two events; sources LPMT-signal and SPMT-signal; LPMT 3 is hit twice in event 0
    n_lpmt = 5
    pmts = np.array([3, 1, 3, 6, 6, 2], dtype=np.int64)
    times = np.array([10.0, 5.0, 7.5, 1.0, 2.0, 4.0])
    starts = np.array([[0, 3, 3], [3, 5, 6]], dtype=np.int64)  # LPMT: ev0 = h0..2; SPMT: ev0 = h3,h4, ev1 = h5
    sigma = np.full(8, 0.3)
    ev, pm, npe, q, t = channels(2, n_lpmt, starts, pmts, times, sigma, rng)
    rows = {(int(a), int(b), int(c)): float(d) for a, b, c, d in zip(ev, pm, npe, t, strict=True)}
    assert list(ev) == [0, 0, 0, 0, 1], "rows of an event are contiguous, events in order"
    assert rows[(0, 3, 2)] == 7.5, "an LPMT channel reports its first-hit time and its PE count"
    assert rows[(0, 1, 1)] == 5.0
    assert sorted(t[pm == 6]) == [1.0, 2.0], "every SPMT PE is its own hit"
    assert np.all(q > 0)


def test_bad_timing_inputs_are_rejected(timing):
    with pytest.raises(ValueError, match="tts_nnvt"):
        dataclasses.replace(timing, tts_nnvt=-1.0)
    with pytest.raises(ValueError, match="group_index_ls"):
        dataclasses.replace(timing, group_index_ls=0.5)
