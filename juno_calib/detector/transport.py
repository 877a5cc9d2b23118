"""Photon transport of the *indirect* light: scattered, re-emitted and reflected photons.

The direct light (:func:`juno_calib.detector.optics.direct_fraction`) is computed exactly, PMT by
PMT. Everything else is followed here by a photon Monte Carlo (:func:`_transport`, compiled
with numba) and tabulated once per detector configuration:

* a photon starts isotropically at ``(0, 0, r)`` in the liquid scintillator (LS);
* in the LS it travels an exponential distance of mean ``lambda_att`` (``1/lambda_att =
  1/lambda_Rayleigh + 1/lambda_abs``). An interaction is a **Rayleigh scattering** with
  probability ``lambda_att / lambda_Rayleigh``: a change of direction with the phase function
  ``(1 + cos^2 theta)`` (inverse CDF by Cardano's formula); otherwise an **absorption**, after
  which the LS **re-emits** an isotropic photon with probability ``reemission_probability``
  (``data/optics.yaml``), or the photon is lost;
* at the LS/acrylic sphere (``R``) and the acrylic/water sphere (``R + t``) the photon is
  **reflected or refracted** with the unpolarised Fresnel probabilities (Born & Wolf Sec. 1.5)
  and Snell's law for the new direction; past the critical angle it is totally reflected and
  stays **trapped**, followed until it scatters out of the trapping, is absorbed, or escapes.
  The acrylic absorbs with the length ``-t / ln(T)`` of its transmittance ``T``;
* a photon that enters the water is *scored* on the sphere of each PMT type: the water
  transmission ``exp(-d / lambda_w)`` times the probability that a photocathode of that type,
  centred where the photon crosses the sphere, intercepts it per unit area,
  ``pi a^2 P(cos eta) / cos eta`` (``P`` the projected area of the cathode cap relative to its
  disk, :func:`juno_calib.detector.optics.cathode_projection`, ``eta`` the incidence angle on
  the PMT), times the relative angular efficiency of the type, ``A(eta)`` (``data/pmts.yaml``).

Only photons that have been scattered, re-emitted or reflected at least once enter the
*indirect* table; the unscattered ones are counted apart (the test that the transport
reproduces the exact direct light uses them) and the model takes the direct light from its
exact calculation, so nothing is counted twice. Every photon ends in exactly one fate:
absorbed in the LS, the acrylic or the water (on its way to the LPMT sphere), reached the LPMT
sphere ("escaped" the detector's optical volume), or stopped after ``max_steps`` interactions
(counted, never observed to happen in practice).

The result, per PMT type ``k``, is ``I_k(r, cos alpha)``: the probability that a photon emitted
at radius ``r`` is detected (before the type's PDE) by one PMT of type ``k`` at angle ``alpha``
from the vertex direction, after at least one interaction. It is tabulated on radii uniform in
``[0, R]`` and bins uniform in ``cos alpha`` (:class:`IndirectLight`) and cached on disk
(:func:`cache_dir`), keyed by a hash of every input; a cache file whose key differs is never
read, so a changed input rebuilds the table.

Neglected (stated in chapter 3): polarisation (the Fresnel probabilities are unpolarised and
Rayleigh light is taken as unpolarised), the anisotropy correction of the Rayleigh phase
function, the wavelength spectrum (one wavelength, the emission peak), re-emission delays and
the shift of the re-emitted spectrum, reflections on PMT glass, the steel structure and the
acrylic nodes, and the bending of the direct light (kept by the exact calculation's straight
line).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numba
import numpy as np

from ..core import validate
from ..core.cache import cache_dir
from .timing import _block_state, _uniform

TRANSPORT_VERSION = 2
"""Version of the transport code; part of the cache key (bump it when the kernel changes)."""

FATES = ("absorbed_ls", "absorbed_acrylic", "absorbed_water", "escaped", "lost")
"""Names of the columns of the fate counts, in order."""




@numba.njit(cache=True)
def _rayleigh_cos(st):
    """cos(theta) drawn from the density (3/8) (1 + c^2) on [-1, 1] (Cardano on the CDF)."""
    q = 8.0 * _uniform(st) - 4.0
    s = np.sqrt(0.25 * q * q + 1.0)
    return np.cbrt(0.5 * q + s) + np.cbrt(0.5 * q - s)


@numba.njit(cache=True)
def _rotate(ux, uy, uz, c, st):
    """Unit vector at polar angle arccos(c) from (ux, uy, uz), uniform azimuth."""
    phi = 2.0 * np.pi * _uniform(st)
    s = np.sqrt(max(1.0 - c * c, 0.0))
    cp, sp = np.cos(phi), np.sin(phi)
    if abs(uz) > 0.99999:
        sgn = 1.0 if uz > 0 else -1.0
        return s * cp, s * sp, sgn * c
    d = np.sqrt(1.0 - uz * uz)
    nx = c * ux + s * (ux * uz * cp - uy * sp) / d
    ny = c * uy + s * (uy * uz * cp + ux * sp) / d
    nz = c * uz - s * d * cp
    return nx, ny, nz


@numba.njit(cache=True)
def _isotropic(st):
    c = 2.0 * _uniform(st) - 1.0
    phi = 2.0 * np.pi * _uniform(st)
    s = np.sqrt(max(1.0 - c * c, 0.0))
    return s * np.cos(phi), s * np.sin(phi), c


@numba.njit(cache=True)
def _boundary(px, py, pz, ux, uy, uz, radius, n1, n2, st):
    """Fresnel reflection or refraction of a photon at a point of the sphere ``radius``.

    Returns the new direction and ``True`` if the photon crossed into ``n2``."""
    nx, ny, nz = px / radius, py / radius, pz / radius
    cos_i = ux * nx + uy * ny + uz * nz
    if cos_i < 0.0:  # the normal on the side the photon travels to
        nx, ny, nz, cos_i = -nx, -ny, -nz, -cos_i
    cos_i = min(cos_i, 1.0)
    eta = n1 / n2
    sin_t2 = eta * eta * (1.0 - cos_i * cos_i)
    if sin_t2 >= 1.0:
        refl = 1.0
        cos_t = 0.0
    else:
        cos_t = np.sqrt(1.0 - sin_t2)
        a, b = n1 * cos_i, n2 * cos_t
        c, d = n2 * cos_i, n1 * cos_t
        rs = (a - b) / (a + b)
        rp = (c - d) / (c + d)
        refl = 0.5 * (rs * rs + rp * rp)
    if _uniform(st) < refl:
        return ux - 2.0 * cos_i * nx, uy - 2.0 * cos_i * ny, uz - 2.0 * cos_i * nz, False
    k = cos_t - eta * cos_i
    return eta * ux + k * nx, eta * uy + k * ny, eta * uz + k * nz, True


@numba.njit(cache=True)
def _interp(x, grid, values):
    """Linear interpolation of ``values`` on the increasing ``grid`` (edge values outside)."""
    n = grid.size
    if x <= grid[0]:
        return values[0]
    if x >= grid[n - 1]:
        return values[n - 1]
    j = np.searchsorted(grid, x) - 1
    w = (x - grid[j]) / (grid[j + 1] - grid[j])
    return (1.0 - w) * values[j] + w * values[j + 1]


@numba.njit(cache=True, parallel=True)
def _transport(radii, n_photons, seed, n_ls, n_acr, n_w, lam_ray, lam_abs, p_reemit, mu_acr,
               lam_w, r_ls, r_acr, r_pmt, area, aspect, ang_cos, ang_eff, n_alpha, max_steps):
    """Follow ``n_photons`` photons from each radius; see the module docstring.

    Returns ``indirect`` and ``direct`` (n_types, n_r, n_alpha) sums of the scoring weights and
    ``fates`` (n_r, 5) integer counts. Each radius has its own xoshiro256** stream seeded from
    ``seed`` (:func:`juno_calib.detector.timing._block_state`), so the result does not depend on
    the number of threads. ``lam_ray`` or ``lam_abs`` = inf switches the process off.
    """
    n_types = r_pmt.size
    n_r = radii.size
    indirect = np.zeros((n_types, n_r, n_alpha))
    direct = np.zeros((n_types, n_r, n_alpha))
    fates = np.zeros((n_r, 5), np.int64)
    inv_att = 1.0 / lam_ray + 1.0 / lam_abs
    p_scat = (1.0 / lam_ray) / inv_att if inv_att > 0 else 0.0
    eps = 1e-6
    for ir in numba.prange(n_r):  # one random stream per radius: independent of the threads
        st = np.empty(4, np.uint64)
        _block_state(seed, ir, st)
        for _ in range(n_photons):
            px, py, pz = 0.0, 0.0, radii[ir]
            ux, uy, uz = _isotropic(st)
            medium = 0  # 0 LS, 1 acrylic
            touched = False
            fate = 4
            for _step in range(max_steps):
                b = px * ux + py * uy + pz * uz
                r2 = px * px + py * py + pz * pz
                if medium == 0:
                    t_exit = -b + np.sqrt(max(b * b - r2 + r_ls * r_ls, 0.0))
                    s = -np.log(1.0 - _uniform(st)) / inv_att if inv_att > 0 else np.inf
                    if s < t_exit:
                        px, py, pz = px + s * ux, py + s * uy, pz + s * uz
                        touched = True
                        if _uniform(st) < p_scat:
                            ux, uy, uz = _rotate(ux, uy, uz, _rayleigh_cos(st), st)
                        elif _uniform(st) < p_reemit:
                            ux, uy, uz = _isotropic(st)
                        else:
                            fate = 0
                            break
                        continue
                    px, py, pz = px + t_exit * ux, py + t_exit * uy, pz + t_exit * uz
                    scale = r_ls / np.sqrt(px * px + py * py + pz * pz)
                    px, py, pz = px * scale, py * scale, pz * scale
                    ux, uy, uz, crossed = _boundary(px, py, pz, ux, uy, uz, r_ls, n_ls, n_acr, st)
                    if crossed:
                        medium = 1
                    else:
                        touched = True
                    px, py, pz = px + eps * ux, py + eps * uy, pz + eps * uz
                    continue
                # acrylic shell: next sphere along the ray
                t_out = -b + np.sqrt(max(b * b - r2 + r_acr * r_acr, 0.0))
                t_next, inner = t_out, False
                if b < 0.0:
                    disc = b * b - r2 + r_ls * r_ls
                    if disc > 0.0:
                        t_in = -b - np.sqrt(disc)
                        if 0.0 < t_in < t_out:
                            t_next, inner = t_in, True
                s = -np.log(1.0 - _uniform(st)) / mu_acr if mu_acr > 0 else np.inf
                if s < t_next:
                    fate = 1
                    break
                px, py, pz = px + t_next * ux, py + t_next * uy, pz + t_next * uz
                rad = r_ls if inner else r_acr
                scale = rad / np.sqrt(px * px + py * py + pz * pz)
                px, py, pz = px * scale, py * scale, pz * scale
                if inner:
                    ux, uy, uz, crossed = _boundary(px, py, pz, ux, uy, uz, r_ls, n_acr, n_ls, st)
                    if crossed:
                        medium = 0
                    touched = True  # back in the LS (or reflected): never direct light
                    px, py, pz = px + eps * ux, py + eps * uy, pz + eps * uz
                    continue
                ux, uy, uz, crossed = _boundary(px, py, pz, ux, uy, uz, r_acr, n_acr, n_w, st)
                if not crossed:
                    touched = True
                    px, py, pz = px + eps * ux, py + eps * uy, pz + eps * uz
                    continue
                # in the water: score on every PMT type's sphere
                b = px * ux + py * uy + pz * uz
                r2 = px * px + py * py + pz * pz
                for k in range(n_types):
                    d = -b + np.sqrt(max(b * b - r2 + r_pmt[k] * r_pmt[k], 0.0))
                    qx, qy, qz = px + d * ux, py + d * uy, pz + d * uz
                    cos_eta = (ux * qx + uy * qy + uz * qz) / r_pmt[k]
                    if cos_eta <= 0.0:
                        continue
                    c2 = cos_eta * cos_eta
                    proj = 0.5 * (cos_eta + np.sqrt(c2 + aspect[k] * aspect[k] * (1.0 - c2)))
                    w = (np.exp(-d / lam_w) * area[k] * proj / cos_eta
                         * _interp(cos_eta, ang_cos, ang_eff[k]))
                    ca = min(max(qz / r_pmt[k], -1.0), 1.0)
                    ia = min(int((ca + 1.0) * 0.5 * n_alpha), n_alpha - 1)
                    if touched:
                        indirect[k, ir, ia] += w
                    else:
                        direct[k, ir, ia] += w
                d0 = -b + np.sqrt(max(b * b - r2 + r_pmt[0] * r_pmt[0], 0.0))
                fate = 2 if _uniform(st) > np.exp(-d0 / lam_w) else 3
                break
            fates[ir, fate] += 1
    return indirect, direct, fates


@dataclasses.dataclass(frozen=True)
class TransportInputs:
    """Every input of the transport table (internal units: mm). Its :meth:`key` names the cache.

    ``r_pmt``, ``cathode_area`` (``pi a^2``), ``aspect`` (depth / radius) and ``angular_eff``
    (relative efficiency at the incidence cosines ``angular_cos``) have one entry per PMT type.
    """

    n_ls: float
    n_acrylic: float
    n_water: float
    rayleigh_length: float
    absorption_length: float
    reemission_probability: float
    acrylic_mu: float
    water_attenuation_length: float
    r_ls: float
    r_acrylic: float
    r_pmt: tuple
    cathode_area: tuple
    aspect: tuple
    angular_cos: tuple
    angular_eff: tuple
    n_r: int
    n_alpha: int
    n_photons: int
    seed: int
    max_steps: int = 1_000_000

    def key(self) -> str:
        """SHA-256 (hex, 20 characters) of every input and the code version."""
        blob = json.dumps({"version": TRANSPORT_VERSION, **dataclasses.asdict(self)}, sort_keys=True,
                          default=float)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


@dataclasses.dataclass(frozen=True, eq=False)
class IndirectLight:
    """Tabulated indirect light ``I_k(r, cos alpha)`` per PMT type (probability per photon).

    ``values`` (n_types, n_r, n_alpha) on radii ``r_i = i R / (n_r - 1)`` and bins uniform in
    ``cos alpha`` (centres ``-1 + (j + 1/2) 2 / n_alpha``); ``direct`` the same for the
    unscattered photons; ``fates`` (n_r, 5) the fate counts (:data:`FATES`); ``path`` the cache
    file it was read from or written to.
    """

    inputs: TransportInputs
    values: np.ndarray
    direct: np.ndarray
    fates: np.ndarray
    path: Path | None = None

    def at(self, kind, radius, cos_alpha) -> np.ndarray:
        """``I`` for PMT types ``kind`` at vertex radii ``radius`` (mm) and ``cos alpha``; broadcast.

        Linear in ``r`` between the radii, linear in ``cos alpha`` between bin centres (the edge
        bins hold their value to the poles)."""
        n_types = self.values.shape[0]
        k = validate.array("kind", kind, 0, n_types - 1)
        if np.any(k != np.round(k)):
            raise ValueError(f"kind must hold integer PMT type codes in [0, {n_types - 1}], got {kind!r}")
        r = validate.array("radius", radius, 0.0, self.inputs.r_ls * (1 + 1e-9), unit="m",
                           why="a vertex radius in the LS")
        c = validate.array("cos_alpha", cos_alpha, -1.0 - 1e-9, 1.0 + 1e-9)
        try:
            np.broadcast(k, r, c)
        except ValueError:
            raise ValueError(f"kind {k.shape}, radius {r.shape} and cos_alpha {c.shape} do not "
                             "broadcast") from None
        return self._at(k.astype(np.int64), r, c)

    def _at(self, kind, radius, cos_alpha) -> np.ndarray:
        """Kernel of :meth:`at` (inputs checked by it)."""
        kind = np.asarray(kind, dtype=np.int64)
        n_types, n_r, n_a = self.values.shape
        f = np.clip(np.asarray(radius, float) / self.inputs.r_ls * (n_r - 1), 0.0, n_r - 1.0)
        i = np.minimum(f.astype(np.int64), n_r - 2)
        wr = f - i
        g = np.clip((np.asarray(cos_alpha, float) + 1.0) * 0.5 * n_a - 0.5, 0.0, n_a - 1.0)
        j = np.minimum(g.astype(np.int64), n_a - 2)
        wa = g - j
        v = self.values
        return ((1 - wr) * (1 - wa) * v[kind, i, j] + wr * (1 - wa) * v[kind, i + 1, j]
                + (1 - wr) * wa * v[kind, i, j + 1] + wr * wa * v[kind, i + 1, j + 1])

    def total(self, kind: int, n_pmt: float) -> np.ndarray:
        """Indirect light (n_r,) detected by ``n_pmt`` PMTs of type ``kind`` spread uniformly over
        the sphere (the average of ``I`` over ``cos alpha`` times ``n_pmt``)."""
        return n_pmt * self.values[kind].mean(axis=1)


def _normalise(sums, inputs: TransportInputs) -> np.ndarray:
    """Weight sums per bin -> probability per photon for one PMT of each type.

    At the centre (the first radius) the light is isotropic: its row is the mean of its bins, so
    that the centre value, which every PMT reads from the same bin and which fixes the model's
    normalisation, carries the precision of the whole row, not of one bin."""
    r_pmt = np.asarray(inputs.r_pmt, float)
    bin_area = 2.0 * np.pi * r_pmt**2 * (2.0 / inputs.n_alpha)
    out = sums / (inputs.n_photons * bin_area[:, None, None])
    out[:, 0, :] = out[:, 0, :].mean(axis=1, keepdims=True)
    return out


def _check_inputs(inputs) -> None:
    """Every field of :class:`TransportInputs` in its physical range (names the field)."""
    validate.instance("inputs", inputs, TransportInputs, hint="TransportInputs(...)")
    i = inputs
    for name in ("n_ls", "n_acrylic", "n_water"):
        validate.number(f"inputs.{name}", getattr(i, name), 1.0, 3.0)
    for name in ("rayleigh_length", "absorption_length", "water_attenuation_length"):
        validate.number(f"inputs.{name}", getattr(i, name), 0.0, lo_open=True, allow_inf=True, unit="m")
    validate.number("inputs.acrylic_mu", i.acrylic_mu, 0.0, 1.0, why="per mm; 0 = a clear acrylic")
    validate.number("inputs.reemission_probability", i.reemission_probability, 0.0, 1.0)
    validate.number("inputs.r_ls", i.r_ls, 1.0, 1e6, unit="m")
    validate.number("inputs.r_acrylic", i.r_acrylic, i.r_ls, 1e6, unit="m", lo_open=True,
                    why="the acrylic's outer radius lies outside the LS")
    r_pmt = validate.array("inputs.r_pmt", i.r_pmt, i.r_acrylic, 1e6, unit="m", lo_open=True, ndim=1,
                           why="the PMTs sit in the water, outside the acrylic")
    n_t = r_pmt.size
    if n_t == 0:
        raise ValueError("inputs.r_pmt must list at least one PMT type")
    for name, lo, hi, lo_open in (("cathode_area", 0.0, 1e7, True), ("aspect", 0.0, 10.0, False)):
        a = validate.array(f"inputs.{name}", getattr(i, name), lo, hi, lo_open=lo_open, ndim=1)
        if a.size != n_t:
            raise ValueError(f"inputs.{name} needs one value per PMT type ({n_t}), got {a.size}")
    cos_grid = validate.array("inputs.angular_cos", i.angular_cos, -1.0, 1.0, ndim=1)
    if cos_grid.size < 2 or np.any(np.diff(cos_grid) <= 0):
        raise ValueError(f"inputs.angular_cos must increase and hold at least 2 values, "
                         f"got {i.angular_cos!r}")
    eff = validate.array("inputs.angular_eff", i.angular_eff, 0.0, 2.0, ndim=2)
    if eff.shape != (n_t, cos_grid.size):
        raise ValueError(f"inputs.angular_eff must have shape ({n_t}, {cos_grid.size}) (types x angles), "
                         f"got {eff.shape}")
    validate.integer("inputs.n_r", i.n_r, 2, 4096)
    validate.integer("inputs.n_alpha", i.n_alpha, 2, 4096)
    validate.integer("inputs.n_photons", i.n_photons, 1, 10**8)
    validate.integer("inputs.seed", i.seed, 0, 2**63 - 1)
    validate.integer("inputs.max_steps", i.max_steps, 1, 10**9)


def run_transport(inputs: TransportInputs) -> IndirectLight:
    """Run the photon Monte Carlo for ``inputs`` (no cache)."""
    _check_inputs(inputs)
    radii = np.linspace(0.0, inputs.r_ls, inputs.n_r)
    # a vertex on the sphere itself starts a hair inside it
    radii[-1] = inputs.r_ls * (1.0 - 1e-9)
    ang_cos = np.asarray(inputs.angular_cos, float)
    ang_eff = np.atleast_2d(np.asarray(inputs.angular_eff, float))
    ind, direct, fates = _transport(
        radii, int(inputs.n_photons), int(inputs.seed), inputs.n_ls, inputs.n_acrylic, inputs.n_water,
        inputs.rayleigh_length, inputs.absorption_length, inputs.reemission_probability, inputs.acrylic_mu,
        inputs.water_attenuation_length, inputs.r_ls, inputs.r_acrylic, np.asarray(inputs.r_pmt, float),
        np.asarray(inputs.cathode_area, float), np.asarray(inputs.aspect, float), ang_cos, ang_eff,
        int(inputs.n_alpha), int(inputs.max_steps))
    return IndirectLight(inputs=inputs, values=_normalise(ind, inputs), direct=_normalise(direct, inputs),
                         fates=fates)


def indirect_light(inputs: TransportInputs, *, cache: bool = True) -> IndirectLight:
    """The transport table for ``inputs``, read from the cache or built and cached.

    The cache file is ``cache_dir() / f"transport-{inputs.key()}.npz"``; it is written through a
    temporary file and an atomic rename, so an interrupted build leaves no partial file."""
    _check_inputs(inputs)
    path = cache_dir() / f"transport-{inputs.key()}.npz"
    if cache and path.is_file():
        with np.load(path) as f:
            if str(f["key"]) == inputs.key():
                return IndirectLight(inputs=inputs, values=f["values"], direct=f["direct"],
                                     fates=f["fates"], path=path)
    out = run_transport(inputs)
    if cache:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, key=np.array(inputs.key()), values=out.values, direct=out.direct, fates=out.fates)
        os.replace(tmp, path)  # atomic: no partial file after an interrupted build
        out = dataclasses.replace(out, path=path)
    return out
