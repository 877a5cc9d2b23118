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


def electron_resolution(response, t, positions, *, scint, rng: np.random.Generator,
                        charge: bool = True) -> dict:
    """Relative resolution of point-like electrons through the total-PE path (a truth-level study).

    Every kinetic energy of ``t`` (K,) MeV is simulated once at each of ``positions`` (n, 3) mm;
    the energy estimate is ``(S - <N_dark>) / (Y0 g(x))`` with ``S`` the LPMT charge (``charge``)
    or PE count, ``Y0`` the centre yield and ``g`` the response's own map at the true vertex, i.e.
    a perfect non-uniformity correction and vertex. Returns ``e_vis`` (K,) MeV, ``sigma_over_e``
    (K,) and its standard error ``error`` (K,), ready for :func:`fit_resolution`.
    """
    from ..particles.events import simulate_electrons

    t = validate.energies("t", t, 0.0, 20.0, lo_open=True, ndim=1, size_min=1)
    x = validate.positions("positions", positions, r_max=response.geometry.r_ls, volume=validate.LS)
    x = np.atleast_2d(x)
    if x.shape[0] < 20:
        raise ValueError(f"positions needs at least 20 vertices for a width, got {x.shape[0]}")
    validate.generator("rng", rng)
    charge = validate.instance("charge", charge, bool)
    n = x.shape[0]
    dep = simulate_electrons(np.repeat(t, n), np.tile(x, (t.size, 1)), rng=rng, scint=scint)
    tot = response.sample(dep, rng=rng, charge=charge)
    s = tot.lpmt_charge if charge else tot.lpmt
    tmap = response.total_map
    mu = np.tile(tmap.expected(x)["lpmt"], t.size)
    e = ((s - response.dark_mean["lpmt"]) / mu).reshape(t.size, n)
    e_vis = e.mean(axis=1)
    res = e.std(axis=1, ddof=1) / e_vis
    return {"e_vis": e_vis, "sigma_over_e": res, "error": res / np.sqrt(2 * (n - 1))}


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


def centre_peak_budget(response, deposits, totals, *, quench_rel=None, gain_spread: float = 0.05,
                       vertex_sigma_1mev: float = 100.0, n_vertex: int = 40,
                       rng: np.random.Generator) -> dict:
    """The width of a γ peak at the centre split into its terms (a truth-level study).

    ``deposits`` (a :class:`juno_calib.particles.events.Deposits` of decays at the centre) and
    ``totals`` (their :class:`juno_calib.detector.response.TotalPE`, drawn with ``charge=True``).
    Returns relative widths (fractions): the fitted peaks ``sim_pe``/``sim_charge`` (with
    ``_err``) at visible energy ``e_vis`` (MeV); the model's terms ``photo`` (1/sqrt(N)),
    ``dark`` (sqrt(N_dark)/N), ``cascade`` (the decays' summed e_vis without photo-statistics),
    ``charge`` (the SPE spectra: sqrt((ENF - 1)(N + N_dark))/N), their sums ``sum_pe`` and
    ``sum_charge``; and terms the model lacks: ``quench`` (per-deposit relative light spread
    ``quench_rel`` (M,), summed in variance per event; 0 if None), ``gain_spread`` (a relative
    per-channel gain error of rms ``gain_spread`` raises the ENF by 1 + gain_spread^2),
    ``vertex`` (rms of g over Gaussian vertex errors of ``vertex_sigma_1mev`` mm / sqrt(E), from
    the direct calculation at ``n_vertex`` vertices), and the charge term with no NNVT tail
    (``charge_no_tail``) and twice its fraction (``charge_double_tail``).
    """
    from ..detector.spe import SPESpectrum

    validate.generator("rng", rng)
    gain_spread = validate.number("gain_spread", gain_spread, 0.0, 1.0)
    vertex_sigma_1mev = validate.number("vertex_sigma_1mev", vertex_sigma_1mev, 0.0, 1e4, unit="mm")
    n_vertex = validate.integer("n_vertex", n_vertex, 2, 10**4)
    if getattr(totals, "lpmt_charge", None) is None:
        raise ValueError("totals must carry charges: draw them with sample_total(..., charge=True)")
    e_ev = deposits.per_event()
    if totals.lpmt.shape != e_ev.shape:
        raise ValueError(f"totals ({totals.lpmt.shape[0]} events) and deposits ({e_ev.size} events) "
                         "must describe the same events")
    vis = e_ev > 0
    ly, n_d = response.total_map.center["lpmt"], response.dark_mean["lpmt"]
    try:
        fits = {k: fit_peak((v[vis] - n_d) / ly)
                for k, v in (("pe", totals.lpmt), ("charge", totals.lpmt_charge))}
    except ValueError as err:
        raise ValueError(f"totals: the peak of the events with visible deposits cannot be fitted: "
                         f"{err}") from None
    out = {}
    for k, f in fits.items():
        out[f"sim_{k}"] = f["sigma"] / f["mean"]
        out[f"sim_{k}_err"] = out[f"sim_{k}"] * np.hypot(f["sigma_err"] / f["sigma"],
                                                         f["mean_err"] / f["mean"])
    e = fits["pe"]["mean"]
    n_s = ly * e
    if np.ptp(e_ev[vis]) <= 1e-9 * e_ev[vis].mean():  # point-like deposits of one energy
        cascade = 0.0
    else:
        c_fit = fit_peak(e_ev[vis])
        cascade = c_fit["sigma"] / c_fit["mean"]
    out.update(e_vis=e, photo=1 / np.sqrt(n_s), dark=np.sqrt(n_d) / n_s, cascade=cascade)

    def charge_term(spectra):
        enf = np.array([s.enf for s in spectra])
        extra = (n_s * (response.type_fraction["lpmt"] @ enf - 1)
                 + n_d * (response.dark_type_fraction["lpmt"] @ enf - 1))
        return float(np.sqrt(extra) / n_s)

    sp = response.spe_spectra
    out["charge"] = charge_term(sp)
    nnvt = sp[0]
    out["charge_no_tail"] = charge_term((SPESpectrum(peak_sigma=nnvt.peak_sigma),) + sp[1:])
    out["charge_double_tail"] = charge_term(
        (SPESpectrum(peak_sigma=nnvt.peak_sigma, tail_fraction=min(2 * nnvt.tail_fraction, 0.99),
                     tail_mean=nnvt.tail_mean, tail_shape=nnvt.tail_shape),) + sp[1:])
    out["sum_pe"] = float(np.sqrt(out["photo"] ** 2 + out["dark"] ** 2 + out["cascade"] ** 2))
    out["sum_charge"] = float(np.hypot(out["sum_pe"], out["charge"]))
    if quench_rel is None:
        out["quench"] = 0.0
    else:
        q = validate.array("quench_rel", quench_rel, 0.0, 1.0, ndim=1)
        if q.shape != deposits.e_vis.shape:
            raise ValueError(f"quench_rel must have one value per deposit ({deposits.e_vis.size}), "
                             f"got {q.size}")
        var = np.bincount(deposits.event, weights=(q * deposits.e_vis) ** 2, minlength=deposits.n_events)
        out["quench"] = float(np.sqrt(var[vis].mean()) / e_ev[vis].mean())
    out["gain_spread"] = float(np.sqrt(gain_spread**2 * response.charge_enf(n_s) * (n_s + n_d)) / n_s)
    x = rng.normal(0.0, vertex_sigma_1mev / np.sqrt(e), size=(n_vertex, 3))
    tot = response.expected_total(np.vstack([np.zeros((1, 3)), x]))["lpmt"]
    out["vertex"] = float(np.std(tot[1:] / tot[0]))
    return {k: float(v) for k, v in out.items()}


def centre_peak_budget_rows(budget: dict) -> list[tuple[str, str, str]]:
    """Rows (term, sigma/E in %, in the model?) of :func:`centre_peak_budget` for a table."""
    b = {k: 100 * v for k, v in budget.items() if k != "e_vis"}
    rows = [
        ("photo-statistics 1/√N", b["photo"], "yes"),
        ("dark noise √N_dark/N", b["dark"], "yes"),
        ("γ cascade (Compton sharing, capsule)", b["cascade"], "yes"),
        ("sum in PE (quadrature)", b["sum_pe"], "—"),
        ("simulated peak, PE", b["sim_pe"], "—"),
        ("SPE charge spectra (ENF)", b["charge"], "yes (charge)"),
        ("sum in charge (quadrature)", b["sum_charge"], "—"),
        ("simulated peak, charge", b["sim_charge"], "—"),
        ("electron quenching / Cherenkov fluctuations", b["quench"], "no (estimate)"),
        ("PMT gain calibration, 5% rms (assumption)", b["gain_spread"], "no (estimate)"),
        ("vertex error, g at the centre", b["vertex"], "no (estimate)"),
    ]
    return [(name, f"{v:.3f}", where) for name, v, where in rows]
