"""The calibration analyses: peak and resolution fits, simulated peak statistics, and the analyses to come.
May use: core, detector, particles, hardware."""
