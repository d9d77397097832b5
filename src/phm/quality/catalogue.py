"""The rule catalogue (``rules.csv``) and the DQMI-style data items (``dqmi_items.csv``)."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, field_validator

from phm.schema import dataset_names

CATEGORIES = ("conformance", "completeness", "plausibility")
CHECKS = ("quarantine", "nhs_status", "unlinked", "column_null", "refset", "equals", "codes", "pattern",
          "future_date", "sentinel", "date_before", "after_death", "age_range", "practice_default",
          "exact_duplicate", "near_duplicate")


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    stage: str
    category: str
    datasets: tuple[str, ...]
    check: str
    params: str
    threshold: float
    default_value: str
    description: str
    source: str

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}")
        return v

    @field_validator("check")
    @classmethod
    def _check(cls, v: str) -> str:
        if v not in CHECKS:
            raise ValueError(f"unknown check {v!r}")
        return v

    def applies_to(self, dataset: str) -> bool:
        return dataset in self.datasets


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("phm.quality").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def rules() -> tuple[Rule, ...]:
    out = []
    for row in _read("rules.csv"):
        ds = row.pop("datasets")
        row["datasets"] = tuple(dataset_names()) if ds == "*" else tuple(d.strip() for d in ds.split(","))
        out.append(Rule.model_validate(row))
    return tuple(out)


def rule(rule_id: str) -> Rule:
    return next(r for r in rules() if r.rule_id == rule_id)


@cache
def dqmi_items() -> tuple[tuple[str, str, tuple[str, ...], float], ...]:
    """(dataset, column, default values, allowed default rate) for the DQMI-style score."""
    out = []
    for row in _read("dqmi_items.csv"):
        defaults = tuple(v for v in row["default_values"].split("|") if v)
        out.append((row["dataset"], row["column"], defaults, float(row["allowed_default_rate"] or 0)))
    return tuple(out)


def rules_markdown() -> str:
    """The rule table of docs/data-quality.md (a test keeps the page in step with rules.csv)."""
    all_datasets = set(dataset_names())
    lines = ["| rule | stage | category | applies to | threshold | what it finds | source |",
             "|---|---|---|---|---|---|---|"]
    for r in rules():
        ds = "all" if set(r.datasets) == all_datasets else ", ".join(r.datasets)
        lines.append(f"| `{r.rule_id}` | {r.stage} | {r.category} | {ds} | {r.threshold:g} | {r.description} "
                     f"| {r.source} |")
    return "\n".join(lines) + "\n"
