"""Docs check for the condition definitions in data/conditions.csv."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

import phm.refdata as refdata
from phm.refdata._io import DATA_DIR

REQUIRED = {
    "hypertension",
    "diabetes",
    "asthma",
    "copd",
    "chd",
    "heart_failure",
    "atrial_fibrillation",
    "stroke_tia",
    "ckd",
    "cancer",
    "dementia",
    "depression",
    "smi",
    "learning_disability",
    "epilepsy",
    "osteoporosis",
    "rheumatoid_arthritis",
    "pad",
}


def test_condition_ids():
    ids = [c.id for c in refdata.conditions()]
    assert len(ids) == len(set(ids))
    assert set(ids) == REQUIRED


@pytest.mark.parametrize("cond", refdata.conditions(), ids=lambda c: c.id)
def test_every_condition_is_documented_and_has_codes(cond):
    assert cond.name.strip()
    assert cond.source.strip()
    assert cond.snomed_refsets and cond.icd10_codelists
    for refset in cond.snomed_refsets:
        assert (DATA_DIR / "codelists" / "pcd_refsets" / f"{refset}.csv").is_file(), refset
    for name in cond.icd10_codelists:
        assert (DATA_DIR / "codelists" / "mltc_icd10" / f"{name}.csv").is_file(), name
    codes = refdata.condition_codelists()
    mine = codes.filter(pc.equal(codes["condition"], cond.id))
    vocabularies = set(mine["vocabulary"].to_pylist())
    assert vocabularies == {"SNOMED", "ICD10"}


def test_codes_are_normalised_and_prefixes_marked():
    table = refdata.condition_codelists()
    icd = table.filter(pc.equal(table["vocabulary"], "ICD10")).to_pylist()
    for row in icd:
        assert refdata.normalise_icd10(row["code"]) == row["code"]
        assert row["is_prefix"] == (len(row["code"]) == 3)
    by_key = {(r["condition"], r["code"]): r for r in icd}
    assert by_key[("diabetes", "E11")]["is_prefix"]
    assert not by_key[("chd", "I25.1")]["is_prefix"]
    snomed = table.filter(pc.equal(table["vocabulary"], "SNOMED"))
    assert pc.all(pc.match_substring_regex(snomed["code"], r"^[0-9]{6,18}$")).as_py()
    assert not pc.any(snomed["is_prefix"]).as_py()
    keys = list(zip(table["condition"].to_pylist(), table["code"].to_pylist(), strict=True))
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("raw", "dotted"),
    [("J441", "J44.1"), ("J44.1", "J44.1"), ("I10X", "I10"), ("i10", "I10"), (" E11- ", "E11")],
)
def test_normalise_icd10(raw, dotted):
    assert refdata.normalise_icd10(raw) == dotted


@pytest.mark.parametrize("bad", ["", "J4", "J44.12", "123"])
def test_normalise_icd10_rejects(bad):
    with pytest.raises(ValueError, match="not an ICD-10 code"):
        refdata.normalise_icd10(bad)
