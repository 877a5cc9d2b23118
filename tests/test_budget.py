"""Table 2 totals, the overhead model and the statistics of a peak-position measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from juno_calib.calibration.peak_statistics import fit_toys, shell_representatives, simulated_peak
from juno_calib.core import units
from juno_calib.hardware.budget import (
    Programme,
    calibration_peak,
    daq_time_needed,
    events_needed,
    hours_what_if,
    map_statistics,
    peak_precision_toy,
    peak_rate,
    positioning_term,
    programme_time,
    run_times,
    sigma_rel_photostatistics,
    source_statistics,
    windowed_fit_factor,
    yearly_budget,
)
from juno_calib.hardware.deployment import programme_plan
from juno_calib.hardware.programme import PROGRAMMES, load_table2, table2_minutes

# seed 000, Table 2 summed by hand: 1262 + 5 x 17 + 333 + 100; 27 + 54 + 40 + 23; 5 + 20
TABLE2_TOTALS = {"comprehensive": 1780.0, "monthly": 144.0, "weekly": 25.0}


def test_table2_totals():
    assert len(load_table2()) == 14, "seed 000 Table 2 has 14 rows"
    for prog, minutes in TABLE2_TOTALS.items():
        assert table2_minutes(prog) == pytest.approx(minutes), f"seed 000 Table 2, {prog}"


@pytest.mark.parametrize("prog", PROGRAMMES)
def test_plans_reproduce_table2(prog):
    plan = programme_plan(prog)
    assert plan.total_daq_time / units.minute == pytest.approx(TABLE2_TOTALS[prog], rel=1e-9)
    n_table = sum(r.points for r in load_table2() if r.programme == prog)
    assert abs(len(plan) - n_table) <= 2, "the plans have Table 2's points (the map: ~250)"


def test_overheads_add_to_daq_and_scale_with_speed():
    prog = Programme.load()
    t = programme_time("weekly", prog)
    assert t["total"] == pytest.approx(t["daq"] + t["overhead"]) and t["overhead"] > 0
    # no swaps, no settling: the overhead is motion only and halves when every speed doubles
    v = 5 * units.cm / units.s
    slow = Programme.load(source_swap_time=0.0, settle_time=0.0, speed_acu=v, speed_cls=v, speed_gt=v)
    fast = Programme.load(source_swap_time=0.0, settle_time=0.0, speed_acu=2 * v, speed_cls=2 * v,
                          speed_gt=2 * v)
    for p in PROGRAMMES:
        t_slow, t_fast = programme_time(p, slow), programme_time(p, fast)
        assert t_fast["daq"] == pytest.approx(t_slow["daq"])
        assert t_fast["overhead"] == pytest.approx(t_slow["overhead"] / 2, rel=1e-9), p


def test_weekly_overhead_closed_form():
    # weekly: two runs (Am-C on 5 axis points, laser at the centre). The ACU path runs from the
    # top of the sphere down the axis to the bottom point and back: 2 x (r_ls + z_max).
    prog = Programme.load()
    runs = run_times("weekly", prog)
    from juno_calib.hardware.deployment import Deployment
    d = Deployment.load()
    amc = runs[0]
    assert amc.motion == pytest.approx(2 * (d.r_ls + d.acu_z_max) / prog.speed_acu, rel=1e-9)
    assert amc.settle == pytest.approx(5 * prog.settle_time)
    assert runs[1].motion == pytest.approx(2 * d.r_ls / prog.speed_acu), "laser: to the centre and back"


def test_yearly_budget_and_livetime_fraction():
    prog = Programme.load()
    y = yearly_budget(prog)
    direct = sum(programme_time(p, prog)["total"] * prog.per_year(p) for p in PROGRAMMES)
    assert y["total"] == pytest.approx(direct)
    assert y["livetime_fraction"] == pytest.approx(direct / units.year)
    assert 0 < y["livetime_fraction"] < 0.2


def test_events_needed_closed_form():
    # sigma/E = 2%, 0.1% precision: (0.02 / 0.001)^2 = 400 events; a factor 2 better precision costs 4x
    assert events_needed(0.02, 0.001) == pytest.approx(400.0)
    assert events_needed(0.02, 0.0005) == pytest.approx(4 * 400.0)
    assert np.allclose(events_needed([0.01, 0.03], 0.001), [100.0, 900.0])


def test_events_needed_against_seeded_toys(rng):
    # the spread of the fitted peak position over toys is sigma/E/sqrt(N); 400 toys give the
    # spread to 1/sqrt(2 x 399) = 3.5%: a 4-sigma band is 14%
    sigma_rel, precision = 0.02, 0.002
    n = int(round(events_needed(sigma_rel, precision)))
    spread = peak_precision_toy(sigma_rel, n, 400, rng=rng)
    assert spread == pytest.approx(precision, rel=4 / math.sqrt(2 * 399))


def test_daq_time_and_photostatistics():
    # 1345 PE/MeV (CALIB21): sigma/E at 1 MeV = 2.73%, seed 000's a ~ 2.7%
    assert sigma_rel_photostatistics(1.0, 1345.0) == pytest.approx(0.027, abs=5e-4)
    rate = peak_rate(100 * units.Bq, 0.5, 0.8)
    assert rate == pytest.approx(40 * units.Hz)
    assert daq_time_needed(0.02, 0.001, rate) == pytest.approx(400 / 40 * units.s)
    hours = hours_what_if(100 * units.Bq, 0.001, 250, 0.02, 0.5, 0.8)
    assert hours == pytest.approx(250 * 10 / 3600)


def test_poisson_width_with_dark_noise():
    # PE = Poisson(Y E) + Poisson(N_dark) - N_dark: variance Y E + N_dark, so
    # (sigma/E)^2 = a^2 / E + (c / E)^2 with a = 1/sqrt(Y), c = sqrt(N_dark) / Y (seed 000, Eq. 1)
    y, n_dark = 1345.0, 212.0
    for e in (0.5, 2.223, 8.0):
        expected = math.sqrt(1 / (y * e) + (math.sqrt(n_dark) / y / e) ** 2)
        assert sigma_rel_photostatistics(e, y, n_dark) == pytest.approx(expected, rel=1e-12)
    # the dark term falls as 1/E, the photo-statistics one as 1/sqrt(E): it matters at low energy
    excess = [sigma_rel_photostatistics(e, y, n_dark) / sigma_rel_photostatistics(e, y) for e in (0.5, 8.0)]
    assert excess[0] > excess[1] > 1.0


def test_source_statistics_uses_the_given_widths():
    sig = {"AmC": 0.02, "AmBe": 0.02, "Ge68": 0.04, "Cs137": 0.05, "Mn54": 0.045, "Co60": 0.02, "K40": 0.03}
    prog = Programme.load()
    rows = {r["source"]: r for r in source_statistics(0.001, sig, prog)}
    assert set(rows) == set(sig), "one row per radioactive source of the comprehensive programme"
    assert rows["AmC"]["events"] == pytest.approx(400.0), "(sigma/E / p)^2 with 2% and 0.1%"
    assert rows["Cs137"]["events"] == pytest.approx(2500.0)
    # 40K: 100 Bq x 10.66% gamma branch x efficiency; the AmC peak rate is 100/s x f(n-H) x efficiency
    assert rows["K40"]["rate_hz"] == pytest.approx(100 * 0.1066 * prog.peak_efficiency, rel=0.01)
    doubled = {**sig, "AmC": 0.04}
    assert source_statistics(0.001, doubled, prog)[0]["events"] == pytest.approx(4 * 400.0)
    # precision reached in Table 2's 1262 min / 250 points = sigma / sqrt(rate x time)
    amc = rows["AmC"]
    n_table = amc["rate_hz"] * amc["table_min"] * 60
    assert amc["precision_in_table_time"] == pytest.approx(0.02 / math.sqrt(n_table), rel=1e-9)
    with pytest.raises(ValueError, match="sigma_rel has no value for source.*K40"):
        source_statistics(0.001, {k: v for k, v in sig.items() if k != "K40"}, prog)


def test_source_statistics_activity_is_a_parameter():
    # the peak rate is A x f x efficiency: one activity for every source replaces the data file's,
    # and the time needed scales as 1/A (the events needed do not depend on A)
    sig = {"AmC": 0.02, "AmBe": 0.02, "Ge68": 0.04, "Cs137": 0.05, "Mn54": 0.045, "Co60": 0.02, "K40": 0.03}
    prog = Programme.load()
    base = {r["source"]: r for r in source_statistics(0.001, sig, prog, activity=100 * units.Bq)}
    weak = {r["source"]: r for r in source_statistics(0.001, sig, prog, activity=10 * units.Bq)}
    for name, row in base.items():
        assert weak[name]["rate_hz"] == pytest.approx(row["rate_hz"] / 10, rel=1e-12), name
        assert weak[name]["needed_min"] == pytest.approx(10 * row["needed_min"], rel=1e-12), name
        assert weak[name]["events"] == row["events"]
    with pytest.raises(ValueError, match="activity = -5 Bq is outside the allowed range"):
        source_statistics(0.001, sig, prog, activity=-5 * units.Bq)


def test_positioning_term_vanishes_without_error_and_scales_linearly():
    # g(r) = 1 + k r: delta_g / g = k sigma / g(r), all radial; sigma = 0 gives 0 and the term is
    # linear in sigma (first order in the position error)
    k = 0.6 / units.m  # the steepest slope of g beyond the TIR radius is ~0.6 per m (chapter 8)
    def g(p):
        return 1.0 + k * np.linalg.norm(p, axis=1)
    pos = np.array([[0.0, 0.0, 16000.0], [0.0, 12000.0, 0.0], [5000.0, 5000.0, -5000.0]])
    zero = positioning_term(g, pos, 0.0)
    assert np.all(zero["total"] == 0.0)
    one = positioning_term(g, pos, 3 * units.cm)
    assert np.allclose(one["radial"], k * 3 * units.cm / g(pos), rtol=1e-6)
    assert np.allclose(one["angular"], 0.0, atol=1e-9), "a radial g has no slope across the radius"
    two = positioning_term(g, pos, np.array([6.0, 6.0, 6.0]) * units.cm)
    assert np.allclose(two["total"], 2 * one["total"], rtol=1e-9)
    assert np.allclose(np.hypot(two["radial"], two["angular"]), two["total"])
    # a slope along z seen from a point on the x axis is all across the radius
    side = positioning_term(lambda p: 1.0 + 0.1 / units.m * p[:, 2], [16000.0, 0.0, 0.0], 1 * units.cm)
    assert side["radial"][0] == pytest.approx(0.0, abs=1e-12)
    assert side["angular"][0] == pytest.approx(0.1 / units.m * 1 * units.cm, rel=1e-9)
    with pytest.raises(ValueError, match="sigma_pos must be a number or have shape"):
        positioning_term(g, pos, [1.0, 2.0])
    with pytest.raises(TypeError, match="g must be a callable"):
        positioning_term(1.0, pos, 1.0)


def test_estimator_toys_reproduce_the_gaussian_formula_for_a_gaussian_peak(rng):
    # Gaussian toy peaks (sigma/E = 5%, 4000 events): the fit's spread over 200 toys is
    # sigma/E/sqrt(N) (N events in the window) times the Cramer-Rao factor of its window, 1.01 for
    # +-3 sigma, i.e. the Gaussian formula (sigma/p)^2, within 4 sigma of the toys' statistics
    toys = rng.normal(1000.0, 50.0, (200, 4000))
    wide = fit_toys(toys, n_sigma=3.0)
    # the formula takes the fitted width: a binned least-squares (Neyman) fit reads sigma ~2% low
    assert wide["n_mean"] == pytest.approx(4000 * math.erf(3 / math.sqrt(2)), rel=0.01)
    assert wide["gaussian"] == pytest.approx(0.05 / math.sqrt(wide["n_mean"]), rel=0.04)
    assert wide["ratio"] == pytest.approx(windowed_fit_factor(3.0), abs=4 * wide["ratio_err"])
    assert wide["ratio"] == pytest.approx(1.0, abs=4 * wide["ratio_err"] + 0.02)
    # the +-2 sigma window of the book's estimator cannot beat its Cramer-Rao bound, 1.137
    narrow = fit_toys(toys, n_sigma=2.0)
    assert narrow["ratio"] > windowed_fit_factor(2.0) - 4 * narrow["ratio_err"]
    inside = math.erf(2 / math.sqrt(2))
    assert windowed_fit_factor(2.0) == pytest.approx(math.sqrt(inside / (inside - 4 * math.exp(-2)
                                                                          / math.sqrt(2 * math.pi))))
    with pytest.raises(ValueError, match="at least 5 toy peaks"):
        fit_toys(toys[:3])


def test_map_statistics_sums_its_points():
    rate = 90 * units.Hz
    sig = np.array([0.02, 0.02, 0.08])
    ms = map_statistics(sig, 0.001, rate, 5 * units.minute)
    assert np.allclose(ms["events"], [400.0, 400.0, 6400.0]), "a 4x wider peak needs 16x the events"
    assert ms["total_time"] == pytest.approx(7200.0 / 90 * units.s)
    assert ms["table_total"] == pytest.approx(15 * units.minute)
    assert np.allclose(ms["precision_in_table_time"], sig / math.sqrt(90 * 300))


def test_shell_representatives_pick_one_median_point_per_shell():
    # two shells (r = 1 m with g = 1.0, 1.1, 1.3; r = 2 m with g = 0.9, 0.8) and one point outside r_max
    pos = np.array([[1000.0, 0, 0], [0, 0, 1000.0], [0, 0, -1000.0], [2000.0, 0, 0], [0, 0, 2000.0],
                    [0, 0, 5000.0]])
    g = np.array([1.0, 1.1, 1.3, 0.9, 0.8, 0.5])
    idx = shell_representatives(pos, g, r_max=3000.0)
    assert list(idx) == [1, 3] or list(idx) == [1, 4]
    with pytest.raises(ValueError, match="g must have shape"):
        shell_representatives(pos, g[:3], r_max=3000.0)


def test_calibration_peak_of_neutron_source_is_nH():
    e, frac = calibration_peak("AmC")
    assert e == pytest.approx(2.223, abs=1e-3) and 0.99 < frac < 1.0
    e, frac = calibration_peak("Co60")
    assert e == pytest.approx(2.506, abs=1e-3) and frac == pytest.approx(0.9985)


def test_bad_inputs_rejected_clearly():
    with pytest.raises(ValueError, match=r"activity = -1 Bq is outside the allowed range \[1e-06, 1e\+09\] Bq"):
        peak_rate(-1.0 * units.Bq, 0.5, 0.9)
    with pytest.raises(ValueError, match="precision = 0 is outside the allowed range"):
        events_needed(0.02, 0)
    with pytest.raises(ValueError, match="sigma_rel = -0.02 is outside"):
        events_needed(-0.02, 0.001)
    with pytest.raises(ValueError, match="unknown source 'Na22'"):
        calibration_peak("Na22")
    with pytest.raises(ValueError, match="programme = 'daily' is not allowed"):
        table2_minutes("daily")
    with pytest.raises(ValueError, match="speed_cls = -1 cm/s is outside the allowed range"):
        Programme.load(speed_cls=-1 * units.cm / units.s)


# --- the simulated resolution (response library) ---------------------------------------------


@pytest.fixture(scope="module")
def detector():
    from juno_calib.detector.response import DetectorResponse
    from juno_calib.particles.scintillator import Scintillator

    return DetectorResponse.load("design", map_shape=(48, 9)), Scintillator.load("design")


def test_simulated_nH_peak_at_the_centre(detector, rng):
    from juno_calib.hardware.sources import get_source

    resp, scint = detector
    y0, dark = resp.pmts.light_yield_center, resp.dark_mean["lpmt"]
    pk = {k: float(v[0]) for k, v in simulated_peak(get_source("AmC"), np.zeros(3), 20000, rng=rng,
                                                     response=resp, scint=scint).items()}
    # the visible-energy scale is normalised to the n-H gamma at the centre, where the LPMT yield is
    # Y0 (PERF25 definition): the peak (dark mean subtracted) sits at Y0 x E_vis
    assert pk["e_vis"] == pytest.approx(2.223, rel=0.01), "n-H gamma, 2.223 MeV"
    assert pk["mean_pe"] == pytest.approx(y0 * pk["e_vis"], rel=0.005), "dark noise subtracted, Y0 at centre"
    # Poisson photo-statistics and dark noise are the floor; quenching and the cascade only widen it
    ps = sigma_rel_photostatistics(2.223, y0)
    pd = sigma_rel_photostatistics(pk["e_vis"], y0, dark)
    assert pk["sigma_rel"] > pd + 3 * pk["sigma_rel_err"] and pd > ps
    # what the simulation adds in quadrature is the fluctuation of the cascade's visible energy,
    # measured on the deposits; its distribution is skewed (sharp upper edge), so a Gaussian fit
    # within 2 sigma of the PE peak sees between half and all of its fitted variance
    extra2 = pk["sigma_rel"] ** 2 - pd**2
    assert 0.5 * pk["e_vis_sigma_rel"] ** 2 < extra2 < 1.0 * pk["e_vis_sigma_rel"] ** 2
    # seed 000: a ~ 2.7% / sqrt(E) plus small b, c: at 2.2 MeV the simulated width must stay near 2%
    assert 0.018 < pk["sigma_rel"] < 0.028, "n-H peak width at the centre (seed 000, Eq. 1 scale)"


def test_simulated_peak_follows_the_local_yield_and_widens_beyond_tir(detector, rng):
    from juno_calib.hardware.deployment import Deployment
    from juno_calib.hardware.sources import get_source

    resp, scint = detector
    r_tir = Deployment.load("design").r_tir
    pos = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -12000.0], [0.0, 0.0, -(r_tir + 300.0)]])
    pk = simulated_peak(get_source("AmC"), pos, 5000, rng=rng, response=resp, scint=scint)
    g = resp.total_map.g(pos)
    # inside the TIR radius the peak moves with the relative yield g(r) of the total-PE map
    assert pk["mean_pe"][1] / pk["mean_pe"][0] == pytest.approx(g[1], rel=0.01)
    # beyond it the yield falls steeply over the tens of cm a 2.2 MeV cascade spans: wider peak
    assert pk["sigma_rel"][2] > 1.5 * pk["sigma_rel"][0], "yield gradient across the cascade"
    with pytest.raises(ValueError, match="n_events = 10 is outside the allowed range"):
        simulated_peak(get_source("AmC"), pos[0], 10, rng=rng, response=resp, scint=scint)
