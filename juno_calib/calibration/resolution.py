"""Energy resolution: peak fits and the resolution formula of seed 000.

The relative resolution of a peak at visible energy E (MeV) is parametrised as (seed 000,
Eq. 1; D. Basilico for JUNO, Phys. Sci. Forum 8 (2023) 31)

    sigma/E = sqrt((a / sqrt(E))^2 + b^2 + (c / E)^2),

with a the photo-statistics term, b the constant term (non-uniformity) and c the noise term;
the effective resolution for the mass ordering is a_eff = sqrt(a^2 + (1.6 b)^2 + (c / 1.6)^2).
"""

from __future__ import annotations

import numpy as np

from ..core import validate


def fit_peak(values, *, n_sigma: float = 2.0, n_bins: int = 60) -> dict:
    """Gaussian fit of the main peak of a spectrum, within ``n_sigma`` of its centre.

    Starts from the median and the MAD-based width, then fits a Gaussian to the histogram in
    the window (Poisson weights) twice, re-centring the window. Returns ``mean``, ``sigma``
    and their standard errors (same unit as ``values``). Low-energy tails (escaping gammas,
    capsule losses) fall outside the window.
    """
    from scipy.optimize import curve_fit

    x = validate.array("values", values, -1e100, 1e100, ndim=1, size_min=20,
                       why="drop NaN/inf (e.g. events without a fit) before fitting")
    n_sigma = validate.number("n_sigma", n_sigma, 0.5, 10.0)
    n_bins = validate.integer("n_bins", n_bins, 5, 10**5)
    spread = float(np.ptp(x))
    if not spread > 1e-12 * max(abs(float(x.mean())), 1e-300):
        raise ValueError(f"values are all equal ({float(x[0]):g}, {x.size} values): a peak fit "
                         "needs a spread of values")
    mean = float(np.median(x))
    sigma = float(1.4826 * np.median(np.abs(x - mean))) or float(x.std())
    try:
        for _ in range(2):
            lo, hi = mean - n_sigma * sigma, mean + n_sigma * sigma
            counts, edges = np.histogram(x, bins=n_bins, range=(lo, hi))
            if np.count_nonzero(counts) < 3:
                raise RuntimeError("fewer than 3 filled bins in the fit window")
            centres = 0.5 * (edges[1:] + edges[:-1])
            p, cov = curve_fit(lambda t, n, m, s: n * np.exp(-0.5 * ((t - m) / s) ** 2), centres,
                               counts, p0=(counts.max(), mean, sigma),
                               sigma=np.sqrt(np.maximum(counts, 1.0)))
            mean, sigma = float(p[1]), abs(float(p[2]))
        err = np.sqrt(np.diag(cov))
    except RuntimeError as exc:  # scipy's "optimal parameters not found", or the check above
        raise ValueError(f"values ({x.size} values, median {float(np.median(x)):g}, spread "
                         f"{spread:g}) have no Gaussian peak to fit: {exc}") from None
    # a peak of the data lies among the data and is narrower than their spread
    if not (np.all(np.isfinite(err)) and np.isfinite(mean) and 0 < sigma <= spread
            and x.min() <= mean <= x.max()):
        raise ValueError(f"values ({x.size} values) have no Gaussian peak to fit: the fit gave "
                         f"mean {mean:g}, sigma {sigma:g}, errors {err.tolist()}")
    return {"mean": mean, "sigma": sigma, "mean_err": float(err[1]), "sigma_err": float(err[2])}


def resolution_curve(e_vis, a, b, c):
    """Relative resolution ``sqrt((a/sqrt(E))^2 + b^2 + (c/E)^2)`` (seed 000, Eq. 1), E in MeV."""
    e = validate.energies("e_vis", e_vis, 1e-3, 1e4, why="the formula is used from 1 keV to 10 GeV")
    a, b, c = (validate.number(k, val, 0.0, 10.0) for k, val in (("a", a), ("b", b), ("c", c)))
    return np.sqrt(a * a / e + b * b + (c / e) ** 2)


def fit_resolution(e_vis, sigma_over_e, error) -> dict:
    """Fit of :func:`resolution_curve`: weighted least squares of ``(sigma/E)^2``, which is
    linear in ``(a^2, b^2, c^2)`` (non-negative). Returns a, b, c, the errors of a and c, ``b2``
    and ``b2_err`` (``b^2`` is often compatible with 0, where ``b`` has no Gaussian error), the
    95% upper limit ``b_up`` and ``a_eff = sqrt(a^2 + (1.6 b)^2 + (c/1.6)^2)`` (seed 000)."""
    from scipy.optimize import nnls

    e = validate.energies("e_vis", e_vis, 1e-3, 1e4, ndim=1, size_min=3)
    y = validate.array("sigma_over_e", sigma_over_e, 0.0, 10.0, lo_open=True, ndim=1) ** 2
    err_in = validate.array("error", error, 0.0, 10.0, lo_open=True, ndim=1)
    if not e.shape == y.shape == err_in.shape:
        raise ValueError(f"e_vis, sigma_over_e and error must have the same shape, got {e.shape}, "
                         f"{y.shape}, {err_in.shape}")
    if np.unique(e).size < 3:
        raise ValueError(f"e_vis has {np.unique(e).size} distinct energies; the three terms a, b, c "
                         "need at least 3")
    w = 1.0 / (2.0 * np.sqrt(y) * err_in)  # 1 / error of (sigma/E)^2
    design = np.stack([1.0 / e, np.ones_like(e), 1.0 / e**2], axis=1)
    coef, _ = nnls(design * w[:, None], y * w)
    cov = np.linalg.inv((design * w[:, None] ** 2).T @ design)
    err = np.sqrt(np.diag(cov))
    a, b, c = (float(np.sqrt(v)) for v in coef)
    return {"a": a, "b": b, "c": c, "a_err": float(err[0] / (2 * max(a, 1e-12))),
            "c_err": float(err[2] / (2 * max(c, 1e-12))), "b2": float(coef[1]), "b2_err": float(err[1]),
            "b_up": float(np.sqrt(coef[1] + 1.645 * err[1])),
            "a_eff": float(np.sqrt(a * a + (1.6 * b) ** 2 + (c / 1.6) ** 2))}
