"""The detector and its light response: geometry and PMT layout, optics, per-PMT tables, PE sampling.
May use: core."""
