"""Benchmark of the Dask ensembles (juno_calib.scale): wall time of a fixed ensemble with 1 and 2
workers, parallel efficiency, the per-task cost of Dask, and what they imply for a farm.

    python benchmarks/bench_ensemble.py [--toys 64] [--study calibration_peak] [--n-events 2000]

Workers are local single-threaded processes (as `juno-calib ensemble` starts them). Each worker
receives the detector response built once in this process (timed apart: build, and sending it
to the workers); then the same toys (same seed) run serially in this process, and on 1 and 2
workers. Dask's per-task cost is measured with empty
tasks. Results of the 1- and 2-worker ensembles are checked to be identical.
"""

from __future__ import annotations

import argparse
import math
import os
import time


def _noop(i):
    return i


def _timed_ensemble(study, n_toys, seed, params, n_workers, toys_per_task=1):
    from juno_calib.scale.cluster import open_client
    from juno_calib.scale.ensemble import run_ensemble, warm_up

    t0 = time.perf_counter()
    with open_client(n_workers=n_workers, dashboard=False, verbose=False) as client:
        t_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_up(client, study, params)
        t_setup = time.perf_counter() - t0
        cpu0 = client.run(time.process_time)
        t0 = time.perf_counter()
        res = run_ensemble(study, n_toys, seed=seed, params=params, client=client, progress=False,
                           toys_per_task=toys_per_task, setup=False)
        t_run = time.perf_counter() - t0
        cpu1 = client.run(time.process_time)
        cpu = sum(cpu1[w] - cpu0[w] for w in cpu0)
        t0 = time.perf_counter()
        n_empty = 2000
        futures = client.map(_noop, range(n_empty), pure=False)
        client.gather(futures)
        t_empty = (time.perf_counter() - t0) / n_empty
    return {"start": t_start, "setup": t_setup, "run": t_run, "cpu": cpu, "empty_task": t_empty,
            "result": res}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="calibration_peak")
    parser.add_argument("--toys", type=int, default=64)
    parser.add_argument("--n-events", type=int, default=2000, help="events per toy (the study's n_events)")
    parser.add_argument("--seed", type=int, default=20211004)
    args = parser.parse_args(argv)

    from juno_calib.scale.cluster import machine_cores
    from juno_calib.scale.ensemble import run_ensemble
    from juno_calib.scale.studies import detector, get_study

    study = get_study(args.study)
    params = {"n_events": args.n_events}
    t0 = time.perf_counter()
    detector(study.resolve(params)["config"])
    t_setup_serial = time.perf_counter() - t0
    load_start = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    serial = run_ensemble(study, args.toys, seed=args.seed, params=params, progress=False)
    t_serial, cpu_serial = time.perf_counter() - t0, time.process_time() - c0
    runs = {w: _timed_ensemble(study, args.toys, args.seed, params, w) for w in (1, 2)}
    grouped = _timed_ensemble(study, args.toys, args.seed, params, 2, toys_per_task=8)
    same = serial.rows == runs[1]["result"].rows == runs[2]["result"].rows == grouped["result"].rows

    t_toy = t_serial / args.toys
    eff = runs[1]["run"] / (2 * runs[2]["run"])
    overhead = (runs[1]["run"] - t_serial) / args.toys
    print(f"machine: {machine_cores()} core(s); study {study.name} {params}; {args.toys} toys, "
          f"seed {args.seed}")
    print(f"build of the detector response (total map included), once, in this process: "
          f"{t_setup_serial:.1f} s")
    print(f"serial, no Dask: {t_serial:.2f} s wall = {1e3 * t_toy:.1f} ms per toy; "
          f"CPU {1e3 * cpu_serial / args.toys:.1f} ms per toy")
    print(f"{'workers':>8} {'start [s]':>10} {'send [s]':>9} {'toys [s]':>9} {'speed-up':>9} "
          f"{'worker CPU/toy [ms]':>20} {'empty task [ms]':>16}")
    for w, r in [*runs.items(), ("2, x8", grouped)]:
        print(f"{w:>8} {r['start']:>10.1f} {r['setup']:>9.1f} {r['run']:>9.2f} {t_serial / r['run']:>9.2f} "
              f"{1e3 * r['cpu'] / args.toys:>20.1f} {1e3 * r['empty_task']:>16.2f}")
    print("(2, x8: 8 toys per task)")
    print(f"load average (1 min) at start and end: {load_start:.1f}, {os.getloadavg()[0]:.1f} "
          f"on {machine_cores()} core(s)")
    print(f"parallel efficiency 1 -> 2 workers: T1 / (2 T2) = {eff:.2f}")
    print(f"Dask cost per toy (1 worker - serial) / toys: {1e3 * overhead:.1f} ms; "
          f"empty-task throughput: {1e3 * runs[1]['empty_task']:.2f} ms per task")
    print(f"results identical (serial, 1 worker, 2 workers, 8 toys per task): {same}")
    # a farm, on paper: 1,000 toys on 100 single-threaded workers
    n, cores = 1000, 100
    setup = t_setup_serial + runs[2]["setup"]
    cpu_toy = cpu_serial / args.toys  # the toy's cost without other jobs on the cores
    t_farm = setup + math.ceil(n / cores) * cpu_toy + n * runs[1]["empty_task"]
    print(f"on paper, {n} toys on {cores} cores: build + send {setup:.0f} s + {math.ceil(n / cores)} toys x "
          f"{cpu_toy:.2f} s (CPU per toy) + {n} x {1e3 * runs[1]['empty_task']:.1f} ms of scheduler "
          f"= {t_farm:.0f} s (one core: {n * cpu_toy:.0f} s)")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
