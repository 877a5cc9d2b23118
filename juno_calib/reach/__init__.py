"""Physics reach: reactor antineutrinos, oscillations, the mass-ordering sensitivity of the response.
May use: core, detector, particles, hardware, calibration."""
