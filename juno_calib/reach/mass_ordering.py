"""Asimov sensitivity of JUNO to the neutrino mass ordering (NMO).

The expected prompt spectrum is a matrix product: a fine grid of antineutrino energies (flux ×
oscillation, summed over cores) times a response matrix that holds the IBD cross-section
(Vogel–Beacom, first order, integrated over the positron angle with Gauss–Legendre nodes), the
positron's visible energy (a non-linearity ``visible(e_prompt)``) and a Gaussian resolution
σ/E = √(a²/E + b² + c²/E²) (seed 000, Eq. 1), binned in visible energy.

The test statistic is the Asimov Δχ² between the orderings: the "data" are the expectation
of the true ordering; the wrong ordering is fitted with |Δm²31| scanned on a grid (the fast
oscillation makes χ²(Δm²31) multi-modal, so no gradient step is taken along it) and, at every
grid point, Δm²21, sin²θ12, sin²θ13 and the nuisance parameters profiled by Gauss–Newton
iterations, vectorised over the grid. χ² = Σ (d - μ)² / V + Σ η², V = d + (s_shape μ)² (Neyman
with Asimov data, so the stat-only Δχ² is exactly proportional to the exposure).

Nuisance parameters (each a unit-normal pull η):

* NL band: the visible energy becomes e_vis (1 + σ_NL Σ_k η_k g_k(x)), g_k = Σ_j M_jk P_j(x),
  P_j Legendre polynomials of x = log-energy mapped to [-1, 1] over 1–8 MeV. ``M`` = 1/√n (the
  stated stand-in band, whose 1σ envelope is σ_NL at the ends of the range) or the modes of
  the posterior covariance of the calibrated positron scale (:func:`posterior_nl_modes`, from
  chapter 6's fit, :mod:`juno_calib.calibration.positron_scale`), normalised to a unit envelope;
* reactor flux normalisation (correlated rate);
* background rates (one pull per component, its relative uncertainty).

A bin-to-bin uncorrelated shape uncertainty s_shape (fraction of the signal per bin) enters V.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from ..core import units, validate
from ..core.constants import ELECTRON_MASS, JOULE
from ..core.params import check_range
from . import reactor
from .oscillation import OscillationParameters, _survival_matter_batch, _survival_vacuum, matter_potential

DAYS_PER_YEAR = units.year / units.day
#: the largest visible energy the functions accept (MeV): a reactor spectrum ends near 12 MeV
E_VIS_MAX = 100.0
#: the longest exposure the fits accept (years): JUNO's programme is 20-30 years
YEARS_MAX = 100.0
#: shortest exposure a fit accepts (about 9 hours): below it the Gauss-Newton normal equations
#: lose their rank in floating point
YEARS_MIN = 1e-3
#: allowed |Δm²31| of a fit grid point: 10⁻⁴ to 10⁻² eV² (global fits: 2.5 × 10⁻³ eV²)
DM31_RANGE = (1e-4 * units.eV**2, 1e-2 * units.eV**2)


@dataclasses.dataclass(frozen=True)
class Resolution:
    """σ/E = √((a/√E)² + b² + (c/E)²), E the visible energy in MeV (seed 000, Eq. 1)."""

    a: float
    b: float
    c: float

    def __post_init__(self):
        for name in ("a", "b", "c"):
            check_range(name, getattr(self, name), 0.0, 0.5)

    @property
    def a_eff(self) -> float:
        """ā = √(a² + (1.6 b)² + (c/1.6)²) (seed 000)."""
        return float(np.sqrt(self.a**2 + (1.6 * self.b) ** 2 + (self.c / 1.6) ** 2))

    def scaled_to(self, a_eff: float) -> Resolution:
        """The same a : b : c with ā = ``a_eff`` (ā is linear in a common scale)."""
        check_range("a_eff", a_eff, 0.0, 0.5, lo_open=True)
        k = a_eff / self.a_eff
        return Resolution(self.a * k, self.b * k, self.c * k)

    def sigma(self, e_vis) -> np.ndarray:
        """Absolute resolution σ(E), MeV."""
        e = np.maximum(validate.energies("e_vis", e_vis, 0.0, E_VIS_MAX), 1e-3)
        return np.sqrt(self.a**2 * e + (self.b * e) ** 2 + self.c**2)


def analysis_edges() -> np.ndarray:
    """Visible-energy bin edges, MeV: 0.8, 1.0–6.0 in 20 keV, 6–7 in 100 keV, 7, 7.5, 12.

    The binning of the JUNO common NMO inputs as implemented in GNA (junotao_v04).

    >>> e = analysis_edges(); e.size - 1, float(e[0]), float(e[-1])
    (263, 0.8, 12.0)
    """
    return np.round(np.concatenate([[0.8], np.arange(1.0, 6.0, 0.02), np.arange(6.0, 7.0, 0.1),
                                    [7.0, 7.5, 12.0]]), 6)


def nl_modes(e_vis, n_modes: int = 3, e_lo: float = 1.0, e_hi: float = 8.0) -> np.ndarray:
    """Legendre polynomials P_k(x), x = 2 (ln E - ln e_lo)/(ln e_hi - ln e_lo) - 1 clipped to
    [-1, 1]; shape (n_modes, *e_vis.shape)."""
    e_vis = validate.energies("e_vis", e_vis, 0.0, E_VIS_MAX)
    n_modes = validate.integer("n_modes", n_modes, 1, 6)
    e_lo = validate.number("e_lo", e_lo, 0.0, E_VIS_MAX, unit="MeV", lo_open=True)
    e_hi = validate.number("e_hi", e_hi, e_lo, E_VIS_MAX, unit="MeV", lo_open=True)
    return _nl_modes(e_vis, n_modes, e_lo, e_hi)


def _nl_modes(e_vis, n_modes: int, e_lo: float, e_hi: float) -> np.ndarray:
    x = 2 * (np.log(np.maximum(e_vis, 1e-3)) - np.log(e_lo)) / (np.log(e_hi) - np.log(e_lo)) - 1
    x = np.clip(x, -1, 1)
    return np.array([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(n_modes)])


@dataclasses.dataclass(frozen=True)
class IBDResponse:
    """Response matrices from the antineutrino-energy grid to the visible-energy bins.

    ``matrix[i, j]`` = Σ_k w_k dσ/dcos(E_j, c_k) ΔE_j P(bin i | E_vis(E_j, c_k)), mm² MeV;
    ``modes[m]`` = ∂matrix/∂η_m for a unit pull of NL mode m scaled to a band ``nl_sigma`` = 1.
    """

    edges: np.ndarray
    e_nu: np.ndarray
    matrix: np.ndarray
    modes: np.ndarray
    resolution: Resolution
    e_vis_mean: np.ndarray  # (n_E,) cross-section-weighted mean visible energy


def _smear(e_vis, weights, edges, res: Resolution) -> np.ndarray:
    sig = res.sigma(e_vis)
    cdf = ndtr((edges[None, None, :] - e_vis[..., None]) / sig[..., None])
    prob = np.diff(cdf, axis=-1)  # (n_E, n_c, n_bins)
    return np.einsum("jk,jki->ij", weights, prob)


def _increasing(name: str, values, hi: float) -> np.ndarray:
    a = validate.energies(name, values, 0.0, hi, ndim=1, size_min=2)
    if not np.all(np.diff(a) > 0):
        i = int(np.flatnonzero(np.diff(a) <= 0)[0])
        raise ValueError(f"{name} must increase strictly, got {name}[{i}] = {a[i]:g} MeV >= "
                         f"{name}[{i + 1}] = {a[i + 1]:g} MeV")
    return a


def build_response(visible, resolution: Resolution, *, edges=None, e_nu=None, n_cos: int = 6,
                   n_modes: int = 3, nl_mixing=None, inputs=None) -> IBDResponse:
    """Response matrix for a positron non-linearity ``visible(e_prompt) -> e_vis`` (vectorised).

    ``e_prompt`` is the positron total energy plus m_e (kinetic energy + 2 m_e), the visible
    energy of the prompt event if the detector were linear. ``nl_mixing`` (n_modes, n_modes):
    NL mode k is the relative distortion Σ_j M[j, k] P_j(x) per unit pull (default M = 1/√n;
    :attr:`PosteriorModes.mixing` for chapter 6's posterior).
    """
    if not callable(visible):
        raise TypeError(f"visible must be a function e_prompt -> e_vis (e.g. positron_visible_model(scint)), "
                        f"got {type(visible).__name__}")
    validate.instance("resolution", resolution, Resolution, hint="Resolution(0.03, 0.008, 0.012)")
    inputs = reactor.load_inputs() if inputs is None else validate.instance(
        "inputs", inputs, reactor.ReactorInputs, hint="reactor.load_inputs()")
    edges = analysis_edges() if edges is None else _increasing("edges", edges, E_VIS_MAX)
    if e_nu is None:
        e_nu = default_enu_grid(inputs)
    else:
        e_nu = _increasing("e_nu", e_nu, reactor.E_NU_MAX)
    n_modes = validate.integer("n_modes", n_modes, 0, 6)
    x, w = reactor.gauss_legendre(n_cos)
    de = np.gradient(e_nu)
    e_pos, ds = reactor.ibd_kinematics(e_nu[:, None], x[None, :], inputs)
    e_vis = np.asarray(visible(e_pos + ELECTRON_MASS), dtype=float)
    weights = ds * w[None, :] * de[:, None]
    matrix = _smear(e_vis, weights, edges, resolution)
    modes = np.zeros((0,) + matrix.shape)
    if n_modes:  # derivative matrices of the NL modes (n_modes = 0: no NL band needed)
        h = 1e-3
        mix = np.eye(n_modes) / np.sqrt(n_modes) if nl_mixing is None else np.asarray(nl_mixing, dtype=float)
        if mix.shape != (n_modes, n_modes):
            raise ValueError(f"nl_mixing has shape {mix.shape}; it must be (n_modes, n_modes) = "
                             f"({n_modes}, {n_modes})")
        g = np.einsum("jk,j...->k...", mix, _nl_modes(e_vis, n_modes, 1.0, 8.0))
        modes = np.array([(_smear(e_vis * (1 + h * gk), weights, edges, resolution)
                           - _smear(e_vis * (1 - h * gk), weights, edges, resolution)) / (2 * h) for gk in g])
    tot = weights.sum(axis=1)
    mean = np.divide((weights * e_vis).sum(axis=1), tot, out=np.zeros_like(tot), where=tot > 0)
    return IBDResponse(edges=edges, e_nu=e_nu, matrix=matrix, modes=modes, resolution=resolution,
                       e_vis_mean=mean)


def default_enu_grid(inputs=None, step: float = 0.005, e_max: float = 12.5) -> np.ndarray:
    """Antineutrino energies from just above the IBD threshold, MeV (5 keV steps resolve the
    fast oscillation: its period at 2 MeV and 52.5 km is ~0.15 MeV)."""
    thr = reactor.ibd_threshold(inputs)
    step = validate.number("step", step, 1e-5, 1.0, unit="MeV", why="at least 1e-5 MeV keeps the grid "
                           "below ~1e6 points")
    e_max = validate.number("e_max", e_max, thr, reactor.E_NU_MAX, unit="MeV", lo_open=True)
    return np.arange(thr + step / 2, e_max, step)


@lru_cache(maxsize=8)
def annihilation_visible(scint) -> float:
    """Mean visible energy of the two 0.511 MeV annihilation γ, fully contained (MeV).

    Compton cascade of :mod:`juno_calib.particles.gamma` in an infinite LS with the library's
    normalisation seed (deterministic), light model of :mod:`juno_calib.particles.visible`.
    """
    from ..core.rng import make_rng
    from ..particles.gamma import compton_cascade, isotropic_directions
    from ..particles.scintillator import ELECTRON_MASS, light_unnormalised
    from ..particles.visible import visible_scale

    n = int(scint.normalisation_gammas) // 2
    rng = make_rng(int(scint.normalisation_seed))
    d = isotropic_directions(n, rng=rng)
    cas = compton_cascade(np.full(2 * n, ELECTRON_MASS), np.zeros((2 * n, 3)), np.concatenate([d, -d]),
                          np.tile(np.arange(n), 2), n, rng=rng, scint=scint, r_ls=None)
    light = np.where(cas.positron, light_unnormalised(cas.energy, scint, positron=True),
                     light_unnormalised(cas.energy, scint))
    return float(visible_scale(scint) * light.sum() / n)


def positron_visible_model(scint):
    """``visible(e_prompt)``: the library's positron model, kinetic part + annihilation γ.

    e_vis = positron_visible(T) + ⟨e_vis(2 × 0.511 MeV γ)⟩ with T = e_prompt - 2 m_e
    (:mod:`juno_calib.particles.visible`, normalised to the n-H γ).
    """
    from ..particles.scintillator import ELECTRON_MASS
    from ..particles.visible import positron_visible

    ann = annihilation_visible(scint)

    def visible(e_prompt):
        t = np.maximum(np.asarray(e_prompt, dtype=float) - 2 * ELECTRON_MASS, 0.0)
        return positron_visible(t, scint) + ann

    return visible


# ----------------------------------------------------------------------------------------------
# Expected spectra
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MassOrderingModel:
    """Expected visible spectra at JUNO, per year of full-power exposure.

    ``per_year`` scales the flux so that the truth gives ``ibd_per_day`` (seed 003) after
    selection; ``efficiency`` is that normalisation over the absolute prediction (20 kt, the
    cores' nominal powers, Huber–Mueller, Vogel–Beacom, no selection).
    """

    response: IBDResponse
    baselines: np.ndarray  # (n_cores,) mm
    weights: np.ndarray  # (n_cores,) GW/mm^2
    flux: np.ndarray  # (n_E,) emitted per MeV per MeV thermal
    per_year: float
    efficiency: float
    absolute_per_day: float
    background_shapes: np.ndarray  # (n_bkg, n_bins) events per year
    background_unc: np.ndarray  # (n_bkg,)
    background_names: tuple
    matter: bool = False

    @classmethod
    def build(cls, response: IBDResponse, truth: OscillationParameters, *, cores=None,
              backgrounds=None, inputs=None, matter: bool = False, n_protons: float | None = None):
        inputs = inputs or reactor.load_inputs()
        cores = cores or reactor.load_cores()
        backgrounds = reactor.load_backgrounds() if backgrounds is None else backgrounds
        e = response.e_nu
        flux = reactor.emitted_spectrum(e, inputs=inputs)
        weights = reactor.core_weights(cores)
        baselines = np.array([c.baseline for c in cores])
        tmp = cls(response, baselines, weights, flux, 1.0, 1.0, 1.0, np.zeros((0, response.edges.size - 1)),
                  np.zeros(0), (), matter)
        raw = tmp.signal(truth).sum()  # units: GW/mm^2 * mm^2 * (1/MeV) ... per MeV thermal
        conv = 1e9 * JOULE / units.s  # GW -> MeV/ns
        n_p = reactor.target_protons(inputs) if n_protons is None else n_protons
        absolute_per_day = float(raw * conv * n_p * units.day)
        target_per_year = inputs.ibd_per_day * units.day * DAYS_PER_YEAR
        per_year = float(target_per_year / raw)
        shapes = np.array([_background_shape(b, response, flux) * b.rate * units.year for b in backgrounds]) \
            if backgrounds else np.zeros((0, response.edges.size - 1))
        unc = np.array([b.rate_unc for b in backgrounds])
        efficiency = inputs.ibd_per_day * units.day / absolute_per_day
        return cls(response, baselines, weights, flux, per_year, efficiency, absolute_per_day, shapes, unc,
                   tuple(b.name for b in backgrounds), matter)

    def oscillated_flux(self, s12, s13, dm21, dm31) -> np.ndarray:
        """Σ_cores w_c P(E, L_c) × flux, shape (n_batch, n_E) for parameter arrays (n_batch,)."""
        s12, s13, dm21, dm31 = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (s12, s13, dm21, dm31))
        e = self.response.e_nu
        if self.matter:
            p = _survival_matter_batch(e, self.baselines, s12, s13, dm21, dm31, v=matter_potential())
            return np.einsum("c,bcj->bj", self.weights, p) * self.flux
        p = _survival_vacuum(e[None, None, :], self.baselines[None, :, None], s12[:, None, None],
                             s13[:, None, None], dm21[:, None, None], dm31[:, None, None])
        return np.einsum("c,bcj->bj", self.weights, p) * self.flux

    def signal(self, params: OscillationParameters | None = None, *, s12=None, s13=None, dm21=None,
               dm31=None, years: float = 1.0, nl_pulls=None, nl_sigma: float = 0.0) -> np.ndarray:
        """Expected reactor IBD counts per bin, (n_bins,) for ``params`` or (n_batch, n_bins)."""
        single = params is not None
        if single:
            s12, s13, dm21, dm31 = params.sin2_theta12, params.sin2_theta13, params.dm2_21, params.dm2_31
        phi = self.oscillated_flux(s12, s13, dm21, dm31)
        mu = phi @ self.response.matrix.T
        if nl_pulls is not None and nl_sigma > 0:
            pulls = np.atleast_2d(np.asarray(nl_pulls, dtype=float))  # (n_batch or 1, n_modes)
            mu = mu + nl_sigma * np.einsum("bm,mij,bj->bi", pulls, self.response.modes, phi)
        mu = years * self.per_year * mu
        return mu[0] if single else mu

    def background(self, years: float = 1.0) -> np.ndarray:
        """Total background per bin for ``years``."""
        return years * self.background_shapes.sum(axis=0)


def _background_shape(bkg: reactor.Background, response: IBDResponse, flux) -> np.ndarray:
    """Shape (sums to 1 over the bins) of one background."""
    edges = response.edges
    lo, hi = edges[:-1], edges[1:]
    s = bkg.shape
    if bkg.kind == "reactor":
        mask = response.e_nu <= s.get("e_nu_max", np.inf)
        y = response.matrix @ (flux * mask)
    elif bkg.kind == "flat":
        y = np.clip(np.minimum(hi, s["e_max"]) - np.maximum(lo, s["e_min"]), 0.0, None)
    elif bkg.kind == "exponential":
        a = np.maximum(lo, s["e_min"])
        b = np.maximum(hi, s["e_min"])
        y = np.exp(-a / s["slope"]) - np.exp(-b / s["slope"])
    else:
        raise ValueError(f"background {bkg.name!r}: kind = {bkg.kind!r} is not allowed; "
                         "choose one of 'reactor', 'flat', 'exponential'")
    return y / y.sum()


# ----------------------------------------------------------------------------------------------
# Asimov fit of the wrong ordering
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Systematics:
    """What the fit includes besides statistics (fractions, 1σ)."""

    nl_sigma: float = 0.0  # NL band envelope
    flux_norm: float = 0.0  # correlated reactor-flux normalisation
    shape: float = 0.0  # bin-to-bin uncorrelated, per bin
    backgrounds: bool = False  # backgrounds in the spectrum (their statistics)
    background_rates: bool = False  # pulls on the background rates

    def __post_init__(self):
        for name in ("nl_sigma", "flux_norm", "shape"):
            check_range(name, getattr(self, name), 0.0, 0.5)


STAT_ONLY = Systematics()


@dataclasses.dataclass(frozen=True)
class OrderingFit:
    """Result of :func:`asimov_dchi2`."""

    dchi2: float
    dm31_best: float  # signed, MeV^2
    dm31_grid: np.ndarray
    chi2_grid: np.ndarray
    best: dict  # profiled parameters at the minimum


FREE = ("sin2_theta12", "sin2_theta13", "dm2_21")


def profile(model: MassOrderingModel, data, dm31, start: OscillationParameters, *, years: float,
            syst: Systematics = STAT_ONLY, free=FREE, priors: dict | None = None, n_iter: int = 4):
    """χ² profiled over the free oscillation parameters and the nuisances at each ``dm31``.

    Vectorised Gauss–Newton over all grid points at once; ``dm31`` (n,) signed, MeV².
    ``priors`` maps a free parameter to its 1σ (absolute, internal units), else it is free.
    The nuisances enter linearly, so their Jacobian columns are exact.
    Returns (chi2 (n,), parameters (n, 3) in the order of :data:`FREE`, pulls (n, n_nuis)).
    """
    _fit_inputs(model, start, syst, "start")
    years = validate.number("years", years, YEARS_MIN, YEARS_MAX)
    n_iter = validate.integer("n_iter", n_iter, 1, 100)
    data = validate.array("data", data, 0.0, ndim=1)
    if data.shape != (model.response.matrix.shape[0],):
        raise ValueError(f"data has shape {data.shape}; it needs ({model.response.matrix.shape[0]},), "
                         "one count per analysis bin of the model")
    dm31 = validate.array("dm31", dm31, -DM31_RANGE[1], DM31_RANGE[1], ndim=(0, 1), size_min=1)
    small = np.abs(dm31) < DM31_RANGE[0]
    if small.any():
        raise ValueError(f"dm31 = {dm31[small][0]:g} MeV² is too small: |Δm²31| must lie in "
                         f"[{DM31_RANGE[0]:g}, {DM31_RANGE[1]:g}] MeV² (10⁻⁴ to 10⁻² eV²), with its sign")
    priors = priors or {}
    if not isinstance(priors, dict):
        raise TypeError(f"priors must be a dict parameter -> 1σ, got {type(priors).__name__}")
    for name, sd in priors.items():
        if name not in FREE:
            raise ValueError(f"priors names {name!r}; choose from {FREE}")
        ref = abs(getattr(start, name))
        validate.number(f"priors[{name!r}]", sd, 1e-6 * ref, math.inf,
                        why="for a narrower prior fix the parameter (leave it out of free)")
    for name in free:
        if name not in FREE:
            raise ValueError(f"free parameter {name!r} is not allowed; choose from {FREE}")
    dm31 = np.atleast_1d(np.asarray(dm31, dtype=float))
    n = dm31.size
    p0 = np.array([start.sin2_theta12, start.sin2_theta13, start.dm2_21])
    idx_free = [FREE.index(f) for f in free]
    n_free = len(idx_free)
    x = np.zeros((n, 3))  # relative offsets of the oscillation parameters
    modes = model.response.modes if syst.nl_sigma > 0 else np.zeros((0,) + model.response.matrix.shape)
    if syst.nl_sigma > 0 and modes.shape[0] == 0:
        raise ValueError(f"nl_sigma = {syst.nl_sigma:g} needs a response built with n_modes >= 1, "
                         "got n_modes = 0")
    n_nl = modes.shape[0]
    use_fn = syst.flux_norm > 0
    n_bins = model.response.matrix.shape[0]
    bkg_cols = (years * model.background_shapes * model.background_unc[:, None]
                if (syst.backgrounds and syst.background_rates) else np.zeros((0, n_bins)))
    n_nuis = n_nl + int(use_fn) + bkg_cols.shape[0]
    eta = np.zeros((n, n_nuis))
    bkg = model.background(years) if syst.backgrounds else 0.0
    data = np.asarray(data, dtype=float)
    var = np.maximum(data, 1e-9) + (syst.shape * (data - bkg)) ** 2
    w = 1.0 / var
    lam = np.ones(n_free + n_nuis)
    prior_sig = np.array([priors.get(FREE[k], np.inf) / p0[k] for k in idx_free])
    lam[:n_free] = np.where(np.isfinite(prior_sig), 1.0 / prior_sig**2, 0.0)
    scale = years * model.per_year
    h = 1e-4

    def parts(xx):
        p = p0[None, :] * (1 + xx)
        phi = model.oscillated_flux(p[:, 0], p[:, 1], p[:, 2], dm31)
        base = scale * phi @ model.response.matrix.T
        nl = np.stack([syst.nl_sigma * scale * phi @ m.T for m in modes], axis=-1) if n_nl else None
        return base, nl

    def assemble(base, nl, ee):
        sig = base + (np.einsum("nbk,nk->nb", nl, ee[:, :n_nl]) if n_nl else 0.0)
        fn = 1 + syst.flux_norm * ee[:, n_nl] if use_fn else np.ones(n)
        mu = sig * fn[:, None] + bkg
        if bkg_cols.shape[0]:
            mu = mu + ee[:, n_nl + int(use_fn):] @ bkg_cols
        return mu, sig, fn

    for _ in range(n_iter + 1):
        base, nl = parts(x)
        mu, sig, fn = assemble(base, nl, eta)
        q = np.concatenate([x[:, idx_free], eta], axis=1)
        r = data[None, :] - mu
        chi2 = np.sum(w * r**2, axis=1) + np.sum(lam[None, :] * q**2, axis=1)
        if _ == n_iter:
            break
        cols = []
        for k in idx_free:
            dx = np.zeros_like(x)
            dx[:, k] = h
            b2, nl2 = parts(x + dx)
            cols.append((assemble(b2, nl2, eta)[0] - mu) / h)
        if n_nl:
            cols.extend(nl[..., m] * fn[:, None] for m in range(n_nl))
        if use_fn:
            cols.append(syst.flux_norm * sig)
        cols.extend(np.broadcast_to(c, mu.shape) for c in bkg_cols)
        jac = np.stack(cols, axis=-1)  # (n, n_bins, n_par)
        a = np.einsum("nbi,b,nbj->nij", jac, w, jac) + np.diag(lam)[None]
        b = np.einsum("nbi,b,nb->ni", jac, w, r) - lam[None, :] * q
        step = np.linalg.solve(a, b[..., None])[..., 0]
        x[:, idx_free] += step[:, :n_free]
        eta += step[:, n_free:]
    return chi2, p0[None, :] * (1 + x), eta


def _fit_inputs(model, params, syst, name: str = "truth") -> None:
    validate.instance("model", model, MassOrderingModel, hint="MassOrderingModel.build(response, truth)")
    validate.instance(name, params, OscillationParameters,
                      hint='load_parameters("global")')
    validate.instance("syst", syst, Systematics, hint="Systematics(nl_sigma=0.01)")


def minimise_dm31(model: MassOrderingModel, data, start: OscillationParameters, *, years: float,
                  syst: Systematics = STAT_ONLY, free=FREE, priors: dict | None = None,
                  half_width: float = 0.02, n_coarse: int = 25, n_fine: int = 9,
                  n_iter: int = 2) -> OrderingFit:
    """min over Δm²31 (sign of ``start``) of the χ² profiled by :func:`profile`.

    |Δm²31| is scanned over ± ``half_width`` (relative) around ``start``: a coarse grid, a fine
    grid around the coarse minimum, and a parabola through the three lowest fine points.
    """
    _fit_inputs(model, start, syst, "start")
    years = validate.number("years", years, YEARS_MIN, YEARS_MAX)
    half_width = validate.number("half_width", half_width, 0.0, 0.2, lo_open=True)
    n_coarse = validate.integer("n_coarse", n_coarse, 3, 10**4)
    n_fine = validate.integer("n_fine", n_fine, 3, 10**4)
    sign = np.sign(start.dm2_31)
    centre = abs(start.dm2_31)
    grid = centre * (1 + np.linspace(-half_width, half_width, n_coarse))
    kw = dict(years=years, syst=syst, free=free, priors=priors, n_iter=n_iter)
    chi2, _, _ = profile(model, data, sign * grid, start, **kw)
    i = int(np.argmin(chi2))
    step = grid[1] - grid[0]
    fine = grid[i] + np.linspace(-step, step, n_fine)
    chi2f, pars, eta = profile(model, data, sign * fine, start, **kw)
    j = int(np.clip(np.argmin(chi2f), 1, n_fine - 2))
    xs, ys = fine[j - 1: j + 2], chi2f[j - 1: j + 2]
    c2, c1, c0 = np.polyfit(xs - xs[1], ys, 2)
    if c2 > 0 and abs(c1 / (2 * c2)) <= xs[2] - xs[1]:
        best_x, best = xs[1] - c1 / (2 * c2), c0 - c1**2 / (4 * c2)
    else:
        best_x, best = fine[j], chi2f[j]
    k = int(np.argmin(chi2f))
    if chi2f[k] < best:
        best_x, best = fine[k], chi2f[k]
    return OrderingFit(dchi2=float(max(best, 0.0)), dm31_best=float(sign * best_x),
                       dm31_grid=np.concatenate([sign * grid, sign * fine]),
                       chi2_grid=np.concatenate([chi2, chi2f]),
                       best={"sin2_theta12": float(pars[k, 0]), "sin2_theta13": float(pars[k, 1]),
                             "dm2_21": float(pars[k, 2]), "pulls": eta[k].tolist()})


def asimov_data(model: MassOrderingModel, truth: OscillationParameters, *, years: float,
                syst: Systematics = STAT_ONLY) -> np.ndarray:
    """The Asimov data set: expected counts of the true ordering (plus backgrounds if included)."""
    _fit_inputs(model, truth, syst)
    years = validate.number("years", years, YEARS_MIN, YEARS_MAX)
    return model.signal(truth, years=years) + (model.background(years) if syst.backgrounds else 0.0)


def asimov_dchi2(model: MassOrderingModel, truth: OscillationParameters, *, years: float,
                 syst: Systematics = STAT_ONLY, free=FREE, priors: dict | None = None,
                 **scan) -> OrderingFit:
    """Asimov Δχ² = min χ²(wrong ordering) - min χ²(true ordering); the latter is 0 by
    construction. The wrong-ordering scan starts at the |Δm²31| with the true |Δm²ee|."""
    data = asimov_data(model, truth, years=years, syst=syst)
    return minimise_dm31(model, data, truth.other_ordering(), years=years, syst=syst, free=free,
                         priors=priors, **scan)


def years_to_reach(dchi2_of_years, target: float = 9.0, *, lo: float = 0.25, hi: float = 40.0,
                   tol: float = 0.01) -> float:
    """Exposure (years) at which ``dchi2_of_years(years)`` reaches ``target`` (bisection;
    Δχ² grows monotonically with exposure)."""
    if not callable(dchi2_of_years):
        raise TypeError("dchi2_of_years must be a function years -> Δχ², got "
                        f"{type(dchi2_of_years).__name__}")
    target = validate.number("target", target, 0.0, allow_inf=False, lo_open=True)
    lo = validate.number("lo", lo, 0.0, YEARS_MAX, lo_open=True)
    hi = validate.number("hi", hi, lo, YEARS_MAX, lo_open=True)
    tol = validate.number("tol", tol, 1e-6, YEARS_MAX)
    f_lo, f_hi = dchi2_of_years(lo) - target, dchi2_of_years(hi) - target
    if f_lo > 0:
        return lo
    if f_hi < 0:
        return float("inf")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if dchi2_of_years(mid) - target > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def dchi2_vs_years(model: MassOrderingModel, truth: OscillationParameters, years, *,
                   syst: Systematics = STAT_ONLY, **kw) -> np.ndarray:
    """Asimov Δχ² at each exposure of ``years`` (one fit per exposure)."""
    years = validate.array("years", years, YEARS_MIN, YEARS_MAX, ndim=(0, 1))
    return np.array([asimov_dchi2(model, truth, years=float(y), syst=syst, **kw).dchi2
                     for y in np.atleast_1d(years)])


def systematics_rows(model: MassOrderingModel, truth: OscillationParameters, *, years: float,
                     nl_sigma: float, flux_norm: float, shape: float, **scan) -> dict[str, float]:
    """Δχ² for the rows of seed 003's "impact of systematics" table: statistics alone, then
    statistics plus one group (flux, backgrounds, non-linearity), then everything."""
    groups = {
        "stat": STAT_ONLY,
        "flux": Systematics(flux_norm=flux_norm, shape=shape),
        "backgrounds": Systematics(backgrounds=True, background_rates=True),
        "nl": Systematics(nl_sigma=nl_sigma),
        "total": Systematics(nl_sigma=nl_sigma, flux_norm=flux_norm, shape=shape, backgrounds=True,
                             background_rates=True),
    }
    return {k: asimov_dchi2(model, truth, years=years, syst=s, **scan).dchi2 for k, s in groups.items()}


def biased_visible(visible, amplitude: float, mode: int = 1, n_modes: int = 3):
    """A calibration's NL that is wrong by ``amplitude`` × Legendre mode ``mode`` (see
    :func:`nl_modes`): e_vis → e_vis (1 + amplitude P_mode(x))."""
    if not callable(visible):
        raise TypeError(f"visible must be a function e_prompt -> e_vis, got {type(visible).__name__}")
    amplitude = validate.number("amplitude", amplitude, -0.2, 0.2)
    n_modes = validate.integer("n_modes", n_modes, 1, 6)
    mode = validate.integer("mode", mode, 0, n_modes - 1)

    def visible_biased(e_prompt):
        ev = visible(e_prompt)
        return ev * (1 + amplitude * _nl_modes(ev, n_modes, 1.0, 8.0)[mode])

    return visible_biased


def calibrated_visible(visible, e_prompt, bias):
    """The calibration's positron NL: the truth's ``visible`` times ``1 + bias(e_prompt)``, with
    ``bias`` tabulated on ``e_prompt`` (MeV; e.g. chapter 6's posterior median); held constant
    beyond the table."""
    if not callable(visible):
        raise TypeError(f"visible must be a function e_prompt -> e_vis, got {type(visible).__name__}")
    e_prompt = validate.energies("e_prompt", e_prompt, 0.0, reactor.E_NU_MAX, size_min=1)
    bias = validate.array("bias", bias, -0.2, 0.2)
    if e_prompt.shape != bias.shape or e_prompt.ndim != 1:
        raise ValueError(f"e_prompt {e_prompt.shape} and bias {bias.shape} must be 1-d of the same length")

    def visible_calibrated(e):
        return visible(e) * (1 + np.interp(e, e_prompt, bias))

    return visible_calibrated


@dataclasses.dataclass(frozen=True)
class PosteriorModes:
    """NL pull modes fitted to posterior draws of the positron scale (:func:`posterior_nl_modes`).

    ``mixing`` (n, n): unit pulls η_k give e_vis (1 + envelope Σ_k η_k Σ_j mixing[j, k] P_j(x)),
    which reproduces the covariance of the draws' Legendre coefficients; the band of the modes
    has a unit 1σ envelope over the range, so ``envelope`` is the 1σ envelope of the posterior
    (in the Legendre projection). ``captured``: share of the draws' variance over the range that
    the n modes carry; ``tilt``: Legendre coefficients of the posterior median bias.
    """

    mixing: np.ndarray
    envelope: float
    captured: float
    direct_envelope: float  # max over the range of the draws' own standard deviation
    tilt: np.ndarray


def posterior_nl_modes(e_vis, rel_draws, *, n_modes: int = 3, median_bias=None, e_lo: float = 1.0,
                       e_hi: float = 8.0) -> PosteriorModes:
    """Fit ``n_modes`` Legendre modes in log visible energy (:func:`nl_modes`) to posterior draws.

    ``e_vis`` (n,) the true visible energy of each energy of the draws; ``rel_draws`` (D, n)
    each draw's relative scale about the calibrated curve (e.g.
    :meth:`~juno_calib.calibration.positron_scale.PositronScalePosterior.relative_draws`).
    The coefficients of every draw are least-squares fits over ``e_lo``–``e_hi``; their
    covariance ``C = V Λ Vᵀ`` gives uncorrelated pulls along ``V √Λ``.
    """
    e_vis = validate.energies("e_vis", e_vis, 0.0, E_VIS_MAX, ndim=1)
    rel = np.atleast_2d(validate.array("rel_draws", rel_draws, -1.0, 1.0, ndim=(1, 2)))
    n_modes = validate.integer("n_modes", n_modes, 1, 6)
    e_lo = validate.number("e_lo", e_lo, 0.0, E_VIS_MAX, unit="MeV", lo_open=True)
    e_hi = validate.number("e_hi", e_hi, e_lo, E_VIS_MAX, unit="MeV", lo_open=True)
    if median_bias is not None:
        median_bias = validate.array("median_bias", median_bias, -1.0, 1.0, ndim=1)
        if median_bias.shape != e_vis.shape:
            raise ValueError(f"median_bias has shape {median_bias.shape}; it needs {e_vis.shape} (as e_vis)")
    if rel.shape[1] != e_vis.size or rel.shape[0] < 2 * n_modes:
        raise ValueError(f"rel_draws has shape {rel.shape}; it needs (D >= {2 * n_modes}, {e_vis.size})")
    sel = (e_vis >= e_lo) & (e_vis <= e_hi)
    if sel.sum() < 2 * n_modes:
        raise ValueError(f"only {int(sel.sum())} energies of e_vis fall in [{e_lo}, {e_hi}] MeV; "
                         f"need at least {2 * n_modes}")
    basis = _nl_modes(e_vis[sel], n_modes, e_lo, e_hi)  # (n_modes, m)
    coef = np.linalg.lstsq(basis.T, (rel[:, sel] - rel[:, sel].mean(axis=0)).T, rcond=None)[0].T  # (D, n)
    cov = np.atleast_2d(np.cov(coef, rowvar=False))
    lam, vec = np.linalg.eigh(cov)
    mix = vec * np.sqrt(np.clip(lam, 0.0, None))[None, :]
    sd_modes = np.sqrt(np.einsum("jm,jk,km->m", basis, cov, basis))
    envelope = float(sd_modes.max())
    if not envelope > 0:
        raise ValueError(f"rel_draws have no spread over [{e_lo:g}, {e_hi:g}] MeV (every draw is the same "
                         "curve): the modes of a zero-width posterior are undefined")
    var_direct = rel[:, sel].var(axis=0, ddof=1)
    tilt = (np.linalg.lstsq(basis.T, np.asarray(median_bias, dtype=float)[sel], rcond=None)[0]
            if median_bias is not None else np.zeros(n_modes))
    return PosteriorModes(mixing=mix / envelope, envelope=envelope,
                          captured=float(np.sum(sd_modes**2) / np.sum(var_direct)),
                          direct_envelope=float(np.sqrt(var_direct.max())), tilt=tilt)


@dataclasses.dataclass(frozen=True)
class BiasedFit:
    """Both orderings fitted with a model that differs from the truth (:func:`dchi2_model_error`)."""

    dchi2: float  # chi2_min(wrong) - chi2_min(true)
    chi2_true: float  # > 0: the true ordering no longer fits perfectly
    chi2_wrong: float


def dchi2_model_error(fit_model: MassOrderingModel, data, truth: OscillationParameters, *, years: float,
                      syst: Systematics = STAT_ONLY, **scan) -> BiasedFit:
    """Δχ² when the fit's model (e.g. a calibrated NL with a residual bias) is not the truth that
    made ``data``: both orderings are minimised, each over its own Δm²31 scan."""
    a = minimise_dm31(fit_model, data, truth, years=years, syst=syst, **scan)
    b = minimise_dm31(fit_model, data, truth.other_ordering(), years=years, syst=syst, **scan)
    return BiasedFit(dchi2=b.dchi2 - a.dchi2, chi2_true=a.dchi2, chi2_wrong=b.dchi2)
