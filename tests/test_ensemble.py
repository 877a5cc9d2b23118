"""Ensembles on Dask: a toy's result depends only on (seed, toy, parameters), never on the number of
workers or the grouping into tasks; a failing toy is reported with its parameters and traceback and
the others are kept; bad parameters are refused before any task starts; the batch-farm recipe
produces the job a farm would run; the quoted fit errors of a seeded ensemble cover."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from juno_calib.book.cli import main
from juno_calib.scale import cluster, studies
from juno_calib.scale.ensemble import grid_points, run_ensemble, summary, toy_streams
from juno_calib.scale.studies import get_study, register_study


@pytest.fixture(scope="module")
def client():
    """Two single-threaded workers as threads of this process (light; shut down after the module)."""
    with cluster.open_client(n_workers=2, processes=False, dashboard=False, verbose=False) as c:
        yield c


@register_study(
    "test_gaussian_mean",
    outputs=("mean", "mean_err"),
    n={"default": 400, "min": 2, "max": 10**6, "help": "draws"},
    fail_below={"default": 0.0, "min": 0.0, "max": 1.0, "help": "fail if the first uniform is below this"},
)
def _gaussian_mean(*, rng, n, fail_below):
    """The mean of n standard normal draws and its error 1/sqrt(n); a toy whose first uniform
    draw is below ``fail_below`` raises (a deliberately failing toy)."""
    if rng.uniform() < fail_below:
        raise FloatingPointError("deliberate failure of this toy")
    x = rng.normal(size=n)
    return {"mean": x.mean(), "mean_err": 1.0 / math.sqrt(n)}


def test_same_seed_same_toys_whatever_the_workers_and_the_tasks(client):
    kw = {"seed": 7, "params": {"n_events": 200}, "progress": False}
    serial = run_ensemble("resolution_center", 4, **kw)
    with cluster.open_client(n_workers=1, processes=False, dashboard=False, verbose=False) as one:
        single = run_ensemble("resolution_center", 4, client=one, **kw)
    two = run_ensemble("resolution_center", 4, client=client, **kw)
    grouped = run_ensemble("resolution_center", 4, client=client, toys_per_task=3, **kw)
    assert serial.rows == single.rows == two.rows == grouped.rows, "a toy depends on (seed, toy) only"
    a = serial.column("a_pct")
    assert len(set(a)) == 4, "every toy has its own stream"
    other = run_ensemble("resolution_center", 2, seed=8, params={"n_events": 200}, progress=False)
    assert not np.allclose(other.column("a_pct"), a[:2])
    # toy i is the i-th spawned child of SeedSequence(seed): independent of n_toys
    assert run_ensemble("resolution_center", 2, **kw).rows == serial.rows[:2]


def test_toy_streams_are_the_spawned_children():
    s = toy_streams(3, 5)
    assert [c.spawn_key for c in s] == [(i,) for i in range(5)]
    assert all(c.entropy == 3 for c in s)
    with pytest.raises(ValueError, match="seed = -1"):
        toy_streams(-1, 2)


def test_a_failing_toy_is_reported_and_the_others_kept(client, tmp_path):
    n_toys, cut = 24, 0.25
    failing = [i for i, s in enumerate(toy_streams(11, n_toys)) if np.random.default_rng(s).uniform() < cut]
    assert 0 < len(failing) < n_toys  # the seed is not tuned: any seed with both kinds tests the same
    res = run_ensemble("test_gaussian_mean", n_toys, seed=11, params={"fail_below": cut}, client=client,
                       progress=False)
    assert [f.toy for f in res.failures] == failing
    assert [r["toy"] for r in res.rows] == [i for i in range(n_toys) if i not in failing]
    f = res.failures[0]
    assert f.params == {"n": 400, "fail_below": cut}
    assert "FloatingPointError: deliberate failure" in f.error
    assert "_gaussian_mean" in f.traceback and "raise FloatingPointError" in f.traceback
    paths = res.write(tmp_path, "fragile")
    import pyarrow.parquet as pq

    table = pq.read_table(paths["parquet"])
    assert table.num_rows == n_toys - len(failing)
    assert set(table.column_names) >= {"point", "toy", "n", "fail_below", "mean", "mean_err"}
    assert paths["csv"].read_text().count("\n") == n_toys - len(failing) + 1
    assert "deliberate failure" in paths["failures"].read_text()


def test_cli_exits_nonzero_with_the_count_of_failed_toys(client, tmp_path, monkeypatch, capsys):
    """Through an existing scheduler named by the environment variable (the client fixture's)."""
    monkeypatch.setenv(cluster.SCHEDULER_ENV, client.scheduler.address)
    code = main(["ensemble", "test_gaussian_mean", "-n", "24", "--seed", "11", "-p", "fail_below", "0.25",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    n_fail = sum(np.random.default_rng(s).uniform() < 0.25 for s in toy_streams(11, 24))
    assert code == 1
    assert f"{n_fail} of 24 toy(s) failed" in err
    assert f"scheduler {client.scheduler.address}" in err
    assert "fail_below': 0.25" in err and "Traceback" in err
    assert (tmp_path / "test_gaussian_mean.parquet").exists()


def test_gaussian_toys_pull_distribution(client):
    """Means of 400 unit Gaussians: spread 1/20 and 68.3% coverage of mean ± 1/sqrt(n) (bands: 4 sigma)."""
    res = run_ensemble("test_gaussian_mean", 300, seed=5, client=client, toys_per_task=50, progress=False)
    s = summary(res.column("mean"), res.column("mean_err"))
    assert s["ratio"] == pytest.approx(1.0, abs=4 * s["spread_err"] / s["median_error"])
    assert s["coverage"] == pytest.approx(0.683, abs=4 * s["coverage_err"])


def test_bad_parameters_are_refused_before_any_task(monkeypatch):
    class NoClient:
        def submit(self, *a, **k):
            raise AssertionError("a task was submitted")

    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'n_event' for study resolution_center"):
        run_ensemble("resolution_center", 3, seed=1, params={"n_event": 300}, client=NoClient())
    with pytest.raises(ValueError, match=r"'n_events' = 50 is outside the allowed range: int in \[200, 1e\+06\]"):
        run_ensemble("resolution_center", 3, seed=1, grid={"n_events": [400, 50]}, client=NoClient())
    with pytest.raises(ValueError, match=r"'config' = 'nominal' is not allowed"):
        grid_points(get_study("calibration_peak"), {"config": "nominal"})
    with pytest.raises(ValueError, match="n_toys = 0"):
        run_ensemble("resolution_center", 0, seed=1, client=NoClient())
    with pytest.raises(ValueError, match="unknown study 'nonsense'"):
        get_study("nonsense")
    monkeypatch.setattr(cluster, "open_client", lambda *a, **k: pytest.fail("a cluster was started"))
    assert main(["ensemble", "calibration_peak", "-g", "r_m", "0,30"]) == 2
    assert main(["ensemble", "calibration_peak", "--workers", "0"]) == 2


def test_grid_uses_common_random_numbers():
    res = run_ensemble("test_gaussian_mean", 3, seed=2, grid={"n": [100, 400]}, progress=False)
    assert [(r["point"], r["toy"], r["n"]) for r in res.rows] == [
        (0, 0, 100), (0, 1, 100), (0, 2, 100), (1, 0, 400), (1, 1, 400), (1, 2, 400)]
    # toy i draws the same first 100 normals at both points (same stream)
    first = np.random.default_rng(toy_streams(2, 3)[1])
    first.uniform()
    assert res.rows[1]["mean"] == pytest.approx(first.normal(size=100).mean(), rel=1e-12)


@pytest.mark.parametrize("farm, needle", [("slurm", "#SBATCH -p short"), ("htcondor", "RequestCpus")])
def test_the_farm_recipe_makes_the_job_a_farm_would_run(farm, needle):
    """The shipped jobqueue.yaml, loaded as dask config, gives the job script (no job is submitted)."""
    import dask
    import dask_jobqueue  # noqa: F401  (registers its defaults before the test's config is set)
    import yaml

    template = Path(studies.__file__).with_name("jobqueue.yaml")
    conf = yaml.safe_load(template.read_text())["jobqueue"][farm]
    # merged into dask's defaults, as dask does with ~/.config/dask/jobqueue.yaml
    with dask.config.set({f"jobqueue.{farm}.{key}": value for key, value in conf.items()}):
        farm_cluster = cluster.farm_cluster(farm, 0, scheduler_options={"dashboard_address": ":0"})
        try:
            script = farm_cluster.job_script()
        finally:
            farm_cluster.close()
    assert needle in script
    assert "distributed.cli.dask_worker" in script and "--nthreads 1" in script and "--nworkers 4" in script
    if farm == "slurm":
        assert "#SBATCH -A juno" in script and "#SBATCH -t 02:00:00" in script
    with pytest.raises(ValueError, match="farm = 'moab' is not allowed"):
        cluster.farm_cluster("moab")


def test_resolution_fit_errors_are_right_without_the_bound_and_too_large_with_it(client):
    """Chapter 3's fit of Eq. 1 repeated at the centre, where the true b is 0: the unconstrained
    linear fit's a² error matches the toys' spread (ratio 1 within 4 sigma of the spread's own
    error); the bound b² >= 0 (hit in about half the toys) narrows a, so its quoted error is too
    large; a ~ 1/sqrt(1345 PE/MeV) = 2.73% (design, CALIB21)."""
    res = run_ensemble("resolution_center", 60, seed=20211004, params={"n_events": 400}, client=client,
                       progress=False)
    free = summary(res.column("a2_free"), res.column("a2_free_err"))
    bounded = summary(res.column("a_pct"), res.column("a_err_pct"))
    assert free["ratio"] == pytest.approx(1.0, abs=4 * free["spread_err"] / free["median_error"])
    assert 0.2 < np.mean(res.column("b2") == 0) < 0.8, "true b = 0: the bound is hit in about half the toys"
    assert bounded["ratio"] < free["ratio"] and bounded["coverage"] > 0.683
    assert math.sqrt(free["mean"]) == pytest.approx(100 / math.sqrt(1345.0), rel=0.03)


NU_SMALL = {"n_points": 20, "n_positrons": 1500, "n_pool": 100, "truth_shells": 6}


def test_nonuniformity_toys_are_the_same_whatever_the_workers_and_the_reuse(client, monkeypatch):
    """Chapter 5's calibration as toys: serially, with the per-toy reuse across vertex resolutions,
    and on two workers without any reuse, toy i gives the same numbers (one stream per toy); the
    numbers are physical: ā above the photo-statistics floor 1/sqrt(Y0) and near seed 000's 3.12%,
    the error the Eq. 1 fit implies small and positive, a residual of a fraction of a percent."""
    studies._NU_TOYS.clear()
    serial = run_ensemble("nonuniformity", 2, seed=11, params=NU_SMALL, progress=False,
                          grid={"vertex_resolution_1mev": [0.0, 30.0]})  # toy by toy: the 30 cm row reuses
    monkeypatch.setattr(studies, "_NU_TOYS_KEEP", 0)
    two = run_ensemble("nonuniformity", 2, seed=11, params={**NU_SMALL, "vertex_resolution_1mev": 30.0},
                       client=client, progress=False)
    outputs = get_study("nonuniformity").outputs
    at_30 = [[r[k] for k in ("toy", *outputs)] for r in serial.rows if r["vertex_resolution_1mev"] == 30.0]
    assert np.array_equal(at_30, [[r[k] for k in ("toy", *outputs)] for r in two.rows], equal_nan=True), (
        "a toy depends on (seed, toy, parameters) only: not on the workers nor on the reuse")
    assert not serial.failures and len(serial.rows) == 4
    a0, a1 = serial.column("abar_pct", toy=0), serial.column("abar_pct", toy=1)
    assert a0[0] != a1[0], "every toy has its own stream"
    for r in serial.rows:
        floor = 100 / math.sqrt(r["y0"])  # Poisson photo-statistics at the centre's light yield
        assert floor < r["abar_pct"] < 4.5, f"ā = {r['abar_pct']:.3f}% (seed 000: 3.12%, floor {floor:.2f}%)"
        assert 0 < r["abar_err_pct"] < 0.2, "9 energies x 1500 positrons: σ/E to ~2% each"
        assert 0 <= r["residual_pct"] < 2.0, "chapter 5: a corrected residual below 1%"
        assert 1100 < r["y0"] < 1400, "PE/MeV at the centre: 1345 (design) less the dead and weak PMTs"
        assert math.isnan(r["abar_3d_pct"]) and math.isnan(r["residual_3d_pct"]), "no spallation map asked"
