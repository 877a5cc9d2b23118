"""The calibration programme of seed 000, Table 2, as data: programmes, sources, systems, points, minutes.

One home for the table that both the deployment plans (:mod:`juno_calib.hardware.deployment`)
and the time budget (:mod:`juno_calib.hardware.budget`) read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import units
from ..core.params import check_choice, load_yaml

PROGRAMMES = ("comprehensive", "monthly", "weekly")


@dataclass(frozen=True)
class Table2Row:
    """One row of seed 000, Table 2 (DAQ time in internal ns)."""

    programme: str
    source: str
    system: str
    points: int
    placement: str
    daq_time: float
    provenance: str


def load_table2() -> tuple[Table2Row, ...]:
    """Seed 000, Table 2, from ``data/calibration_programme.yaml``."""
    rows = []
    for raw in load_yaml("calibration_programme")["table2"]:
        q = raw["daq_time"]
        rows.append(Table2Row(raw["programme"], raw["source"], raw["system"], int(raw["points"]),
                              raw["placement"], units.to_internal(float(q["value"]), q["unit"]), q["source"]))
    return tuple(rows)


def table2_minutes(programme: str) -> float:
    """Total DAQ minutes of ``programme`` as printed in Table 2."""
    check_choice("programme", programme, PROGRAMMES)
    return sum(r.daq_time for r in load_table2() if r.programme == programme) / units.minute
