"""Reactor antineutrinos at JUNO: cores, fission spectra, the IBD cross-section, event rates.

* Cores: baselines and thermal powers of the Taishan and Yangjiang cores (26.6 GW_th) and the
  remote Daya Bay and Huizhou plants, ``data/reactor.yaml`` (JUNO Yellow Book, Table 1).
* Emitted spectrum per fission: Huber (²³⁵U, ²³⁹Pu, ²⁴¹Pu; Phys. Rev. C 84 (2011) 024617) and
  Mueller (²³⁸U; Phys. Rev. C 83 (2011) 054615) exponential-polynomial fits, mixed with fission
  fractions; fissions per second from the thermal power and the energies per fission of
  Ma et al. (Phys. Rev. C 88 (2013) 014605).
* Inverse beta decay ν̄e p → e⁺ n: Vogel & Beacom, Phys. Rev. D 60 (1999) 053003, to first
  order in 1/M (recoil and weak magnetism), with the positron energy E_e⁽¹⁾(E_ν, cos θ) of their
  Eq. 8; normalised to the neutron lifetime. The threshold is the exact kinematic one,
  ((m_n + m_e)² - m_p²) / 2 m_p = 1.806 MeV.

Internal units (mm, ns, MeV); cross-sections are areas in mm² (``units.cm**2`` converts).
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from ..core import units, validate
from ..core.constants import AVOGADRO, ELECTRON_MASS, HBAR, HBAR_C, JOULE
from ..core.params import ParamSet, check_range, load_yaml

ISOTOPES = ("U235", "U238", "Pu239", "Pu241")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReactorInputs(ParamSet):
    """Scalars of ``data/reactor.yaml`` (internal units)."""

    _section = "reactor"
    ls_mass: float
    ibd_per_day: float
    background_fraction_seed: float
    reference_power: float
    nmo_resolution: tuple
    energy_per_fission: tuple
    fission_fractions: tuple
    spectrum_u235: tuple
    spectrum_u238: tuple
    spectrum_pu239: tuple
    spectrum_pu241: tuple
    neutron_mass: float
    proton_mass: float
    neutron_lifetime: float
    phase_space_factor: float
    axial_coupling: float
    magnetic_moment_difference: float

    def __post_init__(self):
        if len(self.fission_fractions) != 4 or len(self.energy_per_fission) != 4:
            raise ValueError("fission_fractions and energy_per_fission need 4 entries "
                             "(U235, U238, Pu239, Pu241)")
        if abs(sum(self.fission_fractions) - 1.0) > 1e-6 or min(self.fission_fractions) < 0:
            raise ValueError(f"fission_fractions must be >= 0 and sum to 1, got {self.fission_fractions}")
        check_range("ls_mass", self.ls_mass, 0.0, lo_open=True, unit="kg")
        check_range("ibd_per_day", self.ibd_per_day, 0.0, lo_open=True, unit="1/day")

    @property
    def spectrum_coefficients(self) -> np.ndarray:
        """(4, 6) fit coefficients in isotope order :data:`ISOTOPES`."""
        return np.array([self.spectrum_u235, self.spectrum_u238, self.spectrum_pu239, self.spectrum_pu241])


@dataclasses.dataclass(frozen=True)
class Core:
    """One reactor core: baseline (mm) and nominal thermal power (GW)."""

    name: str
    plant: str
    baseline: float
    power: float
    source: str

    def __post_init__(self):
        check_range(f"{self.name}.baseline", self.baseline, 0.0, lo_open=True, unit="km")
        check_range(f"{self.name}.power", self.power, 0.0, lo_open=True, unit="GW")


@dataclasses.dataclass(frozen=True)
class Background:
    """One IBD-like background: rate after selection (per ns, internal), relative rate
    uncertainty and a stated shape (see ``data/reactor.yaml``)."""

    name: str
    rate: float
    rate_unc: float
    kind: str
    shape: dict
    source: str


@cache
def load_inputs() -> ReactorInputs:
    """The scalars of ``data/reactor.yaml``."""
    return ReactorInputs.load()


@cache
def load_cores() -> tuple[Core, ...]:
    """The cores of ``data/reactor.yaml``."""
    return tuple(Core(name=c["name"], plant=c["plant"], baseline=float(c["baseline"]) * units.km,
                      power=float(c["power"]) * units.GW, source=c["source"])
                 for c in load_yaml("reactor")["cores"])


@cache
def load_backgrounds() -> tuple[Background, ...]:
    """The backgrounds of ``data/reactor.yaml``."""
    out = []
    for b in load_yaml("reactor")["backgrounds"]:
        shape = {k: float(v) for k, v in b.items() if k in ("e_min", "e_max", "slope", "e_nu_max")}
        out.append(Background(name=b["name"], rate=float(b["rate"]) * units.unit_factor("1/day"),
                              rate_unc=float(b["rate_unc"]), kind=b["kind"], shape=shape, source=b["source"]))
    return tuple(out)


#: the largest antineutrino energy the functions accept (MeV): a reactor spectrum ends near
#: 10 MeV, and Vogel & Beacom's first-order IBD expansion in E/M is meant for E << 1 GeV
E_NU_MAX = 100.0


def _inputs(inputs) -> ReactorInputs:
    if inputs is None:
        return load_inputs()
    return validate.instance("inputs", inputs, ReactorInputs, hint="load_inputs()")


def _fractions(fractions, inputs: ReactorInputs) -> np.ndarray:
    if fractions is None:
        return np.asarray(inputs.fission_fractions, dtype=float)
    f = validate.array("fractions", fractions, 0.0, 1.0, ndim=1)
    if f.shape != (4,) or not f.sum() > 0:
        raise ValueError(f"fractions must be 4 fission fractions in [0, 1] (order {ISOTOPES}) with a "
                         f"positive sum, got {f.tolist()}")
    return f


def isotope_spectra(e_nu, inputs: ReactorInputs | None = None) -> np.ndarray:
    """ν̄e per MeV per fission of each isotope (Huber / Mueller fits), shape (4, *e_nu.shape).

    The fits are published for 2-8 MeV; below and above they are used as extrapolations (the
    IBD threshold is 1.8 MeV, and above 8 MeV the flux is < 1e-3 of its peak).
    """
    inputs = _inputs(inputs)
    e = validate.energies("e_nu", e_nu, 0.0, E_NU_MAX, lo_open=True,
                          why="the Huber-Mueller fits are exp(5th-order polynomial) extrapolations")
    return _isotope_spectra(e, inputs)


def _isotope_spectra(e: np.ndarray, inputs: ReactorInputs) -> np.ndarray:
    c = inputs.spectrum_coefficients
    powers = e[None, ...] ** np.arange(6).reshape((1, 6) + (1,) * e.ndim)
    return np.exp(np.sum(c.reshape((4, 6) + (1,) * e.ndim) * powers, axis=1))


def mean_energy_per_fission(fractions=None, inputs: ReactorInputs | None = None) -> float:
    """Σ f_i e_i, MeV."""
    inputs = _inputs(inputs)
    f = _fractions(fractions, inputs)
    return float(f @ np.asarray(inputs.energy_per_fission))


def emitted_spectrum(e_nu, fractions=None, inputs: ReactorInputs | None = None) -> np.ndarray:
    """ν̄e per MeV of neutrino energy per MeV of thermal energy: Σ f_i S_i(E) / Σ f_i e_i."""
    inputs = _inputs(inputs)
    f = _fractions(fractions, inputs)
    s = isotope_spectra(e_nu, inputs)
    return np.tensordot(f, s, axes=1) / mean_energy_per_fission(f, inputs)


def fissions_per_ns(power: float, fractions=None, inputs: ReactorInputs | None = None) -> float:
    """Fission rate (per ns) of a core of thermal ``power`` (GW)."""
    inputs = _inputs(inputs)
    validate.number("power", power, 0.0, 100.0 * units.GW, unit="GW")
    _fractions(fractions, inputs)
    mev_per_ns = power / units.GW * 1e9 * JOULE / units.s
    return mev_per_ns / mean_energy_per_fission(fractions, inputs)


# ----------------------------------------------------------------------------------------------
# Inverse beta decay, Vogel & Beacom (1999)
# ----------------------------------------------------------------------------------------------


def ibd_threshold(inputs: ReactorInputs | None = None) -> float:
    """Exact IBD threshold ((m_n + m_e)² - m_p²) / 2 m_p, MeV.

    >>> round(ibd_threshold(), 3)
    1.806
    """
    i = _inputs(inputs)
    return ((i.neutron_mass + ELECTRON_MASS) ** 2 - i.proton_mass**2) / (2 * i.proton_mass)


def sigma0(inputs: ReactorInputs | None = None) -> float:
    """σ0 (f² + 3g²) = 2π² ħ³ c³/(m_e⁵ f^R τ_n), the zeroth-order prefactor, mm² / MeV².

    σ_tot⁽⁰⁾ = σ0 (f² + 3g²) E_e p_e; Vogel & Beacom quote 0.0952e-42 cm² for τ_n = 886.8 s.
    """
    i = _inputs(inputs)
    # 2 pi^2 / (m_e^5 f tau) in natural units -> multiply by hbar (MeV ns) / (MeV^5 ns) * (hbar c)^2
    denominator = ELECTRON_MASS**5 * i.phase_space_factor * i.neutron_lifetime
    return 2 * np.pi**2 * HBAR * HBAR_C**2 / denominator


def ibd_kinematics(e_nu, cos_theta, inputs: ReactorInputs | None = None):
    """Positron total energy E_e⁽¹⁾ (Vogel & Beacom Eq. 8) and dσ/dcos θ to first order (Eq. 12).

    Parameters
    ----------
    e_nu : array_like
        Antineutrino energy, MeV.
    cos_theta : array_like
        Cosine of the positron angle to the antineutrino direction; broadcasts with ``e_nu``.

    Returns
    -------
    e_positron : numpy.ndarray
        Positron total energy, MeV (= m_e where the channel is closed).
    dsigma_dcos : numpy.ndarray
        mm² (zero below the threshold).
    """
    i = _inputs(inputs)
    e_nu = validate.energies("e_nu", e_nu, 0.0, E_NU_MAX)
    cos = validate.array("cos_theta", cos_theta, -1.0, 1.0)
    try:
        np.broadcast(e_nu, cos)
    except ValueError:
        raise ValueError(f"e_nu (shape {e_nu.shape}) and cos_theta (shape {cos.shape}) must "
                         "broadcast together") from None
    return _ibd_kinematics(e_nu, cos, i)


def _ibd_kinematics(e_nu: np.ndarray, cos: np.ndarray, i: ReactorInputs):
    me, delta = ELECTRON_MASS, i.neutron_mass - i.proton_mass
    mass = 0.5 * (i.neutron_mass + i.proton_mass)
    f, g, f2 = 1.0, i.axial_coupling, i.magnetic_moment_difference
    y2 = 0.5 * (delta**2 - me**2)
    open_ = e_nu >= ibd_threshold(i)
    e0 = np.where(open_, e_nu - delta, me * 1.0001)
    p0 = np.sqrt(np.maximum(e0**2 - me**2, 0.0))
    v0 = p0 / e0
    e1 = e0 * (1 - e_nu / mass * (1 - v0 * cos)) - y2 / mass
    e1 = np.maximum(e1, me)
    p1 = np.sqrt(e1**2 - me**2)
    v1 = p1 / e1
    gamma = (2 * (f + f2) * g * ((2 * e0 + delta) * (1 - v0 * cos) - me**2 / e0)
             + (f**2 + g**2) * (delta * (1 + v0 * cos) + me**2 / e0)
             + (f**2 + 3 * g**2) * ((e0 + delta) * (1 - cos / v0) - delta)
             + (f**2 - g**2) * ((e0 + delta) * (1 - cos / v0) - delta) * v0 * cos)
    s0 = sigma0(i) / (f**2 + 3 * g**2)
    ds = (0.5 * s0 * ((f**2 + 3 * g**2) + (f**2 - g**2) * v1 * cos) * e1 * p1
          - 0.5 * s0 * gamma / mass * e0 * p0)
    ds = np.where(open_ & (p1 > 0), np.maximum(ds, 0.0), 0.0)
    return np.where(open_, e1, me), ds


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of an ``n``-point Gauss–Legendre rule on [-1, 1]."""
    n = validate.integer("n_cos", n, 1, 64)
    return np.polynomial.legendre.leggauss(n)


def ibd_cross_section(e_nu, inputs: ReactorInputs | None = None, *, n_cos: int = 16) -> np.ndarray:
    """Total IBD cross-section to first order, mm² (∫ dσ/dcos θ with Gauss–Legendre)."""
    i = _inputs(inputs)
    e = validate.energies("e_nu", e_nu, 0.0, E_NU_MAX)
    x, w = gauss_legendre(n_cos)
    return _ibd_cross_section(e, i, x, w)


def _ibd_cross_section(e: np.ndarray, i: ReactorInputs, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    _, ds = _ibd_kinematics(e[..., None], x, i)
    return ds @ w


def target_protons(inputs: ReactorInputs | None = None, scint=None) -> float:
    """Free protons (H nuclei) in the LS mass: M w_H N_A / A_H (composition of data/scintillator.yaml)."""
    from ..particles.scintillator import Scintillator

    i = _inputs(inputs)
    scint = (Scintillator.load() if scint is None
             else validate.instance("scint", scint, Scintillator, hint="Scintillator.load()"))
    return i.ls_mass / units.g * scint.mass_fraction_h * AVOGADRO / scint.atomic_weight_h


def ibd_yield_per_fission(isotope: str, inputs: ReactorInputs | None = None, *,
                          e_max: float = 12.0, n: int = 4000) -> float:
    """σ_f = ∫ S_i(E) σ_IBD(E) dE, mm² per fission (the quantity Daya Bay quotes per isotope)."""
    validate.choice("isotope", isotope, ISOTOPES)
    i = _inputs(inputs)
    e_max = validate.number("e_max", e_max, ibd_threshold(i), E_NU_MAX, unit="MeV", lo_open=True)
    n = validate.integer("n", n, 2, 10**6)
    e = np.linspace(ibd_threshold(i), e_max, n)
    x, w = gauss_legendre(16)
    y = _isotope_spectra(e, i)[ISOTOPES.index(isotope)] * _ibd_cross_section(e, i, x, w)
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(e)))


def core_weights(cores=None, baseline_scale: float = 1.0) -> np.ndarray:
    """P_th / (4π L²) of each core, GW / mm²."""
    if cores is None or (isinstance(cores, (tuple, list)) and not cores):
        cores = load_cores()
    else:
        validate.instance("cores", cores, (tuple, list), hint="load_cores()")
        for c in cores:
            validate.instance("cores", c, Core, hint="load_cores()")
    baseline_scale = validate.number("baseline_scale", baseline_scale, 1e-6, 1e3,
                                     why="a baseline shorter than 10^-6 of the real one is no reactor site")
    return np.array([c.power / (4 * np.pi * (c.baseline * baseline_scale) ** 2) for c in cores])
