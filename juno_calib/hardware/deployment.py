"""Where the calibration hardware can put a source, and the deployment plans.

Systems (seed 000, Fig. 1; CALIB21, Sec. 3), all described in the vertical plane y = 0 of the
detector frame (z up, origin at the centre; x >= 0 is the half-plane phi = 0, x < 0 is
phi = 180 deg):

- **ACU**: the central axis, |z| <= r_ls - clearance, within its positioning accuracy of the axis.
- **CLS**: two cable loops, CLS-1 in phi = 0 and CLS-2 (mirror image) in phi = 180 deg. The
  source hangs from two straight cables (model: massless, taut), one to a top anchor at the
  chimney edge, one to a side anchor on the acrylic at polar angle ``cls_side_anchor_theta``.
  A point is reachable if (i) it is at least ``cls_wall_clearance`` inside the acrylic (straight
  cables between points of a sphere stay inside it: convexity); (ii) the two tensions that hold
  the source's net weight are both >= 0 (the upward vertical lies between the two cable
  directions: the source hangs below the line of the anchors and between them horizontally);
  (iii) neither tension exceeds ``cls_tension_ratio_max`` times the weight (near the anchor
  line the tensions diverge).
- **GT**: a tube on the outer surface of the acrylic (in water) along the longitude phi = 0,
  at r = r_ls + acrylic thickness + tube offset, polar angle in [gt_theta_min, gt_theta_max].
- **ROV**: anywhere with r <= r_ls - rov_margin.

A :class:`Plan` is data (position, system, source, DAQ time per point) consumed by later
chapters. The point-selection rule of the ~250-point map is in :func:`comprehensive_plan`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..core import units, validate
from ..core.params import ParamSet, Quantity, check_choice, check_range, load_quantities
from ..detector.optics import total_reflection_onset
from .programme import PROGRAMMES, Table2Row, load_table2
from .sources import NAMES as SOURCE_NAMES

SYSTEMS = ("ACU", "CLS", "GT", "ROV")
LASER = "Laser"  # the ACU laser diffuser ball: a plan entry that is not a radioactive source
_FROM_OTHER_FILES = {"geometry": ("r_ls", "acrylic_thickness", "r_chimney"), "optics": ("n_ls", "n_water")}


@dataclass(frozen=True, kw_only=True)
class Deployment(ParamSet):
    """Reach of the deployment systems and the plan rule (internal units)."""

    _section = "deployment"
    r_ls: float
    acrylic_thickness: float
    r_chimney: float
    n_ls: float
    n_water: float
    acu_accuracy: float
    acu_clearance: float
    cls_side_anchor_theta: float
    cls_wall_clearance: float
    cls_tension_ratio_max: float
    cls_accuracy: float
    gt_theta_min: float
    gt_theta_max: float
    gt_tube_offset: float
    gt_accuracy: float
    rov_margin: float
    rov_accuracy: float
    plan_inner_shells: int
    plan_outer_shells: int
    plan_edge_refinement: float

    def __post_init__(self):
        check_range("r_ls", self.r_ls, 1 * units.m, 50 * units.m, unit="m")
        check_range("n_water", self.n_water, 1.0, self.n_ls, lo_open=True, hi_open=True)
        check_range("acu_clearance", self.acu_clearance, 0.0, self.r_ls, unit="m", hi_open=True)
        check_range("cls_side_anchor_theta", self.cls_side_anchor_theta, 10 * units.deg,
                    170 * units.deg, unit="deg")
        check_range("cls_wall_clearance", self.cls_wall_clearance, 0.0, 0.5 * self.r_ls, unit="m")
        check_range("cls_tension_ratio_max", self.cls_tension_ratio_max, 1.0, 1e3)
        check_range("gt_theta_min", self.gt_theta_min, 0.0, self.gt_theta_max, unit="deg", hi_open=True)
        check_range("gt_theta_max", self.gt_theta_max, self.gt_theta_min, 180 * units.deg, unit="deg")
        check_range("rov_margin", self.rov_margin, 0.0, self.r_ls, unit="m", hi_open=True)
        for name in ("acu_accuracy", "cls_accuracy", "gt_accuracy", "rov_accuracy", "gt_tube_offset"):
            check_range(name, getattr(self, name), 0.0, 1 * units.m, unit="cm", lo_open=True)
        check_range("plan_inner_shells", self.plan_inner_shells, 1, 100)
        check_range("plan_outer_shells", self.plan_outer_shells, 1, 100)
        check_range("plan_edge_refinement", self.plan_edge_refinement, 1.0, 10.0)

    @classmethod
    def load(cls, config: str = "design", **overrides):
        """Deployment parameters plus the geometry/optics numbers they need."""
        quantities: dict[str, Quantity] = dict(load_quantities("deployment", config))
        for section, names in _FROM_OTHER_FILES.items():
            other = load_quantities(section, config)
            quantities.update({n: other[n] for n in names})
        names = [f.name for f in dataclasses.fields(cls) if f.name not in ("config", "provenance")]
        unknown = [k for k in overrides if k not in names]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for Deployment; valid: {', '.join(names)}"
            )
        values = {n: quantities[n].internal for n in names if n not in overrides}
        values.update(overrides)
        for n in ("plan_inner_shells", "plan_outer_shells"):
            check_range(n, values[n], 1, 100)
            values[n] = int(values[n])
        return cls(config=config, provenance={n: quantities[n] for n in names}, **values)

    def inputs_rows(self, names=None):
        """Rows (parameter, value, source), naming the file each value comes from."""
        rows = super().inputs_rows(names)
        where = {n: s for s, ns in _FROM_OTHER_FILES.items() for n in ns}
        return [(p.replace("deployment.", f"{where[p.split('.', 1)[1]]}.")
                 if p.split(".", 1)[1] in where else p, v, s) for p, v, s in rows]

    # --- derived geometry -------------------------------------------------------------------
    @property
    def r_tir(self) -> float:
        """Radius beyond which some light meets the water surface past the critical angle.

        :func:`juno_calib.detector.optics.total_reflection_onset` (the formula's one home) with the
        acrylic shell: ``(r_ls + acrylic_thickness) n_water / n_ls``.
        """
        return total_reflection_onset(self.r_ls, self.acrylic_thickness, self.n_ls, self.n_water)

    def accuracy(self, system: str) -> float:
        """Positioning accuracy of ``system`` (mm; one standard deviation per coordinate)."""
        validate.choice("system", system, SYSTEMS)
        return getattr(self, f"{system.lower()}_accuracy")

    @property
    def r_gt(self) -> float:
        """Radius of the guide-tube axis (outside the acrylic, in water)."""
        return self.r_ls + self.acrylic_thickness + self.gt_tube_offset

    @property
    def cls_r_max(self) -> float:
        """Largest radius the CLS may bring the source to."""
        return self.r_ls - self.cls_wall_clearance

    @property
    def acu_z_max(self) -> float:
        """Largest |z| of the ACU source."""
        return self.r_ls - self.acu_clearance

    def cls_anchors(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, z) of the top (chimney edge) and side anchors of CLS-1, internal mm."""
        top = np.array([self.r_chimney, math.sqrt(self.r_ls**2 - self.r_chimney**2)])
        th = self.cls_side_anchor_theta
        side = np.array([self.r_ls * math.sin(th), self.r_ls * math.cos(th)])
        return top, side


def _dep(deployment: Deployment | None, name: str = "deployment") -> Deployment:
    if deployment is None:
        return Deployment.load()
    return validate.instance(name, deployment, Deployment, hint='Deployment.load("design")')


def _positions(positions) -> np.ndarray:
    """Points (..., 3) mm, every coordinate finite and within the experiment (1 km): any radius
    inside it is a fair question of reach."""
    p = validate.array("positions", positions, -1 * units.km, 1 * units.km, unit="m",
                       why="a point of the experiment")
    if p.ndim == 0 or p.shape[-1] != 3:
        raise ValueError(f"positions must have shape (..., 3) in mm, got shape {p.shape}")
    return p


def _n_points(name: str, n, lo: int = 1, hi: int = 5000) -> int:
    return validate.integer(name, n, lo, hi)


def cls_tensions(positions, deployment: Deployment | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tensions of the top and side cables of the CLS holding a source at ``positions``.

    In units of the source's net weight; the half-plane of each point (sign of x) picks CLS-1
    or its mirror CLS-2. Static balance T_top u_top + T_side u_side = e_z, with u the unit
    vectors from the source to the anchors (2D, Cramer's rule). Shapes (...,).
    """
    d = _dep(deployment)
    p = _positions(positions)
    x = np.abs(p[..., 0])
    z = p[..., 2]
    top, side = d.cls_anchors()
    ux_t, uz_t = top[0] - x, top[1] - z
    ux_s, uz_s = side[0] - x, side[1] - z
    n_t = np.hypot(ux_t, uz_t)
    n_s = np.hypot(ux_s, uz_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux_t, uz_t, ux_s, uz_s = ux_t / n_t, uz_t / n_t, ux_s / n_s, uz_s / n_s
        det = ux_t * uz_s - ux_s * uz_t
        t_top = np.where(det != 0, -ux_s / det, np.inf)
        t_side = np.where(det != 0, ux_t / det, np.inf)
    return t_top, t_side


def reachable(system: str, positions, deployment: Deployment | None = None) -> np.ndarray:
    """Boolean array (...,): can ``system`` put a source at ``positions`` (mm, shape (..., 3))?"""
    check_choice("system", system, SYSTEMS)
    d = _dep(deployment)
    p = _positions(positions)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    r = np.sqrt(x**2 + y**2 + z**2)
    if system == "ACU":
        return (np.hypot(x, y) <= d.acu_accuracy) & (np.abs(z) <= d.acu_z_max)
    if system == "ROV":
        return r <= d.r_ls - d.rov_margin
    if system == "GT":
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = np.arccos(np.clip(np.where(r > 0, z / np.where(r > 0, r, 1.0), 1.0), -1, 1))
        tol = d.gt_accuracy / d.r_gt  # the positioning accuracy as an angle along the tube
        return ((np.abs(r - d.r_gt) <= d.gt_accuracy) & (np.abs(y) <= d.gt_accuracy) & (x >= 0)
                & (theta >= d.gt_theta_min - tol) & (theta <= d.gt_theta_max + tol))
    t_top, t_side = cls_tensions(p, d)
    tmax = d.cls_tension_ratio_max
    return ((np.abs(y) <= d.cls_accuracy) & (r <= d.cls_r_max)
            & (t_top >= 0) & (t_side >= 0) & (t_top <= tmax) & (t_side <= tmax))


def describe_reach(system: str, deployment: Deployment | None = None) -> str:
    """One sentence stating the reach of ``system`` (used in error messages)."""
    check_choice("system", system, SYSTEMS)
    d = _dep(deployment)
    m = units.m
    if system == "ACU":
        return (f"the central axis (x, y within {d.acu_accuracy / units.cm:g} cm), "
                f"|z| <= {d.acu_z_max / m:.3f} m")
    if system == "ROV":
        return f"r <= {(d.r_ls - d.rov_margin) / m:.3f} m"
    if system == "GT":
        return (f"the guide tube at r = {d.r_gt / m:.3f} m (+-{d.gt_accuracy / units.cm:g} cm) in the "
                f"plane y = 0, x >= 0, polar angle {d.gt_theta_min / units.deg:g}-"
                f"{d.gt_theta_max / units.deg:g} deg")
    top, side = d.cls_anchors()
    return (f"the plane y = 0 (+-{d.cls_accuracy / units.cm:g} cm), r <= {d.cls_r_max / m:.3f} m, "
            f"hanging from anchors at (|x|, z) = ({top[0] / m:.2f}, {top[1] / m:.2f}) m and "
            f"({side[0] / m:.2f}, {side[1] / m:.2f}) m with both cable tensions in "
            f"[0, {d.cls_tension_ratio_max:g}] x the source weight")


def check_reachable(system: str, positions, deployment: Deployment | None = None) -> None:
    """Raise ``ValueError`` naming the system, the first unreachable point and the reach."""
    ok = reachable(system, positions, deployment)
    if not np.all(ok):
        p = _positions(positions).reshape(-1, 3)
        bad = p[~ok.reshape(-1)]
        i = int(np.flatnonzero(~ok.reshape(-1))[0])
        first = ", ".join(f"{c / units.m:.3f}" for c in bad[0])
        raise ValueError(
            f"{system} cannot reach {len(bad)} of {len(p)} positions, e.g. positions[{i}] = "
            f"(x, y, z) = ({first}) m; "
            f"{system} reaches {describe_reach(system, deployment)}"
        )


@dataclass(frozen=True)
class Plan:
    """A deployment plan: one row per calibration point (data consumed by later chapters).

    position : (N, 3) mm, plane y = 0 (x >= 0 is phi = 0) unless stated.
    system : (N,) str, one of :data:`SYSTEMS`.
    source : (N,) str, :mod:`juno_calib.hardware.sources` names or ``"Laser"``.
    daq_time : (N,) internal ns of data taking at the point.
    """

    name: str
    position: np.ndarray
    system: np.ndarray
    source: np.ndarray
    daq_time: np.ndarray

    def __post_init__(self):
        pos = validate.array("Plan.position", self.position, unit="m")
        if pos.size % 3 or (pos.ndim and pos.shape[-1] != 3):
            raise ValueError(f"plan {self.name}: position must have shape (N, 3), got {pos.shape}")
        pos = pos.reshape(-1, 3)
        n = len(pos)
        system = np.asarray(self.system, dtype=str).reshape(-1)
        source = np.asarray(self.source, dtype=str).reshape(-1)
        daq = np.broadcast_to(np.asarray(self.daq_time, dtype=float), (n,)).copy()
        if len(system) != n or len(source) != n:
            raise ValueError(
                f"plan {self.name}: position has {n} rows, system {len(system)}, source {len(source)}"
            )
        bad = sorted(set(system) - set(SYSTEMS))
        if bad:
            raise ValueError(f"plan {self.name}: unknown system(s) {bad}; valid: {', '.join(SYSTEMS)}")
        if not np.all(np.isfinite(daq) & (daq >= 0)):
            raise ValueError(f"plan {self.name}: daq_time must be finite and >= 0")
        for a in (pos, system, source, daq):
            a.flags.writeable = False
        for k, v in (("position", pos), ("system", system), ("source", source), ("daq_time", daq)):
            object.__setattr__(self, k, v)

    def __len__(self) -> int:
        return len(self.position)

    def select(self, mask) -> Plan:
        """The rows where ``mask`` (bool array or indices) selects."""
        return Plan(self.name, self.position[mask], self.system[mask], self.source[mask], self.daq_time[mask])

    def count(self, system: str | None = None, source: str | None = None) -> int:
        """Number of points, optionally of one system and/or source."""
        m = np.ones(len(self), bool)
        if system is not None:
            m &= self.system == system
        if source is not None:
            m &= self.source == source
        return int(m.sum())

    @property
    def total_daq_time(self) -> float:
        """Sum of the DAQ times (internal ns)."""
        return float(self.daq_time.sum())

    def check(self, deployment: Deployment | None = None) -> None:
        """Raise if any point is out of its system's reach."""
        for s in set(self.system):
            check_reachable(str(s), self.position[self.system == s], deployment)


def concat(name: str, plans) -> Plan:
    """One plan made of ``plans`` in order."""
    plans = list(plans)
    return Plan(name, np.concatenate([p.position for p in plans]), np.concatenate([p.system for p in plans]),
                np.concatenate([p.source for p in plans]), np.concatenate([p.daq_time for p in plans]))


def _xz(r, theta) -> np.ndarray:
    r, theta = np.broadcast_arrays(np.asarray(r, float), np.asarray(theta, float))
    return np.stack([r * np.sin(theta), np.zeros_like(r), r * np.cos(theta)], axis=-1)


def map_shells(d: Deployment) -> np.ndarray:
    """Radii of the map shells: equal steps in r^3 up to the TIR radius, then equal steps in r."""
    k = np.arange(1, d.plan_inner_shells + 1)
    inner = d.r_tir * np.cbrt(k / d.plan_inner_shells)
    outer = d.r_tir + (d.cls_r_max - d.r_tir) * np.arange(1, d.plan_outer_shells + 1) / d.plan_outer_shells
    return np.concatenate([inner, outer])


def _map_points(d: Deployment, spacing: float):
    """Candidate map points for an arc spacing: (ACU points, CLS points, GT points), each (n, 3)."""
    shells = map_shells(d)
    fine = np.where(shells > d.r_tir + 1e-6, spacing / d.plan_edge_refinement, spacing)
    acu, cls = [np.zeros((1, 3))], []
    for i, (r, h) in enumerate(zip(shells, fine, strict=True)):
        n = max(2, math.ceil(math.pi * r / h)) + 1
        theta = np.linspace(0.0, math.pi, n)
        if i % 2:
            theta = theta[::-1]  # serpentine order: the next shell starts where this one ended
        pts = _xz(r, theta)
        on_axis = (theta == 0) | (theta == math.pi)
        acu.append(pts[on_axis & reachable("ACU", pts, d)])
        cls.append(pts[~on_axis & reachable("CLS", pts, d)])
    h_gt = spacing / d.plan_edge_refinement
    n_gt = max(2, math.floor((d.gt_theta_max - d.gt_theta_min) * d.r_gt / h_gt) + 1)
    gt = _xz(d.r_gt, np.linspace(d.gt_theta_min, d.gt_theta_max, n_gt))
    acu = np.concatenate(acu)
    return acu[np.argsort(-acu[:, 2])], np.concatenate(cls), gt


def _tune(build, count, target: int):
    """``build(h)`` for the arc spacing h whose ``count`` is closest to ``target``.

    The count falls as h grows (not strictly: points on a finer grid need not contain those of
    a coarser one), so bisect in log h to the crossing, then scan its neighbourhood.
    """
    lo, hi = math.log(0.05 * units.m), math.log(50 * units.m)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if count(build(math.exp(mid))) > target else (lo, mid)
    best, best_err = None, math.inf
    for h in np.exp(np.linspace(hi - 0.15, hi + 0.15, 31)):
        built = build(float(h))
        err = abs(count(built) - target)
        if err < best_err:
            best, best_err = built, err
    return best


def _table_time(programme: str, source: str, system: str) -> float:
    for row in load_table2():
        if row.programme == programme and row.source == source and row.system == system:
            return row.daq_time / row.points
    raise ValueError(f"seed 000 Table 2 has no row ({programme}, {source}, {system})")


def comprehensive_plan(deployment: Deployment | None = None, *, n_points: int = 250,
                       daq_time: float | None = None, source: str = "AmC") -> Plan:
    """The non-uniformity map of seed 000: one source at ~``n_points`` points in a vertical plane.

    Rule: shells equally spaced in r^3 (equal volume) from the centre to the TIR radius
    :attr:`Deployment.r_tir`, then ``plan_outer_shells`` equally spaced shells up to the CLS reach,
    plus the GT longitude; along each shell points are spaced by an arc length h (h /
    ``plan_edge_refinement`` beyond the TIR radius and along the GT), the poles and the centre
    go to the ACU, the other shell points to the CLS where it can reach them (the rest is
    dropped). h is the one number adjusted so that the total is as close as possible to
    ``n_points``; the split between ACU, CLS and GT is a result of the reach.

    daq_time : per point (internal ns); default Table 2's 1262 min / 250 points.
    """
    n_points = _n_points("n_points", n_points, 20, 5000)
    validate.choice("source", source, SOURCE_NAMES + (LASER,))
    d = _dep(deployment)
    if daq_time is None:
        daq_time = _table_time("comprehensive", "AmC", "ACU+CLS+GT")
    check_range("daq_time", daq_time, 0.0, 1 * units.day, unit="min", lo_open=True)
    acu, cls, gt = _tune(lambda h: _map_points(d, h), lambda parts: sum(len(p) for p in parts), n_points)
    pos = np.concatenate([acu, cls, gt])
    system = np.array(["ACU"] * len(acu) + ["CLS"] * len(cls) + ["GT"] * len(gt))
    return Plan("comprehensive map", pos, system, np.full(len(pos), source), daq_time)


def acu_axis_points(d: Deployment, n: int) -> np.ndarray:
    """``n`` equally spaced ACU points on the axis, top to bottom (odd n includes the centre)."""
    d = _dep(d, "d")
    n = _n_points("n", n)
    z = np.linspace(d.acu_z_max, -d.acu_z_max, n) if n > 1 else np.zeros(1)
    return np.stack([np.zeros(n), np.zeros(n), z], axis=-1)


def cls_points(d: Deployment, n: int) -> np.ndarray:
    """About ``n`` CLS points chosen with the map rule (the shell spacing tuned to give n)."""
    d = _dep(d, "d")
    n = _n_points("n", n)
    return _tune(lambda h: _map_points(d, h)[1], len, n)


def gt_points(d: Deployment, n: int) -> np.ndarray:
    """``n`` GT points equally spaced in polar angle over the tube."""
    d = _dep(d, "d")
    n = _n_points("n", n)
    return _xz(d.r_gt, np.linspace(d.gt_theta_min, d.gt_theta_max, n))


def row_plan(row, deployment: Deployment | None = None) -> Plan:
    """The points of one Table 2 row (a :class:`juno_calib.hardware.programme.Table2Row`)."""
    validate.instance("row", row, Table2Row, hint="load_table2()[0]")
    _n_points("row.points", row.points)
    d = _dep(deployment)
    per_point = row.daq_time / row.points
    if row.placement == "map":
        return comprehensive_plan(d, n_points=row.points, daq_time=per_point, source=row.source)
    if row.placement == "centre":
        pos = np.zeros((row.points, 3))
    elif row.placement == "axis":
        pos = acu_axis_points(d, row.points)
    elif row.placement == "shells":
        pos = cls_points(d, row.points)
    elif row.placement == "tube":
        pos = gt_points(d, row.points)
    else:
        raise ValueError(
            f"row {row}: placement {row.placement!r} is not one of map, centre, axis, shells, tube"
        )
    check_reachable(row.system, pos, d)
    return Plan(f"{row.programme} {row.source} {row.system}", pos, np.full(len(pos), row.system),
                np.full(len(pos), row.source), per_point)


def programme_plan(programme: str, deployment: Deployment | None = None) -> Plan:
    """Every point of one programme of Table 2 ("comprehensive", "monthly", "weekly")."""
    check_choice("programme", programme, PROGRAMMES)
    d = _dep(deployment)
    rows = [r for r in load_table2() if r.programme == programme]
    return concat(programme, [row_plan(r, d) for r in rows])


def monthly_plan(deployment: Deployment | None = None) -> Plan:
    """The monthly programme of Table 2: Am-C on ACU, CLS, GT and the ACU laser."""
    return programme_plan("monthly", deployment)


def weekly_plan(deployment: Deployment | None = None) -> Plan:
    """The weekly programme of Table 2: Am-C on the ACU and the laser at the centre."""
    return programme_plan("weekly", deployment)
