"""Throughput of the detector-response samplers (``make bench``).

Prints, in one run, events per second of
  (a) the total-PE path (:meth:`DetectorResponse.sample_total`),
  (b) the per-PMT path (:meth:`DetectorResponse.sample_hits`: PE placed on PMTs, hit times,
      charges, LPMT channels and SPMT hits; one compiled pass over the events),
  (b0) the previous per-PMT path (``DetectorResponse._sample_hits_blocked``: the blocked
      rejection sampler through the lookup grid, dark hits and charges in numpy, then the
      readout), kept for this comparison only,
  (c) a plain-numpy per-PMT Poisson baseline: ``rng.poisson`` over the expectations of all
      17,612 + 25,600 PMTs per event (expectations precomputed for the fixed vertex, dark
      noise added to every PMT's mean; no charges),
  (c') the same baseline when the vertex changes from event to event, so every event also
      evaluates all PMT expectations from the per-PMT tables,
their ratios, the peak memory of each path (tracemalloc) and of the process, the cost per PE
of placing PE on PMTs vs the vertex radius (compiled kernel, with and without times, against
the pure-numpy sampler), and the events per second of the likelihood vertex reconstruction
(:mod:`juno_calib.calibration.vertex`) at 2 MeV, vertices uniform in the LS.

Workloads: 2.223 MeV of visible energy at the centre (the n-H gamma of the light-yield
calibration) and at 15 m (off-axis, where the per-PMT pattern is not isotropic), and uniformly
distributed vertices. Usage: ``python benchmarks/bench_response.py [--events N] [--seed S]
[--reco-events M] [--json FILE]``; ``--json`` writes the figures (at least
``perpmt_over_poisson_uniform`` and ``reco_events_per_s``) to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc

import numba
import numpy as np

from juno_calib.core.rng import make_rng
from juno_calib.detector import response as response_module
from juno_calib.detector.geometry import sample_uniform_ls
from juno_calib.detector.response import DetectorResponse


def _timed(fn, repeat=1):
    """Best wall time of ``repeat`` calls and the tracemalloc peak (MB) of one call."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000, help="events per workload")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default="design", choices=["design", "as_built"])
    ap.add_argument("--reco-events", type=int, default=100, help="events for the reconstruction rate")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file")
    ap.add_argument("--repeat", type=int, default=5,
                    help="interleaved repetitions of (b) and (c) for the uniform ratio (median, spread)")
    args = ap.parse_args(argv)
    rng = make_rng(args.seed)
    n = args.events

    t0 = time.perf_counter()
    resp = DetectorResponse.load(args.config)
    resp.total_map, resp.tables  # noqa: B018  (build the fast paths once)
    setup = time.perf_counter() - t0
    # compile the kernels once (numba caches them on disk) so that no workload pays for it
    resp.sample_hits(np.arange(2), np.zeros((2, 3)), np.full(2, 1.0), 2, rng=rng)
    resp._sample_hits_blocked(np.arange(2), np.zeros((2, 3)), np.full(2, 1.0), 2, rng=rng)
    figures = {"events": n, "numpy": np.__version__, "cpu_count": os.cpu_count(),
               "load_average_1min": os.getloadavg()[0], "setup_s": setup, "workloads": {}}
    n_pmt = resp.kind.size
    dark_per_pmt = resp.dark_rate * resp.pmts.readout_window
    print(f"juno-calib response benchmark: {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, {n_pmt} PMTs ({resp.n_lpmt} LPMT + {n_pmt - resp.n_lpmt} SPMT)")
    print(f"setup (layout, normalisation, total map {resp.map_shape}, per-PMT tables "
          f"{resp.table_shape}): {setup:.1f} s")

    e_vis = 2.223
    workloads = {
        "centre": np.zeros((n, 3)),
        "r = 15 m": np.tile([0.0, 0.0, 15e3], (n, 1)),
        "uniform": sample_uniform_ls(n, rng=rng),
    }
    header = (f"{'workload':<10} {'PE/event':>9} {'(a) total':>12} {'(b) per-PMT':>12} {'(b0) prev':>10} "
              f"{'(c) Poisson':>12} {'(c2) +expect':>12} {'a/c':>7} {'b/c':>6} {'b0/c':>6} {'b/c2':>6}   "
              f"peak MB a / b / c")
    print(f"\nevents/s ({n} events per workload, e_vis = {e_vis} MeV per event)")
    print(header)
    print("-" * len(header))
    for name, pos in workloads.items():
        event = np.arange(n)
        ev = np.full(n, e_vis)

        def path_a(pos=pos, event=event, ev=ev):
            return resp.sample_total(event, pos, ev, n, rng=rng)

        def path_b(pos=pos, event=event, ev=ev):
            return resp.sample_hits(event, pos, ev, n, rng=rng)

        def path_b0(pos=pos, event=event, ev=ev):
            return resp._sample_hits_blocked(event, pos, ev, n, rng=rng)

        mu_fixed = resp.expected_pe(pos[:1])[0] * e_vis + dark_per_pmt

        def path_c(mu=mu_fixed, chunk=50):
            out = 0
            for start in range(0, n, chunk):  # chunks of events: one vectorised draw each
                m = min(chunk, n - start)
                out += int(rng.poisson(np.broadcast_to(mu, (m, mu.size))).sum())
            return out

        def path_c2(pos=pos, chunk=50):
            out = 0
            for start in range(0, n, chunk):
                x = pos[start:start + chunk]
                mu = np.concatenate([resp.tables["lpmt"].expected(x), resp.tables["spmt"].expected(x)], 1)
                out += int(rng.poisson(mu * e_vis + dark_per_pmt).sum())
            return out

        ta, ma = _timed(path_a, repeat=3)
        tb, mb = _timed(path_b)
        tb0, _ = _timed(path_b0)
        tc, mc = _timed(path_c)
        tc2, _ = _timed(path_c2)
        pe = float(path_a().lpmt.mean())
        ra, rb, rb0, rc, rc2 = n / ta, n / tb, n / tb0, n / tc, n / tc2
        print(f"{name:<10} {pe:>9.0f} {ra:>12.0f} {rb:>12.0f} {rb0:>10.0f} {rc:>12.0f} {rc2:>12.0f} "
              f"{ra / rc:>7.0f} {rb / rc:>6.2f} {rb0 / rc:>6.2f} {rb / rc2:>6.2f}   "
              f"{ma:.1f} / {mb:.1f} / {mc:.1f}")
        figures["workloads"][name] = {"pe_per_event": pe, "total": ra, "perpmt": rb, "perpmt_previous": rb0,
                                      "poisson": rc, "poisson_expect": rc2, "perpmt_over_poisson": rb / rc,
                                      "perpmt_previous_over_poisson": rb0 / rc,
                                      "perpmt_over_poisson_expect": rb / rc2}
    # the ratio: (b)/(c), vertices uniform in the LS, measured `--repeat` times with (b) and
    # (c) interleaved (the machine is shared: the median and the spread of the ratio, wall clock and
    # CPU time; CPU time counts every thread of the compiled kernel), and (b) on one thread
    pos = workloads["uniform"]
    mu_fixed = resp.expected_pe(pos[:1])[0] * e_vis + dark_per_pmt

    def run_b(pos=pos):
        return resp.sample_hits(np.arange(n), pos, np.full(n, e_vis), n, rng=rng)

    def run_b0(pos=pos):
        return resp._sample_hits_blocked(np.arange(n), pos, np.full(n, e_vis), n, rng=rng)

    def run_c(mu=mu_fixed, chunk=50):
        for start in range(0, n, chunk):
            rng.poisson(np.broadcast_to(mu, (min(chunk, n - start), mu.size))).sum()

    def clocks(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w0, time.process_time() - c0

    threads = numba.get_num_threads()
    hit_threads = response_module.HIT_THREADS
    reps = {"wall": [], "cpu": [], "wall_2threads": [], "previous_wall": [], "previous_cpu": [],
            "previous_wall_1thread": [], "speedup_wall": [], "speedup_cpu": []}
    pe_uniform = float(run_b().npe.sum()) / n
    cpu_b, cpu_b0 = [], []
    for _ in range(args.repeat):
        (wb, cb), (wc, cc), (wb0, cb0) = clocks(run_b), clocks(run_c), clocks(run_b0)
        numba.set_num_threads(1)
        wb01, _ = clocks(run_b0)
        numba.set_num_threads(threads)
        response_module.HIT_THREADS = threads
        wb2, _ = clocks(run_b)
        response_module.HIT_THREADS = hit_threads
        reps["wall"].append(wc / wb)
        reps["cpu"].append(cc / cb)
        reps["wall_2threads"].append(wc / wb2)
        reps["previous_wall_1thread"].append(wc / wb01)
        reps["previous_wall"].append(wc / wb0)
        reps["previous_cpu"].append(cc / cb0)
        reps["speedup_wall"].append(wb0 / wb)
        reps["speedup_cpu"].append(cb0 / cb)
        cpu_b.append(cb)
        cpu_b0.append(cb0)
    print(f"\n(b)/(c), vertices uniform in the LS, {args.repeat} interleaved repetitions of {n} events "
          f"((b) on {min(hit_threads, threads)} thread(s), (b0) on {threads}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    labels = {"wall": "b/c wall", "cpu": "b/c cpu", "wall_2threads": f"b/c wall, {threads} thr",
              "previous_wall": f"b0/c wall, {threads} thr", "previous_cpu": "b0/c cpu",
              "previous_wall_1thread": "b0/c wall, 1 thr", "speedup_wall": "b/b0 wall",
              "speedup_cpu": "b/b0 cpu"}
    for key, vals in reps.items():
        print(f"  {labels[key]:<19} median {np.median(vals):.2f}  min {np.min(vals):.2f}  "
              f"max {np.max(vals):.2f}")
    ns_b = np.median(cpu_b) / n / pe_uniform * 1e9
    ns_b0 = np.median(cpu_b0) / n / pe_uniform * 1e9
    print(f"  CPU per PE (signal + dark, {pe_uniform:.0f} per event): (b) {ns_b:.0f} ns, (b0) {ns_b0:.0f} ns")
    figures["perpmt_over_poisson_uniform"] = float(np.median(reps["wall"]))
    figures["perpmt_over_poisson_uniform_cpu"] = float(np.median(reps["cpu"]))
    figures["perpmt_previous_over_poisson_uniform"] = float(np.median(reps["previous_wall"]))
    figures["perpmt_speedup_vs_previous"] = float(np.median(reps["speedup_wall"]))
    figures["perpmt_cpu_ns_per_pe"] = float(ns_b)
    figures["perpmt_previous_cpu_ns_per_pe"] = float(ns_b0)
    figures["perpmt_over_poisson_uniform_repetitions"] = reps
    figures["numba_threads"] = threads
    figures["hit_threads"] = min(hit_threads, threads)
    m_r = max(n // 5, 50)
    radii_hits = (0.0, 12.0, 15.0, 16.0, 17.0, 17.6)
    print(f"\nwhole per-PMT path, CPU ns per PE (signal + dark) vs vertex radius ({m_r} events of "
          f"{e_vis} MeV at r, one thread, median of 3)")
    print(f"{'path':<16}" + "".join(f"{f'r = {r:g} m':>12}" for r in radii_hits))
    numba.set_num_threads(1)
    figures["perpmt_cpu_ns_per_pe_vs_r"] = {}
    for label, fn in (("(b) fused", resp.sample_hits), ("(b0) previous", resp._sample_hits_blocked)):
        cost = []
        for r in radii_hits:
            x = np.tile(np.array([0.48, -0.6, 0.64]) * r * 1e3, (m_r, 1))
            pe = float(fn(np.arange(m_r), x, np.full(m_r, e_vis), m_r, rng=rng).npe.sum())
            ts = [clocks(lambda x=x, fn=fn: fn(np.arange(m_r), x, np.full(m_r, e_vis), m_r, rng=rng))[1]
                  for _ in range(3)]
            cost.append(np.median(ts) / pe * 1e9)
        figures["perpmt_cpu_ns_per_pe_vs_r"][label] = dict(zip(map(str, radii_hits), cost, strict=True))
        print(f"{label:<16}" + "".join(f"{c:>12.0f}" for c in cost))
    numba.set_num_threads(threads)
    n_pe = 200_000
    print(f"\nPMT placement of the per-PMT path: ns per PE ({n_pe} PE from one vertex at radius r);"
          " numpy: the pure-numpy sampler, kernel: the compiled one, +time: with the hit time")
    radii = (0.0, 12.0, 15.0, 16.0, 17.0, 17.6)
    print(f"{'system':<16}" + "".join(f"{f'r = {r:g} m':>12}" for r in radii))
    figures["placement_ns_per_pe"] = {}
    for system, table in resp.tables.items():
        times = resp._time_arrays[system]
        engines = {
            "numpy": lambda x, table=table: table.sample_pmts(x, np.zeros(n_pe, int), rng=rng),
            "kernel": lambda x, table=table: table.sample_pe(x, np.zeros(n_pe, int), rng=rng),
            "kernel+time": lambda x, table=table, tm=times: table.sample_pe(x, np.zeros(n_pe, int), rng=rng,
                                                                          times=tm),
        }
        for engine, fn in engines.items():
            cost = []
            for r in radii:
                x = np.array([[0.48, -0.6, 0.64]]) * r * 1e3
                t, _ = _timed(lambda x=x, fn=fn: fn(x))
                cost.append(t / n_pe * 1e9)
            key = f"{system} {engine}"
            figures["placement_ns_per_pe"][key] = dict(zip(map(str, radii), cost, strict=True))
            print(f"{system + ' ' + engine:<16}" + "".join(f"{c:>12.0f}" for c in cost))
    place = figures["placement_ns_per_pe"]
    speedup = [place[f"{s} numpy"][str(r)] / place[f"{s} kernel"][str(r)] for s in resp.tables for r in radii]
    figures["kernel_speedup_placement_median"] = float(np.median(speedup))
    print(f"compiled kernel vs numpy sampler (placement only): median speed-up {np.median(speedup):.2f}x")

    # the likelihood reconstruction at 2 MeV, vertices uniform in the LS (one process, one core)
    from juno_calib.calibration.vertex import VertexReco

    t0 = time.perf_counter()
    reco = VertexReco.calibrate(resp, rng=rng, n_time_events=100, n_radii=18, n_per_radius=8,
                                n_fit_per_radius=3)
    calib = time.perf_counter() - t0
    m = args.reco_events
    x = sample_uniform_ls(m, rng=rng)
    hits = resp.sample_hits(np.arange(m), x, np.full(m, 2.0), m, rng=rng)
    reco.reconstruct(hits.__class__(n_events=1, **{k: getattr(hits, k)[hits.event == 0] for k in
                                                  ("event", "pmt", "npe", "charge", "time")},
                                    n_pmt_lpmt=hits.n_pmt_lpmt))  # compile
    cpu0, t0 = time.process_time(), time.perf_counter()
    v = reco.reconstruct(hits)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    figures.update(reco_events_per_s=m / wall, reco_events_per_cpu_s=m / cpu, reco_calibration_s=calib,
                   reco_calls_per_event=float(np.mean(v.n_calls)))
    print(f"\nlikelihood reconstruction, 2 MeV, {m} events uniform in the LS: {m / wall:.1f} events/s "
          f"(wall), {m / cpu:.1f} events per CPU-second, {np.mean(v.n_calls):.0f} likelihood calls/event; "
          f"calibration {calib:.1f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak resident memory: {rss:.0f} MB")
    figures["peak_rss_mb"] = rss
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
