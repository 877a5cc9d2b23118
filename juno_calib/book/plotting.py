"""Drawing helpers for the detector. Each takes a matplotlib ``ax`` and returns its artists;
nothing here changes matplotlib's global state (the notebook owns the figure)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..core import units
from ..detector.geometry import PMT_HAMAMATSU, PMT_KIND_NAMES, PMT_NNVT, PMT_SPMT, Geometry, PMTLayout
from ..hardware.deployment import Deployment, Plan, reachable

# colour-blind-safe (Okabe-Ito) colours per PMT type
PMT_COLORS = {PMT_NNVT: "#0072B2", PMT_HAMAMATSU: "#D55E00", PMT_SPMT: "#009E73"}
_GEOGRAPHIC = ("mollweide", "hammer", "aitoff", "lambert")


def draw_cross_section(ax, geometry: Geometry, layout: PMTLayout | None = None, *,
                       annotate: bool = True) -> list:
    """Vertical cross-section (x-z plane) of the detector to scale, axes in metres.

    Draws the water pool, the stainless-steel latticed shell, the veto PMTs just outside it
    (evenly spaced: a great circle of a sphere holding ``n_wp_pmt`` evenly spread PMTs holds
    about ``sqrt(pi n_wp_pmt)``), the LPMT rings (one marker per ring and side, if ``layout``
    is given; else the LPMT sphere), the acrylic vessel and LS, the chimney and the top
    tracker layers above the pool. The CD centre is drawn at the pool's mid-height.
    """
    from matplotlib.patches import Circle, Rectangle

    g = geometry
    m = units.m
    arts = []
    half_h = g.wp_height / 2 / m
    arts.append(ax.add_patch(Rectangle((-g.wp_radius / m, -half_h), 2 * g.wp_radius / m, g.wp_height / m,
                                       facecolor="#d8ecf7", edgecolor="#4a7a99", lw=1.2,
                                       label="water pool (veto)")))
    arts.append(ax.add_patch(Circle((0, 0), g.r_steel_shell / m, fill=False, ls="--", lw=1.0,
                                    edgecolor="0.35", label="steel latticed shell")))
    n_veto = int(round(math.sqrt(math.pi * g.n_wp_pmt)))
    ang = np.linspace(0, 2 * np.pi, n_veto, endpoint=False)
    r_veto = (g.r_steel_shell + g.lpmt_cathode_radius) / m
    arts.append(ax.scatter(r_veto * np.sin(ang), r_veto * np.cos(ang), s=4, marker="o", color="#4a7a99",
                           label=f"veto PMTs ({g.n_wp_pmt:,} in total)"))
    arts.append(ax.add_patch(Circle((0, 0), (g.r_ls + g.acrylic_thickness) / m, facecolor="#fff3c4",
                                    edgecolor="#8c6d1f", lw=1.5, label="acrylic sphere + LS")))
    if layout is not None:
        lp = layout.select(layout.mask([PMT_NNVT, PMT_HAMAMATSU]))
        r, theta = lp.radius / m, np.unique(np.round(np.arccos(lp.position[:, 2] / lp.radius), 9))
        rr = np.median(r)
        xs = np.concatenate([rr * np.sin(theta), -rr * np.sin(theta)])
        zs = np.concatenate([rr * np.cos(theta), rr * np.cos(theta)])
        arts.append(ax.scatter(xs, zs, s=3, color=PMT_COLORS[PMT_NNVT],
                               label=f"LPMT rings ({len(theta)})"))
    else:
        arts.append(ax.add_patch(Circle((0, 0), g.r_lpmt / m, fill=False, lw=1.0,
                                        edgecolor=PMT_COLORS[PMT_NNVT], label="LPMT sphere")))
    tt_top = half_h + g.tt_n_layers * g.tt_layer_spacing / m
    arts.append(ax.add_patch(Rectangle((-g.r_chimney / m, g.r_ls / m), 2 * g.r_chimney / m,
                                       tt_top - g.r_ls / m, facecolor="0.6", edgecolor="0.3", lw=0.8,
                                       label="chimney")))
    width = g.tt_walls_per_row * g.tt_wall_size / m
    for i in range(g.tt_n_layers):
        z = half_h + (i + 1) * g.tt_layer_spacing / m
        (line,) = ax.plot([-width / 2, width / 2], [z, z], color="#CC79A7", lw=2.5,
                          label="top tracker layers" if i == 0 else None)
        arts.append(line)
    if annotate:
        arts.append(ax.annotate(f"LS, R = {g.r_ls / m:.1f} m", (0, -0.3 * g.r_ls / m), ha="center"))
    ax.set_aspect("equal")
    ax.set_xlim(-1.05 * max(g.wp_radius, width * m / 2) / m, 1.05 * max(g.wp_radius, width * m / 2) / m)
    ax.set_ylim(-half_h - 1.0, tt_top + 1.5)
    ax.set_xlabel("x [m]")
    ax.set_ylabel("z [m]")
    return arts


def draw_sky_map(ax, layout: PMTLayout, *, sizes: Mapping[int, float] | None = None) -> list:
    """Full-sky map of the PMT centres seen from the CD centre, coloured by type.

    ``ax`` must use a geographic projection (e.g. ``projection="mollweide"``); longitude is the
    azimuth phi, latitude is ``90 deg - theta`` (the chimney at the top).
    """
    if getattr(ax, "name", "") not in _GEOGRAPHIC:
        raise ValueError(f"draw_sky_map needs a geographic projection axes ({', '.join(_GEOGRAPHIC)}), "
                         f"got {getattr(ax, 'name', type(ax).__name__)!r}")
    sizes = dict({PMT_NNVT: 1.5, PMT_HAMAMATSU: 1.5, PMT_SPMT: 0.15}, **(sizes or {}))
    u = layout.position / layout.radius[:, None]
    lon = np.arctan2(u[:, 1], u[:, 0])
    lat = np.arcsin(np.clip(u[:, 2], -1, 1))
    arts = []
    for kind in (PMT_SPMT, PMT_NNVT, PMT_HAMAMATSU):
        sel = layout.kind == kind
        if sel.any():
            arts.append(ax.scatter(lon[sel], lat[sel], s=sizes[kind], color=PMT_COLORS[kind], lw=0,
                                   rasterized=True, label=f"{PMT_KIND_NAMES[kind]} ({sel.sum():,})"))
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel(r"azimuth $\varphi$")
    ax.set_ylabel(r"latitude $90^\circ-\theta$")
    return arts


def draw_patch(ax, layout: PMTLayout, *, theta0: float, phi0: float, half_width: float) -> list:
    """Photocathodes near the direction (``theta0``, ``phi0``) drawn to scale as disks.

    Gnomonic projection onto the plane tangent to the LPMT sphere at that direction: each
    photocathode is a circle of its angular radius, positions and sizes in metres on that
    plane (``half_width`` in mm, internal units). Good to ~0.1% for patches of a few metres.
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle

    c = np.array([np.sin(theta0) * np.cos(phi0), np.sin(theta0) * np.sin(phi0), np.cos(theta0)])
    east = np.array([-np.sin(phi0), np.cos(phi0), 0.0])
    north = np.cross(c, east)  # towards smaller theta (up the sphere)
    u = layout.position / layout.radius[:, None]
    ref = float(np.median(layout.radius))
    cz = u @ c
    x, y = ref * (u @ east) / np.maximum(cz, 1e-9), ref * (u @ north) / np.maximum(cz, 1e-9)
    rad = ref * np.tan(layout.angular_radius)
    near = (cz > 0) & (np.abs(x) < half_width + rad) & (np.abs(y) < half_width + rad)
    arts = []
    for kind in (PMT_NNVT, PMT_HAMAMATSU, PMT_SPMT):
        sel = near & (layout.kind == kind)
        circles = [Circle((xi / units.m, yi / units.m), ri / units.m) for xi, yi, ri in
                   zip(x[sel], y[sel], rad[sel], strict=True)]
        coll = PatchCollection(circles, facecolor=PMT_COLORS[kind], edgecolor="k", lw=0.3, alpha=0.9,
                               label=PMT_KIND_NAMES[kind])
        arts.append(ax.add_collection(coll))
    lim = half_width / units.m
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("along the ring (east) [m]")
    ax.set_ylabel("towards the chimney [m]")
    return arts


def draw_coverage_profile(ax, cos_edges, profiles: Mapping[str, np.ndarray], *,
                          colors: Mapping[str, str] | None = None) -> list:
    """Step plot of covered fraction (percent) per band of cos(theta), one line per profile."""
    edges = np.asarray(cos_edges, dtype=float)
    arts = []
    for label, frac in profiles.items():
        frac = np.asarray(frac, dtype=float)
        if frac.shape != (len(edges) - 1,):
            raise ValueError(f"profile {label!r} has shape {frac.shape}, expected ({len(edges) - 1},)")
        kw = {"color": colors[label]} if colors and label in colors else {}
        arts.append(ax.stairs(100 * frac, edges, label=label, lw=1.4, **kw))
    ax.set_xlabel(r"$\cos\theta$ of the direction from the CD centre")
    ax.set_ylabel("photocathode coverage [%]")
    return arts


def plot_plan_plane(ax, deployment: Deployment, plan: Plan | None = None, *, grid: int = 241):
    """Draw the vertical plane y = 0: each system's reach and the plan's points (axes in m)."""
    from matplotlib.patches import Circle

    d, m = deployment, units.m
    x, z = np.meshgrid(np.linspace(-d.r_ls, d.r_ls, grid), np.linspace(-d.r_ls, d.r_ls, grid))
    cls = reachable("CLS", np.stack([x, 0 * x, z], -1), d)
    artists = [ax.contourf(x / m, z / m, cls, levels=[0.5, 1.5], colors=["tab:orange"], alpha=0.25)]
    artists.append(ax.add_patch(Circle((0, 0), d.r_ls / m, fill=False, color="k", lw=1.2)))
    artists.append(ax.add_patch(Circle((0, 0), d.r_tir / m, fill=False, ls="--", color="tab:red", lw=1)))
    r_rov = (d.r_ls - d.rov_margin) / m
    artists.append(ax.add_patch(Circle((0, 0), r_rov, fill=False, ls=":", color="grey")))
    th = np.linspace(d.gt_theta_min, d.gt_theta_max, 200)
    artists += ax.plot(d.r_gt * np.sin(th) / m, d.r_gt * np.cos(th) / m, color="tab:green", lw=3, alpha=0.4)
    artists += ax.plot([0, 0], [-d.acu_z_max / m, d.acu_z_max / m], color="tab:blue", lw=3, alpha=0.4)
    top, side = d.cls_anchors()
    for sgn in (1, -1):
        artists += ax.plot(sgn * np.array([top[0], side[0]]) / m, np.array([top[1], side[1]]) / m,
                           "^", color="tab:orange", ms=8)
    if plan is not None:
        colors = {"ACU": "tab:blue", "CLS": "tab:orange", "GT": "tab:green", "ROV": "grey"}
        for system, color in colors.items():
            sel = plan.system == system
            if np.any(sel):
                artists.append(ax.scatter(plan.position[sel, 0] / m, plan.position[sel, 2] / m, s=9,
                                          color=color, label=f"{system} ({int(sel.sum())})", zorder=3))
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]  (x < 0: phi = 180 deg)")
    ax.set_ylabel("z [m]")
    return artists
