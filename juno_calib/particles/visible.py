"""Visible energy ``e_vis`` of electrons, positrons and gammas: the light model, normalised.

The light yield of the detector is defined (PERF25) with the 2.223 MeV n-H gamma at the
centre. So ``e_vis = c * L`` where ``L`` is the electron light model of
:mod:`juno_calib.particles.scintillator` and the constant ``c`` makes the mean of
``sum(e_vis)`` of fully contained 2.223 MeV gammas equal to 2.223 MeV. ``c`` is computed once
per :class:`~juno_calib.particles.scintillator.Scintillator` by simulating
``normalisation_gammas`` gammas (:mod:`juno_calib.particles.gamma`) in an infinite LS with the
fixed library seed ``normalisation_seed`` (data/scintillator.yaml), so it is deterministic.

This module sits above both the light model and the gamma cascade, which is why the
normalisation lives here and not in either of them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core import validate
from ..core.rng import make_rng
from .gamma import compton_cascade, isotropic_directions
from .scintillator import Scintillator, light_unnormalised


def reference_gamma_light(scint: Scintillator) -> float:
    """Mean unnormalised light ``sum L`` of a ``reference_gamma_energy`` gamma, infinite LS.

    Deterministic: uses the library seed ``scint.normalisation_seed`` (data). This fixes the
    e_vis scale (:func:`visible_scale`).
    """
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    n = int(scint.normalisation_gammas)
    rng = make_rng(int(scint.normalisation_seed))
    dirs = isotropic_directions(n, rng=rng)
    cas = compton_cascade(np.full(n, scint.reference_gamma_energy), np.zeros((n, 3)), dirs,
                          np.arange(n), n, rng=rng, scint=scint, r_ls=None)
    light = np.where(cas.positron, light_unnormalised(cas.energy, scint, positron=True),
                     light_unnormalised(cas.energy, scint))
    return float(light.sum() / n)


def visible_scale(scint: Scintillator) -> float:
    """Constant ``c`` in ``e_vis = c * L(T)``: a contained 2.223 MeV gamma -> 2.223 MeV.

    Cached per (frozen, hashable) :class:`Scintillator`; a variant made with
    ``dataclasses.replace`` gets its own value.
    """
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    return _visible_scale(scint)


@lru_cache(maxsize=64)
def _visible_scale(scint: Scintillator) -> float:
    return scint.reference_gamma_energy / reference_gamma_light(scint)


def electron_visible(t, scint: Scintillator) -> np.ndarray:
    """Visible energy ``e_vis`` (MeV) of an electron of kinetic energy ``t`` (MeV).

    Quenched scintillation plus Cherenkov light, normalised so that a fully contained
    2.223 MeV gamma has mean total e_vis of 2.223 MeV (see the module docstring).

    Parameters
    ----------
    t : array_like
        Kinetic energy in MeV, any shape, in ``[0, light_table_e_max]``.
    scint : Scintillator

    Returns
    -------
    numpy.ndarray
        e_vis in MeV, same shape as ``t``.

    >>> s = Scintillator.load()
    >>> r = electron_visible([1.0, 4.0], s) / [1.0, 4.0]
    >>> bool(0.8 < r[0] < r[1] < 1.1)
    True
    """
    return visible_scale(scint) * light_unnormalised(t, scint)


def positron_visible(t, scint: Scintillator) -> np.ndarray:
    """Visible energy (MeV) of the *kinetic* energy ``t`` of a positron.

    Same model as :func:`electron_visible` with the Bhabha stopping power; the two
    annihilation gammas are not included (simulate them with
    :func:`juno_calib.particles.events.simulate_positrons`).
    """
    return visible_scale(scint) * light_unnormalised(t, scint, positron=True)
