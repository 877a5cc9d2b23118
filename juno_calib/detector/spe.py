"""Single-photo-electron (SPE) charge spectra of the PMT types and their samplers.

The charge a PMT gives for one photo-electron (PE) fluctuates from PE to PE. The spectrum of one
type is modelled as a mixture (parameters in ``data/pmts.yaml``, sources in ``data/README.md``):

* a main peak, Gaussian of position 1 (the gain that a fit of the SPE peak measures) and relative
  width ``peak_sigma``, truncated at zero (a PE gives a positive charge);
* with probability ``tail_fraction`` a high-charge tail, Gamma-distributed with mean ``tail_mean``
  (in units of the peak position) and shape ``tail_shape``. This is the long tail of the NNVT
  MCP-PMTs: photo-electrons that hit the MCP end face instead of a channel release secondary
  electrons that are amplified in several channels (H. Q. Zhang et al., "Gain and charge response
  of 20 inch MCP and dynode PMTs", arXiv:2103.14822). The dynode PMTs and the 3-inch PMTs are
  given no tail.

Charges are reported in units of the **mean** SPE charge of the type (the mean includes the tail),
so that the sum of the charges of N PE has mean N: the energy scale is unchanged and only the
variance grows. For Poisson-distributed N with mean ``mu`` the relative variance of the summed
charge is ``ENF / mu`` with the excess-noise factor ``ENF = 1 + (sigma_q / <q>)^2``
(compound-Poisson variance; e.g. Knoll, *Radiation Detection and Measurement*, ch. 9).

Two samplers, both vectorised:

* :func:`sample_charges`: one charge per PE (per-PMT path; cost proportional to the PE);
* :func:`sum_charges`: the summed charge of ``n`` PE per event (total-PE path; cost proportional to
  the events): the number of tail PE is binomial, their summed charge Gamma (exact), the summed
  charge of the peak PE normal with the truncated peak's mean and variance (exact in mean and
  variance; the truncation at zero removes < 0.3% of the peak for ``peak_sigma`` <= 0.35).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr

from ..core import validate
from ..core.params import check_range


@dataclasses.dataclass(frozen=True, kw_only=True)
class SPESpectrum:
    """The SPE charge spectrum of one PMT type (charge in units of the main-peak position).

    A Gaussian peak of relative width 0.3, truncated at zero (which narrows it slightly):

    >>> s = SPESpectrum(peak_sigma=0.3)
    >>> round(s.relative_sigma, 3), round(s.enf, 3)
    (0.299, 1.089)
    """

    peak_sigma: float
    tail_fraction: float = 0.0
    tail_mean: float = 1.0
    tail_shape: float = 1.0
    name: str = ""

    def __post_init__(self):
        check_range("peak_sigma", self.peak_sigma, 0.0, 1.0)
        check_range("tail_fraction", self.tail_fraction, 0.0, 1.0, hi_open=True)
        check_range("tail_mean", self.tail_mean, 0.0, 100.0, lo_open=True)
        check_range("tail_shape", self.tail_shape, 0.0, 1e3, lo_open=True)

    # ---- moments, in units of the peak position --------------------------------------------
    @property
    def _peak_moments(self) -> tuple[float, float]:
        """Mean and variance of the main peak truncated at zero."""
        s = self.peak_sigma
        if s == 0.0:
            return 1.0, 0.0
        a = -1.0 / s  # the truncation point in units of sigma
        phi = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
        z = 1.0 - float(ndtr(a))
        lam = phi / z
        mean = 1.0 + s * lam
        var = s * s * (1.0 + a * lam - lam * lam)
        return float(mean), float(var)

    @property
    def mean(self) -> float:
        """Mean SPE charge in units of the peak position (> 1 with a high-charge tail)."""
        m_p, _ = self._peak_moments
        f = self.tail_fraction
        return (1 - f) * m_p + f * self.tail_mean

    @property
    def variance(self) -> float:
        """Variance of the SPE charge, in units of the peak position squared."""
        m_p, v_p = self._peak_moments
        f, m_t = self.tail_fraction, self.tail_mean
        v_t = m_t * m_t / self.tail_shape
        second = (1 - f) * (v_p + m_p * m_p) + f * (v_t + m_t * m_t)
        return second - self.mean**2

    @property
    def relative_sigma(self) -> float:
        """sigma_q / <q>: the relative width of the whole spectrum (tail included)."""
        return float(np.sqrt(self.variance) / self.mean)

    @property
    def enf(self) -> float:
        """Excess-noise factor ``1 + (sigma_q/<q>)^2``: the charge variance of N PE is ENF * N."""
        return 1.0 + self.relative_sigma**2

    @property
    def tail_charge_share(self) -> float:
        """Share of the mean charge carried by tail PE."""
        return self.tail_fraction * self.tail_mean / self.mean

    # ---- density ---------------------------------------------------------------------------
    def pdf(self, q) -> np.ndarray:
        """Density of the charge ``q`` in units of the mean SPE charge (per unit of q)."""
        from scipy.stats import gamma

        q = validate.array("q", q, 0.0, 1e3)
        x = q * self.mean  # charge in units of the peak position
        s = self.peak_sigma
        if s > 0:
            z = 1.0 - float(ndtr(-1.0 / s))
            peak = np.exp(-0.5 * ((x - 1.0) / s) ** 2) / (s * np.sqrt(2 * np.pi) * z)
        else:
            peak = np.zeros_like(x)
        tail = gamma.pdf(x, self.tail_shape, scale=self.tail_mean / self.tail_shape) \
            if self.tail_fraction > 0 else 0.0
        return self.mean * ((1 - self.tail_fraction) * peak + self.tail_fraction * tail)


def _parameters(spectra: Sequence[SPESpectrum]) -> dict:
    if isinstance(spectra, SPESpectrum) or not all(isinstance(s, SPESpectrum) for s in spectra) \
            or len(spectra) == 0:
        raise TypeError("spectra must be a non-empty sequence of SPESpectrum (one per PMT type)")
    out = {k: np.array([getattr(s, k) for s in spectra]) for k in
           ("peak_sigma", "tail_fraction", "tail_mean", "tail_shape")}
    out["mean"] = np.array([s.mean for s in spectra])
    out["peak_moments"] = np.array([s._peak_moments for s in spectra])
    return out


def _check_kinds(name, kinds, n_types):
    k = np.asarray(kinds)
    if k.ndim != 1 or (k.size and k.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be a 1-d array of PMT type indices (integers), got dtype "
                        f"{k.dtype}, shape {k.shape}")
    if k.size and (k.min() < 0 or k.max() >= n_types):
        raise ValueError(f"{name} must be type indices in [0, {n_types - 1}] (one per spectrum), got "
                         f"[{k.min()}, {k.max()}]")
    return k.astype(np.int64, copy=False)


def sample_charges(kinds, spectra: Sequence[SPESpectrum], *, rng: np.random.Generator) -> np.ndarray:
    """Charge (float32, in units of the type's mean SPE charge) of PE whose PMT types are ``kinds``.

    ``kinds`` (H,) int indexes ``spectra``. Mixture sampling: a uniform chooses peak or tail; the
    peak is Normal(1, peak_sigma) redrawn while <= 0, the tail Gamma(tail_shape, tail_mean /
    tail_shape). Cost and memory proportional to H.
    """
    p = _parameters(spectra)
    k = _check_kinds("kinds", kinds, len(spectra))
    validate.generator("rng", rng)
    return _sample_charges(k, p, rng)


def _sample_charges(k, p, rng) -> np.ndarray:
    q = np.empty(k.size)
    tail = rng.random(k.size) < p["tail_fraction"][k]
    peak_idx = np.flatnonzero(~tail)
    sig = p["peak_sigma"][k[peak_idx]]
    x = 1.0 + sig * rng.standard_normal(peak_idx.size)
    bad = np.flatnonzero(x <= 0.0)
    while bad.size:
        x[bad] = 1.0 + sig[bad] * rng.standard_normal(bad.size)
        bad = bad[x[bad] <= 0.0]
    q[peak_idx] = x
    tail_idx = np.flatnonzero(tail)
    if tail_idx.size:
        kt = k[tail_idx]
        q[tail_idx] = rng.gamma(p["tail_shape"][kt], p["tail_mean"][kt] / p["tail_shape"][kt])
    return (q / p["mean"][k]).astype(np.float32)


def sum_charges(n_pe, kind: int, spectra: Sequence[SPESpectrum], *, rng: np.random.Generator) -> np.ndarray:
    """Summed charge (units of the mean SPE charge) of ``n_pe`` (E,) PE of one type per event.

    Exact in mean (``n``) and variance (``ENF * n``) for every ``n``; the tail part is exact in
    distribution (a sum of Gamma variates is Gamma), the peak part normal (module docstring).
    Cost proportional to the number of events, not of PE.
    """
    p = _parameters(spectra)
    kind = validate.integer("kind", kind, 0, len(spectra) - 1)
    n = np.asarray(n_pe)
    if n.ndim != 1:
        raise ValueError(f"n_pe must be a 1-d array of PE counts (one per event), got shape {n.shape}")
    if n.size and (n.dtype.kind not in "iu" or n.min() < 0):
        raise ValueError(f"n_pe must be non-negative integer PE counts, got dtype {n.dtype}"
                         + (f", min {n.min()}" if n.dtype.kind in "iuf" else ""))
    validate.generator("rng", rng)
    return _sum_charges(n.astype(np.int64), kind, p, rng)


def _sum_charges(n, kind, p, rng) -> np.ndarray:
    f = p["tail_fraction"][kind]
    n_tail = rng.binomial(n, f) if f > 0 else np.zeros_like(n)
    n_peak = n - n_tail
    m_p, v_p = p["peak_moments"][kind]
    q = n_peak * m_p + np.sqrt(n_peak * v_p) * rng.standard_normal(n.shape)
    if f > 0:
        shape, mean_t = p["tail_shape"][kind], p["tail_mean"][kind]
        has = n_tail > 0
        q[has] += rng.gamma(n_tail[has] * shape, mean_t / shape)
    return q / p["mean"][kind]
