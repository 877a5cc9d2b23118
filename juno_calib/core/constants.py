"""Physical constants, in the internal units of :mod:`juno_calib.core.units` (one home for each).

CODATA 2018 recommended values (exact where the 2019 SI defines them); every module that needs
one imports it from here.

>>> round(HBAR_C / (MeV * 1e-12 * mm), 7)  # 197.3269804 MeV fm
197.3269804
"""

from __future__ import annotations

from .units import MeV, mm, s

#: electron mass m_e c² (CODATA 2018)
ELECTRON_MASS = 0.51099895 * MeV
#: classical electron radius r_e (CODATA 2018)
CLASSICAL_ELECTRON_RADIUS = 2.8179403262e-12 * mm
#: Avogadro constant N_A, 1/mol (exact, SI 2019)
AVOGADRO = 6.02214076e23
#: fine-structure constant α (CODATA 2018)
FINE_STRUCTURE = 1.0 / 137.035999084
#: reduced Planck constant ħ (CODATA 2018: 6.582119569e-22 MeV s; exact in the 2019 SI)
HBAR = 6.582119569e-22 * MeV * s
#: ħc (CODATA 2018: 197.3269804 MeV fm)
HBAR_C = 197.3269804 * MeV * 1e-12 * mm
#: one joule in MeV (exact: 1 eV = 1.602176634e-19 J)
JOULE = 1.0 / 1.602176634e-13 * MeV

__all__ = ["ELECTRON_MASS", "CLASSICAL_ELECTRON_RADIUS", "AVOGADRO", "FINE_STRUCTURE", "HBAR", "HBAR_C",
           "JOULE"]
