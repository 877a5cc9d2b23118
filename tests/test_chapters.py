"""Every chapter runs under papermill with its --fast statistics, glues the keys other tools
read (a contract fixed by the issues), and follows the book's conventions."""

from __future__ import annotations

import math

import pytest

from juno_calib.book.chapters import chapters

# Glued result keys named by the issues: other tools read them, keep them exactly.
CONTRACT = {
    "01_detector_layout": ["n_lpmt", "n_lpmt_hamamatsu", "n_spmt", "coverage_lpmt", "coverage_spmt"],
    "02_sources_deployment": ["n_points_total", "n_points_acu", "n_points_cls", "n_points_gt"],
    "03_detector_response": [
        "light_yield_center", "r_total_reflection_m", "sigma_over_e_ge68_center",
        "sigma_over_e_1mev_center",
    ],
    "04_vertex_reconstruction": [
        "vertex_resolution_1mev_cm", "vertex_resolution_4mev_cm", "vertex_bias_edge_cm",
    ],
    "09_mass_ordering": [
        "dchi2_stat_6y", "dchi2_6y_with_nl", "years_to_3sigma", "dchi2_6y_abar_3p12", "n_ibd_per_day",
    ],
    "06_nonlinearity": [
        "nl_bias_max_positron", "nl_bias_max_positron_sources_only", "instrumental_nl_residual",
        "kB_median", "kC_median", "tau_max", "n_eff_min",
    ],
    "08_time_budget": [
        "daq_minutes_comprehensive", "daq_minutes_monthly", "daq_minutes_weekly",
        "calibration_hours_per_year", "livetime_fraction_lost",
    ],
}
CHAPTERS = sorted(chapters())


def test_contracted_chapters_exist():
    missing = [name for name in CONTRACT if name not in CHAPTERS]
    assert not missing, f"chapters named by the issues are missing: {missing}"


@pytest.mark.notebook
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_fast_and_glues_finite_numbers(run_fast, name):
    glued = run_fast(name).glued
    assert glued, f"{name} glues no values"
    for key in CONTRACT.get(name, []):
        assert key in glued, f"{name} must glue {key!r} (contract)"
        assert isinstance(glued[key], (int, float)), f"{name}: {key} = {glued[key]!r} is not a plain number"
    for key, value in glued.items():
        if isinstance(value, float):
            assert math.isfinite(value), f"{name}: glued {key} = {value}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_follows_the_skeleton(name):
    import jupytext

    chapter = chapters()[name]
    nb = jupytext.read(chapter.path)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert text.lstrip().startswith("("), f"{name} starts with a label for cross-references"
    for heading in ("What this chapter shows", "Takeaways", "References"):
        assert heading in text, f"{name} lacks the section {heading!r}"
    assert "```{bibliography}" in text, f"{name} ends with its bibliography"
    assert "markdown_table(" in "\n".join(c.source for c in nb.cells), f"{name} has an inputs table"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "plt.subplots(" in cell.source or "plt.figure(" in cell.source:
            fig = cell.metadata.get("mystnb", {}).get("figure", {})
            glued_fig = "glue(" in cell.source
            assert glued_fig or (fig.get("name") and fig.get("caption")), (
                f"{name}: a figure cell lacks a name and caption:\n{cell.source[:200]}"
            )
