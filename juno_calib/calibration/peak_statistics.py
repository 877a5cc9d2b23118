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
    (``captured_ls``, ``captured_acrylic``, ``captured_water``, ``nh``, ``nh_reach``).
    """
    validate.instance("source", source, Source, hint='get_source("AmC")')
    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    check_range("n_events", n_events, 1000, 1e7)
    pos = validate.positions("positions", positions, r_max=1e6, volume="the experiment (1 km)")
    dark = response.dark_mean["lpmt"]
    keys = ("sigma_rel", "sigma_rel_err", "mean_pe", "mean_pe_err", "peak_yield", "captured_ls",
            "captured_acrylic", "captured_water", "nh", "nh_reach")
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
