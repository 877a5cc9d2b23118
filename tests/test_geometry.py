"""Detector geometry and the PMT layout model: counts, no overlapping photocathodes, coverage,
uniform sampling in the LS sphere, coordinates and solid angles."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from juno_calib.core import units
from juno_calib.detector.geometry import (
    PMT_HAMAMATSU,
    PMT_NNVT,
    PMT_SPMT,
    PMTLayout,
    cartesian_to_spherical,
    coverage_profile,
    disk_solid_angle,
    fibonacci_directions,
    pmt_layout,
    sample_uniform_ls,
    spherical_to_cartesian,
)


@pytest.fixture(scope="module")
def layout(geometry):
    return pmt_layout(geometry)


def test_counts_are_exact_and_lpmts_come_first(layout):
    assert layout.n == 17612 + 25600
    assert np.count_nonzero(layout.kind == PMT_NNVT) == 12616, "PPNP22: 17,612 - 4,996 NNVT MCP-PMTs"
    assert np.count_nonzero(layout.kind == PMT_HAMAMATSU) == 4996, "PPNP22: 4,996 Hamamatsu R12860"
    assert np.count_nonzero(layout.kind == PMT_SPMT) == 25600, "PPNP22 / seed 000: 25,600 SPMTs"
    assert np.all(layout.kind[:17612] != PMT_SPMT) and np.all(layout.kind[17612:] == PMT_SPMT)


def test_pmts_sit_on_their_spheres_and_face_the_centre(layout, geometry):
    lp = layout.mask([PMT_NNVT, PMT_HAMAMATSU])
    np.testing.assert_allclose(layout.radius[lp], geometry.r_lpmt, rtol=1e-12)
    np.testing.assert_allclose(layout.radius[~lp], geometry.r_spmt, rtol=1e-12)
    np.testing.assert_allclose(layout.cathode_radius[lp], 254.0)
    np.testing.assert_allclose(layout.cathode_radius[~lp], geometry.spmt_cathode_radius)
    d = layout.direction
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, rtol=1e-12)
    # the axis points inwards: direction . position = -|position|
    np.testing.assert_allclose(np.einsum("ij,ij->i", d, layout.position), -layout.radius, rtol=1e-12)


def test_no_two_photocathodes_overlap(layout):
    """All pairs closer than three of the largest cones (overlap needs < two), found with a
    KD-tree, keep their angular separation psi >= a_i + a_j."""
    u = layout.position / np.linalg.norm(layout.position, axis=1)[:, None]
    alpha = np.arctan(layout.cathode_radius / np.linalg.norm(layout.position, axis=1))
    pairs = cKDTree(u).query_pairs(2 * np.sin(1.5 * alpha.max()), output_type="ndarray")
    assert len(pairs) > 2 * 17612, "every LPMT has close neighbours (the search found the pairs)"
    i, j = pairs.T
    psi = 2 * np.arcsin(np.linalg.norm(u[i] - u[j], axis=1) / 2)
    gap = psi - alpha[i] - alpha[j]
    kinds = {tuple(sorted(k)) for k in zip(layout.kind[i][gap < 0], layout.kind[j][gap < 0], strict=True)}
    assert gap.min() >= 0, f"overlapping photocathodes, kinds {kinds}; smallest gap {gap.min():.3g} rad"
    assert layout.min_cathode_gap() == pytest.approx(gap.min(), abs=1e-12)
    # the model packs tightly: the closest LPMT pair is less than 1 cm apart at the LPMT radius
    assert gap.min() * 19434 < 10.0


def test_chimney_opening_is_free(layout, geometry):
    theta = np.arccos(layout.position[:, 2] / layout.radius)
    edge = theta - layout.angular_radius
    theta_chimney = np.arcsin(geometry.r_chimney / layout.radius)
    assert np.all(edge >= theta_chimney - 1e-12), "no photocathode cone reaches into the chimney"
    lp = layout.mask([PMT_NNVT, PMT_HAMAMATSU])
    assert edge[lp].min() == pytest.approx(theta_chimney[lp].min(), abs=1e-9), "first ring touches it"


def test_coverage_near_published(layout):
    # published to two significant digits ("~75%"): within half a unit of the last digit
    assert layout.coverage([PMT_NNVT, PMT_HAMAMATSU]) == pytest.approx(0.75, abs=0.005), \
        "PPNP22 / seed 003: ~75% LPMT photo-coverage"
    # coverage is N * (1 - cos alpha) / 2 for identical disks: the layout neither loses nor
    # double-counts PMTs; pinned for both systems (the SPMT comparison with the published ~3%,
    # which counts the glass domes, is in tests/test_ch01_layout.py and chapter 1)
    alpha = math.atan(254.0 / 19434.0)
    assert layout.coverage([PMT_NNVT, PMT_HAMAMATSU]) == pytest.approx(17612 * (1 - math.cos(alpha)) / 2, rel=1e-12)
    alpha_s = math.atan(36.0 / 19384.0)
    assert layout.coverage(PMT_SPMT) == pytest.approx(25600 * (1 - math.cos(alpha_s)) / 2, rel=1e-12)
    assert layout.coverage() == pytest.approx(layout.coverage([PMT_NNVT, PMT_HAMAMATSU]) + layout.coverage(PMT_SPMT))


def test_ray_tracing_from_centre_reproduces_the_solid_angle_coverage(layout):
    """The fraction of isotropic rays hitting a photocathode is the coverage (independent check
    of the solid angles and of the ray-PMT matching)."""
    u = fibonacci_directions(400_000)
    hit = layout.pmt_in_direction(u)
    for kinds in ([PMT_NNVT, PMT_HAMAMATSU], [PMT_SPMT]):
        frac = np.isin(layout.kind[hit[hit >= 0]], kinds).sum() / len(u)
        assert frac == pytest.approx(layout.coverage(kinds), abs=2e-3)
    # a ray along a PMT's centre hits that PMT
    idx = np.array([0, 100, 17611, 17612, 43211])
    assert layout.pmt_in_direction(layout.position[idx]).tolist() == idx.tolist()
    edges = np.linspace(-1, 1, 11)
    prof = coverage_profile(layout.select(layout.mask(PMT_SPMT)), edges, n_directions=400_000)
    assert prof.mean() == pytest.approx(layout.coverage(PMT_SPMT), abs=5e-4)


def test_hamamatsu_and_spmts_are_mixed_evenly_over_the_sphere(layout):
    lp = layout.select(layout.mask([PMT_NNVT, PMT_HAMAMATSU]))
    z = lp.position[:, 2] / lp.radius
    f = 4996 / 17612
    for lo, hi in [(-1, -0.5), (-0.5, 0), (0, 0.5), (0.5, 1)]:
        band = (z >= lo) & (z < hi)
        assert np.mean(lp.kind[band] == PMT_HAMAMATSU) == pytest.approx(f, abs=0.01), (lo, hi)
    sp = layout.select(layout.mask(PMT_SPMT))
    zs = sp.position[:, 2] / sp.radius
    counts, _ = np.histogram(zs, bins=4, range=(-1, 1))
    np.testing.assert_allclose(counts / 6400, 1.0, atol=0.05, err_msg="SPMTs spread evenly in cos(theta)")


def test_layout_is_deterministic_cached_and_read_only(geometry, layout):
    assert pmt_layout(geometry) is layout
    assert pmt_layout(dataclasses.replace(geometry, config="as_built")) is layout
    with pytest.raises(ValueError, match="read-only"):
        layout.position[0, 0] = 0.0
    assert {layout: 1}[pmt_layout(geometry)] == 1, "a layout is hashable (a cache key)"
    sub = layout.select(layout.mask(PMT_HAMAMATSU))
    assert sub.n == 4996 and np.all(sub.kind == PMT_HAMAMATSU)


def test_uniform_sampling_fills_the_volume_evenly(rng):
    n = 200_000
    xyz = sample_uniform_ls(n, rng=rng)
    r, theta, _ = cartesian_to_spherical(xyz)
    x = (r / (17.7 * units.m)) ** 3
    # (r/R)^3 is uniform on [0, 1]: mean 1/2, standard error 1/sqrt(12 n)
    pull = (x.mean() - 0.5) / (1 / math.sqrt(12 * n))
    assert abs(pull) < 4, f"<(r/R)^3> = {x.mean():.5f}, pull {pull:.2f}"
    assert x.max() <= 1.0
    cos_pull = np.cos(theta).mean() / (1 / math.sqrt(3 * n))
    assert abs(cos_pull) < 4, "isotropic: <cos theta> = 0"
    small = sample_uniform_ls(50_000, rng=rng, r_max=5 * units.m)
    xs = (np.linalg.norm(small, axis=1) / (5 * units.m)) ** 3
    assert abs((xs.mean() - 0.5) * math.sqrt(12 * 50_000)) < 4 and xs.max() <= 1.0


def test_coordinate_round_trips(rng):
    xyz = rng.normal(size=(1000, 3)) * 1e4
    back = spherical_to_cartesian(*cartesian_to_spherical(xyz))
    np.testing.assert_allclose(back, xyz, atol=1e-8)
    r, theta, phi = cartesian_to_spherical([[0, 0, 5.0], [0, 3.0, 0], [-1.0, 0, 0]])
    np.testing.assert_allclose(theta, [0, np.pi / 2, np.pi / 2])
    np.testing.assert_allclose(phi, [0, np.pi / 2, np.pi])
    grid = spherical_to_cartesian(np.array([1.0, 2.0])[:, None], np.array([0.1, 0.2, 0.3]), 0.5)
    assert grid.shape == (2, 3, 3), "inputs broadcast"


def test_disk_solid_angle_exact_and_limits():
    a, d = 254.0, np.array([300.0, 2000.0, 19434.0])
    exact = 2 * np.pi * (1 - np.cos(np.arctan(a / d)))
    np.testing.assert_allclose(disk_solid_angle(a, d), exact, rtol=1e-12)
    # small-angle limit pi a^2 / d^2, with the next-order correction -3/4 (a/d)^2
    small = np.pi * a**2 / d[-1] ** 2
    assert disk_solid_angle(a, d[-1]) == pytest.approx(small * (1 - 0.75 * (a / d[-1]) ** 2), rel=1e-7)
    assert disk_solid_angle(1.0, 0.0) == pytest.approx(2 * np.pi), "a disk touching the eye fills a half space"
    assert disk_solid_angle(1e-3, 1e6) == pytest.approx(np.pi * 1e-18, rel=1e-9), "no cancellation"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"r_ls": -1.0}, "r_ls = -0.001 m is outside the allowed range"),
        ({"r_lpmt": 17_000.0}, "r_lpmt = 17 m is outside the allowed range"),
        ({"n_lpmt_hamamatsu": 20_000}, "n_lpmt_hamamatsu = 20000 is outside the allowed range [0, 17612]"),
        ({"n_spmt": 2.5}, "n_spmt = 2.5 must be a whole number"),
        ({"spmt_cathode_radius": 50.0}, "spmt_cathode_radius = 50 mm is outside the allowed range"),
    ],
)
def test_bad_geometry_rejected(geometry, change, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dataclasses.replace(geometry, **change)


def test_counts_that_do_not_fit_are_rejected(geometry):
    with pytest.raises(ValueError, match="n_lpmt = 19000 does not fit"):
        pmt_layout(dataclasses.replace(geometry, n_lpmt=19000))
    with pytest.raises(ValueError, match="n_spmt = 40000 does not fit"):
        pmt_layout(dataclasses.replace(geometry, n_spmt=40000))
    with pytest.raises(TypeError, match="geometry must be a Geometry"):
        pmt_layout({"r_lpmt": 1.0})


def test_bad_sampling_and_layout_inputs(rng, layout):
    with pytest.raises(ValueError, match="r_max = 18 m is outside the allowed range"):
        sample_uniform_ls(10, rng=rng, r_max=18 * units.m)
    with pytest.raises(ValueError, match="n = -1 is outside"):
        sample_uniform_ls(-1, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        sample_uniform_ls(10, rng=42)
    with pytest.raises(ValueError, match="kind = 7 is not allowed"):
        layout.mask(7)
    with pytest.raises(ValueError, match=r"position must have shape \(N, 3\)"):
        PMTLayout(np.zeros((3, 2)), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="unknown codes"):
        PMTLayout(np.full((2, 3), 1e4), [0, 5], [1.0, 1.0])
    with pytest.raises(ValueError, match="xyz must have shape"):
        cartesian_to_spherical(np.zeros((4, 2)))
