"""Particles and what they deposit: the scintillator's light model, gamma cascade, beta spectra,
visible energy, electron light fluctuations, positron annihilation in flight, leptons crossing a
source capsule, neutron slowing-down, event generators. May use: core, detector."""
