"""Physics events spread over the volume, as the experiment records them (chapter 7).

The experiment's side of the resolution measurement with uniformly distributed events: the n-H
captures of cosmic-muon spallation neutrons, which happen everywhere in the LS. Like
:mod:`juno_calib.calibration.truth` (chapter 5) this module plays the detector: the light comes
from the true detector (:class:`juno_calib.detector.true_detector.TrueDetector`), and only what
JUNO records (PE and a reconstructed vertex) goes on to the calibration.

* A capture at a point uniform in the LS takes the deposits of one event of a pool of simulated
  n-H/n-C captures (:func:`juno_calib.calibration.truth.capture_pool`), translated there;
  deposits outside the LS are lost (their γ left the LS).
* Expected PE: the sum over deposits of ``e_vis x L(x)`` of the true detector; recorded PE:
  Poisson, plus Poisson dark noise whose mean is subtracted.
* Reconstructed vertex: the light-weighted centroid of the deposits (what a charge-based
  reconstruction converges to) smeared by a Gaussian of per-axis width
  ``vertex_resolution_1mev / sqrt(E_vis / MeV)``.

The cosmogenic ¹²B decays (:func:`b12_decays`) are recorded the same way; their deposits come
from the truth's own ¹²B simulation (β and, in 1.2% of the decays, the 4.44 MeV γ).
"""

from __future__ import annotations

import numpy as np

from ..core import validate
from ..core.params import check_range
from ..detector.geometry import sample_uniform_ls
from .truth import _detector, _pool


def spallation_captures(detector, pool, n_events: int, *, rng: np.random.Generator,
                        vertex_resolution_1mev: float) -> dict:
    """``n_events`` spallation-neutron captures uniform in the LS, recorded by ``detector``.

    Parameters
    ----------
    detector : TrueDetector (its ``light(positions)`` in PE per MeV, and ``response``)
    pool : Deposits of simulated captures around the origin (``n_events``, ``event``,
        ``position``, ``e_vis``)
    n_events : int, captures to simulate (>= 100)
    rng : numpy.random.Generator
    vertex_resolution_1mev : float, mm, per-axis vertex resolution at 1 MeV

    Returns
    -------
    dict of arrays over events: ``x_true`` (capture point), ``x_rec``, ``e_vis`` (contained
    visible energy, MeV), ``expected`` and ``pe`` (recorded, mean dark noise subtracted).
    """
    _detector(detector, "light")
    _pool(pool)
    validate.generator("rng", rng)
    check_range("n_events", n_events, 100, 10**8)
    check_range("vertex_resolution_1mev", vertex_resolution_1mev, 0.0, 1000.0, unit="mm")
    geometry = detector.response.geometry
    n = int(n_events)
    r_pos, r_pick, r_pe, r_dark, r_vtx = rng.spawn(5)
    x = sample_uniform_ls(n, rng=r_pos, geometry=geometry)
    pick = r_pick.integers(pool.n_events, size=n)
    # the deposits of each picked pool event, gathered without a loop over events
    order = np.argsort(pool.event, kind="stable")
    counts = np.bincount(pool.event, minlength=pool.n_events)
    starts = np.cumsum(counts) - counts
    k = counts[pick]
    event = np.repeat(np.arange(n), k)
    within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    dep = order[np.repeat(starts[pick], k) + within]
    pos = x[event] + pool.position[dep]
    return _record(detector, x, event, pos, pool.e_vis[dep], rng_pe=r_pe, rng_dark=r_dark, rng_vtx=r_vtx,
                   vertex_resolution_1mev=vertex_resolution_1mev)


def b12_decays(detector, n_events: int, *, rng: np.random.Generator, scint,
               vertex_resolution_1mev: float) -> dict:
    """``n_events`` cosmogenic ¹²B decays uniform in the LS, recorded by ``detector``.

    The truth's microphysics (:func:`juno_calib.particles.events.simulate_b12`: the allowed β
    spectrum of the three branches, the β's visible energy with the truth's quenching and
    Cherenkov light, and the 4.44 MeV γ of the 1.2% branch transported through the LS), then the
    same recording as :func:`spallation_captures`: light of the true detector at every deposit,
    Poisson PE plus dark noise (mean subtracted), and the light centroid smeared by the vertex
    resolution. Returns the same keys as :func:`spallation_captures`.
    """
    from ..particles.events import simulate_b12

    _detector(detector, "light")
    validate.generator("rng", rng)
    check_range("n_events", n_events, 100, 10**8)
    check_range("vertex_resolution_1mev", vertex_resolution_1mev, 0.0, 1000.0, unit="mm")
    if not hasattr(scint, "birks_kb"):
        raise TypeError("scint must be a Scintillator (Scintillator.load(config)), got "
                        f"{type(scint).__name__}")
    geometry = detector.response.geometry
    n = int(n_events)
    r_pos, r_decay, r_pe, r_dark, r_vtx = rng.spawn(5)
    x = sample_uniform_ls(n, rng=r_pos, geometry=geometry)
    dep = simulate_b12(n, x, rng=r_decay, scint=scint, geometry=geometry)
    return _record(detector, x, dep.event, dep.position, dep.e_vis, rng_pe=r_pe, rng_dark=r_dark,
                   rng_vtx=r_vtx, vertex_resolution_1mev=vertex_resolution_1mev)


def _record(detector, x, event, pos, e_dep, *, rng_pe, rng_dark, rng_vtx, vertex_resolution_1mev) -> dict:
    """What JUNO records of events at ``x`` (n, 3) with deposits (``event``, ``pos``, ``e_dep``)."""
    geometry = detector.response.geometry
    n = x.shape[0]
    inside = np.einsum("ij,ij->i", pos, pos) < geometry.r_ls**2
    event, pos, e_dep = event[inside], pos[inside], e_dep[inside]
    light = e_dep * detector.light(pos)
    expected = np.bincount(event, weights=light, minlength=n)
    e_vis = np.bincount(event, weights=e_dep, minlength=n)
    dark = detector.response.dark_mean["lpmt"]
    pe = rng_pe.poisson(expected) + rng_dark.poisson(dark, n) - dark
    w = expected  # light weights of the centroid
    centroid = np.stack([np.bincount(event, weights=light * pos[:, i], minlength=n) for i in range(3)],
                        axis=1)
    centroid = np.where(w[:, None] > 0, centroid / np.where(w > 0, w, 1.0)[:, None], x)
    sigma = vertex_resolution_1mev / np.sqrt(np.maximum(e_vis, 0.05))
    x_rec = centroid + sigma[:, None] * rng_vtx.standard_normal((n, 3))
    return {"x_true": x, "x_rec": x_rec, "e_vis": e_vis, "expected": expected, "pe": pe}
