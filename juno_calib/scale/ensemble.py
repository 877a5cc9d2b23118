"""Pseudo-experiment ensembles of a study on a Dask cluster.

:func:`run_ensemble` runs ``n_toys`` toys of a registered study (:mod:`juno_calib.scale.studies`),
optionally at every point of a grid of its parameters. Toy ``i`` draws from its own stream,
``numpy.random.SeedSequence(seed).spawn(n_toys)[i]``, and uses the same stream at every grid point
(common random numbers: differences between grid points are not blurred by independent
fluctuations). What a toy returns therefore depends only on (seed, i, parameters), never on the
number of workers, on how toys are grouped into tasks or on the order in which tasks finish.

A toy that raises is recorded with its parameters and traceback (:class:`ToyFailure`); the other
toys go on and are kept. Results are written with pyarrow (Parquet, and CSV for a person).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core import validate
from ..core.params import check_range
from .studies import Study, get_study


@dataclasses.dataclass(frozen=True)
class ToyFailure:
    """A toy that raised: where (grid point, toy index), with which parameters, and why."""

    point: int
    toy: int
    params: dict[str, Any]
    error: str
    traceback: str

    def report(self) -> str:
        return (f"toy {self.toy} at point {self.point} {self.params} failed: {self.error}\n"
                + self.traceback)


@dataclasses.dataclass
class EnsembleResult:
    """Rows (one per successful toy: ``point``, ``toy``, the parameters, the study's outputs) and
    failures of an ensemble, in (point, toy) order."""

    study: str
    seed: int
    n_toys: int
    points: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    failures: list[ToyFailure]

    def column(self, name: str, **where) -> np.ndarray:
        """Values of ``name`` over the rows whose parameters equal ``where`` (all rows if none)."""
        return np.array([r[name] for r in self.rows if all(r[k] == v for k, v in where.items())],
                        dtype=float)

    def to_arrow(self):
        """The rows as a :class:`pyarrow.Table`."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.rows)

    def write(self, out_dir: str | Path, stem: str | None = None) -> dict[str, Path]:
        """Write ``<stem>.parquet``, ``<stem>.csv`` (pyarrow) and, if any toy failed,
        ``<stem>.failures.json`` into ``out_dir``; return the paths."""
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = stem or self.study
        table = self.to_arrow()
        paths = {"parquet": out / f"{stem}.parquet", "csv": out / f"{stem}.csv"}
        meta = {"study": self.study, "seed": str(self.seed), "n_toys": str(self.n_toys)}
        pq.write_table(table.replace_schema_metadata(meta), paths["parquet"])
        pcsv.write_csv(table, paths["csv"])
        if self.failures:
            paths["failures"] = out / f"{stem}.failures.json"
            paths["failures"].write_text(json.dumps([dataclasses.asdict(f) for f in self.failures],
                                                    indent=2) + "\n")
        return paths


def toy_streams(seed: int, n_toys: int) -> list[np.random.SeedSequence]:
    """The seed sequences of toys 0 .. n_toys - 1: ``SeedSequence(seed).spawn(n_toys)``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r} must be a non-negative int")
    n_toys = validate.integer("n_toys", n_toys, 1, 10**7)
    return np.random.SeedSequence(int(seed)).spawn(n_toys)


def grid_points(study: Study, params: Mapping[str, Any] | None = None,
                grid: Mapping[str, Sequence] | None = None) -> list[dict[str, Any]]:
    """Every point of the Cartesian ``grid`` on top of ``params``, each checked by the study
    (unknown names and values outside the allowed ranges raise here, before any task starts)."""
    grid = dict(grid or {})
    both = set(grid) & set(params or {})
    if both:
        raise ValueError(f"parameter(s) {sorted(both)} given both as a value and as a grid")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or len(values) == 0:
            raise ValueError(f"grid of {name!r} must be a non-empty list of values, got {values!r}")
    names = list(grid)
    return [study.resolve({**(params or {}), **dict(zip(names, combo, strict=True))})
            for combo in itertools.product(*(grid[n] for n in names))]


def _run_toys(study: Study, jobs: list[tuple[int, int, dict, np.random.SeedSequence]]) -> list[dict]:
    """Worker side: run each (point, toy, params, stream); a raising toy returns its traceback."""
    out = []
    for point, toy, params, stream in jobs:
        # a fresh copy of the toy's seed sequence: a study that spawns from its generator advances
        # the sequence's spawn counter, which must not leak into the toy's next grid point
        fresh = np.random.SeedSequence(stream.entropy, spawn_key=stream.spawn_key, pool_size=stream.pool_size)
        try:
            values = study(np.random.default_rng(fresh), **params)
            out.append({"point": point, "toy": toy, "values": values})
        except Exception as err:  # reported with its parameters; the other toys go on
            out.append({"point": point, "toy": toy, "error": f"{type(err).__name__}: {err}",
                        "traceback": traceback.format_exc()})
    return out


def run_ensemble(study: str | Study, n_toys: int, *, seed: int, params: Mapping[str, Any] | None = None,
                 grid: Mapping[str, Sequence] | None = None, client=None, toys_per_task: int = 1,
                 progress: bool = True, setup: bool = True) -> EnsembleResult:
    """``n_toys`` pseudo-experiments of ``study`` at ``params`` (at every point of ``grid``).

    Parameters
    ----------
    study : name of a registered study or a :class:`~juno_calib.scale.studies.Study`.
    n_toys : toys per grid point, 1 .. 1,000,000.
    seed : non-negative int; toy i uses ``SeedSequence(seed).spawn(n_toys)[i]``.
    params, grid : fixed parameter values, and lists of values whose Cartesian product is run.
    client : a :class:`distributed.Client` (see :func:`juno_calib.scale.cluster.open_client`);
        None runs the toys one after the other in this process (same results).
    toys_per_task : jobs (toy x grid point) grouped into one Dask task, toy by toy (amortises the
        scheduler's per-task cost for toys of a few milliseconds; with the grid's points per toy it
        keeps a toy's grid points on one worker; results do not depend on it).
    progress : a tqdm progress bar on stderr.
    setup : first prepare the workers with the study's ``setup`` (:func:`warm_up`); without it
        every worker builds what it needs at its first toy (same results, more time).
    """
    study = get_study(study)
    check_range("n_toys", n_toys, 1, 1_000_000)
    check_range("toys_per_task", toys_per_task, 1, 100_000)
    points = grid_points(study, params, grid)  # every value checked before any task starts
    streams = toy_streams(seed, n_toys)
    # toy by toy: a task of several jobs holds one toy's grid points, in grid order (a study may
    # reuse the work of a toy that does not depend on the parameter varied last, see
    # studies.nonuniformity); the results do not depend on the grouping
    jobs = [(p, i, points[p], streams[i]) for i in range(n_toys) for p in range(len(points))]
    chunks = [jobs[k:k + toys_per_task] for k in range(0, len(jobs), toys_per_task)]
    if client is not None and setup and study.setup is not None:
        t0 = time.perf_counter()
        if progress:
            print(f"juno-calib: preparing the workers for {study.name} ...", file=sys.stderr, flush=True)
        study.setup(client, points)
        if progress:
            print(f"juno-calib: workers ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    from tqdm import tqdm  # the terminal bar (tqdm.auto warns in a kernel without ipywidgets)

    bar = tqdm(total=len(jobs), desc=f"{study.name}", unit="toy", disable=not progress, file=sys.stderr)
    done: list[dict] = []
    if client is None:
        for chunk in chunks:
            done += _run_toys(study, chunk)
            bar.update(len(chunk))
    else:
        from distributed import as_completed

        futures = {client.submit(_run_toys, study, chunk, pure=False): chunk for chunk in chunks}
        for future in as_completed(futures):
            chunk = futures[future]
            if future.status == "finished":
                done += future.result()
            else:  # the task itself failed (a worker died, ...): report every toy of it
                err = future.exception()
                tb = "".join(traceback.format_tb(future.traceback())) if future.traceback() else ""
                done += [{"point": p, "toy": i, "error": f"{type(err).__name__}: {err}", "traceback": tb}
                         for p, i, _, _ in chunk]
            bar.update(len(chunk))
            future.release()
    bar.close()
    done.sort(key=lambda d: (d["point"], d["toy"]))
    rows = [{"point": d["point"], "toy": d["toy"], **points[d["point"]], **d["values"]}
            for d in done if "values" in d]
    failures = [ToyFailure(point=d["point"], toy=d["toy"], params=points[d["point"]], error=d["error"],
                           traceback=d["traceback"]) for d in done if "error" in d]
    return EnsembleResult(study=study.name, seed=int(seed), n_toys=int(n_toys), points=points, rows=rows,
                          failures=failures)


def warm_up(client, study: str | Study, params: Mapping[str, Any] | None = None,
            grid: Mapping[str, Sequence] | None = None) -> None:
    """Prepare every worker of ``client`` for the study at ``params``/``grid`` with the study's
    ``setup`` (e.g. the detector response, built once and sent to the workers)."""
    study = get_study(study)
    if study.setup is not None:
        study.setup(client, grid_points(study, params, grid))


def summary(values, errors) -> dict[str, float]:
    """How well quoted errors describe an ensemble: ``mean``, ``spread`` (standard deviation),
    ``median_error`` (median quoted error), ``ratio`` = spread / median_error (1 if the quoted errors
    are right), and ``coverage``: the fraction of toys whose interval value ± error contains the
    ensemble mean (0.683 for Gaussian errors of the right size), with its binomial error."""
    x = validate.array("values", values, ndim=1)
    e = validate.array("errors", errors, 0.0, ndim=1, lo_open=True)
    if x.shape != e.shape or x.size < 2:
        raise ValueError(f"need matching values and errors with at least 2 toys, got {x.shape}, {e.shape}")
    mean, spread = float(x.mean()), float(x.std(ddof=1))
    if not np.isfinite(spread / float(np.median(e))):
        raise ValueError(f"errors (median {np.median(e):g}) are too small for values spread by {spread:g}: "
                         "their ratio overflows")
    cover = float(np.mean(np.abs(x - mean) <= e))
    return {"n": float(x.size), "mean": mean, "spread": spread,
            "spread_err": spread / float(np.sqrt(2 * (x.size - 1))),
            "median_error": float(np.median(e)), "ratio": spread / float(np.median(e)),
            "coverage": cover, "coverage_err": float(np.sqrt(cover * (1 - cover) / x.size))}

