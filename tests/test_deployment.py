"""Reach of the deployment systems and the plans: every point inside the LS (or in the GT) and
reachable by its system; the map follows its stated rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.hardware.deployment import (
    SYSTEMS,
    Deployment,
    Plan,
    check_reachable,
    cls_tensions,
    comprehensive_plan,
    map_shells,
    monthly_plan,
    programme_plan,
    reachable,
    weekly_plan,
)


@pytest.fixture(scope="module")
def dep():
    return Deployment.load()


def test_tir_radius_from_refractive_indices(dep):
    # (r_ls + t_acrylic) n_water / n_ls = 17.82 m x 1.333 / 1.4955 = 15.884 m: the water surface
    # is outside the 12 cm acrylic (the textbook R n_w / n_LS = 15.777 m neglects it)
    assert dep.r_tir / units.m == pytest.approx(17.82 * 1.333 / 1.4955, rel=1e-9)
    from juno_calib.detector.geometry import Geometry
    from juno_calib.detector.optics import Optics, tir_radius
    assert dep.r_tir == pytest.approx(tir_radius(Optics.load(), Geometry.load(), acrylic=True), rel=1e-12)
    shells = map_shells(dep)
    assert np.any(np.isclose(shells, dep.r_tir)), "a shell sits on the TIR radius"
    inner = shells[shells <= dep.r_tir + 1e-6]
    assert np.allclose(np.diff(np.r_[0.0, inner**3]), dep.r_tir**3 / len(inner)), "equal steps in r^3"
    outer_step = np.diff(shells[shells >= dep.r_tir - 1e-6])
    assert outer_step.max() < np.diff(inner).max(), "finer radial steps beyond the TIR radius"


def test_cls_static_balance(dep):
    # directly below the top anchor only the top cable pulls, with the full weight
    top, side = dep.cls_anchors()
    t_top, t_side = cls_tensions([top[0], 0.0, -5 * units.m], dep)
    assert t_top == pytest.approx(1.0) and t_side == pytest.approx(0.0, abs=1e-12)
    # anywhere: the two tensions along the cable directions add up to exactly the weight
    pts = np.stack([np.full(50, 6 * units.m), np.zeros(50), np.linspace(-15, -1, 50) * units.m], -1)
    tt, ts = cls_tensions(pts, dep)
    ut = np.stack([top[0] - pts[:, 0], top[1] - pts[:, 2]], -1)
    us = np.stack([side[0] - pts[:, 0], side[1] - pts[:, 2]], -1)
    ut /= np.linalg.norm(ut, axis=1)[:, None]
    us /= np.linalg.norm(us, axis=1)[:, None]
    assert np.allclose(tt[:, None] * ut + ts[:, None] * us, [0.0, 1.0])
    assert np.all((tt > 0) & (ts > 0))


def test_reach_of_each_system(dep):
    m = units.m
    assert reachable("ACU", [0, 0, 10 * m], dep) and not reachable("ACU", [1 * m, 0, 0], dep)
    assert not reachable("ACU", [0, 0, -17.6 * m], dep), "ACU stops above the sphere bottom"
    assert reachable("CLS", [5 * m, 0, -10 * m], dep), "lower half-plane below the anchor line"
    assert reachable("CLS", [-5 * m, 0, -10 * m], dep), "the second CLS is the mirror image (phi = 180 deg)"
    assert not reachable("CLS", [12 * m, 0, 12 * m], dep), "above the line of the anchors: cables cannot hold it"
    assert not reachable("CLS", [5 * m, 1 * m, -10 * m], dep), "out of the CLS plane"
    assert not reachable("CLS", [0, 0, -17.6 * m], dep), "too close to the acrylic"
    th = 90 * units.deg
    assert reachable("GT", [dep.r_gt * math.sin(th), 0, dep.r_gt * math.cos(th)], dep)
    assert not reachable("GT", [0.0, 0, -dep.r_gt], dep), "the GT ends at 171 deg"
    assert not reachable("GT", [10 * m, 0, 0], dep), "the GT is outside the acrylic"
    assert reachable("ROV", [10 * m, 5 * m, -10 * m], dep) and not reachable("ROV", [0, 0, 17 * m], dep)


def test_cls_covers_most_of_its_half_plane(dep):
    # Bounds of the cable model: not all (the region above the anchor line is out) and not
    # little. With the side anchor at the equator the segment above the chord alone is 18%.
    x, z = np.meshgrid(np.linspace(0, dep.r_ls, 301), np.linspace(-dep.r_ls, dep.r_ls, 601))
    pts = np.stack([x, 0 * x, z], -1)
    inside = np.hypot(x, z) <= dep.r_ls
    frac = reachable("CLS", pts, dep)[inside].mean()
    segment = (math.pi / 4 - 0.5) / (math.pi / 2)
    assert 0.6 < frac < 1 - segment, f"CLS half-plane coverage {frac:.3f}"


def test_unreachable_point_rejected_with_reach(dep):
    with pytest.raises(ValueError, match=r"CLS cannot reach 1 of 1 positions, e.g. positions\[0\] = \(x, y, z\) = "
                       r"\(12.000, 0.000, 12.000\) m; CLS reaches the plane y = 0"):
        check_reachable("CLS", [[12 * units.m, 0, 12 * units.m]], dep)
    with pytest.raises(ValueError, match="system = 'GLS' is not allowed"):
        reachable("GLS", [0, 0, 0], dep)
    with pytest.raises(ValueError, match=r"positions must have shape \(..., 3\)"):
        reachable("ACU", [0, 0], dep)


@pytest.mark.parametrize("make", [comprehensive_plan, monthly_plan, weekly_plan,
                                  lambda d: programme_plan("comprehensive", d)])
def test_every_plan_point_in_the_ls_or_gt_and_reachable(dep, make):
    plan = make(dep)
    r = np.linalg.norm(plan.position, axis=1)
    in_ls = r <= dep.r_ls
    in_gt = np.isclose(r, dep.r_gt, atol=dep.gt_accuracy) & (plan.system == "GT")
    assert np.all(in_ls | in_gt), "points inside the LS sphere or on the guide tube"
    for s in SYSTEMS:
        sel = plan.system == s
        assert np.all(reachable(s, plan.position[sel], dep)), f"{s} points reachable by {s}"
    assert np.all(plan.daq_time > 0)


def test_comprehensive_map_rule_and_split(dep):
    plan = comprehensive_plan(dep)
    assert abs(len(plan) - 250) <= 2, "seed 000: about 250 points"
    assert set(plan.source) == {"AmC"}, "one source (the Am-C n-H gamma)"
    assert np.allclose(plan.position[:, 1], 0), "one vertical plane"
    n = {s: plan.count(s) for s in ("ACU", "CLS", "GT")}
    assert sum(n.values()) == len(plan) and min(n.values()) > 0
    # denser where the response changes fastest: points per unit area beyond the TIR radius
    r = np.linalg.norm(plan.position, axis=1)
    inside = plan.system != "GT"
    area_in = math.pi * dep.r_tir**2 / 2
    area_out = math.pi * (dep.r_ls**2 - dep.r_tir**2) / 2
    dens_in = np.sum(inside & (r <= dep.r_tir)) / area_in
    dens_out = np.sum(inside & (r > dep.r_tir)) / area_out
    assert dens_out > 2 * dens_in, "the TIR region is sampled more densely"
    # Table 2: 1262 min for the 250 points
    assert plan.total_daq_time / units.minute == pytest.approx(1262 * len(plan) / 250)


def test_monthly_and_weekly_follow_table2(dep):
    m = monthly_plan(dep)
    assert (m.count("ACU", "AmC"), m.count("CLS", "AmC"), m.count("GT", "AmC"), m.count("ACU", "Laser")) == (
        27, 40, 23, 27), "seed 000 Table 2, monthly"
    w = weekly_plan(dep)
    assert (w.count("ACU", "AmC"), w.count("ACU", "Laser")) == (5, 10), "seed 000 Table 2, weekly"


def test_plan_select_and_validation():
    p = Plan("t", np.zeros((3, 3)), ["ACU"] * 3, ["AmC"] * 3, 1.0)
    assert len(p.select(np.array([True, False, True]))) == 2
    with pytest.raises(ValueError, match="unknown system"):
        Plan("t", np.zeros((1, 3)), ["GLS"], ["AmC"], 1.0)
    with pytest.raises(ValueError, match="daq_time must be finite and >= 0"):
        Plan("t", np.zeros((1, 3)), ["ACU"], ["AmC"], -1.0)
