"""Throughput of the detector-response samplers (``make bench``).

Prints, in one run, events per second of
  (a) the total-PE path (:meth:`DetectorResponse.sample_total`),
  (b) the per-PMT path (:meth:`DetectorResponse.sample_hits`: PE placed on PMTs, charges),
  (c) a plain-numpy per-PMT Poisson baseline: ``rng.poisson`` over the expectations of all
      17,612 + 25,600 PMTs per event (expectations precomputed for the fixed vertex, dark
      noise added to every PMT's mean; no charges),
  (c') the same baseline when the vertex changes from event to event, so every event also
      evaluates all PMT expectations from the per-PMT tables,
their ratios, the peak memory of each path (tracemalloc) and of the process, and the cost per PE
of placing PE on PMTs vs the vertex radius.

Workloads: 2.223 MeV of visible energy at the centre (the n-H gamma of the light-yield
calibration) and at 15 m (off-axis, where the per-PMT pattern is not isotropic), and uniformly
distributed vertices. Usage: ``python benchmarks/bench_response.py [--events N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import tracemalloc

import numpy as np

from juno_calib.core.rng import make_rng
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
    args = ap.parse_args(argv)
    rng = make_rng(args.seed)
    n = args.events

    t0 = time.perf_counter()
    resp = DetectorResponse.load(args.config)
    resp.total_map, resp.tables  # noqa: B018  (build the fast paths once)
    setup = time.perf_counter() - t0
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
    header = (f"{'workload':<10} {'PE/event':>9} {'(a) total':>12} {'(b) per-PMT':>12} "
              f"{'(c) Poisson':>12} {'(c2) +expect':>12} {'a/c':>7} {'b/c':>6} {'b/c2':>6}   "
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
        tc, mc = _timed(path_c)
        tc2, _ = _timed(path_c2)
        pe = float(path_a().lpmt.mean())
        ra, rb, rc, rc2 = n / ta, n / tb, n / tc, n / tc2
        print(f"{name:<10} {pe:>9.0f} {ra:>12.0f} {rb:>12.0f} {rc:>12.0f} {rc2:>12.0f} "
              f"{ra / rc:>7.0f} {rb / rc:>6.2f} {rb / rc2:>6.2f}   {ma:.1f} / {mb:.1f} / {mc:.1f}")
    n_pe = 200_000
    print(f"\nPMT placement of the per-PMT path: ns per PE ({n_pe} PE from one vertex at radius r)")
    radii = (0.0, 12.0, 15.0, 16.0, 17.0, 17.6)
    print(f"{'system':<8}" + "".join(f"{f'r = {r:g} m':>12}" for r in radii))
    for system, table in resp.tables.items():
        cost = []
        for r in radii:
            x = np.array([[0.48, -0.6, 0.64]]) * r * 1e3
            t, _ = _timed(lambda x=x, table=table: table.sample_pmts(x, np.zeros(n_pe, int), rng=rng))
            cost.append(t / n_pe * 1e9)
        print(f"{system:<8}" + "".join(f"{c:>12.0f}" for c in cost))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak resident memory: {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
