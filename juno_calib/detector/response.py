"""Detector response: from visible energy at a position to photo-electrons (PE) in the LPMT and
SPMT systems.

:class:`DetectorResponse` joins the PMT layout (:mod:`juno_calib.detector.geometry`), the optics
(:mod:`juno_calib.detector.optics`) and the photosensors (:class:`PMTs`, ``data/pmts.yaml``). The expected
number of PE of PMT ``k`` per MeV of visible energy deposited at ``x`` is

    mu_k(x) = Y * pde_k * [p_k(x) A_k(eta_k) + kappa * I_k(|x|, alpha_k)],

with ``p_k`` the direct-light fraction (:func:`juno_calib.detector.optics.direct_fraction`),
``A_k`` the relative detection efficiency of the PMT's type at the incidence angle ``eta_k`` of the
direct light (``data/pmts.yaml``), ``I_k`` the indirect light of its type (scattered, re-emitted,
reflected and trapped photons; the photon transport of :mod:`juno_calib.detector.transport`,
tabulated vs the vertex radius and the vertex-PMT angle ``alpha_k``), ``kappa`` the switch of the
indirect light, and ``Y`` (effective photons per MeV) fixed so that the LPMT sum at the centre
equals the configuration's ``light_yield_center`` (PERF25 defines the yield with the n-H
2.223 MeV gamma at the centre). ``Y / scint_yield`` is the model's efficiency scale. The earlier
first-order model of the indirect light, ``kappa s(|x|) p_k(0)`` (Rayleigh-scattered photons
detected like light from the centre), is kept as ``indirect_model = "first_order"``.

Fast paths (:class:`TotalMap`, :class:`juno_calib.detector.pmt_tables.PMTTable`): a total-PE map
``g(r^3, cos theta)`` and per-system tables ``T(r, alpha)`` of a single PMT's expectation,
used by the samplers below.

Two event samplers take energy deposits ``(event, position, e_vis)``:

* :meth:`DetectorResponse.sample_total` draws the LPMT and SPMT totals: Poisson of
  ``sum_d e_vis_d mu(x_d)`` plus Poisson dark noise over the readout window;
* :meth:`DetectorResponse.sample_hits` draws the same totals, then places each PE on a PMT
  (cost proportional to the number of PE, see :mod:`juno_calib.detector.pmt_tables`) and gives
  it a time (emission profile, time of flight, transit-time spread: :mod:`juno_calib.detector.timing`),
  adds dark hits (PMT drawn in proportion to its dark rate, time uniform in the readout window)
  and gives every PE a charge from its PMT type's single-PE spectrum (:mod:`juno_calib.detector.spe`:
  a Gaussian main peak, and for the NNVT MCP-PMTs a long high-charge tail). LPMTs report the
  first-hit time, PE count and charge per channel, SPMTs every hit.
"""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property

import numba
import numpy as np

from ..core import cache, validate
from ..core.params import ParamSet, check_choice, check_range, load_quantities
from .geometry import Geometry, pmt_layout
from .optics import Optics, _ray_paths, direct_fraction, rayleigh_redetected
from .pmt_tables import TABLE_SHAPE, PMTTable, _grid_cell, bilinear
from .spe import SPESpectrum, _parameters, _sample_charges, _sum_charges
from .timing import REFINE_COST, Timing, _alias_table, deposit_of_pe, readout
from .transport import IndirectLight, TransportInputs, indirect_light

PMT_NNVT, PMT_HAMAMATSU, PMT_SPMT = 0, 1, 2
HIT_THREADS = int(os.environ.get("JUNO_CALIB_HIT_THREADS", "1"))
"""Threads of the per-PMT kernel (:meth:`DetectorResponse.sample_hits`; at most numba's number of
threads). One by default: on the shared 2-core machine of ``benchmarks/README.md`` a second
thread costs more than it gains (the parallel region waits for its slowest, often descheduled,
thread); set ``JUNO_CALIB_HIT_THREADS`` (or this attribute) on a machine with free cores. The
result does not depend on it (one random stream per event)."""
SYSTEMS = ("lpmt", "spmt")
MAP_SHAPE = (64, 17)
"""Default nodes of the total-PE map: (in ``r^3``, in ``cos theta``)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PMTs(ParamSet):
    """Photon detection efficiencies, dark rates, charge resolution and the readout window."""

    _section = "pmts"
    pde_nnvt: float
    pde_hamamatsu: float
    pde_spmt: float
    dcr_nnvt: float
    dcr_hamamatsu: float
    dcr_spmt: float
    spe_resolution_nnvt: float
    spe_resolution_hamamatsu: float
    spmt_spe_resolution: float
    spe_tail_fraction_nnvt: float
    spe_tail_mean_nnvt: float
    spe_tail_shape_nnvt: float
    readout_window: float
    light_yield_center: float
    spmt_cathode_depth: float
    pde_angular_theta: tuple
    pde_angular_nnvt: tuple
    pde_angular_hamamatsu: tuple
    pde_angular_spmt: tuple

    def __post_init__(self):
        for name in ("pde_nnvt", "pde_hamamatsu", "pde_spmt"):
            check_range(name, getattr(self, name), 0.0, 1.0, lo_open=True)
        for name in ("dcr_nnvt", "dcr_hamamatsu", "dcr_spmt"):
            check_range(name, getattr(self, name), 0.0, 1e-3, unit="kHz")
        for name in ("spe_resolution_nnvt", "spe_resolution_hamamatsu", "spmt_spe_resolution"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_range("spe_tail_fraction_nnvt", self.spe_tail_fraction_nnvt, 0.0, 1.0, hi_open=True)
        check_range("spe_tail_mean_nnvt", self.spe_tail_mean_nnvt, 0.0, 100.0, lo_open=True)
        check_range("spe_tail_shape_nnvt", self.spe_tail_shape_nnvt, 0.0, 1e3, lo_open=True)
        check_range("readout_window", self.readout_window, 0.0, 1e5, unit="ns", lo_open=True)
        check_range("light_yield_center", self.light_yield_center, 1.0, 1e5, unit="PE/MeV")
        check_range("spmt_cathode_depth", self.spmt_cathode_depth, 0.0, 100.0, unit="mm")
        theta = np.asarray(self.pde_angular_theta, dtype=float)
        if theta.ndim != 1 or theta.size < 2 or theta[0] != 0.0 or np.any(np.diff(theta) <= 0) \
                or theta[-1] > np.pi / 2 + 1e-12:
            raise ValueError(f"pde_angular_theta must increase from 0 to at most 90 deg, got "
                             f"{np.degrees(theta).round(3).tolist()} deg")
        for name in ("pde_angular_nnvt", "pde_angular_hamamatsu", "pde_angular_spmt"):
            eff = np.asarray(getattr(self, name), dtype=float)
            if eff.shape != theta.shape:
                raise ValueError(f"{name} needs one value per angle of pde_angular_theta "
                                 f"({theta.size}), got {eff.size}")
            for i, e in enumerate(eff):
                check_range(f"{name}[{i}]", e, 0.0, 2.0)
            if eff[0] != 1.0:
                raise ValueError(f"{name}[0] = {eff[0]} must be 1 (efficiency relative to normal incidence)")


@dataclasses.dataclass(frozen=True, slots=True)
class TotalPE:
    """Per-event totals of the total-PE path: PE counts including dark noise, and the dark part.

    With ``charge=True`` also the summed charges (units of the mean SPE charge, signal + dark);
    otherwise these are ``None``.
    """

    lpmt: np.ndarray
    spmt: np.ndarray
    lpmt_dark: np.ndarray
    spmt_dark: np.ndarray
    lpmt_charge: np.ndarray | None = None
    spmt_charge: np.ndarray | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Hits:
    """Per-PMT response of events, stored sparsely: one row per (event, PMT) with PE.

    ``npe`` counts photo-electrons (signal + dark), ``charge`` is their summed charge in units
    of the mean single-PE charge (float32), ``time`` the first-hit time (ns after the event
    time, float32); ``n_pmt_lpmt`` separates LPMT indices from SPMT ones. An LPMT row is one
    readout channel (first-hit time, PE count, summed charge); an SPMT row is one hit (each SPMT
    PE its own row with its own time, so an SPMT may appear twice in an event). Rows of an
    event are contiguous and events are in order. Integer columns are int32 (18 bytes per row).
    """

    n_events: int
    event: np.ndarray
    pmt: np.ndarray
    npe: np.ndarray
    charge: np.ndarray
    time: np.ndarray
    n_pmt_lpmt: int

    def per_event(self, system: str = "lpmt", quantity: str = "npe") -> np.ndarray:
        """Sum of ``quantity`` ("npe" or "charge") over the PMTs of ``system`` for every event."""
        check_choice("system", system, SYSTEMS)
        check_choice("quantity", quantity, ("npe", "charge"))
        sel = self.pmt < self.n_pmt_lpmt if system == "lpmt" else self.pmt >= self.n_pmt_lpmt
        w = getattr(self, quantity)[sel]
        return np.bincount(self.event[sel], weights=w, minlength=self.n_events)


def _check_deposits(event, position, e_vis, n_events, r_ls):
    """The public samplers' inputs: shapes, event indices, e_vis >= 0, positions in the LS."""
    e_vis = validate.energies("e_vis", e_vis, 0.0, 1e6, ndim=1)
    event = np.asarray(event)
    position = np.asarray(position)
    if position.ndim != 2 or position.shape[1:] != (3,) or position.shape[0] != e_vis.shape[0] \
            or event.shape != e_vis.shape:
        raise ValueError(
            f"deposits need event (D,), position (D, 3) and e_vis (D,); got shapes "
            f"{event.shape}, {position.shape}, {e_vis.shape}"
        )
    if event.size and event.dtype.kind not in "iu":
        raise TypeError(f"event must hold integer event indices, got dtype {event.dtype}")
    n_events = validate.integer("n_events", n_events, 1, 10**8)
    if event.size and (event.min() < 0 or event.max() >= n_events):
        raise ValueError(f"event indices must lie in [0, {n_events - 1}], got [{event.min()}, {event.max()}]")
    # the light model is defined in the LS only: a deposit outside it has no yield of its own
    position = validate.positions("position", position, r_max=r_ls, volume=validate.LS)
    return event.astype(np.int64), position, e_vis, n_events


@dataclasses.dataclass(frozen=True, eq=False)
class TotalMap:
    """Expected LPMT and SPMT PE per MeV on a grid uniform in ``r^3`` and ``cos theta``.

    Computed with the direct per-PMT model at vertices in the ``phi = 0`` plane (the detector
    is taken as symmetric in ``phi``) and interpolated bilinearly in ``(r^3, cos theta)``.
    ``g`` is the LPMT map relative to its centre value: the non-uniformity of seed 000 Fig. 2.
    """

    r_ls: float
    lpmt: np.ndarray
    spmt: np.ndarray

    @classmethod
    def build(cls, response, *, n_r3: int, n_cos: int):
        """Direct calculation on ``n_r3 x n_cos`` vertices."""
        r_ls = response.geometry.r_ls
        r = r_ls * np.cbrt(np.linspace(0.0, 1.0, n_r3))
        cos_t = np.linspace(-1.0, 1.0, n_cos)
        rr, cc = np.meshgrid(r, cos_t, indexing="ij")
        ss = np.sqrt(1.0 - cc**2)
        vtx = np.stack([rr * ss, np.zeros_like(rr), rr * cc], axis=-1).reshape(-1, 3)
        tot = response.expected_total(vtx)
        return cls(r_ls=r_ls, lpmt=tot["lpmt"].reshape(n_r3, n_cos), spmt=tot["spmt"].reshape(n_r3, n_cos))

    @property
    def center(self) -> dict:
        """Expected PE per MeV at the centre, per system."""
        return {"lpmt": float(self.lpmt[0].mean()), "spmt": float(self.spmt[0].mean())}

    def _coords(self, position):
        x = np.asarray(position, dtype=float)
        r = np.linalg.norm(x, axis=-1)
        cos_t = np.where(r > 0, x[..., 2] / np.where(r > 0, r, 1.0), 1.0)
        return (r / self.r_ls) ** 3, cos_t + 1.0

    def expected(self, position) -> dict:
        """Expected PE per MeV at positions (n, 3) mm in the LS: ``{"lpmt": (n,), "spmt": (n,)}``.

        One position (3,) gives scalars. NaN or a point outside the LS sphere (where the map
        would only repeat its edge value) is a ``ValueError``.
        """
        x = validate.positions("position", position, r_max=self.r_ls, volume=validate.LS)
        out = self._expected(x)
        return {s: a[0] for s, a in out.items()} if np.shape(position) == (3,) else out

    def _expected(self, position) -> dict:
        """Kernel of :meth:`expected` (positions checked by the caller)."""
        u, c = self._coords(position)
        n_r3, n_cos = self.lpmt.shape
        d_u, d_c = 1.0 / (n_r3 - 1), 2.0 / (n_cos - 1)
        return {s: bilinear(getattr(self, s), d_u, d_c, u, c) for s in SYSTEMS}

    def g(self, position, system: str = "lpmt"):
        """Relative light yield ``g(r, theta)`` = expected / expected at the centre."""
        check_choice("system", system, SYSTEMS)
        return self.expected(position)[system] / self.center[system]



@dataclasses.dataclass(frozen=True, eq=False)
class DetectorResponse:
    """The response of a detector configuration: layout, optics, photosensors, normalisation.

    Build it with :meth:`load`; variations by passing modified parameter sets
    (``DetectorResponse.load("design", optics=dataclasses.replace(o, rayleigh_length=...))``).
    Maps and tables are computed on first use and kept on the instance.
    """

    geometry: object
    layout: object
    optics: Optics
    pmts: PMTs
    lpmt_cathode_depth: float
    map_shape: tuple = MAP_SHAPE
    table_shape: tuple = TABLE_SHAPE
    timing: Timing | None = None

    @classmethod
    def load(cls, config: str = "design", *, geometry=None, optics: Optics | None = None,
             pmts: PMTs | None = None, timing: Timing | None = None, map_shape=MAP_SHAPE,
             table_shape=TABLE_SHAPE):
        """The response of ``config`` ("design" or "as_built"), optionally with given sets."""
        geometry = geometry if geometry is not None else Geometry.load(config)
        optics = optics if optics is not None else Optics.load(config)
        pmts = pmts if pmts is not None else PMTs.load(config)
        timing = timing if timing is not None else Timing.load(config)
        depth = getattr(geometry, "lpmt_cathode_depth", None)
        if depth is None:
            depth = load_quantities("geometry", config)["lpmt_cathode_depth"].internal
        check_range("map_shape[0]", map_shape[0], 4, 4096)
        check_range("map_shape[1]", map_shape[1], 2, 4096)
        check_range("table_shape[0]", table_shape[0], 8, 4096)
        check_range("table_shape[1]", table_shape[1], 16, 20000)
        return cls(geometry=geometry, layout=pmt_layout(geometry), optics=optics, pmts=pmts,
                   lpmt_cathode_depth=float(depth), map_shape=tuple(map_shape),
                   table_shape=tuple(table_shape), timing=timing)

    # ---- per-PMT constants -------------------------------------------------------------------
    @cached_property
    def kind(self) -> np.ndarray:
        """PMT type codes (N,), LPMTs first (NNVT 0, Hamamatsu 1), then SPMTs (2)."""
        return np.asarray(self.layout.kind)

    @cached_property
    def n_lpmt(self) -> int:
        """Number of LPMTs; the layout lists them before the SPMTs."""
        n = int(np.sum(self.kind != PMT_SPMT))
        if np.any(self.kind[:n] == PMT_SPMT):
            raise ValueError("the PMT layout must list the LPMTs before the SPMTs")
        return n

    @cached_property
    def system_slice(self) -> dict:
        """PMT index ranges of the systems: ``{"lpmt": slice(0, n_lpmt), "spmt": slice(n_lpmt, N)}``."""
        return {"lpmt": slice(0, self.n_lpmt), "spmt": slice(self.n_lpmt, self.kind.size)}

    def _per_kind(self, nnvt, ham, spmt) -> np.ndarray:
        return np.choose(self.kind, [nnvt, ham, spmt]).astype(float)

    @cached_property
    def pde(self) -> np.ndarray:
        """Photon detection efficiency of every PMT (N,)."""
        p = self.pmts
        return self._per_kind(p.pde_nnvt, p.pde_hamamatsu, p.pde_spmt)

    @cached_property
    def dark_rate(self) -> np.ndarray:
        """Dark count rate of every PMT (N,), per ns."""
        p = self.pmts
        return self._per_kind(p.dcr_nnvt, p.dcr_hamamatsu, p.dcr_spmt)

    @cached_property
    def spe_spectra(self) -> tuple:
        """SPE charge spectra by type code (NNVT, Hamamatsu, SPMT): :mod:`juno_calib.detector.spe`."""
        p = self.pmts
        return (SPESpectrum(peak_sigma=p.spe_resolution_nnvt, tail_fraction=p.spe_tail_fraction_nnvt,
                            tail_mean=p.spe_tail_mean_nnvt, tail_shape=p.spe_tail_shape_nnvt,
                            name="NNVT MCP-PMT"),
                SPESpectrum(peak_sigma=p.spe_resolution_hamamatsu, name="Hamamatsu dynode PMT"),
                SPESpectrum(peak_sigma=p.spmt_spe_resolution, name="3-inch PMT"))

    @cached_property
    def dark_type_fraction(self) -> dict:
        """Share of each system's dark PE per PMT type (by dark rate): ``{"lpmt": (3,), "spmt": (3,)}``."""
        out = {}
        for s, sl in self.system_slice.items():
            w = np.bincount(self.kind[sl], weights=self.dark_rate[sl], minlength=3)
            out[s] = w / w.sum()
        return out

    @cached_property
    def spe_resolution(self) -> np.ndarray:
        """Relative width sigma_q/<q> of every PMT's whole SPE charge spectrum (N,), tail included:
        ``1 + spe_resolution**2`` is the PMT's excess-noise factor."""
        rel = [s.relative_sigma for s in self.spe_spectra]
        return self._per_kind(*rel)

    @cached_property
    def type_fraction(self) -> dict:
        """Share of each system's expected PE per PMT type for light from the centre:
        ``{"lpmt": (3,), "spmt": (3,)}`` indexed by type code (the types are interleaved over the
        sphere: in the design layout the NNVT share of the LPMT light changes by about one
        percentage point over the fiducial volume; the total-PE path splits every event's PE with
        these shares)."""
        mu = self._center_direct * self.pde
        out = {}
        for s, sl in self.system_slice.items():
            w = np.bincount(self.kind[sl], weights=mu[sl], minlength=3)
            out[s] = w / w.sum()
        return out

    def charge_enf(self, n_signal, system: str = "lpmt"):
        """Excess-noise factor of a system's summed charge with ``n_signal`` (scalar or array)
        expected signal PE plus the mean dark PE: ``var(Q) = ENF * <N>`` for the compound Poisson
        sum, with each type's ENF weighted by its share of the signal and of the dark PE."""
        check_choice("system", system, SYSTEMS)
        n = validate.array("n_signal", n_signal, 0.0, 1e9)
        enf = np.array([sp.enf for sp in self.spe_spectra])
        n_d = self.dark_mean[system]
        num = n * (self.type_fraction[system] @ enf) + n_d * (self.dark_type_fraction[system] @ enf)
        out = num / np.maximum(n + n_d, 1e-300)
        return float(out) if out.ndim == 0 else out

    @cached_property
    def cathode_aspect(self) -> np.ndarray:
        """Depth / equatorial radius of every photocathode cap (N,)."""
        radius = np.asarray(self.layout.cathode_radius, dtype=float)
        depth = np.where(self.kind == PMT_SPMT, self.pmts.spmt_cathode_depth, self.lpmt_cathode_depth)
        return depth / radius

    @cached_property
    def dark_mean(self) -> dict:
        """Mean dark-noise PE in the readout window, per system: ``sum_k DCR_k * window``."""
        w = self.pmts.readout_window
        return {s: float(self.dark_rate[sl].sum() * w) for s, sl in self.system_slice.items()}

    # ---- expectations ------------------------------------------------------------------------
    def detection_fraction(self, vertices, *, chunk: int = 32) -> np.ndarray:
        """Probability (M, N) that a photon emitted at each vertex gives a PE in each PMT.

        Direct light plus indirect light, times the PDE (see module docstring).
        ``vertices``: (M, 3) mm inside the LS sphere; computed in chunks of ``chunk`` vertices.
        """
        x = self._check_vertices(vertices)
        out = np.empty((x.shape[0], self.kind.size))
        for start in range(0, x.shape[0], chunk):
            xc = x[start:start + chunk]
            out[start:start + chunk] = self._direct(xc) + self._indirect(xc)
        return out * self.pde[None, :]

    def direct_share(self, vertices, system: str = "lpmt") -> np.ndarray:
        """Share (M,) of the expected PE of ``system`` that is direct (unscattered) light, for
        vertices (M, 3) mm in the LS; the rest is the indirect light."""
        check_choice("system", system, SYSTEMS)
        x = self._check_vertices(vertices)
        sl = self.system_slice[system]
        direct = self._direct(x)[:, sl] @ self.pde[sl]
        total = direct + self._indirect(x)[:, sl] @ self.pde[sl]
        return direct / total

    def _indirect(self, x) -> np.ndarray:
        """Indirect-light fraction (M, N) of every PMT for vertices ``x`` (M, 3) mm."""
        r = np.linalg.norm(x, axis=1)
        if self.optics.indirect_light == 0.0:
            return np.zeros((x.shape[0], self.kind.size))
        if self.optics.indirect_model == "first_order":
            return rayleigh_redetected(r, self._center_direct, self.optics, self.geometry.r_ls)
        pos = np.asarray(self.layout.position, dtype=float)
        cos_a = (x @ pos.T) / (np.where(r > 0, r, 1.0)[:, None] * np.linalg.norm(pos, axis=1)[None, :])
        cos_a = np.where(r[:, None] > 0, cos_a, 1.0)
        return self.optics.indirect_light * self.indirect._at(self.kind[None, :], r[:, None], cos_a)

    @cached_property
    def transport_inputs(self) -> TransportInputs:
        """Every input of the photon transport (:mod:`juno_calib.detector.transport`): optics,
        radii, and per PMT type (NNVT, Hamamatsu, 3-inch) the sphere radius of its cathodes, the
        mean cathode area and shape and the angular efficiency."""
        g, o = self.geometry, self.optics
        pos = np.asarray(self.layout.position, dtype=float)
        radius = np.asarray(self.layout.cathode_radius, dtype=float)
        rows = {}
        for k in (PMT_NNVT, PMT_HAMAMATSU, PMT_SPMT):
            sel = self.kind == k
            if not np.any(sel):  # a layout without this type: borrow the system's values
                sel = (self.kind == PMT_SPMT) if k == PMT_SPMT else (self.kind != PMT_SPMT)
            rows[k] = (float(np.linalg.norm(pos[sel], axis=1).mean()),
                       float(np.pi * np.mean(radius[sel] ** 2)), float(self.cathode_aspect[sel].mean()))
        cos_grid, eff = self.angular_table
        return TransportInputs(
            n_ls=o.n_ls, n_acrylic=o.n_acrylic, n_water=o.n_water, rayleigh_length=o.rayleigh_length,
            absorption_length=o.absorption_length, reemission_probability=o.reemission_probability,
            acrylic_mu=float(-np.log(o.acrylic_transmittance) / g.acrylic_thickness),
            water_attenuation_length=o.water_attenuation_length, r_ls=float(g.r_ls),
            r_acrylic=float(g.r_ls + g.acrylic_thickness), r_pmt=tuple(v[0] for v in rows.values()),
            cathode_area=tuple(v[1] for v in rows.values()), aspect=tuple(v[2] for v in rows.values()),
            angular_cos=tuple(float(c) for c in cos_grid), angular_eff=tuple(tuple(float(e) for e in row)
                                                                            for row in eff),
            n_r=o.transport_radii, n_alpha=o.transport_bins, n_photons=o.transport_photons,
            seed=o.transport_seed)

    @cached_property
    def indirect(self) -> IndirectLight:
        """The indirect-light table of this configuration (built once, cached on disk:
        :func:`juno_calib.detector.transport.indirect_light`)."""
        return indirect_light(self.transport_inputs)

    @cached_property
    def angular_table(self):
        """Relative detection efficiency vs incidence angle, per PMT type: ``(cos_grid (G,),
        eff (3, G))`` with ``cos_grid`` increasing (rows: NNVT, Hamamatsu, 3-inch)."""
        p = self.pmts
        cos_grid = np.cos(np.asarray(p.pde_angular_theta, dtype=float))[::-1]
        eff = np.array([p.pde_angular_nnvt, p.pde_angular_hamamatsu, p.pde_angular_spmt], dtype=float)
        eff = eff[:, ::-1]
        return cos_grid, eff

    def angular_efficiency(self, cos_eta, kind) -> np.ndarray:
        """Relative detection efficiency of PMTs of type ``kind`` at incidence cosines ``cos_eta``
        (linear interpolation of ``data/pmts.yaml``; 0 for light from behind); broadcast."""
        c = validate.array("cos_eta", cos_eta, -1.0 - 1e-9, 1.0 + 1e-9)
        k = validate.array("kind", kind, 0, 2)
        if np.any(k != np.round(k)):
            raise ValueError(f"kind must hold PMT type codes 0 (NNVT), 1 (Hamamatsu), 2 (3-inch), "
                             f"got {kind!r}")
        try:
            np.broadcast(c, k)
        except ValueError:
            raise ValueError(f"cos_eta {c.shape} and kind {k.shape} do not broadcast") from None
        return self._angular_efficiency(c, k.astype(np.int64))

    def _angular_efficiency(self, cos_eta, kind) -> np.ndarray:
        """Kernel of :meth:`angular_efficiency` (inputs checked by it)."""
        cos_grid, eff = self.angular_table
        c = np.clip(np.asarray(cos_eta, dtype=float), cos_grid[0], 1.0)
        kind = np.asarray(kind, dtype=np.int64)
        j = np.clip(np.searchsorted(cos_grid, c) - 1, 0, cos_grid.size - 2)
        w = (c - cos_grid[j]) / (cos_grid[j + 1] - cos_grid[j])
        out = (1.0 - w) * eff[kind, j] + w * eff[kind, j + 1]
        return np.where(np.asarray(cos_eta) > 0, out, 0.0)

    @cached_property
    def _center_direct(self) -> np.ndarray:
        """Direct-light fraction (N,) of every PMT from the centre."""
        return self._direct(np.zeros((1, 3)))[0]

    def _direct(self, x) -> np.ndarray:
        """Direct-light fraction (M, N) of every PMT for vertices ``x`` (M, 3) mm, with the
        angular efficiency of each PMT's type."""
        g = self.geometry
        pos = np.asarray(self.layout.position, dtype=float)
        p = direct_fraction(x, pos, np.asarray(self.layout.cathode_radius, dtype=float), self.cathode_aspect,
                            self.optics, g.r_ls, g.acrylic_thickness)
        if self._angular_flat:
            return p
        cos_eta = _ray_paths(x, pos, g.r_ls, g.acrylic_thickness)["cos_eta"]
        return p * self._angular_efficiency(cos_eta, self.kind[None, :])

    @cached_property
    def _angular_flat(self) -> bool:
        return bool(np.all(self.angular_table[1] == 1.0))

    @cached_property
    def photon_yield(self) -> float:
        """Effective photons per MeV of e_vis that make the LPMT centre yield the configured one.

        Compare with ``optics.scint_yield``: the ratio is the model's overall efficiency scale.
        """
        center = self.detection_fraction(np.zeros((1, 3)))[0, : self.n_lpmt].sum()
        return self.pmts.light_yield_center / center

    def expected_pe(self, vertices, *, chunk: int = 32) -> np.ndarray:
        """Expected PE per MeV of e_vis, (M, N), for every vertex (M, 3) and PMT (direct)."""
        return self.photon_yield * self.detection_fraction(vertices, chunk=chunk)

    def expected_total(self, vertices, *, chunk: int = 32) -> dict:
        """Expected LPMT and SPMT PE per MeV at each vertex: ``{"lpmt": (M,), "spmt": (M,)}``."""
        x = self._check_vertices(vertices)
        out = {s: np.empty(x.shape[0]) for s in SYSTEMS}
        for start in range(0, x.shape[0], chunk):
            mu = self.expected_pe(x[start:start + chunk], chunk=chunk)
            for s, sl in self.system_slice.items():
                out[s][start:start + chunk] = mu[:, sl].sum(axis=1)
        return out

    def _check_vertices(self, vertices) -> np.ndarray:
        return validate.positions("vertices", vertices, r_max=self.geometry.r_ls, volume=validate.LS)

    # ---- fast paths --------------------------------------------------------------------------
    @cached_property
    def total_map(self) -> TotalMap:
        """The tabulated expected LPMT/SPMT totals on a (r^3, cos theta) grid (phi = 0 plane).

        Cached on disk (:mod:`juno_calib.core.cache`) under a hash of every input of the
        response and of the detector code: computing it costs seconds, reading it milliseconds."""
        def build():
            m = TotalMap.build(self, n_r3=self.map_shape[0], n_cos=self.map_shape[1])
            return {"lpmt": m.lpmt, "spmt": m.spmt}

        arrays, _ = cache.cached("total_map", self._cache_key("total_map"), build)
        return TotalMap(r_ls=self.geometry.r_ls, lpmt=arrays["lpmt"], spmt=arrays["spmt"])

    def _cache_key(self, what: str) -> str:
        """Hash of everything a tabulated quantity of this response depends on."""
        lay = self.layout
        return cache.digest({
            "what": what, "geometry": repr(self.geometry), "optics": repr(self.optics),
            "pmts": repr(self.pmts),
            "lpmt_cathode_depth": self.lpmt_cathode_depth, "map_shape": list(self.map_shape),
            "table_shape": list(self.table_shape),
            "layout": [np.asarray(lay.position), np.asarray(lay.kind), np.asarray(lay.cathode_radius)],
            "code": cache.code_digest(["core", "detector"])})

    @cached_property
    def tables(self) -> dict:
        """Per-system single-PMT tables ``T(r, alpha)``: ``{"lpmt": PMTTable, "spmt": PMTTable}``."""
        n_r, n_alpha = self.table_shape
        g, out = self.geometry, {}
        for s, sl in self.system_slice.items():
            radius = np.asarray(self.layout.cathode_radius, dtype=float)[sl]
            out[s] = PMTTable.build(
                np.asarray(self.layout.position, dtype=float)[sl], float(radius.mean()),
                float(self.cathode_aspect[sl].mean()), self.pde[sl], self.optics, g.r_ls,
                g.acrylic_thickness, scale=self.photon_yield, n_r=n_r, n_alpha=n_alpha,
                indirect=self._indirect_grid(sl, n_r, n_alpha),
                angular=None if self._angular_flat else self._system_angular(sl))
        return out

    def _system_angular(self, sl):
        """``(cos_grid, eff)`` of a system: the PDE-weighted mean angular efficiency of its types."""
        cos_grid, eff = self.angular_table
        w = np.bincount(self.kind[sl], weights=self.pde[sl], minlength=3)
        return cos_grid, (w @ eff) / w.sum()

    def _indirect_grid(self, sl, n_r, n_alpha) -> np.ndarray:
        """Indirect fraction on the table grid of a system (n_r, n_alpha): the PDE-weighted mean
        over its PMT types (one table per system, as for the cathode shape)."""
        r = np.linspace(0.0, self.geometry.r_ls, n_r)
        cos_a = np.cos(np.linspace(0.0, np.pi, n_alpha))
        if self.optics.indirect_light == 0.0:
            return np.zeros((n_r, n_alpha))
        if self.optics.indirect_model == "first_order":
            centre = float(np.average(self._center_direct[sl], weights=self.pde[sl]))
            return np.broadcast_to(rayleigh_redetected(r, centre, self.optics, self.geometry.r_ls),
                                   (n_r, n_alpha)).copy()
        w = np.bincount(self.kind[sl], weights=self.pde[sl], minlength=3)
        out = sum(w[k] * self.indirect._at(k, r[:, None], cos_a[None, :]) for k in range(3) if w[k] > 0)
        return self.optics.indirect_light * out / w.sum()

    # ---- event sampling ----------------------------------------------------------------------
    def _event_means(self, event, position, e_vis, n_events):
        mu = self.total_map._expected(position)
        dep = {s: e_vis * mu[s] for s in SYSTEMS}
        ev = {s: np.bincount(event, weights=dep[s], minlength=n_events) for s in SYSTEMS}
        return dep, ev

    def sample_total(self, event, position, e_vis, n_events: int, *, rng: np.random.Generator,
                     charge: bool = False) -> TotalPE:
        """Total PE per event, LPMT and SPMT, from deposits (total-PE path).

        Parameters
        ----------
        event : (D,) int, event index of each deposit, in [0, n_events).
        position : (D, 3) mm; e_vis : (D,) MeV, visible energy of each deposit.
        n_events : number of events (events without deposits get dark noise only).
        rng : generator.
        charge : also draw the summed charge of each system: the PE (signal + dark) of an event
            are split over the PMT types with :attr:`type_fraction` (multinomial) and each type's
            PE summed with :func:`juno_calib.detector.spe.sum_charges` (cost ~ events). The PE
            counts are the same draws as without ``charge``.
        """
        event, position, e_vis, n_events = _check_deposits(event, position, e_vis, n_events,
                                                           self.geometry.r_ls)
        validate.generator("rng", rng)
        charge = validate.instance("charge", charge, bool)
        _, ev = self._event_means(event, position, e_vis, n_events)
        dark = {s: rng.poisson(self.dark_mean[s], n_events) for s in SYSTEMS}
        sig = {s: rng.poisson(ev[s]) for s in SYSTEMS}
        q = {s: None for s in SYSTEMS}
        if charge:
            p = _parameters(self.spe_spectra)
            for s in SYSTEMS:
                n_by_type = (rng.multinomial(sig[s], self.type_fraction[s])
                             + rng.multinomial(dark[s], self.dark_type_fraction[s]))
                q[s] = sum(_sum_charges(n_by_type[:, k], k, p, rng) for k in range(3)
                           if self.type_fraction[s][k] > 0 or self.dark_type_fraction[s][k] > 0)
        return TotalPE(lpmt=sig["lpmt"] + dark["lpmt"], spmt=sig["spmt"] + dark["spmt"],
                       lpmt_dark=dark["lpmt"], spmt_dark=dark["spmt"], lpmt_charge=q["lpmt"],
                       spmt_charge=q["spmt"])

    @cached_property
    def _dark_cdf(self) -> np.ndarray:
        """Cumulative dark rate over all PMTs (N,), per ns."""
        return np.cumsum(self.dark_rate)

    @cached_property
    def tts(self) -> np.ndarray:
        """Gaussian transit-time spread (ns) of every PMT (N,), by type (``data/timing.yaml``)."""
        return self.timing.tts(self.kind)

    @cached_property
    def _time_arrays(self) -> dict:
        """Per-system arrays of the hit-time model for the compiled kernel."""
        tm, g = self.timing, self.geometry
        out = {}
        for s, sl in self.system_slice.items():
            out[s] = {
                "scattered": self.tables[s].scattered,
                # charges are drawn after the kernel from the SPE spectra (juno_calib.detector.spe);
                # a zero width switches the kernel's own Gaussian charge off
                "spe_sigma": np.zeros(sl.stop - sl.start),
                "record": self.tables[s].pmt_record(np.asarray(self.layout.position, dtype=float)[sl],
                                                    self.tts[sl]),
                "taus": np.asarray(tm.taus, dtype=float), "weight_cdf": np.cumsum(tm.weights),
                "rise": float(tm.scint_rise_time), "r_ls": float(g.r_ls),
                "r_acrylic": float(g.r_ls + g.acrylic_thickness),
                "k_ls": tm.group_index_ls / tm.speed_of_light,
                "k_acrylic": tm.group_index_acrylic / tm.speed_of_light,
                "k_water": tm.group_index_water / tm.speed_of_light,
                "attenuation_length": float(self.optics.attenuation_length),
            }
        return out

    def time_of_flight(self, vertices) -> np.ndarray:
        """Direct-light time of flight (M, N) ns from vertices (M, 3) mm to every PMT."""
        from .timing import _time_of_flight

        x = self._check_vertices(vertices)
        g = self.geometry
        return _time_of_flight(x, np.asarray(self.layout.position, dtype=float), g.r_ls,
                              g.acrylic_thickness, self.timing)

    @cached_property
    def _hit_tables(self) -> dict:
        """Per-system tables of the fused kernel :func:`juno_calib.detector.timing.simulate_events`:
        the table's bin values and envelope over a patch, the bin search, the patches, the
        patch-ordered PMT record (position, TTS, charge width, index), the Rayleigh part per row
        and the alias table of the dark rates (in patch order)."""
        out = {}
        pos = np.asarray(self.layout.position, dtype=float)
        for s, sl in self.system_slice.items():
            t = self.tables[s]
            p, env = t._patches, t._envelope
            rec = t._patch_record(pos[sl], self.tts[sl], self.kind[sl], offset=sl.start)
            prob, alias = _alias_table(self.dark_rate[sl][p["order"]]) if self.dark_rate[sl].sum() > 0 else \
                (np.ones(sl.stop - sl.start), np.arange(sl.stop - sl.start))
            out[s] = (t._bins["v"], p["g"], p["g_min"], t._bins["cos_edges"], env["alpha_guide"], p["centre"],
                      p["mass"], p["start"], np.ascontiguousarray(rec), np.ascontiguousarray(t.scattered),
                      prob, alias.astype(np.int64))
        return out

    def sample_hits(self, event, position, e_vis, n_events: int, *, rng: np.random.Generator,
                    max_pe: int = 2**18, _refine_cost: float = REFINE_COST) -> Hits:
        """Per-PMT PE, charges and hit times of events from deposits (per-PMT path; cost ~ PE).

        Signal totals are drawn as in :meth:`sample_total` (Poisson of the map's mean per event
        and system), dark totals as Poisson of the mean dark count. The rest runs in one
        compiled pass over the events (:func:`juno_calib.detector.timing.simulate_events`):
        each signal PE is assigned to a deposit in proportion to ``e_vis mu(x)``, to a PMT by
        the patch sampler (exactly ``P(k) ~ w_k T(r, alpha_k)`` of the per-PMT table,
        :attr:`juno_calib.detector.pmt_tables.PMTTable._patches`) and gets a time (the model of
        :mod:`juno_calib.detector.timing`: emission profile, time of flight, TTS) and a charge
        from its PMT type's SPE spectrum (:mod:`juno_calib.detector.spe`: Gaussian peak, for the
        NNVT MCP-PMTs a Gamma tail; units of the type's mean SPE charge). Dark PE: PMT drawn in
        proportion to its rate, time uniform in the readout window, a charge. Readout: one row
        per LPMT channel (first-hit time, PE, charge) and one per SPMT PE. The kernel's random
        numbers come from one stream per event seeded by one draw from ``rng``: reproducible
        for a given ``rng`` state and independent of the number of threads. Events are processed
        in calls of about ``max_pe`` PE to bound the memory (this does not change the result).
        """
        from .timing import simulate_events

        event, position, e_vis, n_events = _check_deposits(event, position, e_vis, n_events,
                                                           self.geometry.r_ls)
        validate.generator("rng", rng)
        max_pe = validate.integer("max_pe", max_pe, 1)
        order = np.argsort(event, kind="stable")
        event, position, e_vis = event[order], np.ascontiguousarray(position[order]), e_vis[order]
        dep, ev = self._event_means(event, position, e_vis, n_events)
        first = np.searchsorted(event, np.arange(n_events), side="left")
        last = np.searchsorted(event, np.arange(n_events), side="right")
        n_pe = np.stack([rng.poisson(ev["lpmt"]), rng.poisson(self.dark_mean["lpmt"], n_events),
                         rng.poisson(ev["spmt"]), rng.poisson(self.dark_mean["spmt"], n_events)], 1)
        t = self.tables["lpmt"]
        r = np.sqrt(np.einsum("dk,dk->d", position, position))
        axis = np.ascontiguousarray(np.where(r[:, None] > 0, position / np.where(r > 0, r, 1.0)[:, None],
                                             [[0.0, 0.0, 1.0]]))
        row, w = _grid_cell(r, t.d_r, t.values.shape[0])
        row = row.astype(np.int64)
        ta = self._time_arrays["lpmt"]
        sp = _parameters(self.spe_spectra)
        spe = tuple(np.ascontiguousarray(sp[k], dtype=float)
                    for k in ("peak_sigma", "tail_fraction", "tail_mean", "tail_shape", "mean"))
        emis = (ta["taus"], ta["weight_cdf"], *spe)  # flat: a parallel kernel takes no nested tuples
        geo = (ta["rise"], ta["r_ls"], ta["r_acrylic"], ta["k_ls"], ta["k_acrylic"], ta["k_water"],
               ta["attenuation_length"])
        tabs = self._hit_tables
        n_guide = max(tabs[s][6].size for s in SYSTEMS)
        seed = int(rng.integers(0, 2**63))
        # events in chunks of about `max_pe` PE bound the memory (the streams are per event:
        # the cut does not change the result)
        cum_pe = np.cumsum(n_pe.sum(axis=1))
        edges = np.unique(np.concatenate([[0], np.searchsorted(cum_pe, np.arange(1, cum_pe[-1] // max_pe + 1)
                                                               * max_pe) + 1, [n_events]]).clip(0, n_events))
        cums = [np.concatenate([[0.0], np.cumsum(dep[s])]) for s in SYSTEMS]
        parts = []
        threads = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(HIT_THREADS), threads)))
        try:
            self._run_events(parts, simulate_events, edges, seed, first, last, n_pe, position, axis, row, w,
                             cums, tabs, emis, geo, n_guide, _refine_cost)
        finally:
            numba.set_num_threads(threads)
        cols = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        return Hits(n_events=int(n_events), **dict(zip(("event", "pmt", "npe", "charge", "time"), cols,
                                                        strict=True)), n_pmt_lpmt=self.n_lpmt)

    def _run_events(self, parts, simulate_events, edges, seed, first, last, n_pe, position, axis, row, w,
                    cums, tabs, emis, geo, n_guide, refine_cost):
        """The kernel calls of :meth:`sample_hits`, one per chunk of events."""
        for e0, e1 in zip(edges[:-1], edges[1:], strict=True):
            parts.append(simulate_events(seed, int(e0), first[e0:e1].astype(np.int64),
                                         last[e0:e1].astype(np.int64),
                                         n_pe[e0:e1].astype(np.int64), position, axis, row, w, *cums,
                                         tabs["lpmt"], tabs["spmt"], emis, geo, self.n_lpmt,
                                         float(self.timing.readout_window_start),
                                         float(self.pmts.readout_window), n_guide, refine_cost))

    def _sample_hits_blocked(self, event, position, e_vis, n_events: int, *, rng: np.random.Generator,
                             max_pe: int = 2**20) -> Hits:
        """The previous per-PMT path, kept for the benchmark (``benchmarks/bench_response.py``):
        the blocked rejection sampler :meth:`PMTTable.sample_pe` through the lookup grid, dark
        hits and charges in numpy, then :func:`juno_calib.detector.timing.readout`.

        Signal totals are drawn as in :meth:`sample_total`; each PE is assigned to a deposit
        in proportion to ``e_vis mu(x)``, then to a PMT and a time by
        :meth:`juno_calib.detector.pmt_tables.PMTTable.sample_pe` (the time model of
        :mod:`juno_calib.detector.timing`: emission profile, time of flight, TTS).
        Dark PE: a Poisson number per event and system, PMT drawn in proportion to its rate,
        time uniform in the readout window. Charges: each PE from its PMT type's SPE spectrum
        (:func:`juno_calib.detector.spe.sample_charges`, units of the mean SPE charge). Readout
        (:func:`juno_calib.detector.timing.readout`): one row
        per LPMT channel (first-hit time, PE, charge) and one per SPMT PE.
        Events are processed in chunks of about ``max_pe`` PE to bound the memory.
        """
        event, position, e_vis, n_events = _check_deposits(event, position, e_vis, n_events,
                                                           self.geometry.r_ls)
        validate.generator("rng", rng)
        max_pe = validate.integer("max_pe", max_pe, 1)
        order = np.argsort(event, kind="stable")
        event, position, e_vis = event[order], position[order], e_vis[order]
        dep, ev = self._event_means(event, position, e_vis, n_events)
        first = np.searchsorted(event, np.arange(n_events), side="left")
        last = np.searchsorted(event, np.arange(n_events), side="right")
        cum = {s: np.concatenate([[0.0], np.cumsum(dep[s])]) for s in SYSTEMS}
        n_sig = {s: rng.poisson(ev[s]) for s in SYSTEMS}
        n_dark = {s: rng.poisson(self.dark_mean[s], n_events) for s in SYSTEMS}
        t_open, window = self.timing.readout_window_start, self.pmts.readout_window
        spe = _parameters(self.spe_spectra)
        # events in chunks of about `max_pe` PE keep the temporaries small (a loop over chunks)
        per_event = sum(n_sig[s] + n_dark[s] for s in SYSTEMS)
        bounds = np.searchsorted(np.cumsum(per_event), np.arange(1, per_event.sum() // max_pe + 1) * max_pe)
        edges = np.unique(np.concatenate([[0], bounds + 1, [n_events]]).clip(0, n_events))
        parts = []
        for e0, e1 in zip(edges[:-1], edges[1:], strict=True):
            counts, pmts, times, charges = [], [], [], []
            for s in SYSTEMS:
                d = deposit_of_pe(n_sig[s][e0:e1], first[e0:e1], last[e0:e1], cum[s], rng)
                lo, hi = self.system_slice[s].start, self.system_slice[s].stop
                pmt, t = self.tables[s].sample_pe(position, d, rng=rng, times=self._time_arrays[s])
                nd = n_dark[s][e0:e1]
                cdf = self._dark_cdf[lo:hi] - (self._dark_cdf[lo - 1] if lo else 0.0)
                dark_pmt = np.minimum(np.searchsorted(cdf, rng.random(int(nd.sum())) * cdf[-1], side="right"),
                                      hi - lo - 1) + lo
                counts += [n_sig[s][e0:e1], nd]
                pmts += [pmt + lo, dark_pmt]
                times += [t, t_open + window * rng.random(int(nd.sum()))]
                charges += [_sample_charges(self.kind[pmt + lo], spe, rng),
                            _sample_charges(self.kind[dark_pmt], spe, rng)]
            # sources in the order LPMT signal, LPMT dark, SPMT signal, SPMT dark
            offsets = np.cumsum([0] + [c.sum() for c in counts])[:-1]
            starts = np.stack([o + np.concatenate([[0], np.cumsum(c)]) for o, c in zip(offsets, counts,
                                                                                        strict=True)])
            ev_i, pm_i, npe, q, tt = readout(e1 - e0, self.n_lpmt, starts.astype(np.int64),
                                             np.concatenate(pmts).astype(np.int64),
                                             np.concatenate(times), np.concatenate(charges))
            parts.append({"event": ev_i + np.int32(e0), "pmt": pm_i, "npe": npe, "charge": q, "time": tt})
        return Hits(n_events=int(n_events), **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]},
                    n_pmt_lpmt=self.n_lpmt)

    def sample(self, deposits, *, rng: np.random.Generator, per_pmt: bool = False, charge: bool = False):
        """Sample a :class:`juno_calib.particles.events.Deposits` object with either path
        (``charge``: the total-PE path also sums the charges; the per-PMT path always has them)."""
        if not all(hasattr(deposits, a) for a in ("event", "position", "e_vis", "n_events")):
            raise TypeError(f"deposits must be a Deposits (e.g. from simulate_gammas), got "
                            f"{type(deposits).__name__}")
        args = (deposits.event, deposits.position, deposits.e_vis, deposits.n_events)
        return self.sample_hits(*args, rng=rng) if per_pmt else self.sample_total(*args, rng=rng,
                                                                                  charge=charge)
