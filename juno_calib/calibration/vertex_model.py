"""A vertex model of the chapter-4 reconstruction for the physics events of chapter 5.

Chapter 5 corrects tens of thousands of positrons at their reconstructed vertex; the likelihood
fit of :mod:`juno_calib.calibration.vertex` runs at tens of events per second, too slow for all
of them. Instead a modest sample of positrons is simulated hit by hit and reconstructed
(:func:`reconstructed_positrons`: per-PMT hits with times, corrected charge-weighted centre,
likelihood fit, the whole chain of chapter 4), and its *empirical* residuals
``x_rec - x_true`` are resampled for the physics events (:class:`VertexModel`):

* the residual of every reconstructed positron is stored in its local frame: radial component
  ``d_r`` and two transverse components, with its true radius and visible energy;
* the sample has one node per positron kinetic energy; its vertices are uniform in the LS plus
  a share uniform (in ``r^3``) in an edge shell, where the total reflection makes the residual
  radius dependent and non-Gaussian;
* an event at ``(r, E)`` draws a residual of a model event of the same radial bin and of the
  node nearest in ``ln E``; the deviation from that cell's mean radial residual (the bias) is
  rescaled by ``sigma(r, E) / sigma(r, E_node)``, with ``sigma`` (the per-coordinate rms) and
  the bias interpolated linearly in ``ln E`` between the nodes (constant beyond them); the
  transverse part is turned by a random angle about the radial direction (the residual is
  taken symmetric about it: the chimney's and the layout's theta, phi structure are not
  resolved); the vertex is kept inside the LS as the fit keeps it.

So the tails, the radial bias and the edge structure come from the reconstruction itself, not
from a Gaussian. The sample is costly (minutes), so :func:`reconstructed_positrons` caches it on
disk (``$JUNO_CALIB_CACHE``, default ``~/.cache/juno_calib``) under a SHA-256 of its inputs:
the settings, the generator's state, the ``data/`` files and the source of the modules the
simulation and the reconstruction run (``detector``, ``particles``, the two vertex modules).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ..core import validate
from ..core.cache import cache_dir, code_digest
from ..core.params import CONFIGS, check_choice

MODEL_VERSION = 1
"""Bumped when the content of a cached sample changes meaning."""
R_EDGES_M = (0.0, 8.0, 12.0, 14.0, 15.0, 15.6, 16.0, 16.4, 16.8, 17.1, 17.35, 17.55, 17.7)
"""Default radial bins (m) of the model: fine where the total reflection sets in and g falls."""
MIN_CELL = 5
"""Fewest reconstructed events a (node, radial bin) cell must hold."""

_SOURCES = ("detector", "particles", "calibration/vertex.py", "calibration/vertex_model.py")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SampleSpec:
    """A sample of positrons reconstructed hit by hit (:func:`reconstructed_positrons`).

    ``kinetic``: positron kinetic energies (MeV), one node each; ``n_per_energy`` events per
    node; a share ``edge_share`` of them uniform in ``r^3`` between ``r_edge_m`` and the LS
    surface, the rest uniform in the LS. ``calib_*``: the source calibration of the
    reconstruction (:meth:`juno_calib.calibration.vertex.VertexReco.calibrate`: events at the
    centre for the time PDF, radii x events per radius for the charge-centre bias, fitted
    events per radius for the radial bias of the fit); the defaults are chapter 4's.
    ``validation_kinetic``, ``n_validation``, ``validation_edge_share``: a second, independent
    set of positrons (``n_validation`` per energy, 0 for none; uniform in the LS by default,
    the given share in the edge shell), reconstructed with the same calibration, to check the
    model against the direct reconstruction.
    """

    config: str = "design"
    kinetic: tuple = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0)
    n_per_energy: int = 120
    edge_share: float = 0.6
    r_edge_m: float = 14.0
    calib_time_events: int = 200
    calib_radii: int = 36
    calib_per_radius: int = 20
    calib_fit_per_radius: int = 6
    validation_kinetic: tuple = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    n_validation: int = 0
    validation_edge_share: float = 0.0

    def __post_init__(self):
        check_choice("config", self.config, CONFIGS)
        for name in ("kinetic", "validation_kinetic"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise TypeError(f"{name} must be a non-empty tuple of kinetic energies (MeV), got {values!r}")
            for t in values:
                validate.number(name, t, 0.0, 20.0, unit="MeV")
            if len(set(values)) != len(values) or list(values) != sorted(values):
                raise ValueError(f"{name} must be increasing and distinct, got {values!r}")
        validate.integer("n_validation", self.n_validation, 0, 10**5)
        validate.number("validation_edge_share", self.validation_edge_share, 0.0, 1.0)
        validate.integer("n_per_energy", self.n_per_energy, 2, 10**5)
        validate.number("edge_share", self.edge_share, 0.0, 1.0)
        validate.number("r_edge_m", self.r_edge_m, 0.0, 17.7, unit="m")
        validate.integer("calib_time_events", self.calib_time_events, 10, 10**6)
        validate.integer("calib_radii", self.calib_radii, 4, 1000)
        validate.integer("calib_per_radius", self.calib_per_radius, 1, 10**5)
        validate.integer("calib_fit_per_radius", self.calib_fit_per_radius, 0, self.calib_per_radius)




def _source_digest() -> str:
    return code_digest(_SOURCES)


def sample_key(spec: SampleSpec, rng: np.random.Generator) -> str:
    """SHA-256 (hex) of everything a sample depends on: settings, generator state, data, code."""
    validate.instance("spec", spec, SampleSpec, hint="SampleSpec()")
    validate.generator("rng", rng)
    state = json.dumps(rng.bit_generator.state, sort_keys=True, default=str)
    text = json.dumps({"version": MODEL_VERSION, "spec": dataclasses.asdict(spec), "rng": state,
                       "code": _source_digest()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def reconstructed_positrons(spec: SampleSpec, *, rng: np.random.Generator, cache: bool = True,
                            directory: str | Path | None = None) -> dict:
    """Positrons simulated hit by hit and reconstructed with the chapter-4 likelihood fit.

    Returns ``{"model": sample, "validation": sample or None}``, each sample a dict of arrays
    over its N events: ``node`` (index into ``spec.kinetic``),
    ``kinetic`` (MeV), ``e_vis`` (true visible energy, MeV), ``x_true`` (N, 3) mm (the
    positron vertex), ``x_rec`` (N, 3) mm (the fitted vertex), ``success`` (the minimiser
    converged), the deposits (``dep_event``, ``dep_position``, ``dep_e_vis``) and
    ``seconds`` (CPU time of the calibration, simulation and reconstruction of both sets when
    it was built), ``cached`` (read from disk). With ``cache`` the result is read from / written to
    ``directory`` (:func:`cache_dir` by default) under :func:`sample_key`.
    """
    validate.instance("spec", spec, SampleSpec, hint="SampleSpec()")
    validate.generator("rng", rng)
    validate.instance("cache", cache, (bool, np.bool_))
    path, flat, cached = None, None, False
    if cache:
        folder = cache_dir() if directory is None else Path(directory)
        path = folder / f"vertex_sample_{sample_key(spec, rng)}.npz"
        if path.exists():
            with np.load(path) as f:
                flat, cached = {k: f[k] for k in f.files}, True
    if flat is None:
        flat = _build_sample(spec, rng)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez_compressed(tmp, **flat)
            os.replace(tmp, path)
    out = {}
    for part in ("model", "validation"):
        sub = {k.split("/", 1)[1]: v for k, v in flat.items() if k.startswith(part + "/")}
        out[part] = {**sub, "seconds": float(flat["seconds"]), "cached": cached} if sub else None
    return out


def _build_sample(spec: SampleSpec, rng: np.random.Generator) -> dict:
    from ..detector.response import DetectorResponse
    from ..particles.scintillator import Scintillator
    from .vertex import VertexReco

    t_start = time.process_time()
    resp = DetectorResponse.load(spec.config)
    scint = Scintillator.load(spec.config)
    r_cal, r_model, r_val = rng.spawn(3)
    reco = VertexReco.calibrate(resp, rng=r_cal, n_time_events=spec.calib_time_events,
                                n_radii=spec.calib_radii, n_per_radius=spec.calib_per_radius,
                                n_fit_per_radius=spec.calib_fit_per_radius)
    sets = {"model": _reconstruct_set(reco, scint, spec.kinetic, spec.n_per_energy, spec.edge_share,
                                      spec.r_edge_m * 1000.0, rng=r_model)}
    if spec.n_validation:
        sets["validation"] = _reconstruct_set(reco, scint, spec.validation_kinetic, spec.n_validation,
                                              spec.validation_edge_share, spec.r_edge_m * 1000.0, rng=r_val)
    flat = {f"{part}/{k}": v for part, d in sets.items() for k, v in d.items()}
    return {**flat, "seconds": np.float64(time.process_time() - t_start)}


def _reconstruct_set(reco, scint, kinetic, n, edge_share, r_edge, *, rng) -> dict:
    """``n`` positrons per kinetic energy, a share ``edge_share`` in the shell r > r_edge (mm)."""
    from ..detector.geometry import sample_uniform_ls
    from ..particles.events import simulate_positrons
    from .vertex import reconstruct_deposits

    geometry = reco.response.geometry
    r_ls, k = geometry.r_ls, len(kinetic)
    x = sample_uniform_ls(n * k, rng=rng, geometry=geometry)
    is_edge = np.tile(np.arange(n) < int(round(edge_share * n)), k)
    u = rng.uniform((r_edge / r_ls) ** 3, 1.0, is_edge.sum())
    d = rng.standard_normal((is_edge.sum(), 3))
    x[is_edge] = d / np.linalg.norm(d, axis=1, keepdims=True) * (r_ls * np.cbrt(u))[:, None] * (1 - 1e-9)
    node = np.repeat(np.arange(k), n)
    t = np.asarray(kinetic, dtype=float)[node]
    dep = simulate_positrons(t, x, rng=rng, scint=scint, geometry=geometry)
    x_rec, _ = reconstruct_deposits(dep, reco, rng=rng)
    ok = np.all(np.isfinite(x_rec), axis=1)
    return {"node": node, "kinetic": t, "e_vis": dep.per_event("e_vis"), "x_true": x,
            "x_rec": x_rec, "success": ok, "dep_event": dep.event,
            "dep_position": dep.position, "dep_e_vis": dep.e_vis}


def _frame(x):
    """Local orthonormal frame (radial, t1, t2), each (N, 3), at positions x (N, 3)."""
    r = np.linalg.norm(x, axis=1, keepdims=True)
    u = np.where(r > 0, x / np.where(r > 0, r, 1.0), np.array([0.0, 0.0, 1.0]))
    ref = np.where(np.abs(u[:, 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    e1 = np.cross(ref, u)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return u, e1, np.cross(u, e1)


def _sample_arrays(sample) -> tuple:
    if not isinstance(sample, dict):
        raise TypeError(f"sample must be a dict from reconstructed_positrons(...)['model'], "
                        f"got {type(sample).__name__}")
    missing = [k for k in ("node", "e_vis", "x_true", "x_rec") if k not in sample]
    if missing:
        raise TypeError(f"sample lacks {', '.join(missing)} (reconstructed_positrons(...) returns them)")
    x = validate.positions("sample['x_true']", sample["x_true"], single=False)
    xr = np.asarray(sample["x_rec"], dtype=float)
    if xr.shape != x.shape:
        raise ValueError(f"sample['x_rec'] must have the shape of sample['x_true'] {x.shape}, got {xr.shape}")
    ok = np.all(np.isfinite(xr), axis=1)  # an event without LPMT hits has no vertex
    x, xr = x[ok], validate.positions("sample['x_rec']", xr[ok], single=False)
    e = validate.energies("sample['e_vis']", np.asarray(sample["e_vis"])[ok], 0.0, 1e3, ndim=1)
    node = np.asarray(sample["node"])[ok]
    if node.shape != (len(x),) or e.shape != (len(x),) or node.dtype.kind not in "iu":
        raise ValueError(f"sample['node'] (integers) and sample['e_vis'] need one value per event ({len(x)})")
    return node.astype(np.int64), e, x, xr


@dataclasses.dataclass(frozen=True, eq=False)
class VertexModel:
    """Empirical vertex residuals of the reconstruction, resampled for physics events.

    Build it with :meth:`from_sample`. ``r_edges`` (B+1,) mm radial bins; ``e_nodes`` (J,)
    mean visible energy of each node (MeV); per model event ``cell`` (node * B + bin) and
    ``local`` (N, 3) residual (radial, transverse, transverse) mm; per cell (J, B) ``bias``
    (mean radial residual, mm), ``sigma`` (per-coordinate rms about the means, mm) and
    ``count``; ``r_ls`` the LS radius (mm) that bounds the vertices.
    """

    r_edges: np.ndarray
    e_nodes: np.ndarray
    cell: np.ndarray
    local: np.ndarray
    bias: np.ndarray
    sigma: np.ndarray
    count: np.ndarray
    r_ls: float

    @classmethod
    def from_sample(cls, sample: dict, *, r_edges=None, r_ls: float = 17700.0) -> VertexModel:
        """The model of a :func:`reconstructed_positrons` sample, in radial bins ``r_edges``
        (mm, default :data:`R_EDGES_M`). A bin whose cell of some node holds fewer than
        :data:`MIN_CELL` events is merged with its neighbour (inwards for the outermost) until
        every cell holds enough; events without a vertex (no LPMT hit) are left out."""
        node, e, x, xr = _sample_arrays(sample)
        r_ls = validate.number("r_ls", r_ls, 1.0, 1e5, unit="m")
        edges = (np.asarray(R_EDGES_M, float) * 1000.0 if r_edges is None
                 else validate.array("r_edges", r_edges, 0.0, 1e5))
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"r_edges must be increasing radii (mm), at least two, got {edges}")
        edges = edges.copy()
        edges[-1] = max(edges[-1], r_ls)
        n_nodes = int(node.max()) + 1 if node.size else 0
        if n_nodes == 0 or np.unique(node).size != n_nodes:
            raise ValueError("sample['node'] must number the energy nodes 0..J-1, each with events")
        r = np.linalg.norm(x, axis=1)
        while True:  # merge sparse bins (a dozen bins at most)
            n_bins = edges.size - 1
            b = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, n_bins - 1)
            count = np.bincount(node * n_bins + b, minlength=n_nodes * n_bins).reshape(n_nodes, n_bins)
            low = np.flatnonzero(count.min(axis=0) < MIN_CELL)
            if low.size == 0:
                break
            if n_bins == 1:
                raise ValueError(f"sample: a node holds {count.min()} events (at least {MIN_CELL}); "
                                 "use more events per energy")
            i = int(low[0])
            edges = np.delete(edges, i + 1 if i + 1 < n_bins else i)
        cell = node * n_bins + b
        count = count.ravel()
        u, e1, e2 = _frame(x)
        d = xr - x
        local = np.stack([np.einsum("ij,ij->i", d, a) for a in (u, e1, e2)], axis=1)
        mean = np.stack([np.bincount(cell, weights=local[:, i], minlength=count.size) for i in range(3)], 1)
        mean /= count[:, None]
        var = sum(np.bincount(cell, weights=(local[:, i] - mean[cell, i]) ** 2, minlength=count.size)
                  for i in range(3)) / (3 * np.maximum(count - 1, 1))
        e_nodes = np.bincount(node, weights=e) / np.bincount(node)
        shape = (n_nodes, n_bins)
        return cls(r_edges=edges, e_nodes=e_nodes, cell=cell, local=local, bias=mean[:, 0].reshape(shape),
                   sigma=np.sqrt(var).reshape(shape), count=count.reshape(shape), r_ls=float(r_ls))

    def sample(self, x_true, e_vis, *, rng: np.random.Generator) -> np.ndarray:
        """Reconstructed vertices (N, 3) mm of events at ``x_true`` (N, 3) mm with visible energy
        ``e_vis`` (N,) MeV: an empirical residual of the model, rescaled to the event's energy
        (module docstring)."""
        x = validate.positions("x_true", x_true, r_max=self.r_ls, single=False)
        e = validate.energies("e_vis", e_vis, 0.0, 1e3, ndim=1)
        if e.shape != (len(x),):
            raise ValueError(f"e_vis needs one value per vertex of x_true ({len(x)}), got shape {e.shape}")
        validate.generator("rng", rng)
        n_bins = self.r_edges.size - 1
        r = np.linalg.norm(x, axis=1)
        b = np.clip(np.searchsorted(self.r_edges, r, side="right") - 1, 0, n_bins - 1)
        le, ln = np.log(np.maximum(e, 0.05)), np.log(self.e_nodes)
        j = np.argmin(np.abs(le[:, None] - ln[None, :]), axis=1)
        # interpolation in ln E between the bracketing nodes (clamped at the ends)
        lo = np.clip(np.searchsorted(ln, le) - 1, 0, max(ln.size - 2, 0))
        hi = np.minimum(lo + 1, ln.size - 1)
        w = np.clip((le - ln[lo]) / np.where(hi > lo, ln[hi] - ln[lo], 1.0), 0.0, 1.0)
        sig = np.maximum(self.sigma, 1e-6)  # a perfect reconstruction has sigma = 0
        bias_e = (1 - w) * self.bias[lo, b] + w * self.bias[hi, b]
        sigma_e = np.exp((1 - w) * np.log(sig[lo, b]) + w * np.log(sig[hi, b]))
        # draw a model event of the cell (node j, bin b)
        order = np.argsort(self.cell, kind="stable")
        start = np.concatenate([[0], np.cumsum(self.count.ravel())])
        c = j * n_bins + b
        pick = order[start[c] + (rng.random(len(x)) * self.count.ravel()[c]).astype(np.int64)]
        scale = sigma_e / sig[j, b]
        dr = bias_e + (self.local[pick, 0] - self.bias[j, b]) * scale
        psi = rng.uniform(0.0, 2 * np.pi, len(x))
        t1, t2 = self.local[pick, 1] * scale, self.local[pick, 2] * scale
        c_, s_ = np.cos(psi), np.sin(psi)
        u, e1, e2 = _frame(x)
        out = x + dr[:, None] * u + (c_ * t1 - s_ * t2)[:, None] * e1 + (s_ * t1 + c_ * t2)[:, None] * e2
        rr = np.linalg.norm(out, axis=1)
        return out * np.minimum(1.0, self.r_ls / np.where(rr > 0, rr, 1.0))[:, None]
