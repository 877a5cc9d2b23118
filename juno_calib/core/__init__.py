"""Foundations: the internal unit system, parameters loaded from data/ with their sources, random numbers.
May use: nothing else of juno_calib (only the standard library, numpy and PyYAML)."""
