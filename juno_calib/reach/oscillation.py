"""Three-flavour electron-antineutrino survival probability, in vacuum and in constant matter.

Vacuum (exact for three flavours; the CP phase and θ23 drop out of P(ν̄e → ν̄e))::

    P = 1 - cos⁴θ13 sin²2θ12 sin²Δ21 - sin²2θ13 (cos²θ12 sin²Δ31 + sin²θ12 sin²Δ32),
    Δij = Δm²ij L / (4 E ħc),   Δ32 = Δ31 - Δ21 (signed).

The ordering enters only through the sign of Δm²31: normal ordering (NO) Δm²31 > 0 makes
|Δm²31| > |Δm²32|, inverted (IO) the reverse. At 52.5 km this is the fast ripple whose phase
shift between the orderings JUNO measures (JUNO Yellow Book, J. Phys. G 43 (2016) 030401).

Matter: :func:`survival_probability_matter` diagonalises the 3×3 Hamiltonian with a constant
electron density (antineutrino potential -√2 G_F N_e) for every energy, exactly; the chapter
uses it to measure what the vacuum formula leaves out (a ~1% shift of Δm²21 and θ12 at reactor
energies; A. N. Khan, H. Nunokawa, S. J. Parke, Phys. Lett. B 803 (2020) 135354).

Parameters live in ``data/oscillation.yaml``: a global fit (PDG 2022) and the first JUNO
measurement of the solar pair (OSC25), which replaces sin²θ12 and Δm²21.

Internal units: energies MeV, lengths mm, Δm² in MeV² (``units.eV**2``).
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from ..core import units, validate
from ..core.constants import AVOGADRO, HBAR_C
from ..core.params import Quantity, check_choice, check_range, load_quantities, load_yaml

ORDERINGS = ("normal", "inverted")
FITS = ("global", "juno2025")
_FIELDS = ("sin2_theta12", "dm2_21", "sin2_theta13", "dm2_32_normal", "dm2_32_inverted")


@cache
def _constants() -> dict[str, float]:
    q = load_quantities("oscillation")
    return {k: v.internal for k, v in q.items()}


def hbar_c() -> float:
    """ħc in MeV mm (:data:`juno_calib.core.constants.HBAR_C`)."""
    return HBAR_C


@dataclasses.dataclass(frozen=True, kw_only=True)
class OscillationParameters:
    """The four parameters of ν̄e disappearance (internal units; Δm² in MeV²).

    ``dm2_31`` is signed: > 0 normal ordering, < 0 inverted ordering.
    """

    sin2_theta12: float
    sin2_theta13: float
    dm2_21: float
    dm2_31: float
    label: str = ""

    def __post_init__(self):
        check_range("sin2_theta12", self.sin2_theta12, 0.0, 1.0, lo_open=True, hi_open=True)
        check_range("sin2_theta13", self.sin2_theta13, 0.0, 1.0, hi_open=True)
        check_range("dm2_21", self.dm2_21, 0.0, lo_open=True, unit="eV2")
        if not abs(self.dm2_31) > self.dm2_21:
            raise ValueError(
                f"|dm2_31| = {abs(self.dm2_31) / units.eV**2:g} eV2 must exceed dm2_21 = "
                f"{self.dm2_21 / units.eV**2:g} eV2 (the atmospheric splitting is the large one)")

    @property
    def ordering(self) -> str:
        """``"normal"`` or ``"inverted"``."""
        return "normal" if self.dm2_31 > 0 else "inverted"

    @property
    def dm2_32(self) -> float:
        """Δm²32 = Δm²31 - Δm²21 (signed), MeV²."""
        return self.dm2_31 - self.dm2_21

    @property
    def dm2_ee(self) -> float:
        """|Δm²ee| = cos²θ12 |Δm²31| + sin²θ12 |Δm²32|, the effective splitting of reactor
        experiments, MeV² (S. Parke, Phys. Rev. D 93 (2016) 053008)."""
        return (1 - self.sin2_theta12) * abs(self.dm2_31) + self.sin2_theta12 * abs(self.dm2_32)

    def other_ordering(self, *, keep: str = "dm2_ee") -> OscillationParameters:
        """The same parameters in the other ordering.

        ``keep="dm2_ee"`` keeps |Δm²ee| (the splitting a reactor experiment measures best, so the
        start of a wrong-ordering fit); ``keep="dm2_31"`` flips the sign of Δm²31 only.
        """
        check_choice("keep", keep, ("dm2_ee", "dm2_31"))
        sign = -1.0 if self.dm2_31 > 0 else 1.0
        if keep == "dm2_31":
            return dataclasses.replace(self, dm2_31=sign * abs(self.dm2_31))
        # new ordering: |dm31| = dm_ee - s12^2 dm21 (IO) or dm_ee + s12^2 dm21 (NO)
        mag = self.dm2_ee + sign * self.sin2_theta12 * self.dm2_21
        return dataclasses.replace(self, dm2_31=sign * mag)


def load_fit(fit: str = "global") -> dict[str, Quantity]:
    """The quantities of one fit in ``data/oscillation.yaml`` (value, unit, source; error in
    ``errors``)."""
    check_choice("fit", fit, FITS)
    raw = load_yaml("oscillation")["fits"][fit]
    return {k: Quantity(value=float(raw[k]["value"]), unit=str(raw[k].get("unit", "")),
                        source=str(raw[k]["source"])) for k in _FIELDS}


def fit_errors(fit: str = "global") -> dict[str, float]:
    """1σ errors of one fit, internal units."""
    check_choice("fit", fit, FITS)
    raw = load_yaml("oscillation")["fits"][fit]
    return {k: units.to_internal(float(raw[k]["error"]), str(raw[k].get("unit", ""))) for k in _FIELDS}


def load_parameters(fit: str = "global", ordering: str = "normal") -> OscillationParameters:
    """Oscillation parameters of ``fit`` in ``ordering``; Δm²31 = Δm²32 + Δm²21.

    >>> p = load_parameters("juno2025", "normal")
    >>> round(p.sin2_theta12, 4), p.ordering
    (0.3092, 'normal')
    """
    check_choice("ordering", ordering, ORDERINGS)
    q = load_fit(fit)
    dm21 = q["dm2_21"].internal
    dm32 = q[f"dm2_32_{ordering}"].internal
    label = load_yaml("oscillation")["fits"][fit].get("label", fit)
    return OscillationParameters(sin2_theta12=q["sin2_theta12"].internal,
                                 sin2_theta13=q["sin2_theta13"].internal, dm2_21=dm21,
                                 dm2_31=dm32 + dm21, label=f"{label}, {ordering} ordering")


def fit_rows(fit: str = "global") -> list[tuple[str, str, str]]:
    """Rows (parameter, value ± error with unit, source) for a chapter's inputs table."""
    q, err = load_fit(fit), load_yaml("oscillation")["fits"][fit]
    return [(f"oscillation.{fit}.{k}", f"{v.value:g} ± {float(err[k]['error']):g} {v.unit}".strip(),
             v.source) for k, v in q.items()]


#: accepted ranges: antineutrino energy (MeV; a reactor spectrum ends near 10 MeV), baseline (up to
#: the Earth's diameter, 12,742 km) and |Δm²| (up to 10 eV², beyond any sterile-neutrino fit)
E_NU_MAX = 100.0
BASELINE_MAX = 12742.0 * units.km
DM2_MAX = 10.0 * units.eV**2


def _mixing(sin2_theta12, sin2_theta13, dm2_21, dm2_31, ndim=None):
    s12 = validate.array("sin2_theta12", sin2_theta12, 0.0, 1.0, ndim=ndim)
    s13 = validate.array("sin2_theta13", sin2_theta13, 0.0, 1.0, ndim=ndim)
    dm21 = validate.array("dm2_21", dm2_21, -DM2_MAX, DM2_MAX, unit="eV2", ndim=ndim)
    dm31 = validate.array("dm2_31", dm2_31, -DM2_MAX, DM2_MAX, unit="eV2", ndim=ndim)
    return s12, s13, dm21, dm31


def _broadcastable(names: str, *arrays) -> None:
    try:
        np.broadcast(*arrays)
    except ValueError:
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        raise ValueError(f"{names} must broadcast together (numpy rules), got shapes {shapes}") from None


def _params(params) -> OscillationParameters:
    return validate.instance("params", params, OscillationParameters, hint='load_parameters("global")')


def _phase(dm2, baseline, e_nu):
    return dm2 * baseline / (4.0 * e_nu * hbar_c())


def survival_probability_vacuum(e_nu, baseline, sin2_theta12, sin2_theta13, dm2_21, dm2_31):
    """P(ν̄e → ν̄e) in vacuum; every argument broadcasts (numpy rules).

    Parameters
    ----------
    e_nu : array_like
        Antineutrino energy, MeV (> 0).
    baseline : array_like
        Distance, mm (>= 0).
    sin2_theta12, sin2_theta13 : array_like
        Mixing, dimensionless.
    dm2_21, dm2_31 : array_like
        Mass splittings, MeV² (``units.eV**2``); the sign of ``dm2_31`` is the ordering.

    Returns
    -------
    numpy.ndarray
        Survival probability, broadcast shape.

    >>> round(float(survival_probability_vacuum(3.0, 0.0, 0.3, 0.02, 7.5e-5 * units.eV**2,
    ...                                           2.5e-3 * units.eV**2)), 12)
    1.0
    """
    e_nu = validate.energies("e_nu", e_nu, 0.0, E_NU_MAX, lo_open=True)
    baseline = validate.array("baseline", baseline, 0.0, BASELINE_MAX, unit="km")
    s12, s13, dm21, dm31 = _mixing(sin2_theta12, sin2_theta13, dm2_21, dm2_31)
    _broadcastable("e_nu, baseline, sin2_theta12, sin2_theta13, dm2_21, dm2_31",
                   e_nu, baseline, s12, s13, dm21, dm31)
    return _survival_vacuum(e_nu, baseline, s12, s13, dm21, dm31)


def _survival_vacuum(e_nu, baseline, s12, s13, dm21, dm31):
    """Kernel of :func:`survival_probability_vacuum` (float arrays, trusted)."""
    d21 = _phase(dm21, baseline, e_nu)
    d31 = _phase(dm31, baseline, e_nu)
    d32 = d31 - d21
    c13_4 = (1 - s13) ** 2
    sin2_2t12 = 4 * s12 * (1 - s12)
    sin2_2t13 = 4 * s13 * (1 - s13)
    return (1 - c13_4 * sin2_2t12 * np.sin(d21) ** 2
            - sin2_2t13 * ((1 - s12) * np.sin(d31) ** 2 + s12 * np.sin(d32) ** 2))


def survival_probability(e_nu, baseline, params: OscillationParameters, *, matter: bool = False):
    """P(ν̄e → ν̄e) for ``params``, vacuum or constant crust density (data/oscillation.yaml)."""
    _params(params)
    validate.instance("matter", matter, (bool, np.bool_))
    if matter:
        return survival_probability_matter(e_nu, baseline, params)
    return survival_probability_vacuum(e_nu, baseline, params.sin2_theta12, params.sin2_theta13,
                                       params.dm2_21, params.dm2_31)


def matter_potential(density: float | None = None, electron_fraction: float | None = None) -> float:
    """√2 G_F N_e in MeV for a density in g/cm³ (default: the crust of data/oscillation.yaml).

    >>> round(matter_potential(1.0, 1.0) / units.eV * 1e14, 2)  # 7.63e-14 eV per g/cm3 (Y_e = 1)
    7.63
    """
    c = _constants()
    rho = (c["crust_density"] if density is None
           else validate.number("density", density, 0.0, 20.0, unit="", why="g/cm3")
           * units.g / units.cm**3)
    ye = (c["electron_fraction"] if electron_fraction is None
          else validate.number("electron_fraction", electron_fraction, 0.0, 1.0))
    n_e = rho / units.g * ye * AVOGADRO  # electrons per mm^3
    return float(np.sqrt(2.0) * c["fermi_constant"] * n_e * HBAR_C ** 3)


def survival_probability_matter(e_nu, baseline, params: OscillationParameters, *,
                                density: float | None = None) -> np.ndarray:
    """P(ν̄e → ν̄e) through constant matter, exact three-flavour (numerical diagonalisation).

    Hamiltonian in the flavour basis, H = [U diag(0, Δm²21, Δm²31) Uᵀ - diag(2EV, 0, 0)] / 2E,
    with V = √2 G_F N_e (the minus sign is the antineutrino's); θ23 and δ do not enter P_ee.
    ``e_nu`` (n,) and ``baseline`` (m,) give an (m, n) result; ``density`` in g/cm³.
    """
    _params(params)
    return survival_probability_matter_batch(e_nu, baseline, params.sin2_theta12, params.sin2_theta13,
                                             params.dm2_21, params.dm2_31, density=density)[0]


def survival_probability_matter_batch(e_nu, baseline, sin2_theta12, sin2_theta13, dm2_21, dm2_31, *,
                                      density: float | None = None) -> np.ndarray:
    """:func:`survival_probability_matter` for parameter arrays (b,): result (b, m, n)."""
    e = np.atleast_1d(validate.energies("e_nu", e_nu, 0.0, E_NU_MAX, lo_open=True, ndim=(0, 1)))
    L = np.atleast_1d(validate.array("baseline", baseline, 0.0, BASELINE_MAX, unit="km", ndim=(0, 1)))
    mixing = _mixing(sin2_theta12, sin2_theta13, dm2_21, dm2_31, ndim=(0, 1))
    _broadcastable("sin2_theta12, sin2_theta13, dm2_21, dm2_31", *mixing)
    return _survival_matter_batch(e, L, *mixing, v=matter_potential(density))


def _survival_matter_batch(e, L, sin2_theta12, sin2_theta13, dm2_21, dm2_31, *, v):
    """Kernel of :func:`survival_probability_matter_batch`: ``e`` (n,), ``L`` (m,) float arrays,
    mixing broadcastable (b,), ``v`` the matter potential (MeV); trusted."""
    s12q, s13q, dm21, dm31 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                                   for x in (sin2_theta12, sin2_theta13, dm2_21, dm2_31)))
    s12, s13, c12, c13 = np.sqrt(s12q), np.sqrt(s13q), np.sqrt(1 - s12q), np.sqrt(1 - s13q)
    zero = np.zeros_like(s12)
    u = np.stack([np.stack([c12 * c13, s12 * c13, s13], -1),
                  np.stack([-s12, c12, zero], -1),
                  np.stack([-c12 * s13, -s12 * s13, c13], -1)], -2)  # R13 R12, (b, 3, 3)
    m = np.einsum("bij,bj,bkj->bik", u, np.stack([zero, dm21, dm31], -1), u)
    h = np.broadcast_to(m[:, None], (m.shape[0], e.size, 3, 3)).copy()
    h[:, :, 0, 0] -= 2 * e * v  # antineutrino potential
    lam, vec = np.linalg.eigh(h)  # (b, n, 3): 2E times the energies
    w = vec[..., 0, :] ** 2  # |V_ei|^2, (b, n, 3)
    phase = lam[:, None] * L[None, :, None, None] / (2 * e[None, None, :, None] * hbar_c())
    amp = np.sum(w[:, None] * np.exp(-1j * phase), axis=-1)
    return np.abs(amp) ** 2


def averaged_survival_probability(params: OscillationParameters) -> float:
    """The L/E → ∞ average: 1 - ½ cos⁴θ13 sin²2θ12 - ½ sin²2θ13."""
    _params(params)
    s12, s13 = params.sin2_theta12, params.sin2_theta13
    return 1 - 0.5 * (1 - s13) ** 2 * 4 * s12 * (1 - s12) - 0.5 * 4 * s13 * (1 - s13)
