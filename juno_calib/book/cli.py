"""Command-line entry point ``juno-calib``.

::

    juno-calib list
    juno-calib run CHAPTER [-p NAME VALUE]... [--fast] [--out DIR] [--json FILE]
    juno-calib book [--jobs N]
"""

from __future__ import annotations

import argparse
import sys
import time

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
