"""Spallation captures recorded by a true detector: energy bookkeeping, Poisson statistics and
the vertex smearing, on a detector whose light is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from juno_calib.calibration.volume_events import spallation_captures
from juno_calib.core import units
from juno_calib.core.rng import make_rng
from juno_calib.particles.events import Deposits


class _FlatDetector:
    """light(x) = Y everywhere: a detector without non-uniformity and without dark noise."""

    def __init__(self, response, light_yield=1000.0):
        self.response = type("R", (), {"geometry": response.geometry, "dark_mean": {"lpmt": 0.0}})()
        self.y = light_yield

    def light(self, positions):
        return np.full(np.asarray(positions).shape[:-1], self.y)


def _pool(n=400):
    """Pool events of two deposits, 1.0 and 1.223 MeV, 30 cm either side of the origin."""
    ev = np.repeat(np.arange(n), 2)
    pos = np.tile([[0.0, 0.0, 300.0], [0.0, 0.0, -300.0]], (n, 1))
    e = np.tile([1.0, 1.223], n)
    return Deposits(n, ev, pos, e.copy(), e.copy(), np.zeros(2 * n), np.zeros(n))


def test_flat_detector_keeps_energy_and_poisson_width(response):
    det = _FlatDetector(response)
    out = spallation_captures(det, _pool(), 40_000, rng=make_rng(1), vertex_resolution_1mev=0.0)
    r = np.linalg.norm(out["x_true"], axis=1)
    inside = r < response.geometry.r_ls - 400  # both deposits contained
    assert np.allclose(out["e_vis"][inside], 2.223)
    assert np.allclose(out["expected"][inside], 2.223 * det.y)
    pe = out["pe"][inside]
    mean = 2.223 * det.y
    assert abs(pe.mean() - mean) < 5 * np.sqrt(mean / pe.size)
    assert pe.var(ddof=1) / mean == pytest.approx(1.0, abs=5 * np.sqrt(2 / pe.size))


def test_captures_fill_the_ls_uniformly_and_lose_light_at_the_edge(response):
    det = _FlatDetector(response)
    out = spallation_captures(det, _pool(), 40_000, rng=make_rng(2), vertex_resolution_1mev=0.0)
    u = (np.linalg.norm(out["x_true"], axis=1) / response.geometry.r_ls) ** 3
    assert u.mean() == pytest.approx(0.5, abs=5 * np.sqrt(1 / 12 / u.size))  # uniform in volume
    edge = u > (1 - 250 / response.geometry.r_ls) ** 3  # within 25 cm of the LS surface
    assert np.any(out["e_vis"][edge] < 2.2), "a deposit 30 cm out of the LS must be lost"


def test_reconstructed_vertex_is_the_light_centroid_smeared_as_one_over_sqrt_e(response):
    det = _FlatDetector(response)
    res = 100 * units.mm
    out = spallation_captures(det, _pool(), 20_000, rng=make_rng(3), vertex_resolution_1mev=res)
    inside = np.linalg.norm(out["x_true"], axis=1) < response.geometry.r_ls - 400
    # light centroid of (+300 mm: 1.0 MeV, -300 mm: 1.223 MeV) along z
    z0 = (300 * 1.0 - 300 * 1.223) / 2.223
    d = out["x_rec"][inside] - out["x_true"][inside] - np.array([0.0, 0.0, z0])
    assert np.abs(d.mean(axis=0)).max() < 5 * res / np.sqrt(2.223) / np.sqrt(inside.sum())
    assert d.std(axis=0, ddof=1) == pytest.approx(np.full(3, res / np.sqrt(2.223)), rel=0.03)


def test_bad_input_names_the_parameter(response):
    with pytest.raises(ValueError, match="n_events"):
        spallation_captures(_FlatDetector(response), _pool(), 10, rng=make_rng(0), vertex_resolution_1mev=0.0)
    with pytest.raises(ValueError, match="vertex_resolution_1mev"):
        spallation_captures(_FlatDetector(response), _pool(), 1000, rng=make_rng(0), vertex_resolution_1mev=-1.0)


def test_calibration_sees_no_cloud_width_on_a_uniform_detector(geometry, scint):
    """Chapter 7's estimate of the n-H cloud's extra width (the calibration's own simulation): with a
    map g = 1 the light does not depend on where in the cloud it is made, so the cloud and the
    point-like events have the same width; their squared difference is zero within 3 of its errors."""
    from juno_calib.calibration import resolution_study as rs
    from juno_calib.core.params import load_quantities

    class Flat:
        r_ref = geometry.r_ls

        def g(self, x):
            return np.ones(np.asarray(x).shape[:-1])

    nu_data = {k: v.internal for k, v in load_quantities("nonuniformity", "design").items()}
    out = rs._nh_cloud_width(Flat(), 1345.0, scint, geometry, 200.0, nu_data, nu_data["r_fiducial"],
                             rs.Settings(n_pool=200, cloud_events=20_000), rng=make_rng(5))
    assert abs(out["w2"]) < 3 * out["w2_err"], f"w2 = {out['w2']:.2e} +- {out['w2_err']:.1e}"
    # at least Poisson statistics at 1345 PE/MeV and 2.2 MeV plus 200 PE of dark noise (the line's own
    # quenching spread comes on top: the point-like events keep each capture's visible energy)
    assert out["sigma_rel_point"] > np.sqrt(1345 * 2.223 + 200) / (1345 * 2.223)
