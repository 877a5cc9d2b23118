"""12B beta spectrum: normalisation, end point, Fermi function, massless analytic limit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from juno_calib.particles.beta import B12Decay, b12_spectrum, beta_spectrum, fermi_function, sample_b12


@pytest.fixture(scope="module")
def decay():
    return B12Decay.load()


def test_normalised_and_endpoint_at_q(decay):
    q = decay.b12_q_value
    x = np.linspace(0, q + 0.5, 40001)
    f = b12_spectrum(x, decay)
    assert np.trapezoid(f, x) == pytest.approx(1.0, abs=1e-4)
    assert np.all(f[x >= q] == 0) and f[np.searchsorted(x, q - 0.05)] > 0


def test_fermi_function_enhances_beta_minus_at_low_energy(decay):
    r = decay.nuclear_radius_r0 * 12 ** (1 / 3)
    f = fermi_function(np.array([0.05, 1.0, 10.0]), 6, r)
    assert np.all(f > 1) and f[0] > f[1] > f[2] * 0.99
    # non-relativistic limit 2 pi eta / (1 - exp(-2 pi eta)) within 5% at 50 keV
    beta = np.sqrt(1 - (0.511 / 0.561) ** 2)
    eta = 6 / 137.036 / beta
    assert f[0] == pytest.approx(2 * np.pi * eta / (1 - np.exp(-2 * np.pi * eta)), rel=0.05)


def test_massless_no_coulomb_limit_mean_is_half_endpoint():
    # with F = 1 and T >> m the allowed shape is E^2 (E0 - E)^2, whose mean is E0 / 2
    e0 = 400.0
    x = np.linspace(0, e0, 200001)
    f = beta_spectrum(x, e0, 0.0, 1e-12)
    assert np.trapezoid(f * x, x) / np.trapezoid(f, x) == pytest.approx(e0 / 2, rel=2e-3)


def test_sampler_matches_pdf(decay, rng):
    t, branch = sample_b12(200_000, rng=rng, decay=decay)
    x = np.linspace(0, decay.b12_q_value, 20001)
    mean_pdf = np.trapezoid(x * b12_spectrum(x, decay), x)
    assert t.mean() == pytest.approx(mean_pdf, abs=4 * t.std() / np.sqrt(t.size))
    assert np.mean(branch == 1) == pytest.approx(decay.probabilities[1], abs=0.002)
    assert t.max() < decay.b12_q_value


def test_bad_branch_data_rejected(decay):
    with pytest.raises(ValueError, match="same length"):
        dataclasses.replace(decay, b12_branches=(1.0,))
