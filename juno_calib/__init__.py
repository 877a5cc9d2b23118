"""juno-calib: simulation and analysis of the JUNO calibration strategy.

The library holds the simulation and fit core; the book's chapters (``notebooks/``) call it.
Internal units: mm = ns = MeV = 1 (:mod:`juno_calib.units`).
"""

__version__ = "0.1.0"
