"""The data of the non-uniformity analysis, simulated with the true detector (chapter 5).

This module plays the experiment: it turns the true detector
(:class:`juno_calib.detector.true_detector.TrueDetector`) into what JUNO records, and nothing
more reaches the calibration (:mod:`juno_calib.calibration.nonuniformity`):

* **Source runs** (:func:`pool_light`, :func:`source_runs`): the Am-C source at every point of
  a deployment plan. The true source position is the nominal one plus a Gaussian offset of the system's
  positioning accuracy (per axis; ``data/deployment.yaml``). The neutrons are captured away
  from the source (age-diffusion model of :mod:`juno_calib.particles.events`) and the n-H
  2.223 MeV gammas cascade in the LS. One pool of capture events, simulated once at the
  origin, is translated to every point; deposits that fall outside the LS are dropped (they
  are in water or acrylic; the transport there is treated as in LS, the light as lost), so
  the escapes near the wall and the guide-tube points outside the acrylic come out of the
  same pool. Each run records ``N = rate x DAQ time`` events (the plan's time, the source's
  neutron rate, the n-H capture fraction and the peak efficiency), drawn from the pool, with
  Poisson photo-statistics and Poisson dark noise (the mean dark noise is subtracted).
* **Positrons** (:func:`positron_events`): IBD-like positrons uniform in the LS, simulated with
  :func:`juno_calib.particles.events.simulate_positrons`, the light of every deposit from the
  true detector; the reconstructed vertex is the true one smeared by a Gaussian of per-axis
  width ``vertex_resolution_1mev / sqrt(E_vis / MeV)`` (chapter 5 can replace it with the
  reconstruction's residuals: :mod:`juno_calib.calibration.vertex_model`).
* **Spallation n-H captures** (:func:`spallation_voxels`): the peak position of the n-H
  gammas of cosmic-muon spallation neutrons in voxels of the reconstructed vertex, with the
  statistical error of a peak of the measured width and the number of captures in the voxel.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import units, validate
from ..core.params import CONFIGS, check_range
from ..detector.geometry import sample_uniform_ls
from ..hardware.budget import Programme, calibration_peak
from ..hardware.deployment import Deployment, Plan
from ..hardware.sources import NAMES as SOURCE_NAMES
from ..hardware.sources import get_source, simulate_source
from ..particles.events import simulate_positrons

ACCURACY = {"ACU": "acu_accuracy", "CLS": "cls_accuracy", "GT": "gt_accuracy", "ROV": "rov_accuracy"}
#: the largest expected PE of one event the samplers accept (a 1 GeV deposit at ~1700 PE/MeV)
PE_MAX = 1e7


def _has(name: str, value, attributes: tuple, hint: str) -> None:
    """Duck typing: ``value`` must offer ``attributes`` (tests pass light-weight stand-ins)."""
    missing = [a for a in attributes if not hasattr(value, a)]
    if missing:
        raise TypeError(f"{name} must be a {hint}, got a {type(value).__name__} "
                        f"without {', '.join(missing)}")


def _detector(detector, *attributes: str):
    _has("detector", detector, ("response",) + attributes,
         "TrueDetector (TrueDetector.build(response, weights))")
    return detector


def _pool(pool):
    _has("pool", pool, ("position", "event", "e_vis", "n_events", "per_event"),
         "Deposits (capture_pool(n, rng=rng, ...))")
    return pool


def _plan(plan, deployment) -> None:
    validate.instance("plan", plan, Plan, hint="deployment.plan(...)")
    validate.instance("deployment", deployment, Deployment, hint="Deployment.load()")


def check_plan(plan: Plan, deployment: Deployment) -> None:
    """Raise ``ValueError`` if a point lies outside the LS (ACU, CLS, ROV) or its system's reach."""
    _plan(plan, deployment)
    r = np.linalg.norm(plan.position, axis=1)
    inside = plan.system != "GT"
    if np.any(r[inside] > deployment.r_ls):
        bad = float(r[inside].max())
        raise ValueError(f"plan {plan.name}: a source point at r = {bad / units.m:.3f} m is outside "
                         f"the LS (allowed: r <= {deployment.r_ls / units.m:.3f} m for ACU, CLS, ROV)")
    plan.check(deployment)


def true_positions(plan: Plan, deployment: Deployment, *, rng: np.random.Generator) -> np.ndarray:
    """(P, 3) mm: the nominal positions plus Gaussian offsets of each system's accuracy (per axis)."""
    _plan(plan, deployment)
    validate.generator("rng", rng)
    sigma = np.array([getattr(deployment, ACCURACY[str(s)]) for s in plan.system])
    return plan.position + sigma[:, None] * rng.standard_normal((len(plan), 3))


def run_events(plan: Plan, config: str = "design", source: str = "AmC") -> np.ndarray:
    """(P,) number of calibration-peak events of every run: rate x DAQ time.

    rate = source activity x branch fraction of the peak (for Am-C the n-H capture fraction)
    x peak efficiency of the programme (``data/calibration_programme.yaml``).
    """
    validate.instance("plan", plan, Plan, hint="deployment.plan(...)")
    validate.choice("config", config, CONFIGS)
    validate.choice("source", source, SOURCE_NAMES)
    _, branch = calibration_peak(source, config)
    rate = get_source(source, config).activity * branch * Programme.load(config).peak_efficiency
    return np.maximum(np.round(rate * plan.daq_time), 0).astype(np.int64)


def capture_pool(n_pool: int, *, rng: np.random.Generator, scint, geometry, config: str = "design"):
    """Deposits of ``n_pool`` Am-C neutron captures (n-H and n-C gammas) around the origin."""
    check_range("n_pool", n_pool, 50, 10**6)
    validate.generator("rng", rng)
    return simulate_source(get_source("AmC", config), int(n_pool), np.zeros(3), rng=rng, scint=scint,
                           geometry=geometry, part="capture")


def pool_light(detector, pool, positions, *, chunk: int = 16) -> np.ndarray:
    """(V, P, n_pool) expected LPMT PE of every pool event translated to each of ``positions``
    (P, 3), for the V efficiency sets of the detector. Deposits outside the LS give no light.
    """
    _detector(detector, "light_variants", "weights")
    _pool(pool)
    pos = validate.positions("positions", positions, r_max=2 * detector.response.geometry.r_ls,
                             volume="twice the LS radius (source points are in or near the LS)")
    chunk = validate.integer("chunk", chunk, 1, 10**5)
    r_ls = detector.response.geometry.r_ls
    n, n_v = pool.n_events, detector.weights.shape[1]
    out = np.empty((n_v, len(pos), n))
    for a in range(0, len(pos), chunk):  # chunks of points bound the (chunk, D, 3) temporaries
        x = pos[a:a + chunk, None, :] + pool.position[None, :, :]
        inside = np.einsum("pdk,pdk->pd", x, x) < r_ls * r_ls
        ev = (np.arange(x.shape[0])[:, None] * n + pool.event[None, :])[inside]
        w = detector.light_variants(x[inside]) * pool.e_vis[None, :].repeat(x.shape[0], 0)[inside][:, None]
        for v in range(n_v):  # a few efficiency sets
            out[v, a:a + chunk] = np.bincount(ev, weights=w[:, v], minlength=x.shape[0] * n).reshape(-1, n)
    return out


def source_runs(light, n_events, dark: float, *, rng: np.random.Generator) -> list[np.ndarray]:
    """Recorded PE (mean dark noise subtracted) of every run: a list of (N_p,) arrays.

    light : (P, n_pool) expected PE of the pool events at each point (:func:`pool_light` of one
    efficiency set); n_events : (P,) events per run; dark : mean dark-noise PE in the window.
    """
    lam = validate.array("light", light, 0.0, PE_MAX, ndim=2)
    if lam.shape[1] < 1:
        raise ValueError(f"light needs at least one pool event per point, got shape {lam.shape}")
    counts = validate.array("n_events", n_events, 0.0, 1e8, ndim=(0, 1))
    if np.any(counts != np.round(counts)) or counts.ndim == 1 and counts.size != len(lam):
        raise ValueError(f"n_events must be integer event counts, one per point ({len(lam)}) or one "
                         f"for all, got {np.atleast_1d(counts)[:5]}")
    dark = validate.number("dark", dark, 0.0, PE_MAX, unit="")
    validate.generator("rng", rng)
    n_events = np.broadcast_to(np.asarray(n_events, dtype=np.int64), (len(lam),))
    out = []
    for p in range(len(lam)):  # one run per point; the events of a run are vectorised
        idx = rng.integers(lam.shape[1], size=int(n_events[p]))
        out.append(rng.poisson(lam[p, idx]) + rng.poisson(dark, idx.size) - dark)
    return out


def record(expected, dark: float, *, rng: np.random.Generator) -> np.ndarray:
    """Recorded PE of events of ``expected`` PE: Poisson signal + Poisson dark - mean dark."""
    lam = validate.array("expected", expected, 0.0, PE_MAX)
    dark = validate.number("dark", dark, 0.0, PE_MAX, unit="")
    validate.generator("rng", rng)
    return rng.poisson(lam) + rng.poisson(dark, lam.shape) - dark


def positron_events(detector, kinetic, n_per_energy: int, *, rng: np.random.Generator, scint,
                    vertex_resolution_1mev: float) -> dict:
    """IBD-like positrons of kinetic energies ``kinetic`` (K,) MeV, ``n_per_energy`` each, uniform in LS.

    Returns arrays over all events: ``k`` (energy index), ``kinetic``, ``e_vis`` (true visible
    energy, MeV), ``expected`` (N, V) expected LPMT PE for the V efficiency sets of the
    detector, ``x_true`` (N, 3), ``z`` (N, 3) unit-normal draws of the vertex smearing and
    ``x_rec = x_true + z * vertex_resolution_1mev / sqrt(e_vis)``. Record PE with
    :func:`record`.
    """
    _detector(detector, "light_variants")
    validate.generator("rng", rng)
    kinetic = np.atleast_1d(validate.energies("kinetic", kinetic, 0.0, 20.0, ndim=(0, 1)))
    check_range("n_per_energy", n_per_energy, 10, 10**7)
    check_range("vertex_resolution_1mev", vertex_resolution_1mev, 0.0, 1 * units.m, unit="cm")
    if np.any(kinetic < 0) or np.any(kinetic > 20):
        raise ValueError(f"kinetic energies must lie in [0, 20] MeV, got {kinetic.min()}..{kinetic.max()}")
    geometry = detector.response.geometry
    n = int(n_per_energy)
    t = np.repeat(kinetic, n)
    x = sample_uniform_ls(t.size, rng=rng, geometry=geometry)
    dep = simulate_positrons(t, x, rng=rng, scint=scint, geometry=geometry)
    light = detector.light_variants(dep.position) * dep.e_vis[:, None]
    expected = np.stack([np.bincount(dep.event, weights=light[:, v], minlength=t.size)
                         for v in range(light.shape[1])], axis=1)
    e_vis = dep.per_event("e_vis")
    z = rng.standard_normal((t.size, 3))
    out = {"k": np.repeat(np.arange(kinetic.size), n), "kinetic": t, "e_vis": e_vis,
           "expected": expected, "x_true": x, "z": z}
    out["x_rec"] = smear(out, vertex_resolution_1mev)
    return out


def smear(events: dict, vertex_resolution_1mev: float) -> np.ndarray:
    """Reconstructed vertices ``x_true + z * res / sqrt(E_vis/MeV)`` of positron ``events``."""
    check_range("vertex_resolution_1mev", vertex_resolution_1mev, 0.0, 1 * units.m, unit="cm")
    if not isinstance(events, dict) or not {"e_vis", "x_true", "z"} <= set(events):
        raise TypeError("events must be a dict with 'e_vis', 'x_true' and 'z' (positron_events(...)), "
                        f"got {type(events).__name__}")
    e_vis = validate.energies("events['e_vis']", events["e_vis"], 0.0, 1e3, ndim=1)
    validate.positions("events['x_true']", events["x_true"], n=e_vis.size, single=False)
    validate.positions("events['z']", events["z"], n=e_vis.size, single=False)
    e = np.maximum(events["e_vis"], 0.05)
    return events["x_true"] + events["z"] * (vertex_resolution_1mev / np.sqrt(e))[:, None]


def spallation_rate(params) -> float:
    """Spallation n-H captures per day kept: muon rate x neutrons per muon x selection."""
    for key in ("muon_rate", "neutrons_per_muon", "spallation_selection"):
        try:
            v = params[key]
        except (KeyError, TypeError, IndexError):
            raise TypeError(f"params must map {key!r} to a number (the chapter's parameters), "
                            f"got {type(params).__name__}") from None
        validate.number(f"params[{key!r}]", v, 0.0, hi=1.0 if key == "spallation_selection" else math.inf)
    per_day = params["muon_rate"] * units.day
    return float(per_day * params["neutrons_per_muon"] * params["spallation_selection"])


def spallation_voxels(detector, edges, n_captures: float, *, rng: np.random.Generator, pool,
                      vertex_resolution_1mev: float, n_sample: int = 400_000, vertex_model=None) -> dict:
    """Peak positions of spallation n-H captures in voxels of the reconstructed vertex.

    edges : (u_edges, cos_edges, phi_edges), voxel edges in ``(r/R)^3``, ``cos theta`` and
    ``phi`` (rad, from 0 to 2 pi). n_captures : captures in the LS during the data taking.
    The captures are uniform in the LS (the muon tracks cross the whole detector); a capture
    at ``x`` gives ``E L(x)`` PE on average, with ``E`` the mean visible energy of the contained
    n-H peak of the ``pool`` (capture gammas). The voxel's mean is computed from ``n_sample``
    noise-free draws; the measurement adds a Gaussian error ``sigma_peak / sqrt(N_voxel)``,
    with ``sigma_peak`` the peak width (photo-statistics and the cascade's visible-energy
    spread) and ``N_voxel`` the captures reconstructed in the voxel (the error of a peak fit
    with that many events). The reconstructed vertex is the capture point smeared by a
    Gaussian of ``vertex_resolution_1mev / sqrt(E)``, or, with a ``vertex_model``
    (:class:`juno_calib.calibration.vertex_model.VertexModel`), drawn from the reconstruction's
    residuals at the peak energy (``vertex_resolution_1mev`` then unused). Returns ``mean``
    (voxels), ``error``, ``count`` (expected captures) and the ``edges``.
    """
    check_range("n_captures", n_captures, 0.0, 1e10, lo_open=True)
    _detector(detector, "light")
    _pool(pool)
    validate.generator("rng", rng)
    edges = _edges(edges)
    check_range("vertex_resolution_1mev", vertex_resolution_1mev, 0.0, 1 * units.m, unit="cm")
    n_sample = validate.integer("n_sample", n_sample, 1, 10**8)
    if vertex_model is not None:
        from .vertex_model import VertexModel

        validate.instance("vertex_model", vertex_model, VertexModel, hint="VertexModel.from_sample(...)")
    geometry = detector.response.geometry
    e_pool = pool.per_event("e_vis")
    peak = e_pool[e_pool > 0.95 * np.median(e_pool)]
    e_mean, e_rel = float(peak.mean()), float(peak.std() / peak.mean())
    x = sample_uniform_ls(n_sample, rng=rng, geometry=geometry)
    lam = e_mean * detector.light(x)
    if vertex_model is None:
        sig = vertex_resolution_1mev / math.sqrt(e_mean)
        x_rec = x + sig * rng.standard_normal(x.shape)
    else:
        x_rec = vertex_model.sample(x, np.full(len(x), e_mean), rng=rng)
    idx, ok = _voxel_index(x_rec, edges, geometry.r_ls)
    shape = tuple(len(e) - 1 for e in edges)
    n_vox = int(np.prod(shape))
    cnt = np.bincount(idx[ok], minlength=n_vox).astype(float)
    mean = np.bincount(idx[ok], weights=lam[ok], minlength=n_vox) / np.maximum(cnt, 1)
    count = cnt * (n_captures / n_sample)
    rel = np.sqrt(1.0 / np.maximum(mean, 1.0) + e_rel**2)
    error = rel * mean / np.sqrt(np.maximum(count, 1.0))
    measured = mean + error * rng.standard_normal(n_vox)
    return {"mean": measured.reshape(shape), "error": error.reshape(shape), "count": count.reshape(shape),
            "edges": edges}


def voxel_index(positions, edges, r_ls: float):
    """Flat voxel index and in-grid mask of positions (N, 3) for edges in (u, cos theta, phi)."""
    x = validate.positions("positions", positions, single=False)
    edges = _edges(edges)
    r_ls = validate.number("r_ls", r_ls, 0.0, 1e6, unit="m", lo_open=True)
    return _voxel_index(x, edges, r_ls)


def _edges(edges):
    if not isinstance(edges, (tuple, list)) or len(edges) != 3:
        raise TypeError("edges must be a tuple (u_edges, cos_edges, phi_edges) of three arrays")
    out = []
    for name, e in zip(("u_edges", "cos_edges", "phi_edges"), edges, strict=True):
        a = validate.array(f"edges ({name})", e, ndim=1, size_min=2)
        if not np.all(np.diff(a) > 0):
            raise ValueError(f"edges ({name}) must increase strictly, got {a}")
        out.append(a)
    return tuple(out)


def _voxel_index(x, edges, r_ls: float):
    r = np.linalg.norm(x, axis=1)
    u = (r / r_ls) ** 3
    c = np.clip(x[:, 2] / np.where(r > 0, r, 1.0), -1.0, 1.0)
    ph = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * np.pi)
    ids, ok = [], (u >= edges[0][0]) & (u < edges[0][-1])
    for v, e in zip((u, c, ph), edges, strict=True):
        i = np.clip(np.searchsorted(e, v, side="right") - 1, 0, len(e) - 2)
        ids.append(i)
    flat = np.ravel_multi_index(ids, tuple(len(e) - 1 for e in edges))
    return flat, ok


def phi_average_light(detector, positions, n_phi: int = 36) -> np.ndarray:
    """The light at positions (N, 3) averaged over ``n_phi`` rotations about the z axis."""
    _detector(detector, "light")
    x = validate.positions("positions", positions, r_max=detector.response.geometry.r_ls,
                           volume=validate.LS)
    n_phi = validate.integer("n_phi", n_phi, 1, 10**4)
    rho, z = np.hypot(x[:, 0], x[:, 1]), x[:, 2]
    phi0 = np.arctan2(x[:, 1], x[:, 0])
    acc = np.zeros(len(x))
    for k in range(n_phi):  # a few tens of rotations, each vectorised over the points
        p = phi0 + 2 * np.pi * k / n_phi
        acc += detector.light(np.stack([rho * np.cos(p), rho * np.sin(p), z], axis=1))
    return acc / n_phi
