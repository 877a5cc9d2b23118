"""The fitting core recovers a posterior known in closed form, gives calibrated pulls on seeded
toys, and is reproducible from one seed."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration.fitting import (
    Normal,
    Parameter,
    Uniform,
    de_moves,
    fit_max_posterior,
    log_prior,
    sample_posterior,
)
from juno_calib.core.rng import make_rng

X = np.linspace(-1.0, 1.0, 12)
SIGMA_Y = 0.3
PRIOR_MU, PRIOR_SIGMA = np.array([0.5, -0.2]), np.array([1.0, 0.5])
PARAMS = [Parameter("a", Normal(PRIOR_MU[0], PRIOR_SIGMA[0])),
          Parameter("b", Normal(PRIOR_MU[1], PRIOR_SIGMA[1]))]


def _data(truth, rng):
    return truth[0] + truth[1] * X + rng.normal(0.0, SIGMA_Y, X.size)


def _log_like(y):
    def ll(theta):
        model = theta[:, :1] + theta[:, 1:2] * X[None, :]
        return -0.5 * np.sum((y[None, :] - model) ** 2, axis=1) / SIGMA_Y**2
    return ll


def _closed_form(y):
    """Conjugate Gaussian-linear posterior: cov = (A^T A / s^2 + S0^-1)^-1."""
    a = np.column_stack([np.ones_like(X), X])
    prec0 = np.diag(1 / PRIOR_SIGMA**2)
    cov = np.linalg.inv(a.T @ a / SIGMA_Y**2 + prec0)
    mean = cov @ (a.T @ y / SIGMA_Y**2 + prec0 @ PRIOR_MU)
    return mean, cov


def test_gaussian_linear_posterior_is_recovered(rng):
    y = _data(np.array([0.8, 0.4]), rng)
    mean, cov = _closed_form(y)
    res = sample_posterior(_log_like(y), PARAMS, rng=rng, n_walkers=16, n_steps=3000)
    assert res.converged, f"3000 steps must exceed 50 tau (tau_max = {res.tau_max:.1f})"
    for i, name in enumerate(("a", "b")):
        s = res.summary(name)
        sd = np.sqrt(cov[i, i])
        # Monte Carlo error of a posterior mean is sd / sqrt(n_eff); 4 of them
        assert abs(s["mean"] - mean[i]) < 4 * sd / np.sqrt(s["n_eff"]), name
        # the std of n_eff draws scatters by ~1/sqrt(2 n_eff); 10% covers it (n_eff > 500)
        assert s["std"] == pytest.approx(sd, rel=0.10), name
        # Gaussian: the 68% interval is mean +- sd, the 95% one mean +- 2 sd
        assert s["hi68"] - s["lo68"] == pytest.approx(2 * sd, rel=0.10)
        assert s["hi95"] - s["lo95"] == pytest.approx(4 * sd, rel=0.12)
    emp = np.cov(res.samples.T)
    assert emp[0, 1] / np.sqrt(emp[0, 0] * emp[1, 1]) == pytest.approx(
        cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), abs=0.08), "posterior correlation"
    assert 0.2 < res.acceptance_mean < 0.9, "stretch move on a 2-d Gaussian accepts ~0.5-0.7"


def test_de_moves_recover_the_same_posterior(rng):
    y = _data(np.array([0.8, 0.4]), rng)
    mean, cov = _closed_form(y)
    res = sample_posterior(_log_like(y), PARAMS, rng=rng, n_walkers=16, n_steps=3000, moves=de_moves())
    s = res.summary("b")
    assert abs(s["mean"] - mean[1]) < 4 * np.sqrt(cov[1, 1]) / np.sqrt(s["n_eff"])
    assert s["std"] == pytest.approx(np.sqrt(cov[1, 1]), rel=0.10)


def test_max_posterior_matches_closed_form(rng):
    y = _data(np.array([0.8, 0.4]), rng)
    mean, cov = _closed_form(y)
    best = fit_max_posterior(_log_like(y), PARAMS, x0=[0.0, 0.0])
    assert best.valid
    np.testing.assert_allclose(best.values, mean, atol=1e-4 * np.sqrt(np.diag(cov)).max() * 100)
    np.testing.assert_allclose(best.errors, np.sqrt(np.diag(cov)), rtol=1e-3)


def test_toy_pulls_have_mean_zero_and_unit_width():
    """Truths drawn from the prior: posterior pulls (truth - mean) / sd are N(0, 1) exactly.

    60 toys: mean within 3/sqrt(60) = 0.39, width within 1 +- 3/sqrt(120) = 0.27 (3 sigma).
    """
    rng = make_rng(7)
    n_toys, pulls_mc, pulls_ml = 60, [], []
    for _ in range(n_toys):  # a loop over toy experiments, each a full fit
        truth = PRIOR_MU + PRIOR_SIGMA * rng.standard_normal(2)
        y = _data(truth, rng)
        res = sample_posterior(_log_like(y), PARAMS, rng=rng, n_walkers=12, n_steps=500)
        s = res.summary("b")
        pulls_mc.append((truth[1] - s["mean"]) / s["std"])
        best = fit_max_posterior(_log_like(y), PARAMS, x0=PRIOR_MU)
        pulls_ml.append((truth[1] - best.value("b")) / best.error("b"))
    for pulls in (np.array(pulls_mc), np.array(pulls_ml)):
        assert abs(pulls.mean()) < 3 / np.sqrt(n_toys), pulls.mean()
        assert abs(pulls.std(ddof=1) - 1) < 3 / np.sqrt(2 * n_toys), pulls.std(ddof=1)


def test_same_seed_same_chain_and_other_seed_differs():
    y = _data(np.array([0.8, 0.4]), make_rng(1))
    runs = [sample_posterior(_log_like(y), PARAMS, rng=make_rng(s), n_walkers=8, n_steps=50)
            for s in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0].chain, runs[1].chain)
    assert not np.array_equal(runs[0].chain, runs[2].chain)
    de = [sample_posterior(_log_like(y), PARAMS, rng=make_rng(3), n_walkers=8, n_steps=50, moves=de_moves())
          for _ in range(2)]
    np.testing.assert_array_equal(de[0].chain, de[1].chain)


def test_short_chain_is_flagged(rng):
    y = _data(np.array([0.8, 0.4]), rng)
    res = sample_posterior(_log_like(y), PARAMS, rng=rng, n_walkers=8, n_steps=60)
    assert not res.converged, "60 steps cannot be 50 autocorrelation times"
    assert res.burn < res.n_steps and res.thin >= 1


def test_priors_and_bad_input():
    assert np.isneginf(Uniform(0, 1).logpdf(1.5))
    assert log_prior([0.5, -0.2], PARAMS) == pytest.approx(
        -0.5 * np.log(2 * np.pi) * 2 - np.log(PRIOR_SIGMA).sum())
    with pytest.raises(ValueError, match="lo < hi"):
        Uniform(1, 0)
    with pytest.raises(ValueError, match="sigma"):
        Normal(0, -1)
    with pytest.raises(ValueError, match="n_walkers"):
        sample_posterior(_log_like(X), PARAMS, rng=make_rng(1), n_walkers=3, n_steps=100)
    res = sample_posterior(_log_like(_data(PRIOR_MU, make_rng(2))), PARAMS, rng=make_rng(2),
                           n_walkers=8, n_steps=20)
    with pytest.raises(ValueError, match="not in the fit"):
        res.summary("c")
