"""The liquid scintillator: composition, stopping power and the electron light model L(T).

Model (the form used by GNA, the public JINR fitter ``gnafit/gna``, in its JUNO model files;
source key GNA in ``data/README.md``). An electron of kinetic energy ``T``
produces, in units of scintillation-equivalent MeV,

.. math::

    L(T) = \\int_0^T \\frac{dE}{1 + k_B\\,S(E)/\\rho}
           + \\frac{k_C}{N_s}\\,N_{Ch}(T),

with ``S`` the collision stopping power (Bethe formula for electrons in the Rohrlich–Carlson
form of ICRU Report 37, with the Sternheimer–Peierls density-effect correction), ``k_B``
Birks' constant, ``N_s`` the scintillation scale and ``N_Ch`` the Borexino-style Cherenkov
parametrisation ``(p0 + p1 X + p2 X^2 + p3 X^3)(1 + p4 T)``, ``X = ln(1 + T/E0)``, clipped at 0.
Positrons use the Bhabha form of the stopping power (ICRU 37) and the same Cherenkov term;
their two annihilation gammas are simulated separately (:mod:`juno_calib.particles.gamma`).

The normalisation of ``L`` to visible energy ``e_vis`` needs the gamma cascade and lives in
:mod:`juno_calib.particles.visible`. The tabulated ``L(T)`` is cached on the (frozen) instance.

Electrons deposit their energy where they are created: the CSDA range of a 1 MeV electron in
the LS is ~5 mm, of a 10 MeV one ~5 cm, small against the LS sphere and the PE map grid.

Physical constants are CODATA 2018 values (below, named); every other number is in
``data/scintillator.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cached_property

import numpy as np

from ..core import units, validate
from ..core.constants import AVOGADRO, CLASSICAL_ELECTRON_RADIUS, ELECTRON_MASS
from ..core.params import ParamSet, _quantity, check_range, load_yaml

# --- physical constants: core/constants (CODATA 2018); PDG for the plasma-energy coefficient ---
#: PDG: plasma energy hbar*omega_p = sqrt(rho[g/cm3] <Z/A>[mol/g]) * 28.816 eV
PLASMA_ENERGY_COEFF = 28.816 * units.eV
#: 4 pi N_A r_e^2 m_e c^2 (the Bethe constant K), MeV mm^2 / mol
BETHE_K = 4.0 * math.pi * AVOGADRO * CLASSICAL_ELECTRON_RADIUS**2 * ELECTRON_MASS
LN2 = math.log(2.0)
#: range of kinetic energies of the public stopping-power and Cherenkov functions (MeV): the Bethe
#: formula fails below ~1 keV (NIST ESTAR stops there) and nothing here goes above 1 GeV
T_MIN_BETHE = 1e-3 * units.MeV
T_MAX = 1e3 * units.MeV
LN10 = math.log(10.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scintillator(ParamSet):
    """The LS as a stopping medium and its electron light model (internal units).

    Fields are documented, with sources, in ``data/scintillator.yaml``. Load with
    ``Scintillator.load(config)``; vary with :func:`dataclasses.replace` (the cached light
    tables and the e_vis scale are rebuilt for the new instance).

    >>> s = Scintillator.load()
    >>> round(s.z_over_a, 4), round(s.mean_excitation_energy / units.eV, 1)
    (0.5596, 59.3)
    """

    _section = "scintillator"
    density: float
    mass_fraction_h: float
    mass_fraction_c: float
    atomic_weight_h: float
    atomic_weight_c: float
    excitation_energy_h: float
    excitation_energy_c: float
    birks_kb: float
    cherenkov_weight: float
    npe_scint: float
    cherenkov_e0: float
    cherenkov_p0: float
    cherenkov_p1: float
    cherenkov_p2: float
    cherenkov_p3: float
    cherenkov_p4: float
    light_table_e_min: float
    light_table_e_max: float
    light_table_points: int
    normalisation_gammas: int
    normalisation_seed: int
    gamma_cutoff_energy: float
    pair_coeff_f1: tuple
    pair_coeff_f2: tuple
    pair_coeff_f3: tuple
    pair_fit_e_min: float
    capture_xs_h: float
    capture_xs_c: float
    capture_time: float
    thermal_neutron_speed: float
    thermal_diffusion_coefficient: float
    fermi_age: float
    capsule_thickness: float
    capsule_density: float
    capsule_mu_energy: tuple
    capsule_mu_rho: tuple
    capsule_z_over_a: float

    def __post_init__(self):
        check_range("density", self.density, 0, 10 * units.g / units.cm**3,
                    unit="g/cm3", lo_open=True)
        for name in ("mass_fraction_h", "mass_fraction_c"):
            check_range(name, getattr(self, name), 0, 1)
        total = self.mass_fraction_h + self.mass_fraction_c
        if not abs(total - 1.0) < 1e-6:
            raise ValueError(f"mass_fraction_h + mass_fraction_c = {total:g} must be 1")
        for name in ("atomic_weight_h", "atomic_weight_c", "excitation_energy_h",
                     "excitation_energy_c", "npe_scint", "cherenkov_e0", "light_table_e_min",
                     "pair_fit_e_min", "capture_time",
                     "thermal_neutron_speed", "capsule_density", "capsule_z_over_a"):
            check_range(name, getattr(self, name), 0, lo_open=True)
        check_range("birks_kb", self.birks_kb, 0, 0.1 * units.g / units.cm**2 / units.MeV,
                    unit="g/cm2/MeV")
        check_range("cherenkov_weight", self.cherenkov_weight, 0, 10)
        check_range("light_table_e_max", self.light_table_e_max, 2 * self.light_table_e_min,
                    1 * units.GeV, unit="MeV")
        check_range("light_table_points", self.light_table_points, 100, 10**6)
        check_range("normalisation_gammas", self.normalisation_gammas, 1000, 10**7)
        check_range("gamma_cutoff_energy", self.gamma_cutoff_energy, 1 * units.keV,
                    200 * units.keV, unit="keV")
        for name in ("capture_xs_h", "capture_xs_c", "thermal_diffusion_coefficient",
                     "fermi_age", "capsule_thickness"):
            check_range(name, getattr(self, name), 0)
        for name in ("pair_coeff_f1", "pair_coeff_f2", "pair_coeff_f3"):
            if len(getattr(self, name)) != 6:
                raise ValueError(f"{name} needs 6 polynomial coefficients, got "
                                 f"{len(getattr(self, name))}")
        if len(self.capsule_mu_energy) != len(self.capsule_mu_rho):
            raise ValueError("capsule_mu_energy and capsule_mu_rho must have the same length")

    # --- derived composition ---
    @property
    def z_over_a(self) -> float:
        """Mean ``<Z/A>`` of the LS (mol/g), from the mass fractions."""
        return (self.mass_fraction_h * 1.0 / self.atomic_weight_h
                + self.mass_fraction_c * 6.0 / self.atomic_weight_c)

    @property
    def mean_excitation_energy(self) -> float:
        """Mean excitation energy ``I`` by Bragg additivity (ICRU 37), internal MeV."""
        wh = self.mass_fraction_h * 1.0 / self.atomic_weight_h
        wc = self.mass_fraction_c * 6.0 / self.atomic_weight_c
        return math.exp((wh * math.log(self.excitation_energy_h)
                         + wc * math.log(self.excitation_energy_c)) / (wh + wc))

    @property
    def capture_fraction_h(self) -> float:
        """Fraction of thermal-neutron captures on H: n_H s_H / (n_H s_H + n_C s_C)."""
        rate_h = self.mass_fraction_h / self.atomic_weight_h * self.capture_xs_h
        rate_c = self.mass_fraction_c / self.atomic_weight_c * self.capture_xs_c
        return rate_h / (rate_h + rate_c)

    @property
    def reference_gamma_energy(self) -> float:
        """Energy of the gamma that defines the e_vis scale: the n-H capture line (MeV).

        PERF25 defines the light yield with the n-H gamma at the centre. The number has one
        home, the ``nH`` entry of ``data/sources.yaml`` (:func:`nh_gamma_energy`).
        """
        return nh_gamma_energy(self.config)

    @property
    def electron_density(self) -> float:
        """Electrons per mm^3."""
        return self.density * AVOGADRO * self.z_over_a

    # --- cached model tables (per instance; rebuilt by dataclasses.replace) ---
    @cached_property
    def _light_tables(self):
        return _build_light_tables(self)


def nh_gamma_energy(config: str = "design") -> float:
    """The n-H capture gamma energy (internal MeV), read from its one home, ``data/sources.yaml``.

    >>> round(nh_gamma_energy(), 5)
    2.22325
    """
    raw = load_yaml("sources")["nuclides"]["nH"]["branches"][0]["gammas"]
    (energy,) = _quantity("sources", "nH.gammas", raw).internal
    return float(energy)


def collision_stopping_power(t, *, z_over_a: float, density: float, mean_excitation: float,
                             positron: bool = False) -> np.ndarray:
    """Collision stopping power of electrons (or positrons) in a medium, MeV/mm.

    Rohrlich–Carlson form of the Bethe formula as used by ICRU Report 37 and NIST ESTAR,
    with the Sternheimer–Peierls (Phys. Rev. B 3 (1971) 3681) general density-effect
    correction computed from ``I``, ``density`` and ``Z/A`` (no shell correction).

    Parameters
    ----------
    t : array_like
        Kinetic energy, internal MeV, any shape, > 0.
    z_over_a : float
        Mean Z/A of the medium, mol/g.
    density : float
        Density, internal g/mm^3.
    mean_excitation : float
        Mean excitation energy I, internal MeV.
    positron : bool
        Use the Bhabha (positron) instead of the Moller (electron) term.

    Returns
    -------
    numpy.ndarray
        ``-dE/dx`` in MeV/mm, same shape as ``t``.
    """
    t = validate.energies("t", t, T_MIN_BETHE, T_MAX,
                          why="the Bethe formula holds from ~1 keV (NIST ESTAR's lowest energy)")
    for name, val in (("z_over_a", z_over_a), ("density", density),
                      ("mean_excitation", mean_excitation)):
        validate.number(name, val, 0.0, lo_open=True)
    return _collision_stopping_power(t, z_over_a, density, mean_excitation, positron)


def _collision_stopping_power(t, z_over_a, density, mean_excitation, positron=False):
    """Kernel of :func:`collision_stopping_power` (inputs checked by it)."""
    tau = t / ELECTRON_MASS
    gamma = tau + 1.0
    beta2 = 1.0 - 1.0 / gamma**2
    log_term = np.log(tau**2 * (tau + 2.0) / (2.0 * (mean_excitation / ELECTRON_MASS) ** 2))
    if positron:
        y = 1.0 / (tau + 2.0)
        f = 2 * LN2 - beta2 / 12.0 * (23.0 + 14.0 * y + 10.0 * y**2 + 4.0 * y**3)
    else:
        f = 1.0 - beta2 + (tau**2 / 8.0 - (2.0 * tau + 1.0) * LN2) / gamma**2
    delta = _density_effect(np.sqrt(tau * (tau + 2.0)), z_over_a, density, mean_excitation)
    return 0.5 * BETHE_K * z_over_a * density / beta2 * (log_term + f - delta)


def _density_effect(beta_gamma, z_over_a, density, mean_excitation):
    """Sternheimer–Peierls (1971) density-effect correction for condensed media, I < 100 eV."""
    rho_gcm3 = density / (units.g / units.cm**3)
    plasma = PLASMA_ENERGY_COEFF * math.sqrt(rho_gcm3 * z_over_a)
    c_bar = 2.0 * math.log(mean_excitation / plasma) + 1.0
    x0 = 0.2 if c_bar < 3.681 else 0.326 * c_bar - 1.0
    x1, m = 2.0, 3.0
    a = (c_bar - 2 * LN10 * x0) / (x1 - x0) ** m
    x = np.log10(beta_gamma)
    delta = np.where(x >= x1, 2 * LN10 * x - c_bar,
                     2 * LN10 * x - c_bar + a * np.clip(x1 - x, 0, None) ** m)
    return np.where(x < x0, 0.0, delta)


def stopping_power(t, scint: Scintillator) -> np.ndarray:
    """Collision stopping power ``-dE/dx`` of electrons in the LS, MeV/mm.

    Parameters
    ----------
    t : array_like
        Electron kinetic energy, MeV (> 0), any shape.
    scint : Scintillator

    >>> s = Scintillator.load()
    >>> 1.5 < float(stopping_power(1.0, s) / (units.MeV / units.cm)) < 1.8
    True
    """
    t = validate.energies("t", t, T_MIN_BETHE, T_MAX,
                          why="the Bethe formula holds from ~1 keV (NIST ESTAR's lowest energy)")
    _check_scint(scint)
    return _collision_stopping_power(t, scint.z_over_a, scint.density, scint.mean_excitation_energy)


def _check_scint(scint):
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')


def cherenkov_photons(t, scint: Scintillator) -> np.ndarray:
    """Cherenkov term ``N_Ch(T)`` of the GNA/Borexino parametrisation (PE units), >= 0.

    Parameters
    ----------
    t : array_like
        Kinetic energy, MeV, any shape, >= 0 (a negative or non-finite value is a
        ``ValueError``: the polynomial in ``ln(1 + T/E0)`` is not defined there).
    """
    t = validate.energies("t", t, 0.0, T_MAX)
    _check_scint(scint)
    return _cherenkov_photons(t, scint)


def _cherenkov_photons(t, scint):
    """Kernel of :func:`cherenkov_photons` (``t`` finite, >= 0; not checked)."""
    x = np.log1p(t / scint.cherenkov_e0)
    poly = scint.cherenkov_p0 + x * (scint.cherenkov_p1 + x * (scint.cherenkov_p2
                                                              + x * scint.cherenkov_p3))
    return np.clip(poly * (1.0 + scint.cherenkov_p4 * t), 0.0, None)


@dataclasses.dataclass(frozen=True)
class _LightTables:
    t: np.ndarray            # (N,) kinetic energy grid, MeV
    electron: np.ndarray     # (N,) L(T) for electrons, unnormalised
    positron: np.ndarray     # (N,) L(T) for positrons (kinetic part), unnormalised
    slope_e: float           # dL/dT below the first grid point
    slope_p: float


def _quenched_integral(t, scint, positron):
    """Cumulative Birks integral on the grid ``t`` (trapezoid, log grid)."""
    s = _collision_stopping_power(t, scint.z_over_a, scint.density, scint.mean_excitation_energy,
                                  positron)
    integrand = 1.0 / (1.0 + scint.birks_kb * s / scint.density)
    steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(t)
    return np.concatenate([[0.0], np.cumsum(steps)]) + t[0] * integrand[0], integrand[0]


def _build_light_tables(scint: Scintillator) -> _LightTables:
    t = np.geomspace(scint.light_table_e_min, scint.light_table_e_max,
                     int(scint.light_table_points))
    ch = scint.cherenkov_weight * _cherenkov_photons(t, scint) / scint.npe_scint
    q_e, slope_e = _quenched_integral(t, scint, positron=False)
    q_p, slope_p = _quenched_integral(t, scint, positron=True)
    return _LightTables(t=t, electron=q_e + ch, positron=q_p + ch, slope_e=float(slope_e),
                        slope_p=float(slope_p))


def light_unnormalised(t, scint: Scintillator, *, positron: bool = False) -> np.ndarray:
    """``L(T)`` before the e_vis normalisation (scintillation-equivalent MeV).

    Interpolated in the cached table of the instance; linear below ``light_table_e_min``.
    """
    _check_scint(scint)
    tab = scint._light_tables
    t = validate.energies("t", t, 0.0, float(tab.t[-1]), why="the light table ends at light_table_e_max")
    return _light_unnormalised(t, tab, positron)


def _light_unnormalised(t, tab, positron):
    """Kernel of :func:`light_unnormalised` (``t`` in the table's range; not checked)."""
    values = tab.positron if positron else tab.electron
    slope = tab.slope_p if positron else tab.slope_e
    return np.where(t < tab.t[0], t * slope, np.interp(t, tab.t, values))

