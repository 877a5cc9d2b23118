"""Instrumental non-linearity of the LPMT charge and its calibration by dual calorimetry.

True detector
-------------
Each LPMT channel ``k`` turns its true charge ``q`` (sum of single-PE charges, in mean-gain
units) into the reconstructed charge

.. math::  Q_k(q) = q\\,\\Big(1 - a_k\\,\\frac{q}{q + s_k}\\Big) \\Big/ \\Big(1 - \\frac{a_k}{1 + s_k}\\Big),

in units of the calibrated single-PE charge (``Q(1) = 1``): a relative loss that grows from
nil at one PE towards ``a_k`` at many PE. It stands for what the
electronics and the charge reconstruction do to pulses that overlap in time: baseline
undershoot and overshoot after large pulses, PE that merge in the waveform integration and the
gain compression of the front end. ``a_k`` (Gaussian spread) and ``s_k`` (log-normal spread)
vary from channel to channel (``data/dual_calorimetry.yaml``; assumptions).
SPMTs count photons: a channel with one or more PE in the window records one hit, so two PE in
one SPMT count once (their counting non-linearity at high occupancy).

Laser scan (calibration)
------------------------
A diffuser ball at the centre flashes at intensities ``I`` (mean PE per LPMT) from the single-PE
regime to far beyond the IBD range. PE per PMT follow a Poisson law about the per-PMT
expectation at the fixed vertex (:meth:`DetectorResponse.expected_pe`); per intensity step the
hits of each SPMT over all flashes are one binomial draw and the flash-averaged LPMT charge one
Gaussian draw from its exact compound-Poisson moments, so the cost depends neither on the
intensity nor on the number of flashes (the per-PE path of the response costs one placement per
PE, ~10⁶ PE per flash at the top of the scan). The SPMT total is estimated from
the hit fraction ``f`` with the Poisson occupancy correction ``-N ln(1 - f)``; the ratio of the
LPMT charge to it measures the channel response averaged over the Poisson number of PE per
flash. The calibration fits a single-channel response ``g(q) = q [1 + sum_m p_m (u^m - ln 2^m)]``,
``u = ln(1 + q)``, ``g(1) = 1`` (not the truth's form), folded with Poisson statistics at each
intensity (:func:`fit_lpmt_nl`), and corrects each channel's charge of an event by inverting
``g``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core.params import ParamSet, check_range


@dataclasses.dataclass(frozen=True, kw_only=True)
class DualCalorimetryConfig(ParamSet):
    """Channel non-linearity and laser-scan settings (``data/dual_calorimetry.yaml``)."""

    _section = "dual_calorimetry"
    lpmt_nl_amplitude: float
    lpmt_nl_amplitude_spread: float
    lpmt_nl_scale: float
    lpmt_nl_scale_spread: float
    laser_pe_min: float
    laser_pe_max: float
    laser_steps: int
    ibd_e_min: float
    ibd_e_max: float

    def __post_init__(self):
        check_range("lpmt_nl_amplitude", self.lpmt_nl_amplitude, 0.0, 0.5)
        check_range("lpmt_nl_amplitude_spread", self.lpmt_nl_amplitude_spread, 0.0, 0.5)
        check_range("lpmt_nl_scale", self.lpmt_nl_scale, 0.0, 1e5, lo_open=True)
        check_range("lpmt_nl_scale_spread", self.lpmt_nl_scale_spread, 0.0, 3.0)
        check_range("laser_pe_min", self.laser_pe_min, 0.0, self.laser_pe_max, lo_open=True,
                    hi_open=True)
        check_range("laser_steps", self.laser_steps, 3, 1000)


@dataclasses.dataclass(frozen=True)
class ChannelNL:
    """True per-channel LPMT charge non-linearity: amplitude ``a`` (N,), scale ``s`` (N,) PE."""

    a: np.ndarray
    s: np.ndarray

    @classmethod
    def draw(cls, n_channels: int, config: DualCalorimetryConfig, *,
             rng: np.random.Generator) -> ChannelNL:
        a = np.clip(rng.normal(config.lpmt_nl_amplitude, config.lpmt_nl_amplitude_spread,
                               n_channels), 0.0, 0.5)
        s = config.lpmt_nl_scale * rng.lognormal(0.0, config.lpmt_nl_scale_spread, n_channels)
        return cls(a=a, s=s)

    @property
    def norm(self) -> np.ndarray:
        """``1 - a / (1 + s)``: the gain calibration defines one PE as the charge of one PE."""
        return 1.0 - self.a / (1.0 + self.s)

    def __call__(self, q) -> np.ndarray:
        """Reconstructed charge of true charges ``q`` (..., N), in units of the calibrated
        single-PE charge (``Q(1) = 1``)."""
        q = np.asarray(q, dtype=float)
        return q * (1.0 - self.a * q / (q + self.s)) / self.norm


def lpmt_charge(n_pe, spe_sigma, *, rng: np.random.Generator) -> np.ndarray:
    """True charge of ``n_pe`` PE per channel: Gaussian with the mean and variance of a sum of
    ``n`` single-PE charges (mean 1, relative width ``spe_sigma``); 0 for no PE."""
    n = np.asarray(n_pe, dtype=float)
    return n + np.sqrt(n) * spe_sigma * rng.standard_normal(n.shape)


@dataclasses.dataclass(frozen=True)
class LaserScan:
    """Laser-scan measurement: per intensity step (J,) the flash-averaged LPMT charge and SPMT
    estimate (per flash), with the true intensity kept aside for plots."""

    intensity: np.ndarray       # (J,) true mean PE per LPMT (truth, for plots)
    lpmt_charge: np.ndarray     # (J,) mean measured LPMT charge per flash, dark-subtracted
    lpmt_charge_err: np.ndarray
    spmt_pe: np.ndarray         # (J,) mean SPMT PE estimate per flash (occupancy-corrected)
    spmt_pe_err: np.ndarray
    occupancy: np.ndarray       # (J,) SPMT hit fraction
    n_lpmt: int


def charge_moments(lam, nl: ChannelNL, spe_sigma) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (N,) of one channel's measured charge per flash for Poisson(``lam``) PE.

    Sum over the Poisson number of PE ``n``; for each ``n`` the true charge is Gaussian
    (mean n, variance sigma² n) and ``Q`` is expanded to second order about ``n``
    (``Q'' = -2 a s² / (q + s)³``), which is exact to < 1e-6 for these widths.
    """
    from scipy.stats import poisson

    lam = np.asarray(lam, dtype=float)
    lo = max(0, int(np.floor(lam.min() - 9 * np.sqrt(lam.max()) - 5)))
    hi = int(np.ceil(lam.max() + 9 * np.sqrt(lam.max()) + 10))
    n = np.arange(lo, hi + 1, dtype=float)[:, None]
    p = poisson.pmf(n, lam[None, :])
    var_q = spe_sigma[None, :] ** 2 * n
    mean_q = nl(n) - nl.a * nl.s**2 * var_q / (n + nl.s) ** 3 / nl.norm
    slope = (1.0 - nl.a * n * (n + 2 * nl.s) / (n + nl.s) ** 2) / nl.norm
    m = np.sum(p * mean_q, axis=0)
    v = np.sum(p * (slope**2 * var_q + mean_q**2), axis=0) - m**2
    return m, np.maximum(v, 0.0)


def laser_scan(mu_lpmt, mu_spmt, dark_lpmt, dark_spmt, spe_sigma, nl: ChannelNL,
               config: DualCalorimetryConfig, *, n_flashes: int,
               rng: np.random.Generator) -> LaserScan:
    """Simulate the laser scan at the centre, ``n_flashes`` flashes per intensity step.

    ``mu_lpmt`` (N_L,) and ``mu_spmt`` (N_S,): expected PE per unit intensity (normalised so
    that ``mu_lpmt.mean() == 1``); ``dark_*`` (N,) dark PE per window; ``spe_sigma`` (N_L,).
    SPMT: the hits of each SPMT over the flashes are a binomial draw (exact). LPMT: the
    flash-averaged total charge is drawn from a Gaussian with its exact mean and variance
    (:func:`charge_moments`; central limit theorem over ``n_flashes`` ~ 1e5 flashes), so the
    cost does not grow with the number of flashes.
    """
    check_range("n_flashes", n_flashes, 100, 10**9)
    intensity = np.geomspace(config.laser_pe_min, config.laser_pe_max, int(config.laser_steps))
    f = int(n_flashes)
    out = {k: [] for k in ("q", "q_err", "s", "s_err", "occ")}
    for level in intensity:  # a loop over the intensity steps; PMTs are vectorised
        m, v = charge_moments(level * mu_lpmt + dark_lpmt, nl, spe_sigma)
        q_err = float(np.sqrt(v.sum() / f))
        out["q"].append(float(m.sum() - dark_lpmt.sum() + q_err * rng.standard_normal()))
        out["q_err"].append(q_err)
        p_hit = -np.expm1(-(level * mu_spmt + dark_spmt))
        frac = np.minimum(rng.binomial(f, p_hit) / f, 1.0 - 0.5 / f)
        out["s"].append(float(-np.log1p(-frac).sum() - dark_spmt.sum()))
        out["s_err"].append(float(np.sqrt(np.sum(frac / ((1.0 - frac) * f)))))
        out["occ"].append(float(frac.mean()))
    return LaserScan(intensity=intensity, lpmt_charge=np.array(out["q"]),
                     lpmt_charge_err=np.array(out["q_err"]), spmt_pe=np.array(out["s"]),
                     spmt_pe_err=np.array(out["s_err"]), occupancy=np.array(out["occ"]),
                     n_lpmt=int(mu_lpmt.size))


def _basis(q, degree: int) -> np.ndarray:
    """``u^m - ln(2)^m`` with ``u = ln(1 + q)``, m = 1..degree: zero at one PE. Shape (..., degree)."""
    u = np.log1p(np.asarray(q, dtype=float))[..., None]
    m = np.arange(1, degree + 1)
    return u**m - np.log(2.0) ** m


@dataclasses.dataclass(frozen=True)
class NLCorrection:
    """The calibration's single-channel LPMT response ``g(q) = q [1 + sum_m p_m (u^m - ln2^m)]``,
    ``u = ln(1 + q)``: ``g(1) = 1`` (the gain calibration), no other form assumed."""

    coeffs: np.ndarray      # (M,) p_m
    cov: np.ndarray         # (M, M)
    scale: float            # LPMT PE per SPMT PE (the single-PE limit of the ratio)
    x: np.ndarray           # (J,) true PE per LPMT of the scan points, from the SPMTs
    y: np.ndarray           # (J,) measured ratio / scale
    y_err: np.ndarray
    y_model: np.ndarray     # (J,) fitted <g(n)> / x at the scan points
    chi2: float

    def response(self, q) -> np.ndarray:
        """``g(q)``: measured charge of a channel with true charge ``q`` (PE)."""
        q = np.asarray(q, dtype=float)
        return q * (1.0 + _basis(np.clip(q, 0.0, None), self.coeffs.size) @ self.coeffs)

    def ratio(self, q) -> np.ndarray:
        """``g(q) / q`` of one channel."""
        return 1.0 + _basis(np.clip(np.asarray(q, dtype=float), 0.0, None), self.coeffs.size) @ self.coeffs

    def invert(self, charge, x_max: float) -> np.ndarray:
        """True charge of a measured ``charge`` (per channel), by interpolation of ``g``."""
        grid = np.concatenate([[0.0], np.geomspace(1e-3, 2 * x_max, 2000)])
        charge = np.asarray(charge, dtype=float)
        # g(q) = q below one PE; a (rare) negative charge of a single PE is left as it is
        return np.where(charge > 0, np.interp(charge, self.response(grid), grid), charge)


def poisson_moments(x, degree: int) -> np.ndarray:
    """``E[n (u(n)^m - ln2^m)] / x`` for ``n ~ Poisson(x)``, shape (J, degree): the laser scan
    averages a channel's response over the Poisson number of PE of each flash."""
    from scipy.stats import poisson

    x = np.asarray(x, dtype=float)
    n = np.arange(0, int(np.ceil(x.max() + 10 * np.sqrt(x.max()) + 20)) + 1, dtype=float)
    p = poisson.pmf(n[None, :], x[:, None])
    return np.einsum("jn,n,nm->jm", p, n, _basis(n, degree)) / x[:, None]


def fit_lpmt_nl(scan: LaserScan, *, degree: int = 4) -> NLCorrection:
    """Fit the single-channel LPMT response to the LPMT/SPMT ratio of a laser scan.

    Model of the ratio at intensity ``x_j`` (true PE per LPMT): ``c [1 + sum_m p_m M_jm]`` with
    ``M = poisson_moments(x)``, linear in ``(c, c p_m)``: weighted least squares. ``x_j`` is the
    SPMT estimate times ``c`` over the number of LPMTs (iterated). Folding the Poisson statistics
    of each channel in the model makes ``g`` the response of *one* channel to a given charge, so
    it can correct the channels of any event, whatever their occupancy.
    """
    check_range("degree", degree, 1, 8)
    ratio = scan.lpmt_charge / scan.spmt_pe
    ratio_err = ratio * np.hypot(scan.lpmt_charge_err / scan.lpmt_charge,
                                 scan.spmt_pe_err / scan.spmt_pe)
    c = float(ratio[0])
    for _ in range(4):  # x depends on c; converges in two passes
        x = scan.spmt_pe * c / scan.n_lpmt
        design = np.column_stack([np.ones_like(x), poisson_moments(x, degree)]) / ratio_err[:, None]
        b, *_ = np.linalg.lstsq(design, ratio / ratio_err, rcond=None)
        c = float(b[0])
    cov_b = np.linalg.inv(design.T @ design)
    jac = np.column_stack([-b[1:] / b[0] ** 2, np.eye(degree) / b[0]])
    model = design @ b * ratio_err
    return NLCorrection(coeffs=b[1:] / b[0], cov=jac @ cov_b @ jac.T, scale=c, x=x, y=ratio / c,
                        y_err=ratio_err / c, y_model=model / c,
                        chi2=float(np.sum(((ratio - model) / ratio_err) ** 2)))


def ibd_residual(mu_events, energies, nl: ChannelNL, correction: NLCorrection, spe_sigma,
                 dark_lpmt, *, rng: np.random.Generator) -> dict:
    """Total LPMT charge / true charge of events, before and after the correction.

    ``mu_events`` (M, N_L): expected PE per MeV of each channel for M event vertices;
    ``energies`` (E,) visible energies, MeV. Every vertex is simulated once per energy.
    Returns ratios (E,) ``raw`` = sum Q / sum q and ``corrected`` = sum Q_corr / sum q, and
    ``max_pe`` the largest mean PE of one channel at the highest energy.
    """
    raw, corr = [], []
    x_max = float(energies.max() * mu_events.max()) * 4 + 50.0
    for e in np.asarray(energies, dtype=float):  # a loop over the energy points
        n = rng.poisson(e * mu_events + dark_lpmt[None, :])
        q = lpmt_charge(n, spe_sigma[None, :], rng=rng)
        q_meas = nl(q)
        q_corr = correction.invert(q_meas, x_max)
        raw.append(q_meas.sum() / q.sum())
        corr.append(q_corr.sum() / q.sum())
    return {"raw": np.array(raw), "corrected": np.array(corr),
            "max_pe": float(np.max(energies) * mu_events.max())}


@dataclasses.dataclass(frozen=True)
class DualCalorimetryStudy:
    """Everything chapter 6 shows about dual calorimetry (see :func:`dual_calorimetry_study`)."""

    channel_nl: ChannelNL
    scan: LaserScan
    correction: NLCorrection
    true_ratio: np.ndarray      # (J,) true channel-averaged <Q>/<q> at each scan intensity
    energies: np.ndarray        # (E,) visible energies of the IBD-like events, MeV
    raw: np.ndarray             # (E,) sum Q / sum q before the correction
    corrected: np.ndarray       # (E,) after it
    max_pe: float               # largest mean PE of one LPMT at the highest energy


def dual_calorimetry_study(response, config: DualCalorimetryConfig, *, n_flashes: int,
                           n_vertices: int, fiducial_radius: float, n_energies: int = 15,
                           rng: np.random.Generator) -> DualCalorimetryStudy:
    """The truth's channels, the laser scan at the centre, the fit, and the correction applied to
    events uniform in the fiducial volume (``n_vertices`` vertices, once per energy)."""
    from ..core import units
    from ..detector.geometry import sample_uniform_ls

    n_l = response.n_lpmt
    mu = response.expected_pe(np.zeros((1, 3)))[0]
    mu = mu / mu[:n_l].mean()  # per unit intensity = mean PE per LPMT
    dark = response.dark_rate * response.pmts.readout_window
    spe = response.spe_resolution[:n_l]
    nl = ChannelNL.draw(n_l, config, rng=rng)
    scan = laser_scan(mu[:n_l], mu[n_l:], dark[:n_l], dark[n_l:], spe, nl, config,
                      n_flashes=n_flashes, rng=rng)
    true_ratio = np.array([(charge_moments(level * mu[:n_l] + dark[:n_l], nl, spe)[0].sum()
                            - dark[:n_l].sum()) / (level * n_l) for level in scan.intensity])
    correction = fit_lpmt_nl(scan)
    vertices = sample_uniform_ls(int(n_vertices), rng=rng, r_max=fiducial_radius,
                                 geometry=response.geometry)
    energies = np.linspace(config.ibd_e_min / units.MeV, config.ibd_e_max / units.MeV, n_energies)
    ibd = ibd_residual(response.expected_pe(vertices)[:, :n_l], energies, nl, correction, spe,
                       dark[:n_l], rng=rng)
    return DualCalorimetryStudy(channel_nl=nl, scan=scan, correction=correction,
                                true_ratio=true_ratio, energies=energies, raw=ibd["raw"],
                                corrected=ibd["corrected"], max_pe=ibd["max_pe"])
