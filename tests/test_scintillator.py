"""Electron light model: Bethe stopping power vs NIST ESTAR, Birks/Cherenkov limits, e_vis scale."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from juno_calib.core import units
from juno_calib.core.params import load_quantities
from juno_calib.particles.scintillator import collision_stopping_power, light_unnormalised, stopping_power
from juno_calib.particles.visible import electron_visible, positron_visible, visible_scale

MASS_SP = units.MeV * units.cm**2 / units.g


@pytest.fixture(scope="module")
def estar():
    return {k: v.internal for k, v in load_quantities("reference/estar").items()}


def test_stopping_power_matches_estar_water(estar):
    water = dict(z_over_a=estar["water_z_over_a"], density=estar["water_density"],
                 mean_excitation=estar["water_i_value"])
    t = np.array(estar["water_energies"])
    model = collision_stopping_power(t, **water) / estar["water_density"]
    ref = np.array(estar["water_total_stopping_power"])
    assert np.allclose(model, ref, rtol=estar["tolerance"]), (
        f"Bethe/ICRU37 water stopping power {model / MASS_SP} vs NIST ESTAR {ref / MASS_SP}")
    one = collision_stopping_power(1.0, **water) / estar["water_density"]
    assert one == pytest.approx(estar["water_collision_1mev"], rel=estar["tolerance"]), (
        "collision stopping power of water at 1 MeV vs NIST ESTAR 1.849 MeV cm2/g")


def test_ls_stopping_power_scales_with_electron_density(scint, estar):
    # at 1 MeV the LS (Z/A 0.5596, I 59 eV) must stop more per gram than water (0.555, 75 eV)
    ls = stopping_power(1.0, scint) / scint.density
    assert 1.0 < ls / estar["water_collision_1mev"] < 1.05


def test_positron_stopping_power_differs_from_electron_as_in_icru37(scint):
    # ICRU 37 (Rohrlich-Carlson): below ~1 MeV the Bhabha term makes positrons lose a few %
    # more than electrons; at high energy the two converge
    kw = dict(z_over_a=scint.z_over_a, density=scint.density,
              mean_excitation=scint.mean_excitation_energy)
    e = collision_stopping_power(0.1, **kw)
    p = collision_stopping_power(0.1, positron=True, **kw)
    assert 1.0 < p / e < 1.1
    e10 = collision_stopping_power(10.0, **kw)
    assert 0.95 < collision_stopping_power(10.0, positron=True, **kw) / e10 < 1.0


def test_electron_nl_monotonic_and_bounded(scint):
    t = np.geomspace(0.01, 20.0, 400)
    ratio = electron_visible(t, scint) / t
    assert np.all(np.diff(ratio) > 0), "e_vis/T of electrons rises with T (quenching fades)"
    assert 0.6 < ratio[0] and ratio[-1] < 1.2


def test_scintillation_only_limit_is_linear(scint):
    # kB -> 0 and k_C = 0: every electron deposit is seen in full: e_vis = T exactly
    lin = dataclasses.replace(scint, birks_kb=0.0, cherenkov_weight=0.0)
    t = np.array([0.0005, 0.05, 0.7, 3.0, 12.0])
    assert np.allclose(electron_visible(t, lin), t, rtol=1e-4)
    assert visible_scale(lin) == pytest.approx(1.0, rel=1e-9), (
        "with a linear response a contained 2.223 MeV gamma sees exactly 2.223 MeV")


def test_cherenkov_adds_light_above_threshold_only(scint):
    no_ch = dataclasses.replace(scint, cherenkov_weight=0.0)
    low, high = 0.1, 5.0   # Cherenkov threshold in n = 1.5 is ~0.18 MeV
    assert light_unnormalised(low, scint) == pytest.approx(light_unnormalised(low, no_ch))
    assert light_unnormalised(high, scint) > 1.01 * light_unnormalised(high, no_ch)


def test_stronger_quenching_lowers_low_energy_light(scint):
    strong = dataclasses.replace(scint, birks_kb=2 * scint.birks_kb)
    assert light_unnormalised(0.1, strong) < light_unnormalised(0.1, scint)


def test_positron_kinetic_light_close_to_electron(scint):
    t = np.array([0.5, 1.0, 3.0])
    assert np.allclose(positron_visible(t, scint), electron_visible(t, scint), rtol=0.01)


@pytest.mark.parametrize("bad, message", [
    (dict(density=-1.0), "density"),
    (dict(mass_fraction_h=0.5), r"mass_fraction_h \+ mass_fraction_c"),
    (dict(birks_kb=-1e-3), "birks_kb"),
])
def test_bad_parameters_rejected(scint, bad, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(scint, **bad)


def test_out_of_table_energy_rejected(scint):
    with pytest.raises(ValueError, match="light_table_e_max"):
        electron_visible(100.0, scint)
    with pytest.raises(ValueError, match=r"t = 0 MeV is outside the allowed range \[0.001, 1000\] MeV; the Bethe formula"):
        stopping_power(0.0, scint)


def test_electron_energy_must_be_finite_and_in_the_table(scint):
    with pytest.raises(ValueError, match=r"t\[1\] = nan MeV is outside the allowed range \[0, 30\] MeV \(1 of 2"):
        electron_visible(np.array([1.0, np.nan]), scint)
    with pytest.raises(ValueError, match=r"t\[0\] = -1 MeV is outside the allowed range \[0, 30\] MeV"):
        electron_visible(np.array([-1.0]), scint)


def test_capture_time_agrees_with_the_thermal_capture_estimate(scint):
    # tau = 1 / (v sum_i n_i sigma_i): the 1/v capture cross-sections (Mughabghab) at 2200 m/s
    # and this LS's H and C number densities (Lamarsh, Ch. 2). The data value (~200 us, approx.)
    # must agree within 10%: the LS composition and the cross-sections fix tau to a few %.
    from juno_calib.particles.scintillator import AVOGADRO

    n_h = scint.density * AVOGADRO * scint.mass_fraction_h / scint.atomic_weight_h
    n_c = scint.density * AVOGADRO * scint.mass_fraction_c / scint.atomic_weight_c
    barn = 1e-24 * units.cm**2  # the cross-sections are stored in barn
    tau = 1.0 / (scint.thermal_neutron_speed * barn * (n_h * scint.capture_xs_h + n_c * scint.capture_xs_c))
    assert scint.capture_time == pytest.approx(tau, rel=0.10), f"estimate {tau / units.us:.0f} us"


def test_no_data_or_code_cites_the_working_notes():
    # provenance: cite the primary sources (data/README.md keys), never the project's notes
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for folder in ("data", "juno_calib", "notebooks", "tests"):
        for path in (root / folder).rglob("*"):
            if path.suffix in (".yaml", ".py", ".md") and path.name != "test_scintillator.py":
                assert "physics-inputs" not in path.read_text(), f"{path} cites physics-inputs.md"
