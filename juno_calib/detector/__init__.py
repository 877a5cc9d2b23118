"""The detector and its light response: geometry and PMT layout, optics, per-PMT tables,
single-PE charge spectra, PE and charge sampling.
May use: core."""
