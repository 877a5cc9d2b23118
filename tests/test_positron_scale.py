"""Posterior of the positron scale from chapter 6's calibration chain (the NL input of chapter 9):
the sub-percent bias of chapter 6, a Gaussian posterior (emcee and the HESSE approximation give
the same band), and clear errors for bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration.positron_scale import positron_scale_posterior
from juno_calib.core.rng import make_rng

FAST = dict(daq_scale=0.15, n_template=3000, b12_days=5.0, map_shape=(24, 7), n_walkers=12, n_steps=300,
            n_flashes=100000, n_vertices=10)  # chapter 6's --fast statistics


@pytest.fixture(scope="module")
def posteriors():
    # the same seed gives both methods the same data; the HESSE run skips the dual-calorimetry study
    # (its instrumental residual does not depend on the method and is tested on the emcee run)
    return {m: positron_scale_posterior(rng=make_rng(20230612), method=m, instrumental=(m == "mcmc"), **FAST)
            for m in ("mcmc", "laplace")}


def test_bias_is_sub_percent_and_band_is_positive(posteriors):
    post = posteriors["mcmc"]
    sel = (post.e_prompt >= 1.0) & (post.e_prompt <= 8.0)
    # seed 000 (Sec. 4): residual positron-scale bias ~0.2%; chapter 6 finds the same order
    assert np.abs(post.median[sel]).max() < 0.01, "positron-scale bias of chapter 6's calibration < 1%"
    assert np.all(post.half_width[sel] > 0) and post.envelope() < 0.01
    rel = post.relative_draws()
    np.testing.assert_allclose(np.median(rel, axis=0), 0.0, atol=2e-4)
    # the instrumental residual after dual calorimetry is zero at the n-H energy (its anchor)
    assert np.interp(2.223, post.instrumental_e_vis, post.instrumental_bias) == pytest.approx(0.0, abs=1e-4)
    assert np.abs(post.instrumental_bias).max() < 0.003, "seed 000: instrumental NL after dual calorimetry < 0.3%"


def test_emcee_and_hesse_give_the_same_band(posteriors):
    # chapter 6: posterior widths are 0.9-1.1 x the HESSE errors (near-Gaussian posterior); the band
    # of 400 draws has a sampling error of ~4%, the short --fast chain adds more: 25% tolerance
    m, lap = posteriors["mcmc"], posteriors["laplace"]
    sel = (m.e_prompt >= 2.0) & (m.e_prompt <= 8.0)
    np.testing.assert_allclose(m.half_width[sel], lap.half_width[sel], rtol=0.25)
    assert np.abs(m.median - lap.median)[sel].max() < m.half_width[sel].min(), "medians within the band"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="method"):
        positron_scale_posterior(rng=make_rng(1), method="fisher")
    with pytest.raises(ValueError, match="daq_scale"):
        positron_scale_posterior(rng=make_rng(1), daq_scale=0.0)
    with pytest.raises(ValueError, match="t_max"):
        positron_scale_posterior(rng=make_rng(1), t_max=20.0)
