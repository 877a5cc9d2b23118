"""The validation layer (juno_calib.core.validate) and every defect listed in issue 16.

Each defect is reproduced with the input that exposed it; the library must now answer with a
ValueError/TypeError that names the argument, the offending value and the allowed range.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from juno_calib.calibration.resolution import fit_peak
from juno_calib.core import validate
from juno_calib.hardware import deployment
from juno_calib.hardware.sources import get_source, simulate_source
from juno_calib.particles.events import simulate_b12, simulate_electrons, simulate_gammas
from juno_calib.particles.gamma import sample_compton
from juno_calib.particles.scintillator import cherenkov_photons

GEO = SimpleNamespace(r_ls=17700.0)


# --- the helpers ------------------------------------------------------------------------------


def test_number_names_value_and_range():
    assert validate.number("x", 2, 0, 3) == 2.0
    with pytest.raises(ValueError, match=r"^x = nan is outside the allowed range \[0, 3\]$"):
        validate.number("x", math.nan, 0, 3)
    with pytest.raises(ValueError, match=r"x = 4 m is outside the allowed range \(0, 3\) m"):
        validate.number("x", 4000.0, 0, 3000.0, unit="m", lo_open=True, hi_open=True)
    with pytest.raises(TypeError, match="x must be a real number, got True"):
        validate.number("x", True)


def test_integer_and_choice_and_instance():
    assert validate.integer("n", np.int32(5), 1) == 5
    with pytest.raises(TypeError, match="n must be an integer, got 2.5"):
        validate.integer("n", 2.5)
    with pytest.raises(ValueError, match=r"n = -1 is outside the allowed range \[0, 10\]"):
        validate.integer("n", -1, 0, 10)
    with pytest.raises(ValueError, match="system = 'X' is not allowed; choose one of 'ACU', 'CLS'"):
        validate.choice("system", "X", ("ACU", "CLS"))
    with pytest.raises(TypeError, match=r"rng must be a Generator \(e.g. make_rng\(seed\)\), got 3"):
        validate.generator("rng", 3)


def test_array_reports_first_bad_element_and_count():
    with pytest.raises(ValueError, match=r"e\[2\] = -1 MeV is outside .* \(2 of 4 values bad\)"):
        validate.energies("e", [1.0, 2.0, -1.0, math.inf])
    with pytest.raises(TypeError, match="e must be an array of real numbers"):
        validate.energies("e", ["a"])


def test_positions_shape_finiteness_and_volume():
    assert validate.positions("p", [1.0, 2.0, 3.0]).shape == (1, 3)
    assert validate.positions("p", [1.0, 2.0, 3.0], n=4).shape == (4, 3)
    with pytest.raises(ValueError, match=r"p must have shape \(3,\) or \(n, 3\)"):
        validate.positions("p", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"p\[1\] = \(0, nan, 0\) m is not finite"):
        validate.positions("p", [[0, 0, 0], [0, math.nan, 0]])
    with pytest.raises(ValueError, match=r"p\[0\] = \(0, 0, 30\) m has radius 30 m, outside the LS sphere: "
                                         r"allowed r <= 17.7 m"):
        validate.positions("p", [0, 0, 3e4], r_max=17700.0, volume=validate.LS)


# --- the defects of issue 16 ------------------------------------------------------------------


@pytest.mark.parametrize("energy", [0.0, math.nan, -1.0])
def test_sample_compton_rejects_zero_nan_and_negative(rng, energy):
    # was: an endless loop for 0 and NaN (every draw rejected), a number for -1 MeV
    with pytest.raises(ValueError, match=r"energy = .* MeV is outside the allowed range \(0, 1000\] MeV"):
        sample_compton(energy, rng=rng)


def test_response_samplers_reject_deposits_outside_the_ls_or_nan(response, rng):
    # was: PE for a deposit at 30 m (the map clamped at its edge)
    with pytest.raises(ValueError, match=r"position\[0\] = \(30, 0, 0\) m has radius 30 m, outside the LS"):
        response.sample_total([0], [[3e4, 0, 0]], [1.0], 1, rng=rng)
    with pytest.raises(ValueError, match=r"position\[0\] = \(nan, 0, 0\) m is not finite"):
        response.sample_hits([0], [[math.nan, 0, 0]], [1.0], 1, rng=rng)


def test_map_lookup_of_nan_is_a_value_error(response):
    # was: IndexError with index -9223372036854775808
    with pytest.raises(ValueError, match=r"position\[0\] = \(nan, 0, 0\) m is not finite"):
        response.total_map.expected([math.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="outside the LS sphere"):
        response.total_map.g([0.0, 0.0, 2e4])


def test_electron_generator_checks_the_radius(scint, rng):
    # was: no radius check at all
    with pytest.raises(ValueError, match=r"positions\[0\] = \(0, 0, 20\) m has radius 20 m, outside the LS"):
        simulate_electrons([1.0], [0, 0, 2e4], rng=rng, scint=scint)


def test_nan_start_position_is_rejected(scint, rng):
    # was: all-NaN deposits with a finite e_vis
    with pytest.raises(ValueError, match=r"positions\[0\] = \(nan, 0, 0\) m is not finite"):
        simulate_gammas([1.0], [math.nan, 0, 0], rng=rng, scint=scint, geometry=GEO)


def test_b12_rejects_a_bad_position_whatever_the_branch(scint):
    # was: rejected only if the 4.44 MeV branch was drawn for that decay
    pos = np.zeros((50, 3))
    pos[7] = [0.0, 0.0, 2e4]
    for seed in range(5):
        with pytest.raises(ValueError, match=r"positions\[7\] = \(0, 0, 20\) m has radius 20 m"):
            simulate_b12(50, pos, rng=np.random.default_rng(seed), scint=scint, geometry=GEO)


def test_source_name_instead_of_source_object(scint, rng):
    # was: AttributeError
    with pytest.raises(TypeError, match=r"source must be a Source \(e.g. get_source\(\"Cs137\"\)\), got 'Cs137'"):
        simulate_source("Cs137", 10, [0, 0, 0], rng=rng, scint=scint, geometry=GEO)
    assert simulate_source(get_source("Cs137"), 10, [0, 0, 0], rng=rng, scint=scint, geometry=GEO).n_events == 10


@pytest.mark.parametrize("fn", [deployment.acu_axis_points, deployment.gt_points, deployment.cls_points])
@pytest.mark.parametrize("n", [0, -3])
def test_deployment_helpers_reject_non_positive_counts(fn, n):
    # was: numpy shape errors
    with pytest.raises(ValueError, match=rf"n = {n} is outside the allowed range \[1, 5000\]"):
        fn(deployment.Deployment.load(), n)


@pytest.mark.parametrize("values, message", [
    (np.full(100, 3.0), r"values are all equal \(3, 100 values\)"),
    (np.full(100, math.nan), r"values\[0\] = nan is outside the allowed range .* \(100 of 100 values bad\)"),
])
def test_peak_fit_on_constant_or_all_nan_data(values, message):
    # was: scipy RuntimeError or a numpy histogram error
    with pytest.raises(ValueError, match=message):
        fit_peak(values)


def test_cherenkov_yield_rejects_negative_kinetic_energy(scint):
    # was: NaN
    with pytest.raises(ValueError, match=r"t = -1 MeV is outside the allowed range \[0, 1000\] MeV"):
        cherenkov_photons(-1.0, scint)
    assert cherenkov_photons(0.0, scint) == 0.0, "no Cherenkov light at rest"
