"""Command-line entry point ``juno-calib``.

::

    juno-calib list
    juno-calib run CHAPTER [-p NAME VALUE]... [--fast] [--out DIR] [--json FILE]
    juno-calib sweep CHAPTER -p NAME V1,V2,... [-p ...] [--fast] [--out DIR] [--force] [cluster options]
    juno-calib studies
    juno-calib ensemble STUDY [-n N] [--seed S] [-p NAME VALUE]... [-g NAME V1,V2,...]... [--out DIR]
                       [cluster options]
    juno-calib book [--jobs N]

Cluster options (sweep, ensemble): ``--scheduler ADDRESS`` (or the environment variable
``JUNO_CALIB_SCHEDULER``) for an existing Dask cluster, ``--farm slurm|htcondor|... --jobs N`` for a
batch farm through dask-jobqueue, otherwise a local cluster of ``--workers`` x ``--threads``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .chapters import ROOT, chapters, get_chapter

#: exit status after Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_INTERRUPTED = 130


def _cmd_list(args) -> int:
    for chapter in chapters().values():
        print(f"{chapter.name}: {chapter.title}")
        print(chapter.parameter_help())
    return 0


def _cmd_run(args) -> int:
    from .runner import run_chapter, scalars

    try:
        chapter = get_chapter(args.chapter)
        given = {}
        for name, value in args.param or []:
            if name in given:
                raise ValueError(f"parameter {name!r} given twice")
            given[name] = value
        chapter.resolve(given, fast=args.fast)  # reject bad input before any kernel starts
    except (ValueError, TypeError) as err:
        print(f"juno-calib: error: {err}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        result = run_chapter(
            str(chapter.path), given, fast=args.fast, out_dir=args.out, json_path=args.json
        )
    except KeyboardInterrupt:
        print(f"juno-calib: interrupted after {time.perf_counter() - t0:.1f} s: chapter {chapter.name} "
              "stopped, kernel shut down, earlier outputs left untouched", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # papermill raises PapermillExecutionError with the cell's trace
        print(f"juno-calib: chapter {chapter.name} failed: {err}", file=sys.stderr)
        print("juno-calib: earlier outputs were left untouched", file=sys.stderr)
        return 1
    print(f"wrote {result.notebook} in {time.perf_counter() - t0:.1f} s")
    for key, value in scalars(result.glued).items():
        print(f"  {key} = {value}")
    if args.json:
        print(f"wrote {args.json}")
    return 0


def _check_cluster_args(args) -> None:
    from ..core.params import check_range

    if args.workers is not None:
        check_range("--workers", args.workers, 1, 1024)
    check_range("--threads", args.threads, 1, 256)
    check_range("--jobs", args.jobs, 1, 100_000)


def _client(args):
    from ..scale.cluster import open_client

    return open_client(args.scheduler, n_workers=args.workers, threads_per_worker=args.threads,
                       farm=args.farm, farm_jobs=args.jobs, dashboard=not args.no_dashboard)


def _cmd_sweep(args) -> int:
    from .sweep import DEFAULT_SWEEP_OUT, parse_values, plan_sweep, run_sweep

    try:
        grid: dict[str, list[str]] = {}
        for name, values in args.param or []:
            if name in grid:
                raise ValueError(f"parameter {name!r} given twice")
            grid[name] = parse_values(values)
        chapter, runs = plan_sweep(args.chapter, grid, out_dir=args.out, fast=args.fast)  # before any worker
        _check_cluster_args(args)
    except (ValueError, TypeError) as err:
        print(f"juno-calib: error: {err}", file=sys.stderr)
        return 2
    out = args.out or DEFAULT_SWEEP_OUT / chapter.name
    print(f"juno-calib: sweep of {chapter.name}: {len(runs)} run(s) into {out}", file=sys.stderr)
    t0 = time.perf_counter()
    with _client(args) as client:
        result = run_sweep(chapter, grid, out_dir=args.out, fast=args.fast, force=args.force, client=client)
    for f in result.failures:
        print(f"juno-calib: run {f['run']} with {f['parameters']} failed: {f['error']}\n{f['traceback']}",
              file=sys.stderr)
    print(f"{len(result.rows)} run(s) ({result.n_reused} reused, {len(result.failures)} failed) in "
          f"{time.perf_counter() - t0:.1f} s; table: {result.paths['parquet']} and {result.paths['csv']}")
    if result.failures:
        print(f"juno-calib: {len(result.failures)} of {len(result.rows)} run(s) failed", file=sys.stderr)
        return 1
    return 0


def _cmd_studies(args) -> int:
    from ..scale.studies import studies

    for study in studies().values():
        print(f"{study.name}: {study.doc.splitlines()[0] if study.doc else ''}")
        print(f"  outputs: {', '.join(study.outputs)}")
        print(study.parameter_help())
    return 0


def _cmd_ensemble(args) -> int:
    from ..scale.ensemble import grid_points, run_ensemble
    from ..scale.studies import get_study

    try:
        study = get_study(args.study)
        params, grid = {}, {}
        for name, value in args.param or []:
            if name in params:
                raise ValueError(f"parameter {name!r} given twice")
            params[name] = value
        for name, values in args.grid or []:
            if name in grid:
                raise ValueError(f"grid parameter {name!r} given twice")
            grid[name] = [v.strip() for v in values.split(",")]
        points = grid_points(study, params, grid)  # every value checked before any worker starts
        if args.toys < 1 or args.seed < 0:
            raise ValueError(f"need -n >= 1 and --seed >= 0, got {args.toys} and {args.seed}")
        _check_cluster_args(args)
    except (ValueError, TypeError) as err:
        print(f"juno-calib: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else ROOT / "_build" / "ensembles"
    print(f"juno-calib: {args.toys} toy(s) of {study.name} at {len(points)} point(s), seed {args.seed}",
          file=sys.stderr)
    t0 = time.perf_counter()
    with _client(args) as client:
        result = run_ensemble(study, args.toys, seed=args.seed, params=params, grid=grid, client=client,
                              toys_per_task=args.toys_per_task)
    paths = result.write(out, args.name or study.name)
    for f in result.failures:
        print(f"juno-calib: {f.report()}", file=sys.stderr)
    n_failed = len(result.failures)
    print(f"{len(result.rows)} toy(s) kept, {n_failed} failed, in {time.perf_counter() - t0:.1f} s; "
          + ", ".join(str(p) for p in paths.values()))
    if n_failed:
        print(f"juno-calib: {n_failed} of {len(result.rows) + n_failed} toy(s) failed", file=sys.stderr)
        return 1
    return 0


def _cluster_options(p: argparse.ArgumentParser) -> None:
    from ..scale.cluster import FARMS, SCHEDULER_ENV, machine_cores

    g = p.add_argument_group("cluster (Dask)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help=f"an existing Dask scheduler (default: ${SCHEDULER_ENV}, else a local cluster)")
    g.add_argument("--workers", type=int, default=None,
                   help=f"local cluster: worker processes (default: the {machine_cores()} core(s) here)")
    g.add_argument("--threads", type=int, default=1, help="local cluster: threads per worker (default 1)")
    g.add_argument("--farm", choices=tuple(FARMS), default=None,
                   help="batch farm through dask-jobqueue (settings from ~/.config/dask/jobqueue.yaml)")
    g.add_argument("--jobs", type=int, default=1, help="batch farm: jobs to submit (default 1)")
    g.add_argument("--no-dashboard", action="store_true", help="local cluster without the dashboard")


def _cmd_book(args) -> int:
    from .build import build_book

    if args.jobs < 1:
        print(f"juno-calib: error: --jobs {args.jobs} must be at least 1", file=sys.stderr)
        return 2
    return build_book(ROOT, jobs=args.jobs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="juno-calib", description="Run and build the JUNO calibration book."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the chapters and their parameters").set_defaults(
        func=_cmd_list
    )
    run = sub.add_parser("run", help="run one chapter through papermill")
    run.add_argument("chapter", help="chapter name, e.g. 01_detector_layout")
    run.add_argument(
        "-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a chapter parameter (repeatable)",
    )
    run.add_argument("--fast", action="store_true", help="small-statistics overrides (as in tests)")
    run.add_argument("--out", default=None, help="folder of the executed notebook (_build/runs)")
    run.add_argument("--json", default=None, help="write every glued scalar to this JSON file")
    run.set_defaults(func=_cmd_run)
    sweep = sub.add_parser("sweep", help="run a chapter over a grid of parameter values (Dask)")
    sweep.add_argument("chapter", help="chapter name, e.g. 03_detector_response")
    sweep.add_argument(
        "-p", "--param", nargs=2, action="append", metavar=("NAME", "V1,V2,..."),
        help="values of a chapter parameter (repeatable; the grid is their Cartesian product)",
    )
    sweep.add_argument("--fast", action="store_true", help="small-statistics overrides first")
    sweep.add_argument("--out", default=None, help="folder of the runs and the table (_build/sweeps/CHAPTER)")
    sweep.add_argument("--force", action="store_true", help="redo runs whose outputs already match")
    _cluster_options(sweep)
    sweep.set_defaults(func=_cmd_sweep)
    sub.add_parser("studies", help="list the studies an ensemble can run").set_defaults(func=_cmd_studies)
    ens = sub.add_parser("ensemble", help="pseudo-experiments of a study (Dask)")
    ens.add_argument("study", help="study name (juno-calib studies)")
    ens.add_argument("-n", "--toys", type=int, default=100, help="toys per grid point (default 100)")
    ens.add_argument("--seed", type=int, default=20211004, help="seed of every toy's stream")
    ens.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="set a study parameter (repeatable)")
    ens.add_argument("-g", "--grid", nargs=2, action="append", metavar=("NAME", "V1,V2,..."),
                     help="run at every value of a study parameter (repeatable: Cartesian product)")
    ens.add_argument("--toys-per-task", type=int, default=1,
                     help="jobs (toy x grid point, toy by toy) per Dask task")
    ens.add_argument("--out", default=None, help="folder of the table (_build/ensembles)")
    ens.add_argument("--name", default=None, help="file stem of the table (default: the study's name)")
    _cluster_options(ens)
    ens.set_defaults(func=_cmd_ensemble)
    book = sub.add_parser(
        "book", help="clean, execute the chapters (in parallel) and build the book"
    )
    book.add_argument(
        "-j", "--jobs", type=int, default=2, help="chapters executed at a time (default 2)"
    )
    book.set_defaults(func=_cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C outside a chapter run (e.g. while importing)
        print("juno-calib: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
