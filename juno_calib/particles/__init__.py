"""Particles and what they deposit: the scintillator's light model, gamma cascade, beta spectra,
visible energy, electron light fluctuations, event generators. May use: core, detector."""
