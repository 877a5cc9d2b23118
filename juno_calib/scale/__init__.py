"""Scale: pseudo-experiment ensembles of the calibration and reach studies on a Dask cluster.

``cluster`` opens a Dask client (a LocalCluster sized for the machine, an existing scheduler, or a
batch farm through dask-jobqueue); ``studies`` is the registry of studies (name -> function of
parameters and a random generator -> dict of scalars); ``ensemble`` runs N toys of a study, each on
its own spawned random stream, and collects results and failures.
May use: core, detector, particles, hardware, calibration, reach.
"""
