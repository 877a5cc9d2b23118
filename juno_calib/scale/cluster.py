"""Where the toys run: a Dask client on a local cluster, an existing scheduler or a batch farm.

Three ways, one :func:`open_client`:

* nothing given: a :class:`distributed.LocalCluster` sized for this machine (one single-threaded
  worker process per core the process may use; numpy-bound toys hold the GIL, so processes beat
  threads);
* ``scheduler="tcp://host:8786"`` or the environment variable ``JUNO_CALIB_SCHEDULER``: connect to a
  cluster someone already started (``dask scheduler`` + ``dask worker``, or a farm below);
* ``farm="slurm"`` / ``"htcondor"`` / ``"pbs"`` / ``"sge"`` / ``"lsf"``: a dask-jobqueue cluster whose
  workers are batch jobs. Queue, cores, memory and walltime come from dask's own configuration
  (``~/.config/dask/jobqueue.yaml``; template ``juno_calib/scale/jobqueue.yaml``), ``farm_jobs``
  jobs are submitted.

The Dask dashboard address is printed when ``verbose`` (needs bokeh, a dependency).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator

from ..core.params import check_choice, check_range

#: Environment variable naming an existing scheduler (``tcp://host:port``).
SCHEDULER_ENV = "JUNO_CALIB_SCHEDULER"

#: Batch systems supported through dask-jobqueue, by the name of their cluster class.
FARMS = {"slurm": "SLURMCluster", "htcondor": "HTCondorCluster", "pbs": "PBSCluster",
         "sge": "SGECluster", "lsf": "LSFCluster"}


def check_address(name: str, address) -> str:
    """A scheduler address ``[protocol://]host[:port]`` (e.g. ``tcp://10.0.0.5:8786``), else a
    ``ValueError`` naming ``name``: a typo is caught here, not by a connection timeout."""
    host = address.split("://", 1)[-1] if isinstance(address, str) else ""
    proto = address[: -len(host) - 3] if isinstance(address, str) and "://" in address else "tcp"
    if (not isinstance(address, str) or not re.fullmatch(r"[a-z][a-z0-9+.-]*", proto)
            or not re.fullmatch(r"[^\s/:][^\s]*", host)):
        raise ValueError(f"{name} = {address!r} is not a scheduler address: use protocol://host:port, "
                         "e.g. tcp://10.0.0.5:8786 (what `dask scheduler` prints)")
    return address


def machine_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def local_cluster(n_workers: int | None = None, threads_per_worker: int = 1, *,
                  processes: bool = True, dashboard: bool = True):
    """A :class:`distributed.LocalCluster`: ``n_workers`` (default: :func:`machine_cores`) workers of
    ``threads_per_worker`` threads, in separate processes unless ``processes=False`` (threads of this
    process: cheaper to start, for tests and small ensembles). The dashboard on port 8787 (the next
    free port if taken) unless ``dashboard=False``."""
    from distributed import LocalCluster

    n_workers = machine_cores() if n_workers is None else n_workers
    check_range("n_workers", n_workers, 1, 1024)
    check_range("threads_per_worker", threads_per_worker, 1, 256)
    return LocalCluster(n_workers=int(n_workers), threads_per_worker=int(threads_per_worker),
                        processes=processes, silence_logs=50,  # CRITICAL: no shutdown-race noise
                        # without the dashboard the scheduler's HTTP server still starts: a free port
                        dashboard_address=":8787" if dashboard else ":0")


def farm_cluster(farm: str, jobs: int = 1, **overrides):
    """A dask-jobqueue cluster on batch system ``farm`` (see :data:`FARMS`) with ``jobs`` jobs
    requested. Job settings (queue, cores, memory, walltime, ...) come from dask's configuration
    (``jobqueue.<farm>`` in ``~/.config/dask/jobqueue.yaml``) and may be overridden by keyword,
    e.g. ``farm_cluster("slurm", 25, queue="short", cores=4, memory="8GB", walltime="02:00:00")``."""
    check_choice("farm", farm, tuple(FARMS))
    check_range("jobs", jobs, 0, 100_000)
    import dask_jobqueue

    cluster = getattr(dask_jobqueue, FARMS[farm])(**overrides)
    if jobs:
        cluster.scale(jobs=int(jobs))
    return cluster


@contextlib.contextmanager
def open_client(scheduler: str | None = None, *, n_workers: int | None = None,
                threads_per_worker: int = 1, processes: bool = True, dashboard: bool = True,
                farm: str | None = None, farm_jobs: int = 1, verbose: bool = True,
                stream=None) -> Iterator:
    """A :class:`distributed.Client`, closed (with any cluster it started) on exit.

    Precedence: ``scheduler`` (an address), then ``farm``, then the environment variable
    ``JUNO_CALIB_SCHEDULER``, then a new local cluster (:func:`local_cluster`). With ``verbose``
    the cluster and its dashboard address are printed to ``stream`` (stderr).
    """
    from distributed import Client

    stream = sys.stderr if stream is None else stream
    if scheduler is not None:
        check_address("scheduler", scheduler)
    if farm is not None:
        check_choice("farm", farm, tuple(FARMS))
    address = scheduler or (None if farm else os.environ.get(SCHEDULER_ENV) or None)
    if address and not scheduler:
        check_address(SCHEDULER_ENV, address)
    cluster = None
    if address:
        client = Client(address)
        where = f"scheduler {address}"
    else:
        cluster = (farm_cluster(farm, farm_jobs) if farm else
                   local_cluster(n_workers, threads_per_worker, processes=processes, dashboard=dashboard))
        client = Client(cluster)
        where = (f"{farm} farm, {farm_jobs} job(s) requested" if farm else
                 f"local cluster, {len(cluster.workers)} worker(s) x {threads_per_worker} thread(s)"
                 f"{'' if processes else ' (threads of this process)'}")
    try:
        if verbose:
            print(f"juno-calib: dask {where}", file=stream)
            if client.dashboard_link and (address or farm or dashboard):
                print(f"juno-calib: dashboard {client.dashboard_link}", file=stream)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
