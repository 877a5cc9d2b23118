"""Units, parameter loading and validation, RNG discipline, and the environment mirror."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from juno_calib.core import params, units
from juno_calib.core.params import ParamSet, check_choice, check_range
from juno_calib.core.rng import make_rng, spawn

ROOT = Path(__file__).resolve().parent.parent


def test_units_round_trip_and_compound():
    assert units.to_internal(17.7, "m") == pytest.approx(17_700.0)
    assert units.from_internal(1785.0 / units.MeV, "PE/MeV") == pytest.approx(1785.0)
    # kB = 15.2e-3 g cm^-2 MeV^-1 = 0.152 g mm^-2 MeV^-1 ... in internal mm: 15.2e-3 / 100
    assert units.to_internal(15.2e-3, "g/cm2/MeV") == pytest.approx(15.2e-5)
    assert units.to_internal(1.0, "kHz") * units.s == pytest.approx(1e3)
    assert units.year / units.day == pytest.approx(365.25)


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        units.unit_factor("furlong/s")


def test_every_data_entry_has_value_unit_and_source():
    for path in (ROOT / "data").rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text()) or {}
        for section, entries in doc.items():
            if section in ("description", "meta") or not isinstance(entries, dict):
                continue
            for key, entry in entries.items():
                if isinstance(entry, dict) and "value" in entry:
                    assert entry.get("source"), f"{path.name}: {section}.{key} has no source"
                    units.unit_factor(str(entry.get("unit", "")))  # parses


def test_configs_differ_only_where_documented():
    design = params.load_quantities("pmts", "design")
    built = params.load_quantities("pmts", "as_built")
    assert design["light_yield_center"].internal == pytest.approx(1345.0)
    assert built["light_yield_center"].internal == pytest.approx(1785.0)
    assert "PERF25" in built["light_yield_center"].source
    optics = params.load_quantities("optics", "as_built")
    att = 1.0 / (1.0 / optics["rayleigh_length"].internal + 1.0 / optics["absorption_length"].internal)
    assert att / units.m == pytest.approx(20.6, abs=0.05), "as_built attenuation must be PERF25's 20.6 m"
    design_opt = params.load_quantities("optics", "design")
    att = 1.0 / (1.0 / design_opt["rayleigh_length"].internal + 1.0 / design_opt["absorption_length"].internal)
    assert att / units.m == pytest.approx(20.0, abs=0.05), "design attenuation is 1/(1/27+1/77) = 20 m"


def test_unknown_config_is_rejected():
    with pytest.raises(ValueError, match=r"config = 'nominal' is not allowed; choose one of 'design', 'as_built'"):
        params.load_quantities("pmts", "nominal")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Demo(ParamSet):
    _section = "pmts"
    readout_window: float
    light_yield_center: float

    def __post_init__(self):
        check_range("readout_window", self.readout_window, 0, 10 * units.us, unit="ns", lo_open=True)


def test_paramset_load_replace_and_validation():
    demo = _Demo.load("as_built")
    assert demo.light_yield_center == pytest.approx(1785.0)
    assert "PERF25" in demo.source("light_yield_center")
    rows = dict((p, v) for p, v, _ in demo.inputs_rows())
    assert rows["pmts.readout_window"] == "300 ns"
    with pytest.raises(ValueError, match=r"readout_window = -5 ns is outside the allowed range \(0, 10000\] ns"):
        dataclasses.replace(demo, readout_window=-5.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        _Demo.load("design", not_a_field=1.0)


def test_check_helpers_reject_nan_and_name_the_parameter():
    with pytest.raises(ValueError, match="activity = nan"):
        check_range("activity", float("nan"), 0)
    with pytest.raises(TypeError, match="activity must be a number"):
        check_range("activity", "lots", 0)
    with pytest.raises(ValueError, match="system = 'XYZ'"):
        check_choice("system", "XYZ", ["ACU", "CLS"])


def test_rng_reproducible_and_streams_independent():
    a = make_rng(7).normal(size=5)
    b = make_rng(7).normal(size=5)
    np.testing.assert_array_equal(a, b)
    s1, s2 = spawn(make_rng(7), 2)
    assert not np.allclose(s1.normal(size=5), s2.normal(size=5))
    with pytest.raises(ValueError, match="seed = -1"):
        make_rng(-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        make_rng(1.5)


def _names(reqs):
    return {re.split(r"[<>=!\[ ]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in reqs}


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    pip = [d for entry in env["dependencies"] if isinstance(entry, dict) for d in entry.get("pip", [])]
    listed = _names(conda + [d for d in pip if not d.startswith("-")])
    assert listed == wanted, "environment.yml must list the same packages and pins as pyproject.toml"
    assert "jupyter-book>=1.0.4,<2" in wanted.values(), "Jupyter Book must stay pinned to version 1"


def test_yaml_exponent_without_sign_is_read_as_a_number_and_text_with_unit_is_refused():
    # PyYAML (YAML 1.1) reads 1.248e9 as the string "1.248e9"
    q = params._quantity("demo", "half_life", yaml.safe_load("{value: 1.248e9, unit: yr, source: x}"))
    assert q.internal == pytest.approx(1.248e9 * units.year)
    with pytest.raises(ValueError, match="entry 'half_life' has unit 'yr' but a non-numeric value 'long'"):
        params._quantity("demo", "half_life", {"value": "long", "unit": "yr", "source": "x"})


#: a source that is not a reference says what it is instead
NON_BIBLIOGRAPHIC = ("assumption", "choice", "numerical choice", "approx", "remainder", "standard",
                     "derived", "not a decay", "model tolerance")


def _source_keys() -> set[str]:
    table = (ROOT / "data" / "README.md").read_text().split("## Source keys", 1)[1]
    keys = {m.strip() for m in re.findall(r"^\| ([^|]+?) \| [^|]+\|$", table, re.M)} - {"key", "---"}
    return keys | {k.split(" (")[0] for k in keys}  # "ENSDF (NNDC NuDat 3)" is cited as "ENSDF"


def test_every_data_source_is_a_key_of_the_readme_or_says_what_it_is():
    keys, bad = _source_keys(), []

    def walk(obj, where):
        if isinstance(obj, dict):
            src = obj.get("source")
            if "value" in obj and isinstance(src, str) and not (
                    any(k in src for k in keys) or src.lower().startswith(NON_BIBLIOGRAPHIC)):
                bad.append(f"{where}: {src}")
            for k, v in obj.items():
                walk(v, f"{where}.{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{where}[{i}]")

    for path in sorted((ROOT / "data").rglob("*.yaml")):
        walk(yaml.safe_load(path.read_text()), path.name)
    assert not bad, "sources without a data/README.md key:\n" + "\n".join(bad)


def test_tuple_fields_are_shown_element_by_element_in_the_file_unit():
    """An inputs-table value of a tuple field (e.g. the 12B branch energies) converts each element."""
    from juno_calib.core.params import _fmt

    assert _fmt((1.0 * units.MeV, 4.44 * units.MeV), "MeV") == "[1, 4.44] MeV"
    assert _fmt((2.0 * units.m, 0.5 * units.m), "cm") == "[200, 50] cm"
    assert _fmt((0.5, 0.25), "") == "[0.5, 0.25]"
