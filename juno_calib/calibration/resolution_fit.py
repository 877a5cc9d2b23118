"""Bayesian fit of the energy resolution (seed 000, Eq. 1) to what the calibration measures.

The data are peak widths ``sigma/E`` at visible energies ``E`` (MeV):

* **γ lines at the centre** (the Table 1 sources on the ACU): photo-statistics (``a``) and dark
  noise (``c``) only; the centre has no non-uniformity, so ``b`` does not enter;
* **uniformly distributed events after the non-uniformity correction** (e.g. the n-H captures of
  spallation neutrons): ``a``, ``b`` and ``c``.

A γ line is wider than an electron of the same visible energy: its energy is shared among
Compton electrons, each quenched differently, so the total light fluctuates from event to event
(chapter 3). Each line ``i`` therefore carries a term ``w_i`` (relative width of its visible
energy at fixed deposited energy), computed by the *calibration* with its own simulation of the
line (:func:`gamma_line_width`). Its main uncertainty is the Birks constant, which sets how
differently electrons of different energies are quenched and acts differently on each line: the
calibration simulates every line at both ends of the literature range of ``k_B`` and
interpolates, ``w_i(t) = w_i^low + t (w_i^high - w_i^low)``, with ``t`` a nuisance parameter
(``t = 0`` and ``1`` at the two ends); an overall scale ``s_gamma`` absorbs the rest of the
model error (Cherenkov weight, delta rays). Both have Gaussian priors, so that ``a, b, c``
describe electrons and positrons, not γ:

.. math::

    \\left(\\frac{\\sigma}{E}\\right)_i^2 = \\frac{a^2}{E_i} + u_i\\,b^2 + \\frac{c^2}{E_i^2}
        + (s_\\gamma w_i(t))^2, \\qquad \\bar a = \\sqrt{a^2 + (1.6\\,b)^2 + (c/1.6)^2},

with ``u_i = 1`` for volume data and 0 at the centre. The likelihood is Gaussian in
``sigma/E`` with the statistical errors of the peak fits. The posterior is sampled with the
fitting core (:mod:`juno_calib.calibration.fitting`); ``abar`` is a derived quantity whose
posterior is computed sample by sample.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy.special import ndtr

from ..core import validate
from ..core.params import CONFIGS, check_range
from ..hardware.budget import Programme
from ..hardware.programme import load_table2
from ..hardware.sources import NAMES as SOURCE_NAMES
from ..hardware.sources import Source, get_source, simulate_source
from ..particles.events import PARTS
from ..particles.scintillator import Scintillator
from .fitting import MCMCResult, Normal, Parameter, Uniform, fit_max_posterior, sample_posterior
from .peak_statistics import simulated_peak
from .resolution import fit_peak

#: seed 000's weights of b and c in the effective resolution
ABAR_B, ABAR_C = 1.6, 1.0 / 1.6
NAMES = ("a", "b", "c", "s_gamma", "t_kb")


def abar(a, b, c):
    """Effective resolution ``sqrt(a^2 + (1.6 b)^2 + (c/1.6)^2)`` (seed 000), broadcasting.

    >>> round(float(abar(0.027, 0.0, 0.0)), 4)
    0.027
    """
    a, b, c = (validate.array(k, x, 0.0, 1.0, why="a relative resolution term")
               for k, x in (("a", a), ("b", b), ("c", c)))
    try:
        np.broadcast(a, b, c)
    except ValueError:
        raise ValueError(f"a {a.shape}, b {b.shape} and c {c.shape} must broadcast together") from None
    return _abar(a, b, c)


def _abar(a, b, c):
    return np.sqrt(a * a + (ABAR_B * b) ** 2 + (ABAR_C * c) ** 2)


@dataclasses.dataclass(frozen=True)
class ResolutionData:
    """Measured peak widths, one entry per peak.

    Attributes
    ----------
    label : tuple of str
    energy : (n,) visible energy of the peak, MeV (> 0)
    sigma_rel, sigma_rel_err : (n,) measured sigma/E and its statistical error (> 0)
    gamma_term : (n,) the calibration's relative light-fluctuation width ``w`` of the line at
        ``t = 0`` (0 for electrons and positrons)
    volume : (n,) bool, True for events spread over the volume (``b`` applies)
    gamma_slope : (n,) ``dw/dt``: the change of ``w`` from ``t = 0`` to ``t = 1`` (default 0)
    """

    label: tuple
    energy: np.ndarray
    sigma_rel: np.ndarray
    sigma_rel_err: np.ndarray
    gamma_term: np.ndarray
    volume: np.ndarray
    gamma_slope: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.label)
        if self.gamma_slope is None:
            object.__setattr__(self, "gamma_slope", np.zeros(n))
        for name in ("energy", "sigma_rel", "sigma_rel_err", "gamma_term", "volume", "gamma_slope"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                raise ValueError(f"ResolutionData.{name} must have shape ({n},) like label, got {arr.shape}")
            object.__setattr__(self, name, arr.astype(bool if name == "volume" else float))
        if n < 1:
            raise ValueError("ResolutionData needs at least one peak")
        for name in ("energy", "sigma_rel", "sigma_rel_err"):
            arr = getattr(self, name)
            if not np.all(np.isfinite(arr) & (arr > 0)):
                raise ValueError(f"ResolutionData.{name} must be finite and > 0, got {arr}")
        if not np.all(np.isfinite(self.gamma_term) & (self.gamma_term >= 0)):
            raise ValueError(f"ResolutionData.gamma_term must be finite and >= 0, got {self.gamma_term}")
        if not np.all(np.isfinite(self.gamma_slope)):
            raise ValueError(f"ResolutionData.gamma_slope must be finite, got {self.gamma_slope}")

    def subset(self, mask) -> ResolutionData:
        mask = np.asarray(mask, dtype=bool)
        return ResolutionData(tuple(np.asarray(self.label, dtype=object)[mask]), self.energy[mask],
                              self.sigma_rel[mask], self.sigma_rel_err[mask], self.gamma_term[mask],
                              self.volume[mask], self.gamma_slope[mask])


def concatenate(*parts: ResolutionData) -> ResolutionData:
    """One data set from several (e.g. the centre lines and the volume data)."""
    return ResolutionData(sum((tuple(p.label) for p in parts), ()),
                          *(np.concatenate([getattr(p, k) for p in parts])
                            for k in ("energy", "sigma_rel", "sigma_rel_err", "gamma_term", "volume",
                                      "gamma_slope")))


def model_sigma_rel(theta, data: ResolutionData) -> np.ndarray:
    """Eq. 1 plus the γ term: ``theta`` (..., 5) = (a, b, c, s_gamma, t_kb) -> sigma/E (..., n)."""
    validate.instance("data", data, ResolutionData, hint="ResolutionData(...)")
    th = validate.array("theta", theta, -10.0, 10.0, ndim=(1, 2))
    if th.shape[-1] != 5:
        raise ValueError(f"theta must have shape (..., 5) = (a, b, c, s_gamma, t_kb), got {th.shape}")
    return _model_sigma_rel(th, data)


def _model_sigma_rel(th, data: ResolutionData) -> np.ndarray:
    a, b, c, s, t = (th[..., k, None] for k in range(5))
    e = data.energy
    w = data.gamma_term + t * data.gamma_slope
    var = a * a / e + data.volume * b * b + (c / e) ** 2 + (s * w) ** 2
    return np.sqrt(var)


def make_log_likelihood(data: ResolutionData, b12: B12Spectrum | None = None):
    """Vectorised log-likelihood, ``(n, 5) -> (n,)``: Gaussian in the measured widths; with
    ``b12``, ``(n, 9) -> (n,)``, plus the forward-folded Poisson likelihood of the ¹²B spectrum
    (:func:`fold_b12`; normalisation marginalised)."""
    validate.instance("data", data, ResolutionData, hint="ResolutionData(...)")
    if b12 is not None:
        validate.instance("b12", b12, B12Spectrum, hint="b12_spectrum(...)")

    def log_like(theta):
        th = np.atleast_2d(np.asarray(theta, dtype=float))
        r = (_model_sigma_rel(th[:, :5], data) - data.sigma_rel) / data.sigma_rel_err
        ll = -0.5 * np.sum(r * r, axis=-1)
        if b12 is not None:
            ll = ll + _b12_log_like(b12, th)
        return ll
    return log_like


def default_parameters(a_expected: float, *, a_prior_rel: float = 0.3, s_gamma_rel: float = 0.1,
                       t_kb: float = 0.0, t_kb_sigma: float = 1.0, b_max: float = 0.05,
                       c_max: float = 0.1) -> list[Parameter]:
    """Priors of the fit.

    a : Normal(a_expected, a_prior_rel * a_expected) truncated at 0 — weakly informative, from the
        measured light yield (``a_expected = 1/sqrt(Y [PE/MeV])``: Poisson photo-statistics alone;
        the charge resolution and the volume average move it by tens of percent at most).
    b : Uniform(0, b_max); c : Uniform(0, c_max) — non-negative by definition, flat.
    s_gamma : Normal(1, s_gamma_rel) truncated at 0 — an overall scale of the calibration's γ
        term (model error beyond the Birks constant).
    t_kb : Normal(t_kb, t_kb_sigma) truncated to [-1, 2] — where the Birks constant of the γ term
        lies in the literature range (0 and 1 at its ends; ``t_kb`` is the calibration's nominal).
    """
    check_range("a_expected", a_expected, 0.0, 1.0, lo_open=True)
    check_range("a_prior_rel", a_prior_rel, 0.0, 10.0, lo_open=True)
    check_range("s_gamma_rel", s_gamma_rel, 0.0, 10.0, lo_open=True)
    check_range("b_max", b_max, 0.0, 1.0, lo_open=True)
    check_range("c_max", c_max, 0.0, 1.0, lo_open=True)
    check_range("t_kb", t_kb, -1.0, 2.0)
    check_range("t_kb_sigma", t_kb_sigma, 0.0, 10.0, lo_open=True)
    return [Parameter("a", Normal(a_expected, a_prior_rel * a_expected, lo=0.0), label="a [%]", scale=100),
            Parameter("b", Uniform(0.0, b_max), label="b [%]", scale=100),
            Parameter("c", Uniform(0.0, c_max), label="c [%]", scale=100),
            Parameter("s_gamma", Normal(1.0, s_gamma_rel, lo=0.0), label="s_γ", scale=1),
            Parameter("t_kb", Normal(t_kb, t_kb_sigma, lo=-1.0, hi=2.0), label="t_kB", scale=1)]


@dataclasses.dataclass(frozen=True)
class ResolutionFit:
    """The posterior of (a, b, c, s_gamma, t_kb), the derived ``abar`` and the iminuit cross-check."""

    mcmc: MCMCResult
    best: object  # fitting.MaxPosterior
    data: ResolutionData

    @property
    def abar_samples(self) -> np.ndarray:
        s = self.mcmc.samples
        return _abar(s[:, 0], s[:, 1], s[:, 2])

    def abar_summary(self) -> dict:
        x = self.abar_samples
        q = np.quantile(x, [0.5, 0.158655254, 0.841344746, 0.022750132, 0.977249868])
        return {"median": float(q[0]), "lo68": float(q[1]), "hi68": float(q[2]),
                "lo95": float(q[3]), "hi95": float(q[4])}

    def band(self, energy, *, volume: bool = True, quantiles=(0.158655254, 0.5, 0.841344746),
             n_draws: int = 2000, rng: np.random.Generator) -> np.ndarray:
        """Posterior quantiles of sigma/E of an electron (no γ term) at ``energy``: (len(q), n)."""
        e = np.asarray(energy, dtype=float).ravel()
        s = self.mcmc.samples
        take = s[rng.choice(len(s), size=min(n_draws, len(s)), replace=False)]
        var = (take[:, 0, None] ** 2 / e + volume * take[:, 1, None] ** 2 + (take[:, 2, None] / e) ** 2)
        return np.quantile(np.sqrt(var), quantiles, axis=0)


def fit(data: ResolutionData, params, *, rng: np.random.Generator, n_walkers: int = 32,
        n_steps: int = 3000, b12: B12Spectrum | None = None) -> ResolutionFit:
    """Maximum a posteriori fit (iminuit), then emcee started around it.

    ``params``: the 5 Parameters of :func:`default_parameters`, plus the 4 of
    :func:`b12_parameters` when the ¹²B spectrum ``b12`` is fitted too.
    """
    validate.instance("data", data, ResolutionData, hint="ResolutionData(...)")
    validate.instance("params", params, (list, tuple), hint="default_parameters(a_expected)")
    n_par = 5 if b12 is None else 9
    if len(params) != n_par or not all(isinstance(p, Parameter) for p in params):
        raise TypeError(f"params must be the {n_par} Parameters (a, b, c, s_gamma, t_kb"
                        + (")" if b12 is None else ", nl_1, nl_2, b12_scale, b12_slope)")
                        + " of default_parameters()" + ("" if b12 is None else " + b12_parameters()"))
    validate.generator("rng", rng)
    n_walkers = validate.integer("n_walkers", n_walkers, 12, 10**4)
    n_steps = validate.integer("n_steps", n_steps, 1, 10**7)
    log_like = make_log_likelihood(data, b12)
    x0 = [params[0].prior.mu, 0.005, 0.01, 1.0, params[4].prior.mu] + [0.0] * (n_par - 5)
    best = fit_max_posterior(log_like, params, x0=x0)
    lo = [1e-4, 1e-4, 1e-4, 1e-3, -0.99] + [-5.0, -5.0, -0.1, -0.05][: n_par - 5]
    hi = [1.0, 1.0, 1.0, 10.0, 1.99] + [5.0, 5.0, 0.1, 0.05][: n_par - 5]
    start = np.clip(best.values, lo, hi)
    scale = np.clip(np.nan_to_num(best.errors, nan=1e-3), 1e-4, None) * 0.1
    res = sample_posterior(log_like, params, rng=rng, n_walkers=n_walkers, n_steps=n_steps,
                           x0=start, init_scale=scale)
    return ResolutionFit(mcmc=res, best=best, data=data)


def toy_data(template: ResolutionData, a: float, b: float, c: float, s_gamma: float = 1.0,
             t_kb: float = 0.0, *, rng: np.random.Generator) -> ResolutionData:
    """Pseudo-data from Eq. 1 (+ γ term) at the template's energies, Gaussian errors of the template."""
    validate.instance("template", template, ResolutionData, hint="ResolutionData(...)")
    for k, v in (("a", a), ("b", b), ("c", c)):
        validate.number(k, v, 0.0, 1.0)
    validate.number("s_gamma", s_gamma, 0.0, 10.0)
    validate.number("t_kb", t_kb, -1.0, 2.0)
    validate.generator("rng", rng)
    truth = _model_sigma_rel(np.array([a, b, c, s_gamma, t_kb], dtype=float), template)
    meas = truth + template.sigma_rel_err * rng.standard_normal(truth.shape)
    return dataclasses.replace(template, sigma_rel=np.abs(meas))


def gamma_line_width(source, scint: Scintillator, geometry, *, rng: np.random.Generator,
                     light_yield: float, dark_pe: float, n_events: int = 20_000,
                     part: str | None = None) -> dict:
    """The calibration's γ term of a source's line, for the estimator it uses on the data.

    The calibration's own simulation: decays at the centre in the source's capsule (its geometry
    is known), its own scintillator model ``scint`` for the visible energy, and a plain detector:
    Poisson photo-electrons at the measured centre ``light_yield`` (PE/MeV) plus Poisson dark
    noise of mean ``dark_pe`` (measured with random triggers), the mean subtracted. The peak is
    fitted with the same estimator as the data (:func:`fit_peak`, a Gaussian within ±2σ), and so
    is an electron peak of the same visible energy; the γ term is their difference in quadrature,

        w^2 = (sigma/E)_line^2 - (sigma/E)_electron^2,

    so that the tails of a line (capsule scattering, quenching of the low-energy electrons) enter
    as they do through the estimator, not as the width of the bare visible-energy spectrum.
    Returns ``e_vis`` (MeV), ``w`` (relative, 0 if the difference is negative: a fluctuation)
    and ``w2`` (the signed difference).
    """
    validate.instance("source", source, Source, hint='get_source("Cs137")')
    validate.instance("scint", scint, Scintillator, hint="Scintillator.load()")
    validate.generator("rng", rng)
    check_range("n_events", n_events, 200, 10**7)
    check_range("light_yield", light_yield, 1.0, 1e6, unit="PE/MeV")
    check_range("dark_pe", dark_pe, 0.0, 1e6, unit="PE")
    part = ("capture" if source.emits_neutrons else "all") if part is None else validate.choice(
        "part", part, PARTS)
    dep = simulate_source(source, int(n_events), np.zeros(3), rng=rng, scint=scint, geometry=geometry,
                          capsule=True, part=part)
    e = dep.per_event("e_vis")
    e = e[e > 0]
    pe = rng.poisson(light_yield * e) + rng.poisson(dark_pe, e.size) - dark_pe
    line = fit_peak(pe / light_yield)
    e_line = line["mean"]
    ele = rng.poisson(light_yield * e_line, e.size) + rng.poisson(dark_pe, e.size) - dark_pe
    el = fit_peak(ele / light_yield)
    w2 = (line["sigma"] / line["mean"]) ** 2 - (el["sigma"] / el["mean"]) ** 2
    return {"e_vis": e_line, "w": float(np.sqrt(max(w2, 0.0))), "w2": float(w2)}


#: the γ lines measured at the centre: (label, source, part of the decay that makes the line).
#: AmC's prompt 6.13 MeV line is left out: the library throws its 6.05 MeV E0 branch as a γ
#: (an open issue), which would put a spurious line 1.3% below it.
CENTRE_LINES = (("137Cs", "Cs137", "all"), ("54Mn", "Mn54", "all"), ("68Ge", "Ge68", "all"),
                ("40K", "K40", "all"), ("n-H (Am-Be)", "AmBe", "capture"), ("60Co", "Co60", "all"),
                ("12C* (Am-Be)", "AmBe", "prompt"))


def _line_fraction(source, part: str) -> float:
    """Fraction of decays (neutrons) that emit the line of ``part``."""
    if part == "capture":
        return sum(b.probability for b in source.branches if b.neutron)
    if part == "prompt":
        return sum(b.probability for b in source.branches if b.gammas)
    return source.peak_fraction()


def centre_events(source_name: str, part: str, *, config: str = "design", daq_scale: float = 1.0,
                  programme: Programme | None = None) -> int:
    """Events in a centre line in the comprehensive programme: activity x line fraction x peak
    efficiency x Table 2's DAQ time of the source on the ACU (times ``daq_scale``)."""
    validate.choice("source_name", source_name, SOURCE_NAMES)
    validate.choice("part", part, PARTS)
    validate.choice("config", config, CONFIGS)
    check_range("daq_scale", daq_scale, 0.0, 1e3, lo_open=True)
    prog = Programme.load() if programme is None else validate.instance(
        "programme", programme, Programme, hint="Programme.load()")
    rows = [r for r in load_table2() if r.programme == "comprehensive" and r.source == source_name
            and r.system == "ACU"]
    if not rows:
        raise ValueError(f"source_name = {source_name!r} has no ACU row in the comprehensive programme "
                         "of Table 2")
    src = get_source(source_name, config)
    daq = rows[0].daq_time / rows[0].points * daq_scale
    return int(round(src.activity * _line_fraction(src, part) * prog.peak_efficiency * daq))


def centre_peaks(response, scint: Scintillator, *, rng: np.random.Generator, config: str = "design",
                 daq_scale: float = 1.0, lines=CENTRE_LINES) -> list[dict]:
    """The measured widths of the γ lines at the centre (the true detector's simulation).

    Each line: decays at the centre with the capsule, the total-PE path of ``response``, the
    dark-noise mean subtracted, a Gaussian fit of the peak
    (:func:`juno_calib.calibration.peak_statistics.simulated_peak`). Events per line from
    :func:`centre_events`. Returns per line: ``label``, ``source``, ``part``, ``n_events``,
    ``mean_pe``, ``sigma_rel``, ``sigma_rel_err``.
    """
    out = []
    for label, name, part in lines:  # seven lines; the events of each are vectorised
        src = get_source(name, config)
        n = centre_events(name, part, config=config, daq_scale=daq_scale)
        pk = simulated_peak(src, np.zeros(3), max(n, 200), rng=rng, response=response, scint=scint,
                            part=part)
        out.append({"label": label, "source": name, "part": part, "n_events": n,
                    "mean_pe": float(pk["mean_pe"][0]), "sigma_rel": float(pk["sigma_rel"][0]),
                    "sigma_rel_err": float(pk["sigma_rel_err"][0])})
    return out


def pull(values, errors, truth) -> np.ndarray:
    """``(value - truth) / error``; errors must be > 0."""
    err = validate.array("errors", errors, 0.0, lo_open=True)
    v = validate.array("values", values)
    t = validate.array("truth", truth)
    try:
        np.broadcast(v, err, t)
    except ValueError:
        raise ValueError(f"values {v.shape}, errors {err.shape} and truth {t.shape} must broadcast "
                         "together") from None
    return (v - truth) / err


def coverage(intervals, truth) -> float:
    """Fraction of ``(lo, hi)`` intervals that contain ``truth``."""
    iv = validate.array("intervals", intervals, size_min=2)
    if iv.shape[-1] != 2:
        raise ValueError(f"intervals must have shape (..., 2) = (lo, hi), got {iv.shape}")
    iv = iv.reshape(-1, 2)
    validate.number("truth", truth)
    return float(np.mean((iv[:, 0] <= truth) & (truth <= iv[:, 1])))


__all__ = ["ABAR_B", "ABAR_C", "NAMES", "abar", "ResolutionData", "concatenate", "model_sigma_rel",
           "make_log_likelihood", "default_parameters", "ResolutionFit", "fit", "toy_data",
           "gamma_line_width", "CENTRE_LINES", "centre_events", "centre_peaks", "pull", "coverage",
           "B12_NAMES", "B12Spectrum", "b12_spectrum", "b12_nl", "fold_b12", "b12_parameters", "b12_toy"]


# ------------------------------------------------------------------ the ¹²B spectrum over the volume
#: the ¹²B nuisance parameters appended to :data:`NAMES` when the spectrum is fitted
B12_NAMES = ("nl_1", "nl_2", "b12_scale", "b12_slope")
#: cells of the fine visible-energy grid per bin of the data (their width h enters as h²/12)
CELLS_PER_BIN = 5


@dataclasses.dataclass(frozen=True)
class B12Spectrum:
    """The corrected ¹²B spectrum over the volume and the calibration's prediction of it.

    Build with :func:`b12_spectrum`. The prediction: the allowed β shape of every branch (its
    cumulative distribution on a fine kinetic-energy grid ``t_nodes``, ``cdf0``; ``cdf1`` the
    cumulative of ``T dN/dT`` for the linear shape factor), turned into visible energy with the
    calibration's electron light model of chapter 6 (``model``, Birks ``k_B`` and Cherenkov
    ``k_C``) and normalised like the data: the n-H line (template ``w_nh`` of its
    Compton electrons) sits at ``e_nh``. The 4.44 MeV branch adds the mean light of its γ
    (template ``w_gamma``). ``nl_mean`` (2,) and ``nl_chol`` (2, 2): mean and Cholesky factor of
    the prior of ``(k_B, k_C)``; the fit samples ``z`` with ``(k_B, k_C) = nl_mean + nl_chol @ z``,
    ``z ~ N(0, 1)``.

    Attributes
    ----------
    edges : (K+1,) uniform bin edges of the data, MeV of corrected visible energy
    counts : (K,) events per bin
    cell_edges : (I+1,) fine grid (``CELLS_PER_BIN`` cells per bin, aligned with ``edges``)
    edge_index : (K+1,) index of each data edge in ``cell_edges``
    """

    edges: np.ndarray
    counts: np.ndarray
    t_nodes: np.ndarray
    cdf0: np.ndarray          # (branches, J)
    cdf1: np.ndarray          # (branches, J)
    prob: np.ndarray          # (branches,)
    with_gamma: np.ndarray    # (branches,) bool
    t_mean: float
    model: object             # ElectronNLModel
    w_nh: np.ndarray          # (G,)
    w_gamma: np.ndarray       # (G,)
    e_nh: float
    nl_mean: np.ndarray
    nl_chol: np.ndarray
    cell_edges: np.ndarray
    edge_index: np.ndarray

    @functools.cached_property
    def _t_index(self):
        """Interval of the model's grid holding each kinetic-energy node and the fraction across it."""
        idx = np.clip(np.searchsorted(self.model.t, self.t_nodes, side="right") - 1, 0, self.model.t.size - 2)
        frac = (self.t_nodes - self.model.t[idx]) / (self.model.t[idx + 1] - self.model.t[idx])
        return idx, frac

    @property
    def n_events(self) -> float:
        return float(self.counts.sum())

    @property
    def centres(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def with_counts(self, counts) -> B12Spectrum:
        """The same prediction with other data (e.g. a toy)."""
        c = validate.array("counts", counts, 0.0, ndim=1)
        if c.shape != self.counts.shape:
            raise ValueError(f"counts must have shape {self.counts.shape} like the bins, got {c.shape}")
        return dataclasses.replace(self, counts=c)


def b12_spectrum(edges, counts, *, model, w_nh, w_gamma, e_nh: float, nl_mean, nl_cov,
                 decay=None, t_step: float = 0.01) -> B12Spectrum:
    """The calibration's forward model of the corrected ¹²B spectrum (:class:`B12Spectrum`).

    ``edges`` (K+1,) uniform bin edges in MeV (corrected visible energy, dark noise subtracted:
    may be < 0); ``counts`` (K,) the data; ``model`` the
    calibration's :class:`~juno_calib.calibration.nonlinearity.ElectronNLModel`; ``w_nh``,
    ``w_gamma`` (G,) Compton-electron templates of the n-H line and of the 4.44 MeV γ on the
    model's grid; ``e_nh`` the n-H energy (MeV) that defines the scale; ``nl_mean`` (2,) and
    ``nl_cov`` (2, 2) the prior of ``(k_B [g/cm²/MeV], k_C)``; ``decay`` the β data
    (:class:`~juno_calib.particles.beta.B12Decay`); ``t_step`` the kinetic-energy step (MeV).
    """
    from ..particles.beta import B12Decay, beta_spectrum
    from .nonlinearity import ElectronNLModel

    e = validate.array("edges", edges, -10.0, 100.0, ndim=1, size_min=2)
    width = np.diff(e)
    if not np.allclose(width, width[0], rtol=1e-9) or width[0] <= 0:
        raise ValueError(f"edges must be uniform and increasing (MeV), got steps {width[:3]}...")
    c = validate.array("counts", counts, 0.0, ndim=1)
    if c.shape != (e.size - 1,):
        raise ValueError(f"counts must have shape ({e.size - 1},) = the bins of edges, got {c.shape}")
    validate.instance("model", model, ElectronNLModel, hint="ElectronNLModel.build(...)")
    g = model.t.size
    wn = validate.array("w_nh", w_nh, 0.0, ndim=1)
    wg = validate.array("w_gamma", w_gamma, 0.0, ndim=1)
    for name, w in (("w_nh", wn), ("w_gamma", wg)):
        if w.shape != (g,) or w.sum() <= 0:
            raise ValueError(f"{name} must be a template of shape ({g},) (the model's grid) with weight > 0")
    e_nh = validate.number("e_nh", e_nh, 0.0, 100.0, lo_open=True, unit="MeV")
    mu = validate.array("nl_mean", nl_mean, 0.0, ndim=1)
    cov = validate.array("nl_cov", nl_cov, ndim=2)
    if mu.shape != (2,) or cov.shape != (2, 2):
        raise ValueError(f"nl_mean must have shape (2,) and nl_cov (2, 2) = (k_B, k_C), got {mu.shape}, "
                         f"{cov.shape}")
    try:
        chol = np.linalg.cholesky(0.5 * (cov + cov.T))
    except np.linalg.LinAlgError:
        raise ValueError(f"nl_cov must be positive definite, got {cov.tolist()}") from None
    t_step = validate.number("t_step", t_step, 1e-4, 0.1, unit="MeV")
    d = (B12Decay.load() if decay is None
         else validate.instance("decay", decay, B12Decay, hint="B12Decay.load()"))
    q = float(d.b12_q_value)
    if q > model.t[-1]:
        raise ValueError(f"the model's grid ends at {model.t[-1]:g} MeV, below the 12B Q value {q:g} MeV")
    t = np.linspace(0.0, q, int(np.ceil(q / t_step)) + 1)
    radius = d.nuclear_radius_r0 * d.b12_mass_number ** (1 / 3)
    levels = np.asarray(d.b12_levels, dtype=float)
    cdf0, cdf1 = [], []
    for e0 in d.endpoints:  # the three branches
        pdf = beta_spectrum(t, float(e0), d.b12_daughter_z, radius)
        c0 = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(t))])
        tp = t * pdf
        c1 = np.concatenate([[0.0], np.cumsum(0.5 * (tp[1:] + tp[:-1]) * np.diff(t))])
        cdf0.append(c0 / c0[-1])
        cdf1.append(c1 / c0[-1])
    cdf0, cdf1 = np.array(cdf0), np.array(cdf1)
    prob = d.probabilities
    t_mean = float(prob @ cdf1[:, -1])
    h = width[0] / CELLS_PER_BIN
    n_lo = int(np.ceil(1.5 / h))
    n_hi = int(np.ceil(1.0 / h))
    n_cells = n_lo + CELLS_PER_BIN * (e.size - 1) + n_hi
    cell_edges = e[0] - n_lo * h + h * np.arange(n_cells + 1)
    edge_index = n_lo + CELLS_PER_BIN * np.arange(e.size)
    return B12Spectrum(edges=e, counts=c, t_nodes=t, cdf0=cdf0, cdf1=cdf1, prob=prob,
                       with_gamma=np.isclose(levels, levels[1]), t_mean=t_mean, model=model, w_nh=wn,
                       w_gamma=wg, e_nh=float(e_nh), nl_mean=mu, nl_chol=chol, cell_edges=cell_edges,
                       edge_index=edge_index)


def b12_nl(spec: B12Spectrum, z) -> np.ndarray:
    """``(k_B, k_C)`` (..., 2) of the NL nuisance ``z`` (..., 2) (standard-normal coordinates)."""
    validate.instance("spec", spec, B12Spectrum, hint="b12_spectrum(...)")
    z = validate.array("z", z, -50.0, 50.0, ndim=(1, 2))
    if z.shape[-1] != 2:
        raise ValueError(f"z must have shape (..., 2), got {z.shape}")
    return spec.nl_mean + z @ spec.nl_chol.T


def _b12_cells(spec: B12Spectrum, th):
    """Visible-energy CDF of the unsmeared prediction at the cell edges, (W, I+1), normalised."""
    n_w = th.shape[0]
    kbc = spec.nl_mean + th[:, 5:7] @ spec.nl_chol.T
    light = spec.model.light(np.maximum(kbc[:, 0], 0.0), np.maximum(kbc[:, 1], 0.0))  # (W, G)
    unit = spec.e_nh * (1.0 + th[:, 7]) / (light @ spec.w_nh)  # MeV per unit of model light
    e_gamma = unit * (light @ spec.w_gamma)
    slope = th[:, 8]
    # the β's visible energy at the kinetic-energy nodes (linear in the model's grid), (W, J)
    i_t, f_t = spec._t_index
    e_beta = unit[:, None] * (light[:, i_t] * (1.0 - f_t) + light[:, i_t + 1] * f_t)
    # where every cell edge falls among each walker's nodes: one searchsorted over all walkers
    # (each row is increasing; row w is offset by w * span so the flattened array stays sorted)
    n_j = e_beta.shape[1]
    span = float(np.max(e_beta[:, -1]) + np.max(e_gamma) + spec.cell_edges[-1] - spec.cell_edges[0]) + 10.0
    offset = span * np.arange(n_w)[:, None]
    flat = (e_beta + offset).ravel()
    out = np.zeros((n_w, spec.cell_edges.size))
    for gamma in (False, True):
        q = spec.cell_edges[None, :] - (e_gamma[:, None] if gamma else np.zeros((n_w, 1)))
        pos = (np.searchsorted(flat, (q + offset).ravel(), side="right").reshape(q.shape)
               - n_j * np.arange(n_w)[:, None])
        below, above = pos <= 0, pos >= n_j
        j = np.clip(pos - 1, 0, n_j - 2)
        e0 = np.take_along_axis(e_beta, j, axis=1)
        e1 = np.take_along_axis(e_beta, j + 1, axis=1)
        frac = np.clip((q - e0) / np.maximum(e1 - e0, 1e-300), 0.0, 1.0)
        for k in np.flatnonzero(spec.with_gamma == gamma):  # the branches with(out) the γ
            c0 = spec.cdf0[k][j] * (1 - frac) + spec.cdf0[k][j + 1] * frac
            c1 = spec.cdf1[k][j] * (1 - frac) + spec.cdf1[k][j + 1] * frac
            cdf = c0 + slope[:, None] * (c1 - spec.t_mean * c0)
            end = 1.0 + slope * (spec.cdf1[k][-1] - spec.t_mean)
            cdf = np.where(below, 0.0, np.where(above, end[:, None], cdf))
            out += spec.prob[k] * cdf
    norm = sum(spec.prob[k] * (1.0 + slope * (spec.cdf1[k][-1] - spec.t_mean)) for k in range(spec.prob.size))
    return out / norm[:, None]


def _b12_fold(spec: B12Spectrum, th, edges=None, edge_index=None):
    """Smeared CDF at the data edges (W, K+1): every cell's mass spread by a Gaussian of Eq. 1's
    width at its centre (``b`` included: the events are spread over the volume)."""
    cum = _b12_cells(spec, th)
    mass = np.diff(cum, axis=1)
    ce = spec.cell_edges
    h = ce[1] - ce[0]
    centre = 0.5 * (ce[1:] + ce[:-1])
    a, b, c = th[:, 0, None], th[:, 1, None], th[:, 2, None]
    var = a * a * centre + (b * centre) ** 2 + c * c - h * h / 12.0  # the cell width's own variance
    sig = np.sqrt(np.maximum(var, 0.0))
    n_cells = centre.size
    band = int(min(n_cells, np.ceil(6.5 * float(np.max(sig)) / h) + 1))  # Φ(-6.5) ~ 4e-11
    idx_e = spec.edge_index if edge_index is None else edge_index
    e_k = spec.edges if edges is None else edges
    pad = np.zeros((th.shape[0], band))
    mass_p = np.concatenate([pad, mass, pad], axis=1)
    sig_p = np.concatenate([pad + 1.0, sig, pad + 1.0], axis=1)
    cen_p = np.concatenate([centre[0] - h * np.arange(band, 0, -1), centre,
                            centre[-1] + h * np.arange(1, band + 1)])
    idx = idx_e[:, None] + np.arange(2 * band)[None, :]  # padded cells around each edge
    z = (e_k[:, None] - cen_p[idx])[None] / np.maximum(sig_p[:, idx], 1e-12)
    below = cum[:, np.clip(idx_e - band, 0, n_cells)]
    return below + np.sum(mass_p[:, idx] * ndtr(np.clip(z, -40.0, 40.0)), axis=2)


def fold_b12(spec: B12Spectrum, theta, *, n_events: float, edges=None) -> np.ndarray:
    """Expected ¹²B events per bin for ``n_events`` decays, (..., K).

    ``theta`` (..., 9) = (a, b, c, s_gamma, t_kb, nl_1, nl_2, b12_scale, b12_slope); ``edges``:
    other bin edges (a subset of the fine grid's cell edges), default the data's. With
    a = b = c = 0 this is the unsmeared spectrum; over bins that hold the whole spectrum it sums
    to ``n_events``.
    """
    validate.instance("spec", spec, B12Spectrum, hint="b12_spectrum(...)")
    th = validate.array("theta", theta, -50.0, 50.0, ndim=(1, 2))
    if th.shape[-1] != 9:
        raise ValueError(f"theta must have shape (..., 9) = {NAMES + B12_NAMES}, got {th.shape}")
    n_events = validate.number("n_events", n_events, 0.0, 1e12)
    if np.any(th[..., :3] < 0):
        raise ValueError(f"theta: a, b, c must be >= 0, got {th[..., :3].tolist()}")
    th2 = np.atleast_2d(th)
    idx = None
    if edges is not None:
        edges = validate.array("edges", edges, ndim=1, size_min=2)
        ce = spec.cell_edges
        idx = np.rint((edges - ce[0]) / (ce[1] - ce[0])).astype(int)
        on_grid = np.allclose(ce[np.clip(idx, 0, ce.size - 1)], edges, atol=1e-9)
        if np.any(idx < 0) or np.any(idx >= ce.size) or not on_grid or np.any(np.diff(idx) <= 0):
            raise ValueError(f"edges must be increasing cell edges of the fine grid ({ce[0]:g} to {ce[-1]:g} "
                             f"MeV in steps of {ce[1] - ce[0]:g}), got {edges[:4]}...")
    f = _b12_fold(spec, th2, edges, idx)
    out = n_events * np.diff(f, axis=1)
    return out[0] if th.ndim == 1 else out


def _b12_log_like(spec: B12Spectrum, th) -> np.ndarray:
    """Poisson likelihood of the bins with the normalisation marginalised (prior 1/N): the
    multinomial ``sum_k n_k ln p_k`` with ``p_k`` the folded shape in the window, minus its value
    for the data's own shape (a constant), so that ``-2 ln L`` is the likelihood-ratio chi2."""
    p = np.diff(_b12_fold(spec, th), axis=1)
    p = np.maximum(p, 1e-300) / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    n = spec.counts
    full = n > 0
    saturated = float(n[full] @ np.log(n[full] / n.sum())) if full.any() else 0.0
    return n @ np.log(p).T - saturated  # minus the saturated model's: -chi2/2 scale (the deviance)


def b12_parameters(*, scale_sigma: float = 0.01, slope_sigma: float = 0.005) -> list[Parameter]:
    """Priors of the ¹²B nuisances (appended to :func:`default_parameters`).

    nl_1, nl_2 : N(0, 1) — the calibration's NL ``(k_B, k_C)`` in the decorrelated coordinates
        of its prior (:attr:`B12Spectrum.nl_mean`, ``nl_chol``).
    b12_scale : N(0, scale_sigma) — energy scale of the volume sample relative to the n-H line
        at the centre (residual non-uniformity, NL-model error at high energy).
    b12_slope : N(0, slope_sigma) per MeV — linear shape factor ``1 + s (T - <T>)`` of the β
        spectrum (weak magnetism and other forbidden corrections the allowed shape lacks).
    """
    check_range("scale_sigma", scale_sigma, 0.0, 0.5, lo_open=True)
    check_range("slope_sigma", slope_sigma, 0.0, 0.5, lo_open=True, unit="1/MeV")
    return [Parameter("nl_1", Normal(0.0, 1.0, lo=-6.0, hi=6.0), label="NL z₁", scale=1),
            Parameter("nl_2", Normal(0.0, 1.0, lo=-6.0, hi=6.0), label="NL z₂", scale=1),
            Parameter("b12_scale", Normal(0.0, scale_sigma, lo=-0.2, hi=0.2), label="¹²B scale [%]",
                      scale=100),
            Parameter("b12_slope", Normal(0.0, slope_sigma, lo=-0.1, hi=0.1), label="¹²B slope [%/MeV]",
                      scale=100)]


def b12_toy(spec: B12Spectrum, theta, *, n_events: float, rng: np.random.Generator) -> B12Spectrum:
    """Pseudo-data: Poisson counts of :func:`fold_b12` at ``theta`` (9,) for ``n_events`` decays."""
    validate.generator("rng", rng)
    mu = fold_b12(spec, validate.array("theta", theta, ndim=1), n_events=n_events)
    return spec.with_counts(rng.poisson(mu).astype(float))
