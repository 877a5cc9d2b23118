"""One validation layer for the public API: check at the boundary, trust inside.

Every public function of the library checks its arguments with the helpers below *once*, on
entry, and then calls kernels (private functions, ``_name``) that trust their inputs. A
rejection is always a :class:`ValueError` (a value out of its range, a wrong shape) or a
:class:`TypeError` (not a number, not the expected object), raised here, whose message names

* the argument (``energy``, ``positions``, ``n_events`` ...),
* the offending value (the first bad element of an array, with its index, and how many are bad),
* the allowed range, with its unit (``(0, 1000] MeV``, ``r <= 17.7 m``, one of ``'lpmt', 'spmt'``).

Every helper *returns* the checked value in the form the kernel wants (a float ``ndarray``, an
``(n, 3)`` array, an ``int``), so that a public function reads::

    from ..core import validate

    def sample_compton(energy, *, rng):
        e = validate.energies("energy", energy, lo=0.0, lo_open=True)
        validate.generator("rng", rng)
        return _sample_compton(e, rng=rng)

Conventions

* Ranges are closed ``[lo, hi]`` unless ``lo_open`` / ``hi_open``; ``lo``/``hi`` and the values
  are in internal units (:mod:`juno_calib.core.units`); ``unit`` only changes how the message
  prints them (``unit="m"`` prints a radius of 30000 mm as ``30 m``).
* NaN and +-inf are never accepted where a number is expected (``allow_inf=True`` lets an
  upper bound of ``inf`` through, e.g. an infinite half-life).
* Booleans are not numbers: ``True`` passed as an energy or a count is a ``TypeError``.
* Positions: ``(3,)`` (one point) or ``(n, 3)``; ``r_max`` is the radius of the volume the
  function is defined on (the LS sphere for the physics, the detector for the layout), with a
  relative slack of 1e-9 for points computed on its surface.

Adopting it in a new module (e.g. ``calibration/nonuniformity.py``)

1. ``from ..core import validate`` (import the module, not ``as v``: one-letter names collide
   with loop variables).
2. In every public function, check every argument on entry and keep the *returned* values:
   ``e = validate.energies("e_vis", e_vis, 0.0, 100.0)``, ``x = validate.positions("positions",
   positions, r_max=r_ls, volume=validate.LS)``, ``n = validate.integer("n_events", n_events, 1,
   10**8)``, ``validate.choice("system", system, SYSTEMS)``, ``validate.instance("response",
   response, DetectorResponse, hint='DetectorResponse.load("design")')``,
   ``validate.generator("rng", rng)``.
3. Put the work in a private kernel ``_name(...)`` that trusts its inputs, and call kernels, not
   the public functions, from inside the library (loops, cascades, chunked evaluations): a
   kernel's own intermediate values (rounding at -1e-14, a radius computed on the surface) must
   not trip the checks meant for users.
4. Give every range a physical or numerical reason and say it with ``why=`` when it is not
   obvious; bound huge values so the results stay finite (a count ≤ 1e8 keeps the memory
   bounded, an energy ≤ 1 GeV keeps ``exp``/``**2`` finite) and tiny ones so they do not
   underflow. The property tests check that accepted input gives finite results.
5. Add the function to ``tests/test_properties.py`` with its invariants (energy conservation,
   PE ≥ 0, positions in the LS, probabilities in [0, 1] ...).

The checks are O(n) numpy passes, negligible next to any physics kernel.

Helpers: :func:`number`, :func:`integer`, :func:`array`, :func:`energies`,
:func:`positions`, :func:`choice`, :func:`instance`, :func:`generator`. The older
:func:`juno_calib.core.params.check_range` / ``check_choice`` use the same message format
(parameter sets call them in ``__post_init__``).

>>> energies("energy", [1.0, 2.0])
array([1., 2.])
>>> energies("energy", [1.0, -1.0], lo=0.0, lo_open=True)
Traceback (most recent call last):
...
ValueError: energy[1] = -1 MeV is outside the allowed range (0, inf) MeV (1 of 2 values bad)
>>> positions("positions", [0, 0, 3e4], r_max=17700.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: positions[0] = (0, 0, 30) m has radius 30 m, outside the allowed volume: ...
>>> integer("n_events", 0, lo=1)
Traceback (most recent call last):
...
ValueError: n_events = 0 is outside the allowed range [1, inf)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from . import units

__all__ = ["number", "integer", "array", "energies", "positions", "choice", "instance",
           "generator", "RADIUS_SLACK", "LS", "PMT_VOLUME", "PMT_R_MAX"]

#: the name of the LS volume in messages (``positions(..., volume=LS)``)
LS = "the LS sphere"
#: where a PMT may be: inside the water pool (radius 21.75 m, height 44 m: every point within 50 m of
#: the centre); beyond it a distance overflows nothing but is no detector
PMT_VOLUME = "the water pool"
PMT_R_MAX = 50_000.0
#: relative slack on ``r_max`` for points computed on the surface (rounding of r = |x|)
RADIUS_SLACK = 1e-9


def _factor(unit: str) -> float:
    return units.unit_factor(unit) if unit else 1.0


def _range_text(lo, hi, lo_open, hi_open, unit) -> str:
    f = _factor(unit)
    left = "(" if lo_open or lo == -math.inf else "["
    right = ")" if hi_open or hi == math.inf else "]"
    u = f" {unit}" if unit and unit != "1" else ""
    return f"{left}{lo / f:g}, {hi / f:g}{right}{u}"


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def number(name: str, value, lo=-math.inf, hi=math.inf, *, unit: str = "",
           lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False,
           why: str = "") -> float:
    """A real scalar in ``[lo, hi]`` (bounds optionally open); returns it as ``float``.

    >>> number("precision", 0.001, 0, 1, lo_open=True)
    0.001
    >>> number("precision", float("nan"), 0, 1, lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: precision = nan is outside the allowed range (0, 1]
    >>> number("precision", "0.1")
    Traceback (most recent call last):
    ...
    TypeError: precision must be a real number, got '0.1' (str)
    """
    if _is_bool(value) or not isinstance(value, (numbers.Real, np.ndarray)) \
            or (isinstance(value, np.ndarray) and (value.ndim != 0 or value.dtype.kind not in "iuf")):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    bad = (math.isnan(v) or (math.isinf(v) and not allow_inf)
           or (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi))
    if bad:
        f = _factor(unit)
        u = f" {unit}" if unit and unit != "1" else ""
        raise ValueError(f"{name} = {v / f:g}{u} is outside the allowed range "
                         f"{_range_text(lo, hi, lo_open, hi_open, unit)}" + (f"; {why}" if why else ""))
    return v


def integer(name: str, value, lo=-math.inf, hi=math.inf) -> int:
    """An integer (Python or numpy; a float with an integral value is accepted) in ``[lo, hi]``.

    >>> integer("n", 3.0, lo=1)
    3
    >>> integer("n", 2.5, lo=1)
    Traceback (most recent call last):
    ...
    TypeError: n must be an integer, got 2.5 (float)
    """
    if _is_bool(value):
        raise TypeError(f"{name} must be an integer, got {value!r} (bool)")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) \
            and float(value).is_integer():
        v = int(value)
    elif isinstance(value, numbers.Real) and math.isnan(float(value)):
        raise ValueError(f"{name} = nan is outside the allowed range {_range_text(lo, hi, False, False, '')}")
    else:
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if v < lo or v > hi:
        raise ValueError(f"{name} = {v} is outside the allowed range "
                         f"{_range_text(lo, hi, False, False, '')}")
    return v


def _as_float_array(name: str, value) -> np.ndarray:
    if _is_bool(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r} "
                        f"({type(value).__name__})")
    try:
        a = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers: {err}") from None
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype} "
                        f"(value {_short(value)})")
    return a.astype(float, copy=False)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_bad(name: str, a: np.ndarray, bad: np.ndarray, what: str, unit: str) -> str:
    idx = np.argwhere(bad)[0]
    f = _factor(unit)
    u = f" {unit}" if unit and unit != "1" else ""
    where = f"{name}[{', '.join(str(int(i)) for i in idx)}]" if a.ndim else name
    count = f" ({int(bad.sum())} of {a.size} values bad)" if a.ndim else ""
    return f"{where} = {float(a[tuple(idx)]) / f:g}{u} {what}{count}"


def array(name: str, value, lo=-math.inf, hi=math.inf, *, unit: str = "", lo_open: bool = False,
          hi_open: bool = False, ndim: int | tuple[int, ...] | None = None, size_min: int = 0,
          allow_inf: bool = False, why: str = "") -> np.ndarray:
    """A float array whose every element is finite and in ``[lo, hi]``.

    ``ndim``: the allowed number(s) of dimensions; ``size_min``: the least number of elements;
    ``why``: where the range comes from, appended to the message. Returns a float ``ndarray``
    (a view of the input when it already is one).

    >>> array("sigma_over_e", [0.03, float("inf")], 0, 1, lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: sigma_over_e[1] = inf is outside the allowed range (0, 1] (1 of 2 values bad)
    """
    a = _as_float_array(name, value)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {a.shape}")
    if a.size < size_min:
        raise ValueError(f"{name} needs at least {size_min} values, got {a.size}")
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(a) | (allow_inf & np.isposinf(a) & (hi == math.inf))
        below = a <= lo if lo_open else a < lo
        above = a >= hi if hi_open else a > hi
    bad = ~finite | below | above
    if bad.any():
        raise ValueError(_first_bad(name, a, bad, "is outside the allowed range "
                                    + _range_text(lo, hi, lo_open, hi_open, unit), unit)
                         + (f"; {why}" if why else ""))
    return a


def energies(name: str, value, lo: float = 0.0, hi: float = math.inf, *, lo_open: bool = False,
             hi_open: bool = False, unit: str = "MeV", ndim=None, size_min: int = 0,
             why: str = "") -> np.ndarray:
    """Energies (internal MeV): finite, in ``[lo, hi]`` (default ``[0, inf)``), any shape.

    Same as :func:`array` with the unit printed as MeV by default.
    """
    return array(name, value, lo, hi, unit=unit, lo_open=lo_open, hi_open=hi_open, ndim=ndim,
                 size_min=size_min, why=why)


def positions(name: str, value, *, r_max: float | None = None, n: int | None = None,
              single: bool = True, unit: str = "m", volume: str = "") -> np.ndarray:
    """Points in mm: finite, shape ``(3,)`` or ``(n, 3)``, radius at most ``r_max``.

    Parameters
    ----------
    name : argument name for the message.
    value : array_like, ``(3,)`` or ``(k, 3)`` mm.
    r_max : radius of the volume the function is defined on (mm); ``None``: no limit.
    n : if given, a ``(3,)`` point is broadcast to ``(n, 3)`` and a ``(k, 3)`` array needs
        ``k == n``.
    single : accept a ``(3,)`` point (returned as ``(1, 3)`` when ``n`` is None).
    unit : unit of the printed values ("m" by default).
    volume : what ``r_max`` is, for the message (e.g. :data:`LS`, "the LS sphere").

    Returns
    -------
    numpy.ndarray
        ``(k, 3)`` float array (a copy when broadcast).
    """
    a = _as_float_array(name, value)
    if a.shape == (3,) and single:
        a = a[None, :]
        if n is not None:
            a = np.repeat(a, n, axis=0)
    allowed = "(3,) or (n, 3)" if single else "(n, 3)"
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{name} must have shape {allowed} (x, y, z in mm), "
                         f"got shape {np.shape(value)}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have shape (3,) or ({n}, 3) to match the other arguments, "
                         f"got shape {a.shape}")
    f = _factor(unit)
    u = f" {unit}" if unit else ""
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        coords = ", ".join(f"{c / f:g}" for c in a[i])
        raise ValueError(f"{name}[{i}] = ({coords}){u} is not finite: every coordinate must be a "
                         f"finite number ({int((~finite).sum())} of {len(a)} points bad)")
    if r_max is not None and a.size:
        r = np.sqrt(np.einsum("ij,ij->i", a, a))
        out = r > r_max * (1.0 + RADIUS_SLACK)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(
                f"{name}[{i}] = ({', '.join(f'{c / f:g}' for c in a[i])}){u} has radius {r[i] / f:g}{u}, "
                f"outside {volume or 'the allowed volume'}: allowed r <= {r_max / f:g}{u} "
                f"({int(out.sum())} of {len(a)} points bad)")
    return a


def choice(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them.

    >>> choice("system", "LPMT", ("lpmt", "spmt"))
    Traceback (most recent call last):
    ...
    ValueError: system = 'LPMT' is not allowed; choose one of 'lpmt', 'spmt'
    """
    choices = tuple(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} = {_short(value)} is not allowed; choose one of "
                         f"{', '.join(map(repr, choices))}")
    return value


def instance(name: str, value, types, hint: str = ""):
    """``value`` if it is an instance of ``types``, else a ``TypeError`` naming the expected type.

    ``hint`` says how to make one (e.g. ``'get_source("Cs137")'``).

    >>> instance("source", "Cs137", int, hint='get_source("Cs137")')
    Traceback (most recent call last):
    ...
    TypeError: source must be a int (e.g. get_source("Cs137")), got 'Cs137' (str)
    """
    if not isinstance(value, types):
        names = (" or ".join(t.__name__ for t in types) if isinstance(types, tuple)
                 else types.__name__)
        how = f" (e.g. {hint})" if hint else ""
        raise TypeError(f"{name} must be a {names}{how}, got {_short(value)} ({type(value).__name__})")
    return value


def generator(name: str, value) -> np.random.Generator:
    """A :class:`numpy.random.Generator` (``juno_calib.core.rng.make_rng(seed)`` makes one)."""
    return instance(name, value, np.random.Generator, hint="make_rng(seed)")
