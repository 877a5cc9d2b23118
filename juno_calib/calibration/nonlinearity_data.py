"""Data and templates of the physics-NL fit (chapter 6).

Two sides, kept apart:

* the **true detector** (:func:`simulate_peaks`, :func:`b12_sample`, :func:`true_positron_pe`):
  the library's microphysics (:mod:`juno_calib.particles`), the sources in their capsules
  (:mod:`juno_calib.hardware.sources`) and the total-PE response;
* the **calibration** (:func:`line_templates`, :func:`annihilation_weights`, :func:`b12_data`):
  its own Monte Carlo of each γ line (the same γ transport, another seed) turned into
  Compton-electron spectra on the grid of :class:`~juno_calib.calibration.nonlinearity.ElectronNLModel`,
  the MC peak shifts that centre the capsule nuisance priors, and the ¹²B template.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import validate
from .nonlinearity import ELECTRON_MASS_MEV, B12Data, ElectronNLModel, NLFitConfig, grid_weights, locate

__all__ = ["ELECTRON_MASS_MEV", "LINES", "Line", "annihilation_weights", "b12_data", "b12_sample",
           "line_events", "line_templates", "measure_peak", "programme_events", "simulate_peaks",
           "simulate_source", "true_positron_pe"]


# ------------------------------------------------------------------ data and templates
@dataclasses.dataclass(frozen=True)
class Line:
    """A γ peak of the calibration: ``source`` simulated (``part``), ``gamma_source`` whose
    strongest line is the peak, whether it is emitted inside a capsule."""

    name: str
    source: str
    part: str           # "all", "prompt" or "capture" (simulate_source)
    gamma_source: str   # the source whose full-energy peak this is (nH / nC12 for captures)
    capsule: bool

    @property
    def energy(self) -> float:
        """Total γ energy of the full-energy peak, MeV (data/sources.yaml)."""
        from ..hardware.sources import get_source

        return float(get_source(self.gamma_source).peak_energy())


#: the γ peaks at the centre used by the fit (seed 000 Table 1; n-H and n-12C from Am-Be captures)
LINES = (
    Line("Cs137", "Cs137", "all", "Cs137", True),
    Line("Mn54", "Mn54", "all", "Mn54", True),
    Line("Ge68", "Ge68", "all", "Ge68", True),
    Line("K40", "K40", "all", "K40", True),
    Line("nH", "AmBe", "capture", "nH", False),
    Line("Co60", "Co60", "all", "Co60", True),
    Line("AmBe", "AmBe", "prompt", "AmBe", True),
    Line("nC12", "AmBe", "capture", "nC12", False),
)


def _inputs(rng, scint, geometry, response=None) -> None:
    """The shared keyword arguments of the simulations below: checked once, here."""
    from ..detector.geometry import Geometry
    from ..detector.response import DetectorResponse
    from ..particles.scintillator import Scintillator

    validate.generator("rng", rng)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    validate.instance("geometry", geometry, Geometry, hint='Geometry.load("design")')
    if response is not None:
        validate.instance("response", response, DetectorResponse, hint='DetectorResponse.load("design")')


def _lines(lines) -> tuple:
    if isinstance(lines, Line):
        lines = (lines,)
    if isinstance(lines, (str, bytes)) or not hasattr(lines, "__iter__"):
        raise TypeError(f"lines must be a sequence of Line (e.g. LINES), got {lines!r}")
    lines = tuple(lines)
    if not lines:
        raise ValueError("lines is empty: give at least one Line (e.g. LINES)")
    for i, line in enumerate(lines):
        validate.instance(f"lines[{i}]", line, Line, hint="one of LINES")
    return lines


def measure_peak(pe, *, dark_pe: float, guess_pe: float, window: float = 0.2) -> dict:
    """Dark-subtracted Gaussian peak mean of a PE spectrum near ``guess_pe`` (dark-subtracted).

    Events within ``±window`` (relative) of the guess are passed to
    :func:`juno_calib.calibration.resolution.fit_peak` (±2σ Gaussian fit).
    """
    from .resolution import fit_peak

    pe = validate.array("pe", pe, ndim=1)
    dark_pe = validate.number("dark_pe", dark_pe, 0.0, 1e8, unit="")
    guess_pe = validate.number("guess_pe", guess_pe, 0.0, 1e9, lo_open=True, unit="")
    window = validate.number("window", window, 0.0, 1.0, lo_open=True)
    x = pe - dark_pe
    sel = x[np.abs(x / guess_pe - 1.0) < window]
    if sel.size < 20:
        raise ValueError(f"pe: only {sel.size} of {pe.size} events lie within window = {window:g} of "
                         f"guess_pe = {guess_pe:g} (dark-subtracted); the peak fit needs at least 20")
    return fit_peak(sel)


def line_events(line: Line, deposits, tol: float = 1e-3):
    """(n_events,) bool: events whose deposited energy is the full line within ``tol`` MeV."""
    validate.instance("line", line, Line, hint="LINES[0]")
    if not hasattr(deposits, "per_event"):
        raise TypeError(f"deposits must be a Deposits (simulate_source(...)), got {type(deposits).__name__}")
    validate.number("tol", tol, 0.0, 1.0, lo_open=True, unit="MeV")
    return np.abs(deposits.per_event("energy") - line.energy) < tol


def programme_events(line: Line, config: str = "design") -> int:
    """Decays (or neutrons) of ``line``'s source in its comprehensive-programme run at the
    centre: activity x Table 2 DAQ time (the centre point of a multi-point row)."""
    from ..core.params import CONFIGS
    from ..hardware.programme import load_table2
    from ..hardware.sources import get_source

    validate.instance("line", line, Line, hint="LINES[0]")
    validate.choice("config", config, CONFIGS)
    rows = [r for r in load_table2() if r.programme == "comprehensive" and r.source == line.source]
    if not rows:
        raise ValueError(f"line.source = {line.source!r} has no run in the comprehensive programme "
                         "of Table 2")
    row = rows[0]
    return int(round(get_source(line.source, config).activity * row.daq_time / row.points))


def simulate_peaks(lines, n_events, *, rng, scint, geometry, response, guess_pe) -> tuple:
    """The *true detector*: every line's source at the centre through the library's microphysics
    and the total-PE response; returns (mean_pe, err_pe, spectra) with dark-subtracted
    Gaussian peak means. ``n_events`` maps a source name to its number of decays; lines of the
    same source and part share one simulation. ``guess_pe`` (P,) rough peak positions."""
    from ..hardware.sources import get_source

    _inputs(rng, scint, geometry, response)
    lines = _lines(lines)
    guess_pe = validate.array("guess_pe", guess_pe, 0.0, lo_open=True, ndim=1)
    if guess_pe.size != len(lines):
        raise ValueError(f"guess_pe has {guess_pe.size} values; it needs {len(lines)}, one per line")
    if not isinstance(n_events, dict):
        raise TypeError(f"n_events must be a dict source name -> number of decays, got {n_events!r}")
    for line in lines:
        if line.source not in n_events:
            raise ValueError(f"n_events has no entry for source {line.source!r} (line {line.name})")
        validate.integer(f"n_events[{line.source!r}]", n_events[line.source], 100, 10**8)
    centre, dark = np.zeros(3), response.dark_mean["lpmt"]
    cache, means, errs, spectra = {}, [], [], []
    for line, guess in zip(lines, guess_pe, strict=True):  # a loop over the 8 lines
        key = (line.source, line.part)
        if key not in cache:
            dep = simulate_source(get_source(line.source, scint.config), n_events[line.source],
                                  centre, rng=rng, scint=scint, geometry=geometry,
                                  capsule=True, part=line.part)
            cache[key] = response.sample(dep, rng=rng).lpmt
        pk = measure_peak(cache[key], dark_pe=dark, guess_pe=guess)
        means.append(pk["mean"])
        errs.append(pk["mean_err"])
        spectra.append(cache[key] - dark)
    return np.array(means), np.array(errs), spectra


def simulate_source(*args, **kwargs):
    """:func:`juno_calib.hardware.sources.simulate_source` (imported lazily)."""
    from ..hardware.sources import simulate_source as _sim

    return _sim(*args, **kwargs)


def line_templates(lines, n_events: int, model: ElectronNLModel, *, rng, scint, geometry,
                   a_nominal: float, kb_nominal: float, dark_pe: float):
    """The *calibration's* Monte Carlo of each line (the same γ transport, its own seed).

    Returns ``weights`` (P, G): Compton-electron spectra of the contained full-energy events
    without capsule; ``shift`` (P,) and ``shift_err`` (P,): relative offset of the Gaussian
    peak mean of the simulated spectrum (capsule on where the source has one, Poisson PE with
    the nominal fit model ``A = a_nominal``, ``k_B = kb_nominal``, ``k_C = 1``, Poisson dark
    noise) from the template prediction.
    """
    from ..hardware.sources import get_source

    _inputs(rng, scint, geometry)
    lines = _lines(lines)
    validate.instance("model", model, ElectronNLModel, hint="ElectronNLModel.build(...)")
    n_events = validate.integer("n_events", n_events, 100, 10**8)
    a_nominal = validate.number("a_nominal", a_nominal, 0.0, 1e6, lo_open=True, unit="PE/MeV")
    kb_nominal = validate.number("kb_nominal", kb_nominal, 0.0, 0.1, why="k_B in g/cm2/MeV")
    dark_pe = validate.number("dark_pe", dark_pe, 0.0, 1e6)
    light = model.light(kb_nominal, 1.0)[0]
    weights, shift, shift_err = [], [], []
    for line in lines:  # a loop over the 8 lines
        src = get_source(line.source, scint.config)
        pure = get_source(line.gamma_source, scint.config) if line.part == "capture" else src
        bare = simulate_source(pure, n_events, np.zeros(3), rng=rng, scint=scint,
                               geometry=geometry, capsule=False, part="all" if pure is not src else line.part)
        full = line_events(line, bare)
        w = grid_weights(bare.energy, bare.event, bare.n_events, model.t, keep=full)
        weights.append(w)
        pred = a_nominal * float(w @ light)
        dep = simulate_source(pure, n_events, np.zeros(3), rng=rng, scint=scint, geometry=geometry,
                              capsule=line.capsule, part="all" if pure is not src else line.part)
        lev = np.bincount(dep.event, weights=np.interp(dep.energy, model.t, light),
                          minlength=dep.n_events)
        pe = rng.poisson(a_nominal * lev) + rng.poisson(dark_pe, lev.size)
        pk = measure_peak(pe, dark_pe=dark_pe, guess_pe=pred)
        shift.append(pk["mean"] / pred - 1.0)
        shift_err.append(pk["mean_err"] / pred)
    return np.array(weights), np.array(shift), np.array(shift_err)


def b12_sample(n_events: int, *, rng, scint, geometry, response, fiducial_radius: float,
               residual: float):
    """The *true detector*'s ¹²B events, uniform in the fiducial volume, corrected for the
    non-uniformity by the stand-in map ``g_true(x) (1 + residual (r / R_FV)^3)``.

    Returns the corrected, dark-subtracted LPMT PE per event (n_events,).
    """
    from ..detector.geometry import sample_uniform_ls
    from ..particles.events import simulate_b12

    _inputs(rng, scint, geometry, response)
    n_events = validate.integer("n_events", n_events, 1, 10**8)
    fiducial_radius = validate.number("fiducial_radius", fiducial_radius, 0.0, geometry.r_ls, unit="m",
                                      lo_open=True)
    residual = validate.number("residual", residual, -0.5, 0.5)
    pos = sample_uniform_ls(int(n_events), rng=rng, r_max=fiducial_radius, geometry=geometry)
    dep = simulate_b12(int(n_events), pos, rng=rng, scint=scint, geometry=geometry)
    pe = response.sample(dep, rng=rng).lpmt - response.dark_mean["lpmt"]
    tmap = response.total_map
    g = tmap.expected(pos)["lpmt"] / tmap.center["lpmt"]
    r3 = (np.linalg.norm(pos, axis=1) / fiducial_radius) ** 3
    return pe / (g * (1.0 + residual * r3))


def b12_data(corrected_pe, *, config: NLFitConfig, a_start: float, n_template: int, rng,
             decay, gamma_line: int, dark_var_pe: float, n_nodes: int = 136) -> B12Data:
    """Histogram of the corrected ¹²B spectrum in the fit window and the calibration's
    template from the allowed β shape (:func:`juno_calib.particles.beta.sample_b12`)."""
    from ..core import units
    from ..particles.beta import B12Decay, sample_b12

    validate.generator("rng", rng)
    validate.instance("config", config, NLFitConfig, hint="NLFitConfig.load()")
    validate.instance("decay", decay, B12Decay, hint="B12Decay.load()")
    corrected_pe = validate.array("corrected_pe", corrected_pe, ndim=1)
    a_start = validate.number("a_start", a_start, 0.0, 1e6, lo_open=True, unit="PE/MeV")
    n_template = validate.integer("n_template", n_template, 100, 10**8)
    n_nodes = validate.integer("n_nodes", n_nodes, 2, 10**5)
    edges = a_start * np.linspace(config.b12_fit_e_min / units.MeV, config.b12_fit_e_max / units.MeV,
                                  int(config.b12_fit_bins) + 1)
    counts = np.histogram(corrected_pe, bins=edges)[0].astype(float)
    t, branch = sample_b12(int(n_template), rng=rng, decay=decay)
    nodes = np.linspace(0.0, float(decay.b12_q_value) / units.MeV, n_nodes)
    levels = np.asarray(decay.b12_levels)
    with_gamma = np.isclose(levels[branch], levels[1])
    idx, frac = locate(nodes, t)
    w = [np.bincount(idx[m], weights=1 - frac[m], minlength=n_nodes)
         + np.bincount(idx[m] + 1, weights=frac[m], minlength=n_nodes) for m in (~with_gamma, with_gamma)]
    return B12Data(edges_pe=edges, counts=counts, t_nodes=nodes, w_ground=w[0] / t.size,
                   w_gamma=w[1] / t.size, gamma_line=gamma_line, dark_var_pe=dark_var_pe)


def true_positron_pe(t, *, rng, scint, geometry, light_yield: float, n_annihilation: int):
    """The *true detector*'s mean PE of positrons at the centre, (len(t),): Bhabha-quenched
    kinetic light plus the mean light of the two contained annihilation γ (library model)."""
    from ..particles.events import simulate_positrons
    from ..particles.visible import positron_visible

    ann = simulate_positrons(np.zeros(int(n_annihilation)), np.zeros(3), rng=rng, scint=scint,
                             geometry=geometry)
    contained = ann.escaped == 0
    e_ann = float(ann.per_event()[contained].mean())
    return light_yield * (positron_visible(np.asarray(t, dtype=float), scint) + e_ann)


def annihilation_weights(model: ElectronNLModel, n_events: int, *, rng, scint, geometry):
    """The calibration's template of two back-to-back 0.511 MeV γ (contained), (G,)."""
    from ..particles.events import simulate_positrons

    _inputs(rng, scint, geometry)
    validate.instance("model", model, ElectronNLModel, hint="ElectronNLModel.build(...)")
    n_events = validate.integer("n_events", n_events, 1, 10**8)

    dep = simulate_positrons(np.zeros(int(n_events)), np.zeros(3), rng=rng, scint=scint,
                             geometry=geometry)
    return grid_weights(dep.energy, dep.event, dep.n_events, model.t, keep=dep.escaped == 0)
