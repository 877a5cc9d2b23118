"""Dual calorimetry: the channel model's limits, exact compound-Poisson moments, an unbiased SPMT
occupancy correction, and a correction that removes a known non-linearity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from juno_calib.calibration import dual_calorimetry as dc
from juno_calib.core.rng import make_rng


@pytest.fixture(scope="module")
def cfg():
    return dc.DualCalorimetryConfig.load()


def test_channel_model_limits():
    nl = dc.ChannelNL(a=np.array([0.05, 0.0]), s=np.array([10.0, 10.0]))
    np.testing.assert_allclose(nl(np.ones(2)), 1.0, err_msg="gain calibration: one PE gives one")
    big = nl(np.full(2, 1e7)) / 1e7
    assert big[0] == pytest.approx((1 - 0.05) / (1 - 0.05 / 11), rel=1e-5), "asymptotic loss a"
    assert big[1] == pytest.approx(1.0), "a = 0 is linear"


def test_charge_moments_of_a_linear_channel_are_compound_poisson():
    lam, sig = np.array([0.1, 3.0, 250.0]), np.array([0.3, 0.3, 0.27])
    m, v = dc.charge_moments(lam, dc.ChannelNL(a=np.zeros(3), s=np.ones(3)), sig)
    np.testing.assert_allclose(m, lam, rtol=1e-9)
    np.testing.assert_allclose(v, lam * (1 + sig**2), rtol=1e-6, err_msg="Var = lam (1 + sigma_spe^2)")


def test_charge_moments_match_monte_carlo():
    rng = make_rng(4)
    nl = dc.ChannelNL(a=np.array([0.05, 0.05]), s=np.array([10.0, 3.0]))
    lam, sig = np.array([2.0, 40.0]), np.array([0.3, 0.3])
    m, v = dc.charge_moments(lam, nl, sig)
    n = rng.poisson(lam, (200_000, 2))
    q = nl(dc.lpmt_charge(n, sig, rng=rng))
    err = np.sqrt(v / n.shape[0])
    assert np.all(np.abs(q.mean(axis=0) - m) < 4 * err), (q.mean(axis=0), m, err)
    np.testing.assert_allclose(q.var(axis=0), v, rtol=0.02)


def _scan(cfg, a, rng):
    n_l, n_s = 3000, 4000
    mu_l = 1.0 + 0.05 * rng.standard_normal(n_l)
    mu_l /= mu_l.mean()
    mu_s = np.full(n_s, 0.02) * (1 + 0.05 * rng.standard_normal(n_s))
    nl = dc.ChannelNL.draw(n_l, dataclasses.replace(cfg, lpmt_nl_amplitude=a,
                                                    lpmt_nl_amplitude_spread=a / 5), rng=rng)
    spe = np.full(n_l, 0.3)
    scan = dc.laser_scan(mu_l, mu_s, np.full(n_l, 0.01), np.full(n_s, 1e-4), spe, nl, cfg,
                         n_flashes=10**6, rng=rng)
    return scan, nl, mu_l, mu_s, spe


def test_spmt_occupancy_correction_is_unbiased(cfg):
    scan, _, _, mu_s, _ = _scan(cfg, 0.0, make_rng(6))
    true = scan.intensity * mu_s.sum()
    pull = (scan.spmt_pe - true) / scan.spmt_pe_err
    ok = scan.occupancy < 0.97
    assert np.all(np.abs(pull[ok]) < 4), pull


def test_linear_channels_give_a_flat_ratio(cfg):
    scan, _, _, _, _ = _scan(cfg, 0.0, make_rng(7))
    corr = dc.fit_lpmt_nl(scan)
    ndf = scan.intensity.size - 1 - corr.coeffs.size
    assert corr.chi2 < ndf + 5 * np.sqrt(2 * ndf), f"the model describes a linear scan, chi2 = {corr.chi2:.1f}"
    pulls = corr.coeffs / np.sqrt(np.diag(corr.cov))
    assert np.all(np.abs(pulls) < 4), f"no NL: every p_m is compatible with 0, pulls {pulls}"


def test_poisson_moments_limits():
    m = dc.poisson_moments(np.array([1e-4, 400.0]), 2)
    np.testing.assert_allclose(m[0], 0.0, atol=1e-3), "single-PE limit: g(1) = 1"
    u = np.log1p(400.0)
    np.testing.assert_allclose(m[1], [u - np.log(2), u**2 - np.log(2) ** 2], rtol=2e-3)


def test_correction_removes_most_of_a_known_nonlinearity(cfg):
    rng = make_rng(8)
    scan, nl, mu_l, _, spe = _scan(cfg, 0.05, rng)
    corr = dc.fit_lpmt_nl(scan)
    mu_events = np.abs(1e-3 * rng.standard_normal((20, mu_l.size))) * 30  # uneven channels, PE per MeV
    energies = np.array([1.0, 4.0, 8.0])
    res = dc.ibd_residual(mu_events * 1000, energies, nl, corr, spe, np.full(mu_l.size, 0.01), rng=rng)
    raw = res["raw"] / res["raw"][0] - 1
    fixed = res["corrected"] / res["corrected"][0] - 1
    assert abs(raw[-1]) > 0.003, "the assumed channels bend by more than 0.3% over 1-8 MeV here"
    assert abs(fixed[-1]) < 0.3 * abs(raw[-1]), "dual calorimetry removes most of it"


def test_bad_input(cfg):
    with pytest.raises(ValueError, match="laser_pe_min"):
        dataclasses.replace(cfg, laser_pe_min=1e4)
    with pytest.raises(ValueError, match="n_flashes"):
        dc.laser_scan(np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3),
                      dc.ChannelNL(a=np.zeros(3), s=np.ones(3)), cfg, n_flashes=1, rng=make_rng(1))
