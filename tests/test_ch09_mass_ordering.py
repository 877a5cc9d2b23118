"""Chapter 9 runs with its --fast settings; its glued numbers carry the physics of the NMO
sensitivity: the seed's rate, Δχ² near seed 003's table, and the right ordering of effects."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("chapter-09")]

CONTRACT = ("dchi2_stat_6y", "dchi2_6y_with_nl", "years_to_3sigma", "dchi2_6y_abar_3p12", "n_ibd_per_day")


@pytest.fixture(scope="module")
def glued(run_fast):
    return run_fast("09_mass_ordering").glued


def test_contract_keys_are_plain_numbers(glued):
    for key in CONTRACT:
        assert isinstance(glued[key], float), f"{key} = {glued.get(key)!r}"


def test_rate_is_the_seed_rate(glued):
    assert glued["n_ibd_per_day"] == pytest.approx(47.0, rel=1e-6), "seed 003: 47 IBD/day after selection"
    assert 0.6 < glued["efficiency_implied"] < 1.0
    assert glued["bkg_fraction"] == pytest.approx(0.09, abs=0.01), "seed 003: backgrounds ~9%"


def test_stat_only_near_seed_003(glued):
    # seed 003 / NMO24: statistics only, 6 years x 26.6 GW_th, JUNO's common-input resolution
    # (abar = 3.02%): 11.3 (model differences: +-15%)
    assert glued["abar_juno_pct"] == pytest.approx(3.02, abs=0.01), "PPNP22 / GNA common inputs: abar = 3.02%"
    assert glued["dchi2_stat_6y_juno_res"] == pytest.approx(11.3, rel=0.15)
    # seed 003: all systematics together cost (11.3 - 9.0) / 11.3 = 20% of the stat-only value; the loss
    # scales with the sensitivity, so compare fractions (model differences: +-8 points)
    assert glued["dchi2_delta_total"] / glued["dchi2_stat_6y"] == pytest.approx(-2.3 / 11.3, abs=0.08)
    # the chapter's own resolution (chapter 7) sits on the abar scan: ~1.2 per 0.1% of abar
    shift = glued["dchi2_per_abar_pct"] * (glued["abar_default_pct"] - glued["abar_juno_pct"])
    assert glued["dchi2_stat_6y"] == pytest.approx(glued["dchi2_stat_6y_juno_res"] - shift, abs=1.0)


def test_effects_go_the_right_way(glued):
    stat = glued["dchi2_stat_6y"]
    assert glued["dchi2_6y_with_nl"] < stat, "an NL band can only lower the sensitivity"
    # a worse resolution can only lower the sensitivity: 3.12% against the chapter's own abar
    assert (glued["dchi2_6y_abar_3p12"] - stat) * (3.12 - glued["abar_default_pct"]) < 0
    assert glued["dchi2_row_total"] < min(glued["dchi2_row_flux"], glued["dchi2_row_backgrounds"])
    assert glued["years_to_3sigma_stat"] == pytest.approx(9.0 * 6.0 / stat, rel=1e-6), "stat-only is linear"
    assert glued["years_to_3sigma_stat"] < glued["years_to_3sigma"] < 20.0
    assert glued["dchi2_at_years_3s"] == pytest.approx(9.0, abs=0.3)


def test_nl_uncertainty_is_chapter_6_posterior(glued):
    """The NL band of the fits is the envelope of chapter 6's posterior, recomputed here from the
    library at the chapter's seed and --fast statistics; not the 0.36% stand-in."""
    from juno_calib.book.chapters import get_chapter
    from juno_calib.calibration.positron_scale import positron_scale_posterior
    from juno_calib.core.rng import make_rng
    from juno_calib.particles.scintillator import Scintillator
    from juno_calib.reach import mass_ordering as mo

    chapter = get_chapter("09_mass_ordering")
    p = {name: par.default for name, par in chapter.parameters.items()} | chapter.resolve(fast=True)
    assert p["nl_source"] == "chapter6"
    post = positron_scale_posterior(p["config"], rng=make_rng(p["seed"]), daq_scale=p["nl_daq_scale"],
                                    n_template=p["nl_n_template"], b12_days=p["nl_b12_days"],
                                    map_shape=(p["nl_n_map_r3"], p["nl_n_map_cos"]), n_walkers=p["nl_n_walkers"],
                                    n_steps=p["nl_n_steps"], n_flashes=p["nl_n_flashes"],
                                    n_vertices=p["nl_n_vertices"])
    e_vis = mo.positron_visible_model(Scintillator.load())(post.e_prompt)
    modes = mo.posterior_nl_modes(e_vis, post.relative_draws())
    assert glued["nl_band_pct"] == pytest.approx(100 * modes.envelope, rel=1e-6)
    assert glued["nl_post_envelope_pct"] == pytest.approx(glued["nl_band_pct"], rel=1e-12)
    assert glued["nl_band_pct"] != pytest.approx(0.36, rel=0.05), "the stand-in band must not be what is used"
    # the three modes carry the posterior (its curve depends on A, kB, kC: rank 3)
    assert glued["nl_post_captured_pct"] > 90.0
    assert glued["nl_post_envelope_pct"] == pytest.approx(glued["nl_post_direct_pct"], rel=0.3)


def test_chapter_6_bias_is_propagated(glued):
    # a calibrated NL that differs from the truth: the true ordering no longer fits perfectly and the
    # separation moves; chapter 6's bias is sub-percent (seed 000: 0.2% physics, 0.3% instrumental)
    assert glued["chi2_true_ch6_bias"] > 0.05
    assert abs(glued["dchi2_6y_ch6_bias"] - glued["dchi2_6y_with_nl"]) > 0.01
    assert glued["nl_bias_ch6_max_pct"] < 1.0


def test_resolution_defaults_are_chapter_7_results():
    """res_a/b/c default to chapter 7's posterior medians (default run, design). Chapter 7's chain at
    its --fast statistics must agree with them within 3 of its own posterior standard deviations;
    the test fails if chapter 7's calibration drifts away from what chapter 9 uses."""
    from juno_calib.book.chapters import get_chapter
    from juno_calib.calibration import resolution_study
    from juno_calib.core.rng import make_rng

    def params(name):
        ch = get_chapter(name)
        return {k: p.default for k, p in ch.parameters.items()} | ch.resolve(fast=True)

    p9, p7 = params("09_mass_ordering"), params("07_resolution")
    assert p9["resolution_source"] == "parameters" and p9["res_seed"] == p7["seed"]
    settings = resolution_study.Settings(**{k: v for k, v in p7.items() if k != "seed"})
    run = resolution_study.run(settings, rng=make_rng(p7["seed"]))
    mcmc = run["fit"].mcmc
    for k in ("a", "b", "c"):
        s = mcmc.summary(k)
        assert abs(p9[f"res_{k}"] - s["median"]) < 3 * s["std"], (
            f"res_{k} = {p9[f'res_{k}']} vs chapter 7 (--fast): {s['median']:.5f} +- {s['std']:.5f}")
    ab = run["fit"].abar_summary()
    abar9 = float(np.sqrt(p9["res_a"] ** 2 + (1.6 * p9["res_b"]) ** 2 + (p9["res_c"] / 1.6) ** 2))
    assert abs(abar9 - ab["median"]) < 3 * 0.5 * (ab["hi68"] - ab["lo68"]), "abar of the defaults vs chapter 7"
