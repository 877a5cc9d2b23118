"""One internal unit system: mm = ns = MeV = 1 (as in CLHEP / hepunits).

Every quantity inside the library is a plain float or array in these units. Data files and
plot axes name their units; conversion happens at the boundary with :func:`to_internal` and
by dividing by the unit (``r / m`` is a radius in metres).

>>> round(17.7 * m / cm, 6)
1770.0
>>> to_internal(20.6, "m") == 20.6 * m
True
>>> round(to_internal(15.2e-3, "g/cm2/MeV") / (g / cm**2 / MeV), 12)
0.0152
"""

from __future__ import annotations

import re

# length
mm = 1.0
cm = 10.0 * mm
m = 1000.0 * mm
km = 1000.0 * m
um = 1e-3 * mm
nm = 1e-6 * mm
# time
ns = 1.0
us = 1e3 * ns
ms = 1e6 * ns
s = 1e9 * ns
minute = 60.0 * s
hour = 3600.0 * s
day = 86400.0 * s
year = 365.25 * day
# energy
MeV = 1.0
eV = 1e-6 * MeV
keV = 1e-3 * MeV
GeV = 1e3 * MeV
# mass (grams are the mass unit; only densities and kB use it)
g = 1.0
kg = 1e3 * g
mg = 1e-3 * g
# rates and activity
Hz = 1.0 / s
kHz = 1e3 * Hz
MHz = 1e6 * Hz
Bq = 1.0 / s
kBq = 1e3 * Bq
# power (only the reactor chapter uses it)
GW = 1.0
MW = 1e-3 * GW
# angle
rad = 1.0
deg = 3.141592653589793 / 180.0
# dimensionless counters
percent = 1e-2

_TOKENS: dict[str, float] = {
    "mm": mm, "cm": cm, "m": m, "km": km, "um": um, "nm": nm,
    "ns": ns, "us": us, "ms": ms, "s": s, "min": minute, "minute": minute, "h": hour,
    "hour": hour, "d": day, "day": day, "yr": year, "year": year,
    "eV": eV, "keV": keV, "MeV": MeV, "GeV": GeV,
    "g": g, "kg": kg, "mg": mg, "L": 1e3 * cm**3,
    "Hz": Hz, "kHz": kHz, "MHz": MHz, "Bq": Bq, "kBq": kBq,
    "GW": GW, "MW": MW, "rad": rad, "deg": deg, "percent": percent,
    # counts are dimensionless
    "1": 1.0, "PE": 1.0, "photons": 1.0, "events": 1.0, "fission": 1.0,
}
_TOKEN_RE = re.compile(r"^([A-Za-z_]+|1)(-?\d+)?$")


def unit_factor(unit: str) -> float:
    """Factor that converts a value in ``unit`` to internal units.

    ``unit`` is a product/quotient of known tokens with optional integer powers, e.g.
    ``"m"``, ``"g/cm3"``, ``"g/cm2/MeV"``, ``"PE/MeV"``, ``"1/s"``; ``""`` is dimensionless.

    >>> unit_factor("g/cm3") == g / cm**3
    True
    """
    unit = unit.strip()
    if unit in ("", "-", "dimensionless", "fraction"):
        return 1.0
    numerator, *denominators = unit.split("/")
    factor = 1.0
    for part, sign in [(numerator, 1)] + [(d, -1) for d in denominators]:
        for token in part.split("*"):
            token = token.strip()
            match = _TOKEN_RE.match(token)
            if match is None or match.group(1) not in _TOKENS:
                known = ", ".join(sorted(k for k in _TOKENS if k != "1"))
                raise ValueError(f"unknown unit {token!r} in {unit!r}; known tokens: {known}")
            power = int(match.group(2) or 1)
            factor *= _TOKENS[match.group(1)] ** (sign * power)
    return factor


def to_internal(value, unit: str):
    """Convert ``value`` given in ``unit`` to internal units (works on arrays)."""
    return value * unit_factor(unit)


def from_internal(value, unit: str):
    """Express an internal-unit ``value`` in ``unit``."""
    return value / unit_factor(unit)
