"""The ¹²B spectrum in the resolution fit (chapter 7): the forward folding conserves the events,
reduces to the unfolded spectrum without resolution, matches a Monte Carlo smeared event by
event, and a seeded toy ensemble is fitted back with unit pulls."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration import nonlinearity as nl
from juno_calib.calibration.fitting import fit_max_posterior
from juno_calib.calibration.resolution_fit import (
    ResolutionData,
    b12_nl,
    b12_parameters,
    b12_spectrum,
    b12_toy,
    default_parameters,
    fold_b12,
    make_log_likelihood,
    model_sigma_rel,
    pull,
)
from juno_calib.core import units
from juno_calib.core.rng import make_rng
from juno_calib.detector.optics import Optics
from juno_calib.particles.beta import B12Decay, sample_b12
from juno_calib.particles.scintillator import Scintillator

KB, KC, SK, SC, RHO = 0.01452, 1.739, 0.00063, 0.187, -0.921  # data/resolution.yaml (chapter 6)
COV = [[SK * SK, RHO * SK * SC], [RHO * SK * SC, SC * SC]]
TRUTH = dict(a=0.029, b=0.008, c=0.011)


@pytest.fixture(scope="module")
def model():
    scint, optics = Scintillator.load("design"), Optics.load("design")
    return nl.ElectronNLModel.build(
        z_over_a=scint.z_over_a, mean_excitation_mev=scint.mean_excitation_energy / units.MeV,
        density_gcm3=scint.density / (units.g / units.cm**3), n_ls=optics.n_ls,
        scint_yield_per_mev=optics.scint_yield * units.MeV, config=nl.NLFitConfig.load("design"))


def _templates(model):
    """Stand-in Compton templates: n-H as two electrons (1.0 + 1.223 MeV), the 4.44 MeV γ as two."""
    w_nh = nl.grid_weights(np.array([1.0, 1.223]), np.array([0, 0]), 1, model.t)
    w_g = nl.grid_weights(np.array([2.0, 2.44]), np.array([0, 0]), 1, model.t)
    return w_nh, w_g


def _spec(model, edges):
    w_nh, w_g = _templates(model)
    return b12_spectrum(edges, np.zeros(len(edges) - 1), model=model, w_nh=w_nh, w_gamma=w_g, e_nh=2.223,
                        nl_mean=[KB, KC], nl_cov=COV, decay=B12Decay.load())


def _theta(a, b, c, z=(0.0, 0.0), scale=0.0, slope=0.0):
    return np.array([a, b, c, 1.0, 0.0, z[0], z[1], scale, slope])


def _mc_visible(model, n, rng, z=(0.0, 0.0), scale=0.0):
    """Visible energies of sampled ¹²B decays through the same calibration light model."""
    t, branch = sample_b12(n, rng=rng, decay=B12Decay.load())
    spec = _spec(model, np.arange(4.0, 14.0001, 0.2))
    kb, kc = b12_nl(spec, np.array(z, dtype=float))
    light = model.light(kb, kc)[0]
    w_nh, w_g = _templates(model)
    unit = 2.223 * (1 + scale) / (light @ w_nh)
    return unit * np.interp(t, model.t, light) + np.where(branch == 1, unit * (light @ w_g), 0.0)


def test_folded_spectrum_holds_every_decay(model):
    """Over bins that hold the whole smeared spectrum (-2 to 20 MeV: the dark-subtracted energy can
    be < 0), the folded counts sum to n_events for any resolution, NL, scale and shape factor: the
    smearing moves events, it neither makes nor loses any."""
    spec = _spec(model, np.arange(-2.0, 20.0001, 0.2))
    for th in (_theta(0.0, 0.0, 0.0), _theta(0.03, 0.01, 0.012), _theta(0.05, 0.03, 0.03, (1.5, -2.0), 0.02, 0.01)):
        assert fold_b12(spec, th, n_events=12345.0).sum() == pytest.approx(12345.0, rel=1e-6)


def test_no_resolution_gives_the_unfolded_spectrum(model):
    """a = b = c = 0: the folded bins are the histogram of the visible energies of sampled decays
    (2e6, the same light model), within Poisson errors: chi2 below the 99.9% quantile of chi2(50)."""
    n = 2_000_000
    e = _mc_visible(model, n, make_rng(11), z=(0.7, -0.4), scale=0.004)
    spec = _spec(model, np.arange(4.0, 14.0001, 0.2))
    mu = fold_b12(spec, _theta(0.0, 0.0, 0.0, (0.7, -0.4), 0.004), n_events=n)
    h = np.histogram(e, spec.edges)[0]
    chi2 = float(np.sum((h - mu) ** 2 / np.maximum(mu, 1.0)))
    assert chi2 < 86.7, f"chi2 = {chi2:.1f} for 50 bins"
    above = spec.edges[:-1] > e.max() + 0.05
    assert above.any() and mu[above].sum() < 1e-9 * n, "nothing above the visible end point without resolution"


def test_folding_matches_event_by_event_smearing(model):
    """Each sampled decay smeared by a Gaussian of Eq. 1's width at its own energy: the histogram
    agrees with the folded prediction (chi2(50) below its 99.9% quantile) and differs clearly from
    the prediction with b doubled, so the test sees the width."""
    n = 2_000_000
    rng = make_rng(12)
    e = _mc_visible(model, n, rng)
    a, b, c = TRUTH.values()
    sig = np.sqrt(a * a * e + (b * e) ** 2 + c * c)
    spec = _spec(model, np.arange(4.0, 14.0001, 0.2))
    h = np.histogram(e + sig * rng.standard_normal(n), spec.edges)[0]
    mu = fold_b12(spec, _theta(a, b, c), n_events=n)
    chi2 = float(np.sum((h - mu) ** 2 / np.maximum(mu, 1.0)))
    assert chi2 < 86.7, f"chi2 = {chi2:.1f} for 50 bins"
    mu2 = fold_b12(spec, _theta(a, 2 * b, c), n_events=n)
    assert float(np.sum((h - mu2) ** 2 / np.maximum(mu2, 1.0))) > chi2 + 100


def test_toy_pulls_of_the_forward_folded_fit(model):
    """40 seeded toys: γ lines at the centre (a and c, no b) plus a ¹²B spectrum of 3 million decays
    over the volume (the only source of b), fitted back (iminuit optimum of the joint posterior).
    Each toy draws its true NL (z), scale and shape slope from their priors (the auxiliary
    measurements they stand for). Bands: the mean of 40 unit pulls has a standard error of 0.16,
    the width 0.11; the bands are 3.5 of those (|mean| < 0.55, 0.6 < width < 1.4)."""
    rng = make_rng(2025)
    e = np.array([0.60, 0.80, 0.95, 1.40, 2.23, 2.45, 4.1])
    labels = tuple(f"p{i}" for i in range(e.size))
    zero = np.zeros(e.size)
    base = ResolutionData(labels, e, np.ones_like(e), np.ones_like(e), zero, np.zeros(e.size, bool))
    sig = model_sigma_rel(np.array([TRUTH["a"], 0.0, TRUTH["c"], 1.0, 0.0]), base)
    template = ResolutionData(labels, e, sig, 0.01 * sig, zero, np.zeros(e.size, bool))
    spec = _spec(model, np.arange(4.0, 14.0001, 0.2))
    params = default_parameters(0.03) + b12_parameters(scale_sigma=0.01, slope_sigma=0.005)
    pulls = {k: [] for k in TRUTH}
    for _ in range(40):
        truth = _theta(*TRUTH.values(), rng.standard_normal(2), 0.01 * rng.standard_normal(),
                       0.005 * rng.standard_normal())
        toy = b12_toy(spec, truth, n_events=3_000_000, rng=rng)
        data = ResolutionData(labels, e, np.abs(sig + template.sigma_rel_err * rng.standard_normal(e.size)),
                              template.sigma_rel_err, zero, np.zeros(e.size, bool))
        best = fit_max_posterior(make_log_likelihood(data, toy), params,
                                 x0=[0.03, 0.005, 0.01, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        assert best.valid
        for k in pulls:
            pulls[k].append(pull(best.value(k), best.error(k), TRUTH[k]))
    for k, p in pulls.items():
        p = np.asarray(p)
        assert abs(p.mean()) < 0.55, f"{k}: pull mean {p.mean():.3f}"
        assert 0.6 < p.std(ddof=1) < 1.4, f"{k}: pull width {p.std(ddof=1):.3f}"


def test_bad_input_is_named(model):
    w_nh, w_g = _templates(model)
    with pytest.raises(ValueError, match="edges"):
        b12_spectrum([4.0, 4.2, 4.5], [1, 2], model=model, w_nh=w_nh, w_gamma=w_g, e_nh=2.223,
                     nl_mean=[KB, KC], nl_cov=COV)
    with pytest.raises(ValueError, match="nl_cov"):
        b12_spectrum([4.0, 4.2, 4.4], [1, 2], model=model, w_nh=w_nh, w_gamma=w_g, e_nh=2.223,
                     nl_mean=[KB, KC], nl_cov=[[1.0, 2.0], [2.0, 1.0]])
    spec = _spec(model, np.arange(4.0, 14.0001, 0.2))
    with pytest.raises(ValueError, match="theta"):
        fold_b12(spec, np.zeros(5), n_events=10)
    with pytest.raises(ValueError, match="theta"):
        fold_b12(spec, _theta(-0.01, 0.0, 0.0), n_events=10)
