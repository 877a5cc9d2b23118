"""``juno-calib sweep``: the Cartesian grid of a chapter's parameters runs through the runner on a
Dask cluster, one executed notebook and one table row per run with its parameters; reruns skip
runs already done with the same parameters; bad names and values are refused before any worker
starts; a failing run is reported and the others kept."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from juno_calib.book import sweep as sweep_mod
from juno_calib.book.cli import main
from juno_calib.scale import cluster

pytestmark = pytest.mark.notebook

CHAPTER = textwrap.dedent(
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
      title: Sweep self-test
      parameters:
        seed: {min: 0, help: "random seed"}
        n_events: {min: 10, max: 100000, fast: 20, help: "draws"}
        fail: {help: "raise inside the kernel"}
    ---
    # Sweep self-test

    ```{code-cell} ipython3
    :tags: [parameters]
    seed = 1
    n_events = 1000
    fail = False
    ```

    ```{code-cell} ipython3
    from myst_nb import glue
    import numpy as np
    if fail:
        raise RuntimeError("asked to fail")
    glue("mean", float(np.random.default_rng(seed).normal(size=n_events).mean()), display=False)
    glue("n_events_used", n_events, display=False)
    ```
    '''
)


@pytest.fixture
def chapter(tmp_path):
    path = tmp_path / "98_sweeptest.md"
    path.write_text(CHAPTER)
    return path


@pytest.fixture(scope="module")
def client():
    with cluster.open_client(n_workers=2, processes=False, dashboard=False, verbose=False) as c:
        yield c


def _expected_mean(seed, n):
    return float(np.random.default_rng(seed).normal(size=n).mean())


def test_two_by_two_grid_writes_four_rows_with_their_parameters_and_reruns_skip(chapter, tmp_path, client):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    grid = {"seed": ["3", "4"], "n_events": ["50", "200"]}
    res = sweep_mod.run_sweep(str(chapter), grid, out_dir=out, client=client, progress=False)
    table = pq.read_table(res.paths["parquet"]).to_pylist()
    assert len(table) == 4
    assert [(r["seed"], r["n_events"]) for r in table] == [(3, 50), (3, 200), (4, 50), (4, 200)]
    for r in table:
        assert r["status"] == "ok" and not r["reused"] and r["fail"] is False, r.get("error")
        assert r["n_events_used"] == r["n_events"]
        assert r["mean"] == pytest.approx(_expected_mean(r["seed"], r["n_events"]), rel=1e-12)
        folder = out / r["run"]
        assert (folder / "98_sweeptest.ipynb").exists()
        assert json.loads((folder / "params.json").read_text())["parameters"] == {
            "seed": r["seed"], "n_events": r["n_events"], "fail": False}
    assert res.paths["csv"].read_text().count("\n") == 5
    # a rerun skips every run; a new value runs only the new points; --force redoes all
    again = sweep_mod.run_sweep(str(chapter), grid, out_dir=out, client=client, progress=False)
    assert again.n_reused == 4 and [r["mean"] for r in again.rows] == [r["mean"] for r in table]
    grown = sweep_mod.run_sweep(str(chapter), {"seed": ["3", "5"], "n_events": ["50"]}, out_dir=out,
                                client=client, progress=False)
    assert [r["reused"] for r in grown.rows] == [True, False]
    forced = sweep_mod.run_sweep(str(chapter), {"seed": ["3"], "n_events": ["50"]}, out_dir=out,
                                 force=True, progress=False)
    assert forced.n_reused == 0


def test_changed_parameters_or_fast_do_not_match_an_old_run(chapter, tmp_path):
    out = tmp_path / "out"
    sweep_mod.run_sweep(str(chapter), {"seed": ["3"]}, out_dir=out, progress=False)
    # --fast sets n_events = 20: not the same run, kept beside the full one
    fast = sweep_mod.run_sweep(str(chapter), {"seed": ["3"]}, out_dir=out, fast=True, progress=False)
    assert fast.n_reused == 0 and fast.rows[0]["n_events"] == 20 and fast.rows[0]["run"] == "seed=3__fast"
    # a run whose params.json records other values (e.g. an edited chapter default) is redone
    record = out / "seed=3" / "params.json"
    old = json.loads(record.read_text())
    record.write_text(json.dumps(old | {"parameters": old["parameters"] | {"n_events": 999}}))
    assert sweep_mod.run_sweep(str(chapter), {"seed": ["3"]}, out_dir=out, progress=False).n_reused == 0
    assert fast.rows[0]["mean"] == pytest.approx(_expected_mean(3, 20), rel=1e-12)


@pytest.mark.parametrize("args, message", [
    (["-p", "n_event", "10,20"], "unknown parameter(s) 'n_event'"),
    (["-p", "n_events", "5,20"], "'n_events' = 5 is outside the allowed range: int in [10, 100000]"),
    (["-p", "seed", "1,x"], "parameter 'seed' must be int, got 'x'"),
    (["-p", "seed", "1,,2"], "without empty entries"),
])
def test_bad_names_and_values_are_refused_before_any_worker_starts(chapter, monkeypatch, capsys, args, message):
    monkeypatch.setattr(cluster, "open_client", lambda *a, **k: pytest.fail("a cluster was started"))
    monkeypatch.setattr(sweep_mod, "run_sweep", lambda *a, **k: pytest.fail("a run was started"))
    assert main(["sweep", str(chapter), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_failing_run_is_reported_and_the_others_kept(chapter, tmp_path, client, monkeypatch, capsys):
    monkeypatch.setenv(cluster.SCHEDULER_ENV, client.scheduler.address)
    code = main(["sweep", str(chapter), "-p", "fail", "false,true", "-p", "seed", "2", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "1 of 2 run(s) failed" in captured.err
    assert "'fail': True" in captured.err and "asked to fail" in captured.err
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "sweep.parquet").to_pylist()
    assert [(r["fail"], r["status"]) for r in rows] == [(False, "ok"), (True, "failed")]
    assert rows[0]["mean"] == pytest.approx(_expected_mean(2, 1000), rel=1e-12)
    assert rows[1]["mean"] is None and "asked to fail" in rows[1]["error"]
    assert not (tmp_path / rows[1]["run"] / "params.json").exists(), "a failed run is redone next time"
