"""Load the generator's definition tables (``synth/data/*.csv``) into typed records."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("phm.synth").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _codes(value: str) -> tuple[str, ...]:
    return tuple(c for c in value.split("|") if c)


@dataclass(frozen=True)
class Condition:
    id: str
    name: str
    target_prevalence: float
    denominator_min_age: int
    onset_min_age: int
    age_b1: float
    age_b2: float
    male_or: float
    dep_or_d1_d10: float
    latent: tuple[float, float, float]  # loadings on general, cardiometabolic, mental
    icd10_hes: str
    target_source: str
    target_confidence: str


@cache
def conditions() -> tuple[Condition, ...]:
    out = []
    for r in _rows("conditions_model.csv"):
        out.append(
            Condition(
                id=r["condition"],
                name=r["name"],
                target_prevalence=float(r["target_prevalence"]),
                denominator_min_age=int(r["denominator_min_age"]),
                onset_min_age=int(r["onset_min_age"]),
                age_b1=float(r["age_b1"]),
                age_b2=float(r["age_b2"]),
                male_or=float(r["male_or"]),
                dep_or_d1_d10=float(r["dep_or_d1_d10"]),
                latent=(
                    float(r["latent_general"]),
                    float(r["latent_cardio"]),
                    float(r["latent_mental"]),
                ),
                icd10_hes=r["icd10_hes"],
                target_source=r["target_source"],
                target_confidence=r["target_confidence"],
            )
        )
    return tuple(out)


def condition_ids() -> tuple[str, ...]:
    return tuple(c.id for c in conditions())


@cache
def activity_targets() -> dict[str, float]:
    return {r["measure"]: float(r["target"]) for r in _rows("activity_rates.csv")}


@cache
def activity_sources() -> dict[str, dict[str, str]]:
    return {r["measure"]: r for r in _rows("activity_rates.csv")}


@dataclass(frozen=True)
class Group:
    """A diagnosis or procedure group that rows are drawn from."""

    id: str
    icd10: tuple[str, ...]
    opcs4: tuple[str, ...]
    condition: str
    base_weight: float
    condition_weight: float
    min_age: int
    max_age: int
    sex: str
    acsc: str
    ebi: str
    hrg_root: str
    tfc: str
    daycase_share: float
    opcs4_secondary: tuple[str, ...] = ()  # always coded second (e.g. the approach code an EBI rule needs)


def _diagnosis_groups(name: str) -> tuple[Group, ...]:
    """Groups of ``name`` (emergency_groups.csv or elective_procedures.csv): a column one
    file lacks (``acsc``, ``ebi``, ``daycase_share``) reads as empty or 0."""
    return tuple(
        Group(
            id=r["group"],
            icd10=_codes(r["icd10_hes"]),
            opcs4=_codes(r["opcs4"]),
            condition=r["condition"],
            base_weight=float(r["base_weight"]),
            condition_weight=float(r["condition_weight"] or 0.0),
            min_age=int(r["min_age"]),
            max_age=int(r["max_age"]),
            sex=r["sex"],
            acsc=r.get("acsc", ""),
            ebi=r.get("ebi", ""),
            hrg_root=r["hrg_root"],
            tfc=r["tfc"],
            daycase_share=float(r.get("daycase_share") or 0.0),
            opcs4_secondary=_codes(r.get("opcs4_secondary", "")),
        )
        for r in _rows(name)
    )


@cache
def emergency_groups() -> tuple[Group, ...]:
    return _diagnosis_groups("emergency_groups.csv")


@cache
def elective_groups() -> tuple[Group, ...]:
    return _diagnosis_groups("elective_procedures.csv")


@cache
def op_specialties() -> tuple[Group, ...]:
    return tuple(
        Group(
            id=r["tfc"],
            icd10=(),
            opcs4=(),
            condition=r["condition"],
            base_weight=float(r["base_weight"]),
            condition_weight=float(r["condition_weight"]),
            min_age=int(r["min_age"]),
            max_age=int(r["max_age"]),
            sex=r["sex"],
            acsc="",
            ebi="",
            hrg_root="",
            tfc=r["tfc"],
            daycase_share=float(r["first_share"]),
        )
        for r in _rows("op_specialties.csv")
    )


@cache
def community_services() -> list[dict[str, str]]:
    return _rows("community_services.csv")


@cache
def mental_health_teams() -> list[dict[str, str]]:
    return _rows("mental_health_teams.csv")


@cache
def drugs() -> list[dict[str, str]]:
    return _rows("drugs.csv")


@cache
def providers() -> list[dict[str, str]]:
    return _rows("providers.csv")


def group_weights(
    groups: tuple[Group, ...], age: np.ndarray, male: np.ndarray, cond: np.ndarray
) -> np.ndarray:
    """Row-by-group weight matrix: base weight, condition boost, age and sex limits."""
    ids = condition_ids()
    w = np.zeros((age.shape[0], len(groups)))
    for j, g in enumerate(groups):
        col = np.full(age.shape[0], g.base_weight)
        if g.condition:
            col = col + g.condition_weight * cond[:, ids.index(g.condition)]
        ok = (age >= g.min_age) & (age <= g.max_age)
        if g.sex == "1":
            ok &= male
        elif g.sex == "2":
            ok &= ~male
        w[:, j] = np.where(ok, col, 0.0)
    return w


def choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a weight matrix; -1 where a row has no weight."""
    total = weights.sum(axis=1)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * total
    pick = (cum <= u[:, None]).sum(axis=1)
    pick = np.minimum(pick, weights.shape[1] - 1)
    return np.where(total > 0, pick, -1)
