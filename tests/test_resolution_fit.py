"""The Bayesian resolution fit (chapter 7): Eq. 1 limits, toy pulls and the coverage of ā."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration.fitting import fit_max_posterior
from juno_calib.calibration.resolution import resolution_curve
from juno_calib.calibration.resolution_fit import (
    ResolutionData,
    abar,
    coverage,
    default_parameters,
    fit,
    make_log_likelihood,
    model_sigma_rel,
    pull,
    toy_data,
)
from juno_calib.core.rng import make_rng

# a template shaped like chapter 7's data: eight γ lines at the centre, the n-H line over the volume
E = np.array([0.60, 0.80, 0.95, 1.40, 2.23, 2.45, 4.1, 5.6, 2.23])
W = np.array([0.025, 0.022, 0.020, 0.017, 0.015, 0.014, 0.011, 0.010, 0.015])
DW = np.array([0.005, 0.004, 0.006, 0.003, 0.002, 0.003, 0.002, 0.001, 0.002])  # w(k_B high) - w(low)
VOL = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)
TRUTH = dict(a=0.029, b=0.008, c=0.011, s_gamma=1.0, t_kb=0.6)


def _template(rel_err=0.01):
    labels = tuple(f"p{i}" for i in range(E.size))
    sig = model_sigma_rel(np.array(list(TRUTH.values())),
                          ResolutionData(labels, E, np.ones_like(E), np.ones_like(E), W, VOL, DW))
    return ResolutionData(labels, E, sig, rel_err * sig, W, VOL, DW)


def test_model_is_eq1_for_electrons_over_the_volume():
    data = ResolutionData(("x", "y", "z"), np.array([1.0, 2.0, 5.0]), np.ones(3), np.ones(3),
                          np.zeros(3), np.ones(3, bool))
    got = model_sigma_rel(np.array([0.03, 0.01, 0.012, 7.0, 0.5]), data)  # s_gamma, t irrelevant: w = 0
    assert np.allclose(got, resolution_curve(data.energy, 0.03, 0.01, 0.012), rtol=1e-12)


def test_b_does_not_enter_at_the_centre_and_the_gamma_term_adds_in_quadrature():
    data = ResolutionData(("x", "y", "z"), np.array([1.0, 2.0, 5.0]), np.ones(3), np.ones(3),
                          np.array([0.02, 0.0, 0.01]), np.zeros(3, bool), np.array([0.004, 0.0, -0.002]))
    got = model_sigma_rel(np.array([0.03, 0.5, 0.012, 1.5, 0.25]), data)
    w = data.gamma_term + 0.25 * data.gamma_slope
    expected = np.sqrt(resolution_curve(data.energy, 0.03, 0.0, 0.012) ** 2 + (1.5 * w) ** 2)
    assert np.allclose(got, expected, rtol=1e-12)


def test_abar_is_seed_000_formula():
    assert float(abar(0.027, 0.005, 0.016)) == pytest.approx(np.sqrt(0.027**2 + 0.008**2 + 0.01**2))


def test_likelihood_peaks_at_the_truth_for_exact_data():
    data = _template()
    ll = make_log_likelihood(data)
    t = np.array(list(TRUTH.values()))
    assert ll(t[None])[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(ll(t[None] * np.array([[1.02, 1, 1, 1, 1], [1, 1.2, 1, 1, 1], [1, 1, 1.2, 1, 1]])) < -1)


def test_bad_data_is_rejected_with_the_field_named():
    with pytest.raises(ValueError, match="sigma_rel_err"):
        ResolutionData(("x", "y", "z"), np.ones(3), np.ones(3), np.array([1.0, 0.0, 1.0]),
                       np.zeros(3), np.zeros(3, bool))
    with pytest.raises(ValueError, match="energy must have shape"):
        ResolutionData(("x", "y", "z"), np.ones(2), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3, bool))
    with pytest.raises(ValueError, match="a_expected"):
        default_parameters(-0.01)


def test_toy_pulls_of_the_maximum_posterior_fit():
    """300 seeded toys, 1% errors on every width: pulls of a, b, c with mean 0 and width 1.

    Bands: the mean of 300 unit pulls has a standard error of 0.058, the width 0.041; the
    bands are 4 of those (|mean| < 0.25, 0.83 < width < 1.17). The priors are flat in b, c
    and weak in a (30%), far wider than the 1% data errors, so they do not pull the fit; b
    sits well away from its bound at 0. The γ term falls with energy almost like a/sqrt(E), so
    a and the γ-term nuisances are correlated and the error of a contains their prior widths:
    each toy draws its true s_gamma and t_kb from their priors (the auxiliary measurements the
    priors stand for), otherwise the pulls of a would be too narrow.
    """
    rng = make_rng(2024)
    template = _template()
    params = default_parameters(0.03, s_gamma_rel=0.05, t_kb=0.6, t_kb_sigma=0.3)
    pulls = {k: [] for k in ("a", "b", "c")}
    for _ in range(300):
        s_true, t_true = 1.0 + 0.05 * rng.standard_normal(), 0.6 + 0.3 * rng.standard_normal()
        data = toy_data(template, TRUTH["a"], TRUTH["b"], TRUTH["c"], s_true, t_true, rng=rng)
        best = fit_max_posterior(make_log_likelihood(data), params, x0=[0.03, 0.005, 0.01, 1.0, 0.6])
        assert best.valid
        for k in pulls:
            pulls[k].append(pull(best.value(k), best.error(k), TRUTH[k]))
    for k, p in pulls.items():
        p = np.asarray(p)
        assert abs(p.mean()) < 0.25, f"{k}: pull mean {p.mean():.3f}"
        assert 0.83 < p.std(ddof=1) < 1.17, f"{k}: pull width {p.std(ddof=1):.3f}"


def test_abar_interval_covers_the_truth_at_its_nominal_rate():
    """40 seeded toys through emcee: the central 68% interval of ā covers the true ā.

    With 40 toys the covered count is binomial(40, 0.683): 27.3 +- 2.9; the band is 3 sigma,
    0.46 < coverage < 0.90. A posterior that ignores the γ term or the prior of s_gamma would
    be biased by several sigma and fail.
    """
    rng = make_rng(7)
    template = _template(rel_err=0.02)
    params = default_parameters(0.03, s_gamma_rel=0.1, t_kb=0.6, t_kb_sigma=0.3)
    true_abar = float(abar(TRUTH["a"], TRUTH["b"], TRUTH["c"]))
    intervals = []
    for _ in range(40):
        s_true, t_true = 1.0 + 0.1 * rng.standard_normal(), 0.6 + 0.3 * rng.standard_normal()
        data = toy_data(template, TRUTH["a"], TRUTH["b"], TRUTH["c"], s_true, t_true, rng=rng)
        res = fit(data, params, rng=rng, n_walkers=16, n_steps=1500)
        s = res.abar_summary()
        intervals.append((s["lo68"], s["hi68"]))
    cov = coverage(intervals, true_abar)
    assert 0.46 < cov < 0.90, f"68% interval of abar covers the truth in {cov:.2f} of 40 toys"


def test_same_seed_same_posterior():
    data = _template()
    params = default_parameters(0.03)
    r1 = fit(data, params, rng=make_rng(3), n_walkers=12, n_steps=200)
    r2 = fit(data, params, rng=make_rng(3), n_walkers=12, n_steps=200)
    assert np.array_equal(r1.mcmc.chain, r2.mcmc.chain)
