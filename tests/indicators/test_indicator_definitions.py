"""Indicator definitions are complete, sourced data, and docs/indicators.md is generated from them."""

from __future__ import annotations

from pathlib import Path

from phm.indicators import indicators, indicators_markdown, rows
from phm.indicators.acsc import LISTS

DOCS = Path(__file__).parents[2] / "docs" / "indicators.md"
FIELDS = ("numerator", "denominator", "exclusions", "standardisation", "confidence_interval", "source", "version")


def test_docs_indicators_md_is_generated_from_the_definitions():
    assert DOCS.read_text() == indicators_markdown(), "regenerate: python -m phm.indicators > docs/indicators.md"


def test_every_indicator_states_its_method_source_and_what_is_unverified():
    for r in indicators():
        assert all(r[f].strip() for f in FIELDS), r["id"]
        assert r["verified"] in ("yes", "partial", "no"), r["id"]
        assert r["verified"] == "yes" or r["unverified"].strip(), f"{r['id']} must say what is UNVERIFIED"


def test_every_acsc_list_has_conditions_and_every_code_row_a_source():
    table = rows("acsc_conditions.csv")
    assert {r["list"] for r in table} == set(LISTS)
    assert {f"acsc_{lst}" for lst in LISTS} <= {r["id"] for r in indicators()}
    for r in table:
        assert r["source"] and r["version"] and r["verified"] in ("yes", "no")
        assert r["role"] in ("code", "exclude_diagnosis", "exclude_procedure", "require_diagnosis")
        assert r["verified"] == "yes" or "UNVERIFIED" in r["note"], r
    for r in rows("ebi_interventions.csv"):
        assert r["source"] and r["version"] and (r["verified"] == "yes" or "UNVERIFIED" in r["note"]), r
        assert r["role"] in ("procedure", "diagnosis", "exclude_procedure", "exclude_diagnosis", "not_coded")
    for r in rows("readmission_exclusions.csv"):
        assert r["source"] and (r["verified"] == "yes" or "UNVERIFIED" in r["note"]), r
