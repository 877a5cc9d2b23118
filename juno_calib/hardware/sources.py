"""The calibration sources of seed 000, Table 1, as data.

Every source is a frozen :class:`Source`: what is emitted at the source position per decay
(:class:`Emission` branches with their probabilities), its half-life and its assumed strength.
Nuclear data come from ``data/sources.yaml`` (ENSDF/NNDC half-lives and gamma lines, the SIM
generator branches of the neutron sources, EGAF capture data); the strengths are not public and
are stated assumptions (chapter parameters).

Conventions
-----------
- ``activity`` is the rate of *decays* (gamma and positron sources) or of *emitted neutrons*
  (Am-Be, Am-C), in internal units (1/ns). Branch probabilities are per decay/neutron and sum
  to 1; a branch with no gamma and no neutron deposits nothing visible (the beta branch of 40K,
  the EC branch of 68Ga). The capture processes ``nH`` and ``nC12`` have activity 0 and an
  infinite half-life: their rate follows from the neutron sources and
  :func:`capture_fractions`.
- The 6.049 MeV 0+ state of 16O (Am-C) is a 0+ -> 0+ transition: it decays by internal pair
  creation (E0), not by a gamma. Its branch carries ``pairs`` instead of ``gammas``; the
  leptons cross the capsule wall (:mod:`juno_calib.particles.capsule`) and what reaches the LS is
  mostly the annihilation and bremsstrahlung gammas (:func:`juno_calib.particles.events.emit_pairs`).

>>> round(get_source("Cs137").gamma_lines()[0.661657], 3)
0.851
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core import units, validate
from ..core.constants import ELECTRON_MASS
from ..core.params import CONFIGS, _quantity, check_choice, check_range, load_quantities, load_yaml
from ..particles.events import (
    PARTS,
    Deposits,
    capture_displacement,
    emit_branches,
    emit_pairs,
    empty_deposits,
    ls_radius,
    merge_deposits,
)
from ..particles.scintillator import Scintillator

NAMES = ("Cs137", "Mn54", "Co60", "K40", "Ge68", "AmBe", "AmC", "nH", "nC12")
KINDS = ("gamma", "positron", "neutron", "capture")
_PROB_TOL = 1e-9


@dataclass(frozen=True)
class Emission:
    """One decay branch, emitted at the source position.

    probability : branch fraction (per decay or per emitted neutron).
    gammas : gamma energies (internal MeV) emitted in cascade, isotropic.
    back_to_back : True for the two 0.511 MeV annihilation gammas of 68Ge.
    neutron : a neutron is emitted; its capture gamma comes from where it is captured.
    pairs : transition energies (internal MeV) of E0 (0+ -> 0+) transitions that emit an
        e+e- pair instead of a gamma (the 6.049 MeV state of 16O in Am-C); the leptons start in
        the capsule (:func:`juno_calib.particles.events.emit_pairs`).
    """

    probability: float
    gammas: tuple[float, ...] = ()
    back_to_back: bool = False
    neutron: bool = False
    pairs: tuple[float, ...] = ()

    def __post_init__(self):
        check_range("Emission.probability", self.probability, 0.0, 1.0)
        object.__setattr__(self, "gammas", tuple(float(e) for e in self.gammas))
        for e in self.gammas:
            check_range("Emission.gammas energy", e, 0.0, 20 * units.MeV, unit="MeV", lo_open=True)
        object.__setattr__(self, "pairs", tuple(float(e) for e in self.pairs))
        for e in self.pairs:
            check_range("Emission.pairs energy", e, 2 * ELECTRON_MASS, 20 * units.MeV, unit="MeV",
                        lo_open=True)
        if self.back_to_back and len(self.gammas) != 2:
            raise ValueError(
                f"Emission.back_to_back needs exactly two gammas, got gammas = {self.gammas}"
            )

    @property
    def visible_energy_sum(self) -> float:
        """Sum of the gamma energies of this branch (internal MeV)."""
        return float(sum(self.gammas))


@dataclass(frozen=True)
class Source:
    """A calibration source or capture process (see the module docstring for conventions)."""

    name: str
    label: str
    kind: str
    branches: tuple[Emission, ...]
    half_life: float
    activity: float
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        check_choice("Source.kind", self.kind, KINDS)
        if not self.branches:
            raise ValueError(f"source {self.name}: needs at least one branch")
        total = sum(b.probability for b in self.branches)
        if abs(total - 1.0) > _PROB_TOL:
            raise ValueError(
                f"source {self.name}: branch probabilities sum to {total:.12g}, must sum to 1"
            )
        if not (isinstance(self.half_life, (int, float)) and self.half_life > 0):
            raise ValueError(
                f"{self.name}.half_life = {self.half_life!r} is outside the allowed range "
                "(0, inf] (internal ns; inf for the capture processes)"
            )
        check_range(f"{self.name}.activity", self.activity, 0.0, 1e9 * units.Bq, unit="Bq")
        if self.kind == "capture" and self.activity != 0.0:
            raise ValueError(
                f"{self.name}.activity = {self.activity / units.Bq:g} Bq: a capture process has no "
                "activity of its own (its rate follows from the neutron source); use 0"
            )

    @property
    def emits_neutrons(self) -> bool:
        """True if some branch emits a neutron."""
        return any(b.neutron for b in self.branches)

    def gamma_lines(self) -> dict[float, float]:
        """Emission probability per decay of every gamma energy (internal MeV)."""
        out: dict[float, float] = {}
        for b in self.branches:
            for e in b.gammas:
                out[e] = out.get(e, 0.0) + b.probability
        return out

    def peak_energy(self) -> float:
        """Energy of the full-absorption peak used for calibration (internal MeV).

        The summed energy of the most probable branch with gammas (60Co: 2.506 MeV; 68Ge:
        1.022 MeV). Neutron sources are calibrated with their capture gamma: ask ``nH``.
        """
        with_gammas = [b for b in self.branches if b.gammas]
        if not with_gammas:
            raise ValueError(f"source {self.name} emits no gamma of its own")
        return max(with_gammas, key=lambda b: b.probability).visible_energy_sum

    def peak_fraction(self) -> float:
        """Probability per decay of the branch that makes :meth:`peak_energy`."""
        with_gammas = [b for b in self.branches if b.gammas]
        return max(b.probability for b in with_gammas) if with_gammas else 0.0

    def decay_constant(self) -> float:
        """ln 2 / half-life (internal 1/ns; 0 for the capture processes)."""
        return math.log(2.0) / self.half_life

    def activity_after(self, elapsed: float) -> float:
        """Activity after ``elapsed`` (internal ns) of decay.

        >>> s = get_source("Mn54")
        >>> round(s.activity_after(s.half_life) / s.activity, 6)
        0.5
        """
        check_range("elapsed", elapsed, 0.0, math.inf, unit="day")
        return self.activity * math.exp(-self.decay_constant() * elapsed)


def _branch(name: str, i: int, raw: Mapping) -> tuple[Emission, dict[str, str]]:
    prob = _quantity("sources", f"{name}.branches[{i}].probability", raw["probability"])
    prov = {f"branches[{i}].probability": prob.source}
    gammas: tuple[float, ...] = ()
    if "gammas" in raw:
        g = _quantity("sources", f"{name}.branches[{i}].gammas", raw["gammas"])
        gammas = tuple(g.internal)
        prov[f"branches[{i}].gammas"] = g.source
    pairs: tuple[float, ...] = ()
    if "pairs" in raw:
        q = _quantity("sources", f"{name}.branches[{i}].pairs", raw["pairs"])
        pairs = tuple(q.internal)
        prov[f"branches[{i}].pairs"] = q.source
    em = Emission(
        probability=float(prob.internal),
        gammas=gammas,
        back_to_back=bool(raw.get("back_to_back", False)),
        neutron=bool(raw.get("neutron", False)),
        pairs=pairs,
    )
    return em, prov


def _load(name: str, config: str) -> Source:
    raw = load_yaml("sources")["nuclides"][name]
    params = load_quantities("sources", config)
    half = _quantity("sources", f"{name}.half_life", raw["half_life"])
    prov = {"half_life": half.source}
    branches = []
    for i, b in enumerate(raw["branches"]):
        em, p = _branch(name, i, b)
        branches.append(em)
        prov.update(p)
    act_key = f"activity_{name}"
    if act_key in params:
        activity = float(params[act_key].internal)
        prov["activity"] = params[act_key].source
    else:
        activity = 0.0
        prov["activity"] = "capture process: no activity of its own"
    return Source(
        name=name, label=raw["label"], kind=raw["kind"], branches=tuple(branches),
        half_life=float(half.internal), activity=activity, sources=prov,
    )


def get_source(name: str, config: str = "design", **overrides) -> Source:
    """The source ``name`` (one of :data:`NAMES`) for ``config``, with field ``overrides``.

    ``overrides`` replace :class:`Source` fields (internal units), e.g.
    ``get_source("AmC", activity=50 * units.Bq)``; validation runs again.

    >>> get_source("Cs-137")
    Traceback (most recent call last):
    ...
    ValueError: unknown source 'Cs-137'; valid names: Cs137, Mn54, Co60, K40, Ge68, AmBe, AmC, nH, nC12
    """
    if name not in NAMES:
        raise ValueError(f"unknown source {name!r}; valid names: {', '.join(NAMES)}")
    check_choice("config", config, CONFIGS)
    src = _load(name, config)
    valid = {f.name for f in dataclasses.fields(Source)} - {"name"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(
            f"unknown Source field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    if overrides:
        sources = dict(src.sources)
        sources.update({k: "user override" for k in overrides})
        src = dataclasses.replace(src, sources=sources, **overrides)
    return src


def catalogue(config: str = "design") -> dict[str, Source]:
    """Every source of seed 000, Table 1, by name."""
    return {name: get_source(name, config) for name in NAMES}


def capture_fractions(config: str = "design") -> dict[str, float]:
    """Fraction of thermal-neutron captures in the LS on 1H and on 12C.

    f_H = n_H sigma_H / (n_H sigma_H + n_C sigma_C), from the LS composition and the capture
    cross-sections of ``data/scintillator.yaml`` (:attr:`Scintillator.capture_fraction_h`, the
    one place these numbers live); other nuclei are neglected.

    >>> f = capture_fractions()
    >>> round(f["nH"], 3), round(f["nC12"], 3)
    (0.994, 0.006)
    """
    f_h = Scintillator.load(config).capture_fraction_h
    return {"nH": f_h, "nC12": 1.0 - f_h}


def source_rows(cat: Mapping[str, Source]) -> list[tuple[str, str, str, str, str, str]]:
    """Rows (source, kind, emissions, half-life, activity, provenance) for the chapter table."""
    rows = []
    for s in cat.values():
        parts = []
        for b in s.branches:
            what = " + ".join(f"{e:.3f}" for e in b.gammas) + (" MeV" if b.gammas else "")
            if b.pairs:
                what = " + ".join([what] * bool(what) + [f"e⁺e⁻ pair (E0) {e:.3f} MeV" for e in b.pairs])
            if b.neutron:
                what = "n" + (f" + {what}" if what else "")
            if b.back_to_back:
                what += " (back to back)"
            parts.append(f"{b.probability:.4g}: {what or 'nothing visible'}")
        if math.isinf(s.half_life):
            half = "prompt"
        elif s.half_life > 1e3 * units.day:
            half = f"{s.half_life / units.year:.4g} yr"
        else:
            half = f"{s.half_life / units.day:.5g} d"
        act = f"{s.activity / units.Bq:g} /s" if s.activity > 0 else "from the n source"
        prov = f"{s.sources.get('half_life', '')}; {s.sources.get('activity', '')}"
        rows.append((s.label, s.kind, "; ".join(parts), half, act, prov))
    return rows


def activity_rows(config: str = "design") -> list[tuple[str, str, str]]:
    """Inputs-table rows (parameter, value, source) of the assumed source strengths."""
    rows = []
    for key, q in load_quantities("sources", config).items():
        if key.startswith("activity_"):
            rows.append((f"sources.{key}", f"{q.value:g} {q.unit}", q.source))
    return rows


def simulate_source(source, n_events: int, position, *, rng: np.random.Generator,
                    scint: Scintillator, geometry, capsule: bool = True,
                    part: str = "all") -> Deposits:
    """Deposits of ``n_events`` decays of a calibration source at ``position``.

    Parameters
    ----------
    source : Source
        E.g. ``get_source("Cs137")``.
    n_events : int
        Number of decays (or emitted neutrons for Am-Be / Am-C).
    position : (3,) array_like
        Source position, mm, inside the LS.
    rng : numpy.random.Generator
    scint : Scintillator
    geometry : juno_calib.detector.geometry.Geometry (``r_ls``)
    capsule : bool
        Apply the capsule model to gammas emitted at the source (not to capture gammas).
    part : {"all", "prompt", "capture"}
        For neutron sources: "prompt" = the gammas emitted at the source (time 0),
        "capture" = only the n-H / n-C capture gammas (time = capture time), "all" = both,
        in one :class:`Deposits` with their ``time`` (a detector separates them into two
        triggers ~200 us apart: sum per trigger, not per decay). For other sources the
        three are the same except "capture", which is empty.

    Returns
    -------
    Deposits
    """
    validate.instance("source", source, Source, hint='get_source("Cs137")')
    validate.choice("part", part, PARTS)
    n = validate.integer("n_events", n_events, 0, 10**8)
    validate.generator("rng", rng)
    validate.instance("scint", scint, Scintillator, hint='Scintillator.load("design")')
    validate.instance("capsule", capsule, (bool, np.bool_))
    r_ls = ls_radius(geometry)
    pos = validate.positions("position", position, r_max=r_ls, volume=validate.LS)
    if pos.shape != (1, 3):
        raise ValueError(f"position must be one point, shape (3,), got shape {np.shape(position)}")
    pos = pos[0]
    parts = []
    if part in ("all", "prompt"):
        dep, choice = emit_branches(source.branches, n, pos, rng=rng, scint=scint, r_ls=r_ls,
                            capsule=capsule and source.kind != "capture")
        parts.append(dep)
        parts.append(emit_pairs(source.branches, choice, pos, rng=rng, scint=scint, r_ls=r_ls,
                                capsule=capsule))
    else:
        probs = np.array([b.probability for b in source.branches], dtype=float)
        choice = rng.choice(len(source.branches), size=n, p=probs / probs.sum())
    if part in ("all", "capture"):
        has_n = np.array([b.neutron for b in source.branches])[choice]
        idx = np.flatnonzero(has_n)
        if idx.size:
            cap_pos = pos + capture_displacement(idx.size, rng=rng, scint=scint)
            cap_time = rng.exponential(scint.capture_time, idx.size)
            on_h = rng.random(idx.size) < scint.capture_fraction_h
            inside = np.linalg.norm(cap_pos, axis=1) < r_ls
            for mask, name in ((on_h, "nH"), (~on_h, "nC12")):
                sel = mask & inside
                cap_src = get_source(name)
                sub, _ = emit_branches(cap_src.branches, int(sel.sum()), cap_pos[sel], rng=rng,
                               scint=scint, r_ls=r_ls, capsule=False, time=cap_time[sel])
                parts.append(dataclasses.replace(
                    sub, event=idx[sel][sub.event],
                    escaped=np.bincount(idx[sel], weights=sub.escaped, minlength=n)))
                out = mask & ~inside
                if out.any():
                    e_out = sum(get_source(name).branches[0].gammas)
                    parts.append(dataclasses.replace(
                        empty_deposits(n), escaped=np.bincount(idx[out], minlength=n) * e_out))
    return merge_deposits(parts, n)
