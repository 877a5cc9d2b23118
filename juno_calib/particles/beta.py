"""The beta spectrum of cosmogenic 12B (Q = 13.37 MeV) and its decay branches.

Allowed shape (no shape factor; the 12B ground-state transition 1+ -> 0+ is allowed
Gamow–Teller):

.. math::

    \\frac{dN}{dT} \\propto p\\,W\\,(E_0 - T)^2\\,F(Z, W),

with ``T`` the electron kinetic energy, ``W = T + m`` its total energy, ``p`` its momentum,
``E_0`` the branch end point (Q minus the 12C level energy) and ``F`` the relativistic Fermi
function for a uniformly charged nucleus of radius ``R = r0 A^(1/3)`` (e.g. Behrens & Jänecke,
Landolt–Börnstein I/4 (1969); Wilkinson, NIM A 275 (1989) 378):

.. math::

    F = 2(1+\\gamma)\\,(2pR)^{2(\\gamma-1)}\\,e^{\\pi\\eta}\\,
        \\frac{|\\Gamma(\\gamma + i\\eta)|^2}{\\Gamma(2\\gamma+1)^2},\\quad
    \\gamma = \\sqrt{1-(\\alpha Z)^2},\\ \\eta = \\alpha Z W/p

(``Z = 6`` of the daughter; ``p``, ``W``, ``R`` in electron units). Branches (TUNL):
12C ground state 98.3%, the 4.44 MeV 2+ state 1.18% (followed by a 4.44 MeV gamma) and the
7.65 MeV Hoyle state 0.54% (it breaks up into three alphas with 0.38 MeV kinetic energy
whose quenched light, ~0.04 MeV, is neglected). Data in ``data/scintillator.yaml``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.special import loggamma

from ..core import validate
from ..core.constants import ELECTRON_MASS, FINE_STRUCTURE
from ..core.params import ParamSet, check_range

#: reduced Compton wavelength of the electron, hbar/(m_e c) (CODATA 2018), in mm
ELECTRON_COMPTON_WAVELENGTH = 3.8615926796e-10


@dataclasses.dataclass(frozen=True, kw_only=True)
class B12Decay(ParamSet):
    """12B decay data (internal units), from the ``b12_*`` entries of data/scintillator.yaml."""

    _section = "scintillator"
    b12_q_value: float
    b12_half_life: float
    b12_daughter_z: int
    b12_mass_number: int
    b12_levels: tuple
    b12_branches: tuple
    nuclear_radius_r0: float

    def __post_init__(self):
        check_range("b12_q_value", self.b12_q_value, 0, 100, unit="MeV", lo_open=True)
        if len(self.b12_levels) != len(self.b12_branches):
            raise ValueError("b12_levels and b12_branches must have the same length")
        for lv in self.b12_levels:
            check_range("b12_levels", lv, 0, self.b12_q_value, unit="MeV", hi_open=True)
        for b in self.b12_branches:
            check_range("b12_branches", b, 0, 1)

    @property
    def probabilities(self) -> np.ndarray:
        """Branch probabilities renormalised to 1."""
        b = np.asarray(self.b12_branches, dtype=float)
        return b / b.sum()

    @property
    def endpoints(self) -> np.ndarray:
        """Kinetic end point of each branch, MeV."""
        return self.b12_q_value - np.asarray(self.b12_levels, dtype=float)


def _decay(decay) -> B12Decay:
    if decay is None:
        return B12Decay.load()
    return validate.instance("decay", decay, B12Decay, hint="B12Decay.load()")


def fermi_function(t, z: float, radius: float) -> np.ndarray:
    """Relativistic Fermi function ``F(Z, W)`` for beta- emission (see module docstring).

    Parameters
    ----------
    t : array_like
        Electron kinetic energy, MeV, > 0.
    z : float
        Charge of the daughter nucleus.
    radius : float
        Nuclear radius, mm.
    """
    t = validate.energies("t", t, 1e-6, 1e4,
                          why="beta kinetic energies from 1 eV (below, atomic screening rules)")
    validate.number("z", z, 0, 118)
    validate.number("radius", radius, 0.0, 1e-8, lo_open=True, unit="mm",
             why="a nuclear radius (fm scale, internal mm)")
    return _fermi_function(t, z, radius)


def _fermi_function(t, z, radius):
    """Kernel of :func:`fermi_function` (inputs checked by it)."""
    tau = t / ELECTRON_MASS
    w = tau + 1.0
    p = np.sqrt(tau * (tau + 2.0))  # = sqrt(w^2 - 1) without cancellation at small t
    az = FINE_STRUCTURE * z
    g = math.sqrt(1.0 - az**2)
    eta = az * w / p
    r = radius / ELECTRON_COMPTON_WAVELENGTH
    log_f = (math.log(2 * (1 + g)) + 2 * (g - 1) * np.log(2 * p * r) + math.pi * eta
             + 2 * np.real(loggamma(g + 1j * eta)) - 2 * float(np.real(loggamma(2 * g + 1))))
    return np.exp(log_f)


def beta_spectrum(t, endpoint: float, z: float, radius: float) -> np.ndarray:
    """Unnormalised allowed beta- spectrum ``dN/dT`` at kinetic energies ``t`` (MeV).

    Zero outside ``(0, endpoint)``; ``t`` must be finite (any sign).
    """
    t = validate.energies("t", t, -math.inf)
    endpoint = validate.number("endpoint", endpoint, 0.0, 1e4, lo_open=True, unit="MeV")
    validate.number("z", z, 0, 118)
    validate.number("radius", radius, 0.0, 1e-8, lo_open=True, unit="mm")
    return _beta_spectrum(t, endpoint, z, radius)


def _beta_spectrum(t, endpoint, z, radius):
    """Kernel of :func:`beta_spectrum` (inputs checked by it)."""
    inside = (t > 0) & (t < endpoint)
    tt = np.where(inside, t, 0.5 * endpoint)
    w = tt + ELECTRON_MASS
    p = np.sqrt(w**2 - ELECTRON_MASS**2)
    shape = p * w * (endpoint - tt) ** 2 * _fermi_function(tt, z, radius)
    return np.where(inside, shape, 0.0)


def b12_spectrum(t, decay: B12Decay | None = None) -> np.ndarray:
    """Normalised 12B beta kinetic-energy pdf (all branches), 1/MeV.

    >>> x = np.linspace(0, 13.5, 2701)
    >>> round(float(np.trapezoid(b12_spectrum(x), x)), 3)
    1.0
    """
    t = validate.energies("t", t, -math.inf)
    d = _decay(decay)
    radius = d.nuclear_radius_r0 * d.b12_mass_number ** (1 / 3)
    total = np.zeros(np.shape(t))
    for prob, e0 in zip(d.probabilities, d.endpoints, strict=False):
        grid = np.linspace(0.0, e0, 4001)
        norm = np.trapezoid(_beta_spectrum(grid, e0, d.b12_daughter_z, radius), grid)
        total = total + prob * _beta_spectrum(t, e0, d.b12_daughter_z, radius) / norm
    return total


def sample_b12(n: int, *, rng: np.random.Generator,
               decay: B12Decay | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` 12B decays: (beta kinetic energy (n,) MeV, branch index (n,) int).

    Inverse-CDF sampling on a fine grid (4001 points per branch; linear interpolation).
    """
    n = validate.integer("n", n, 0, 10**9)
    validate.generator("rng", rng)
    d = _decay(decay)
    radius = d.nuclear_radius_r0 * d.b12_mass_number ** (1 / 3)
    branch = rng.choice(len(d.probabilities), size=int(n), p=d.probabilities)
    t = np.empty(int(n))
    for i, e0 in enumerate(d.endpoints):  # loop over the 3 branches, not over decays
        sel = branch == i
        grid = np.linspace(0.0, e0, 4001)
        pdf = _beta_spectrum(grid, e0, d.b12_daughter_z, radius)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        t[sel] = np.interp(rng.random(sel.sum()) * cdf[-1], cdf, grid)
    return t, branch
