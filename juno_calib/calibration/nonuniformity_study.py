"""Chapter 5's experiment loop: simulate a calibration campaign with the true detector, hand only
its spectra to the calibration, and assess the result on physics events.

The functions here join :mod:`juno_calib.calibration.truth` (the experiment) and
:mod:`juno_calib.calibration.nonuniformity` (the calibration); the calibration functions are
called with measured quantities only (run spectra, nominal positions, reconstructed vertices).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..detector.true_detector import IMPERFECTIONS, Imperfections, TrueDetector, pmt_efficiencies
from . import nonuniformity as nu
from . import truth

VARIANTS = ("all", "none") + tuple(f"no_{name}" for name in IMPERFECTIONS)
"""Efficiency sets of the study of imperfections: all on, all off, all but one."""


def variant_sets(which=VARIANTS) -> dict:
    """Imperfections switched on in every variant."""
    out = {}
    for name in which:
        if name == "all":
            out[name] = IMPERFECTIONS
        elif name == "none":
            out[name] = ()
        elif name.startswith("no_") and name[3:] in IMPERFECTIONS:
            out[name] = tuple(i for i in IMPERFECTIONS if i != name[3:])
        else:
            raise ValueError(f"variant {name!r} is not one of {', '.join(VARIANTS)}")
    return out


def build_truth(response, *, rng: np.random.Generator, variants=VARIANTS, n_shells: int = 16,
                step: float = 1.2, imperfections: Imperfections | None = None) -> TrueDetector:
    """The true detector of ``response`` with one efficiency set per variant (same random draws)."""
    imp = Imperfections.load(response.pmts.config) if imperfections is None else imperfections
    sets = variant_sets(variants)
    seed = rng.integers(2**63)
    eff = [pmt_efficiencies(response, imp, on, rng=np.random.default_rng(seed)) for on in sets.values()]
    w = np.stack([e["weight"] for e in eff], axis=1)
    return TrueDetector.build(response, w, tuple(sets), n_shells=n_shells, step=step,
                              exact=eff[0]["patch_set"])


@dataclasses.dataclass(frozen=True)
class Campaign:
    """A simulated calibration campaign: the plan, the true positions, the recorded spectra of
    every efficiency set (``runs[v]``) and the points measured from them (``points[v]``)."""

    plan: object
    true_position: np.ndarray
    n_events: np.ndarray
    runs: dict
    points: dict


def campaign(detector: TrueDetector, plan, deployment, pool, *, rng: np.random.Generator,
             variants=None) -> Campaign:
    """Run the plan with the true detector and measure every run (peak fits)."""
    truth.check_plan(plan, deployment)
    r_pos, r_runs = rng.spawn(2)
    x = truth.true_positions(plan, deployment, rng=r_pos)
    n = truth.run_events(plan, deployment.config)
    lam = truth.pool_light(detector, pool, x)
    names = detector.names if variants is None else tuple(variants)
    dark = detector.response.dark_mean["lpmt"]
    runs, points = {}, {}
    for name, r in zip(names, r_runs.spawn(len(names)), strict=True):  # a few efficiency sets
        runs[name] = truth.source_runs(lam[detector.names.index(name)], n, dark, rng=r)
        points[name] = nu.measure_runs(runs[name], plan.position, plan.system)
    return Campaign(plan=plan, true_position=x, n_events=n, runs=runs, points=points)


def recorded(detector: TrueDetector, events: dict, *, rng: np.random.Generator) -> dict:
    """Recorded PE of the positron events for every efficiency set: {name: (N,)}."""
    dark = detector.response.dark_mean["lpmt"]
    return {name: truth.record(events["expected"][:, v], dark, rng=r)
            for v, (name, r) in enumerate(zip(detector.names, rng.spawn(len(detector.names)), strict=True))}


def assess_points(points, scheme: str, r_ref: float, e_peak: float, events: dict, pe, expected,
                  r_fv: float, x_rec=None) -> dict:
    """Map ``points`` with ``scheme`` and :func:`nonuniformity.assess` the positrons with it."""
    gmap = nu.build_map(scheme, points, r_ref)
    return {**nu.assess(gmap, points.y0 / e_peak, events, pe, expected, r_fv, x_rec=x_rec), "map": gmap}
