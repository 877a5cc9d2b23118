"""Property-based tests of the public API: random good and bad input, the library's own errors.

Every public function below is called with inputs drawn by Hypothesis: finite and non-finite,
negative, zero, huge, wrongly shaped, wrongly typed. Each call must either

* return finite results that satisfy the function's invariants (energy conservation, PE >= 0,
  positions inside the LS, probabilities in [0, 1], unit vectors ...), or
* raise a ``ValueError``/``TypeError`` *from the library* (the innermost frame of the traceback is
  in ``juno_calib``, not in numpy or scipy) whose message names one of the function's arguments.

A hang is a failure: every test runs under a SIGALRM guard (:data:`HANG_S`) besides the
Hypothesis per-example deadline (profiles in ``tests/conftest.py``: ``ci`` by default,
``JUNO_CALIB_HYPOTHESIS=long`` for a long run). The number of functions, calls and rejections is
printed at the end of the session.
"""

from __future__ import annotations

import inspect
import math
import signal
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import juno_calib
from juno_calib.calibration import dual_calorimetry as dcal
from juno_calib.calibration import fitting, resolution, truth, vertex
from juno_calib.calibration import nonlinearity as nlin
from juno_calib.calibration import nonlinearity_data as nld
from juno_calib.calibration import nonuniformity as nu
from juno_calib.calibration import nonuniformity_study as nus
from juno_calib.calibration import resolution_fit as rfit
from juno_calib.calibration import vertex_model as vmod
from juno_calib.core import validate
from juno_calib.core.rng import make_rng
from juno_calib.detector import geometry as geo
from juno_calib.detector import optics as opt
from juno_calib.detector import spe as spem
from juno_calib.detector import timing as tmg
from juno_calib.detector import transport as trn
from juno_calib.detector import true_detector as tdet
from juno_calib.hardware import budget, deployment, sources
from juno_calib.particles import (
    annihilation,
    beta,
    capsule,
    events,
    gamma,
    neutron,
    quenching,
    scintillator,
    visible,
)
from juno_calib.particles.scintillator import ELECTRON_MASS
from juno_calib.reach import mass_ordering as mo
from juno_calib.reach import oscillation as osc
from juno_calib.reach import reactor
from juno_calib.scale import cluster as dcluster
from juno_calib.scale import ensemble as dens
from juno_calib.scale import studies

PACKAGE = Path(juno_calib.__file__).resolve().parent
R_LS = 17700.0
GEO = SimpleNamespace(r_ls=R_LS)
#: seconds a single property test may run before it counts as a hang
HANG_S = 120


# --- the oracle ---------------------------------------------------------------------------------


def _param_names(fn) -> list[str]:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def call(log, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``: its result, or None after checking that the error is the library's."""
    log["calls"] += 1
    log["functions"].add(f"{fn.__module__}.{fn.__qualname__}")
    try:
        out = fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        frame = traceback.extract_tb(err.__traceback__)[-1]
        assert Path(frame.filename).resolve().is_relative_to(PACKAGE), (
            f"{fn.__qualname__} let a {type(err).__name__} escape from {frame.filename}:{frame.lineno}: {err}")
        msg = str(err)
        names = _param_names(fn)
        assert any(n in msg for n in names), f"{fn.__qualname__}: message names no argument of {names}: {msg}"
        assert "9223372036854775808" not in msg, msg
        log["rejected"] += 1
        return None
    log["accepted"] += 1
    return out


def finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays)


@pytest.fixture(autouse=True)
def hang_guard():
    """Fail a test whose calls do not return (SIGALRM interrupts a Python loop)."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"property test still running after {HANG_S} s: a hang")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# --- strategies: good values mixed with every kind of bad one -----------------------------------

BAD_SCALARS = st.sampled_from([0.0, -0.0, -1.0, -1e300, 1e300, math.nan, math.inf, -math.inf, 1e-300,
                               True, None, "1.0", 10**20])
FLOAT_EL = st.floats(allow_nan=True, allow_infinity=True, width=64)


def scalar(lo: float, hi: float):
    """A good float in [lo, hi] or a bad scalar."""
    return st.one_of(st.floats(lo, hi), BAD_SCALARS)


def array_of(lo: float, hi: float, *, max_len: int = 6):
    """Arrays (mostly 1-d) of good values, sometimes with bad elements, bad shapes or bad types."""
    good = hnp.arrays(np.float64, st.integers(0, max_len), elements=st.floats(lo, hi))
    mixed = hnp.arrays(np.float64, st.integers(1, max_len),
                       elements=st.one_of(st.floats(lo, hi), FLOAT_EL))
    odd = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), elements=FLOAT_EL)
    return st.one_of(good, good, mixed, odd, scalar(lo, hi), st.lists(st.text(max_size=2), max_size=2))


def positions(r_max: float = 1.2 * R_LS, *, max_n: int = 5):
    """(n, 3) or (3,) points, mostly inside ``r_max``; also NaN, huge, wrong shapes."""
    coord = st.floats(-r_max / math.sqrt(3), r_max / math.sqrt(3))
    good = st.one_of(hnp.arrays(np.float64, st.tuples(st.integers(1, max_n), st.just(3)), elements=coord),
                     hnp.arrays(np.float64, st.just((3,)), elements=coord))
    bad = st.one_of(hnp.arrays(np.float64, st.tuples(st.integers(1, max_n), st.just(3)),
                               elements=st.one_of(coord, FLOAT_EL)),
                    hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                               elements=coord),
                    st.just([0.0, 0.0, 1e9]), st.just("centre"), st.none())
    return st.one_of(good, good, bad)


def counts(hi: int = 20):
    return st.one_of(st.integers(0, hi), st.integers(-3, -1), st.just(10**12), st.just(2.5), st.just(True),
                     st.just(math.nan), st.just("3"))


SEEDS = st.integers(0, 2**32 - 1)


# --- particles: gamma ---------------------------------------------------------------------------


@given(e=array_of(1e-3, 50.0), seed=SEEDS)
def test_sample_compton(property_log, e, seed):
    eps = call(property_log, gamma.sample_compton, e, rng=make_rng(seed))
    if eps is not None:
        k = np.asarray(e, float) / ELECTRON_MASS
        assert finite(eps) and np.all(eps <= 1) and np.all(eps >= 1 / (1 + 2 * k) - 1e-12)


@given(e=array_of(1e-4, 100.0))
def test_cross_sections(property_log, scint, e):
    kn = call(property_log, gamma.klein_nishina_total, e)
    if kn is not None:
        assert finite(kn) and np.all(kn > 0)
    mu = call(property_log, gamma.attenuation, e, scint)
    if mu is not None:
        assert finite(*mu) and np.all(mu[0] > 0) and np.all(mu[1] >= 0)
    pc = call(property_log, gamma.pair_cross_section, e, 6.0, scint)
    if pc is not None:
        assert finite(pc) and np.all(pc >= 0)


@given(n=counts(), seed=SEEDS)
def test_isotropic_directions(property_log, n, seed):
    u = call(property_log, gamma.isotropic_directions, n, rng=make_rng(seed))
    if u is not None:
        assert np.allclose(np.linalg.norm(u, axis=1), 1.0)


@given(cos_t=array_of(-1.0, 1.0, max_len=3), seed=SEEDS)
def test_rotate_keeps_unit_vectors(property_log, cos_t, seed):
    rng = make_rng(seed)
    n = np.size(cos_t) if np.ndim(cos_t) == 1 else 3
    d = gamma.isotropic_directions(n, rng=rng)
    out = call(property_log, gamma.rotate, d, cos_t, rng.uniform(0, 6.28, n))
    if out is not None:
        assert finite(out) and np.allclose(np.linalg.norm(out, axis=1), 1.0)


@given(pos=positions(), seed=SEEDS, radius=scalar(1.0, 2 * R_LS))
def test_distance_to_sphere(property_log, pos, seed, radius):
    n = np.shape(pos)[0] if np.ndim(pos) == 2 else 1
    d = call(property_log, gamma.distance_to_sphere, pos, gamma.isotropic_directions(n, rng=make_rng(seed)),
             radius)
    if d is not None:
        assert finite(d) and np.all(d >= -1e-6)


@given(e=array_of(0.01, 10.0, max_len=4), pos=positions(), seed=SEEDS)
def test_compton_cascade_conserves_energy(property_log, scint, e, pos, seed):
    rng = make_rng(seed)
    n = np.size(e) if np.ndim(e) == 1 else 1
    out = call(property_log, gamma.compton_cascade, e, pos, gamma.isotropic_directions(n, rng=rng),
               np.arange(n), n, rng=rng, scint=scint, r_ls=R_LS)
    if out is not None:
        total = np.bincount(out.event, weights=out.energy, minlength=n) + out.escaped
        assert np.allclose(total, np.asarray(e, float), rtol=1e-9, atol=1e-12), "energy conservation"
        assert np.all(np.linalg.norm(out.position, axis=1) <= R_LS * (1 + 1e-9)), "deposits inside the LS"
        assert np.all(out.energy > 0)


# --- particles: light model, beta ---------------------------------------------------------------


@given(t=array_of(0.0, 30.0))
def test_light_model(property_log, scint, t):
    for fn in (scintillator.cherenkov_photons, scintillator.stopping_power, scintillator.light_unnormalised,
               visible.electron_visible, visible.positron_visible):
        out = call(property_log, fn, t, scint)
        if out is not None:
            assert finite(out) and np.all(out >= 0), fn.__name__


@given(t=array_of(0.0, 40.0), seed=SEEDS)
def test_annihilation_in_flight(property_log, scint, t, seed):
    p = call(property_log, annihilation.in_flight_probability, t, scint)
    if p is not None:
        assert finite(p) and np.all((p >= 0) & (p <= 1))
    ta = call(property_log, annihilation.sample_annihilation_energy, t, rng=make_rng(seed), scint=scint)
    if ta is not None:
        assert finite(ta) and np.all((ta >= 0) & (ta <= np.atleast_1d(np.asarray(t, float)) + 1e-12))
    out = call(property_log, annihilation.sample_photons, t, rng=make_rng(seed))
    if out is not None:
        ea, eb, ca, cb = out
        assert np.allclose(ea + eb, np.atleast_1d(np.asarray(t, float)) + 2 * ELECTRON_MASS)
        assert np.all((np.abs(ca) <= 1) & (np.abs(cb) <= 1))
    s = call(property_log, annihilation.heitler_cross_section, t)
    if s is not None:
        assert finite(s) and np.all(s > 0)
    m = call(property_log, events.mean_positron_visible, t, rng=make_rng(seed), scint=scint, geometry=GEO,
             n_annihilation=200, n_in_flight=5)
    if m is not None:
        assert finite(m) and np.all(m > 0)


@given(e=array_of(0.0, 30.0), e0=scalar(0.0, 30.0), n=counts(60), seed=SEEDS)
def test_neutron_slowing_down(property_log, scint, e, e0, n, seed):
    s = call(property_log, neutron.np_cross_section, e, scint)
    if s is not None:
        assert finite(s) and np.all(s > 0)
    tau = call(property_log, neutron.slowing_down_age, e0, n, rng=make_rng(seed), scint=scint)
    if tau is not None:
        assert math.isfinite(tau) and tau >= 0


@given(t=array_of(0.0, 40.0))
def test_capsule_leptons(property_log, scint, t):
    for fn in (capsule.radiation_yield, capsule.csda_range):
        out = call(property_log, fn, t, scint)
        if out is not None:
            assert finite(out) and np.all(out >= 0), fn.__name__
    out = call(property_log, capsule.lepton_through_capsule, t, np.zeros(np.shape(t), bool), scint)
    if out is not None:
        t_out, rad = out
        assert finite(t_out, rad) and np.all(t_out >= 0) and np.all(rad >= 0)
        assert np.all(t_out + rad <= np.atleast_1d(np.asarray(t, float)) + 1e-12), "no energy created"


@given(t=array_of(1e-3, 20.0), z=scalar(0.0, 100.0), e0=scalar(0.1, 20.0))
def test_beta_spectra(property_log, t, z, e0):
    f = call(property_log, beta.fermi_function, t, z, 3e-12)
    if f is not None:
        assert finite(f) and np.all(f > 0)
    s = call(property_log, beta.beta_spectrum, t, e0, 6.0, 3e-12)
    if s is not None:
        assert finite(s) and np.all(s >= 0)
    b = call(property_log, beta.b12_spectrum, t)
    if b is not None:
        assert finite(b) and np.all(b >= 0)


@given(n=counts(200), seed=SEEDS)
def test_sample_b12(property_log, n, seed):
    out = call(property_log, beta.sample_b12, n, rng=make_rng(seed))
    if out is not None:
        t, branch = out
        assert finite(t) and np.all((t >= 0) & (t <= 13.37 + 1e-9)) and np.all(branch >= 0)


# --- particles: event generators ----------------------------------------------------------------


def _deposits_ok(d, initial=None):
    assert finite(d.position, d.energy, d.e_vis, d.escaped)
    assert np.all(d.energy >= 0) and np.all(d.e_vis >= 0) and np.all(d.escaped >= -1e-12)
    assert np.all(np.linalg.norm(d.position, axis=1) <= R_LS * (1 + 1e-9)), "deposits inside the LS"
    if initial is not None:
        total = d.per_event("energy") + d.escaped
        assert np.allclose(total, initial, rtol=1e-9, atol=1e-9), "energy conservation"


@given(t=array_of(0.0, 12.0, max_len=4), pos=positions(), seed=SEEDS)
def test_simulate_electrons_and_positrons(property_log, scint, t, pos, seed):
    d = call(property_log, events.simulate_electrons, t, pos, rng=make_rng(seed), scint=scint)
    if d is not None:
        _deposits_ok(d, np.atleast_1d(np.asarray(t, float)))
    d = call(property_log, events.simulate_positrons, t, pos, rng=make_rng(seed), scint=scint, geometry=GEO)
    if d is not None:
        _deposits_ok(d, np.atleast_1d(np.asarray(t, float)) + 2 * ELECTRON_MASS)


@given(e=array_of(0.01, 12.0, max_len=4), pos=positions(), seed=SEEDS)
def test_simulate_gammas(property_log, scint, e, pos, seed):
    d = call(property_log, events.simulate_gammas, e, pos, rng=make_rng(seed), scint=scint, geometry=GEO)
    if d is not None:
        _deposits_ok(d, np.atleast_1d(np.asarray(e, float)))


@given(n=counts(), pos=positions(), seed=SEEDS)
def test_simulate_b12(property_log, scint, n, pos, seed):
    d = call(property_log, events.simulate_b12, n, pos, rng=make_rng(seed), scint=scint, geometry=GEO)
    if d is not None:
        _deposits_ok(d)
        assert np.all(d.per_event("energy") + d.escaped <= 13.37 + 1e-9)


@given(e=array_of(0.01, 10.0, max_len=4), seed=SEEDS)
def test_capsule_transport(property_log, scint, e, seed):
    rng = make_rng(seed)
    n = np.size(e) if np.ndim(e) == 1 else 1
    out = call(property_log, events.capsule_transport, e, gamma.isotropic_directions(n, rng=rng), rng=rng,
               scint=scint)
    if out is not None:
        after, dirs, lost = out
        assert finite(after, dirs, lost) and np.allclose(after + lost, e) and np.all(after >= 0)


@given(name=st.sampled_from(sources.NAMES + ("Cs-137", "", "nh")), n=counts(),
       pos=positions(), part=st.sampled_from(events.PARTS + ("delayed",)), seed=SEEDS,
       as_object=st.booleans())
def test_simulate_source(property_log, scint, name, n, pos, part, seed, as_object):
    src = call(property_log, sources.get_source, name)
    if src is None:
        return
    d = call(property_log, sources.simulate_source, src if as_object else name, n,
             pos if np.shape(pos) != (1, 3) else pos[0], rng=make_rng(seed), scint=scint, geometry=GEO,
             part=part)
    if d is not None:
        _deposits_ok(d)
        if src.kind in ("gamma", "positron") and part != "capture":
            # exact outcomes: each decay's deposits + escaped (incl. the capsule) is one branch's sum
            sums = np.array([b.visible_energy_sum for b in src.branches])
            total = d.per_event("energy") + d.escaped
            assert np.all(np.min(np.abs(total[:, None] - sums[None, :]), axis=1) < 1e-9)


# --- detector: geometry, optics, response -------------------------------------------------------


@given(xyz=positions(max_n=4))
def test_coordinates_round_trip(property_log, xyz):
    out = call(property_log, geo.cartesian_to_spherical, xyz)
    if out is not None:
        r, th, ph = out
        assert finite(r, th, ph) and np.all(r >= 0) and np.all((th >= 0) & (th <= np.pi))
        back = call(property_log, geo.spherical_to_cartesian, r, th, ph)
        assert np.allclose(back, xyz, atol=1e-6 * (1 + np.max(np.abs(xyz))))


@given(n=counts(), r_max=st.one_of(st.none(), scalar(1.0, R_LS)), seed=SEEDS)
def test_sample_uniform_ls(property_log, geometry, n, r_max, seed):
    x = call(property_log, geo.sample_uniform_ls, n, rng=make_rng(seed), r_max=r_max, geometry=geometry)
    if x is not None:
        assert finite(x) and np.all(np.linalg.norm(x, axis=1) <= geometry.r_ls * (1 + 1e-12))


@given(n=counts(1000), a=array_of(0.0, 300.0), d=array_of(0.0, 2e4))
def test_directions_and_solid_angles(property_log, n, a, d):
    u = call(property_log, geo.fibonacci_directions, n)
    if u is not None:
        assert np.allclose(np.linalg.norm(u, axis=1), 1.0)
    try:
        np.broadcast(np.asarray(a, float), np.asarray(d, float))
    except (ValueError, TypeError):
        return
    om = call(property_log, geo.disk_solid_angle, a, d)
    if om is not None:
        assert finite(om) and np.all((om >= 0) & (om <= 2 * np.pi + 1e-12))


@given(sin_i=array_of(0.0, 1.0), cos_eta=array_of(-1.0, 1.0), r=array_of(0.0, R_LS))
def test_optics_fractions(property_log, optics, sin_i, cos_eta, r):
    for fn, args in ((opt.fresnel_transmission, (1.4955, 1.333, sin_i)),
                     (opt.cathode_projection, (cos_eta, 0.75)),
                     (opt.rayleigh_scattered_fraction, (r, optics, R_LS))):
        out = call(property_log, fn, *args)
        if out is not None:
            assert finite(out) and np.all((out >= 0) & (out <= 1 + 1e-12)), fn.__name__


@given(r_ls=scalar(1e3, 5e4), t=scalar(0.0, 200.0), n_ls=scalar(1.0, 2.0), n_w=scalar(1.0, 2.0))
def test_total_reflection_onset(property_log, r_ls, t, n_ls, n_w):
    r = call(property_log, opt.total_reflection_onset, r_ls, t, n_ls, n_w)
    if r is not None:
        assert 0 < r <= r_ls + t


@given(pos=positions(), e_vis=array_of(0.0, 10.0, max_len=5), n_events=counts(5), seed=SEEDS,
       charge=st.sampled_from([False, True, 1, "yes"]))
def test_sample_total(property_log, response, total_map, pos, e_vis, n_events, seed, charge):
    n_dep = np.shape(pos)[0] if np.ndim(pos) == 2 else 1
    event = np.zeros(n_dep, np.int64)
    out = call(property_log, response.sample_total, event, pos, e_vis, n_events, rng=make_rng(seed),
               charge=charge)
    if out is not None:
        assert np.all(out.lpmt >= 0) and np.all(out.spmt >= 0), "PE >= 0"
        assert out.lpmt.shape == (n_events,)
        if charge:
            assert out.lpmt_charge.shape == (n_events,) and finite(out.lpmt_charge, out.spmt_charge)


@given(n=array_of(0.0, 1e5), system=st.sampled_from(["lpmt", "spmt", "LPMT"]))
def test_charge_enf(property_log, response, n, system):
    enf = call(property_log, response.charge_enf, n, system)
    if enf is not None:
        assert finite(enf) and np.all(np.asarray(enf) >= 1), "ENF >= 1"


@given(t=array_of(0.05, 3.0, max_len=3), n_tracks=counts(30), t_cut=scalar(1e-3, 0.05),
       step=scalar(0.01, 0.3), seed=SEEDS)
def test_electron_light_spread(property_log, t, n_tracks, t_cut, step, seed):
    scint = scintillator.Scintillator.load()
    out = call(property_log, quenching.electron_light_spread, t, scint, rng=make_rng(seed), n_tracks=n_tracks,
               t_cut=t_cut, step=step)
    if out is not None:
        assert finite(out["mean"], out["sigma"]) and np.all(out["mean"] > 0) and np.all(out["sigma"] >= 0)


@given(t=array_of(0.1, 5.0, max_len=2), n_pos=st.sampled_from([1, 20, 25]), charge=st.sampled_from([True, 0]),
       seed=SEEDS)
def test_electron_resolution(property_log, response, total_map, t, n_pos, charge, seed):
    scint = scintillator.Scintillator.load()
    x = geo.sample_uniform_ls(n_pos, rng=make_rng(seed), r_max=15e3)
    out = call(property_log, resolution.electron_resolution, response, t, x, scint=scint, rng=make_rng(seed),
               charge=charge)
    if out is not None:
        assert finite(out["sigma_over_e"]) and np.all(out["sigma_over_e"] > 0)


@given(gain_spread=scalar(0.0, 0.2), n_vertex=counts(4), seed=SEEDS,
       quench=st.sampled_from([None, "per deposit", "short"]))
def test_centre_peak_budget(property_log, response, total_map, gain_spread, n_vertex, seed, quench):
    scint = scintillator.Scintillator.load()
    dep = events.simulate_electrons(np.full(40, 1.0), np.zeros(3), rng=make_rng(seed), scint=scint)
    tot = response.sample(dep, rng=make_rng(seed), charge=True)
    q = {None: None, "per deposit": np.full(dep.e_vis.size, 0.01), "short": np.full(3, 0.01)}[quench]
    out = call(property_log, resolution.centre_peak_budget, response, dep, tot, quench_rel=q,
               gain_spread=gain_spread, n_vertex=n_vertex, rng=make_rng(seed))
    if out is not None:
        assert finite(list(out.values())) and out["sum_charge"] >= out["sum_pe"] > 0


@pytest.fixture(scope="module")
def total_map(response):
    """The response's total map, tabulated here: not inside the first example's deadline."""
    return response.total_map


@given(pos=positions())
def test_map_lookup(property_log, total_map, pos):
    mu = call(property_log, total_map.expected, pos)
    if mu is not None:
        assert all(finite(m) and np.all(m > 0) for m in mu.values())
    g = call(property_log, total_map.g, pos)
    if g is not None:
        assert finite(g) and np.all(g > 0)


@given(kind=array_of(0.0, 2.0, max_len=3), r=array_of(0.0, R_LS, max_len=3), c=array_of(-1.0, 1.0, max_len=3))
def test_indirect_light_and_angular_efficiency(property_log, response, kind, r, c):
    k = np.round(kind) if isinstance(kind, np.ndarray) and kind.dtype.kind == "f" and np.all(np.isfinite(kind)) \
        else kind
    out = call(property_log, response.indirect.at, k, r, c)
    if out is not None:
        assert finite(out) and np.all((out >= 0) & (out <= 1)), "a probability per photon"
    eff = call(property_log, response.angular_efficiency, c, k)
    if eff is not None:
        assert finite(eff) and np.all(eff >= 0)


@given(pos=positions(), system=st.sampled_from(("lpmt", "spmt", "LPMT", "")))
def test_direct_share(property_log, response, pos, system):
    share = call(property_log, response.direct_share, pos, system)
    if share is not None:
        assert finite(share) and np.all((share > 0) & (share <= 1)), "a share of the light"


@given(n=counts(30), p_re=scalar(0.0, 1.0), lam=scalar(1e3, 1e5), n_r=counts(3), seed=SEEDS)
def test_run_transport(property_log, n, p_re, lam, n_r, seed):
    try:
        inp = trn.TransportInputs(
            n_ls=1.4955, n_acrylic=1.5, n_water=1.333, rayleigh_length=27e3, absorption_length=lam,
            reemission_probability=p_re, acrylic_mu=3e-4, water_attenuation_length=4e4, r_ls=R_LS,
            r_acrylic=R_LS + 120.0, r_pmt=(19434.0,), cathode_area=(2e5,), aspect=(0.75,),
            angular_cos=(0.0, 1.0), angular_eff=((1.0, 1.0),), n_r=n_r, n_alpha=4, n_photons=n, seed=seed)
    except TypeError:
        return
    out = call(property_log, trn.run_transport, inp)
    if out is not None:
        assert np.all(out.fates.sum(axis=1) == n), "every photon ends in one fate"
        assert finite(out.values) and np.all(out.values >= 0)


# --- hardware: deployment, budget -----------------------------------------------------------------


@given(system=st.sampled_from(deployment.SYSTEMS + ("GLS", "acu")), pos=positions(2e4))
def test_reachable(property_log, system, pos):
    ok = call(property_log, deployment.reachable, system, pos)
    if ok is not None:
        assert ok.dtype == bool and ok.shape == np.shape(pos)[:-1]
    t = call(property_log, deployment.cls_tensions, pos)
    if t is not None:
        assert not np.any(np.isnan(t[0])) and not np.any(np.isnan(t[1]))


@given(n=counts(40))
def test_deployment_point_helpers(property_log, n):
    d = deployment.Deployment.load()
    for fn in (deployment.acu_axis_points, deployment.gt_points, deployment.cls_points):
        p = call(property_log, fn, d, n)
        if p is not None:
            assert p.shape == (n, 3) or fn is deployment.cls_points
            assert finite(p) and np.all(np.linalg.norm(p, axis=1) <= d.r_gt + d.gt_accuracy)


@given(s=array_of(1e-4, 1.0), p=array_of(1e-6, 0.5), rate=array_of(1e-12, 1e-5))
def test_statistics_helpers(property_log, s, p, rate):
    for fn, args in ((budget.events_needed, (s, p)), (budget.daq_time_needed, (s, p, rate)),
                     (budget.sigma_rel_photostatistics, (s, 1345.0)),
                     (budget.peak_rate, (rate, 0.5, 0.9)),
                     (budget.hours_what_if, (rate, p, 10, s, 0.5, 0.9))):
        try:
            np.broadcast(*(np.asarray(a, float) for a in args if not isinstance(a, str)))
        except (ValueError, TypeError):
            continue
        out = call(property_log, fn, *args)
        if out is not None:
            assert finite(out) and np.all(np.asarray(out) > 0), fn.__name__


@given(pos=positions(2e4), start=positions(2e4, max_n=1))
def test_path_length(property_log, pos, start):
    out = call(property_log, budget.path_length, pos, start)
    if out is not None:
        assert math.isfinite(out) and out >= 0


# --- calibration: fits ----------------------------------------------------------------------------


@given(values=st.one_of(
    hnp.arrays(np.float64, st.integers(0, 200), elements=st.floats(-10, 10)),
    hnp.arrays(np.float64, st.integers(20, 60), elements=st.one_of(st.floats(-10, 10), FLOAT_EL)),
    st.builds(lambda c, n: np.full(n, c), st.floats(-1e3, 1e3), st.integers(20, 100)),
    st.builds(lambda s, n: make_rng(s).normal(5.0, 0.2, n), SEEDS, st.integers(20, 500))))
def test_fit_peak(property_log, values):
    f = call(property_log, resolution.fit_peak, values)
    if f is not None:
        assert finite(list(f.values())) and f["sigma"] > 0
        assert np.min(values) - 10 * f["sigma"] <= f["mean"] <= np.max(values) + 10 * f["sigma"]


@given(e=array_of(0.1, 10.0, max_len=8), a=scalar(0.0, 0.1), seed=SEEDS)
def test_resolution_fit_and_curve(property_log, e, a, seed):
    curve = call(property_log, resolution.resolution_curve, e, a, 0.005, 0.01)
    if curve is not None:
        assert finite(curve) and np.all(curve > 0)
        res = call(property_log, resolution.fit_resolution, e, curve, 0.01 * curve + 1e-6)
        if res is not None:
            assert finite(list(res.values())) and min(res["a"], res["b"], res["c"]) >= 0


def test_every_module_with_public_functions_is_covered(property_log):
    """The list above reaches every layer's public modules (a new module gets its own test)."""
    covered = {m.__name__ for m in (gamma, scintillator, visible, beta, events, sources, geo, opt, trn,
                                    deployment, budget, resolution, validate)}
    assert {"juno_calib.particles.gamma", "juno_calib.detector.optics",
            "juno_calib.calibration.resolution"} <= covered


# --- more of the public API: foundations, light model pieces, statistics, plans -------------------


@given(seed=st.one_of(SEEDS, st.integers(-5, -1), st.just(1.5), st.just("1"), st.just(True), st.none()))
def test_make_rng(property_log, seed):
    rng = call(property_log, make_rng, seed)
    if rng is not None:
        assert isinstance(rng, np.random.Generator)


@given(elapsed=scalar(0.0, 1e20), name=st.sampled_from(("Cs137", "Co60", "nH")))
def test_activity_after(property_log, elapsed, name):
    src = sources.get_source(name)
    a = call(property_log, src.activity_after, elapsed)
    if a is not None:
        assert math.isfinite(a) and 0 <= a <= src.activity


@given(eps=array_of(0.0, 1.0), e=scalar(0.01, 20.0))
def test_klein_nishina_pdf(property_log, eps, e):
    try:
        np.broadcast(np.asarray(eps, float), np.asarray(e, float))
    except (ValueError, TypeError):
        return
    p = call(property_log, gamma.klein_nishina_pdf, eps, e)
    if p is not None:
        assert finite(p) and np.all(p >= 0)


@given(n=counts(), seed=SEEDS)
def test_capture_displacement(property_log, scint, n, seed):
    x = call(property_log, events.capture_displacement, n, rng=make_rng(seed), scint=scint)
    if x is not None:
        assert x.shape == (n, 3) and finite(x)


@given(d=array_of(0.0, 5e4), cos_eta=array_of(-1.0, 1.0), b=array_of(0.0, R_LS))
def test_light_paths(property_log, optics, geometry, d, cos_eta, b):
    for fn, args in ((opt.cathode_solid_angle, (d, 254.0, cos_eta, 0.75)),
                     (opt.boundary_transmission, (b, optics, R_LS, 120.0)),
                     (opt.attenuation, (d, 120.0, d, optics, 120.0))):
        try:
            np.broadcast(*(np.asarray(a, float) for a in args if not isinstance(a, opt.Optics)))
        except (ValueError, TypeError):
            continue
        out = call(property_log, fn, *args)
        if out is not None:
            assert finite(out) and np.all(out >= 0), fn.__name__
            assert fn is opt.cathode_solid_angle or np.all(out <= 1 + 1e-12), fn.__name__
    r = call(property_log, opt.tir_radius, optics, geometry, acrylic=True)
    assert r is not None and 0 < r < geometry.r_ls + geometry.acrylic_thickness


@given(vertices=positions(max_n=3))
def test_direct_expectations(property_log, response, vertices):
    tot = call(property_log, response.expected_total, vertices)
    if tot is not None:
        assert all(finite(t) and np.all(t > 0) for t in tot.values()), "PE >= 0 (and light everywhere)"


@given(u=positions(2.0, max_n=4))
def test_pmt_in_direction(property_log, u):
    layout = geo.pmt_layout(geo.Geometry.load())
    k = call(property_log, layout.pmt_in_direction, u)
    if k is not None:
        assert np.all((k >= -1) & (k < layout.n))


@given(sigma=scalar(1e-3, 0.5), n_events=counts(400), n_toys=counts(50), seed=SEEDS)
def test_peak_precision_toy(property_log, sigma, n_events, n_toys, seed):
    p = call(property_log, budget.peak_precision_toy, sigma, n_events, n_toys, rng=make_rng(seed))
    if p is not None:
        assert math.isfinite(p) and p >= 0


@given(s=array_of(1e-3, 0.2), t=scalar(1e9, 1e12))
def test_map_statistics(property_log, s, t):
    out = call(property_log, budget.map_statistics, s, 1e-3, 1e-7, t)
    if out is not None:
        assert finite(out["events"], out["time"]) and out["total_time"] > 0


@given(pos=positions(2e4), sigma=st.one_of(scalar(0.0, 2e3), array_of(0.0, 100.0, max_len=4)),
       step=scalar(0.0, 2e3))
def test_positioning_term(property_log, pos, sigma, step):
    def g(p):
        return 1.0 + 1e-4 * np.linalg.norm(p, axis=1)  # a smooth yield, 0.1 per m
    out = call(property_log, budget.positioning_term, g, pos, sigma, step=step)
    if out is not None:
        assert finite(out["total"]) and np.all(out["total"] >= 0)
        assert np.allclose(out["total"] ** 2, out["radial"] ** 2 + out["angular"] ** 2)


@given(name=st.sampled_from(("acrylic", "water", "PMMA", 3)), e=array_of(0.01, 20.0))
def test_guide_tube_media(property_log, scint, name, e):
    from juno_calib.hardware import guide_tube

    m = call(property_log, guide_tube.load_medium, name, scint)
    if m is not None:
        assert 0 < m.capture_fraction_h <= 1
        mu = call(property_log, guide_tube.attenuation_coefficient, e, m, scint)
        if mu is not None:
            assert finite(mu) and np.all(mu > 0)


@given(start=positions(3e4, max_n=4), seed=SEEDS, e=scalar(0.1, 10.0))
def test_transmit_to_ls(property_log, scint, geometry, start, seed, e):
    from juno_calib.hardware import guide_tube

    try:  # aim at the centre where the start is a good (n, 3) point set; else any direction
        dirs = -np.nan_to_num(np.atleast_2d(np.asarray(start, dtype=float)).reshape(-1, 3))
        norm = np.linalg.norm(dirs, axis=1, keepdims=True)
        dirs = np.where(norm > 0, dirs / np.where(norm > 0, norm, 1.0), [[0.0, 0.0, 1.0]])
    except (ValueError, TypeError):
        dirs = np.array([[0.0, 0.0, 1.0]])
    n = len(dirs)
    out = call(property_log, guide_tube.transmit_to_ls, np.full(n, e) if np.ndim(e) == 0 else e, start,
               dirs, rng=make_rng(seed), scint=scint, geometry=geometry,
               acrylic=guide_tube.load_medium("acrylic", scint), water=guide_tube.load_medium("water", scint))
    if out is not None:
        assert np.all((out["survival"] >= 0) & (out["survival"] <= 1)) and out["reached"].dtype == bool


@given(n=counts(300), pos=positions(2e4, max_n=1), seed=SEEDS)
def test_simulate_guide_tube(property_log, scint, geometry, n, pos, seed):
    from juno_calib.hardware import guide_tube

    out = call(property_log, guide_tube.simulate_guide_tube, sources.get_source("AmC"), n, pos,
               rng=make_rng(seed), scint=scint, geometry=geometry)
    if out is not None:
        dep, f = out
        assert f["captured_ls"] + f["captured_acrylic"] + f["captured_water"] <= 1 + 1e-12
        assert 0 <= f["nh_reach"] <= f["nh"] <= 1 and finite(dep.e_vis)


@given(n=st.one_of(counts(3000), st.just(1000)), seed=SEEDS,
       pos=st.one_of(positions(2e4, max_n=2), st.just(np.array([17840.0, 0.0, 0.0]))))
def test_guide_tube_peak(property_log, response, scint, n, seed, pos):
    from juno_calib.calibration.peak_statistics import guide_tube_peak

    out = call(property_log, guide_tube_peak, sources.get_source("AmC"), pos, n, rng=make_rng(seed),
               response=response, scint=scint)
    if out is not None:
        assert finite(*out.values()) and np.all(out["sigma_rel"] > 0)
        assert np.all((out["peak_yield"] >= 0) & (out["peak_yield"] <= out["nh_reach"] + 1e-12))


@given(toys=st.one_of(st.lists(array_of(-10.0, 10.0, max_len=80), max_size=7),
                      st.builds(lambda s, t, n: make_rng(s).normal(100.0, 5.0, (t, n)), SEEDS,
                                st.integers(1, 8), st.integers(10, 120))),
       n_sigma=scalar(0.1, 12.0))
def test_fit_toys(property_log, toys, n_sigma):
    from juno_calib.calibration.peak_statistics import fit_toys

    out = call(property_log, fit_toys, toys, n_sigma=n_sigma)
    if out is not None:
        assert finite(list(out.values())) and out["spread"] >= 0 and out["gaussian"] > 0


@given(n=st.one_of(counts(400), st.just(200)), n_toys=st.one_of(counts(8), st.just(5)), seed=SEEDS,
       pos=positions(max_n=1))
def test_peak_precision_toys(property_log, response, scint, n, n_toys, seed, pos):
    from juno_calib.calibration.peak_statistics import peak_precision_toys

    out = call(property_log, peak_precision_toys, sources.get_source("AmC"), pos, n, n_toys,
               rng=make_rng(seed), response=response, scint=scint)
    if out is not None:
        assert finite(list(out.values())) and out["ratio"] > 0


@given(n=st.one_of(counts(900), st.just(600)), n_toys=st.one_of(counts(8), st.just(5)), seed=SEEDS,
       pos=st.one_of(positions(2e4, max_n=1), st.just(np.array([17840.0, 0.0, 0.0]))))
def test_guide_tube_precision_toys(property_log, response, scint, n, n_toys, seed, pos):
    from juno_calib.calibration.peak_statistics import guide_tube_precision_toys

    out = call(property_log, guide_tube_precision_toys, sources.get_source("AmC"), pos, n, n_toys,
               rng=make_rng(seed), response=response, scint=scint)
    if out is not None:
        assert finite(list(out.values())) and out["ratio"] > 0


@given(pos=positions(), g=array_of(0.5, 1.5, max_len=5), tol=scalar(0.1, 1e3))
def test_shell_representatives(property_log, pos, g, tol):
    from juno_calib.calibration.peak_statistics import shell_representatives

    idx = call(property_log, shell_representatives, pos, g, r_max=R_LS, tol=tol)
    if idx is not None:
        assert np.all((idx >= 0) & (idx < len(np.atleast_2d(pos))))


@given(system=st.sampled_from(deployment.SYSTEMS), pos=positions(2e4, max_n=3))
def test_check_reachable(property_log, system, pos):
    try:
        call(property_log, deployment.check_reachable, system, pos)
    except ValueError as err:  # unreachable points: the library's message names the system's reach
        assert f"{system} reaches" in str(err)


# --- physics reach: reactor flux, IBD, oscillation, mass-ordering helpers --------------------------

EV2 = 1e-12  # eV^2 in internal MeV^2
FRACTIONS = st.one_of(st.none(), st.just([0.58, 0.07, 0.30, 0.05]), array_of(0.0, 1.0, max_len=5))


@given(e=array_of(0.5, 15.0), fractions=FRACTIONS, power=scalar(0.0, 10.0))
def test_reactor_spectra(property_log, e, fractions, power):
    s = call(property_log, reactor.isotope_spectra, e)
    if s is not None:
        assert s.shape == (4,) + np.shape(e) and finite(s) and np.all(s >= 0)
    m = call(property_log, reactor.mean_energy_per_fission, fractions)
    if m is not None:
        assert math.isfinite(m) and m > 0
    f = call(property_log, reactor.emitted_spectrum, e, fractions)
    if f is not None:
        assert finite(f) and np.all(f >= 0)
    r = call(property_log, reactor.fissions_per_ns, power, fractions)
    if r is not None:
        assert math.isfinite(r) and r >= 0


@given(e=array_of(0.0, 15.0), cos=array_of(-1.0, 1.0, max_len=3), n_cos=counts(70))
def test_ibd_cross_section(property_log, e, cos, n_cos):
    out = call(property_log, reactor.ibd_kinematics, e, cos)
    if out is not None:
        e_pos, ds = out
        assert finite(e_pos, ds) and np.all(ds >= 0), "dσ/dcos >= 0"
        assert np.all(e_pos >= ELECTRON_MASS * (1 - 1e-12)), "E_e >= m_e"
    sig = call(property_log, reactor.ibd_cross_section, e, n_cos=n_cos)
    if sig is not None:
        assert finite(sig) and np.all(sig >= 0)
        below = np.asarray(e, float) < reactor.ibd_threshold()
        assert np.all(sig[below] == 0), "no IBD below threshold"


@given(isotope=st.sampled_from(reactor.ISOTOPES + ("U-235", "")), e_max=scalar(2.0, 15.0), n=counts(400),
       scale=scalar(0.1, 10.0))
def test_ibd_yield_and_core_weights(property_log, isotope, e_max, n, scale):
    y = call(property_log, reactor.ibd_yield_per_fission, isotope, e_max=e_max, n=n)
    if y is not None:
        assert math.isfinite(y) and y >= 0
    w = call(property_log, reactor.core_weights, None, scale)
    if w is not None:
        assert finite(w) and np.all(w > 0)


def _dm2(lo, hi):
    return st.one_of(st.floats(lo * EV2, hi * EV2), BAD_SCALARS)


@given(e=array_of(0.5, 15.0, max_len=4), baseline=array_of(0.0, 1e8, max_len=4), s12=scalar(0.0, 1.0),
       s13=scalar(0.0, 1.0), dm21=_dm2(0.0, 1e-3), dm31=_dm2(-5e-3, 5e-3))
def test_survival_probability_vacuum(property_log, e, baseline, s12, s13, dm21, dm31):
    p = call(property_log, osc.survival_probability_vacuum, e, baseline, s12, s13, dm21, dm31)
    if p is not None:
        assert finite(p) and np.all((p >= -1e-12) & (p <= 1 + 1e-12)), "probability in [0, 1]"


@given(e=array_of(1.0, 12.0, max_len=3), baseline=array_of(0.0, 1e8, max_len=3),
       density=st.one_of(st.none(), scalar(0.0, 20.0)), ye=scalar(0.0, 1.0),
       ordering=st.sampled_from(osc.ORDERINGS), as_object=st.booleans())
def test_survival_probability_matter(property_log, e, baseline, density, ye, ordering, as_object):
    params = osc.load_parameters("global", ordering)
    v = call(property_log, osc.matter_potential, density, ye)
    if v is not None:
        assert math.isfinite(v) and v >= 0
    p = call(property_log, osc.survival_probability_matter, e, baseline, params if as_object else "global",
             density=density)
    if p is not None:
        assert finite(p) and np.all((p >= -1e-9) & (p <= 1 + 1e-9)), "probability in [0, 1]"
    a = call(property_log, osc.averaged_survival_probability, params if as_object else ordering)
    if a is not None:
        assert 0 <= a <= 1


# --- mass ordering: NL modes, resolution, biased scales, exposure search ---------------------------


@given(e=array_of(0.0, 20.0), n_modes=counts(8), e_lo=scalar(0.5, 2.0), e_hi=scalar(4.0, 12.0))
def test_nl_modes_and_resolution(property_log, e, n_modes, e_lo, e_hi):
    m = call(property_log, mo.nl_modes, e, n_modes, e_lo, e_hi)
    if m is not None:
        assert m.shape == (n_modes,) + np.shape(e) and finite(m) and np.all(np.abs(m) <= 1 + 1e-12), \
            "Legendre polynomials on [-1, 1] are bounded by 1"
    s = call(property_log, mo.Resolution(0.03, 0.008, 0.012).sigma, e)
    if s is not None:
        assert finite(s) and np.all(s > 0)


@given(amplitude=scalar(-0.2, 0.2), mode=counts(4), n_modes=counts(6), bias=array_of(-0.2, 0.2, max_len=4))
def test_biased_and_calibrated_visible(property_log, amplitude, mode, n_modes, bias):
    grid = np.linspace(1.1, 10.0, 7)
    f = call(property_log, mo.biased_visible, lambda x: x, amplitude, mode, n_modes)
    if f is not None:
        ev = f(grid)
        assert finite(ev) and np.all(np.abs(ev / grid - 1) <= abs(amplitude) + 1e-12)
    e_prompt = np.linspace(1.0, 9.0, np.size(bias)) if np.ndim(bias) == 1 else [2.0, 5.0]
    g = call(property_log, mo.calibrated_visible, lambda x: x, e_prompt, bias)
    if g is not None:
        ev = g(grid)
        assert finite(ev) and np.all(np.abs(ev / grid - 1) <= 0.2 + 1e-12)


@given(k=scalar(0.0, 10.0), target=scalar(0.5, 30.0), lo=scalar(0.1, 1.0), hi=scalar(2.0, 50.0),
       tol=scalar(1e-3, 1.0))
def test_years_to_reach(property_log, k, target, lo, hi, tol):
    slope = k if isinstance(k, float) and math.isfinite(k) else 1.0
    y = call(property_log, mo.years_to_reach, lambda years: slope * years, target, lo=lo, hi=hi, tol=tol)
    if y is not None:
        assert y == math.inf or lo <= y <= hi
        if lo < y < hi:
            assert abs(slope * y - target) <= slope * tol + 1e-9, "Δχ²(years) reaches the target"


@given(step=scalar(1e-3, 0.1), e_max=scalar(2.0, 15.0))
def test_default_enu_grid(property_log, step, e_max):
    g = call(property_log, mo.default_enu_grid, None, step, e_max)
    if g is not None:
        assert finite(g) and np.all(np.diff(g) > 0) and g[0] > reactor.ibd_threshold()


@given(seed=SEEDS, n_draws=st.integers(1, 40), spread=st.one_of(st.just(0.0), scalar(0.0, 0.05)), n_modes=counts(4),
       e_lo=scalar(0.5, 2.0), e_hi=scalar(4.0, 12.0))
def test_posterior_nl_modes(property_log, seed, n_draws, spread, n_modes, e_lo, e_hi):
    e_vis = np.linspace(0.5, 10.0, 30)
    sd = spread if isinstance(spread, float) and math.isfinite(spread) and 0 <= spread < 1 else 0.01
    rel = make_rng(seed).normal(0.0, sd, (n_draws, 30))
    out = call(property_log, mo.posterior_nl_modes, e_vis, rel, n_modes=n_modes, e_lo=e_lo, e_hi=e_hi)
    if out is not None:
        assert finite(out.mixing, out.tilt, out.envelope, out.captured) and out.envelope > 0
        assert 0 <= out.captured <= 1 + 1e-9, "the modes carry at most the draws' variance"


@pytest.fixture(scope="module")
def ordering_model():
    """A coarse mass-ordering model (50 keV, 2 angles): the input checks do not need the chapter's."""
    truth = osc.load_parameters("global", "normal")
    visible = mo.positron_visible_model(scintillator.Scintillator.load())
    response = mo.build_response(visible, mo.Resolution(0.03, 0.008, 0.012),
                                 e_nu=mo.default_enu_grid(step=0.05), n_cos=2, n_modes=1)
    return mo.MassOrderingModel.build(response, truth), truth


@given(data=array_of(0.0, 1e4, max_len=3), years=scalar(0.1, 20.0), dm31=array_of(-3e-15, 3e-15, max_len=3),
       right_size=st.booleans(), sd=scalar(0.0, 1.0))
def test_profile_and_exposures(property_log, ordering_model, data, years, dm31, right_size, sd):
    model, truth = ordering_model
    n_bins = model.response.matrix.shape[0]
    if right_size and isinstance(data, np.ndarray) and data.ndim == 1 and data.size:
        data = np.resize(data, n_bins)  # one count per analysis bin
    out = call(property_log, mo.profile, model, data, dm31, truth, years=years,
               priors={"dm2_21": sd}, n_iter=1)
    if out is not None:
        chi2, pars, _ = out
        assert finite(chi2, pars) and np.all(chi2 >= -1e-9), "a χ² is not negative"
    d = call(property_log, mo.dchi2_vs_years, model, truth, years, n_coarse=3, n_fine=3, n_iter=1)
    if d is not None:
        assert finite(d) and np.all(d >= 0), "Asimov Δχ² of the wrong ordering is not negative"


@pytest.fixture(scope="module")
def nl_model(scint):
    from juno_calib.core import units
    from juno_calib.detector.optics import Optics

    cfg = nlin.NLFitConfig.load()
    model = nlin.ElectronNLModel.build(
        z_over_a=scint.z_over_a, mean_excitation_mev=scint.mean_excitation_energy / units.MeV,
        density_gcm3=scint.density / (units.g / units.cm**3), n_ls=Optics.load().n_ls,
        scint_yield_per_mev=Optics.load().scint_yield * units.MeV, config=cfg)
    return model, cfg


def three(lo: float, hi: float):
    """Three good values (one per line) or anything :func:`array_of` draws."""
    return st.one_of(hnp.arrays(np.float64, 3, elements=st.floats(lo, hi)), array_of(0.0, hi, max_len=3))


@given(mean=three(100.0, 2e4), err=three(1.0, 50.0), shift=scalar(-0.01, 0.01),
       dark=scalar(0.0, 100.0), a_start=scalar(500.0, 2000.0), seed=SEEDS, good_weights=st.booleans())
def test_peak_data_and_nl_fit(property_log, nl_model, mean, err, shift, dark, a_start, seed, good_weights):
    model, cfg = nl_model
    n = 3
    peaks = call(property_log, nlin.PeakData, ("a", "b", "c"), np.array([0.66, 1.1, 2.2]), mean, err,
                 np.array([True, True, False]), np.full(n, shift) if isinstance(shift, float) else shift)
    if peaks is None:
        return
    assert finite(peaks.mean_pe, peaks.err_pe) and np.all(peaks.mean_pe > 0) and np.all(peaks.err_pe > 0)
    g = model.t.size
    w = make_rng(seed).uniform(0, 1, (n, g) if good_weights else (n, g + 1))
    fit = call(property_log, nlin.NLFit, model, peaks, w, cfg, dark_pe=dark, a_start=a_start)
    if fit is not None:
        ll = fit.log_likelihood(fit.x0)
        assert np.all(np.isfinite(ll)), "the likelihood at the start point is a number"


@given(edges=array_of(0.0, 3e4, max_len=5), counts_=array_of(0.0, 100.0, max_len=4), line=counts(3),
       dark=scalar(0.0, 1e3), good=st.booleans())
def test_b12_data(property_log, edges, counts_, line, dark, good):
    t = np.linspace(0.0, 13.0, 6)
    if good and isinstance(counts_, np.ndarray) and counts_.ndim == 1:
        edges = 1000.0 + 50.0 * np.arange(counts_.size + 1)  # increasing, one more than the counts
    b = call(property_log, nlin.B12Data, edges, counts_, t, np.ones(6), np.zeros(6), line, dark)
    if b is not None:
        assert np.all(np.diff(b.edges_pe) > 0) and b.counts.size == b.edges_pe.size - 1


@given(n=st.one_of(st.integers(100, 300), counts(300)), a=scalar(500.0, 2000.0), kb=scalar(0.005, 0.02),
       dark=scalar(0.0, 50.0), seed=SEEDS,
       which=st.sampled_from(["templates", "annihilation", "b12_data", "b12_sample"]),
       other=st.sampled_from([None, "scint", "rng", "lines"]))
def test_nl_data_simulations(property_log, nl_model, scint, geometry, response, n, a, kb, dark, seed, which, other):
    """The NL chain's simulations check their inputs (small samples: the checks, not the physics)."""
    from juno_calib.particles.beta import B12Decay

    model, cfg = nl_model
    rng = "seed" if other == "rng" else make_rng(seed)
    sc = "design" if other == "scint" else scint
    lines = "nH" if other == "lines" else nld.LINES[:1]
    if which == "templates":
        out = call(property_log, nld.line_templates, lines, n, model, rng=rng, scint=sc, geometry=geometry,
                   a_nominal=a, kb_nominal=kb, dark_pe=dark)
        if out is not None:
            w, shift, err = out
            assert finite(w, shift, err) and np.all(w >= 0) and np.all(err > 0)
    elif which == "annihilation":
        w = call(property_log, nld.annihilation_weights, model, n, rng=rng, scint=sc, geometry=geometry)
        if w is not None:
            assert finite(w) and np.all(w >= 0)
    elif which == "b12_data":
        pe = make_rng(seed).uniform(0, 15 * 1500.0, 200)
        b = call(property_log, nld.b12_data, pe, config=cfg, a_start=a, n_template=n, rng=rng,
                 decay=B12Decay.load(), gamma_line=0, dark_var_pe=dark)
        if b is not None:
            assert b.counts.sum() <= 200 and math.isclose(b.w_ground.sum() + b.w_gamma.sum(), 1.0, rel_tol=1e-9)
    else:
        pe = call(property_log, nld.b12_sample, n, rng=rng, scint=sc, geometry=geometry, response=response,
                  fiducial_radius=a * 5.0 if isinstance(a, float) else a, residual=kb)
        if pe is not None:
            assert finite(pe) and pe.shape == (n,)


# --- dual calorimetry: channel charges and the laser-scan moments ---------------------------------


@given(n_pe=array_of(0.0, 500.0), spe=array_of(0.0, 0.5, max_len=1), seed=SEEDS)
def test_lpmt_charge(property_log, n_pe, spe, seed):
    q = call(property_log, dcal.lpmt_charge, n_pe, spe, rng=make_rng(seed))
    if q is not None:
        assert finite(q) and q.shape == np.shape(n_pe)
        assert np.all(q[np.asarray(n_pe, float) == 0] == 0), "no PE, no charge"


@given(lam=array_of(0.0, 300.0, max_len=4), spe=scalar(0.0, 0.5), a=scalar(0.0, 0.3), x=array_of(0.1, 300.0),
       degree=counts(10))
def test_charge_and_poisson_moments(property_log, lam, spe, a, x, degree):
    n = np.size(lam) if np.ndim(lam) == 1 else 2
    aa = a if isinstance(a, float) and 0 <= a <= 0.3 else 0.1
    nl = dcal.ChannelNL(a=np.full(n, aa), s=np.full(n, 300.0))
    out = call(property_log, dcal.charge_moments, lam, nl, np.full(n, spe) if isinstance(spe, float) else spe)
    if out is not None:
        m, v = out
        assert finite(m, v) and np.all(v >= 0) and np.all(m >= -1e-9), "charge >= 0, variance >= 0"
        assert np.all(m <= np.asarray(lam, float) * 1.0 / nl.norm + 1e-9), "saturation only lowers the charge"
    pm = call(property_log, dcal.poisson_moments, x, degree)
    if pm is not None:
        assert pm.shape == (np.size(x), degree) and finite(pm)


# --- resolution fit: Eq. 1 model, toys, pulls, coverage, event counts ------------------------------

RDATA = rfit.ResolutionData(("a", "b", "c"), np.array([0.7, 1.5, 6.0]), np.array([0.04, 0.03, 0.015]),
                            np.array([1e-3, 1e-3, 5e-4]), np.array([0.01, 0.0, 0.0]),
                            np.array([False, False, True]))


@given(a=array_of(0.0, 0.1), b=scalar(0.0, 0.05), c=scalar(0.0, 0.05), theta=array_of(0.0, 2.0, max_len=6),
       seed=SEEDS)
def test_resolution_model(property_log, a, b, c, theta, seed):
    ab = call(property_log, rfit.abar, a, b, c)
    if ab is not None:
        assert finite(ab) and np.all(ab >= np.asarray(a, float) - 1e-15), "abar >= a"
    m = call(property_log, rfit.model_sigma_rel, theta, RDATA)
    if m is not None:
        assert finite(m) and np.all(m >= 0) and m.shape == np.shape(theta)[:-1] + (3,)
    toy = call(property_log, rfit.toy_data, RDATA, 0.03, b, c, rng=make_rng(seed))
    if toy is not None:
        assert finite(toy.sigma_rel) and np.all(toy.sigma_rel >= 0)


@given(values=array_of(-5.0, 5.0), errors=array_of(1e-3, 2.0), truth=scalar(-1.0, 1.0),
       intervals=array_of(-2.0, 2.0, max_len=6))
def test_pull_and_coverage(property_log, values, errors, truth, intervals):
    p = call(property_log, rfit.pull, values, errors, truth)
    if p is not None:
        assert finite(p)
    c = call(property_log, rfit.coverage, intervals, truth)
    if c is not None:
        assert 0.0 <= c <= 1.0, "a fraction"


@given(name=st.sampled_from(("Cs137", "Co60", "AmBe", "Ge68", "nH", "cs137")),
       part=st.sampled_from(("all", "prompt", "capture", "delayed")), daq=scalar(0.01, 10.0),
       config=st.sampled_from(("design", "DESIGN")))
def test_centre_events(property_log, name, part, daq, config):
    n = call(property_log, rfit.centre_events, name, part, config=config, daq_scale=daq)
    if n is not None:
        assert isinstance(n, int) and n >= 0, "an event count"


# --- detector: hit times, single-PE charges, the true detector's efficiencies ----------------------

TIMING = tmg.Timing.load("design")


@given(t=array_of(-50.0, 500.0), tts=scalar(0.0, 10.0))
def test_time_pdfs(property_log, t, tts):
    f = call(property_log, tmg.emission_pdf, t, TIMING)
    if f is not None:
        assert finite(f) and np.all(f >= 0), "a density"
        assert np.all(f[np.asarray(t, float) < 0] == 0), "no light before the vertex time"
    r = call(property_log, tmg.residual_pdf, t, TIMING, tts)
    if r is not None:
        assert finite(r) and np.all(r >= 0)


@given(vtx=positions(max_n=3), pmt=positions(2e4, max_n=3))
def test_time_of_flight(property_log, vtx, pmt):
    tof = call(property_log, tmg.time_of_flight, vtx, pmt, R_LS, 120.0, TIMING)
    if tof is not None:
        d = np.linalg.norm(np.atleast_2d(pmt)[None, :, :] - np.atleast_2d(vtx)[:, None, :], axis=-1)
        assert finite(tof) and np.all(tof >= d / TIMING.speed_of_light * (1 - 1e-12)), "no faster than light"


@given(sigma=scalar(0.0, 1.0), frac=scalar(0.0, 0.9), mean=scalar(0.1, 10.0), shape=scalar(0.1, 10.0),
       kinds=st.one_of(hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-1, 2)),
                       hnp.arrays(np.float64, 3, elements=st.floats(0, 2)), st.just("all")),
       n_pe=st.one_of(hnp.arrays(np.int64, st.integers(0, 6), elements=st.integers(-2, 10**6)),
                      hnp.arrays(np.float64, 3, elements=st.floats(0, 10)), st.just(5)),
       q=array_of(0.0, 20.0), seed=SEEDS)
def test_spe_spectra_and_samplers(property_log, sigma, frac, mean, shape, kinds, n_pe, q, seed):
    s = call(property_log, spem.SPESpectrum, peak_sigma=sigma, tail_fraction=frac, tail_mean=mean,
             tail_shape=shape)
    if s is None:
        return
    assert s.mean > 0 and s.enf >= 1, "a positive mean charge; the ENF is at least 1"
    f = call(property_log, s.pdf, q)
    if f is not None:
        assert finite(f) and np.all(f >= 0), "a density"
    spectra = (s, spem.SPESpectrum(peak_sigma=0.3))
    c = call(property_log, spem.sample_charges, kinds, spectra, rng=make_rng(seed))
    if c is not None:
        assert c.shape == np.shape(kinds) and finite(c) and np.all(c > 0), "a PE has a positive charge"
    tot = call(property_log, spem.sum_charges, n_pe, 0, spectra, rng=make_rng(seed))
    if tot is not None:
        assert tot.shape == np.shape(n_pe) and finite(tot)
        assert np.all(tot[np.asarray(n_pe) == 0] == 0), "no PE, no charge"


@given(pmts=st.one_of(hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-2, 6)),
                      hnp.arrays(np.float64, 3, elements=st.floats(0, 4)), st.just("all")),
       spe=array_of(0.0, 0.6, max_len=5), n_guide=counts(64), seed=SEEDS)
def test_spe_charges_and_guides(property_log, pmts, spe, n_guide, seed):
    q = call(property_log, tmg.spe_charges, pmts, spe, rng=make_rng(seed))
    if q is not None:
        assert q.shape == np.shape(pmts) and finite(q) and np.all(q > 0), "a PE has a positive charge"
    edges = np.cos(np.linspace(0.0, np.pi, 9))
    g = call(property_log, tmg.cos_guide, edges, n_guide)
    if g is not None:
        assert np.all((g >= 0) & (g < 8)) and np.all(np.diff(g) >= 0)
    cdf = np.cumsum(np.full((2, 5), 0.2), axis=1)
    h = call(property_log, tmg.cdf_guide, cdf, n_guide)
    if h is not None:
        assert np.all((h >= 0) & (h < 5))


@given(enabled=st.one_of(st.lists(st.sampled_from(tdet.IMPERFECTIONS + ("shadow",)), max_size=3),
                         st.just("dead"), st.just(3), st.just(tdet.IMPERFECTIONS)),
       seed=SEEDS, as_object=st.booleans())
def test_pmt_efficiencies(property_log, response, enabled, seed, as_object):
    imp = tdet.Imperfections.load("design")
    out = call(property_log, tdet.pmt_efficiencies, response, imp if as_object else "design", enabled,
               rng=make_rng(seed))
    if out is not None:
        w = out["weight"]
        assert finite(w) and np.all(w >= 0), "efficiencies >= 0"
        assert np.all(w[out["dead"] | out["patch"]] == 0), "dead PMTs see nothing"


# --- the true detector's calibration runs: recording, runs, smearing, voxels -------------------------


@given(expected=array_of(0.0, 5e3), dark=scalar(0.0, 50.0), seed=SEEDS)
def test_record(property_log, expected, dark, seed):
    pe = call(property_log, truth.record, expected, dark, rng=make_rng(seed))
    if pe is not None:
        assert finite(pe) and np.all(pe >= -dark), "recorded PE >= -(mean dark noise)"


@given(light=st.one_of(hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(0, 4)),
                                  elements=st.floats(0.0, 3e3)),
                       array_of(0.0, 3e3, max_len=4)),
       n=st.one_of(st.integers(0, 30), st.just(2.5), st.just(-1), st.just([1, 2, 3, 4, 5])), dark=scalar(0.0, 30.0),
       seed=SEEDS)
def test_source_runs(property_log, light, n, dark, seed):
    runs = call(property_log, truth.source_runs, light, n, dark, rng=make_rng(seed))
    if runs is not None:
        assert len(runs) == len(light) and all(finite(r) and r.size == n for r in runs)


@given(e_vis=array_of(0.0, 10.0, max_len=4), res=scalar(0.0, 2e3), seed=SEEDS)
def test_smear(property_log, e_vis, res, seed):
    n = np.size(e_vis) if np.ndim(e_vis) == 1 else 2
    rng = make_rng(seed)
    ev = {"e_vis": e_vis, "x_true": rng.uniform(-1e4, 1e4, (n, 3)), "z": rng.standard_normal((n, 3))}
    x = call(property_log, truth.smear, ev, res)
    if x is not None:
        assert finite(x) and x.shape == (n, 3)
        shift = np.linalg.norm(x - ev["x_true"], axis=1)
        assert np.all(shift <= res / np.sqrt(0.05) * np.linalg.norm(ev["z"], axis=1) + 1e-6)


@given(pos=positions(), r_ls=scalar(1e3, 2e4), u_edges=array_of(0.0, 1.0, max_len=4))
def test_voxel_index(property_log, pos, r_ls, u_edges):
    edges = (np.sort(np.unique(u_edges)) if np.ndim(u_edges) == 1 else u_edges, np.linspace(-1, 1, 3),
             np.linspace(0, 2 * np.pi, 5))
    out = call(property_log, truth.voxel_index, pos, edges, r_ls)
    if out is not None:
        idx, ok = out
        n_vox = (len(edges[0]) - 1) * 2 * 4
        assert np.all((idx >= 0) & (idx < n_vox)) and ok.dtype == bool


@given(rate=scalar(0.0, 1e-5), sel=scalar(0.0, 1.0), params_ok=st.booleans())
def test_spallation_rate(property_log, rate, sel, params_ok):
    params = {"muon_rate": rate, "neutrons_per_muon": 1.1, "spallation_selection": sel} if params_ok else [1, 2]
    r = call(property_log, truth.spallation_rate, params)
    if r is not None:
        assert math.isfinite(r) and r >= 0


# --- non-uniformity: the Crystal Ball peak fit, the correction, the residual -----------------------


@given(t=array_of(-10.0, 10.0), sigma=scalar(0.1, 3.0), beta=scalar(0.5, 5.0), m=scalar(1.1, 20.0))
def test_crystal_ball(property_log, t, sigma, beta, m):
    f = call(property_log, nu.crystal_ball, t, 2.0, 0.0, sigma, beta, m)
    if f is not None:
        assert finite(f) and np.all((f >= 0) & (f <= 2.0 + 1e-12)), "0 <= shape <= height"


@given(values=st.one_of(
    hnp.arrays(np.float64, st.integers(0, 80), elements=st.floats(-10, 1e3)),
    st.builds(lambda c, n: np.full(n, c), st.floats(-1e3, 1e3), st.integers(50, 100)),
    st.builds(lambda s, n: make_rng(s).poisson(1000.0, n).astype(float), SEEDS, st.integers(50, 400)),
    st.builds(lambda s: np.append(make_rng(s).poisson(1000.0, 100).astype(float), np.nan), SEEDS)))
def test_fit_peak_tail(property_log, values):
    f = call(property_log, nu.fit_peak_tail, values)
    if f is not None:
        assert finite([f["mean"], f["sigma"], f["mean_err"]]) and f["sigma"] > 0
        assert np.min(values) <= f["mean"] <= np.max(values)


@given(pe=array_of(-5.0, 5e3, max_len=4), pos=positions(), y0=scalar(100.0, 3e3))
def test_correct(property_log, pe, pos, y0):
    e = call(property_log, nu.correct, pe, pos, nu.UniformMap(r_ref=R_LS), y0)
    if e is not None:
        assert finite(e) and np.allclose(e * y0, pe), "g = 1: PE / y0"


@given(seed=SEEDS, n=st.integers(1, 3000), r_fv=scalar(5e3, 1.6e4), shape=st.sampled_from(
    ((2, 2, 2), (1, 1, 1), (0, 2, 2), (2, 2), "888", (2.5, 2, 2))))
def test_residual_nonuniformity(property_log, geometry, seed, n, r_fv, shape):
    rng = make_rng(seed)
    x = geo.sample_uniform_ls(n, rng=rng, r_max=1.5e4, geometry=geometry)
    out = call(property_log, nu.residual_nonuniformity, rng.normal(1.0, 0.01, n), x, r_fv, shape)
    if out is not None:
        assert finite([out["residual"], out["raw"], out["stat"]]) and 0 <= out["residual"] <= out["raw"]


# --- fitting: priors, posterior, the maximum-posterior fit and a short MCMC -----------------------

PRIORS = (fitting.Parameter("a", fitting.Uniform(0.0, 2.0)), fitting.Parameter("b", fitting.Normal(0.5, 0.2)))


def _gauss_ll(theta):
    return -0.5 * np.sum(((np.asarray(theta) - [1.0, 0.4]) / 0.1) ** 2, axis=-1)


@given(theta=array_of(-1.0, 3.0, max_len=4), params=st.sampled_from((PRIORS, PRIORS[:1], (), "ab", (1, 2))))
def test_log_prior_and_posterior(property_log, theta, params):
    lp = call(property_log, fitting.log_prior, theta, params)
    if lp is not None:
        assert not np.any(np.isnan(lp)) and np.all(lp < np.inf), "log-density: finite or -inf"
    post = call(property_log, fitting.make_log_posterior, _gauss_ll, params)
    if post is not None and len(params) == 2:
        v = post(np.array([[1.0, 0.4], [3.0, 0.4]]))
        assert np.isfinite(v[0]) and v[1] == -np.inf, "zero outside the Uniform prior"


@given(x0=array_of(0.0, 2.0, max_len=3), scale=st.one_of(st.none(), array_of(0.0, 0.1, max_len=3)),
       n_walkers=counts(12), seed=SEEDS)
def test_fits(property_log, x0, scale, n_walkers, seed):
    best = call(property_log, fitting.fit_max_posterior, _gauss_ll, PRIORS, x0)
    if best is not None:
        assert finite(best.values, best.errors) and np.all(best.errors > 0)
    res = call(property_log, fitting.sample_posterior, _gauss_ll, PRIORS, rng=make_rng(seed), n_walkers=n_walkers,
               n_steps=20, x0=None if best is None else best.values, init_scale=scale)
    if res is not None:
        assert finite(res.chain) and np.all((res.chain[..., 0] >= 0) & (res.chain[..., 0] <= 2)), \
            "walkers stay in the prior's support"


# --- non-linearity: stopping power, grid interpolation, line weights ------------------------------

NL_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 15.0, 40)])


@given(t=array_of(1e-3, 20.0), i=scalar(5e-5, 1e-4), zoa=scalar(0.3, 0.6))
def test_bethe_electron(property_log, t, i, zoa):
    s = call(property_log, nlin.bethe_electron, t, z_over_a=zoa, mean_excitation_mev=i)
    if s is not None:
        assert finite(s)
        assert np.all(s[np.asarray(t, float) > 1e-2] > 0), "stopping power > 0 above 10 keV"


@given(t=array_of(0.0, 15.0), seed=SEEDS, n_events=counts(5))
def test_locate_and_grid_weights(property_log, t, seed, n_events):
    out = call(property_log, nlin.locate, NL_GRID, t)
    if out is not None:
        idx, frac = out
        assert np.all((idx >= 0) & (idx < NL_GRID.size - 1)) and np.all((frac >= -1e-12) & (frac <= 1 + 1e-12))
    n = np.size(t) if np.ndim(t) == 1 else 1
    ev = make_rng(seed).integers(0, max(int(n_events), 1) if isinstance(n_events, int) and n_events > 0 else 1, n)
    w = call(property_log, nlin.grid_weights, t, ev, n_events, NL_GRID)
    if w is not None:
        assert finite(w) and np.all(w >= -1e-12), "weights >= 0"
        assert math.isclose(w.sum(), n / n_events, rel_tol=1e-9, abs_tol=1e-12), "one unit per deposit"


@given(pos=positions(), e_vis=array_of(0.0, 5.0, max_len=5), seed=SEEDS, match=st.booleans())
def test_light_centre(property_log, pos, e_vis, seed, match):
    n_dep = np.shape(pos)[0] if np.ndim(pos) == 2 else 3
    if match and isinstance(e_vis, np.ndarray) and e_vis.ndim == 1 and e_vis.size:
        e_vis = np.resize(e_vis, n_dep)  # one visible energy per deposit
    dep = SimpleNamespace(event=make_rng(seed).integers(0, 2, n_dep), position=pos, e_vis=e_vis, n_events=2)
    c = call(property_log, vertex.light_centre, dep)
    if c is not None:
        ok = np.isfinite(c).all(axis=1)
        assert c.shape == (2, 3) and np.all(np.isnan(c[~ok]))
        r_max = np.max(np.linalg.norm(np.atleast_2d(pos), axis=1), initial=0.0)
        assert np.all(np.linalg.norm(c[ok], axis=1) <= r_max * (1 + 1e-9) + 1e-9), "a weighted mean"


@given(seed=SEEDS, n=st.integers(0, 400), dark=scalar(0.0, 100.0), guess=scalar(500.0, 2000.0),
       window=scalar(0.05, 0.5), line=st.sampled_from(nld.LINES + ("Cs137",)))
def test_measure_peak_and_programme_events(property_log, seed, n, dark, guess, window, line):
    pe = make_rng(seed).poisson(1000.0 + 30.0, n).astype(float)
    pk = call(property_log, nld.measure_peak, pe, dark_pe=dark, guess_pe=guess, window=window)
    if pk is not None:
        assert math.isfinite(pk["mean"]) and pk["sigma"] > 0
    k = call(property_log, nld.programme_events, line)
    if k is not None:
        assert isinstance(k, int) and k > 0, "a run records decays"


# --- the vertex model of chapter 5 (calibration/vertex_model, nonuniformity_study) ---------------

KINETIC = st.sampled_from([(0.0, 4.0), (1.0,), (4.0, 1.0), (), (30.0,), [1.0], (1.0, 1.0), "1"])


@given(n=counts(300), kin=KINETIC, share=scalar(0.0, 1.0), r_edge=scalar(0.0, 17.7), n_val=counts(10),
       bad=st.sampled_from([None, "spec", 3]))
def test_sample_spec_and_key(property_log, n, kin, share, r_edge, n_val, bad):
    spec = call(property_log, vmod.SampleSpec, kinetic=kin, n_per_energy=n, edge_share=share, r_edge_m=r_edge,
                n_validation=n_val)
    if spec is not None:
        key = call(property_log, vmod.sample_key, spec, make_rng(1))
        assert isinstance(key, str) and len(key) == 64, "a SHA-256"
        assert call(property_log, vmod.sample_key, spec, bad) is None, "rng must be a Generator"
    assert call(property_log, vmod.reconstructed_positrons, bad, rng=make_rng(1)) is None
    assert call(property_log, nus.vertex_model, bad, rng=make_rng(1), r_ls=R_LS) is None
    assert isinstance(vmod.cache_dir(), Path)


@given(seed=SEEDS, n=st.integers(0, 80), nodes=st.integers(1, 3), pos=positions(), e=array_of(0.0, 10.0),
       edges=st.sampled_from([None, (0.0, 1e4, 1.77e4), (0.0,), (1e4, 0.0), (0.0, math.nan), "edges"]))
def test_vertex_model_resamples_inside_the_ls(property_log, seed, n, nodes, pos, e, edges):
    rng = make_rng(seed)
    x = geo.sample_uniform_ls(n, rng=rng)
    sample = {"node": rng.integers(0, nodes, n), "e_vis": rng.uniform(0.5, 9.0, n), "x_true": x,
              "x_rec": x + rng.normal(0.0, 80.0, (n, 3))}
    model = call(property_log, vmod.VertexModel.from_sample, sample,
                 r_edges=None if edges is None else np.asarray(edges) if not isinstance(edges, str) else edges)
    if model is None:
        return
    assert np.all(model.count >= vmod.MIN_CELL) and np.all(model.sigma >= 0)
    out = call(property_log, model.sample, pos, e, rng=rng)
    if out is not None:
        assert finite(out) and np.all(np.linalg.norm(out, axis=1) <= R_LS * (1 + 1e-9)), "vertices in the LS"


@given(mode=st.sampled_from(["smeared", "reconstructed", "exact", 3, None]), res=scalar(0.0, 100.0), seed=SEEDS,
       n_shells=st.sampled_from([1, 4, 0, 2.5, "4"]))
def test_vertex_settings_event_vertices_and_residual_by_radius(property_log, mode, res, seed, n_shells):
    settings = call(property_log, nus.VertexSettings, vertex_mode=mode, vertex_resolution_1mev_cm=res)
    rng = make_rng(seed)
    n = 400
    x = geo.sample_uniform_ls(n, rng=rng, r_max=1.7e4)
    e_vis = rng.uniform(0.5, 9.0, n)
    events = {"x_true": x, "e_vis": e_vis, "z": rng.standard_normal((n, 3))}
    model = vmod.VertexModel.from_sample({"node": np.zeros(n, dtype=int), "e_vis": e_vis, "x_true": x,
                                          "x_rec": x + rng.normal(0.0, 50.0, (n, 3))})
    if settings is not None:
        out = call(property_log, nus.event_vertices, settings, events, rng=rng, model=model)
        if out is not None:
            assert out.shape == (n, 3) and finite(out)
            by_r = call(property_log, nus.residual_by_radius, nu.UniformMap(r_ref=R_LS), 1000.0, events,
                        1000.0 * e_vis, 1.65e4, out, n_shells=n_shells, shape=(1, 2))
            if by_r is not None:
                assert finite(by_r["residual"]) and np.all(by_r["residual"] <= by_r["raw"] + 1e-12)
                assert np.allclose(by_r["offset"], 0.0, atol=1e-9), "g = 1 and E = e_vis: no offset"
    assert call(property_log, nus.event_vertices, nus.VertexSettings(vertex_mode="reconstructed"), events,
                rng=rng, model=None) is None, "the reconstructed mode needs a model"
    assert call(property_log, nus.sample_events, None, {}, rng=rng) is None
    assert call(property_log, nus.paired_validation, nu.UniformMap(r_ref=R_LS), 1000.0, events, e_vis, e_vis,
                1.65e4, x, "draw", rng=rng) is None, "draw must be callable"


# --- the ¹²B spectrum of the resolution fit and the truth's ¹²B decays over the volume ------------------


def _b12_model():
    from juno_calib.core import units
    from juno_calib.particles.scintillator import Scintillator

    sc, op = Scintillator.load("design"), opt.Optics.load("design")
    return nlin.ElectronNLModel.build(
        z_over_a=sc.z_over_a, mean_excitation_mev=sc.mean_excitation_energy / units.MeV,
        density_gcm3=sc.density / (units.g / units.cm**3), n_ls=op.n_ls,
        scint_yield_per_mev=op.scint_yield * units.MeV, config=nlin.NLFitConfig.load("design"))


B12_MODEL = _b12_model()
B12_W = nlin.grid_weights(np.array([1.0, 1.223]), np.array([0, 0]), 1, B12_MODEL.t)
B12_COV = [[0.63e-3**2, -0.921 * 0.63e-3 * 0.187], [-0.921 * 0.63e-3 * 0.187, 0.187**2]]
B12_SPEC = rfit.b12_spectrum(np.arange(4.0, 14.0001, 0.5), np.ones(20), model=B12_MODEL, w_nh=B12_W,
                             w_gamma=B12_W, e_nh=2.223, nl_mean=[0.01452, 1.739], nl_cov=B12_COV)


@given(lo=scalar(-5.0, 10.0), width=scalar(0.01, 1.0), n_bins=counts(40), e_nh=scalar(0.5, 5.0),
       mean=array_of(0.0, 2.0, max_len=3), scale=scalar(0.0, 2.0))
def test_b12_spectrum(property_log, lo, width, n_bins, e_nh, mean, scale):
    try:
        edges = (float(lo) + float(width) * np.arange(int(n_bins) + 1) if 0 <= int(n_bins) <= 1000
                 else np.full(3, float(lo)))
    except (TypeError, ValueError, OverflowError):
        edges = lo
    n = np.size(edges) - 1 if isinstance(edges, np.ndarray) else 2
    cov = np.asarray(B12_COV) * (scale if isinstance(scale, float) else 1.0)
    spec = call(property_log, rfit.b12_spectrum, edges, np.ones(max(n, 0)), model=B12_MODEL, w_nh=B12_W,
                w_gamma=B12_W, e_nh=e_nh, nl_mean=mean, nl_cov=cov)
    if spec is not None:
        assert spec.counts.size == spec.edges.size - 1 and np.all(np.diff(spec.cell_edges) > 0)
        assert np.allclose(spec.cell_edges[spec.edge_index], spec.edges), "the bins are cells of the grid"


@given(theta=array_of(0.0, 0.05, max_len=9), n=scalar(0.0, 1e6), z=array_of(-3.0, 3.0, max_len=2), seed=SEEDS,
       scale=scalar(0.5, 3.0), slope=scalar(0.5, 3.0))
def test_fold_b12(property_log, theta, n, z, seed, scale, slope):
    if isinstance(theta, np.ndarray) and theta.ndim == 1 and theta.size == 9:
        theta = theta.copy()
        theta[5:] *= 20.0  # NL coordinates of a few sigma, scale and slope of a few percent
    mu = call(property_log, rfit.fold_b12, B12_SPEC, theta, n_events=n)
    if mu is not None:
        assert finite(mu) and np.all(mu >= -1e-9 * max(float(n), 1.0)), "expected counts >= 0"
        assert mu.sum() <= float(n) * (1 + 1e-9) + 1e-9, "a window cannot hold more than every decay"
        toy = call(property_log, rfit.b12_toy, B12_SPEC, theta, n_events=min(float(n), 1e5), rng=make_rng(seed))
        if toy is not None:
            assert np.all(toy.counts >= 0) and toy.counts.shape == B12_SPEC.counts.shape
    k = call(property_log, rfit.b12_nl, B12_SPEC, z)
    if k is not None:
        assert finite(k) and k.shape == np.shape(z)
    p = call(property_log, rfit.b12_parameters, scale_sigma=scale, slope_sigma=slope)
    if p is not None:
        assert [q.name for q in p] == list(rfit.B12_NAMES)


class _FlatTruth:
    """light(x) = 1000 PE/MeV everywhere, no dark noise: a true detector reduced to its interface."""

    def __init__(self, geometry):
        self.response = SimpleNamespace(geometry=geometry, dark_mean={"lpmt": 0.0})

    def light(self, positions):
        return np.full(np.asarray(positions).shape[:-1], 1000.0)


@given(n=st.one_of(st.integers(100, 300), counts()), res=scalar(0.0, 200.0), seed=SEEDS)
def test_b12_decays(property_log, geometry, scint, n, res, seed):
    from juno_calib.calibration import volume_events

    out = call(property_log, volume_events.b12_decays, _FlatTruth(geometry), n, rng=make_rng(seed), scint=scint,
               vertex_resolution_1mev=res)
    if out is not None:
        assert finite(out["pe"], out["x_rec"]) and np.all(out["e_vis"] >= 0)
        assert np.all(out["e_vis"] < 13.37 + 4.44), "no more than Q plus the 4.44 MeV γ"


# --- scale: cluster addresses, toy streams, grids, summaries (no cluster is started) ---------------


@given(address=st.one_of(st.sampled_from(["tcp://10.0.0.5:8786", "localhost:8786", "tls://h", "tcp://", "", "a b",
                                          "://x"]), st.text(max_size=8), st.integers(), st.none()))
def test_scheduler_address(property_log, address):
    out = call(property_log, dcluster.check_address, "scheduler", address)
    if out is not None:
        assert isinstance(out, str) and out.split("://")[-1] and not any(c.isspace() for c in out)


@given(seed=st.one_of(SEEDS, st.just(-1), st.just(1.5), st.just(True), st.none()), n=counts(20),
       values=array_of(-1.0, 1.0, max_len=8), errors=array_of(0.0, 1.0, max_len=8))
def test_toy_streams_and_summary(property_log, seed, n, values, errors):
    streams = call(property_log, dens.toy_streams, seed, n)
    if streams is not None:
        assert len(streams) == n and len({s.entropy for s in streams}) <= 1, "spawned from one seed"
        assert len({tuple(s.spawn_key) for s in streams}) == n, "every toy its own stream"
    out = call(property_log, dens.summary, values, errors)
    if out is not None:
        assert all(math.isfinite(v) or math.isnan(v) for v in out.values())


# --- scale: the non-uniformity study (a bad parameter is refused before any simulation) -----------
NU_GOOD = {"config": "design", "n_points": 50, "vertex_resolution_1mev": 10.0, "imperfections": True,
           "n_pool": 300, "n_positrons": 1500, "truth_shells": 16, "spallation_days": 0.0,
           "spallation_rate_per_day": 84000.0}


@given(name=st.sampled_from(sorted(NU_GOOD)), bad=st.one_of(BAD_SCALARS, st.sampled_from([-1, 10**9, "x", 2.5])),
       seed=SEEDS)
def test_nonuniformity_study_parameters(property_log, name, bad, seed):
    kwargs = {**NU_GOOD, name: bad}
    try:
        studies.get_study("nonuniformity").resolve(kwargs)
    except (ValueError, TypeError):
        pass
    else:
        return  # an allowed value: a full toy, run in tests/test_ensemble.py, not here
    assert call(property_log, studies.nonuniformity, rng=make_rng(seed), **kwargs) is None


@given(config=st.sampled_from(["design", "as_built", "nominal", 3, None]),
       imperfections=st.sampled_from([True, False, 1, "yes", None]),
       shells=st.one_of(st.integers(-5, 5), st.integers(65, 10**6), BAD_SCALARS),
       points=st.sampled_from([None, [], [{"config": "design"}], "design", [1, 2]]))
def test_nu_kit_and_send_nu_kits(property_log, config, imperfections, shells, points):
    assert call(property_log, studies.nu_kit, config, imperfections, shells) is None, "shells out of [6, 64]"
    if points != []:
        assert call(property_log, studies.send_nu_kits, None, points) is None, "no such points"
