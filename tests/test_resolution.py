"""Peak fits and the resolution formula of seed 000, Eq. 1: seeded toys with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration.resolution import fit_peak, fit_resolution, resolution_curve

K = 4.0  # width of the statistical bands, in standard deviations


def test_resolution_curve_limits():
    # pure photo-statistics: a / sqrt(E); constant term alone: b; noise alone: c / E
    assert resolution_curve(4.0, 0.03, 0.0, 0.0) == pytest.approx(0.015)
    assert resolution_curve(9.0, 0.0, 0.005, 0.0) == pytest.approx(0.005)
    assert resolution_curve(2.0, 0.0, 0.0, 0.01) == pytest.approx(0.005)


def test_fit_resolution_recovers_known_terms_with_pulls(rng):
    """Seeded toys of Eq. 1 (seed 000): the a and c pulls have mean ~0 and width ~1."""
    e = np.array([0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0])
    a, b, c = 0.027, 0.004, 0.011
    truth = resolution_curve(e, a, b, c)
    err = truth / np.sqrt(2 * 3999)
    pulls = []
    for _ in range(200):  # toys: a loop over pseudo-experiments, not over events
        fit = fit_resolution(e, truth + err * rng.standard_normal(e.size), err)
        pulls.append(((fit["a"] - a) / fit["a_err"], (fit["c"] - c) / fit["c_err"]))
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 4 / np.sqrt(len(pulls))), "unbiased a and c"
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.2), "errors of a and c are right"


def test_fit_peak_on_a_gaussian_with_a_tail(rng):
    x = np.concatenate([rng.normal(1000.0, 30.0, 20000), rng.uniform(300.0, 900.0, 3000)])
    peak = fit_peak(x)
    assert abs(peak["mean"] - 1000.0) < K * peak["mean_err"]
    assert abs(peak["sigma"] - 30.0) < K * peak["sigma_err"]
