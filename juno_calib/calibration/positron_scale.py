"""Posterior of the positron energy scale after the physics-NL calibration (chapter 6), for reuse.

:func:`positron_scale_posterior` runs chapter 6's calibration chain with the library's functions
(:mod:`~juno_calib.calibration.nonlinearity_data` for the true detector's γ peaks and ¹²B sample
and the calibration's templates, :class:`~juno_calib.calibration.nonlinearity.NLFit` for the
likelihood, :mod:`~juno_calib.calibration.fitting` for iminuit and emcee) and returns the
positron-scale bias ``b(E) = fitted positron PE / true positron PE - 1`` at the centre for every
posterior draw, vs prompt energy ``E = T + 2 m_e``. Its median is the calibrated NL's residual
*bias*; its spread the NL *uncertainty* that a physics analysis (chapter 9) propagates.

The random streams are spawned from ``rng`` in chapter 6's order (truth, calibration, sampler,
dual calorimetry), and the truth and calibration streams are consumed in chapter 6's order, so
with chapter 6's seed and statistics the γ peaks, the ¹²B sample and the templates are chapter
6's. Only the fit with ¹²B (or the γ sources alone, ``use_b12=False``) is sampled, so the chain
itself differs from the chapter's (which samples both fits).

``method="laplace"`` replaces emcee by Gaussian draws about the iminuit optimum with the HESSE
covariance: chapter 6 finds the posterior close to Gaussian, and a test checks that both give
the same band.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.params import check_choice, check_range

__all__ = ["PositronScalePosterior", "positron_scale_posterior"]


@dataclasses.dataclass(frozen=True)
class PositronScalePosterior:
    """Positron-scale bias draws vs prompt energy (:func:`positron_scale_posterior`).

    Attributes
    ----------
    e_prompt : (n,) prompt energies, MeV (positron kinetic energy + 2 m_e)
    draws : (D, n) bias ``fit / truth - 1`` of each posterior draw
    method : "mcmc" or "laplace"
    tau_max : largest integrated autocorrelation time of the chain (nan for "laplace")
    converged : the chain is longer than 50 τ (always True for "laplace")
    """

    e_prompt: np.ndarray
    draws: np.ndarray
    method: str
    tau_max: float
    converged: bool
    instrumental_e_vis: np.ndarray | None = None  # (k,) visible energies, MeV
    instrumental_bias: np.ndarray | None = None   # (k,) LPMT charge after dual calorimetry, rel. to n-H, - 1

    @property
    def median(self) -> np.ndarray:
        """(n,) posterior-median bias."""
        return np.median(self.draws, axis=0)

    def quantiles(self, q=(0.16, 0.5, 0.84)) -> np.ndarray:
        """(len(q), n) posterior quantiles of the bias."""
        return np.quantile(self.draws, q, axis=0)

    @property
    def half_width(self) -> np.ndarray:
        """(n,) half the central 68% interval of the bias: the 1σ NL uncertainty vs energy."""
        lo, hi = self.quantiles((0.16, 0.84))
        return 0.5 * (hi - lo)

    def envelope(self, e_lo: float = 1.0, e_hi: float = 8.0) -> float:
        """Largest 68% half width between ``e_lo`` and ``e_hi`` MeV of prompt energy."""
        sel = (self.e_prompt >= e_lo) & (self.e_prompt <= e_hi)
        if not sel.any():
            raise ValueError(f"no prompt energy of the grid ({self.e_prompt[0]:.3f}-"
                             f"{self.e_prompt[-1]:.3f} MeV) lies in [e_lo, e_hi] = [{e_lo:g}, {e_hi:g}] MeV")
        return float(self.half_width[sel].max())

    def relative_draws(self) -> np.ndarray:
        """(D, n) each draw's scale relative to the median, ``(1 + b_d) / (1 + b_med) - 1``:
        the NL uncertainty about the calibrated curve."""
        return (1.0 + self.draws) / (1.0 + self.median[None, :]) - 1.0


def positron_scale_posterior(config: str = "design", *, rng: np.random.Generator, use_b12: bool = True,
                             b12_days: float = 30.0, b12_rate_per_day: float = 1000.0,
                             b12_residual: float = 0.003, daq_scale: float = 1.0, n_template: int = 20000,
                             map_shape: tuple = (64, 17), method: str = "mcmc", n_walkers: int = 20,
                             n_steps: int = 2500, n_draws: int = 400, t_max: float = 11.0,
                             n_energies: int = 111, instrumental: bool = True, n_flashes: int = 100000,
                             n_vertices: int = 60) -> PositronScalePosterior:
    """Chapter 6's physics-NL calibration, returning the posterior of the positron-scale bias.

    The defaults are chapter 6's default parameters (seed aside: pass ``make_rng(seed)``).
    ``t_max`` (MeV) is the largest positron kinetic energy of the returned grid, ``n_energies``
    its number of points from T = 0 (prompt energy 1.022 MeV). Above the ¹²B window the curve is
    the fitted model's extrapolation. ``instrumental``: also run chapter 6's dual-calorimetry
    study (:func:`~juno_calib.calibration.dual_calorimetry.dual_calorimetry_study`, ``n_flashes``
    per laser step, ``n_vertices`` FV vertices) and return the residual instrumental NL after the
    correction vs visible energy, relative to the n-H energy (a bias; its fit error is not
    propagated).
    """
    from ..core import units
    from ..detector.response import DetectorResponse
    from ..particles.beta import B12Decay
    from ..particles.scintillator import Scintillator
    from . import nonlinearity as nl
    from . import nonlinearity_data as nld
    from .fitting import fit_max_posterior

    check_choice("method", method, ("mcmc", "laplace"))
    check_range("daq_scale", daq_scale, 0.01, 10.0)
    check_range("n_template", n_template, 1000, 1_000_000)
    check_range("b12_days", b12_days, 0.5, 3650.0)
    check_range("b12_rate_per_day", b12_rate_per_day, 1.0, 100_000.0)
    check_range("b12_residual", b12_residual, 0.0, 0.05)
    check_range("n_draws", n_draws, 50, 100_000)
    check_range("t_max", t_max, 1.0, 13.0, unit="MeV")
    check_range("n_energies", n_energies, 5, 10_000)
    rng_truth, rng_calib, rng_mcmc, rng_dc = rng.spawn(4)  # chapter 6's streams (the last: dual calorimetry)
    resp = DetectorResponse.load(config, map_shape=tuple(map_shape))
    geometry, optics, scint = resp.geometry, resp.optics, Scintillator.load(config)
    cfg = dataclasses.replace(nl.NLFitConfig.load(config), b12_residual_nonuniformity=b12_residual,
                              b12_rate=b12_rate_per_day / units.day)
    dark_pe, ly_centre = resp.dark_mean["lpmt"], resp.total_map.center["lpmt"]
    model = nl.ElectronNLModel.build(
        z_over_a=scint.z_over_a, mean_excitation_mev=scint.mean_excitation_energy / units.MeV,
        density_gcm3=scint.density / (units.g / units.cm**3), n_ls=optics.n_ls,
        scint_yield_per_mev=optics.scint_yield * units.MeV, config=cfg)
    # the true detector's γ peaks at the centre and the calibration's templates of them
    lines = nld.LINES
    n_decays = {ln.source: max(1000, int(daq_scale * nld.programme_events(ln, config))) for ln in lines}
    guess = np.array([ln.energy for ln in lines]) * resp.pmts.light_yield_center / units.unit_factor("PE/MeV")
    mean_pe, err_pe, _ = nld.simulate_peaks(lines, n_decays, rng=rng_truth, scint=scint, geometry=geometry,
                                            response=resp, guess_pe=guess)
    i_nh = [ln.name for ln in lines].index("nH")
    a_start = mean_pe[i_nh] / lines[i_nh].energy
    weights, shift_mc, shift_err = nld.line_templates(lines, n_template, model, rng=rng_calib, scint=scint,
                                                      geometry=geometry, a_nominal=a_start,
                                                      kb_nominal=cfg.kb_start, dark_pe=dark_pe)
    peaks = nl.PeakData(names=tuple(ln.name for ln in lines), energy=np.array([ln.energy for ln in lines]),
                        mean_pe=mean_pe, err_pe=np.hypot(err_pe, shift_err * mean_pe),
                        capsule=np.array([ln.capsule for ln in lines]), shift_mc=shift_mc)
    # the 12B sample (always drawn, as in chapter 6, so the later truth draws are the chapter's)
    n_b12 = int(round(cfg.b12_rate * b12_days * units.day))
    b12_pe = nld.b12_sample(n_b12, rng=rng_truth, scint=scint, geometry=geometry, response=resp,
                            fiducial_radius=cfg.b12_fiducial_radius, residual=b12_residual)
    b12 = nld.b12_data(b12_pe, config=cfg, a_start=a_start, n_template=400_000, rng=rng_calib,
                       decay=B12Decay.load(config), gamma_line=[ln.name for ln in lines].index("AmBe"),
                       dark_var_pe=dark_pe)
    fit = nl.NLFit(model, peaks, weights, cfg, dark_pe=dark_pe, a_start=a_start, b12=b12 if use_b12 else None)
    if method == "mcmc":
        _, res = nl.run_fit(fit, rng=rng_mcmc, n_walkers=n_walkers, n_steps=n_steps)
        theta = res.samples[rng_mcmc.choice(len(res.samples), size=min(n_draws, len(res.samples)),
                                            replace=False)]
        tau_max, converged = res.tau_max, res.converged
    else:
        best = fit_max_posterior(fit.log_likelihood, fit.params, fit.x0)
        theta = rng_mcmc.multivariate_normal(best.values, best.covariance, size=n_draws)
        tau_max, converged = float("nan"), True
    t_pos = np.linspace(0.0, t_max, n_energies)
    ann_w = nld.annihilation_weights(model, n_template, rng=rng_calib, scint=scint, geometry=geometry)
    true_pos = nld.true_positron_pe(t_pos, rng=rng_truth, scint=scint, geometry=geometry,
                                    light_yield=ly_centre, n_annihilation=4 * n_template)
    bias = fit.positron_pe(theta, t_pos, ann_w) / true_pos[None, :] - 1.0
    e_inst = b_inst = None
    if instrumental:
        from . import dual_calorimetry as dc

        study = dc.dual_calorimetry_study(resp, dc.DualCalorimetryConfig.load(config), n_flashes=n_flashes,
                                          n_vertices=n_vertices, fiducial_radius=cfg.b12_fiducial_radius,
                                          rng=rng_dc)
        e_inst = np.asarray(study.energies, dtype=float)
        b_inst = study.corrected / np.interp(lines[i_nh].energy, e_inst, study.corrected) - 1.0
    return PositronScalePosterior(e_prompt=t_pos + 2 * nl.ELECTRON_MASS_MEV, draws=bias, method=method,
                                  tau_max=float(tau_max), converged=bool(converged),
                                  instrumental_e_vis=e_inst, instrumental_bias=b_inst)
