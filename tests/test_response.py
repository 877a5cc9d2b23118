"""Detector response: normalisation, Poisson statistics of the samplers, dark noise, agreement of
the per-PMT and total paths, and the accuracy of the total-PE map (the per-PMT tables are tested
in ``test_pmt_tables.py``).

Statistical tests use a fixed seed and k-sigma bands stated in each assert; they are never
tuned to a seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from juno_calib.core import units
from juno_calib.detector.geometry import sample_uniform_ls
from juno_calib.detector.optics import tir_radius
from juno_calib.detector.response import PMT_HAMAMATSU, PMT_SPMT, DetectorResponse, PMTs

K = 4.0  # width of the statistical bands, in standard deviations


def _point_events(n, position, e_vis):
    return np.arange(n), np.tile(np.asarray(position, float), (n, 1)), np.full(n, float(e_vis))


@pytest.mark.parametrize("config, value", [("design", 1345.0), ("as_built", 1785.0)])
def test_centre_light_yield_equals_the_configuration(config, value):
    r = DetectorResponse.load(config)
    ly = float(r.expected_total(np.zeros((1, 3)))["lpmt"][0])
    assert ly == pytest.approx(value, rel=1e-12), f"{config}: LPMT yield at the centre (CALIB21 / PERF25)"
    assert r.pmts.light_yield_center / units.unit_factor("PE/MeV") == value


def test_centre_expectation_of_each_pmt_is_its_share_of_pde_times_solid_angle(response):
    """From the centre every LPMT sees normal incidence and the same path: its share of the
    centre yield is pde_k Omega_k / sum(pde Omega)."""
    mu = response.expected_pe(np.zeros((1, 3)))[0, : response.n_lpmt]
    lay = response.layout.select(np.arange(response.n_lpmt))
    w = response.pde[: response.n_lpmt] * lay.solid_angle_from_centre()
    assert np.allclose(mu / mu.sum(), w / w.sum(), rtol=1e-9)


def test_sampled_centre_light_yield_from_nh_gamma_equivalent(response, rng):
    n, e = 20000, 2.223
    tot = response.sample_total(*_point_events(n, [0, 0, 0], e), n, rng=rng)
    ly = (tot.lpmt.mean() - response.dark_mean["lpmt"]) / e
    sigma = np.sqrt(tot.lpmt.mean() / n) / e
    assert abs(ly - 1345.0) < K * sigma, f"dark-subtracted yield {ly:.1f} vs 1345 PE/MeV (CALIB21)"


@pytest.mark.parametrize("position", [[0, 0, 0], [3e3, -4e3, 9e3], [0, 16.5e3, 0]])
def test_total_path_is_poisson_with_the_map_mean(response, rng, position):
    n, e = 20000, 1.0
    tot = response.sample_total(*_point_events(n, position, e), n, rng=rng)
    for s in ("lpmt", "spmt"):
        mu = float(response.total_map.expected(np.asarray(position, float))[s]) * e + response.dark_mean[s]
        x = getattr(tot, s)
        assert abs(x.mean() - mu) < K * np.sqrt(mu / n), f"{s}: Poisson mean"
        # variance of the sample variance of a Poisson variable: mu/n + 2 mu^2/(n-1)
        assert abs(x.var(ddof=1) - mu) < K * np.sqrt(mu / n + 2 * mu**2 / (n - 1)), f"{s}: variance = mean"


def test_dark_noise_rate_is_dcr_times_window_times_n(response, rng):
    n = 4000
    hits = response.sample_hits(np.zeros(0, int), np.zeros((0, 3)), np.zeros(0), n, rng=rng)
    p = response.pmts
    kinds = response.kind
    expect_l = (np.sum(kinds == 0) * p.dcr_nnvt + np.sum(kinds == 1) * p.dcr_hamamatsu) * p.readout_window
    expect_s = np.sum(kinds == PMT_SPMT) * p.dcr_spmt * p.readout_window
    assert expect_l == pytest.approx(211.72, rel=1e-4), "12,616 x 50 kHz + 4,996 x 15 kHz over 300 ns"
    for s, mu in (("lpmt", expect_l), ("spmt", expect_s)):
        x = hits.per_event(s)
        assert abs(x.mean() - mu) < K * np.sqrt(mu / n), f"{s} dark PE per window"
    # dark hits are shared between PMT types in proportion to their summed rates
    lp = hits.pmt < response.n_lpmt
    on_ham = np.sum(hits.npe[lp & (kinds[hits.pmt] == PMT_HAMAMATSU)])
    total = np.sum(hits.npe[lp])
    frac = np.sum(kinds == 1) * p.dcr_hamamatsu * p.readout_window / expect_l
    assert abs(on_ham / total - frac) < K * np.sqrt(frac * (1 - frac) / total)


@pytest.mark.parametrize("position", [[0, 0, 0], [0, 0, 12e3], [11e3, 0, -12.5e3]])
def test_per_pmt_sums_equal_the_total_path_in_distribution(response, rng, position):
    n, e = 1500, 1.5
    args = _point_events(n, position, e)
    tot = response.sample_total(*args, n, rng=rng)
    hits = response.sample_hits(*args, n, rng=rng)
    for s in ("lpmt", "spmt"):
        a, b = getattr(tot, s), hits.per_event(s)
        assert abs(a.mean() - b.mean()) < K * np.sqrt(a.var() / n + b.var() / n), f"{s} means"
        assert stats.ks_2samp(a, b).pvalue > 1e-4, f"{s}: same distribution (KS)"


def test_total_map_interpolation_accuracy(response, rng):
    x = sample_uniform_ls(200, rng=rng)
    direct = response.expected_total(x)
    mapped = response.total_map.expected(x)
    rel = mapped["lpmt"] / direct["lpmt"] - 1
    assert np.sqrt(np.mean(rel**2)) < 5e-3 and np.abs(rel).max() < 0.03, (
        f"LPMT total map (48 x 9): rms {np.sqrt(np.mean(rel**2)):.2e}, max {np.abs(rel).max():.2e}"
    )


def test_g_drops_past_the_total_reflection_onset(response):
    r_c = tir_radius(response.optics, response.geometry, acrylic=True)
    g = response.total_map.g
    inside = g(np.array([0.0, 0.0, r_c - 0.5 * units.m]))
    outside = g(np.array([0.0, 0.0, r_c + 0.6 * units.m]))
    assert inside > 1.0, "light yield rises towards the edge (closer PMTs, less attenuation)"
    assert outside < 0.9 * inside, "past the onset part of the light is totally reflected"
    # the indirect light (scattered, re-emitted, reflected) is the most position-independent part:
    # the direct light alone rises more steeply than the total
    direct_only = DetectorResponse.load("design", optics=dataclasses.replace(response.optics, indirect_light=0.0))
    pts = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, r_c - 0.5 * units.m]])
    tot, dirs = response.expected_total(pts)["lpmt"], direct_only.expected_total(pts)["lpmt"]
    assert dirs[1] / dirs[0] > tot[1] / tot[0] > 1.0, (dirs[1] / dirs[0], tot[1] / tot[0])


def test_spe_charges_have_the_stated_resolution(response, rng):
    n = 2000
    hits = response.sample_hits(*_point_events(n, [0, 0, 0], 0.5), n, rng=rng)
    single = (hits.npe == 1) & (hits.pmt < response.n_lpmt)
    q = hits.charge[single]
    sig = response.spe_resolution[hits.pmt[single]]
    assert abs(q.mean() - 1.0) < K * np.sqrt(np.mean(sig**2) / q.size) + 1e-3, "mean gain 1 (truncation < 0.1%)"
    assert q.var() == pytest.approx(np.mean(sig**2), rel=0.05)
    assert q.min() > 0, "charges are truncated at zero"


def test_bad_inputs_are_rejected(response, rng):
    with pytest.raises(ValueError, match="outside the LS sphere"):
        response.expected_pe(np.array([[0.0, 0.0, 18e3]]))
    with pytest.raises(ValueError, match="shape"):
        response.expected_total(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"e_vis\[0\] = -1 MeV is outside the allowed range \[0, "):
        response.sample_total([0], [[0, 0, 0]], [-1.0], 1, rng=rng)
    with pytest.raises(ValueError, match=r"event indices must lie in \[0, 1\]"):
        response.sample_total([0, 2], [[0, 0, 0]] * 2, [1.0, 1.0], 2, rng=rng)
    with pytest.raises(ValueError, match="n_events = 0 is outside"):
        response.sample_total([], np.zeros((0, 3)), [], 0, rng=rng)
    with pytest.raises(ValueError, match="pde_spmt = 1.2 is outside the allowed range"):
        dataclasses.replace(response.pmts, pde_spmt=1.2)
    with pytest.raises(ValueError, match="light_yield_center = 0 PE/MeV is outside"):
        PMTs.load("design", light_yield_center=0.0)
    with pytest.raises(ValueError, match="system = 'wpmt' is not allowed"):
        response.total_map.g(np.zeros(3), system="wpmt")
