"""Chapter 5's experiment loop: simulate a calibration campaign with the true detector, hand only
its spectra to the calibration, and assess the result on physics events.

The functions here join :mod:`juno_calib.calibration.truth` (the experiment) and
:mod:`juno_calib.calibration.nonuniformity` (the calibration); the calibration functions are
called with measured quantities only (run spectra, nominal positions, reconstructed vertices).

The vertex of the physics events (:class:`VertexSettings`, for the chapter and for ensemble
studies): ``vertex_mode="smeared"`` (a Gaussian of ``vertex_resolution_1mev_cm / sqrt(E)``) or
``"reconstructed"`` (the empirical residuals of the chapter-4 likelihood fit,
:mod:`juno_calib.calibration.vertex_model`); :func:`event_vertices` applies either,
:func:`residual_by_radius` splits the residual non-uniformity into shells, and
:func:`sample_events` with :func:`paired_validation` checks the model against direct fits.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import units, validate
from ..detector.true_detector import IMPERFECTIONS, Imperfections, TrueDetector, pmt_efficiencies
from . import nonuniformity as nu
from . import truth
from . import vertex_model as vm

VARIANTS = ("all", "none") + tuple(f"no_{name}" for name in IMPERFECTIONS)
"""Efficiency sets of the study of imperfections: all on, all off, all but one."""


def variant_sets(which=VARIANTS) -> dict:
    """Imperfections switched on in every variant."""
    if isinstance(which, str) or not isinstance(which, (list, tuple)):
        raise TypeError(f"which must be a list of variant names (from {VARIANTS}), got {which!r}")
    out = {}
    for name in which:
        if name == "all":
            out[name] = IMPERFECTIONS
        elif name == "none":
            out[name] = ()
        elif name.startswith("no_") and name[3:] in IMPERFECTIONS:
            out[name] = tuple(i for i in IMPERFECTIONS if i != name[3:])
        else:
            raise ValueError(f"which: variant {name!r} is not one of {', '.join(VARIANTS)}")
    return out


def build_truth(response, *, rng: np.random.Generator, variants=VARIANTS, n_shells: int = 16,
                step: float = 1.2, imperfections: Imperfections | None = None) -> TrueDetector:
    """The true detector of ``response`` with one efficiency set per variant (same random draws)."""
    from ..detector.response import DetectorResponse

    validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')
    validate.generator("rng", rng)
    if imperfections is not None:
        validate.instance("imperfections", imperfections, Imperfections, hint="Imperfections.load()")
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
    truth._detector(detector, "light_variants", "weights", "names")
    validate.generator("rng", rng)
    if variants is not None:
        for v in variants:
            validate.choice("variants", v, detector.names)
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
    truth._detector(detector, "names")
    validate.generator("rng", rng)
    if not isinstance(events, dict) or "expected" not in events:
        raise TypeError("events must be a dict with 'expected' (truth.positron_events(...)), got "
                        f"{type(events).__name__}")
    dark = detector.response.dark_mean["lpmt"]
    return {name: truth.record(events["expected"][:, v], dark, rng=r)
            for v, (name, r) in enumerate(zip(detector.names, rng.spawn(len(detector.names)), strict=True))}


def assess_points(points, scheme: str, r_ref: float, e_peak: float, events: dict, pe, expected,
                  r_fv: float, x_rec=None) -> dict:
    """Map ``points`` with ``scheme`` and :func:`nonuniformity.assess` the positrons with it."""
    gmap = nu.build_map(scheme, points, r_ref)
    return {**nu.assess(gmap, points.y0 / e_peak, events, pe, expected, r_fv, x_rec=x_rec), "map": gmap}


# ---- the vertex of the physics events: smeared, or from the reconstruction -----------------------

VERTEX_MODES = ("smeared", "reconstructed")
"""How chapter 5 places the physics events: a Gaussian smearing of the true vertex, or the
empirical residuals of the chapter-4 reconstruction (:mod:`juno_calib.calibration.vertex_model`)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class VertexSettings:
    """The vertex of chapter 5's physics events, for the chapter and for ensemble studies.

    ``vertex_mode``: one of :data:`VERTEX_MODES`. ``"smeared"``: every coordinate of the true
    vertex smeared by a Gaussian of ``vertex_resolution_1mev_cm / sqrt(E_vis / MeV)``
    (:func:`juno_calib.calibration.truth.smear`). ``"reconstructed"``: residuals resampled from
    a sample of positrons reconstructed hit by hit (``model``, a
    :class:`juno_calib.calibration.vertex_model.SampleSpec`, cached on disk), in the radial bins
    ``r_edges_m`` (m); ``vertex_resolution_1mev_cm`` is then unused. The ensemble's sweep of ā
    vs the vertex resolution varies ``vertex_resolution_1mev_cm`` in the smeared mode.

    In an ensemble, build the model once with a fixed generator (``vertex_model(settings,
    rng=make_rng(model_seed), r_ls=...)``: the cached sample is keyed by the generator's state,
    so a fresh generator per toy would rebuild it, ~1 min of CPU each) and give each toy's own
    generator to :func:`event_vertices`, which draws the residuals.
    """

    vertex_mode: str = "smeared"
    vertex_resolution_1mev_cm: float = 10.0
    model: vm.SampleSpec = dataclasses.field(default_factory=vm.SampleSpec)
    r_edges_m: tuple = vm.R_EDGES_M

    def __post_init__(self):
        validate.choice("vertex_mode", self.vertex_mode, VERTEX_MODES)
        validate.number("vertex_resolution_1mev_cm", self.vertex_resolution_1mev_cm, 0.0, 100.0, unit="")
        validate.instance("model", self.model, vm.SampleSpec, hint="vertex_model.SampleSpec()")
        edges = validate.array("r_edges_m", self.r_edges_m, 0.0, 17.7)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"r_edges_m must be increasing radii in m (at least two), "
                             f"got {self.r_edges_m!r}")


def vertex_model(settings: VertexSettings, *, rng: np.random.Generator, r_ls: float,
                 directory=None) -> vm.VertexModel:
    """The reconstruction-derived vertex model of ``settings`` (its sample cached on disk)."""
    validate.instance("settings", settings, VertexSettings, hint="VertexSettings()")
    validate.generator("rng", rng)
    r_ls = validate.number("r_ls", r_ls, 1.0, 1e5, unit="m")
    sample = vm.reconstructed_positrons(settings.model, rng=rng, directory=directory)["model"]
    return vm.VertexModel.from_sample(sample, r_edges=np.asarray(settings.r_edges_m) * units.m, r_ls=r_ls)


def event_vertices(settings: VertexSettings, events: dict, *, rng: np.random.Generator,
                   model: vm.VertexModel | None = None) -> np.ndarray:
    """Reconstructed vertices (N, 3) mm of positron ``events`` (:func:`truth.positron_events`).

    Smeared mode: :func:`truth.smear` with the events' own normal draws ``z`` (``rng`` unused).
    Reconstructed mode: ``model.sample`` at the true vertices and visible energies.
    """
    validate.instance("settings", settings, VertexSettings, hint="VertexSettings()")
    validate.generator("rng", rng)
    if settings.vertex_mode == "smeared":
        return truth.smear(events, settings.vertex_resolution_1mev_cm * units.cm)
    validate.instance("model", model, vm.VertexModel, hint="vertex_model(settings, rng=...)")
    if not isinstance(events, dict) or not {"x_true", "e_vis"} <= set(events):
        raise TypeError("events must be a dict with 'x_true' and 'e_vis' (truth.positron_events(...)), "
                        f"got {type(events).__name__}")
    return model.sample(events["x_true"], events["e_vis"], rng=rng)


def residual_by_radius(gmap, y0: float, events: dict, expected, r_fv: float, x_rec, n_shells: int = 8,
                       shape=(8, 12)) -> dict:
    """The residual non-uniformity shell by shell: ``n_shells`` shells equal in volume in the
    fiducial volume (of the true vertex), each cut into ``shape`` = (cos theta, phi) voxels.

    Per shell: ``residual`` = sqrt(raw^2 - stat^2) with ``raw`` the rms of the voxel means of
    corrected/true energy about the fiducial volume's mean (a shell-wide offset counts) and
    ``stat`` its part from the events per voxel; ``offset`` the shell's mean relative to the
    volume's; ``r`` the shell's middle radius (mm, in r^3).
    """
    if not isinstance(events, dict) or not {"e_vis", "x_true"} <= set(events):
        raise TypeError(f"events must be a dict with 'e_vis' and 'x_true', got {type(events).__name__}")
    n_shells = validate.integer("n_shells", n_shells, 1, 100)
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise TypeError(f"shape must be (n_cos, n_phi), got {shape!r}")
    r_fv = validate.number("r_fv", r_fv, 0.0, 1e6, lo_open=True, unit="m")
    ok = np.asarray(events["e_vis"]) > 0
    ratio = nu.correct(np.asarray(expected)[ok], np.asarray(x_rec)[ok], gmap, y0) / events["e_vis"][ok]
    whole = nu.residual_nonuniformity(ratio, events["x_true"][ok], r_fv, shape=(n_shells, *shape))
    x = events["x_true"][ok]
    r = np.linalg.norm(x, axis=1)
    sel = r < r_fv
    shell = np.minimum(((r[sel] / r_fv) ** 3 * n_shells).astype(int), n_shells - 1)
    vox = whole["voxel_mean"].reshape(n_shells, -1) / whole["scale"]
    cnt = np.bincount(shell, minlength=n_shells) / vox.shape[1]
    spread = np.array([np.std(ratio[sel][shell == s]) for s in range(n_shells)]) / whole["scale"]
    raw = np.sqrt(np.mean((vox - 1.0) ** 2, axis=1))
    stat = spread / np.sqrt(np.maximum(cnt, 1.0))
    edges = r_fv * np.cbrt(np.arange(n_shells + 1) / n_shells)
    return {"r": r_fv * np.cbrt((np.arange(n_shells) + 0.5) / n_shells), "edges": edges,
            "residual": np.sqrt(np.maximum(raw**2 - stat**2, 0.0)), "raw": raw, "stat": stat,
            "offset": vox.mean(axis=1) - 1.0}


def sample_events(detector: TrueDetector, sample: dict, *, rng: np.random.Generator) -> dict:
    """Positron events (as :func:`truth.positron_events` returns them) of a reconstructed
    ``sample`` (:func:`vertex_model.reconstructed_positrons`): the true detector's expected PE
    of every efficiency set from the sample's deposits, new normal draws ``z`` for the smeared
    vertex, and ``x_direct``, the vertex the likelihood fit reconstructed from the hits."""
    truth._detector(detector, "light_variants")
    validate.generator("rng", rng)
    node, e_vis, x, x_rec = vm._sample_arrays(sample)
    for key in ("dep_event", "dep_position", "dep_e_vis", "kinetic"):
        if key not in sample:
            raise TypeError(f"sample lacks {key!r} (reconstructed_positrons(...) returns it)")
    ev = np.asarray(sample["dep_event"])
    light = detector.light_variants(sample["dep_position"]) * np.asarray(sample["dep_e_vis"])[:, None]
    expected = np.stack([np.bincount(ev, weights=light[:, v], minlength=len(x))
                         for v in range(light.shape[1])], 1)
    return {"k": node, "kinetic": np.asarray(sample["kinetic"], dtype=float), "e_vis": e_vis,
            "expected": expected, "x_true": x, "z": rng.standard_normal(x.shape), "x_direct": x_rec}


def _rms_points(energy, group) -> dict:
    """sigma/E of every group from the rms of its energies (small samples; see paired_validation)."""
    out = {"e": [], "sigma_rel": [], "error": []}
    for k in np.unique(group):  # a handful of energies
        e = energy[group == k]
        m, rel = float(e.mean()), float(e.std(ddof=1) / e.mean())
        out["e"].append(m)
        out["sigma_rel"].append(rel)
        out["error"].append(rel / np.sqrt(2 * (e.size - 1)))
    return {k: np.array(v) for k, v in out.items()}


def paired_validation(gmap, y0: float, events: dict, pe, expected, r_fv: float, x_direct, draw, *,
                      rng: np.random.Generator, n_boot: int = 100, shape=(2, 2, 3)) -> dict:
    """ā, the residual non-uniformity and the vertex term of the correction with the direct
    reconstruction ``x_direct`` and with the model (``draw(rng) -> (N, 3)`` vertices), on the
    same events and recorded PE; the differences direct - model with bootstrap errors.

    For a few hundred events: the residual uses the coarse voxels ``shape``; the vertex term
    ``dg_rms`` is the rms of ``g(x_rec) / g(x_true) - 1`` over the events in the fiducial
    volume (the error the vertex adds to each corrected energy). Each bootstrap replica
    resamples the events of every energy (``events["k"]``) and draws the model anew, so the
    errors hold both statistics. With tens of events per energy a peak fit is not stable: σ/E
    of every energy is the rms of its corrected energies over their mean (error
    ``σ/E / sqrt(2 (n - 1))``), for the direct and the model vertices alike.
    """
    validate.generator("rng", rng)
    n_boot = validate.integer("n_boot", n_boot, 2, 10**4)
    if not callable(draw):
        raise TypeError(f"draw must be a callable rng -> (N, 3) vertices, got {type(draw).__name__}")
    x_direct = validate.positions("x_direct", x_direct, single=False)
    pe, expected = np.asarray(pe, dtype=float), np.asarray(expected, dtype=float)
    g_true = gmap.g(np.asarray(events["x_true"]))

    def stats(idx, x_rec):
        sub = {k: np.asarray(events[k])[idx] for k in ("k", "e_vis", "x_true")}
        fv = np.linalg.norm(x_rec[idx], axis=1) < r_fv
        e = nu.correct(pe[idx], x_rec[idx], gmap, y0)
        fit = nu.fit_eq1(_rms_points(e[fv], sub["k"][fv]))
        ok = sub["e_vis"] > 0
        ratio = nu.correct(expected[idx][ok], x_rec[idx][ok], gmap, y0) / sub["e_vis"][ok]
        res = nu.residual_nonuniformity(ratio, sub["x_true"][ok], r_fv, shape=shape)["residual"]
        r_scale = np.minimum(1.0, gmap.r_ref / np.maximum(np.linalg.norm(x_rec[idx], axis=1), 1.0))
        dg = gmap.g(x_rec[idx] * r_scale[:, None])[fv] / g_true[idx][fv] - 1
        return np.array([fit["abar"], res, np.sqrt(np.mean(dg**2))])

    n = len(x_direct)
    every = np.arange(n)
    direct = stats(every, x_direct)
    model = np.mean([stats(every, draw(r)) for r in rng.spawn(5)], axis=0)
    groups = [np.flatnonzero(np.asarray(events["k"]) == k) for k in np.unique(events["k"])]
    if min(g.size for g in groups) < 10:
        raise ValueError(f"events: every energy (events['k']) needs at least 10 events, got "
                         f"{min(g.size for g in groups)}")
    boot = []
    for r in rng.spawn(n_boot):  # a bootstrap stratified by energy: a hundred small fits
        idx = np.concatenate([r.choice(g, g.size) for g in groups])
        boot.append(stats(idx, x_direct) - stats(idx, draw(r)))
    err = np.std(boot, axis=0)
    names = ("abar", "residual", "dg_rms")
    return {**{f"{k}_direct": float(v) for k, v in zip(names, direct, strict=True)},
            **{f"{k}_model": float(v) for k, v in zip(names, model, strict=True)},
            **{f"{k}_diff": float(d) for k, d in zip(names, direct - model, strict=True)},
            **{f"{k}_diff_err": float(e) for k, e in zip(names, err, strict=True)}}
