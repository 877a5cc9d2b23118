"""The time budget of the calibration programme (seed 000, Table 2) and the statistics behind it.

Two sides:

- **Detector time.** Table 2 (``data/calibration_programme.yaml``) gives points and DAQ minutes
  per programme; the plans of :mod:`juno_calib.hardware.deployment` carry them point by point. On top
  comes an overhead model (stated assumptions, :class:`Programme`): per run (one source on one
  system) a source swap; per point a settling time; the motion along the plan's path at the
  system's speed, starting and ending at the system's home (the chimney top for ACU and CLS,
  the upper end of the tube for the GT). Frequencies per year turn it into hours per year and
  the fraction of live time lost.
- **Statistics.** A full-absorption peak with relative width sigma/E, sampled with N events,
  fixes its mean to sigma/E / sqrt(N); the events needed for a relative precision p are
  N = (sigma/E / p)^2 (:func:`events_needed`), and the DAQ time is N over the detected peak rate
  activity x branch fraction x efficiency (:func:`daq_time_needed`). sigma/E is an input
  (:func:`source_statistics`, :func:`map_statistics`);
  :func:`juno_calib.calibration.peak_statistics.simulated_peak` measures it with the
  detector-response library for a source at given positions. The formula is that of the sample
  mean of a Gaussian peak; a fit within +-n sigma can at best reach :func:`windowed_fit_factor`
  times it, and the estimator's actual precision on a simulated peak comes from toys
  (:func:`juno_calib.calibration.peak_statistics.peak_precision_toys`).
- **Position.** The error of the source position puts |grad g| sigma_pos on the relative yield of
  a map point, whatever the DAQ time (:func:`positioning_term`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core import units, validate
from ..core.params import ParamSet, check_choice, check_range
from .deployment import LASER, SYSTEMS, Deployment, Plan, programme_plan
from .programme import PROGRAMMES, load_table2
from .sources import capture_fractions, get_source

#: smallest relative precision of a peak position (and relative peak width) the statistics
#: helpers accept (1 ppm): far below any calibration goal (0.1-1%) or peak width (~1-10%), and it
#: keeps (sigma/precision)^2 finite and non-zero
PRECISION_MIN = 1e-6
#: lowest source activity or peak rate they accept: one per 12 days (no calibration source is
#: weaker), which keeps the times finite
RATE_MIN = 1e-6 * units.Hz


@dataclass(frozen=True, kw_only=True)
class Programme(ParamSet):
    """Frequencies and overhead assumptions of the calibration programme (internal units)."""

    _section = "calibration_programme"
    comprehensive_per_year: float
    monthly_per_year: float
    weekly_per_year: float
    source_swap_time: float
    settle_time: float
    speed_acu: float
    speed_cls: float
    speed_gt: float
    speed_rov: float
    peak_efficiency: float

    def __post_init__(self):
        for name in ("comprehensive_per_year", "monthly_per_year", "weekly_per_year"):
            check_range(name, getattr(self, name), 0.0, 366.0)
        check_range("source_swap_time", self.source_swap_time, 0.0, 1 * units.day, unit="min")
        check_range("settle_time", self.settle_time, 0.0, 1 * units.hour, unit="min")
        for name in ("speed_acu", "speed_cls", "speed_gt", "speed_rov"):
            check_range(name, getattr(self, name), 0.0, 1 * units.m / units.s, unit="cm/s", lo_open=True)
        check_range("peak_efficiency", self.peak_efficiency, 0.0, 1.0, lo_open=True)

    def per_year(self, programme: str) -> float:
        """How many times a year ``programme`` runs."""
        check_choice("programme", programme, PROGRAMMES)
        return getattr(self, f"{programme}_per_year")

    def speed(self, system: str) -> float:
        """Motion speed of ``system`` (internal mm/ns)."""
        validate.choice("system", system, SYSTEMS)
        return getattr(self, f"speed_{system.lower()}")


def home(system: str, deployment: Deployment) -> np.ndarray:
    """Where a source of ``system`` enters and leaves the detector (mm, (3,))."""
    validate.choice("system", system, SYSTEMS)
    validate.instance("deployment", deployment, Deployment, hint='Deployment.load("design")')
    if system == "GT":
        th = deployment.gt_theta_min
        return np.array([deployment.r_gt * math.sin(th), 0.0, deployment.r_gt * math.cos(th)])
    return np.array([0.0, 0.0, deployment.r_ls])  # ACU, CLS, ROV: through the chimney


def path_length(positions: np.ndarray, start: np.ndarray) -> float:
    """Length (mm) of the straight-segment path start -> positions in order -> start.

    >>> path_length(np.array([[0.0, 0.0, 0.0]]), np.array([0.0, 0.0, 10.0]))
    20.0
    """
    hall = 1 * units.km  # any point of the experiment; keeps the squared distances finite
    pos = (validate.positions("positions", positions, r_max=hall, volume="the experiment (1 km)")
           if np.size(positions) else np.zeros((0, 3)))
    start = validate.positions("start", start, r_max=hall, volume="the experiment (1 km)")
    if start.shape != (1, 3):
        raise ValueError(f"start must be one point, shape (3,), got shape {np.shape(start)}")
    pts = np.concatenate([start, pos, start])
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


@dataclass(frozen=True)
class RunTime:
    """Time of one run (one source on one system): DAQ and the overheads (internal ns)."""

    name: str
    points: int
    daq: float
    swap: float
    settle: float
    motion: float

    @property
    def total(self) -> float:
        return self.daq + self.swap + self.settle + self.motion


def run_times(programme: str, prog: Programme | None = None,
              deployment: Deployment | None = None) -> list[RunTime]:
    """DAQ and overhead of every run (Table 2 row) of ``programme``.

    A system's motion is split by deployment: the map row (ACU+CLS+GT) is three runs of the
    same source. Laser runs sit at the centre and only travel there and back.
    """
    check_choice("programme", programme, PROGRAMMES)
    prog = Programme.load() if prog is None else validate.instance("prog", prog, Programme,
                                                                   hint="Programme.load()")
    dep = Deployment.load() if deployment is None else validate.instance(
        "deployment", deployment, Deployment, hint='Deployment.load("design")')
    plan = programme_plan(programme, dep)
    out = []
    # runs = consecutive points with the same (source, system)
    key = np.char.add(np.char.add(plan.source, "|"), plan.system)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    for a, b in zip(starts, ends, strict=True):
        source, system = str(plan.source[a]), str(plan.system[a])
        pos = plan.position[a:b]
        unique_pos = pos[np.r_[True, np.any(np.diff(pos, axis=0) != 0, axis=1)]]
        motion = path_length(unique_pos, home(system, dep)) / prog.speed(system)
        out.append(RunTime(f"{source} {system}", int(b - a), float(plan.daq_time[a:b].sum()),
                           prog.source_swap_time, len(unique_pos) * prog.settle_time, motion))
    return out


def programme_time(programme: str, prog: Programme | None = None,
                   deployment: Deployment | None = None) -> dict[str, float]:
    """Total DAQ, overhead and detector time of one campaign of ``programme`` (internal ns)."""
    runs = run_times(programme, prog, deployment)
    daq = sum(r.daq for r in runs)
    total = sum(r.total for r in runs)
    return {"daq": daq, "overhead": total - daq, "total": total}


def yearly_budget(prog: Programme | None = None, deployment: Deployment | None = None) -> dict[str, float]:
    """Detector time per year spent on calibration (internal ns) and the live-time fraction lost."""
    prog = Programme.load() if prog is None else validate.instance("prog", prog, Programme,
                                                                   hint="Programme.load()")
    per = {p: programme_time(p, prog, deployment)["total"] * prog.per_year(p) for p in PROGRAMMES}
    total = sum(per.values())
    return {**per, "total": total, "livetime_fraction": total / units.year}


# --- statistics ------------------------------------------------------------------------------


def events_needed(sigma_rel, precision):
    """Events in a Gaussian peak to fix its mean to a relative ``precision``: (sigma/E / p)^2.

    sigma_rel : relative peak width sigma/E (array-like, > 0).
    precision : relative precision of the peak position wanted (array-like, in (0, 1)).

    >>> events_needed(0.02, 0.001)
    400.0
    """
    s = validate.array("sigma_rel", sigma_rel, PRECISION_MIN, 1.0,
                       why="a relative peak width sigma/E")
    p = validate.array("precision", precision, PRECISION_MIN, 1.0, hi_open=True,
                       why=f"a relative precision; below {PRECISION_MIN:g} no calibration question")
    try:
        out = (s / p) ** 2
    except ValueError:
        raise ValueError(f"sigma_rel and precision must broadcast together, got shapes {s.shape} "
                         f"and {p.shape}") from None
    return float(out) if out.ndim == 0 else out


def peak_precision_toy(sigma_rel: float, n_events: int, n_toys: int, *, rng: np.random.Generator) -> float:
    """Spread (relative) of the fitted peak position over ``n_toys`` toy peaks of ``n_events``.

    The maximum-likelihood estimate of a Gaussian mean is the sample mean; the toy peaks have
    mean 1 and width ``sigma_rel``. Compare with sigma_rel / sqrt(n_events).
    """
    check_range("sigma_rel", sigma_rel, 0.0, 1.0, lo_open=True)
    n_events = validate.integer("n_events", n_events, 2, 10**7)
    n_toys = validate.integer("n_toys", n_toys, 2, 10**6)
    validate.integer("n_events * n_toys", n_events * n_toys, 4, 10**8)  # memory: 0.8 GB at most
    validate.generator("rng", rng)
    means = rng.normal(1.0, sigma_rel, size=(int(n_toys), int(n_events))).mean(axis=1)
    return float(means.std(ddof=1))


def windowed_fit_factor(n_sigma):
    """Cramér–Rao factor of a Gaussian fit within +-``n_sigma``: its best error on the mean over
    sigma / sqrt(N), N the events *inside* the window (the events the fit uses).

    A fit of a Gaussian (free normalisation, mean and width) to the events inside the window has,
    for its mean, the Fisher information N_all / sigma^2 x (erf(n / sqrt 2) - 2 n phi(n)) (the
    mean decouples from the even parameters), with N_all = N / erf(n / sqrt 2) events in the
    whole peak. The tails inside the window pull the mean least, the events beyond it not at all.
    1 for an infinite window; 1.137 for +-2 sigma.

    >>> round(windowed_fit_factor(2.0), 3), round(windowed_fit_factor(10.0), 3)
    (1.137, 1.0)
    """
    n = validate.array("n_sigma", n_sigma, 0.5, 100.0, why="the half-width of a fit window in sigma")
    inside = np.vectorize(math.erf)(n / math.sqrt(2.0))
    info = inside - 2.0 * n * np.exp(-0.5 * n * n) / math.sqrt(2.0 * math.pi)
    out = np.sqrt(inside / info)
    return float(out) if out.ndim == 0 else out


def sigma_rel_photostatistics(energy, light_yield, dark_pe: float = 0.0):
    """Poisson resolution of a PE count: sqrt(Y E + N_dark) / (Y E).

    With ``dark_pe = 0`` this is the a-term of seed 000, Eq. 1, 1/sqrt(Y E); the dark-noise PE
    (mean ``dark_pe`` in the window, subtracted on average but not event by event) add the
    c-term c / E with c = sqrt(N_dark) / Y.

    energy : visible energy (internal MeV, array-like, > 0); light_yield : PE per MeV (internal
    1/MeV); dark_pe : mean dark-noise PE in the readout window (>= 0).

    >>> round(sigma_rel_photostatistics(1.0, 1345.0), 4)
    0.0273
    """
    e = validate.energies("energy", energy, 0.0, 1e6, lo_open=True)
    check_range("light_yield", light_yield, 0.0, 1e6, lo_open=True, unit="PE/MeV")
    check_range("dark_pe", dark_pe, 0.0, 1e7)
    n = light_yield * e
    out = np.sqrt(n + dark_pe) / n
    return float(out) if out.ndim == 0 else out


def peak_rate(activity, branch_fraction, efficiency):
    """Detected rate in the calibration peak: activity x branch fraction x efficiency (1/ns).

    activity : decays (or emitted neutrons) per unit time, internal 1/ns, > 0.
    """
    a = validate.array("activity", activity, RATE_MIN, 1e9 * units.Bq, unit="Bq")
    check_range("branch_fraction", branch_fraction, 0.0, 1.0, lo_open=True)
    check_range("efficiency", efficiency, 0.0, 1.0, lo_open=True)
    out = a * branch_fraction * efficiency
    return float(out) if out.ndim == 0 else out


def daq_time_needed(sigma_rel, precision, rate):
    """DAQ time (internal ns) to reach ``precision`` on a peak of width ``sigma_rel`` at ``rate``."""
    r = validate.array("rate", rate, RATE_MIN, 1e9 * units.Bq, unit="Hz")
    out = events_needed(sigma_rel, precision) / r
    return float(out) if np.ndim(out) == 0 else out


def calibration_peak(source_name: str, config: str = "design", **source_overrides):
    """(peak energy, branch fraction per decay) of the peak a source is calibrated with.

    Neutron sources are calibrated with the n-H capture gamma: the branch fraction is then the
    fraction of neutrons captured on H (:func:`juno_calib.hardware.sources.capture_fractions`).
    """
    validate.instance("source_name", source_name, str, hint='"Cs137"')
    if source_name == LASER:
        raise ValueError("the laser is not a radioactive source: it has no calibration peak")
    src = get_source(source_name, config, **source_overrides)
    if src.emits_neutrons:
        return get_source("nH", config).peak_energy(), capture_fractions(config)["nH"]
    return src.peak_energy(), src.peak_fraction()


def hours_what_if(activity, precision, n_points, sigma_rel, branch_fraction, efficiency):
    """DAQ hours of a map of ``n_points`` points (broadcasting over the first three arguments)."""
    n = validate.array("n_points", n_points, 1.0, 1e6)
    rate = peak_rate(activity, branch_fraction, efficiency)
    return n * daq_time_needed(sigma_rel, precision, rate) / units.hour


def positioning_term(g, positions, sigma_pos, *, step: float = 1 * units.cm) -> dict[str, np.ndarray]:
    """Relative error of the light yield at a point from the error of the source position.

    A calibration point measures the peak where the source *is* and files it where the source is
    *thought* to be. With an error of ``sigma_pos`` (standard deviation per coordinate,
    independent in x, y, z) the relative yield g(x) is off by delta_g = |grad g| sigma_pos, to
    first order; split into the radial part |dg/dr| sigma_pos and the part across the radius
    (the polar/azimuthal slope). Returned relative to g.

    g : callable mapping (P, 3) positions (mm) to (P,) relative yields (> 0), e.g.
        ``response.total_map.g``.
    positions : (P, 3) or (3,) mm, finite.
    sigma_pos : positioning accuracy per point (mm, >= 0): a number or (P,).
    step : half-width of the central differences (mm, in [0.01 mm, 1 m]); the derivative is the
        slope of g over +-step.

    Returns ``radial``, ``angular`` and ``total`` (P,) relative errors delta_g / g, with
    total**2 = radial**2 + angular**2.

    >>> g = lambda p: 1.0 + 0.5 * np.linalg.norm(p, axis=1) / 1000.0  # slope 0.5 per m
    >>> out = positioning_term(g, [0.0, 0.0, 1000.0], 30.0)
    >>> round(float(out["radial"][0]), 4), round(float(out["angular"][0]), 4)
    (0.01, 0.0)
    """
    if not callable(g):
        raise TypeError(f"g must be a callable mapping positions (P, 3) to relative yields, got {g!r}")
    pos = validate.positions("positions", positions, r_max=1 * units.km, volume="the experiment (1 km)")
    sig = validate.array("sigma_pos", sigma_pos, 0.0, 1 * units.m, unit="cm")
    try:
        sig = np.broadcast_to(sig, (len(pos),))
    except ValueError:
        raise ValueError(f"sigma_pos must be a number or have shape ({len(pos)},) like positions, got "
                         f"shape {sig.shape}") from None
    h = validate.number("step", step, 0.01, 1 * units.m, unit="mm")
    shifts = np.concatenate([np.eye(3), -np.eye(3)]) * h  # (6, 3): +x +y +z -x -y -z
    vals = np.asarray(g(np.concatenate([pos, (pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)])),
                      dtype=float)
    if vals.shape != ((1 + 6) * len(pos),) or not np.all(np.isfinite(vals)) or np.any(vals <= 0):
        raise ValueError("g must return one finite, positive relative yield per position, got "
                         f"shape {vals.shape} with min {np.nanmin(vals) if vals.size else float('nan'):g}")
    g0, plus, minus = vals[: len(pos)], vals[len(pos):].reshape(6, -1)[:3], vals[len(pos):].reshape(6, -1)[3:]
    grad = ((plus - minus) / (2 * h)).T  # (P, 3), 1/mm
    r = np.linalg.norm(pos, axis=1)
    r_hat = np.divide(pos, r[:, None], out=np.zeros_like(pos), where=r[:, None] > 0)
    radial = np.abs(np.sum(grad * r_hat, axis=1))
    # at the centre every direction is "radial": the whole gradient counts as radial there
    radial = np.where(r > 0, radial, np.linalg.norm(grad, axis=1))
    across = np.sqrt(np.maximum(np.sum(grad**2, axis=1) - radial**2, 0.0))
    out = {"radial": radial * sig / g0, "angular": across * sig / g0}
    out["total"] = np.hypot(out["radial"], out["angular"])
    return out


# --- chapter helpers: tables and the drawing of the vertical plane --------------------------------


def source_statistics(precision: float, sigma_rel: Mapping[str, float], prog: Programme | None = None,
                      config: str = "design", activity: float | None = None) -> list[dict]:
    """Per comprehensive-programme radioactive-source row of Table 2: events and time needed.

    precision : target relative precision of the peak position, in (0, 1).
    sigma_rel : relative width sigma/E of each source's calibration peak (a mapping source name
        -> float; e.g. from :func:`simulated_peak` at the centre). Every source of the rows is
        required.
    activity : strength of every source (internal 1/ns: decays, or neutrons for Am-Be and Am-C,
        per unit time); None: each source's ``activity`` from ``data/sources.yaml`` (assumptions).

    Each row gives the peak energy and branch fraction (:func:`calibration_peak`), the detected
    peak rate, the events and the time per point (minutes) needed for ``precision``, Table 2's
    time per point (``table_min``) and the precision reached in it.
    """
    check_range("precision", precision, PRECISION_MIN, 1.0, hi_open=True)
    prog = Programme.load() if prog is None else validate.instance("prog", prog, Programme,
                                                                   hint="Programme.load()")
    validate.instance("sigma_rel", sigma_rel, Mapping, hint='{"Cs137": 0.03, ...}')
    if activity is not None:
        check_range("activity", activity, RATE_MIN, 1e9 * units.Bq, unit="Bq")
    rows = [r for r in load_table2() if r.source != LASER and r.programme == "comprehensive"]
    missing = [r.source for r in rows if r.source not in sigma_rel]
    if missing:
        raise ValueError(f"sigma_rel has no value for source(s) {', '.join(missing)} "
                         f"(needed: {', '.join(r.source for r in rows)})")
    out = []
    for row in rows:  # a handful of Table 2 rows
        energy, frac = calibration_peak(row.source, config)
        src = get_source(row.source, config)
        sig = float(sigma_rel[row.source])
        rate = peak_rate(src.activity if activity is None else activity, frac, prog.peak_efficiency)
        n = events_needed(sig, precision)
        out.append({"source": row.source, "label": src.label, "energy": energy, "sigma_rel": sig,
                    "branch": frac, "rate_hz": rate / units.Hz, "events": n,
                    "needed_min": n / rate / units.minute, "points": row.points,
                    "table_min": row.daq_time / row.points / units.minute,
                    "precision_in_table_time": sig / math.sqrt(rate * row.daq_time / row.points)})
    return out


def map_statistics(sigma_rel, precision: float, rate: float, table_time: float) -> dict:
    """Events and DAQ time needed at every point of a map whose peak widths differ by point.

    sigma_rel : (P,) relative peak width at each point (times the estimator's factor R of
    :func:`juno_calib.calibration.peak_statistics.fit_toys` for its actual precision); precision :
    target relative precision; rate : detected peak rate (internal 1/ns), one for all points or
    (P,) (e.g. lower at the guide-tube points); table_time : DAQ time per point in the plan (ns).
    Returns ``events`` and ``time`` (P,), their totals ``total_events``/``total_time``, the plan's
    ``table_total`` and the precision reached at each point in the plan's time (P,).
    """
    s = np.atleast_1d(validate.array("sigma_rel", sigma_rel, 0.0, 1.0, lo_open=True, size_min=1))
    check_range("table_time", table_time, 0.0, np.inf, lo_open=True, unit="min")
    n = events_needed(s, precision)
    t = daq_time_needed(s, precision, rate)
    return {"events": n, "time": t, "total_events": float(n.sum()), "total_time": float(t.sum()),
            "table_total": float(table_time * s.size),
            "precision_in_table_time": s / np.sqrt(rate * table_time)}


# --- the simulated resolution of a calibration peak (response library) --------------------------


__all__ = [
    "Programme", "run_times",
    "programme_time", "yearly_budget", "events_needed", "peak_precision_toy",
    "sigma_rel_photostatistics", "peak_rate", "daq_time_needed", "calibration_peak",
    "hours_what_if", "path_length", "home", "Plan", "source_statistics", "map_statistics",
    "positioning_term", "windowed_fit_factor",
]
