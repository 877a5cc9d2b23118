"""Every chapter runs under papermill with its --fast statistics, glues the keys other tools
read (a contract fixed by the issues), and follows the book's conventions."""

from __future__ import annotations

import ast
import math

import pytest

from juno_calib.book.chapters import chapters

# Glued result keys named by the issues: other tools read them, keep them exactly.
CONTRACT = {
    "01_detector_layout": ["n_lpmt", "n_lpmt_hamamatsu", "n_spmt", "coverage_lpmt", "coverage_spmt"],
    "02_sources_deployment": ["n_points_total", "n_points_acu", "n_points_cls", "n_points_gt"],
    "03_detector_response": [
        "light_yield_center", "r_total_reflection_m", "sigma_over_e_ge68_center",
        "sigma_over_e_1mev_center", "a_fv_charge", "sigma_over_e_ge68_center_charge",
    ],
    "04_vertex_reconstruction": [
        "vertex_resolution_1mev_cm", "vertex_resolution_4mev_cm", "vertex_bias_edge_cm",
    ],
    "05_nonuniformity": [
        "a", "b", "c", "abar", "residual_nonuniformity_fv", "n_points", "abar_uncorrected", "abar_acu_only",
        "residual_nonuniformity_fv_3d",
    ],
    "09_mass_ordering": [
        "dchi2_stat_6y", "dchi2_6y_with_nl", "years_to_3sigma", "dchi2_6y_abar_3p12", "n_ibd_per_day",
    ],
    "06_nonlinearity": [
        "nl_bias_max_positron", "nl_bias_max_positron_sources_only", "instrumental_nl_residual",
        "kB_median", "kC_median", "tau_max", "n_eff_min",
    ],
    "07_resolution": ["a_median", "b_median", "c_median", "abar_median", "abar_low", "abar_high",
                      "abar_truth"],
    "08_time_budget": [
        "daq_minutes_comprehensive", "daq_minutes_monthly", "daq_minutes_weekly",
        "calibration_hours_per_year", "livetime_fraction_lost",
    ],
}
CHAPTERS = sorted(chapters())


def test_contracted_chapters_exist():
    missing = [name for name in CONTRACT if name not in CHAPTERS]
    assert not missing, f"chapters named by the issues are missing: {missing}"


def chapter_group(name: str) -> str:
    """The pytest-xdist group of a chapter's runs (conftest: one worker runs a chapter once)."""
    return "chapter-" + {"08": "02"}.get(name[:2], name[:2])


@pytest.mark.notebook
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(chapter_group(n)))
                                  for n in CHAPTERS])
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


def _headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of every heading of a chapter's Markdown (code fences and math skipped)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        (int(tok.tag[1]), tokens[i + 1].content)
        for i, tok in enumerate(tokens) if tok.type == "heading_open"
    ]


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_one_title_and_a_heading_hierarchy_without_jumps(name):
    import jupytext

    nb = jupytext.read(chapters()[name].path)
    headings = _headings("\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    titles = [text for level, text in headings if level == 1]
    assert len(titles) == 1 and headings[0][0] == 1, f"{name}: one title (#) first, found {titles}"
    for (level_a, text_a), (level_b, text_b) in zip(headings, headings[1:], strict=False):
        assert level_b <= level_a + 1, f"{name}: {text_b!r} (h{level_b}) skips a level after {text_a!r} (h{level_a})"


@pytest.mark.parametrize("name", CHAPTERS)
def test_long_import_cells_hide_their_input(name):
    """A reader meets the text first: a cell of three or more imports is folded (hide-input)."""
    import jupytext

    nb = jupytext.read(chapters()[name].path)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            body = ast.parse(cell.source).body
        except SyntaxError:
            continue
        if sum(isinstance(node, ast.Import | ast.ImportFrom) for node in body) >= 3:
            tags = cell.metadata.get("tags", [])
            assert {"hide-input", "remove-input", "remove-cell"} & set(tags), (
                f"{name}: the import cell lacks the tag hide-input:\n{cell.source[:200]}"
            )
