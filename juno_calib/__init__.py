"""juno-calib: simulation and analysis of the JUNO calibration strategy.

The library holds the simulation and fit core; the book's chapters (``notebooks/``) call it.
Subpackages follow the flow of the data, and a module imports only from its own layer or the
layers before it (``tests/test_layering.py``):

core -> detector -> particles -> hardware -> calibration -> reach -> scale -> book

Internal units: mm = ns = MeV = 1 (:mod:`juno_calib.core.units`).
"""

__version__ = "0.1.0"

#: The layers, in the order of the flow; a module may import from its own layer and those before it.
LAYERS = ("core", "detector", "particles", "hardware", "calibration", "reach", "scale", "book")
