"""The calibration hardware: sources and their events, deployment systems (ACU, CLS, GT, ROV),
the programme (Table 2) and its time budget. May use: core, detector, particles."""
