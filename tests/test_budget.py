"""Table 2 totals, the overhead model and the statistics of a peak-position measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from juno_calib import units
from juno_calib.budget import (
    PROGRAMMES,
    Programme,
    calibration_peak,
    daq_time_needed,
    events_needed,
    hours_what_if,
    load_table2,
    peak_precision_toy,
    peak_rate,
    programme_time,
    run_times,
    sigma_rel_photostatistics,
    table2_minutes,
    yearly_budget,
)
from juno_calib.deployment import programme_plan

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
    from juno_calib.deployment import Deployment
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


def test_calibration_peak_of_neutron_source_is_nH():
    e, frac = calibration_peak("AmC")
    assert e == pytest.approx(2.223, abs=1e-3) and 0.99 < frac < 1.0
    e, frac = calibration_peak("Co60")
    assert e == pytest.approx(2.506, abs=1e-3) and frac == pytest.approx(0.9985)


def test_bad_inputs_rejected_clearly():
    with pytest.raises(ValueError, match=r"activity = -1.0 is outside the allowed range \(0, inf\)"):
        peak_rate(-1.0, 0.5, 0.9)
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
