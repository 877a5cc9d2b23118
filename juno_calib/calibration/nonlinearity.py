"""Physics non-linearity: the calibration's own energy model and its likelihood.

The true detector (``juno_calib.particles``) turns an electron of kinetic energy ``T`` into
visible energy with Birks quenching over the Bethe stopping power *with* the Sternheimer–Peierls
density effect, plus the GNA/Borexino Cherenkov polynomial; positrons use the Bhabha stopping
power. The calibration does **not** read that code. It fits its own model (this module):

.. math::

    N_{PE}(T) = A\\,\\Big[\\int_0^T \\frac{dE}{1 + k_B\\,S(E)} + k_C\\,\\frac{N_{FT}(T)}{Y_s}\\Big],

* ``S`` the Bethe–Rohrlich–Carlson collision stopping power of electrons (PDG form)
  **without** the density-effect correction, from the LS composition (MeV cm² g⁻¹);
* ``N_FT`` the Frank–Tamm number of Cherenkov photons along the CSDA track in the band
  ``[lambda_min, lambda_max]`` at the single refractive index ``n_LS`` (no dispersion, no
  absorption/re-emission), divided by the scintillation yield ``Y_s`` (photons/MeV), so
  ``k_C`` is the relative detection efficiency of Cherenkov to scintillation photons;
* ``A`` the PE per scintillation-equivalent MeV at the centre.

γ lines: the model's light of each Compton (or pair) electron, summed per event and averaged
over the contained events of a simulated line (the "Compton-electron spectrum" of the line,
stored as weights on the energy grid, :func:`grid_weights`). Positrons: electron light of the
kinetic energy plus the mean light of two 0.511 MeV γ (as real analyses assume).
The likelihood (:class:`NLFit`) combines the γ peaks (Gaussian) and, optionally, the shape of
the ¹²B spectrum (multinomial). Nuisance parameters with Normal priors: the error of the
dark-noise subtraction (sampled), a linear shape factor of the ¹²B spectrum and the residual
non-uniformity scale of the ¹²B sample (sampled), and the peak shift ``s_i`` of each
encapsulated source. A peak depends on its ``s_i`` linearly, ``m_i = P_i (1 + s_i) - d``, so with
``s_i ~ N(mu_i, sigma_i)`` the shift is marginalised exactly:
``m_i ~ N(P_i (1 + mu_i) - d, err_i² + (P_i sigma_i)²)``. This removes six parameters from the
sampler (shorter autocorrelation times) without approximation.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.special import ndtr

from ..core import validate
from ..core.constants import ELECTRON_MASS, FINE_STRUCTURE
from ..core.params import ParamSet, check_range
from ..core.units import MeV
from .fitting import Normal, Parameter, Uniform

ELECTRON_MASS_MEV = ELECTRON_MASS / MeV  #: m_e c^2, MeV (core/constants, CODATA 2018)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NLFitConfig(ParamSet):
    """Constants of the calibration's NL model and its nuisance priors (data/nonlinearity.yaml)."""

    _section = "nonlinearity"
    bethe_k: float
    cherenkov_lambda_min: float
    cherenkov_lambda_max: float
    fit_grid_t_min: float
    fit_grid_t_max: float
    fit_grid_points: int
    kb_start: float
    capsule_shift_uncertainty: float
    dark_subtraction_uncertainty: float
    b12_shape_slope_sigma: float
    b12_residual_nonuniformity: float
    b12_rate: float
    b12_fiducial_radius: float
    b12_fit_e_min: float
    b12_fit_e_max: float
    b12_fit_bins: int

    def __post_init__(self):
        check_range("cherenkov_lambda_min", self.cherenkov_lambda_min, 0, self.cherenkov_lambda_max,
                    unit="nm", lo_open=True, hi_open=True)
        check_range("fit_grid_points", self.fit_grid_points, 50, 100_000)
        for name in ("capsule_shift_uncertainty", "dark_subtraction_uncertainty",
                     "b12_shape_slope_sigma", "b12_residual_nonuniformity", "b12_rate"):
            check_range(name, getattr(self, name), 0, lo_open=True)
        check_range("b12_fit_e_min", self.b12_fit_e_min, 0, self.b12_fit_e_max, unit="MeV",
                    lo_open=True, hi_open=True)


def bethe_electron(t, *, z_over_a: float, mean_excitation_mev: float,
                   k: float = 0.307075) -> np.ndarray:
    """Electron collision stopping power without density effect, MeV cm² g⁻¹ (PDG form).

    ``S = K/2 (Z/A)/β² [ln(τ²(τ+2) / (2 (I/m)²)) + F(τ)]``, ``F = 1 - β² + (τ²/8 - (2τ+1) ln 2)/(τ+1)²``.
    ``t`` in MeV (> 0); ``z_over_a`` in mol/g; ``mean_excitation_mev`` in MeV.

    >>> round(float(bethe_electron(1.0, z_over_a=0.55509, mean_excitation_mev=75e-6)), 2)
    1.87
    """
    t = validate.energies("t", t, 0.0, 1e3, lo_open=True)
    z_over_a = validate.number("z_over_a", z_over_a, 0.0, 1.0, lo_open=True, unit="mol/g")
    mean_excitation_mev = validate.number("mean_excitation_mev", mean_excitation_mev, 0.0, 0.01,
                                          lo_open=True, unit="MeV", why="I is ~1e-4 MeV for light media")
    k = validate.number("k", k, 0.0, 10.0, lo_open=True)
    tau = t / ELECTRON_MASS_MEV
    beta2 = 1.0 - 1.0 / (tau + 1.0) ** 2
    f = 1.0 - beta2 + (tau**2 / 8.0 - (2.0 * tau + 1.0) * math.log(2.0)) / (tau + 1.0) ** 2
    log_term = np.log(tau**2 * (tau + 2.0) / (2.0 * (mean_excitation_mev / ELECTRON_MASS_MEV) ** 2))
    return 0.5 * k * z_over_a / beta2 * (log_term + f)



@dataclasses.dataclass(frozen=True)
class ElectronNLModel:
    """The calibration's electron light model on a fixed kinetic-energy grid.

    Build with :meth:`build`; :meth:`light` evaluates it for many parameter sets at once.

    Attributes
    ----------
    t : (G,) kinetic-energy nodes, MeV; ``t[0] = 0``
    stopping : (G,) fit stopping power, MeV cm² g⁻¹ (T = 0 holds the first node's value)
    cherenkov : (G,) ``N_FT(T) / Y_s`` (scintillation-equivalent MeV per unit k_C)
    """

    t: np.ndarray
    stopping: np.ndarray
    cherenkov: np.ndarray

    @classmethod
    def build(cls, *, z_over_a: float, mean_excitation_mev: float, density_gcm3: float,
              n_ls: float, scint_yield_per_mev: float, config: NLFitConfig) -> ElectronNLModel:
        """Tabulate ``S`` and the Frank–Tamm term from the LS composition and optics."""
        from ..core import units

        t = np.concatenate([[0.0], np.geomspace(config.fit_grid_t_min / units.MeV,
                                                config.fit_grid_t_max / units.MeV,
                                                int(config.fit_grid_points) - 1)])
        s = np.empty(t.size)
        s[1:] = bethe_electron(t[1:], z_over_a=z_over_a, mean_excitation_mev=mean_excitation_mev,
                               k=config.bethe_k)
        s[0] = s[1]  # held constant below the first node
        gamma = t / ELECTRON_MASS_MEV + 1.0
        beta2 = 1.0 - 1.0 / gamma**2
        above = np.clip(1.0 - 1.0 / (np.maximum(beta2, 1e-12) * n_ls**2), 0.0, None)
        lam = (config.cherenkov_lambda_min / units.cm, config.cherenkov_lambda_max / units.cm)
        per_cm = 2 * math.pi * FINE_STRUCTURE * (1 / lam[0] - 1 / lam[1]) * above  # photons/cm
        per_mev = per_cm / (s * density_gcm3)  # photons/MeV (0 below threshold)
        steps = 0.5 * (per_mev[1:] + per_mev[:-1]) * np.diff(t)
        ch = np.concatenate([[0.0], np.cumsum(steps)]) / scint_yield_per_mev
        return cls(t=t, stopping=s, cherenkov=ch)

    def light(self, kb, kc) -> np.ndarray:
        """Light ``L(T)`` on the grid (scintillation-equivalent MeV), shape (W, G).

        ``kb`` (W,) in g cm⁻² MeV⁻¹ and ``kc`` (W,) dimensionless, any number W of sets.
        """
        kb = np.atleast_1d(np.asarray(kb, dtype=float))[:, None]
        kc = np.atleast_1d(np.asarray(kc, dtype=float))[:, None]
        integrand = 1.0 / (1.0 + kb * self.stopping[None, :])
        steps = 0.5 * (integrand[:, 1:] + integrand[:, :-1]) * np.diff(self.t)[None, :]
        quenched = np.concatenate([np.zeros((kb.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
        return quenched + kc * self.cherenkov[None, :]

    def interpolation_matrix(self, t) -> np.ndarray:
        """(len(t), G) matrix M with ``L(t) = L_grid @ M.T`` (linear interpolation)."""
        t = validate.energies("t (kinetic energy)", t, 0.0, float(self.t[-1])).ravel()
        w = np.zeros((t.size, self.t.size))
        rows = np.arange(t.size)
        idx, frac = _locate(self.t, t)
        np.add.at(w, (rows, idx), 1 - frac)
        np.add.at(w, (rows, idx + 1), frac)
        return w


def _grid(grid) -> np.ndarray:
    g = validate.energies("grid", grid, ndim=1, size_min=2)
    if not np.all(np.diff(g) > 0):
        raise ValueError(f"grid must increase strictly (kinetic-energy nodes, MeV), got {g[:5]}...")
    return g


def locate(grid, t):
    """Interval ``idx`` of ``grid`` holding each ``t`` and the fraction ``frac`` across it."""
    grid = _grid(grid)
    t = validate.energies("t (kinetic energy)", t, float(grid[0]), float(grid[-1]))
    return _locate(grid, t)


def _locate(grid, t):
    idx = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, grid.size - 2)
    frac = (t - grid[idx]) / (grid[idx + 1] - grid[idx])
    return idx, frac


def grid_weights(energy, event, n_events: int, grid, keep=None) -> np.ndarray:
    """Compton-electron spectrum of a simulated line as weights on ``grid`` (G,).

    ``sum_d L(T_d)`` averaged over the kept events equals ``weights @ L_grid`` for a light
    curve linear between nodes. ``energy`` (M,) deposit kinetic energies, MeV; ``event`` (M,)
    event index; ``keep`` (n_events,) bool selects events (e.g. the contained ones).
    """
    n_events = validate.integer("n_events", n_events, 1, 10**9)
    grid = _grid(grid)
    energy = validate.energies("energy (kinetic energy)", energy, float(grid[0]), float(grid[-1]), ndim=1)
    ev = np.asarray(event)
    if ev.shape != energy.shape or (ev.size and (ev.dtype.kind not in "iu" or ev.min() < 0
                                                 or ev.max() >= n_events)):
        raise ValueError(f"event must hold one event index in [0, n_events = {n_events}) per energy "
                         f"({energy.size}), got shape {ev.shape}, dtype {ev.dtype}")
    if keep is not None and (np.shape(keep) != (n_events,) or np.asarray(keep).dtype != bool):
        raise ValueError(f"keep must be a boolean mask of shape (n_events,) = ({n_events},), got "
                         f"shape {np.shape(keep)}")
    keep = np.ones(n_events, bool) if keep is None else np.asarray(keep, bool)
    sel = keep[ev]
    t = energy[sel]
    idx, frac = _locate(grid, t)
    w = np.bincount(idx, weights=1 - frac, minlength=grid.size)
    w += np.bincount(idx + 1, weights=frac, minlength=grid.size)
    return w / max(int(keep.sum()), 1)


@dataclasses.dataclass(frozen=True)
class PeakData:
    """Measured γ peaks: dark-subtracted peak means (PE) and their errors, one per line."""

    names: tuple
    energy: np.ndarray      # (P,) nominal line energies, MeV (labels and plots only)
    mean_pe: np.ndarray     # (P,) peak mean minus the measured dark-noise mean, PE
    err_pe: np.ndarray      # (P,) statistical error, PE
    capsule: np.ndarray     # (P,) bool: the line comes from an encapsulated source
    shift_mc: np.ndarray    # (P,) MC peak-estimator shift (capsule and peak shape), relative

    def __post_init__(self):
        names = tuple(self.names) if isinstance(self.names, (tuple, list)) else None
        if not names or not all(isinstance(n, str) for n in names):
            raise TypeError(f"names must be a non-empty tuple of line names, got {self.names!r}")
        p = len(names)
        shape = dict(ndim=1, size_min=p)
        fields = {"energy": validate.energies("energy", self.energy, 0.0, 100.0, lo_open=True, ndim=1),
                  "mean_pe": validate.array("mean_pe", self.mean_pe, 0.0, lo_open=True, **shape),
                  "err_pe": validate.array("err_pe", self.err_pe, 0.0, lo_open=True, **shape),
                  "shift_mc": validate.array("shift_mc", self.shift_mc, -0.5, 0.5, **shape)}
        capsule = np.asarray(self.capsule)
        if capsule.dtype != bool:
            raise TypeError(f"capsule must be a bool array (one flag per line), got dtype {capsule.dtype}")
        for name, value in {**fields, "capsule": capsule}.items():
            if value.shape != (p,):
                raise ValueError(f"{name} has shape {value.shape}; it needs ({p},), "
                                 "one value per line of names")
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "capsule", capsule)


@dataclasses.dataclass(frozen=True)
class B12Data:
    """The ¹²B spectrum in PE after the non-uniformity correction, and its fit template."""

    edges_pe: np.ndarray    # (K+1,) bin edges, PE
    counts: np.ndarray      # (K,) observed counts
    t_nodes: np.ndarray     # (J,) beta kinetic-energy nodes of the template, MeV
    w_ground: np.ndarray    # (J,) template weights of the branches without γ
    w_gamma: np.ndarray     # (J,) weights of the 4.44 MeV branch (beta + the 4.44 MeV γ)
    gamma_line: int         # index of the peak whose template gives the 4.44 MeV γ light
    dark_var_pe: float      # variance of the dark-noise PE in the window

    def __post_init__(self):
        edges = validate.array("edges_pe", self.edges_pe, 0.0, ndim=1, size_min=2)
        if np.any(np.diff(edges) <= 0):
            raise ValueError("edges_pe must increase strictly (bin edges in PE)")
        counts = validate.array("counts", self.counts, 0.0, ndim=1)
        if counts.shape != (edges.size - 1,):
            raise ValueError(f"counts has shape {counts.shape}; it needs ({edges.size - 1},), "
                             "one per bin of edges_pe")
        t = validate.energies("t_nodes", self.t_nodes, 0.0, 20.0, ndim=1, size_min=2)
        wg = validate.array("w_ground", self.w_ground, 0.0, ndim=1)
        wy = validate.array("w_gamma", self.w_gamma, 0.0, ndim=1)
        for name, w in (("w_ground", wg), ("w_gamma", wy)):
            if w.shape != t.shape:
                raise ValueError(f"{name} has shape {w.shape}; it needs {t.shape}, "
                                 "one weight per node of t_nodes")
        if not np.sum(wg + wy) > 0:
            raise ValueError("w_ground and w_gamma are all zero: the template has no events")
        validate.integer("gamma_line", self.gamma_line, 0, 10**6)
        validate.number("dark_var_pe", self.dark_var_pe, 0.0)
        for name, value in (("edges_pe", edges), ("counts", counts), ("t_nodes", t), ("w_ground", wg),
                            ("w_gamma", wy)):
            object.__setattr__(self, name, value)


class NLFit:
    """Likelihood of the physics-NL fit; parameters in :attr:`params` (see module docstring).

    Parameters
    ----------
    model : ElectronNLModel
    peaks : PeakData
    gamma_weights : (P, G) Compton-electron spectra of the peaks (no capsule, contained)
    config : NLFitConfig
    dark_pe : float
        Measured LPMT dark-noise mean (PE) that was subtracted; sets the width of the
        dark-subtraction nuisance.
    b12 : B12Data or None
        Include the ¹²B spectral fit.
    a_start : float
        Starting PE per scintillation-equivalent MeV (e.g. the n-H peak / 2.223 MeV).
    """

    def __init__(self, model: ElectronNLModel, peaks: PeakData, gamma_weights, config: NLFitConfig,
                 *, dark_pe: float, a_start: float, b12: B12Data | None = None):
        validate.instance("model", model, ElectronNLModel, hint="ElectronNLModel.build(...)")
        validate.instance("peaks", peaks, PeakData, hint="PeakData(names, energy, mean_pe, ...)")
        validate.instance("config", config, NLFitConfig, hint="NLFitConfig.load()")
        if b12 is not None:
            validate.instance("b12", b12, B12Data, hint="nonlinearity_data.b12_data(...)")
            if not 0 <= b12.gamma_line < len(peaks.names):
                raise ValueError(f"b12.gamma_line = {b12.gamma_line} is not a peak index "
                                 f"in [0, {len(peaks.names)})")
        dark_pe = validate.number("dark_pe", dark_pe, 0.0, lo_open=True,
                                  why="the measured dark-noise mean sets the width of its nuisance")
        a_start = validate.number("a_start", a_start, 0.0, lo_open=True, unit="PE/MeV")
        gw = validate.array("gamma_weights", gamma_weights, 0.0, ndim=2)
        if gw.shape != (len(peaks.names), model.t.size):
            raise ValueError(f"gamma_weights has shape {gw.shape}; it needs "
                             f"({len(peaks.names)}, {model.t.size}): "
                             "one Compton-electron spectrum per peak on the model's grid")
        self.model, self.peaks, self.config, self.b12 = model, peaks, config, b12
        self.gamma_weights = gw
        params = [Parameter("A", Uniform(0.5 * a_start, 1.5 * a_start), label="A (PE/MeV)"),
                  Parameter("kB", Uniform(0.0, 0.05), label="k_B (g/cm²/MeV)"),
                  Parameter("kC", Uniform(0.0, 20.0), label="k_C"),
                  Parameter("dark", Normal(0.0, config.dark_subtraction_uncertainty * dark_pe),
                            label="δ dark (PE)")]
        # capsule peak shifts: Normal priors N(shift_mc, u |shift_mc|); they enter each peak
        # linearly, so they are marginalised analytically (module docstring), not sampled
        self.shift_sigma = np.where(peaks.capsule, np.maximum(
            config.capsule_shift_uncertainty * np.abs(peaks.shift_mc), 1e-5), 0.0)
        if b12 is not None:
            params += [Parameter("b12_scale", Normal(0.0, config.b12_residual_nonuniformity),
                                 label="¹²B residual NU (%)", scale=100.0),
                       Parameter("b12_slope", Normal(0.0, config.b12_shape_slope_sigma),
                                 label="¹²B shape slope (%/MeV)", scale=100.0)]
            self._tmean = float(np.sum(b12.t_nodes * (b12.w_ground + b12.w_gamma))
                                / np.sum(b12.w_ground + b12.w_gamma))
            # nodes that can reach the fit window: ground-state betas above 0.7 E_min (the
            # model's light per MeV is > 0.9 everywhere), every node of the 4.44 MeV branch
            from ..core import units

            t_low = 0.7 * config.b12_fit_e_min / units.MeV
            self._b12_sel = [(b12.w_ground > 0) & (b12.t_nodes > t_low), b12.w_gamma > 0]
            self._b12_matrix = [model.interpolation_matrix(b12.t_nodes[m]) for m in self._b12_sel]
        self.params = params
        self.names = tuple(p.name for p in params)
        self.x0 = np.array([a_start, config.kb_start, 1.0, 0.0] + ([0.0, 0.0] if b12 is not None else []))

    # ---- predictions ----------------------------------------------------------------------
    def _col(self, theta, name):
        return theta[:, self.names.index(name)]

    def _peaks(self, theta):
        theta = np.atleast_2d(theta)
        light = self.model.light(self._col(theta, "kB"), self._col(theta, "kC"))
        full = self._col(theta, "A")[:, None] * (light @ self.gamma_weights.T)
        mean = full * (1.0 + self.peaks.shift_mc[None, :]) - self._col(theta, "dark")[:, None]
        var = self.peaks.err_pe[None, :] ** 2 + (full * self.shift_sigma[None, :]) ** 2
        return mean, var

    def peak_prediction(self, theta) -> np.ndarray:
        """(W, P) predicted dark-subtracted peak means, PE (capsule shifts at their prior mean)."""
        return self._peaks(theta)[0]

    def electron_pe(self, theta, t) -> np.ndarray:
        """(W, len(t)) predicted PE of electrons of kinetic energy ``t`` (MeV) at the centre."""
        theta = np.atleast_2d(theta)
        light = self.model.light(self._col(theta, "kB"), self._col(theta, "kC"))
        return self._col(theta, "A")[:, None] * (light @ self.model.interpolation_matrix(t).T)

    def positron_pe(self, theta, t, annihilation_weights) -> np.ndarray:
        """(W, len(t)) predicted PE of positrons: electron light of ``t`` + two 0.511 MeV γ."""
        theta = np.atleast_2d(theta)
        light = self.model.light(self._col(theta, "kB"), self._col(theta, "kC"))
        ann = light @ np.asarray(annihilation_weights, dtype=float)
        return self._col(theta, "A")[:, None] * (light @ self.model.interpolation_matrix(t).T
                                                 + ann[:, None])

    def b12_expected(self, theta) -> np.ndarray:
        """(W, K) expected bin probabilities of the ¹²B spectrum (shape only)."""
        b = self.b12
        theta = np.atleast_2d(theta)
        light = self.model.light(self._col(theta, "kB"), self._col(theta, "kC"))
        scale = self._col(theta, "A") * (1.0 + self._col(theta, "b12_scale"))
        dark = self._col(theta, "dark")[:, None]
        mu_gam = (scale * (light @ self.gamma_weights[b.gamma_line]))[:, None]
        probs = np.zeros((theta.shape[0], b.counts.size))
        for sel, matrix, w_all, extra in zip(self._b12_sel, self._b12_matrix, (b.w_ground, b.w_gamma),
                                             (0.0, mu_gam), strict=True):
            w = w_all[sel]
            mu = scale[:, None] * (light @ matrix.T) - dark + extra
            shape = 1.0 + self._col(theta, "b12_slope")[:, None] * (b.t_nodes[sel][None, :] - self._tmean)
            sig = np.sqrt(np.maximum(mu, 1.0) + b.dark_var_pe)
            z = (b.edges_pe[None, None, :] - mu[:, :, None]) / sig[:, :, None]
            cdf = ndtr(np.clip(z, -9.0, 9.0))  # clipped: ndtr is slow far in the tails
            probs += np.matmul((w[None, :] * shape)[:, None, :], np.diff(cdf, axis=2))[:, 0, :]
        return probs / probs.sum(axis=1, keepdims=True)

    # ---- likelihood -----------------------------------------------------------------------
    def log_likelihood(self, theta) -> np.ndarray:
        """Vectorised ``ln L``: Gaussian peaks (+ multinomial ¹²B shape), (W, n) -> (W,)."""
        theta = np.atleast_2d(theta)
        mean, var = self._peaks(theta)
        ll = -0.5 * np.sum((self.peaks.mean_pe[None, :] - mean) ** 2 / var + np.log(var), axis=1)
        if self.b12 is not None:
            p = self.b12_expected(theta)
            ll = ll + np.sum(self.b12.counts[None, :] * np.log(np.maximum(p, 1e-300)), axis=1)
        return ll

    def pulls(self, theta) -> np.ndarray:
        """(P,) residuals of the peaks in units of their total errors (statistical and capsule)
        at ``theta`` (n_params,)."""
        mean, var = self._peaks(np.asarray(theta, dtype=float)[None, :])
        return (self.peaks.mean_pe - mean[0]) / np.sqrt(var[0])


def run_fit(fit: NLFit, *, rng: np.random.Generator, n_walkers: int, n_steps: int):
    """iminuit optimum (frequentist cross-check) and the emcee posterior started around it
    (differential-evolution moves). Returns ``(MaxPosterior, MCMCResult)``."""
    from .fitting import de_moves, fit_max_posterior, sample_posterior

    validate.instance("fit", fit, NLFit, hint="NLFit(model, peaks, ...)")
    validate.generator("rng", rng)
    best = fit_max_posterior(fit.log_likelihood, fit.params, fit.x0)
    res = sample_posterior(fit.log_likelihood, fit.params, rng=rng, n_walkers=n_walkers,
                           n_steps=n_steps, x0=best.values, init_scale=0.1 * best.errors,
                           moves=de_moves())
    return best, res
