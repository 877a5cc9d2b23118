"""The time budget of the calibration programme (seed 000, Table 2) and the statistics behind it.

Two sides:

- **Detector time.** Table 2 (``data/calibration_programme.yaml``) gives points and DAQ minutes
  per programme; the plans of :mod:`juno_calib.deployment` carry them point by point. On top
  comes an overhead model (stated assumptions, :class:`Programme`): per run (one source on one
  system) a source swap; per point a settling time; the motion along the plan's path at the
  system's speed, starting and ending at the system's home (the chimney top for ACU and CLS,
  the upper end of the tube for the GT). Frequencies per year turn it into hours per year and
  the fraction of live time lost.
- **Statistics.** A full-absorption peak with relative width sigma/E, sampled with N events,
  fixes its mean to sigma/E / sqrt(N); the events needed for a relative precision p are
  N = (sigma/E / p)^2 (:func:`events_needed`), and the DAQ time is N over the detected peak rate
  activity x branch fraction x efficiency (:func:`daq_time_needed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import units
from .deployment import LASER, Deployment, Plan, programme_plan
from .params import ParamSet, check_choice, check_range, load_yaml

PROGRAMMES = ("comprehensive", "monthly", "weekly")


@dataclass(frozen=True)
class Table2Row:
    """One row of seed 000, Table 2 (DAQ time in internal ns)."""

    programme: str
    source: str
    system: str
    points: int
    placement: str
    daq_time: float
    provenance: str


def load_table2() -> tuple[Table2Row, ...]:
    """Seed 000, Table 2, from ``data/calibration_programme.yaml``."""
    rows = []
    for raw in load_yaml("calibration_programme")["table2"]:
        q = raw["daq_time"]
        rows.append(Table2Row(raw["programme"], raw["source"], raw["system"], int(raw["points"]),
                              raw["placement"], units.to_internal(float(q["value"]), q["unit"]), q["source"]))
    return tuple(rows)


def table2_minutes(programme: str) -> float:
    """Total DAQ minutes of ``programme`` as printed in Table 2."""
    check_choice("programme", programme, PROGRAMMES)
    return sum(r.daq_time for r in load_table2() if r.programme == programme) / units.minute


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
        return getattr(self, f"speed_{system.lower()}")


def home(system: str, deployment: Deployment) -> np.ndarray:
    """Where a source of ``system`` enters and leaves the detector (mm, (3,))."""
    if system == "GT":
        th = deployment.gt_theta_min
        return np.array([deployment.r_gt * math.sin(th), 0.0, deployment.r_gt * math.cos(th)])
    return np.array([0.0, 0.0, deployment.r_ls])  # ACU, CLS, ROV: through the chimney


def path_length(positions: np.ndarray, start: np.ndarray) -> float:
    """Length (mm) of the straight-segment path start -> positions in order -> start.

    >>> path_length(np.array([[0.0, 0.0, 0.0]]), np.array([0.0, 0.0, 10.0]))
    20.0
    """
    pts = np.concatenate([start[None, :], np.asarray(positions, float).reshape(-1, 3), start[None, :]])
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
    prog = Programme.load() if prog is None else prog
    dep = Deployment.load() if deployment is None else deployment
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
    prog = Programme.load() if prog is None else prog
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
    s = np.asarray(sigma_rel, dtype=float)
    p = np.asarray(precision, dtype=float)
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"sigma_rel = {sigma_rel!r} is outside the allowed range (0, inf)")
    if not np.all((p > 0) & (p < 1)):
        raise ValueError(f"precision = {precision!r} is outside the allowed range (0, 1)")
    out = (s / p) ** 2
    return float(out) if out.ndim == 0 else out


def peak_precision_toy(sigma_rel: float, n_events: int, n_toys: int, *, rng: np.random.Generator) -> float:
    """Spread (relative) of the fitted peak position over ``n_toys`` toy peaks of ``n_events``.

    The maximum-likelihood estimate of a Gaussian mean is the sample mean; the toy peaks have
    mean 1 and width ``sigma_rel``. Compare with sigma_rel / sqrt(n_events).
    """
    check_range("sigma_rel", sigma_rel, 0.0, 1.0, lo_open=True)
    check_range("n_events", n_events, 2, 1e7)
    check_range("n_toys", n_toys, 2, 1e6)
    means = rng.normal(1.0, sigma_rel, size=(int(n_toys), int(n_events))).mean(axis=1)
    return float(means.std(ddof=1))


def sigma_rel_photostatistics(energy, light_yield):
    """Photo-statistics resolution sigma/E = 1 / sqrt(Y E) (the a-term of seed 000, Eq. 1).

    energy : visible energy (internal MeV); light_yield : PE per MeV (internal 1/MeV).

    >>> round(sigma_rel_photostatistics(1.0, 1345.0), 4)
    0.0273
    """
    e = np.asarray(energy, dtype=float)
    if not np.all(np.isfinite(e) & (e > 0)):
        raise ValueError(f"energy = {energy!r} MeV is outside the allowed range (0, inf)")
    check_range("light_yield", light_yield, 0.0, 1e6, lo_open=True, unit="PE/MeV")
    out = 1.0 / np.sqrt(light_yield * e)
    return float(out) if out.ndim == 0 else out


def peak_rate(activity, branch_fraction, efficiency):
    """Detected rate in the calibration peak: activity x branch fraction x efficiency (1/ns).

    activity : decays (or emitted neutrons) per unit time, internal 1/ns, > 0.
    """
    a = np.asarray(activity, dtype=float)
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"activity = {activity!r} is outside the allowed range (0, inf) (1/ns)")
    check_range("branch_fraction", branch_fraction, 0.0, 1.0, lo_open=True)
    check_range("efficiency", efficiency, 0.0, 1.0, lo_open=True)
    out = a * branch_fraction * efficiency
    return float(out) if out.ndim == 0 else out


def daq_time_needed(sigma_rel, precision, rate):
    """DAQ time (internal ns) to reach ``precision`` on a peak of width ``sigma_rel`` at ``rate``."""
    r = np.asarray(rate, dtype=float)
    if not np.all(np.isfinite(r) & (r > 0)):
        raise ValueError(f"rate = {rate!r} is outside the allowed range (0, inf) (1/ns)")
    out = events_needed(sigma_rel, precision) / r
    return float(out) if np.ndim(out) == 0 else out


def calibration_peak(source_name: str, config: str = "design", **source_overrides):
    """(peak energy, branch fraction per decay) of the peak a source is calibrated with.

    Neutron sources are calibrated with the n-H capture gamma: the branch fraction is then the
    fraction of neutrons captured on H (:func:`juno_calib.sources.capture_fractions`).
    """
    from .sources import capture_fractions, get_source

    if source_name == LASER:
        raise ValueError("the laser is not a radioactive source: it has no calibration peak")
    src = get_source(source_name, config, **source_overrides)
    if src.emits_neutrons:
        return get_source("nH", config).peak_energy(), capture_fractions(config)["nH"]
    return src.peak_energy(), src.peak_fraction()


def hours_what_if(activity, precision, n_points, sigma_rel, branch_fraction, efficiency):
    """DAQ hours of a map of ``n_points`` points (broadcasting over the first three arguments)."""
    n = np.asarray(n_points, dtype=float)
    if not np.all(n >= 1):
        raise ValueError(f"n_points = {n_points!r} is outside the allowed range [1, inf)")
    rate = peak_rate(activity, branch_fraction, efficiency)
    return n * daq_time_needed(sigma_rel, precision, rate) / units.hour


# --- chapter helpers: tables and the drawing of the vertical plane --------------------------------


def markdown_rows(header, rows) -> str:
    """A markdown table with any number of columns (``markdown_table`` has three)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def source_statistics(precision: float, light_yield: float, prog: Programme | None = None,
                      config: str = "design") -> list[dict]:
    """Per Table 2 radioactive-source row: peak, sigma/E (photo-statistics), events and time needed.

    sigma/E is the photo-statistics term 1/sqrt(Y E) at the centre (fallback resolution, see the
    chapter); times are per point, in minutes; ``table_min`` is Table 2's time per point.
    """
    from .sources import get_source

    prog = Programme.load() if prog is None else prog
    out = []
    for row in load_table2():
        if row.source == LASER or row.programme != "comprehensive":
            continue
        energy, frac = calibration_peak(row.source, config)
        src = get_source(row.source, config)
        sig = sigma_rel_photostatistics(energy, light_yield)
        rate = peak_rate(src.activity, frac, prog.peak_efficiency)
        n = events_needed(sig, precision)
        table_min = row.daq_time / row.points / units.minute
        out.append({"source": row.source, "label": src.label, "energy": energy, "sigma_rel": sig,
                    "branch": frac, "rate_hz": rate / units.Hz, "events": n,
                    "needed_min": n / rate / units.minute,
                    "table_min": table_min,
                    "precision_in_table_time": sig / math.sqrt(rate * row.daq_time / row.points)})
    return out


def plot_plan_plane(ax, deployment: Deployment, plan: Plan | None = None, *, grid: int = 241):
    """Draw the vertical plane y = 0: each system's reach and the plan's points (axes in m)."""
    from matplotlib.patches import Circle

    from .deployment import reachable

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


__all__ = [
    "PROGRAMMES", "Programme", "Table2Row", "load_table2", "table2_minutes", "run_times",
    "programme_time", "yearly_budget", "events_needed", "peak_precision_toy",
    "sigma_rel_photostatistics", "peak_rate", "daq_time_needed", "calibration_peak",
    "hours_what_if", "path_length", "home", "Plan", "markdown_rows", "source_statistics", "plot_plan_plane",
]
