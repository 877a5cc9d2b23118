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
The likelihood (:class:`NLFit`) combines the γ peaks (Gaussian, with per-source capsule
shifts and the dark-noise subtraction as nuisance parameters) and, optionally, the shape of
the ¹²B spectrum (multinomial, with a shape-factor slope and the residual non-uniformity of
the ¹²B sample as nuisance parameters).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.special import ndtr

from ..core.params import ParamSet, check_range
from .fitting import Normal, Parameter, Uniform

ELECTRON_MASS_MEV = 0.51099895  #: m_e c^2, MeV (CODATA 2018)
FINE_STRUCTURE = 1.0 / 137.035999084  #: CODATA 2018


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
    t = np.asarray(t, dtype=float)
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
        t = np.asarray(t, dtype=float).ravel()
        w = np.zeros((t.size, self.t.size))
        rows = np.arange(t.size)
        idx, frac = _locate(self.t, t)
        np.add.at(w, (rows, idx), 1 - frac)
        np.add.at(w, (rows, idx + 1), frac)
        return w


def _locate(grid, t):
    check_range("kinetic energy", float(np.max(t, initial=0.0)), 0, grid[-1], unit="MeV")
    idx = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, grid.size - 2)
    frac = (t - grid[idx]) / (grid[idx + 1] - grid[idx])
    return idx, frac


def grid_weights(energy, event, n_events: int, grid, keep=None) -> np.ndarray:
    """Compton-electron spectrum of a simulated line as weights on ``grid`` (G,).

    ``sum_d L(T_d)`` averaged over the kept events equals ``weights @ L_grid`` for a light
    curve linear between nodes. ``energy`` (M,) deposit kinetic energies, MeV; ``event`` (M,)
    event index; ``keep`` (n_events,) bool selects events (e.g. the contained ones).
    """
    keep = np.ones(n_events, bool) if keep is None else np.asarray(keep, bool)
    sel = keep[np.asarray(event)]
    t = np.asarray(energy, dtype=float)[sel]
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
        self.model, self.peaks, self.config, self.b12 = model, peaks, config, b12
        self.gamma_weights = np.asarray(gamma_weights, dtype=float)
        self.cap_index = np.flatnonzero(peaks.capsule)
        params = [Parameter("A", Uniform(0.5 * a_start, 1.5 * a_start), label="A (PE/MeV)"),
                  Parameter("kB", Uniform(0.0, 0.05), label="k_B (g/cm²/MeV)"),
                  Parameter("kC", Uniform(0.0, 20.0), label="k_C"),
                  Parameter("dark", Normal(0.0, config.dark_subtraction_uncertainty * dark_pe),
                            label="δ dark (PE)")]
        for i in self.cap_index:
            mu = float(peaks.shift_mc[i])
            sig = max(config.capsule_shift_uncertainty * abs(mu), 1e-5)
            params.append(Parameter(f"cap_{peaks.names[i]}", Normal(mu, sig),
                                    label=f"capsule {peaks.names[i]}", scale=100.0))
        if b12 is not None:
            params += [Parameter("b12_scale", Normal(0.0, config.b12_residual_nonuniformity),
                                 label="¹²B residual NU (%)", scale=100.0),
                       Parameter("b12_slope", Normal(0.0, config.b12_shape_slope_sigma),
                                 label="¹²B shape slope (%/MeV)", scale=100.0)]
            self._b12_matrix = model.interpolation_matrix(b12.t_nodes)
            self._tmean = float(np.sum(b12.t_nodes * (b12.w_ground + b12.w_gamma))
                                / np.sum(b12.w_ground + b12.w_gamma))
        self.params = params
        self.names = tuple(p.name for p in params)
        self.x0 = np.array([a_start, config.kb_start, 1.0, 0.0]
                           + [float(peaks.shift_mc[i]) for i in self.cap_index]
                           + ([0.0, 0.0] if b12 is not None else []))

    # ---- predictions ----------------------------------------------------------------------
    def _col(self, theta, name):
        return theta[:, self.names.index(name)]

    def peak_prediction(self, theta) -> np.ndarray:
        """(W, P) predicted dark-subtracted peak means, PE."""
        theta = np.atleast_2d(theta)
        light = self.model.light(self._col(theta, "kB"), self._col(theta, "kC"))
        pred = self._col(theta, "A")[:, None] * (light @ self.gamma_weights.T)
        shift = np.tile(self.peaks.shift_mc, (theta.shape[0], 1))
        for i in self.cap_index:
            shift[:, i] = self._col(theta, f"cap_{self.peaks.names[i]}")
        return pred * (1.0 + shift) - self._col(theta, "dark")[:, None]

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
        mu_beta = scale[:, None] * (light @ self._b12_matrix.T) - self._col(theta, "dark")[:, None]
        mu_gam = scale * (light @ self.gamma_weights[b.gamma_line])
        shape = 1.0 + self._col(theta, "b12_slope")[:, None] * (b.t_nodes[None, :] - self._tmean)
        probs = np.zeros((theta.shape[0], b.counts.size))
        for w, mu in ((b.w_ground, mu_beta), (b.w_gamma, mu_beta + mu_gam[:, None])):
            sig = np.sqrt(np.maximum(mu, 1.0) + b.dark_var_pe)
            z = (b.edges_pe[None, None, :] - mu[:, :, None]) / sig[:, :, None]
            cdf = ndtr(np.clip(z, -9.0, 9.0))  # clipped: ndtr is slow far in the tails
            probs += np.matmul((w[None, :] * shape)[:, None, :], np.diff(cdf, axis=2))[:, 0, :]
        return probs / probs.sum(axis=1, keepdims=True)

    # ---- likelihood -----------------------------------------------------------------------
    def log_likelihood(self, theta) -> np.ndarray:
        """Vectorised ``ln L``: Gaussian peaks (+ multinomial ¹²B shape), (W, n) -> (W,)."""
        theta = np.atleast_2d(theta)
        r = (self.peaks.mean_pe[None, :] - self.peak_prediction(theta)) / self.peaks.err_pe[None, :]
        ll = -0.5 * np.sum(r**2, axis=1)
        if self.b12 is not None:
            p = self.b12_expected(theta)
            ll = ll + np.sum(self.b12.counts[None, :] * np.log(np.maximum(p, 1e-300)), axis=1)
        return ll

    def pulls(self, theta) -> np.ndarray:
        """(P,) residuals of the peaks in units of their errors at ``theta`` (n_params,)."""
        pred = self.peak_prediction(np.asarray(theta, dtype=float)[None, :])[0]
        return (self.peaks.mean_pe - pred) / self.peaks.err_pe


# ------------------------------------------------------------------ data and templates
@dataclasses.dataclass(frozen=True)
class Line:
    """A γ peak of the calibration: ``source`` simulated (``part``), ``gamma_source`` whose
    strongest line is the peak, whether it is emitted inside a capsule."""

    name: str
    source: str
    part: str           # "all", "prompt" or "capture" (simulate_source)
    gamma_source: str   # the source whose full-energy peak this is (nH / nC12 for captures)
    capsule: bool

    @property
    def energy(self) -> float:
        """Total γ energy of the full-energy peak, MeV (data/sources.yaml)."""
        from ..hardware.sources import get_source

        return float(get_source(self.gamma_source).peak_energy())


#: the γ peaks at the centre used by the fit (seed 000 Table 1; n-H and n-12C from Am-Be captures)
LINES = (
    Line("Cs137", "Cs137", "all", "Cs137", True),
    Line("Mn54", "Mn54", "all", "Mn54", True),
    Line("Ge68", "Ge68", "all", "Ge68", True),
    Line("K40", "K40", "all", "K40", True),
    Line("nH", "AmBe", "capture", "nH", False),
    Line("Co60", "Co60", "all", "Co60", True),
    Line("AmBe", "AmBe", "prompt", "AmBe", True),
    Line("nC12", "AmBe", "capture", "nC12", False),
)


def measure_peak(pe, *, dark_pe: float, guess_pe: float, window: float = 0.2) -> dict:
    """Dark-subtracted Gaussian peak mean of a PE spectrum near ``guess_pe`` (dark-subtracted).

    Events within ``±window`` (relative) of the guess are passed to
    :func:`juno_calib.calibration.resolution.fit_peak` (±2σ Gaussian fit).
    """
    from .resolution import fit_peak

    x = np.asarray(pe, dtype=float) - dark_pe
    sel = x[np.abs(x / guess_pe - 1.0) < window]
    return fit_peak(sel)


def line_events(line: Line, deposits, tol: float = 1e-3):
    """(n_events,) bool: events whose deposited energy is the full line within ``tol`` MeV."""
    return np.abs(deposits.per_event("energy") - line.energy) < tol


def programme_events(line: Line, config: str = "design") -> int:
    """Decays (or neutrons) of ``line``'s source in its comprehensive-programme run at the
    centre: activity x Table 2 DAQ time (the centre point of a multi-point row)."""
    from ..hardware.programme import load_table2
    from ..hardware.sources import get_source

    row = next(r for r in load_table2() if r.programme == "comprehensive" and r.source == line.source)
    return int(round(get_source(line.source, config).activity * row.daq_time / row.points))


def simulate_peaks(lines, n_events, *, rng, scint, geometry, response, guess_pe) -> tuple:
    """The *true detector*: every line's source at the centre through the library's microphysics
    and the total-PE response; returns (mean_pe, err_pe, spectra) with dark-subtracted
    Gaussian peak means. ``n_events`` maps a source name to its number of decays; lines of the
    same source and part share one simulation. ``guess_pe`` (P,) rough peak positions."""
    from ..hardware.sources import get_source

    centre, dark = np.zeros(3), response.dark_mean["lpmt"]
    cache, means, errs, spectra = {}, [], [], []
    for line, guess in zip(lines, guess_pe, strict=True):  # a loop over the 8 lines
        key = (line.source, line.part)
        if key not in cache:
            dep = simulate_source(get_source(line.source, scint.config), n_events[line.source],
                                  centre, rng=rng, scint=scint, geometry=geometry,
                                  capsule=True, part=line.part)
            cache[key] = response.sample(dep, rng=rng).lpmt
        pk = measure_peak(cache[key], dark_pe=dark, guess_pe=guess)
        means.append(pk["mean"])
        errs.append(pk["mean_err"])
        spectra.append(cache[key] - dark)
    return np.array(means), np.array(errs), spectra


def simulate_source(*args, **kwargs):
    """:func:`juno_calib.hardware.sources.simulate_source` (imported lazily)."""
    from ..hardware.sources import simulate_source as _sim

    return _sim(*args, **kwargs)


def line_templates(lines, n_events: int, model: ElectronNLModel, *, rng, scint, geometry,
                   a_nominal: float, kb_nominal: float, dark_pe: float):
    """The *calibration's* Monte Carlo of each line (the same γ transport, its own seed).

    Returns ``weights`` (P, G): Compton-electron spectra of the contained full-energy events
    without capsule; ``shift`` (P,) and ``shift_err`` (P,): relative offset of the Gaussian
    peak mean of the simulated spectrum (capsule on where the source has one, Poisson PE with
    the nominal fit model ``A = a_nominal``, ``k_B = kb_nominal``, ``k_C = 1``, Poisson dark
    noise) from the template prediction.
    """
    from ..hardware.sources import get_source

    light = model.light(kb_nominal, 1.0)[0]
    weights, shift, shift_err = [], [], []
    for line in lines:  # a loop over the 8 lines
        src = get_source(line.source, scint.config)
        pure = get_source(line.gamma_source, scint.config) if line.part == "capture" else src
        bare = simulate_source(pure, n_events, np.zeros(3), rng=rng, scint=scint,
                               geometry=geometry, capsule=False, part="all" if pure is not src else line.part)
        full = line_events(line, bare)
        w = grid_weights(bare.energy, bare.event, bare.n_events, model.t, keep=full)
        weights.append(w)
        pred = a_nominal * float(w @ light)
        dep = simulate_source(pure, n_events, np.zeros(3), rng=rng, scint=scint, geometry=geometry,
                              capsule=line.capsule, part="all" if pure is not src else line.part)
        lev = np.bincount(dep.event, weights=np.interp(dep.energy, model.t, light),
                          minlength=dep.n_events)
        pe = rng.poisson(a_nominal * lev) + rng.poisson(dark_pe, lev.size)
        pk = measure_peak(pe, dark_pe=dark_pe, guess_pe=pred)
        shift.append(pk["mean"] / pred - 1.0)
        shift_err.append(pk["mean_err"] / pred)
    return np.array(weights), np.array(shift), np.array(shift_err)


def b12_sample(n_events: int, *, rng, scint, geometry, response, fiducial_radius: float,
               residual: float):
    """The *true detector*'s ¹²B events, uniform in the fiducial volume, corrected for the
    non-uniformity by the stand-in map ``g_true(x) (1 + residual (r / R_FV)^3)``.

    Returns the corrected, dark-subtracted LPMT PE per event (n_events,).
    """
    from ..detector.geometry import sample_uniform_ls
    from ..particles.events import simulate_b12

    pos = sample_uniform_ls(int(n_events), rng=rng, r_max=fiducial_radius, geometry=geometry)
    dep = simulate_b12(int(n_events), pos, rng=rng, scint=scint, geometry=geometry)
    pe = response.sample(dep, rng=rng).lpmt - response.dark_mean["lpmt"]
    tmap = response.total_map
    g = tmap.expected(pos)["lpmt"] / tmap.center["lpmt"]
    r3 = (np.linalg.norm(pos, axis=1) / fiducial_radius) ** 3
    return pe / (g * (1.0 + residual * r3))


def b12_data(corrected_pe, *, config: NLFitConfig, a_start: float, n_template: int, rng,
             decay, gamma_line: int, dark_var_pe: float, n_nodes: int = 136) -> B12Data:
    """Histogram of the corrected ¹²B spectrum in the fit window and the calibration's
    template from the allowed β shape (:func:`juno_calib.particles.beta.sample_b12`)."""
    from ..core import units
    from ..particles.beta import sample_b12

    edges = a_start * np.linspace(config.b12_fit_e_min / units.MeV, config.b12_fit_e_max / units.MeV,
                                  int(config.b12_fit_bins) + 1)
    counts = np.histogram(corrected_pe, bins=edges)[0].astype(float)
    t, branch = sample_b12(int(n_template), rng=rng, decay=decay)
    nodes = np.linspace(0.0, float(decay.b12_q_value) / units.MeV, n_nodes)
    levels = np.asarray(decay.b12_levels)
    with_gamma = np.isclose(levels[branch], levels[1])
    idx, frac = _locate(nodes, t)
    w = [np.bincount(idx[m], weights=1 - frac[m], minlength=n_nodes)
         + np.bincount(idx[m] + 1, weights=frac[m], minlength=n_nodes) for m in (~with_gamma, with_gamma)]
    return B12Data(edges_pe=edges, counts=counts, t_nodes=nodes, w_ground=w[0] / t.size,
                   w_gamma=w[1] / t.size, gamma_line=gamma_line, dark_var_pe=dark_var_pe)


def true_positron_pe(t, *, rng, scint, geometry, light_yield: float, n_annihilation: int):
    """The *true detector*'s mean PE of positrons at the centre, (len(t),): Bhabha-quenched
    kinetic light plus the mean light of the two contained annihilation γ (library model)."""
    from ..particles.events import simulate_positrons
    from ..particles.visible import positron_visible

    ann = simulate_positrons(np.zeros(int(n_annihilation)), np.zeros(3), rng=rng, scint=scint,
                             geometry=geometry)
    contained = ann.escaped == 0
    e_ann = float(ann.per_event()[contained].mean())
    return light_yield * (positron_visible(np.asarray(t, dtype=float), scint) + e_ann)


def annihilation_weights(model: ElectronNLModel, n_events: int, *, rng, scint, geometry):
    """The calibration's template of two back-to-back 0.511 MeV γ (contained), (G,)."""
    from ..particles.events import simulate_positrons

    dep = simulate_positrons(np.zeros(int(n_events)), np.zeros(3), rng=rng, scint=scint,
                             geometry=geometry)
    return grid_weights(dep.energy, dep.event, dep.n_events, model.t, keep=dep.escaped == 0)
