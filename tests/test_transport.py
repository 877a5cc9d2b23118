"""The photon transport of the indirect light (juno_calib.detector.transport).

Every photon ends in exactly one fate; without scattering and re-emission the unscattered photons
reproduce the exact direct-light calculation; an absorbing sphere lets exp(-R/lambda) of the
photons from its centre escape; the disk cache is keyed by every input. Statistics are small
(~10^5 photons); bands are 4-5 standard deviations of the binomial or Poisson counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from juno_calib.detector.optics import direct_fraction
from juno_calib.detector.transport import FATES, TransportInputs, indirect_light, run_transport

R_LS, T_ACR, R_PMT = 17700.0, 120.0, 19434.0
A_CATH, ASPECT = 254.0, 0.75


def _inputs(**change) -> TransportInputs:
    base = dict(n_ls=1.4955, n_acrylic=1.50, n_water=1.333, rayleigh_length=27e3, absorption_length=77e3,
                reemission_probability=0.5, acrylic_mu=-np.log(0.96) / T_ACR, water_attenuation_length=40e3,
                r_ls=R_LS, r_acrylic=R_LS + T_ACR, r_pmt=(R_PMT,), cathode_area=(np.pi * A_CATH**2,),
                aspect=(ASPECT,), angular_cos=(0.0, 1.0), angular_eff=((1.0, 1.0),), n_r=3, n_alpha=12,
                n_photons=20000, seed=7)
    base.update(change)
    return TransportInputs(**base)


CLEAR = dict(rayleigh_length=np.inf, absorption_length=np.inf, acrylic_mu=0.0, water_attenuation_length=np.inf)
MATCHED = dict(n_acrylic=1.4955, n_water=1.4955)


def test_every_photon_ends_in_one_fate():
    out = run_transport(_inputs())
    assert out.fates.shape == (3, len(FATES))
    assert np.all(out.fates.sum(axis=1) == 20000), "absorbed + escaped + lost = emitted, at every radius"
    assert np.all(out.fates[:, FATES.index("lost")] == 0), "no photon runs out of steps"
    assert np.all(out.values >= 0) and np.all(out.direct >= 0)


def test_the_centre_is_isotropic_and_the_normalisation_does_not_depend_on_the_photon_count():
    # from the centre every PMT sees the same light: the row is one number (the mean of its bins),
    # so that the centre value, which normalises the model, is as precise as the whole row
    small, large = (run_transport(_inputs(n_photons=n, n_r=2)) for n in (5000, 40000))
    for out in (small, large):
        assert np.ptp(out.values[0, 0]) == 0.0 and np.ptp(out.direct[0, 0]) == 0.0
    # the centre value from 5,000 photons agrees with 40,000 within 5 sigma of the smaller table
    # (binomial error of the indirect, ~0.3 of the photons scored)
    rel = 5 / np.sqrt(0.3 * 5000)
    assert small.values[0, 0, 0] == pytest.approx(large.values[0, 0, 0], rel=rel)


def test_scattering_alone_loses_no_photon():
    # no absorption anywhere: Rayleigh scattering, reflections and trapping only delay the escape
    out = run_transport(_inputs(**{**CLEAR, "rayleigh_length": 27e3}))
    assert np.all(out.fates[:, FATES.index("escaped")] == 20000)


def test_full_reemission_makes_absorption_a_change_of_direction():
    out = run_transport(_inputs(**{**CLEAR, "absorption_length": 5e3, "reemission_probability": 1.0}))
    assert np.all(out.fates[:, FATES.index("escaped")] == 20000)


@pytest.mark.parametrize("lam", [10e3, 40e3])
def test_escape_fraction_of_an_absorbing_sphere_is_exp_minus_r_over_lambda(lam):
    # point source at the centre, absorption only, matched indices (no reflection): P = exp(-R/lambda)
    n = 100000
    out = run_transport(_inputs(**{**CLEAR, **MATCHED, "absorption_length": lam, "reemission_probability": 0.0,
                                   "n_photons": n, "n_r": 2}))
    p = np.exp(-R_LS / lam)
    escaped = out.fates[0, FATES.index("escaped")]
    assert abs(escaped - n * p) < 4.5 * np.sqrt(n * p * (1 - p)), (escaped / n, p)
    assert out.values[0, 0].sum() == 0.0, "without scattering, re-emission or reflection no light is indirect"


def _direct_reference(r, inputs, optics_like, n_sub=16):
    """The exact direct fraction of one PMT averaged over each cos(alpha) bin of the table."""
    n_a = inputs.n_alpha
    c = -1.0 + (np.arange(n_a * n_sub) + 0.5) * 2.0 / (n_a * n_sub)
    pmt = R_PMT * np.stack([np.sqrt(1 - c * c), 0 * c, c], axis=1)
    f = direct_fraction(np.array([[0.0, 0.0, r]]), pmt, A_CATH, ASPECT, optics_like, R_LS, T_ACR)[0]
    return f.reshape(n_a, n_sub).mean(axis=1)


@pytest.mark.parametrize("config", ["matched", "real"])
def test_without_scattering_and_reemission_the_transport_reproduces_the_direct_light(optics, config):
    # matched indices: the straight line of the exact calculation is the photon's path at every
    # radius; real indices: at the centre every ray is radial (no bending), at 9 m the bending
    # at the acrylic moves the light by less than the band
    n = 200000
    if config == "matched":
        change = {**MATCHED, "rayleigh_length": np.inf, "reemission_probability": 0.0}
        opt = dataclasses.replace(optics, rayleigh_length=1e15, n_acrylic=optics.n_ls,
                                  n_water=optics.n_ls * (1 - 1e-12))
    else:
        change = {"rayleigh_length": np.inf, "reemission_probability": 0.0}
        opt = dataclasses.replace(optics, rayleigh_length=1e15)
    inp = _inputs(**change, n_photons=n, n_r=3, r_ls=R_LS)
    out = run_transport(inp)
    radii = np.linspace(0.0, R_LS, 3)
    for i, r in enumerate(radii[:2]):
        ref = _direct_reference(r, inp, opt)
        mc = out.direct[0, i]
        # Poisson error of the photons scored in a bin (each weight ~ the mean weight of the bin)
        weight = (np.pi * A_CATH**2) / (2 * np.pi * R_PMT**2 * 2 / inp.n_alpha)
        counts = np.maximum(mc * n / weight, 1.0)
        assert np.all(np.abs(mc / ref - 1) < 5 / np.sqrt(counts) + 0.004), (r, mc / ref)
        assert mc.sum() / ref.sum() == pytest.approx(1.0, abs=5 / np.sqrt(counts.sum()) + 0.003), r


def test_cache_is_keyed_by_every_input(tmp_path, monkeypatch):
    monkeypatch.setenv("JUNO_CALIB_CACHE", str(tmp_path))
    inp = _inputs(n_photons=2000)
    first = indirect_light(inp)
    assert first.path is not None and first.path.parent == tmp_path and first.path.is_file()
    again = indirect_light(inp)
    assert again.path == first.path and np.array_equal(again.values, first.values), "read back, not rebuilt"
    changed = dataclasses.replace(inp, reemission_probability=0.6)
    assert changed.key() != inp.key()
    other = indirect_light(changed)
    assert other.path != first.path, "a changed input is a different cache entry"
    # a file whose stored key does not match (stale or foreign) is never read: the table is rebuilt
    np.savez(first.path, key=np.array("stale"), values=first.values * 0, direct=first.direct,
             fates=first.fates)
    rebuilt = indirect_light(inp)
    assert np.array_equal(rebuilt.values, first.values)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="inputs.reemission_probability"):
        run_transport(_inputs(reemission_probability=1.5))
    with pytest.raises(TypeError, match="inputs"):
        run_transport({"n_photons": 10})
