"""Chapter 7's experiment loop: what the calibration measures, then the Bayesian fit of Eq. 1.

:func:`measure` plays the experiment with the true detector and hands on only measured
quantities; :func:`run` adds the fit of :mod:`juno_calib.calibration.resolution_fit`.

The measurements:

* **γ lines at the centre** (:func:`juno_calib.calibration.resolution_fit.centre_peaks`): the
  Table 1 sources on the ACU, with the comprehensive programme's statistics, through chapter 3's
  response (at the centre the true detector of chapter 5 differs from it by a constant factor
  of the light yield, which the calibration measures with the n-H line).
* **The calibration's γ terms**: every line simulated by the calibration itself at both ends of
  the literature range of the Birks constant, with its measured light yield and the dark noise of
  random triggers (:func:`juno_calib.calibration.resolution_fit.gamma_line_width`).
* **n-H captures over the volume**: chapter 5's true detector (real PMT layout, imperfections)
  and its Am-C campaign give the map; spallation-neutron captures recorded by the same detector
  (:func:`juno_calib.calibration.volume_events.spallation_captures`) are corrected with it in the
  fiducial volume and their peak width is measured.
* **¹²B decays over the volume**: cosmogenic ¹²B recorded by the same true detector
  (:func:`juno_calib.calibration.volume_events.b12_decays`, a stated rate x live time), corrected
  with the same map in the fiducial volume and binned; the calibration predicts their spectrum
  with its own NL model (chapter 6's, with its posterior as a prior) and the n-H templates of its
  own γ simulation (:func:`juno_calib.calibration.resolution_fit.b12_spectrum`).
* **Positrons' truth** (a check, never fitted): chapter 5's IBD-like positrons through the same
  detector and map, with their Eq. 1 least-squares fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import units, validate
from ..core.params import check_choice, check_range, load_quantities
from ..detector.response import DetectorResponse
from ..hardware.deployment import Deployment, comprehensive_plan
from ..hardware.sources import get_source
from ..particles.scintillator import Scintillator
from . import nonuniformity as nu
from . import nonuniformity_study as nu_study
from . import truth
from .resolution import fit_peak
from .resolution_fit import (
    CENTRE_LINES,
    ResolutionData,
    b12_parameters,
    b12_spectrum,
    centre_peaks,
    concatenate,
    default_parameters,
    fit,
    gamma_line_width,
)
from .volume_events import b12_decays, spallation_captures

KB_UNIT = units.g / units.cm**2 / units.MeV
SCHEMES = ("shells", "delaunay", "rbf")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """What chapter 7 varies; the defaults are its parameters' defaults (kB in g/cm²/MeV)."""

    config: str = "design"
    daq_scale: float = 1.0
    gamma_events: int = 20_000
    kb_calibration: float = 12.05e-3
    s_gamma_floor: float = 0.1
    a_prior_rel: float = 0.3
    spallation_days: float = 1.0
    n_positrons: int = 2000
    map_scheme: str = "shells"
    truth_shells: int = 16
    n_pool: int = 1000
    n_walkers: int = 32
    n_steps: int = 10_000
    use_b12: bool = True
    cloud_correction: bool = True
    cloud_events: int = 100_000
    b12_days: float = 30.0
    b12_rate: float = 1000.0

    def __post_init__(self):
        check_choice("config", self.config, ("design", "as_built"))
        check_range("daq_scale", self.daq_scale, 0.0, 1e3, lo_open=True)
        check_range("gamma_events", self.gamma_events, 500, 10**7)
        check_range("kb_calibration", self.kb_calibration, 0.0, 0.05, unit="g/cm2/MeV")
        check_range("s_gamma_floor", self.s_gamma_floor, 0.0, 10.0, lo_open=True)
        check_range("a_prior_rel", self.a_prior_rel, 0.0, 10.0, lo_open=True)
        check_range("spallation_days", self.spallation_days, 0.0, 3650.0, lo_open=True)
        check_range("n_positrons", self.n_positrons, 200, 10**6)
        check_choice("map_scheme", self.map_scheme, SCHEMES)
        check_range("truth_shells", self.truth_shells, 4, 128)
        check_range("n_pool", self.n_pool, 50, 10**6)
        check_range("n_walkers", self.n_walkers, 10, 10**5)
        check_range("n_steps", self.n_steps, 10, 10**7)
        if not isinstance(self.use_b12, (bool, np.bool_)):
            raise TypeError(f"use_b12 must be True or False, got {self.use_b12!r}")
        check_range("b12_days", self.b12_days, 0.0, 3650.0, lo_open=True, unit="day")
        if not isinstance(self.cloud_correction, (bool, np.bool_)):
            raise TypeError(f"cloud_correction must be True or False, got {self.cloud_correction!r}")
        check_range("cloud_events", self.cloud_events, 1000, 10**8)
        check_range("b12_rate", self.b12_rate, 0.0, 1e6, lo_open=True, unit="1/day")


def measure(settings: Settings, *, rng: np.random.Generator) -> dict:
    """Everything the calibration measures (see the module docstring), as a dict.

    Keys: ``peaks`` (centre lines), ``light_yield`` (PE/MeV from the n-H line), ``dark_pe``,
    ``w_low``/``w_high`` (γ terms at the ends of the k_B range), ``t_nominal``, ``volume``
    (the corrected spallation peak: ``sigma_rel``, ``sigma_rel_err``, ``e``, ``n_fv``,
    ``n_events``), ``positrons`` (Eq. 1 fit of the positrons' truth, with ``points``),
    ``data`` (:class:`ResolutionData` of all peaks), the ``detector`` and the ``map``.
    """
    validate.instance("settings", settings, Settings, hint="Settings()")
    validate.generator("rng", rng)
    s = settings
    r_centre, r_dark, r_low, r_high, r_det, r_pool, r_camp, r_spall, r_pos, r_rec = rng.spawn(10)
    r_b12, r_cloud = rng.spawn(2)  # spawned after the others: the streams above stay those of before
    response = DetectorResponse.load(s.config)
    scint = Scintillator.load(s.config)
    geometry = response.geometry
    res_data = load_quantities("resolution", s.config)
    nu_data = {k: v.internal for k, v in load_quantities("nonuniformity", s.config).items()}
    e_nh = get_source("nH", s.config).peak_energy()

    # γ lines at the centre, and the light yield the n-H line defines
    peaks = centre_peaks(response, scint, rng=r_centre, config=s.config, daq_scale=s.daq_scale)
    i_nh = [k for k, (_, _, part) in enumerate(CENTRE_LINES) if part == "capture"][0]
    light_yield = peaks[i_nh]["mean_pe"] / e_nh
    for p in peaks:
        p["e_vis"] = p["mean_pe"] / light_yield
    # random triggers: the dark-noise PE in the readout window
    empty = (np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0))
    dark_pe = float(response.sample_total(*empty, 100_000, rng=r_dark).lpmt.mean())

    # the calibration's own γ terms at both ends of the Birks-constant range
    kb_low, kb_high = res_data["kb_range_low"].value, res_data["kb_range_high"].value

    def line_width(kb, r):
        own = dataclasses.replace(scint, birks_kb=kb * KB_UNIT)
        return np.array([gamma_line_width(get_source(name, s.config), own, geometry, rng=r,
                                          light_yield=light_yield, dark_pe=dark_pe,
                                          n_events=s.gamma_events, part=part)["w"]
                         for _, name, part in CENTRE_LINES])

    w_low, w_high = line_width(kb_low, r_low), line_width(kb_high, r_high)
    centre = ResolutionData(tuple(p["label"] for p in peaks), np.array([p["e_vis"] for p in peaks]),
                            np.array([p["sigma_rel"] for p in peaks]),
                            np.array([p["sigma_rel_err"] for p in peaks]), w_low,
                            np.zeros(len(peaks), bool), w_high - w_low)

    # chapter 5's chain: true detector, Am-C campaign, the calibration's map
    dep = Deployment.load(s.config)
    detector = nu_study.build_truth(response, rng=r_det, variants=("all",), n_shells=s.truth_shells)
    pool = truth.capture_pool(s.n_pool, rng=r_pool, scint=scint, geometry=geometry, config=s.config)
    plan = comprehensive_plan(dep)
    points = nu_study.campaign(detector, plan, dep, pool, rng=r_camp).points["all"]
    gmap = nu.build_map(s.map_scheme, points, geometry.r_ls)
    y0 = points.y0 / e_nh

    # spallation n-H captures over the volume, corrected in the fiducial volume
    r_fv = nu_data["r_fiducial"]
    n_spall = int(round(truth.spallation_rate(nu_data) * s.spallation_days))
    spall = spallation_captures(detector, pool, n_spall, rng=r_spall,
                                vertex_resolution_1mev=nu_data["vertex_resolution_1mev"])
    fv = np.linalg.norm(spall["x_rec"], axis=1) < r_fv
    pk = fit_peak(nu.correct(spall["pe"][fv], spall["x_rec"][fv], gmap, y0))
    rel = pk["sigma"] / pk["mean"]
    err = rel * float(np.hypot(pk["sigma_err"] / pk["sigma"], pk["mean_err"] / pk["mean"]))
    volume = {"e": pk["mean"], "sigma_rel": rel, "sigma_rel_err": err, "n_fv": int(fv.sum()),
              "n_events": n_spall}
    # the n-H line over the volume is a γ cloud, not a point: the calibration simulates the extra
    # width the cloud gets from its own map (and the leakage at the edge) and takes it out of the
    # measured width (signed: a negative difference is a fluctuation), its error added
    cloud = _nh_cloud_width(gmap, y0, scint, geometry, dark_pe, nu_data, r_fv, s, rng=r_cloud)
    rel_fit, err_fit = rel, err
    if s.cloud_correction:
        rel = float(np.sqrt(rel * rel - cloud["w2"]))
        err = float(np.hypot(err_fit * rel_fit / rel, 0.5 * cloud["w2_err"] / rel))
    volume.update({"sigma_rel_uncorrected": rel_fit, "sigma_rel_err_uncorrected": err_fit, "sigma_rel": rel,
                   "sigma_rel_err": err})
    vol_data = ResolutionData(("n-H (spallation, volume)",), np.array([pk["mean"]]), np.array([rel]),
                              np.array([err]), w_low[[i_nh]], np.ones(1, bool), (w_high - w_low)[[i_nh]])

    # cosmogenic 12B over the volume: the truth records them, the calibration bins the corrected
    # spectrum and predicts it with its own NL model and templates
    b12 = _b12_measurement(s, detector, gmap, y0, r_fv, scint, geometry, light_yield, dark_pe, e_nh,
                           nu_data, rng=r_b12) if s.use_b12 else None

    # the positrons' truth (a check)
    ev = truth.positron_events(detector, np.arange(0.0, 9.0), s.n_positrons, rng=r_pos, scint=scint,
                               vertex_resolution_1mev=nu_data["vertex_resolution_1mev"])
    pe_pos = nu_study.recorded(detector, ev, rng=r_rec)["all"]
    fv_pos = np.linalg.norm(ev["x_rec"], axis=1) < r_fv
    pos_points = nu.resolution_points(nu.correct(pe_pos[fv_pos], ev["x_rec"][fv_pos], gmap, y0),
                                      ev["k"][fv_pos])
    positrons = {**nu.fit_eq1(pos_points), "points": pos_points}

    return {"peaks": peaks, "light_yield": float(light_yield), "dark_pe": dark_pe, "w_low": w_low,
            "w_high": w_high, "kb_low": kb_low, "kb_high": kb_high,
            "t_nominal": (s.kb_calibration - kb_low) / (kb_high - kb_low), "volume": volume,
            "positrons": positrons, "data": concatenate(centre, vol_data), "detector": detector,
            "map": gmap, "n_map_points": len(plan), "r_fv": r_fv, "nu_data": nu_data,
            "spallation_rate": truth.spallation_rate(nu_data), "i_nh": i_nh, "b12": b12, "cloud": cloud}


class _MapDetector:
    """The calibration's model of its detector over the volume: its map ``g`` times the light
    yield at the centre (PE/MeV), the dark noise of random triggers; the interface of a true
    detector that :mod:`~juno_calib.calibration.volume_events` records with."""

    def __init__(self, gmap, y0, geometry, dark_pe):
        self.gmap, self.y0 = gmap, y0
        self.response = _Response(geometry, {"lpmt": float(dark_pe)})

    def light(self, positions):
        x = np.asarray(positions, dtype=float)
        r = np.linalg.norm(x, axis=-1, keepdims=True)
        return self.y0 * self.gmap.g(x * np.minimum(1.0, self.gmap.r_ref / np.where(r > 0, r, 1.0)))


@dataclasses.dataclass(frozen=True)
class _Response:
    geometry: object
    dark_mean: dict


def _nh_cloud_width(gmap, y0, scint, geometry, dark_pe, nu_data, r_fv, s: Settings, *, rng) -> dict:
    """The calibration's own simulation of the extra width of the n-H line over the volume.

    Its own captures (the library's γ transport, its own seed, its nominal Birks constant) spread
    uniformly over the LS, recorded by its model of the detector (:class:`_MapDetector`: its
    map, Poisson PE, its dark noise, the light centroid smeared by the vertex resolution), kept in
    the fiducial volume, corrected with the map and fitted like the data; and the same events with
    all their visible energy at the capture point, like a positron. ``w2`` is the difference of
    the squared relative widths: what the γ cloud (a light centroid away from where the light
    was made, where the map changes, and γ escaping at the edge) adds to a point-like event.
    """
    r_pool, r_cloud, r_point = rng.spawn(3)
    own = dataclasses.replace(scint, birks_kb=s.kb_calibration * KB_UNIT)
    pool = truth.capture_pool(s.n_pool, rng=r_pool, scint=own, geometry=geometry, config=s.config)
    e_tot = np.bincount(pool.event, weights=pool.e_vis, minlength=pool.n_events)
    n_p = pool.n_events
    point = dataclasses.replace(pool, event=np.arange(n_p), position=np.zeros((n_p, 3)), energy=e_tot.copy(),
                                e_vis=e_tot.copy(), time=np.zeros(n_p))
    det = _MapDetector(gmap, y0 * units.MeV, geometry, dark_pe)
    out = {}
    for name, pl, r in (("cloud", pool, r_cloud), ("point", point, r_point)):
        ev = spallation_captures(det, pl, s.cloud_events, rng=r,
                                 vertex_resolution_1mev=nu_data["vertex_resolution_1mev"])
        fv = np.linalg.norm(ev["x_rec"], axis=1) < r_fv
        pk = fit_peak(nu.correct(ev["pe"][fv], ev["x_rec"][fv], gmap, y0))
        out[name] = pk["sigma"] / pk["mean"]
        out[f"{name}_err"] = out[name] * float(np.hypot(pk["sigma_err"] / pk["sigma"],
                                                        pk["mean_err"] / pk["mean"]))
    w2 = out["cloud"] ** 2 - out["point"] ** 2
    return {"sigma_rel_cloud": out["cloud"], "sigma_rel_point": out["point"], "w2": float(w2),
            "w": float(np.sqrt(max(w2, 0.0))),
            "w2_err": float(2 * np.hypot(out["cloud"] * out["cloud_err"], out["point"] * out["point_err"]))}


def _b12_measurement(s: Settings, detector, gmap, y0, r_fv, scint, geometry, light_yield, dark_pe, e_nh,
                     nu_data, *, rng) -> dict:
    """The ¹²B data set: the truth's decays, corrected and binned, and the calibration's model."""
    from ..particles.beta import B12Decay
    from . import nonlinearity as nl
    from . import nonlinearity_data as nld

    r_truth, r_tmpl = rng.spawn(2)
    res = load_quantities("resolution", s.config)
    # decays uniform in the LS at the stated rate in the fiducial volume
    n_fv_expected = s.b12_rate * s.b12_days
    n_ls = int(round(n_fv_expected * (geometry.r_ls / r_fv) ** 3))
    ev = b12_decays(detector, n_ls, rng=r_truth, scint=scint,
                    vertex_resolution_1mev=nu_data["vertex_resolution_1mev"])
    fv = np.linalg.norm(ev["x_rec"], axis=1) < r_fv
    e = nu.correct(ev["pe"][fv], ev["x_rec"][fv], gmap, y0)
    lo, hi, width = (res[k].value for k in ("b12_fit_e_min", "b12_fit_e_max", "b12_fit_bin"))
    edges = lo + width * np.arange(int(round((hi - lo) / width)) + 1)
    counts = np.histogram(e, bins=edges)[0].astype(float)
    # the calibration's NL model (chapter 6) and its own templates of the n-H and 4.44 MeV lines
    cfg = nl.NLFitConfig.load(s.config)
    optics = DetectorResponse.load(s.config).optics
    model = nl.ElectronNLModel.build(
        z_over_a=scint.z_over_a, mean_excitation_mev=scint.mean_excitation_energy / units.MeV,
        density_gcm3=scint.density / (units.g / units.cm**3), n_ls=optics.n_ls,
        scint_yield_per_mev=optics.scint_yield * units.MeV, config=cfg)
    lines = [ln for ln in nld.LINES if ln.name in ("nH", "AmBe")]
    weights, _, _ = nld.line_templates(lines, s.gamma_events, model, rng=r_tmpl, scint=scint,
                                       geometry=geometry,
                                       a_nominal=light_yield, kb_nominal=res["nl_kb_mean"].value,
                                       dark_pe=dark_pe)
    sk, sc, rho = res["nl_kb_sigma"].value, res["nl_kc_sigma"].value, res["nl_kb_kc_corr"].value
    spec = b12_spectrum(edges, counts, model=model, w_nh=weights[0], w_gamma=weights[1], e_nh=e_nh,
                        nl_mean=[res["nl_kb_mean"].value, res["nl_kc_mean"].value],
                        nl_cov=[[sk * sk, rho * sk * sc], [rho * sk * sc, sc * sc]],
                        decay=B12Decay.load(s.config))
    return {"spectrum": spec, "energy": e, "n_ls": n_ls, "n_fv": int(fv.sum()),
            "n_window": int(counts.sum()), "scale_sigma": res["b12_scale_sigma"].value,
            "slope_sigma": cfg.b12_shape_slope_sigma * units.MeV}


def parameters(m: dict, settings: Settings, *, with_b12: bool | None = None) -> list:
    """The fit's priors for the measurements ``m`` of :func:`measure` (with the ¹²B nuisances when
    the ¹²B spectrum is fitted: ``with_b12``, default ``settings.use_b12``)."""
    validate.instance("settings", settings, Settings, hint="Settings()")
    with_b12 = settings.use_b12 if with_b12 is None else with_b12
    params = default_parameters(1.0 / np.sqrt(m["light_yield"]), a_prior_rel=settings.a_prior_rel,
                                s_gamma_rel=settings.s_gamma_floor, t_kb=m["t_nominal"], t_kb_sigma=1.0)
    if with_b12:
        if m.get("b12") is None:
            raise ValueError("with_b12 = True needs measurements with the 12B spectrum "
                             "(Settings(use_b12=True))")
        params += b12_parameters(scale_sigma=m["b12"]["scale_sigma"], slope_sigma=m["b12"]["slope_sigma"])
    return params


def run(settings: Settings, *, rng: np.random.Generator) -> dict:
    """:func:`measure`, then the Bayesian fit; adds ``fit`` (ResolutionFit; with the ¹²B spectrum
    when ``settings.use_b12``) and ``params``."""
    validate.instance("settings", settings, Settings, hint="Settings()")
    validate.generator("rng", rng)
    r_meas, r_fit = rng.spawn(2)
    m = measure(settings, rng=r_meas)
    m["params"] = parameters(m, settings)
    m["fit"] = fit(m["data"], m["params"], rng=r_fit, n_walkers=settings.n_walkers, n_steps=settings.n_steps,
                   b12=m["b12"]["spectrum"] if settings.use_b12 else None)
    return m
