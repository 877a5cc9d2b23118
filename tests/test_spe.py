"""Single-PE charge spectra (juno_calib.detector.spe): the samplers reproduce the spectra they are
built from (data/pmts.yaml: main-peak widths from the JUNO PMT mass testing, EPJC 82 (2022) 1168,
and NIMA 1005 (2021) 165347; the NNVT tail as stated there), the excess-noise factor adds to the
photo-statistics as (1 + sigma_q^2)/N, and a perfect SPE response gives back the PE resolution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from juno_calib.detector.response import DetectorResponse
from juno_calib.detector.spe import SPESpectrum, sample_charges, sum_charges

K = 4.0  # band half-width in standard errors
P_MIN = 1e-3


@pytest.fixture(scope="module")
def spectra(response):
    return response.spe_spectra


def test_moments_of_the_model_are_those_of_its_density(spectra):
    # the analytic mean/variance (truncated peak + Gamma tail) against the density integrated
    for s in spectra:
        def moment(j, s=s):
            return integrate.quad(lambda q: q**j * float(s.pdf(np.array([q]))[0]), 0, 60, limit=400,
                                  points=[1 / s.mean])[0]
        norm, m1, m2 = moment(0), moment(1), moment(2)
        assert norm == pytest.approx(1.0, abs=1e-6), s.name
        assert m1 == pytest.approx(1.0, abs=1e-6), f"{s.name}: charge in units of the mean SPE charge"
        assert np.sqrt(m2 - m1**2) == pytest.approx(s.relative_sigma, rel=1e-5), s.name


def test_each_sampler_reproduces_its_spectrum(spectra, rng):
    # per type: mean 1, relative width and ENF of the data-file spectrum, within K standard errors
    n = 200_000
    for k, s in enumerate(spectra):
        q = sample_charges(np.full(n, k), spectra, rng=rng).astype(float)
        sig = s.relative_sigma
        assert abs(q.mean() - 1.0) < K * sig / np.sqrt(n), f"{s.name}: mean SPE charge"
        kurt = stats.kurtosis(q, fisher=False)
        var_err = sig**2 * np.sqrt((kurt - 1) / n)
        assert abs(q.var() - sig**2) < K * var_err, f"{s.name}: (sigma_q/<q>)^2 = ENF - 1"
        assert q.min() > 0, "a PE has a positive charge"
        # the peak of the spectrum stays at the gain: position 1/mean in units of the mean charge
        hist, edges = np.histogram(q, bins=200, range=(0, 3))
        mode = 0.5 * (edges[:-1] + edges[1:])[np.argmax(hist)]
        assert mode == pytest.approx(1 / s.mean, abs=0.05), f"{s.name}: main peak at the gain"


def test_nnvt_has_the_long_tail_and_dynode_pmts_do_not(spectra):
    nnvt, ham, spmt = spectra
    assert nnvt.enf > 1.25 and nnvt.mean > 1.1, "MCP-PMT: a long high-charge tail, large ENF"
    assert ham.enf == pytest.approx(1 + ham.peak_sigma**2, rel=1e-3), "dynode: a Gaussian peak only"
    assert spmt.enf == pytest.approx(1 + spmt.peak_sigma**2, rel=1e-2)


def test_excess_noise_factor_adds_in_quadrature(spectra, rng):
    # compound Poisson: var(Q) / <Q>^2 = (1 + sigma_q^2) / mu, for either sampler
    mu, n_ev = 50.0, 20_000
    for k, s in enumerate(spectra):
        n_pe = rng.poisson(mu, n_ev)
        q_sum = sum_charges(n_pe, k, spectra, rng=rng)
        q_pe = np.bincount(np.repeat(np.arange(n_ev), n_pe),
                           weights=sample_charges(np.full(n_pe.sum(), k), spectra, rng=rng),
                           minlength=n_ev)
        for q in (q_sum, q_pe):
            rel_var = q.var() / q.mean() ** 2
            # standard error of a sample variance, sqrt((kurtosis - 1) / n), and of the mean squared
            err = np.sqrt((stats.kurtosis(q, fisher=False) - 1) / n_ev + 4 * rel_var / n_ev)
            assert rel_var == pytest.approx(s.enf / mu, rel=K * err), s.name


def test_summed_charge_has_the_distribution_of_the_per_pe_sum(spectra, rng):
    # few PE: the fast per-event sum against the explicit sum of per-PE charges (KS test)
    n_ev, n = 20_000, 3
    k = 0  # NNVT, the most skewed spectrum
    a = sum_charges(np.full(n_ev, n), k, spectra, rng=rng)
    b = sample_charges(np.full(n_ev * n, k), spectra, rng=rng).reshape(n_ev, n).sum(axis=1)
    assert stats.ks_2samp(a, b).pvalue > P_MIN


def test_perfect_spe_response_gives_the_pe_resolution(response, rng):
    # sigma_spe -> 0, no tail: every PE has charge 1, the charge total is the PE count event by event
    pmts = dataclasses.replace(response.pmts, spe_resolution_nnvt=0.0, spe_resolution_hamamatsu=0.0,
                               spmt_spe_resolution=0.0, spe_tail_fraction_nnvt=0.0)
    ideal = DetectorResponse.load("design", pmts=pmts, map_shape=(4, 2))  # a coarse map suffices here
    n = 500
    tot = ideal.sample_total(np.arange(n), np.zeros((n, 3)), np.full(n, 1.0), n, rng=rng, charge=True)
    np.testing.assert_allclose(tot.lpmt_charge, tot.lpmt, rtol=1e-12)
    np.testing.assert_allclose(tot.spmt_charge, tot.spmt, rtol=1e-12)


def test_total_charge_path_widens_by_the_pe_weighted_enf(response, rng):
    # LPMT total at the centre: var(Q) = sum_k ENF_k <N_k> over the types' signal and dark PE
    n = 40_000
    tot = response.sample_total(np.arange(n), np.zeros((n, 3)), np.full(n, 1.0), n, rng=rng, charge=True)
    enf_k = np.array([s.enf for s in response.spe_spectra])
    n_dark = response.dark_mean["lpmt"]
    n_sig = tot.lpmt.mean() - n_dark
    enf = (n_sig * response.type_fraction["lpmt"] @ enf_k
           + n_dark * response.dark_type_fraction["lpmt"] @ enf_k) / (n_sig + n_dark)
    ratio = tot.lpmt_charge.var() / tot.lpmt.mean()
    assert ratio == pytest.approx(enf, rel=K * np.sqrt(2 / n)), (ratio, enf)
    assert tot.lpmt_charge.mean() == pytest.approx(tot.lpmt.mean(), rel=1e-3), "charge scale = PE scale"


def test_bad_spectra_and_inputs_are_rejected(spectra, rng):
    with pytest.raises(ValueError, match="tail_fraction"):
        SPESpectrum(peak_sigma=0.3, tail_fraction=1.0)
    with pytest.raises(ValueError, match="peak_sigma"):
        SPESpectrum(peak_sigma=-0.1)
    with pytest.raises(ValueError, match="kinds"):
        sample_charges(np.array([0, 3]), spectra, rng=rng)
    with pytest.raises(ValueError, match="n_pe"):
        sum_charges(np.array([-1, 2]), 0, spectra, rng=rng)
    with pytest.raises(TypeError, match="spectra"):
        sample_charges(np.array([0]), spectra[0], rng=rng)


def test_per_pmt_and_total_paths_give_the_same_charge_spread(response, rng):
    # the per-PMT path (a charge per PE on its PMT) and the total path (per-event sums by type)
    # must agree on the LPMT charge of point events at the centre: same mean, same variance
    n = 1500
    args = (np.arange(n), np.zeros((n, 3)), np.full(n, 1.0), n)
    q_hits = response.sample_hits(*args, rng=rng).per_event("lpmt", "charge")
    q_tot = response.sample_total(*args, rng=rng, charge=True).lpmt_charge
    se_mean = np.sqrt(q_tot.var() / n * 2)
    assert abs(q_hits.mean() - q_tot.mean()) < K * se_mean
    f = stats.levene(q_hits, q_tot)  # equal variances (robust to the shape)
    assert f.pvalue > P_MIN, (q_hits.var(), q_tot.var())
