"""The registry of studies an ensemble can repeat: name -> function(rng, **params) -> dict of floats.

A study is one pseudo-experiment of a calibration (or reach) analysis: it simulates what the
experiment would record with its own random generator, runs the analysis on it and returns the
fitted numbers with their quoted errors. :func:`register_study` declares its parameters with
defaults and allowed values, so that a whole grid is checked before any worker starts.

Registered here:

``resolution_center``
    the chapter-3 resolution fit: electrons of ten kinetic energies at the detector centre through
    the total-PE path, the relative width of each line, Eq. 1 of seed 000 fitted
    (:func:`juno_calib.calibration.resolution.fit_resolution`) -> a, c, b², ā with their errors.
``calibration_peak``
    the peak of a Table-1 source deployed on the z axis, fitted as the calibration does
    (:func:`juno_calib.calibration.peak_statistics.simulated_peak`) -> peak position in PE and its
    relative width, with their fit errors.

``nl_positron_bias``
    chapter 6's γ-source non-linearity fit -> positron-scale bias at 2 and 8 MeV.
``nonuniformity``
    chapter 5's whole non-uniformity calibration (source campaign, peak fits, shell map,
    corrected positrons, optionally the spallation φ map) -> a, b, c, ā with the errors the Eq. 1
    fit quotes, and the residual non-uniformity.

Adding a study is one decorated function in this module that calls the chapter's library entry
points with the toy's generator and returns plain floats, every fitted value next to the error the
single run quotes (``x`` and ``x_err``), so that chapter 10 can compare spread and error::

    @register_study("nonuniformity", outputs=("abar_pct", "abar_err_pct", "residual_pct"),
                    setup=send_detectors, config={"default": "design", "choices": CONFIGS},
                    n_points={"default": 250, "min": 10, "max": 2000})
    def nonuniformity(*, rng, config, n_points):
        resp, scint = detector(config)
        ...  # the chapter-5 campaign and fit with rng; return a dict of floats
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..core.params import CONFIGS, TYPE_NAMES, Parameter

#: A study's parameter: :class:`juno_calib.core.params.Parameter` with ``kind="study parameter"``.
StudyParameter = Parameter


@dataclasses.dataclass(frozen=True)
class Study:
    """A registered study: ``func(rng, **params)`` returns a dict of floats named in ``outputs``;
    ``setup(client, points)``, if given, prepares every worker of a Dask client for the parameter
    ``points`` (e.g. builds the detector response once here and sends it to the workers)."""

    name: str
    func: Callable[..., dict]
    parameters: dict[str, StudyParameter]
    outputs: tuple[str, ...]
    doc: str = ""
    setup: Callable[..., Any] | None = None

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter's value: the defaults updated with ``given`` (checked; unknown names raise)."""
        given = dict(given or {})
        unknown = [k for k in given if k not in self.parameters]
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for study {self.name}; "
                             "valid parameters:\n" + self.parameter_help())
        return {k: (p.convert(given[k]) if k in given else p.default) for k, p in self.parameters.items()}

    def parameter_help(self) -> str:
        return "\n".join(f"  {p.name} ({TYPE_NAMES[p.type]}, default {p.default!r}; {p.describe()})"
                         + (f": {p.help}" if p.help else "") for p in self.parameters.values())

    def __call__(self, rng: np.random.Generator, **params) -> dict[str, float]:
        out = self.func(rng=rng, **params)
        missing = [k for k in self.outputs if k not in out]
        if missing:
            raise RuntimeError(f"study {self.name} did not return {missing}")
        return {k: float(out[k]) for k in self.outputs}


_REGISTRY: dict[str, Study] = {}


def register_study(name: str, *, outputs: tuple[str, ...], setup: Callable[..., Any] | None = None,
                   **parameters: dict):
    """Decorator registering ``func(*, rng, **params) -> dict`` as study ``name``.

    ``parameters``: one dict per parameter, ``{"default": ..., "min": ..., "max": ...,
    "choices": [...], "help": "..."}``; the default fixes the type. ``setup(client, points)``:
    prepares the workers before the first toy (called by :func:`juno_calib.scale.ensemble.warm_up`).
    """
    def wrap(func):
        params = {k: Parameter(name=k, default=spec["default"], type=type(spec["default"]),
                               help=spec.get("help", ""), min=spec.get("min"), max=spec.get("max"),
                               choices=tuple(spec["choices"]) if "choices" in spec else None,
                               kind="study parameter")
                  for k, spec in parameters.items()}
        _REGISTRY[name] = Study(name=name, func=func, parameters=params, outputs=tuple(outputs),
                                doc=(func.__doc__ or "").strip(), setup=setup)
        return func
    return wrap


def studies() -> dict[str, Study]:
    """Every registered study by name."""
    return dict(_REGISTRY)


def get_study(name: str | Study) -> Study:
    """The study called ``name`` (a :class:`Study` is returned as it is)."""
    if isinstance(name, Study):
        return name
    if name not in _REGISTRY:
        raise ValueError(f"unknown study {name!r}; studies: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


# -- the detector a worker needs: built once, here or on the worker ----------------------------
_LOCK = threading.Lock()
_DETECTORS: dict[str, tuple] = {}  # a per-process cache (config -> (response, scintillator))


def detector(config: str):
    """``(DetectorResponse, Scintillator)`` of ``config`` at chapter 3's default map (64 x 17),
    total-PE map included (several seconds to build; deterministic: no random numbers go into it).
    Built once per process, or received from the client (:func:`send_detectors`)."""
    with _LOCK:
        if config not in _DETECTORS:
            from ..detector.response import DetectorResponse
            from ..particles.scintillator import Scintillator

            resp = DetectorResponse.load(config)
            resp.total_map  # noqa: B018  (built lazily on first use: build it now)
            _DETECTORS[config] = (resp, Scintillator.load(config))
        return _DETECTORS[config]


def _install_detectors(built: dict[str, tuple]) -> None:
    with _LOCK:
        for config, pair in built.items():
            _DETECTORS.setdefault(config, pair)


def send_detectors(client, points) -> None:
    """Build the detector of every ``config`` among ``points`` once (several configurations in
    parallel, as tasks on the cluster) and send it to every worker of ``client`` (~3 MB each),
    instead of letting each worker build its own."""
    configs = sorted({p["config"] for p in points})
    futures = {c: client.submit(detector, c, pure=False) for c in configs if c not in _DETECTORS}
    built = {c: (futures[c].result() if c in futures else _DETECTORS[c]) for c in configs}
    client.run(_install_detectors, built)


# -- studies -------------------------------------------------------------------------------------
#: Kinetic energies of the resolution fit, MeV (the grid of chapter 3).
RESOLUTION_ENERGIES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0)


@register_study(
    "resolution_center",
    outputs=("a_pct", "a_err_pct", "c_pct", "c_err_pct", "b2", "b2_err", "a_eff_pct", "sigma_1mev",
             "a2_free", "a2_free_err"),
    setup=send_detectors,
    config={"default": "design", "choices": CONFIGS, "help": "detector configuration"},
    n_events={"default": 4000, "min": 200, "max": 1_000_000, "help": "electrons per energy"},
)
def resolution_center(*, rng, config: str, n_events: int) -> dict:
    """Chapter 3's resolution fit at the centre (Eq. 1 of seed 000).

    Electrons of :data:`RESOLUTION_ENERGIES` at the centre, the PE of the LPMT (dark mean
    subtracted) over the light yield at the centre as the energy, the relative width of each line
    (error sigma/sqrt(2(n-1))) and Eq. 1 fitted. Percent for a, c, ā; ``a2_free`` (%²) and its
    error: the same linear fit of (sigma/E)² without the bound b² >= 0."""
    from ..calibration.resolution import fit_resolution, resolution_curve
    from ..particles.events import simulate_electrons

    resp, scint = detector(config)
    t = np.asarray(RESOLUTION_ENERGIES)
    ele = simulate_electrons(np.repeat(t, n_events), np.zeros(3), rng=rng, scint=scint)
    tot = resp.sample(ele, rng=rng)
    ly = resp.total_map.center["lpmt"]
    e = ((tot.lpmt - resp.dark_mean["lpmt"]) / ly).reshape(len(t), n_events)
    e_vis = e.mean(axis=1)
    res = e.std(axis=1, ddof=1) / e_vis
    res_err = res / math.sqrt(2 * (n_events - 1))
    fit = fit_resolution(e_vis, res, res_err)
    # the same weighted linear fit of (sigma/E)^2 without the bound b^2 >= 0: its a^2 and error
    w = 1.0 / (2.0 * res * res_err)
    design = np.stack([1.0 / e_vis, np.ones_like(e_vis), 1.0 / e_vis**2], axis=1) * w[:, None]
    coef = np.linalg.lstsq(design, res**2 * w, rcond=None)[0]
    cov = np.linalg.inv(design.T @ design)
    return {"a2_free": 1e4 * coef[0], "a2_free_err": 1e4 * math.sqrt(cov[0, 0]),
            "a_pct": 100 * fit["a"], "a_err_pct": 100 * fit["a_err"], "c_pct": 100 * fit["c"],
            "c_err_pct": 100 * fit["c_err"], "b2": fit["b2"], "b2_err": fit["b2_err"],
            "a_eff_pct": 100 * fit["a_eff"],
            "sigma_1mev": float(resolution_curve(1.0, fit["a"], fit["b"], fit["c"]))}


@register_study(
    "calibration_peak",
    outputs=("mean_pe", "mean_pe_err", "sigma_rel", "sigma_rel_err", "e_vis", "visible_fraction"),
    setup=send_detectors,
    source={"default": "Ge68", "choices": ("Cs137", "Mn54", "Co60", "K40", "Ge68", "AmBe", "AmC"),
            "help": "Table-1 source (neutron sources: their capture peak)"},
    r_m={"default": 0.0, "min": 0.0, "max": 17.2,
         "help": "source position on the z axis, m (ACU/CLS reach; the capsule stays inside the LS)"},
    n_events={"default": 2000, "min": 200, "max": 1_000_000, "help": "events in the peak branch"},
    config={"default": "design", "choices": CONFIGS, "help": "detector configuration"},
)
def calibration_peak(*, rng, source: str, r_m: float, n_events: int, config: str) -> dict:
    """One calibration run: a source's peak at (0, 0, r) fitted in PE and in visible energy.

    ``n_events`` decays in the peak branch (Gaussian fit within 2 sigma,
    :func:`juno_calib.calibration.peak_statistics.simulated_peak`)."""
    from ..calibration.peak_statistics import simulated_peak
    from ..core import units
    from ..hardware.sources import get_source

    resp, scint = detector(config)
    out = simulated_peak(get_source(source), [0.0, 0.0, r_m * units.m], n_events, rng=rng,
                         response=resp, scint=scint)
    return {k: float(v[0]) for k, v in out.items()}


# -- chapter 6: the physics non-linearity fit -> positron-scale bias -----------------------------
_NL_KITS: dict[tuple, dict] = {}  # a per-process cache: (config, n_template) -> calibration kit


def nl_kit(config: str, n_template: int) -> dict:
    """What every NL toy shares: the calibration's electron model and fit configuration, its Monte
    Carlo of the γ lines and of the annihilation γ (one fixed sample, its own seed 20211004: the
    toys vary the data, not the calibration's Monte Carlo; templates at the nominal light yield),
    and the true positron response at the centre (4 ``n_template`` annihilations)."""
    key = (config, int(n_template))
    with _LOCK:
        if key in _NL_KITS:
            return _NL_KITS[key]
    from ..calibration import nonlinearity as nl
    from ..calibration import nonlinearity_data as nld
    from ..core import units

    resp, scint = detector(config)
    optics, geometry = resp.optics, resp.geometry
    cfg = nl.NLFitConfig.load(config)
    model = nl.ElectronNLModel.build(
        z_over_a=scint.z_over_a, mean_excitation_mev=scint.mean_excitation_energy / units.MeV,
        density_gcm3=scint.density / (units.g / units.cm**3), n_ls=optics.n_ls,
        scint_yield_per_mev=optics.scint_yield * units.MeV, config=cfg)
    rng_calib, rng_truth = np.random.default_rng(np.random.SeedSequence(20211004)).spawn(2)
    a_nominal = resp.pmts.light_yield_center / units.unit_factor("PE/MeV")
    weights, shift_mc, shift_err = nld.line_templates(
        nld.LINES, n_template, model, rng=rng_calib, scint=scint, geometry=geometry, a_nominal=a_nominal,
        kb_nominal=cfg.kb_start, dark_pe=resp.dark_mean["lpmt"])
    t_pos = np.array([2.0, 8.0]) - 2 * nl.ELECTRON_MASS_MEV  # prompt 2 and 8 MeV
    ann_w = nld.annihilation_weights(model, n_template, rng=rng_calib, scint=scint, geometry=geometry)
    kit = {"cfg": cfg, "model": model, "weights": weights, "shift_mc": shift_mc, "shift_err": shift_err,
           "t_pos": t_pos, "ann_w": ann_w,
           "true_pos": nld.true_positron_pe(t_pos, rng=rng_truth, scint=scint, geometry=geometry,
                                            light_yield=resp.total_map.center["lpmt"],
                                            n_annihilation=4 * n_template)}
    with _LOCK:
        return _NL_KITS.setdefault(key, kit)


def _install_nl_kits(kits: dict) -> None:
    with _LOCK:
        for key, kit in kits.items():
            _NL_KITS.setdefault(key, kit)


def send_nl_kits(client, points) -> None:
    """Detectors, then the NL calibration kits of ``points``, built once and sent to the workers."""
    send_detectors(client, points)
    keys = sorted({(p["config"], p["n_template"]) for p in points})
    futures = {k: client.submit(nl_kit, *k, pure=False) for k in keys if k not in _NL_KITS}
    client.run(_install_nl_kits, {k: (futures[k].result() if k in futures else _NL_KITS[k]) for k in keys})


@register_study(
    "nl_positron_bias",
    outputs=("bias_2mev_pct", "bias_2mev_err_pct", "bias_8mev_pct", "bias_8mev_err_pct", "kB", "kB_err",
             "fit_valid"),
    setup=send_nl_kits,
    config={"default": "design", "choices": CONFIGS, "help": "detector configuration"},
    daq_scale={"default": 0.05, "min": 0.05, "max": 10.0,
               "help": "fraction of each source's Table-2 DAQ time simulated (chapter 6's daq_scale; "
                       "below 0.05 a line has fewer than the 20 events its peak fit needs)"},
    n_template={"default": 3000, "min": 1000, "max": 1_000_000,
                "help": "calibration Monte Carlo events per γ line (fixed across toys)"},
)
def nl_positron_bias(*, rng, config: str, daq_scale: float, n_template: int) -> dict:
    """Chapter 6's γ-source NL fit (no ¹²B) -> positron-scale bias at 2 and 8 MeV prompt.

    The true detector's γ peaks at the centre (chapter 6's lines, decays = ``daq_scale`` x the
    comprehensive programme's), fitted by the calibration's electron model at its maximum
    posterior (iminuit, the chapter's cross-check fit; the capsule shifts marginalised); the bias
    is predicted over true positron PE minus 1, its error propagated linearly from the fit's
    covariance. Percent."""
    from ..calibration import nonlinearity as nl
    from ..calibration import nonlinearity_data as nld
    from ..calibration.fitting import fit_max_posterior
    from ..core import units

    resp, scint = detector(config)
    kit = nl_kit(config, n_template)
    lines = nld.LINES
    energy = np.array([ln.energy for ln in lines])
    n_decays = {ln.source: max(1000, int(daq_scale * nld.programme_events(ln, config))) for ln in lines}
    guess = energy * resp.pmts.light_yield_center / units.unit_factor("PE/MeV")
    mean_pe, err_pe, _ = nld.simulate_peaks(lines, n_decays, rng=rng, scint=scint, geometry=resp.geometry,
                                            response=resp, guess_pe=guess)
    i_nh = [ln.name for ln in lines].index("nH")
    a_start = mean_pe[i_nh] / lines[i_nh].energy
    peaks = nl.PeakData(names=tuple(ln.name for ln in lines), energy=energy, mean_pe=mean_pe,
                        err_pe=np.hypot(err_pe, kit["shift_err"] * mean_pe),
                        capsule=np.array([ln.capsule for ln in lines]), shift_mc=kit["shift_mc"])
    fit = nl.NLFit(kit["model"], peaks, kit["weights"], kit["cfg"], dark_pe=resp.dark_mean["lpmt"],
                   a_start=a_start)
    best = fit_max_posterior(fit.log_likelihood, fit.params, fit.x0)

    def bias(theta):
        return fit.positron_pe(theta, kit["t_pos"], kit["ann_w"])[0] / kit["true_pos"] - 1.0

    b0 = bias(best.values)
    step = 1e-3 * np.where(best.errors > 0, best.errors, 1.0)
    jac = np.stack([(bias(best.values + np.eye(len(step))[i] * step[i])
                     - bias(best.values - np.eye(len(step))[i] * step[i])) / (2 * step[i])
                    for i in range(len(step))], axis=1)  # (2, n_params), a 4-parameter loop
    err = np.sqrt(np.einsum("ki,ij,kj->k", jac, best.covariance, jac))
    return {"bias_2mev_pct": 100 * b0[0], "bias_2mev_err_pct": 100 * err[0], "bias_8mev_pct": 100 * b0[1],
            "bias_8mev_err_pct": 100 * err[1], "kB": best.value("kB"), "kB_err": best.error("kB"),
            "fit_valid": float(best.valid)}


# -- chapter 5: the full non-uniformity calibration -> a, b, c, ā, residual ----------------------
#: Chapter 5's seed: the true detector of every non-uniformity toy is the one chapter 5 draws from
#: it (its first spawned stream), so the toys are pseudo-experiments of chapter 5's detector.
NU_TRUTH_SEED = 20230801

_NU_KITS: dict[tuple, dict] = {}  # a per-process cache: (config, imperfections, truth_shells) -> kit
_NU_TOYS: dict[tuple, dict] = {}  # a per-process cache of a toy's work that does not depend on the
#                                   vertex resolution (reused at the grid points of the same toy)
_NU_TOYS_KEEP = 4


def nu_kit(config: str, imperfections: bool, truth_shells: int) -> dict:
    """What every non-uniformity toy shares, all of it without random numbers of the toy: the true
    detector of chapter 5 (its efficiencies drawn once from :data:`NU_TRUTH_SEED`, as chapter 5
    does; ``imperfections`` on or off; the correction tabulated on ``truth_shells`` shells), the
    deployment, the scintillator, the fiducial radius and the n-H peak energy."""
    from ..core import validate

    validate.choice("config", config, CONFIGS)
    if not isinstance(imperfections, (bool, np.bool_)):
        raise TypeError(f"imperfections must be True or False, got {imperfections!r}")
    truth_shells = validate.integer("truth_shells", truth_shells, 6, 64)
    key = (config, bool(imperfections), int(truth_shells))
    with _LOCK:
        if key in _NU_KITS:
            return _NU_KITS[key]
    from ..calibration import nonuniformity_study as nus
    from ..core.params import load_quantities
    from ..core.rng import make_rng
    from ..hardware.deployment import Deployment
    from ..hardware.sources import get_source

    resp, scint = detector(config)
    variant = "all" if imperfections else "none"
    r_truth = make_rng(NU_TRUTH_SEED).spawn(9)[0]  # chapter 5's r_truth
    det = nus.build_truth(resp, rng=r_truth, variants=(variant,), n_shells=int(truth_shells))
    q = {k: v.internal for k, v in load_quantities("nonuniformity", config).items()}
    kit = {"det": det, "variant": variant, "scint": scint, "dep": Deployment.load(config),
           "r_fv": q["r_fiducial"], "e_nh": get_source("nH", config).peak_energy()}
    with _LOCK:
        return _NU_KITS.setdefault(key, kit)


def _install_nu_kits(kits: dict) -> None:
    with _LOCK:
        for key, kit in kits.items():
            _NU_KITS.setdefault(key, kit)


def send_nu_kits(client, points) -> None:
    """Detectors, then the true detectors of chapter 5 for ``points``, built once (as tasks on the
    cluster) and sent to every worker."""
    need = {"config", "imperfections", "truth_shells"}
    if not isinstance(points, (list, tuple)) or not all(isinstance(p, dict) and need <= set(p)
                                                         for p in points):
        raise TypeError(f"points must be a list of parameter dicts with {sorted(need)} "
                        f"(ensemble.grid_points of the nonuniformity study), got {points!r:.80}")
    send_detectors(client, points)
    keys = sorted({(p["config"], p["imperfections"], p["truth_shells"]) for p in points})
    futures = {k: client.submit(nu_kit, *k, pure=False) for k in keys if k not in _NU_KITS}
    client.run(_install_nu_kits, {k: (futures[k].result() if k in futures else _NU_KITS[k]) for k in keys})


def _nu_toy(rng, kit: dict, key: tuple, *, n_points: int, n_pool: int, n_positrons: int) -> dict:
    """The part of a non-uniformity toy that does not depend on the vertex resolution: the capture
    pool, the campaign and its peak fits, the map, the positrons (with their unit-normal vertex
    draws) and their recorded PE, the spallation captures' true positions; cached per toy."""
    with _LOCK:
        if key in _NU_TOYS:
            return _NU_TOYS[key]
    from ..calibration import nonuniformity as nu
    from ..calibration import nonuniformity_study as nus
    from ..calibration import truth
    from ..hardware.deployment import comprehensive_plan

    det, scint, dep = kit["det"], kit["scint"], kit["dep"]
    r_pool, r_camp, r_pos, r_rec, r_spall = rng.spawn(5)
    plan = comprehensive_plan(dep, n_points=n_points)
    pool = truth.capture_pool(n_pool, rng=r_pool, scint=scint, geometry=det.response.geometry,
                              config=det.response.pmts.config)
    camp = nus.campaign(det, plan, dep, pool, rng=r_camp)
    pts = camp.points[kit["variant"]]
    gmap = nu.build_map("shells", pts, det.response.geometry.r_ls)
    ev = truth.positron_events(det, np.arange(0.0, 9.0), n_positrons, rng=r_pos, scint=scint,
                               vertex_resolution_1mev=0.0)
    pe = nus.recorded(det, ev, rng=r_rec)[kit["variant"]]
    seq = r_spall.bit_generator.seed_seq  # the spallation draws: the same at every vertex resolution
    out = {"plan": plan, "pool": pool, "points": pts, "map": gmap, "events": ev, "pe": pe,
           "spallation_seed": (seq.entropy, seq.spawn_key)}
    if _NU_TOYS_KEEP < 1:  # reuse switched off
        return out
    with _LOCK:
        while len(_NU_TOYS) >= _NU_TOYS_KEEP:
            _NU_TOYS.pop(next(iter(_NU_TOYS)))
        return _NU_TOYS.setdefault(key, out)


@register_study(
    "nonuniformity",
    outputs=("a_pct", "a_err_pct", "b_pct", "b2_pct2", "b2_err_pct2", "c_pct", "c_err_pct", "abar_pct",
             "abar_err_pct", "residual_pct", "residual_stat_pct", "abar_3d_pct", "residual_3d_pct",
             "g_err_median_pct", "y0"),
    setup=send_nu_kits,
    config={"default": "design", "choices": CONFIGS, "help": "detector configuration"},
    n_points={"default": 50, "min": 20, "max": 1000,
              "help": "points of the comprehensive Am-C map (chapter 5's n_points; seed 000: ~250)"},
    vertex_resolution_1mev={"default": 10.0, "min": 0.0, "max": 100.0,
                            "help": "vertex resolution at 1 MeV, cm (scales as 1/sqrt(E); chapter 5)"},
    imperfections={"default": True, "choices": (True, False),
                   "help": "true detector with (True) or without (False) chapter 5's imperfections"},
    n_pool={"default": 300, "min": 100, "max": 20000,
            "help": "simulated Am-C captures translated to every source point (chapter 5's n_pool)"},
    n_positrons={"default": 1500, "min": 1500, "max": 200000,
                 "help": "positrons per kinetic energy, 9 energies (chapter 5's n_positrons; the residual "
                         "needs >= 2 events in each of its 768 voxels: below 1500 a toy fails too often)"},
    truth_shells={"default": 16, "min": 6, "max": 64,
                  "help": "shells of the true detector's tabulated phi correction (shared by all toys)"},
    spallation_days={"default": 0.0, "min": 0.0, "max": 3650.0,
                     "help": "days of spallation n-H captures for the 3D map (chapter 5: 30); 0: no 3D "
                             "map (its outputs are NaN; it costs ~1 s a toy)"},
    spallation_rate_per_day={"default": 84000.0, "min": 1000.0, "max": 1e7,
                             "help": "spallation n-H captures per day kept after the muon veto (chapter 5)"},
)
def nonuniformity(*, rng, config: str, n_points: int, vertex_resolution_1mev: float, imperfections: bool,
                  n_pool: int, n_positrons: int, truth_shells: int, spallation_days: float,
                  spallation_rate_per_day: float) -> dict:
    """Chapter 5's non-uniformity calibration, one pseudo-experiment.

    The true detector is chapter 5's (shared, :func:`nu_kit`); everything the experiment records
    is drawn from the toy's stream: the Am-C capture pool, the source positions and the runs of
    the comprehensive plan (``n_points``), their Crystal Ball peak fits and the shell map built
    from them, the IBD-like positrons (``n_positrons`` at each of 0..8 MeV kinetic, uniform in
    the LS, vertices smeared by ``vertex_resolution_1mev`` cm at 1 MeV) with their recorded PE,
    and the spallation n-H captures of the 3D map. Returns the Eq. 1 fit of the corrected
    positrons in the fiducial volume (a, b, c, ā in percent, with the errors the fit quotes; the
    error of ā propagated from the fit's covariance), the residual non-uniformity over the
    fiducial volume's voxels and its statistical part, ā and the residual with the spallation φ
    modulation, the median error of g per map point and Y0 (PE/MeV at the centre).

    The part of the toy that does not depend on the vertex resolution is cached per process
    (the same toy at several vertex resolutions simulates its campaign and positrons once; the
    results do not depend on whether the cache is hit)."""
    from ..calibration import nonuniformity as nu
    from ..calibration import truth
    from ..core import units, validate

    validate.generator("rng", rng)
    p = get_study("nonuniformity").resolve(  # every parameter checked against its registered range
        {"config": config, "n_points": n_points, "vertex_resolution_1mev": vertex_resolution_1mev,
         "imperfections": imperfections, "n_pool": n_pool, "n_positrons": n_positrons,
         "truth_shells": truth_shells, "spallation_days": spallation_days,
         "spallation_rate_per_day": spallation_rate_per_day})
    config, n_points, vertex_resolution_1mev, imperfections, n_pool, n_positrons, truth_shells = (
        p[k] for k in ("config", "n_points", "vertex_resolution_1mev", "imperfections", "n_pool",
                       "n_positrons", "truth_shells"))
    spallation_days, spallation_rate_per_day = p["spallation_days"], p["spallation_rate_per_day"]
    kit = nu_kit(config, imperfections, truth_shells)
    seq = rng.bit_generator.seed_seq
    key = (seq.entropy, seq.spawn_key, config, bool(imperfections), int(truth_shells), int(n_points),
           int(n_pool), int(n_positrons))
    toy = _nu_toy(rng, kit, key, n_points=n_points, n_pool=n_pool, n_positrons=n_positrons)
    det, ev, pe, gmap, pts = kit["det"], toy["events"], toy["pe"], toy["map"], toy["points"]
    r_ls, r_fv = det.response.geometry.r_ls, kit["r_fv"]
    y0 = pts.y0 / kit["e_nh"]
    x_rec = truth.smear(ev, vertex_resolution_1mev * units.cm)
    res = nu.assess(gmap, y0, ev, pe, ev["expected"][:, 0], r_fv, x_rec=x_rec)
    abar_err = _abar_error(res["points"])
    res3d = {"abar": math.nan, "residual": math.nan}
    if spallation_days > 0:
        entropy, spawn_key = toy["spallation_seed"]
        r_spall = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))
        edges = (np.linspace(0, 1, 9), np.linspace(-1, 1, 9), np.linspace(0, 2 * np.pi, 17))  # chapter 5's
        vox = truth.spallation_voxels(det, edges, spallation_rate_per_day * spallation_days, rng=r_spall,
                                      pool=toy["pool"],
                                      vertex_resolution_1mev=vertex_resolution_1mev * units.cm)
        res3d = nu.assess(nu.PhiModulation.fit(gmap, vox, r_ls), y0, ev, pe, ev["expected"][:, 0], r_fv,
                          x_rec=x_rec)
    return {"a_pct": 100 * res["a"], "a_err_pct": 100 * res["a_err"], "b_pct": 100 * res["b"],
            "b2_pct2": 1e4 * res["b2"], "b2_err_pct2": 1e4 * res["b2_err"], "c_pct": 100 * res["c"],
            "c_err_pct": 100 * res["c_err"],
            "abar_pct": 100 * res["abar"], "abar_err_pct": 100 * abar_err,
            "residual_pct": 100 * res["residual"], "residual_stat_pct": 100 * res["residual_stat"],
            "abar_3d_pct": 100 * res3d["abar"], "residual_3d_pct": 100 * res3d["residual"],
            "g_err_median_pct": 100 * float(np.median(pts.g_err)), "y0": y0}


def _abar_error(points: dict) -> float:
    """The error of ā = sqrt(a² + (1.6 b)² + (c/1.6)²) that the Eq. 1 fit of ``points`` quotes: ā² is
    linear in the fitted (a², b², c²), so its variance is v^T C v with v = (1, 1.6², 1/1.6²) and C
    the covariance of the weighted linear fit (the one
    :func:`juno_calib.calibration.resolution.fit_resolution` quotes its errors from), and
    σ(ā) = σ(ā²) / (2 ā)."""
    from ..calibration.resolution import fit_resolution

    e, rel, err = (np.asarray(points[k], dtype=float) for k in ("e", "sigma_rel", "error"))
    fit = fit_resolution(e, rel, err)
    w = 1.0 / (2.0 * rel * err)  # 1 / error of (sigma/E)^2, as in fit_resolution
    design = np.stack([1.0 / e, np.ones_like(e), 1.0 / e**2], axis=1)
    cov = np.linalg.inv((design * w[:, None] ** 2).T @ design)
    v = np.array([1.0, 1.6**2, 1.0 / 1.6**2])
    return float(np.sqrt(v @ cov @ v) / (2.0 * fit["a_eff"]))
