"""Electron light fluctuations (juno_calib.particles.quenching): the track-segment simulation
returns the deterministic light model where it has no delta rays, and its spread behaves as a sum
of independent delta rays."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.particles.quenching import electron_light_spread
from juno_calib.particles.scintillator import Scintillator
from juno_calib.particles.visible import electron_visible


@pytest.fixture(scope="module")
def scint():
    return Scintillator.load("design")


def test_no_delta_rays_gives_the_deterministic_light(scint, rng):
    # below 2 t_cut no knock-on electron above the cut exists: every track is the model's L(T)
    t = np.array([0.1, 0.3])
    out = electron_light_spread(t, scint, rng=rng, n_tracks=50, t_cut=0.2 * units.MeV)
    np.testing.assert_allclose(out["mean"], electron_visible(t, scint), rtol=1e-12)
    assert np.all(out["sigma"] < 1e-12 * out["mean"]) and np.all(out["n_delta"] == 0)


def test_spread_falls_with_energy_like_a_sum_of_delta_rays(scint, rng):
    # the number of delta rays grows ~ T (free-electron rate ~ path), so sigma/L ~ 1/sqrt(T) up to
    # the slow change of quenching with energy: between 1 and 8 MeV the ratio is 1/sqrt(8) within
    # 30% (a statement of the model, with 2000 tracks the statistical error is ~2%)
    out = electron_light_spread(np.array([1.0, 8.0]), scint, rng=rng, n_tracks=2000)
    rel = out["sigma"] / out["mean"]
    assert rel[1] / rel[0] == pytest.approx(1 / np.sqrt(8), rel=0.3)
    assert out["n_delta"][1] / out["n_delta"][0] == pytest.approx(8.0, rel=0.15), "delta rays ~ T"
    # Birks' law on the restricted loss: the mean moves by a few percent at most, the spread is
    # a fraction of the 1/sqrt(N) photo-statistics of 1,345 PE/MeV at 1 MeV
    assert abs(out["mean"][0] / out["deterministic"][0] - 1) < 0.05
    assert 0.002 < rel[0] < 1 / np.sqrt(1345.0)
