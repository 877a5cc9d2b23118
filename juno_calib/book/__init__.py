"""The book's machinery: command line, chapter registry, papermill runner, plotting helpers.
May use: every layer below (core, detector, particles, hardware, calibration, reach, scale)."""
