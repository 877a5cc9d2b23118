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

import numpy as np

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


def make_log_likelihood(data: ResolutionData):
    """Vectorised Gaussian log-likelihood of the measured widths, ``(n, 4) -> (n,)``."""
    validate.instance("data", data, ResolutionData, hint="ResolutionData(...)")

    def log_like(theta):
        r = (_model_sigma_rel(np.asarray(theta, dtype=float), data) - data.sigma_rel) / data.sigma_rel_err
        return -0.5 * np.sum(r * r, axis=-1)
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
        n_steps: int = 3000) -> ResolutionFit:
    """Maximum a posteriori fit (iminuit), then emcee started around it."""
    validate.instance("data", data, ResolutionData, hint="ResolutionData(...)")
    validate.instance("params", params, (list, tuple), hint="default_parameters(a_expected)")
    if len(params) != 5 or not all(isinstance(p, Parameter) for p in params):
        raise TypeError("params must be the 5 Parameters (a, b, c, s_gamma, t_kb) of default_parameters()")
    validate.generator("rng", rng)
    n_walkers = validate.integer("n_walkers", n_walkers, 12, 10**4)
    n_steps = validate.integer("n_steps", n_steps, 1, 10**7)
    log_like = make_log_likelihood(data)
    x0 = [params[0].prior.mu, 0.005, 0.01, 1.0, params[4].prior.mu]  # priors' centres; b, c small
    best = fit_max_posterior(log_like, params, x0=x0)
    start = np.clip(best.values, [1e-4, 1e-4, 1e-4, 1e-3, -0.99], [1.0, 1.0, 1.0, 10.0, 1.99])
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
#: AmC's prompt 6.13 MeV line is left out; its 6.05 MeV E0 branch is now an e+e- pair whose light
#: stays below 4 MeV (juno_calib.particles.events.emit_pairs), so the line could be added.
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
           "gamma_line_width", "CENTRE_LINES", "centre_events", "centre_peaks", "pull", "coverage"]
