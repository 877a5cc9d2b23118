"""Particles and what they deposit: the scintillator's light model, gamma cascade, beta spectra,
visible energy, event generators. May use: core, detector."""
