"""The fitting core: priors, a vectorised log-posterior, a reproducible emcee run with its
diagnostics, summaries, corner plots and a frequentist cross-check on the same likelihood.

Usage (every calibration chapter follows the same four steps)::

    params = [Parameter("a", Uniform(0, 1), label="a"),
              Parameter("kB", Normal(15e-3, 5e-3), label="k_B")]

    def log_like(theta):            # theta: (n_walkers, n_params) -> (n_walkers,)
        ...

    best = fit_max_posterior(log_like, params, x0=[0.5, 15e-3])   # iminuit (MIGRAD + HESSE)
    res = sample_posterior(log_like, params, rng=rng, n_walkers=32, n_steps=3000, x0=best.values)
    res.summary("kB")              # median, 68% and 95% central intervals
    corner_plot(res, fig=fig)

Conventions
-----------
* The log-likelihood is **vectorised**: it takes a ``(n_walkers, n_params)`` array and returns
  ``(n_walkers,)`` (emcee's ``vectorize=True``). Return ``-inf`` where a parameter set is not
  allowed; the priors already return ``-inf`` outside their support.
* **Reproducibility**: one :class:`numpy.random.Generator` draws the starting walkers and seeds
  emcee's legacy ``RandomState`` through ``emcee.State(random_state=...)``; the global
  ``np.random`` state is never touched, so the same seed gives the same chain.
* **Diagnostics** (Goodman & Weare 2010; Foreman-Mackey et al. 2013, emcee docs "Autocorrelation
  analysis"): the integrated autocorrelation time ``tau`` of every parameter (emcee's
  estimator, ``tol=0``), burn-in ``= ceil(2 max tau)``, thinning ``= max(1, floor(min tau / 2))``,
  effective sample size ``n_walkers (n_steps - burn) / tau``, mean acceptance fraction. A chain
  shorter than :data:`MIN_TAU_MULTIPLE` autocorrelation times is *flagged*
  (``result.converged`` is False): its tau estimate, and therefore everything derived from
  it, is unreliable.
* **Frequentist cross-check**: :func:`fit_max_posterior` minimises ``-2 ln L`` with the Normal
  priors as Gaussian constraint terms (nuisance parameters) and the Uniform priors as limits,
  with iminuit; its HESSE errors sit beside the posterior widths.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from ..core.params import check_range
from ..core.rng import legacy_random_state

#: a chain is trusted when it is at least this many autocorrelation times long (emcee docs)
MIN_TAU_MULTIPLE = 50.0
#: probability content of the two central intervals reported by :meth:`MCMCResult.summary`
CL68, CL95 = 0.682689492, 0.954499736


# ---------------------------------------------------------------------------------- priors
@dataclasses.dataclass(frozen=True)
class Uniform:
    """Flat prior on ``[lo, hi]``."""

    lo: float
    hi: float

    def __post_init__(self):
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"Uniform prior needs finite lo < hi, got lo={self.lo}, hi={self.hi}")

    def logpdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        inside = (x >= self.lo) & (x <= self.hi)
        return np.where(inside, -math.log(self.hi - self.lo), -np.inf)

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.lo, self.hi, n)

    @property
    def limits(self) -> tuple[float, float]:
        return (self.lo, self.hi)


@dataclasses.dataclass(frozen=True)
class Normal:
    """Gaussian prior (a constraint term for a nuisance parameter), optionally truncated."""

    mu: float
    sigma: float
    lo: float = -math.inf
    hi: float = math.inf

    def __post_init__(self):
        check_range("Normal prior sigma", self.sigma, 0, lo_open=True)
        if not self.lo < self.hi:
            raise ValueError(f"Normal prior needs lo < hi, got lo={self.lo}, hi={self.hi}")

    def logpdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        z = (x - self.mu) / self.sigma
        val = -0.5 * z**2 - math.log(self.sigma * math.sqrt(2 * math.pi))
        return np.where((x >= self.lo) & (x <= self.hi), val, -np.inf)

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        return np.clip(rng.normal(self.mu, self.sigma, n), self.lo, self.hi)

    @property
    def limits(self) -> tuple[float | None, float | None]:
        return (None if math.isinf(self.lo) else self.lo, None if math.isinf(self.hi) else self.hi)


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A fit parameter: ``name``, its prior, a plot ``label`` and a ``scale`` for display."""

    name: str
    prior: Uniform | Normal
    label: str = ""
    scale: float = 1.0

    @property
    def display(self) -> str:
        return self.label or self.name


def log_prior(theta, params: Sequence[Parameter]) -> np.ndarray:
    """Sum of the log-priors, ``theta`` (..., n_params) -> (...)."""
    theta = np.asarray(theta, dtype=float)
    return sum(p.prior.logpdf(theta[..., i]) for i, p in enumerate(params))


def make_log_posterior(log_likelihood: Callable, params: Sequence[Parameter]) -> Callable:
    """Vectorised ``ln p(theta | data) = ln L + ln prior``; the likelihood is evaluated only
    where the prior is finite."""

    def log_post(theta):
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lp = log_prior(theta, params)
        ok = np.isfinite(lp)
        out = np.full(theta.shape[0], -np.inf)
        if ok.any():
            ll = np.asarray(log_likelihood(theta[ok]), dtype=float)
            out[ok] = np.where(np.isfinite(ll), lp[ok] + ll, -np.inf)
        return out

    return log_post


# ----------------------------------------------------------------------------------- result
@dataclasses.dataclass(frozen=True)
class MCMCResult:
    """An emcee run with its diagnostics.

    Attributes
    ----------
    names : tuple of str
    params : tuple of Parameter
    chain : (n_steps, n_walkers, n_params) float, every step
    log_prob : (n_steps, n_walkers) float
    tau : (n_params,) integrated autocorrelation times, steps
    burn, thin : int, from tau (module docstring)
    acceptance : (n_walkers,) acceptance fractions
    """

    names: tuple
    params: tuple
    chain: np.ndarray
    log_prob: np.ndarray
    tau: np.ndarray
    burn: int
    thin: int
    acceptance: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.chain.shape[0])

    @property
    def n_walkers(self) -> int:
        return int(self.chain.shape[1])

    @property
    def samples(self) -> np.ndarray:
        """Flat posterior samples after burn-in and thinning, (n_samples, n_params)."""
        return self.chain[self.burn::self.thin].reshape(-1, self.chain.shape[2])

    @property
    def tau_max(self) -> float:
        return float(np.max(self.tau))

    @property
    def n_eff(self) -> np.ndarray:
        """Effective number of independent samples per parameter."""
        return self.n_walkers * max(self.n_steps - self.burn, 0) / self.tau

    @property
    def converged(self) -> bool:
        """True when the chain is longer than ``MIN_TAU_MULTIPLE * max(tau)``."""
        return bool(self.n_steps >= MIN_TAU_MULTIPLE * self.tau_max)

    @property
    def acceptance_mean(self) -> float:
        return float(np.mean(self.acceptance))

    def index(self, name: str) -> int:
        if name not in self.names:
            raise ValueError(f"parameter {name!r} is not in the fit; choose one of {self.names}")
        return self.names.index(name)

    def summary(self, name: str) -> dict:
        """Median and central 68% / 95% intervals of one parameter, plus its tau and n_eff."""
        i = self.index(name)
        x = self.samples[:, i]
        q = np.quantile(x, [0.5, (1 - CL68) / 2, (1 + CL68) / 2, (1 - CL95) / 2, (1 + CL95) / 2])
        return {"median": float(q[0]), "lo68": float(q[1]), "hi68": float(q[2]),
                "lo95": float(q[3]), "hi95": float(q[4]), "mean": float(x.mean()),
                "std": float(x.std(ddof=1)), "tau": float(self.tau[i]),
                "n_eff": float(self.n_eff[i])}

    def table_rows(self, fmt: str = "{:.4g}") -> list[tuple]:
        """(name, median, 68% interval, 95% interval, tau, n_eff) per parameter, display scale."""
        rows = []
        for p in self.params:
            s, k = self.summary(p.name), p.scale
            rows.append((p.display, fmt.format(s["median"] * k),
                         f"[{fmt.format(s['lo68'] * k)}, {fmt.format(s['hi68'] * k)}]",
                         f"[{fmt.format(s['lo95'] * k)}, {fmt.format(s['hi95'] * k)}]",
                         f"{s['tau']:.0f}", f"{s['n_eff']:.0f}"))
        return rows


def sample_posterior(log_likelihood: Callable, params: Sequence[Parameter], *,
                     rng: np.random.Generator, n_walkers: int = 32, n_steps: int = 2000,
                     x0=None, init_scale=None, moves=None, progress: bool = False) -> MCMCResult:
    """Run emcee's affine-invariant ensemble sampler on ``ln L + ln prior``.

    Parameters
    ----------
    log_likelihood : callable
        Vectorised, ``(n, n_params) -> (n,)``.
    params : sequence of Parameter
    rng : numpy.random.Generator
        Draws the starting walkers and seeds emcee; the only source of randomness.
    n_walkers : int
        At least ``2 n_params`` (emcee requirement).
    n_steps : int
        Steps per walker.
    x0 : (n_params,) array_like, optional
        Centre of the starting ball (e.g. the :func:`fit_max_posterior` values); default: the
        walkers start from the priors.
    init_scale : (n_params,) array_like, optional
        Width of the starting ball around ``x0`` (e.g. the HESSE errors); default 1e-3 |x0|.
    moves : emcee moves, optional
        Passed to :class:`emcee.EnsembleSampler`; default emcee's stretch move;
        :func:`de_moves` mixes faster along narrow correlated ridges.

    Returns
    -------
    MCMCResult
    """
    import emcee

    params = tuple(params)
    ndim = len(params)
    check_range("n_walkers", n_walkers, 2 * ndim, 100_000)
    check_range("n_steps", n_steps, 10, 10**7)
    n_walkers, n_steps = int(n_walkers), int(n_steps)
    log_post = make_log_posterior(log_likelihood, params)
    p0 = _start(log_post, params, n_walkers, x0, init_scale, rng=rng)
    state = emcee.State(p0, random_state=legacy_random_state(rng).get_state())
    sampler = emcee.EnsembleSampler(n_walkers, ndim, log_post, vectorize=True, moves=moves)
    sampler.run_mcmc(state, n_steps, progress=progress)
    chain = sampler.get_chain()
    tau = np.asarray(sampler.get_autocorr_time(tol=0), dtype=float)
    tau = np.where(np.isfinite(tau) & (tau > 0), tau, float(n_steps))
    burn = min(int(math.ceil(2 * tau.max())), n_steps - 1)
    thin = max(1, int(tau.min() // 2))
    return MCMCResult(names=tuple(p.name for p in params), params=params, chain=chain,
                      log_prob=sampler.get_log_prob(), tau=tau, burn=burn, thin=thin,
                      acceptance=np.asarray(sampler.acceptance_fraction))


def de_moves() -> list:
    """emcee's differential-evolution mixture: 80% DE (ter Braak 2006), 20% DE snooker
    (ter Braak & Vrugt 2008). On the narrow, slightly curved ridges of calibration fits (a scale
    against quenching against Cherenkov light) it halves the autocorrelation time of the
    default stretch move."""
    import emcee

    return [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]


def _start(log_post, params, n_walkers, x0, init_scale, *, rng):
    """Starting walkers with a finite posterior: a Gaussian ball around x0, or prior draws."""
    ndim = len(params)
    if x0 is None:
        p0 = np.column_stack([p.prior.sample(n_walkers, rng=rng) for p in params])
    else:
        x0 = np.asarray(x0, dtype=float).reshape(ndim)
        scale = (1e-3 * np.maximum(np.abs(x0), 1e-12) if init_scale is None
                 else np.asarray(init_scale, dtype=float).reshape(ndim))
        p0 = x0 + scale * rng.standard_normal((n_walkers, ndim))
    for _ in range(100):  # redraw the few walkers that start outside the support
        bad = ~np.isfinite(log_post(p0))
        if not bad.any():
            return p0
        if x0 is None:
            p0[bad] = np.column_stack([p.prior.sample(int(bad.sum()), rng=rng) for p in params])
        else:
            p0[bad] = x0 + 0.5 * (p0[bad] - x0)
    raise ValueError("could not place the starting walkers where the posterior is finite; "
                     "check x0 against the priors")


# ------------------------------------------------------------------ frequentist cross-check
@dataclasses.dataclass(frozen=True)
class MaxPosterior:
    """iminuit result: best values, HESSE errors and covariance, ``-2 ln L`` at the minimum."""

    names: tuple
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    chi2: float
    valid: bool

    def value(self, name: str) -> float:
        return float(self.values[self.names.index(name)])

    def error(self, name: str) -> float:
        return float(self.errors[self.names.index(name)])


def fit_max_posterior(log_likelihood: Callable, params: Sequence[Parameter], x0) -> MaxPosterior:
    """Minimise ``-2 [ln L + sum of the Normal-prior terms]`` with iminuit (MIGRAD + HESSE).

    Normal priors enter as Gaussian constraints, Uniform priors as parameter limits, so for
    a Gaussian likelihood the result is the maximum a posteriori point with the Hessian
    errors: the frequentist profile-likelihood fit on the same likelihood.
    """
    from iminuit import Minuit

    params = tuple(params)
    names = tuple(p.name for p in params)

    def cost(*theta):
        t = np.asarray(theta, dtype=float)[None, :]
        ll = float(np.asarray(log_likelihood(t)).ravel()[0])
        con = sum(float(p.prior.logpdf(t[0, i])) for i, p in enumerate(params)
                  if isinstance(p.prior, Normal))
        val = -2.0 * (ll + con)
        return val if math.isfinite(val) else 1e300

    m = Minuit(cost, *np.asarray(x0, dtype=float), name=names)
    m.errordef = Minuit.LEAST_SQUARES
    for p in params:
        m.limits[p.name] = p.prior.limits
        m.errors[p.name] = (p.prior.sigma if isinstance(p.prior, Normal)
                            else 0.01 * (p.prior.hi - p.prior.lo))
    m.migrad()
    m.hesse()
    return MaxPosterior(names=names, values=np.array(m.values), errors=np.array(m.errors),
                        covariance=np.array(m.covariance), chi2=float(m.fval),
                        valid=bool(m.valid))


# -------------------------------------------------------------------------------- plotting
def corner_plot(result: MCMCResult, names: Sequence[str] | None = None, *, fig=None,
                truths=None, derived: dict | None = None, **kwargs):
    """Corner plot of (a subset of) the posterior with the ``corner`` package.

    Values are shown in each parameter's display ``scale``; ``truths`` in the same scale.
    ``derived`` adds columns {label: (n_samples,) array} computed sample by sample from
    ``result.samples`` (e.g. the effective resolution of chapter 7).
    """
    import corner

    names = list(names) if names is not None else list(result.names)
    idx = [result.index(n) for n in names]
    scale = np.array([result.params[i].scale for i in idx])
    labels = [result.params[i].display for i in idx]
    columns = result.samples[:, idx] * scale
    for label, values in (derived or {}).items():
        values = np.asarray(values, dtype=float)
        if values.shape != (columns.shape[0],):
            raise ValueError(f"derived column {label!r} must have shape ({columns.shape[0]},) like the "
                             f"samples, got {values.shape}")
        columns = np.column_stack([columns, values])
        labels.append(label)
    kwargs.setdefault("quantiles", [(1 - CL68) / 2, 0.5, (1 + CL68) / 2])
    kwargs.setdefault("show_titles", True)
    kwargs.setdefault("title_fmt", ".3g")
    return corner.corner(columns, labels=labels, fig=fig, truths=truths, **kwargs)
