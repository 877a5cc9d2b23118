"""Calibration peaks simulated with the response library: their width and position per source point.

:func:`simulated_peak` measures sigma/E of a source's peak at given positions (the input of the
time budget's statistics, :mod:`juno_calib.hardware.budget`); :func:`shell_representatives`
picks one point per radial shell of a map.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import validate
from ..core.params import check_choice, check_range
from ..detector.response import DetectorResponse
from ..hardware.guide_tube import simulate_guide_tube
from ..hardware.sources import Source, simulate_source
from ..particles.events import PARTS
from .resolution import fit_peak


def simulated_peak(source, positions, n_events: int, *, rng: np.random.Generator, response, scint,
                   part: str | None = None) -> dict[str, np.ndarray]:
    """The calibration peak of ``source`` at each of ``positions``, from the response library.

    At every position, decays are simulated with :func:`juno_calib.hardware.sources.simulate_source`
    (capsule included; neutron sources: their n-H/n-C capture gammas, ``part="capture"``),
    turned into LPMT PE with the total-PE path of :class:`juno_calib.detector.response.DetectorResponse`
    (Poisson photo-statistics at the local yield of every deposit, Poisson dark noise), the
    mean dark-noise PE is subtracted and the main peak is fitted with
    :func:`juno_calib.calibration.resolution.fit_peak` (a Gaussian within 2 sigma). Decays without visible
    deposits are left out.

    Parameters
    ----------
    source : juno_calib.hardware.sources.Source
    positions : (K, 3) or (3,) array_like
        Source positions, mm, inside the LS.
    n_events : int
        Decays *in the peak branch* per position: ``n_events / f`` decays are simulated, with f
        the branch fraction (neutron branches for ``part="capture"``), so that 40K (f = 0.107)
        gets as many peak events as the other sources.
    rng : numpy.random.Generator
    response : juno_calib.detector.response.DetectorResponse
    scint : juno_calib.particles.scintillator.Scintillator
    part : {None, "all", "prompt", "capture"}
        None: "capture" for neutron sources, "all" otherwise.

    Returns
    -------
    dict of (K,) float arrays
        ``sigma_rel`` (sigma/mean of the PE peak) and ``sigma_rel_err``; ``mean_pe`` (peak
        position, PE, dark noise subtracted) and its fit error ``mean_pe_err``; ``e_vis`` and
        ``e_vis_sigma_rel``: the same fit of the summed visible energy (MeV), i.e. the peak without
        photo-statistics and dark noise (its width is the fluctuation of the light of the gamma
        cascade: quenching, Cherenkov);
        ``visible_fraction``: fraction of decays with visible deposits; ``peak_yield``: fraction
        of the simulated decays (neutrons for ``part="capture"``) whose PE lie within the fit
        window, mean +- 2 sigma.
    """
    validate.instance("source", source, Source, hint='get_source("Cs137")')
    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    check_range("n_events", n_events, 200, 1e7)
    part = ("capture" if source.emits_neutrons else "all") if part is None else part
    check_choice("part", part, PARTS)
    pos = validate.positions("positions", positions, r_max=response.geometry.r_ls, volume=validate.LS)
    frac = (sum(b.probability for b in source.branches if b.neutron) if part == "capture"
            else source.peak_fraction())
    if frac <= 0:
        raise ValueError(f"source {source.name} has no branch for part = {part!r}")
    n_decays = int(math.ceil(n_events / frac))
    dark = response.dark_mean["lpmt"]
    keys = ("sigma_rel", "sigma_rel_err", "mean_pe", "mean_pe_err", "e_vis", "e_vis_sigma_rel",
            "visible_fraction", "peak_yield")
    out = {k: np.empty(len(pos)) for k in keys}
    for k, x in enumerate(pos):  # a few source positions; events are vectorised
        dep = simulate_source(source, n_decays, x, rng=rng, scint=scint, geometry=response.geometry,
                              part=part)
        e_vis = dep.per_event("e_vis")
        seen = e_vis > 0
        pe = response.sample(dep, rng=rng).lpmt[seen] - dark
        f, fe = fit_peak(pe), fit_peak(e_vis[seen])
        rel = f["sigma"] / f["mean"]
        out["sigma_rel"][k] = rel
        out["sigma_rel_err"][k] = rel * math.hypot(f["sigma_err"] / f["sigma"], f["mean_err"] / f["mean"])
        out["mean_pe"][k] = f["mean"]
        out["mean_pe_err"][k] = f["mean_err"]
        out["e_vis"][k] = fe["mean"]
        out["e_vis_sigma_rel"][k] = fe["sigma"] / fe["mean"]
        out["visible_fraction"][k] = seen.mean()
        out["peak_yield"][k] = np.count_nonzero(np.abs(pe - f["mean"]) < 2 * f["sigma"]) / n_decays
    return out


def guide_tube_peak(source, positions, n_events: int, *, rng: np.random.Generator, response, scint
                    ) -> dict[str, np.ndarray]:
    """The n-H peak of a neutron source at guide-tube ``positions`` (in the water, outside the LS).

    At each position ``n_events`` neutrons are followed with
    :func:`juno_calib.hardware.guide_tube.simulate_guide_tube` (captures in water, acrylic and LS;
    the n-H gammas that reach the LS unscattered), turned into LPMT PE as in
    :func:`simulated_peak` and the peak fitted with
    :func:`juno_calib.calibration.resolution.fit_peak`.

    Returns (K,) arrays: ``sigma_rel``, ``sigma_rel_err``, ``mean_pe``, ``mean_pe_err``,
    ``peak_yield`` (fraction of the neutrons with PE within mean +- 2 sigma of the fit) and the
    fractions per neutron of :func:`~juno_calib.hardware.guide_tube.simulate_guide_tube`
    (``captured_ls``, ``captured_acrylic``, ``captured_water``, ``nh``, ``nh_reach``, ``nh_scatter``).
    """
    validate.instance("source", source, Source, hint='get_source("AmC")')
    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    check_range("n_events", n_events, 1000, 1e7)
    pos = validate.positions("positions", positions, r_max=1e6, volume="the experiment (1 km)")
    inside = np.linalg.norm(pos, axis=1) < response.geometry.r_ls
    if inside.any():
        k = int(np.flatnonzero(inside)[0])
        raise ValueError(f"positions[{k}] = {pos[k].tolist()} mm lies inside the LS: guide-tube points are "
                         f"outside it (r >= {response.geometry.r_ls / 1000:g} m)")
    dark = response.dark_mean["lpmt"]
    keys = ("sigma_rel", "sigma_rel_err", "mean_pe", "mean_pe_err", "peak_yield", "captured_ls",
            "captured_acrylic", "captured_water", "nh", "nh_reach", "nh_scatter")
    out = {k: np.empty(len(pos)) for k in keys}
    for k, x in enumerate(pos):  # a few tube positions; neutrons are vectorised
        dep, frac = simulate_guide_tube(source, int(n_events), x, rng=rng, scint=scint,
                                        geometry=response.geometry)
        seen = dep.per_event("e_vis") > 0
        if np.count_nonzero(seen) < 100:
            raise ValueError(f"n_events = {n_events}: only {np.count_nonzero(seen)} neutrons put light in "
                             "the LS from the guide tube; at least 100 are needed for a peak fit")
        pe = response.sample(dep, rng=rng).lpmt[seen] - dark
        f = fit_peak(pe)
        rel = f["sigma"] / f["mean"]
        out["sigma_rel"][k] = rel
        out["sigma_rel_err"][k] = rel * math.hypot(f["sigma_err"] / f["sigma"], f["mean_err"] / f["mean"])
        out["mean_pe"][k] = f["mean"]
        out["mean_pe_err"][k] = f["mean_err"]
        out["peak_yield"][k] = np.count_nonzero(np.abs(pe - f["mean"]) < 2 * f["sigma"]) / n_events
        for name, v in frac.items():
            out[name][k] = v
    return out


def shell_representatives(positions, g, *, r_max: float, tol: float = 1.0) -> np.ndarray:
    """Indices of one point per distinct radius (shell) of ``positions`` up to ``r_max``.

    positions : (P, 3) mm; g : (P,) relative light yield at the points (e.g.
    ``response.total_map.g(positions)``); radii within ``tol`` mm are one shell. On each shell
    the point whose g is closest to the shell's median g represents it. Returns (K,) indices in
    order of increasing radius.
    """
    pos = validate.positions("positions", positions)
    g = validate.array("g", g, 0.0)
    r_max = validate.number("r_max", r_max, 0.0, unit="m")
    tol = validate.number("tol", tol, 0.0, 1e5, lo_open=True, unit="mm")
    if g.shape != (len(pos),):
        raise ValueError(f"g must have shape ({len(pos)},) like positions, got {g.shape}")
    r = np.linalg.norm(pos, axis=1)
    shell = np.round(r / tol).astype(np.int64)
    out = []
    for s in np.unique(shell[r <= r_max]):  # a dozen shells
        idx = np.flatnonzero(shell == s)
        out.append(idx[np.argmin(np.abs(g[idx] - np.median(g[idx])))])
    return np.array(out, dtype=np.int64)


def fit_toys(toys, *, n_sigma: float = 2.0) -> dict[str, float]:
    """The peak estimator applied to toy peaks: the actual spread of its fitted position.

    toys : sequence of 1-d arrays (at least 5 toys of at least 50 values each), each one toy
        peak; every toy is fitted with :func:`juno_calib.calibration.resolution.fit_peak`
        (``n_sigma`` its window).

    Returns ``spread`` (standard deviation of the fitted means over their average: the relative
    precision the estimator reaches), ``spread_err`` (its statistical error, spread /
    sqrt(2 (T - 1)) for T toys), ``sigma_rel`` (average fitted sigma / mean), ``n_mean`` (average
    number N of events inside each toy's fit window, mean +- n_sigma sigma: the peak events),
    ``gaussian`` (sigma_rel / sqrt(N): the Gaussian formula), ``ratio`` = spread / gaussian and
    ``ratio_err``. The peak events needed for a precision p are then (sigma_rel / p)^2 x ratio^2.
    """
    if isinstance(toys, np.ndarray) and toys.ndim == 2:
        toys = list(toys)
    if not isinstance(toys, (list, tuple)) or len(toys) < 5:
        size = f" of {len(toys)}" if isinstance(toys, (list, tuple)) else ""
        raise ValueError(f"toys must be a sequence of at least 5 toy peaks (1-d arrays), got "
                         f"{type(toys).__name__}{size}")
    vals = [validate.array(f"toys[{i}]", t, -1e100, 1e100, ndim=1, size_min=50) for i, t in enumerate(toys)]
    n_sigma = validate.number("n_sigma", n_sigma, 0.5, 10.0)
    fits = []
    for i, v in enumerate(vals):  # one fit per toy (tens of toys): the estimator itself
        try:
            fits.append(fit_peak(v, n_sigma=n_sigma))
        except ValueError as err:
            raise ValueError(f"toys[{i}] cannot be fitted: {err}") from None
    means = np.array([f["mean"] for f in fits])
    rel = np.array([f["sigma"] / f["mean"] for f in fits])
    if not np.all(means > 0):
        raise ValueError("toys must be peaks at positive values (PE or energies); a fitted mean is <= 0")
    spread = float(means.std(ddof=1) / means.mean())
    n_mean = float(np.mean([np.count_nonzero(np.abs(v - f["mean"]) < n_sigma * f["sigma"])
                            for v, f in zip(vals, fits, strict=True)]))
    gaussian = float(rel.mean() / math.sqrt(n_mean))
    err = spread / math.sqrt(2 * (len(vals) - 1))
    return {"spread": spread, "spread_err": err, "sigma_rel": float(rel.mean()), "n_mean": n_mean,
            "gaussian": gaussian, "ratio": spread / gaussian, "ratio_err": err / gaussian}


def peak_precision_toys(source, position, n_events: int, n_toys: int, *, rng: np.random.Generator,
                        response, scint, part: str | None = None) -> dict[str, float]:
    """The precision of the calibration peak's fitted position at ``position``, from toys.

    ``n_toys`` toy peaks of ``n_events`` decays in the peak branch each are simulated at once with
    :func:`juno_calib.hardware.sources.simulate_source` and the PE response (as in
    :func:`simulated_peak`), split into toys by decay, and fitted one by one with the same
    estimator (:func:`fit_toys`; N counts the events in each toy's fit window).

    Returns the dict of :func:`fit_toys`.
    """
    validate.instance("source", source, Source, hint='get_source("Cs137")')
    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    check_range("n_events", n_events, 200, 1e6)
    check_range("n_toys", n_toys, 5, 1e4)
    validate.integer("n_events * n_toys", int(n_events) * int(n_toys), 1000, 10**7)
    part = ("capture" if source.emits_neutrons else "all") if part is None else part
    check_choice("part", part, PARTS)
    pos = validate.positions("position", position, r_max=response.geometry.r_ls, volume=validate.LS)
    if pos.shape != (1, 3):
        raise ValueError(f"position must be one point, shape (3,), got shape {np.shape(position)}")
    frac = (sum(b.probability for b in source.branches if b.neutron) if part == "capture"
            else source.peak_fraction())
    if frac <= 0:
        raise ValueError(f"source {source.name} has no branch for part = {part!r}")
    per_toy = int(math.ceil(int(n_events) / frac))
    dep = simulate_source(source, per_toy * int(n_toys), pos[0], rng=rng, scint=scint,
                          geometry=response.geometry, part=part)
    return _fit_consecutive_toys(dep, per_toy, int(n_toys), n_events, rng=rng, response=response)


def _fit_consecutive_toys(dep, per_toy: int, n_toys: int, n_events, *, rng, response) -> dict[str, float]:
    """Record ``dep`` (``n_toys`` blocks of ``per_toy`` consecutive events), fit each block's
    dark-subtracted peak of the events with light (:func:`fit_toys`)."""
    e_vis = dep.per_event("e_vis")
    pe = response.sample(dep, rng=rng).lpmt - response.dark_mean["lpmt"]
    toy = np.arange(e_vis.size) // per_toy
    seen = e_vis > 0
    try:
        return fit_toys([pe[seen & (toy == t)] for t in range(n_toys)])
    except ValueError as err:
        raise ValueError(f"n_events = {n_events}: the toy peaks cannot be fitted ({err}); "
                         "simulate more events per toy") from None


def guide_tube_precision_toys(source, position, n_events: int, n_toys: int, *, rng: np.random.Generator,
                              response, scint) -> dict[str, float]:
    """:func:`peak_precision_toys` for a neutron source in the guide tube (outside the LS).

    ``n_toys`` toys of ``n_events`` emitted neutrons each, simulated at once with
    :func:`juno_calib.hardware.guide_tube.simulate_guide_tube` and the PE response, split by
    neutron and fitted one by one (:func:`fit_toys`). Only ~10% of the neutrons of a GT source
    land in the peak: ask for enough neutrons per toy.
    """
    validate.instance("source", source, Source, hint='get_source("AmC")')
    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    check_range("n_events", n_events, 500, 1e7)
    check_range("n_toys", n_toys, 5, 1e4)
    validate.integer("n_events * n_toys", int(n_events) * int(n_toys), 1000, 10**7)
    dep, _ = simulate_guide_tube(source, int(n_events) * int(n_toys), position, rng=rng, scint=scint,
                                 geometry=response.geometry)
    return _fit_consecutive_toys(dep, int(n_events), int(n_toys), n_events, rng=rng, response=response)
