"""The non-uniformity calibration (chapter 5): from source peaks to a map g(r, theta) and back.

What the calibration knows is only what the experiment measures: the PE spectra of the source
runs at the nominal positions of the deployment plan (seed 000, Sec. 3: one gamma source at
~250 points in a vertical plane), the reconstructed vertices and PE of physics events, and the
spectra of spallation n-H captures in voxels. It never reads the detector model: no total-PE
map, no PMT table, nothing of :mod:`juno_calib.calibration.truth` (a test checks the imports).

Steps:

* :func:`fit_peak_tail`: the full-absorption peak of a run, fitted with a Crystal Ball shape
  (a Gaussian core with a power-law low-energy tail: gammas escaping near the wall, energy lost
  in the source's surroundings) to the histogram (Poisson weights); the Gaussian mean is the
  peak position.
* :func:`measure_runs`: ``g_i = peak_i / peak_centre`` with errors, at the nominal positions.
* Maps of ``g(r, theta)`` under ``phi`` symmetry and their :func:`cross_validate` on held-out
  points: :class:`ShellMap` (the plan's points lie on shells of equal radius: linear in
  ``theta`` along each shell, linear in ``r`` between shells), :class:`LinearMap` (piecewise
  linear on a Delaunay triangulation in ``((r/R)^3, cos theta)``) and :class:`RBFMap`
  (thin-plate-spline radial basis functions in the ``(rho, z)`` half-plane, mirrored about the
  axis).
* :func:`correct`: ``E = PE / (Y0 g(x_rec))`` with ``Y0`` the PE per MeV of the n-H peak at the
  centre.
* :func:`resolution_points`, :func:`fit_eq1`: sigma/E per energy and seed 000's Eq. 1
  (a, b, c, a-bar), with :func:`juno_calib.calibration.resolution.fit_resolution`.
* :func:`residual_nonuniformity`: the spread over fiducial-volume voxels of the corrected /
  true energy ratio.
* :class:`PhiModulation`: the ``phi`` dependence from spallation n-H captures in voxels, as a
  factor on the source map.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator, RBFInterpolator
from scipy.optimize import curve_fit

from ..core.params import check_choice, check_range
from .resolution import fit_peak, fit_resolution

SCHEMES = ("shells", "delaunay", "rbf")
"""Interpolation schemes of the map."""


def crystal_ball(t, height, mean, sigma, beta, m):
    """Crystal Ball shape (unnormalised): ``height * exp(-z^2/2)`` for ``z = (t - mean)/sigma > -beta``,
    a power-law tail ``height * exp(-beta^2/2) * ((m/beta) / (m/beta - beta - z))^m`` below.

    Continuous with a continuous derivative at ``z = -beta``; the tail base is <= 1, so large
    ``m`` cannot overflow.

    >>> float(crystal_ball(1.0, 2.0, 1.0, 0.5, 1.5, 3.0))
    2.0
    """
    z = (np.asarray(t, dtype=float) - mean) / sigma
    core = np.exp(-0.5 * z * z)
    q = m / beta
    base = q / np.maximum(q - beta - z, q)
    tail = np.exp(-0.5 * beta * beta) * base**m
    return height * np.where(z > -beta, core, tail)


def _rightmost_peak(x):
    """Start values of the full-absorption peak: the highest-energy local maximum of a coarse,
    smoothed histogram (above 15% of the 99th percentile: events without light are left out)
    that reaches 10% of the tallest, and the width of its upper half."""
    top = np.quantile(x, 0.999)
    counts, edges = np.histogram(x, bins=80, range=(0.15 * np.quantile(x, 0.99), top))
    smooth = np.convolve(counts, np.ones(5) / 5, mode="same")
    is_max = (smooth >= np.roll(smooth, 1)) & (smooth >= np.roll(smooth, -1)) & (smooth >= 0.1 * smooth.max())
    j = int(np.flatnonzero(is_max)[-1])
    mode = 0.5 * (edges[j] + edges[j + 1])
    upper = x[x > mode] - mode
    sigma = float(np.median(upper) / 0.6745) if upper.size > 10 else float(x.std())
    return mode, max(sigma, 2 * (edges[1] - edges[0]))


def fit_peak_tail(values, *, n_bins: int = 80) -> dict:
    """Crystal Ball fit (:func:`crystal_ball`) of the full-absorption peak of a spectrum.

    Start: the highest-energy prominent maximum and the width of the upper half of the peak (no
    tail there). The histogram in [mode - 6 sigma, mode + 4 sigma] is fitted twice by least
    squares with Poisson variances from the model. The tail starts at least one sigma below the
    mean (``beta >= 1``), so that the core is a peak, not its upper edge. Returns the Gaussian
    core's ``mean`` and ``sigma`` with their errors, and the tail's ``beta`` and ``m``.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 50:
        raise ValueError(f"fit_peak_tail needs at least 50 values, got {x.size}")
    mode, sigma0 = _rightmost_peak(x)
    counts, edges = np.histogram(x, bins=n_bins, range=(mode - 6 * sigma0, mode + 4 * sigma0))
    centres = 0.5 * (edges[1:] + edges[:-1])
    p = (max(counts.max(), 1.0), mode, sigma0, 1.5, 3.0)
    bounds = ([0.0, mode - 3 * sigma0, 0.3 * sigma0, 1.0, 1.1],
              [10.0 * counts.max() + 10, mode + 3 * sigma0, 3 * sigma0, 5.0, 50.0])
    cov = None
    for _ in range(2):  # the second pass takes its Poisson variances from the first fit
        var = np.maximum(crystal_ball(centres, *p), 1.0)
        try:
            p, cov = curve_fit(crystal_ball, centres, counts, p0=p, bounds=bounds, sigma=np.sqrt(var),
                               absolute_sigma=True, max_nfev=4000)
        except RuntimeError:  # no convergence: keep the previous pass (the start values at worst)
            break
    if cov is None:
        raise RuntimeError(f"fit_peak_tail: the Crystal Ball fit did not converge (start: mean {mode:g}, "
                           f"sigma {sigma0:g}, {x.size} values)")
    err = np.sqrt(np.diag(cov))
    return {"mean": float(p[1]), "mean_err": float(err[1]), "sigma": float(p[2]),
            "sigma_err": float(err[2]), "beta": float(p[3]), "m": float(p[4]), "n": int(x.size)}


@dataclasses.dataclass(frozen=True)
class PointData:
    """The measured relative light yield at the calibration points (nominal positions).

    position (P, 3) mm; system (P,); g, g_err (P,): peak / centre peak; peak, peak_err (P,) in
    PE; y0: the centre peak in PE (the n-H gamma at the centre).
    """

    position: np.ndarray
    system: np.ndarray
    g: np.ndarray
    g_err: np.ndarray
    peak: np.ndarray
    peak_err: np.ndarray
    y0: float

    def select(self, mask) -> PointData:
        """The points where ``mask`` is True (the centre value ``y0`` is kept)."""
        m = np.asarray(mask)
        return dataclasses.replace(self, position=self.position[m], system=self.system[m], g=self.g[m],
                                   g_err=self.g_err[m], peak=self.peak[m], peak_err=self.peak_err[m])


def measure_runs(runs, positions, systems) -> PointData:
    """Fit every run's peak (:func:`fit_peak_tail`) and normalise to the run nearest the centre."""
    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    if len(runs) != len(pos):
        raise ValueError(f"{len(runs)} runs for {len(pos)} positions")
    fits = [fit_peak_tail(r) for r in runs]  # one fit per calibration point
    peak = np.array([f["mean"] for f in fits])
    err = np.array([f["mean_err"] for f in fits])
    c = int(np.argmin(np.linalg.norm(pos, axis=1)))
    g = peak / peak[c]
    g_err = g * np.sqrt((err / peak) ** 2 + np.where(np.arange(len(pos)) == c, 0.0, (err[c] / peak[c]) ** 2))
    return PointData(position=pos, system=np.asarray(systems, dtype=str), g=g, g_err=g_err,
                     peak=peak, peak_err=err, y0=float(peak[c]))


def _u_cos(positions, r_ref):
    x = np.asarray(positions, dtype=float).reshape(-1, 3)
    r = np.linalg.norm(x, axis=1)
    return (r / r_ref) ** 3, np.where(r > 0, x[:, 2] / np.where(r > 0, r, 1.0), 0.0)


@dataclasses.dataclass(frozen=True, eq=False)
class LinearMap:
    """g piecewise linear on a Delaunay triangulation of the points in ``((r/R)^3, cos theta)``.

    The centre point is repeated along ``cos theta`` (it has no angle); outside the points'
    convex hull the nearest point's value is used.
    """

    r_ref: float
    linear: object
    nearest: object

    @classmethod
    def fit(cls, points: PointData, r_ref: float):
        u, c = _u_cos(points.position, r_ref)
        centre = u == 0
        extra_c = np.linspace(-1, 1, 9)
        uu = np.concatenate([u[~centre], np.zeros(centre.sum() * extra_c.size)])
        cc = np.concatenate([c[~centre], np.tile(extra_c, centre.sum())])
        gg = np.concatenate([points.g[~centre], np.repeat(points.g[centre], extra_c.size)])
        xy = np.stack([uu, cc], axis=1)
        return cls(r_ref=r_ref, linear=LinearNDInterpolator(xy, gg), nearest=NearestNDInterpolator(xy, gg))

    def g(self, positions) -> np.ndarray:
        """Relative light yield at positions (..., 3) mm."""
        x = np.asarray(positions, dtype=float)
        u, c = _u_cos(x, self.r_ref)
        out = self.linear(u, c)
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = self.nearest(u[bad], c[bad])
        return out.reshape(x.shape[:-1])


@dataclasses.dataclass(frozen=True, eq=False)
class RBFMap:
    """g from thin-plate-spline radial basis functions in the half-plane ``(rho, z) / R``.

    Every point is mirrored to ``-rho`` so that the map is smooth across the axis; ``smoothing``
    (relative to the measured errors) lets it pass within the errors rather than through
    every point.
    """

    r_ref: float
    rbf: object

    @classmethod
    def fit(cls, points: PointData, r_ref: float, smoothing: float = 1.0):
        check_range("smoothing", smoothing, 0.0, 1e6)
        x = points.position
        rho, z = np.hypot(x[:, 0], x[:, 1]) / r_ref, x[:, 2] / r_ref
        on_axis = rho < 1e-9
        xy = np.concatenate([np.stack([rho, z], 1), np.stack([-rho[~on_axis], z[~on_axis]], 1)])
        g = np.concatenate([points.g, points.g[~on_axis]])
        s = np.concatenate([points.g_err, points.g_err[~on_axis]]) ** 2 * smoothing
        return cls(r_ref=r_ref, rbf=RBFInterpolator(xy, g, kernel="thin_plate_spline", smoothing=s, degree=1))

    def g(self, positions) -> np.ndarray:
        """Relative light yield at positions (..., 3) mm."""
        x = np.asarray(positions, dtype=float)
        flat = x.reshape(-1, 3)
        xy = np.stack([np.hypot(flat[:, 0], flat[:, 1]), flat[:, 2]], 1) / self.r_ref
        return self.rbf(xy).reshape(x.shape[:-1])


@dataclasses.dataclass(frozen=True, eq=False)
class ShellMap:
    """g linear in ``theta`` along each shell of points, linear in ``r`` between shells.

    The plan's points lie on shells (equal radius within ``tol``); on a shell the points
    (ACU at the poles, CLS, GT) give ``g(theta)`` by linear interpolation (constant beyond the
    outermost angles; points at the same angle averaged). Between shells the map is linear in
    ``r^2`` (a smooth response is even in ``r`` through the centre, ``g - 1 ~ r^2`` there);
    inside the first shell it goes to the centre value, beyond the last it is constant.
    """

    r_ref: float
    radius: tuple
    theta: tuple
    values: tuple

    @classmethod
    def fit(cls, points: PointData, r_ref: float, tol: float = 50.0):
        x = points.position
        r = np.linalg.norm(x, axis=1)
        th = np.arccos(np.clip(np.where(r > 0, x[:, 2] / np.where(r > 0, r, 1.0), 1.0), -1, 1))
        key = np.round(r / tol).astype(np.int64)
        radius, theta, values = [], [], []
        for k in np.unique(key):  # a few tens of shells
            m = key == k
            t, inv = np.unique(np.round(th[m], 6), return_inverse=True)
            g = np.bincount(inv, weights=points.g[m]) / np.bincount(inv)
            radius.append(float(r[m].mean()))
            theta.append(t)
            values.append(g)
        return cls(r_ref=r_ref, radius=tuple(radius), theta=tuple(theta), values=tuple(values))

    def _on_shell(self, s, theta):
        if self.theta[s].size == 1:
            return np.full(theta.shape, self.values[s][0])
        return np.interp(theta, self.theta[s], self.values[s])

    def g(self, positions) -> np.ndarray:
        """Relative light yield at positions (..., 3) mm."""
        x = np.asarray(positions, dtype=float)
        flat = x.reshape(-1, 3)
        r = np.linalg.norm(flat, axis=1)
        th = np.arccos(np.clip(np.where(r > 0, flat[:, 2] / np.where(r > 0, r, 1.0), 1.0), -1, 1))
        rad = np.asarray(self.radius)
        j = np.clip(np.searchsorted(rad, r, side="right") - 1, 0, rad.size - 1)
        out = np.empty(r.size)
        for s in range(rad.size):  # evaluate shell by shell (a few tens), vectorised over points
            m = j == s
            if not m.any():
                continue
            lo = self._on_shell(s, th[m])
            if s + 1 < rad.size:
                hi = self._on_shell(s + 1, th[m])
                w = np.clip((r[m] ** 2 - rad[s] ** 2) / (rad[s + 1] ** 2 - rad[s] ** 2), 0.0, 1.0)
                out[m] = (1 - w) * lo + w * hi
            else:
                out[m] = lo
        return out.reshape(x.shape[:-1])


def build_map(scheme: str, points: PointData, r_ref: float):
    """The map of ``scheme`` (one of :data:`SCHEMES`) from the points."""
    check_choice("scheme", scheme, SCHEMES)
    kind = {"shells": ShellMap, "delaunay": LinearMap, "rbf": RBFMap}[scheme]
    return kind.fit(points, r_ref)


def cross_validate(scheme: str, points: PointData, r_ref: float, *, rng: np.random.Generator,
                   n_folds: int = 10, r_max: float | None = None) -> dict:
    """Held-out accuracy of a scheme: ``n_folds``-fold cross-validation over the points.

    Every point except the centre is left out once; the map of the others predicts it. Returns
    the residuals (prediction - measurement) and their RMS over all points and over the points
    with r <= ``r_max`` (default: all), and the RMS of the measurement errors there.
    """
    check_range("n_folds", n_folds, 2, 1000)
    r = np.linalg.norm(points.position, axis=1)
    centre = int(np.argmin(r))
    others = np.setdiff1d(np.arange(len(r)), [centre])
    fold = np.empty(len(r), dtype=int)
    fold[others] = rng.permutation(len(others)) % n_folds
    fold[centre] = -1
    pred = np.full(len(r), np.nan)
    for k in range(n_folds):  # one map per fold
        test = fold == k
        m = build_map(scheme, points.select(~test), r_ref)
        pred[test] = m.g(points.position[test])
    res = pred - points.g
    sel = others if r_max is None else others[r[others] <= r_max]
    return {"residual": res, "rms": float(np.sqrt(np.nanmean(res[others] ** 2))),
            "rms_fv": float(np.sqrt(np.nanmean(res[sel] ** 2))),
            "err_fv": float(np.sqrt(np.mean(points.g_err[sel] ** 2)))}


@dataclasses.dataclass(frozen=True)
class UniformMap:
    """The map ``g = 1`` everywhere: no correction."""

    r_ref: float

    def g(self, positions) -> np.ndarray:
        return np.ones(np.asarray(positions).shape[:-1])


def correct(pe, x_rec, gmap, y0: float) -> np.ndarray:
    """Calibrated energy ``PE / (y0 g(x_rec))`` (MeV) with ``y0`` in PE per MeV.

    Vertices reconstructed outside the map's sphere are evaluated at its surface.
    """
    x = np.asarray(x_rec, dtype=float)
    r = np.linalg.norm(x, axis=-1, keepdims=True)
    scale = np.minimum(1.0, gmap.r_ref / np.where(r > 0, r, 1.0))
    return np.asarray(pe, dtype=float) / (y0 * gmap.g(x * scale))


def resolution_points(energy, group) -> dict:
    """sigma/E of every group of events (:func:`juno_calib.calibration.resolution.fit_peak`).

    energy : (N,) calibrated energies (MeV); group : (N,) int group (e.g. kinetic-energy) index.
    Returns ``e`` (fitted mean), ``sigma_rel`` and ``error`` per group.
    """
    e = np.asarray(energy, dtype=float)
    group = np.asarray(group)
    out = {"e": [], "sigma_rel": [], "error": []}
    for k in np.unique(group):  # a handful of energies
        f = fit_peak(e[group == k])
        rel = f["sigma"] / f["mean"]
        out["e"].append(f["mean"])
        out["sigma_rel"].append(rel)
        out["error"].append(rel * np.hypot(f["sigma_err"] / f["sigma"], f["mean_err"] / f["mean"]))
    return {k: np.array(v) for k, v in out.items()}


def fit_eq1(points: dict) -> dict:
    """Seed 000's Eq. 1 fitted to :func:`resolution_points`: a, b, c and ``abar`` (= a_eff)."""
    f = fit_resolution(points["e"], points["sigma_rel"], points["error"])
    return {**f, "abar": f["a_eff"]}


def residual_nonuniformity(ratio, positions, r_fv: float, shape=(8, 8, 12)) -> dict:
    """Spread of the mean ``ratio`` (corrected / true energy) over voxels of the fiducial volume.

    Voxels equal in volume: ``shape`` bins in ``(r/r_fv)^3``, ``cos theta`` and ``phi``.
    ``raw`` is the standard deviation of the voxel means relative to their mean; ``stat`` the
    part expected from the finite number of events per voxel; ``residual`` =
    ``sqrt(raw^2 - stat^2)`` (0 if negative).
    """
    x = np.asarray(positions, dtype=float)
    q = np.asarray(ratio, dtype=float)
    r = np.linalg.norm(x, axis=1)
    sel = r < r_fv
    x, q, r = x[sel], q[sel], r[sel]
    idx = [np.minimum(((r / r_fv) ** 3 * shape[0]).astype(int), shape[0] - 1),
           np.minimum(((x[:, 2] / np.where(r > 0, r, 1) + 1) / 2 * shape[1]).astype(int), shape[1] - 1),
           np.minimum((np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi) / (2 * np.pi) * shape[2]).astype(int),
                      shape[2] - 1)]
    flat = np.ravel_multi_index(idx, shape)
    n_vox = int(np.prod(shape))
    cnt = np.bincount(flat, minlength=n_vox)
    if cnt.min() < 2:
        raise ValueError(f"residual_nonuniformity: some voxels have fewer than 2 events (min {cnt.min()}); "
                         "use more events or fewer voxels")
    mean = np.bincount(flat, weights=q, minlength=n_vox) / cnt
    var = np.bincount(flat, weights=q * q, minlength=n_vox) / cnt - mean**2
    m = mean.mean()
    raw = float(mean.std() / m)
    stat = float(np.sqrt(np.mean(var * cnt / (cnt - 1) / cnt)) / m)
    return {"residual": float(np.sqrt(max(raw**2 - stat**2, 0.0))), "raw": raw, "stat": stat,
            "scale": float(m), "voxel_mean": mean.reshape(shape)}


@dataclasses.dataclass(frozen=True, eq=False)
class PhiModulation:
    """The ``phi`` dependence of the light yield measured with spallation n-H captures.

    From voxel peak positions ``mean`` (n_u, n_cos, n_phi) the factor
    ``f = mean / <mean>_phi`` of every voxel; :meth:`g` multiplies a ``(r, theta)`` map by ``f``,
    taken from the voxel in ``((r/R)^3, cos theta)`` and interpolated linearly (periodic) in
    ``phi`` between voxel centres. The source map keeps the ``(r, theta)`` shape; the
    spallation data supply only the modulation around the axis.
    """

    base: object
    factor: np.ndarray
    edges: tuple
    r_ref: float

    @classmethod
    def fit(cls, base, voxels: dict, r_ref: float):
        mean = np.asarray(voxels["mean"], dtype=float)
        if np.any(~np.isfinite(mean)) or np.any(mean <= 0):
            raise ValueError("voxel means must be finite and > 0 (a voxel without captures?)")
        return cls(base=base, factor=mean / mean.mean(axis=2, keepdims=True),
                   edges=tuple(np.asarray(e, dtype=float) for e in voxels["edges"]), r_ref=r_ref)

    def g(self, positions) -> np.ndarray:
        """``g_base(r, theta) * f(r, theta, phi)`` at positions (..., 3) mm."""
        x = np.asarray(positions, dtype=float)
        flat = x.reshape(-1, 3)
        u, c = _u_cos(flat, self.r_ref)
        ph = np.mod(np.arctan2(flat[:, 1], flat[:, 0]), 2 * np.pi)
        eu, ec, ep = self.edges
        iu = np.clip(np.searchsorted(eu, u, side="right") - 1, 0, len(eu) - 2)
        ic = np.clip(np.searchsorted(ec, c, side="right") - 1, 0, len(ec) - 2)
        n_phi = len(ep) - 1
        centre = 0.5 * (ep[:-1] + ep[1:])
        fp = (ph - centre[0]) / (2 * np.pi / n_phi)
        j = np.floor(fp).astype(int)
        w = fp - j
        f = ((1 - w) * self.factor[iu, ic, np.mod(j, n_phi)] + w * self.factor[iu, ic, np.mod(j + 1, n_phi)])
        return self.base.g(x) * f.reshape(x.shape[:-1])


def assess(gmap, y0: float, events: dict, pe, expected, r_fv: float, x_rec=None) -> dict:
    """Correct physics events with ``gmap`` and measure what it buys.

    events : positron events (``k``, ``e_vis``, ``x_true``, ``x_rec``); pe (N,) recorded PE;
    expected (N,) their expected PE (noise free); y0 : PE per MeV at the centre. Events with the
    reconstructed vertex in the fiducial volume (r < r_fv) enter the sigma/E points and the
    Eq. 1 fit (:func:`fit_eq1`); the residual non-uniformity (:func:`residual_nonuniformity`)
    is the spread over voxels of the true vertex of ``E(expected) / e_vis``.
    """
    x_rec = events["x_rec"] if x_rec is None else x_rec
    fv = np.linalg.norm(x_rec, axis=1) < r_fv
    e = correct(pe, x_rec, gmap, y0)
    points = resolution_points(e[fv], events["k"][fv])
    fit = fit_eq1(points)
    ok = events["e_vis"] > 0
    ratio = correct(expected[ok], x_rec[ok], gmap, y0) / events["e_vis"][ok]
    res = residual_nonuniformity(ratio, events["x_true"][ok], r_fv)
    return {**fit, "points": points, "residual": res["residual"], "residual_raw": res["raw"],
            "residual_stat": res["stat"], "scale": res["scale"], "voxel_mean": res["voxel_mean"]}
