"""Energy resolution: peak fits and the resolution formula of seed 000.

The relative resolution of a peak at visible energy E (MeV) is parametrised as (seed 000,
Eq. 1; D. Basilico for JUNO, Phys. Sci. Forum 8 (2023) 31)

    sigma/E = sqrt((a / sqrt(E))^2 + b^2 + (c / E)^2),

with a the photo-statistics term, b the constant term (non-uniformity) and c the noise term;
the effective resolution for the mass ordering is a_eff = sqrt(a^2 + (1.6 b)^2 + (c / 1.6)^2).
"""

from __future__ import annotations

import numpy as np


def fit_peak(values, *, n_sigma: float = 2.0, n_bins: int = 60) -> dict:
    """Gaussian fit of the main peak of a spectrum, within ``n_sigma`` of its centre.

    Starts from the median and the MAD-based width, then fits a Gaussian to the histogram in
    the window (Poisson weights) twice, re-centring the window. Returns ``mean``, ``sigma``
    and their standard errors (same unit as ``values``). Low-energy tails (escaping gammas,
    capsule losses) fall outside the window.
    """
    from scipy.optimize import curve_fit

    x = np.asarray(values, dtype=float)
    if x.size < 20:
        raise ValueError(f"fit_peak needs at least 20 values, got {x.size}")
    mean = float(np.median(x))
    sigma = float(1.4826 * np.median(np.abs(x - mean))) or float(x.std()) or 1.0
    for _ in range(2):
        lo, hi = mean - n_sigma * sigma, mean + n_sigma * sigma
        counts, edges = np.histogram(x, bins=n_bins, range=(lo, hi))
        centres = 0.5 * (edges[1:] + edges[:-1])
        p, cov = curve_fit(lambda t, n, m, s: n * np.exp(-0.5 * ((t - m) / s) ** 2), centres, counts,
                           p0=(counts.max(), mean, sigma), sigma=np.sqrt(np.maximum(counts, 1.0)))
        mean, sigma = float(p[1]), abs(float(p[2]))
    err = np.sqrt(np.diag(cov))
    return {"mean": mean, "sigma": sigma, "mean_err": float(err[1]), "sigma_err": float(err[2])}


def resolution_curve(e_vis, a, b, c):
    """Relative resolution ``sqrt((a/sqrt(E))^2 + b^2 + (c/E)^2)`` (seed 000, Eq. 1), E in MeV."""
    e = np.asarray(e_vis, dtype=float)
    return np.sqrt(a * a / e + b * b + (c / e) ** 2)


def fit_resolution(e_vis, sigma_over_e, error) -> dict:
    """Fit of :func:`resolution_curve`: weighted least squares of ``(sigma/E)^2``, which is
    linear in ``(a^2, b^2, c^2)`` (non-negative). Returns a, b, c, the errors of a and c, ``b2``
    and ``b2_err`` (``b^2`` is often compatible with 0, where ``b`` has no Gaussian error), the
    95% upper limit ``b_up`` and ``a_eff = sqrt(a^2 + (1.6 b)^2 + (c/1.6)^2)`` (seed 000)."""
    from scipy.optimize import nnls

    e = np.asarray(e_vis, dtype=float)
    y = np.asarray(sigma_over_e, dtype=float) ** 2
    w = 1.0 / (2.0 * np.sqrt(y) * np.asarray(error, dtype=float))  # 1 / error of (sigma/E)^2
    design = np.stack([1.0 / e, np.ones_like(e), 1.0 / e**2], axis=1)
    coef, _ = nnls(design * w[:, None], y * w)
    cov = np.linalg.inv((design * w[:, None] ** 2).T @ design)
    err = np.sqrt(np.diag(cov))
    a, b, c = (float(np.sqrt(v)) for v in coef)
    return {"a": a, "b": b, "c": c, "a_err": float(err[0] / (2 * max(a, 1e-12))),
            "c_err": float(err[2] / (2 * max(c, 1e-12))), "b2": float(coef[1]), "b2_err": float(err[1]),
            "b_up": float(np.sqrt(coef[1] + 1.645 * err[1])),
            "a_eff": float(np.sqrt(a * a + (1.6 * b) ** 2 + (c / 1.6) ** 2))}
