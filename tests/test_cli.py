"""The ``juno-calib`` command line: parameter checks before any kernel starts, outputs that a
failed run never overwrites, and the JSON of glued values."""

from __future__ import annotations

import json
import textwrap

import pytest

from juno_calib.book.chapters import chapters, get_chapter
from juno_calib.book.cli import main

SELFTEST = textwrap.dedent(
    '''\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    juno_calib:
      title: CLI self-test
      parameters:
        seed: {min: 0, help: "random seed"}
        config: {help: "detector configuration"}
        n_events: {min: 10, max: 100000, fast: 20, help: "events"}
        fail: {help: "raise inside the kernel"}
    ---
    # Self-test

    ```{code-cell} ipython3
    :tags: [parameters]
    seed = 1
    config = "design"
    n_events = 1000
    fail = False
    ```

    ```{code-cell} ipython3
    from myst_nb import glue
    import numpy as np
    if fail:
        raise RuntimeError("asked to fail")
    glue("mean", float(np.random.default_rng(seed).normal(size=n_events).mean()))
    glue("n_events_used", n_events)
    ```
    '''
)


@pytest.fixture
def selftest(tmp_path):
    path = tmp_path / "99_selftest.md"
    path.write_text(SELFTEST)
    return path


def test_every_chapter_declares_seed_config_and_fast_statistics():
    found = chapters()
    assert found, "the book has chapters"
    for chapter in found.values():
        assert {"seed", "config"} <= set(chapter.parameters), chapter.name
        assert chapter.parameters["config"].choices == ("design", "as_built")
        assert chapter.parameters["seed"].type is int
        for p in chapter.parameters.values():
            if p.fast is not None:
                p.convert(p.fast)  # the fast override itself is a valid value


def test_list_prints_parameters_with_types(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "seed (int, default" in out and "config (str, default 'design'" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "n_evnts", "5"], "unknown parameter(s) 'n_evnts'"),
        (["-p", "n_events", "many"], "parameter 'n_events' must be int, got 'many'"),
        (["-p", "n_events", "2.5"], "parameter 'n_events' must be int, got 2.5"),
        (["-p", "n_events", "5"], "parameter 'n_events' = 5 is outside the allowed range: int in [10, 100000]"),
        (["-p", "config", "nominal"], "parameter 'config' = 'nominal' is not allowed; one of 'design', 'as_built'"),
        (["-p", "seed", "-3"], "parameter 'seed' = -3 is outside the allowed range"),
    ],
)
def test_bad_parameters_rejected_before_running(selftest, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["run", str(selftest), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not out.exists(), "nothing may run (or be written) when the parameters are bad"
    if "unknown" in message:
        assert "n_events (int, default 1000" in err, "the error lists the valid parameters"


def test_run_writes_json_and_failed_run_keeps_previous_output(selftest, tmp_path):
    out = tmp_path / "out"
    js = tmp_path / "values.json"
    assert main(["run", str(selftest), "--fast", "--out", str(out), "--json", str(js)]) == 0
    values = json.loads(js.read_text())
    assert values["n_events_used"] == 20, "--fast applies the declared override"
    nb_path = out / "99_selftest.ipynb"
    before = nb_path.read_bytes()
    json_before = js.read_text()
    assert main(["run", str(selftest), "-p", "fail", "true", "--out", str(out), "--json", str(js)]) == 1
    assert nb_path.read_bytes() == before, "a failed run must not overwrite the earlier output"
    assert js.read_text() == json_before
    assert (out / "99_selftest.failed.ipynb").exists(), "the failed notebook is kept for debugging"


def test_get_chapter_unknown_name_lists_chapters():
    with pytest.raises(ValueError, match="unknown chapter 'nope'; chapters:"):
        get_chapter("nope")


def test_values_glued_without_display_are_read_back(tmp_path):
    """glue(..., display=False) stores its payload under a mime prefix; the runner reads it."""
    import nbformat

    from juno_calib.book.runner import read_glued

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "0.752"},
            metadata={"scrapbook": {"name": "coverage_lpmt", "mime_prefix": "application/papermill.record/"}},
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "17612"}, metadata={"scrapbook": {"name": "n_lpmt"}}
        ),
    ]
    nb.cells.append(cell)
    assert read_glued(nb) == {"coverage_lpmt": 0.752, "n_lpmt": 17612}
