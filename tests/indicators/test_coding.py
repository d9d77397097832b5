"""The clinical coding audit from hand-built spells: depth, sign-and-symptom and unspecified
primary diagnoses, palliative care coding among deaths and Charlson coverage, by provider."""

from __future__ import annotations

import pytest
from spells_by_hand import WINDOW, ep, marts

from phm.indicators.coding import coding_by_specialty, coding_spells, coding_values
from phm.model.spells import provider_spells

ROWS = [
    ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", diag="R074", diags=("I10X", "E119", "J449")),
    ep(2, "RAA", "S2", "2023-05-01", "2023-05-09", diag="J189", tfc="300", dismeth="4"),
    ep(2, "RAA", "S2", "2023-05-01", "2023-05-09", order=2, diag="J189", diags=("Z515",), dismeth="4",
       start="2023-05-05"),
    ep(3, "RAA", "S3", "2023-06-01", "2023-06-02", diag="K358", dismeth="4"),
]


@pytest.fixture(scope="module")
def audit():
    _, episodes, _, _, refs = marts(ROWS)
    spells = coding_spells(provider_spells(episodes, refs, WINDOW), episodes, refs)
    return spells, {(r["indicator"], r["period"]): r for r in coding_values(spells).to_pylist()}


def test_each_spell_is_coded_as_written(audit):
    spells, _ = audit
    by = {r["spell_id"]: r for r in spells.to_pyarrow().to_pylist()}
    assert (by["S1"]["secondary"], by["S1"]["symptom_primary"], by["S1"]["charlson_coded"]) == (3, True, True)
    assert (by["S2"]["unspecified_primary"], by["S2"]["died"], by["S2"]["palliative"]) == (True, True, True)
    assert (by["S3"]["died"], by["S3"]["palliative"], by["S3"]["secondary"]) == (True, False, 0)


def test_provider_measures(audit):
    _, v = audit
    assert v[("coding_depth", "2023/24")]["value"] == pytest.approx(1.0)
    assert v[("coding_symptom_primary", "2023/24")]["value"] == pytest.approx(100 / 3)
    assert v[("coding_unspecified_primary", "2023/24")]["value"] == pytest.approx(100 / 3)
    pal = v[("coding_palliative_deaths", "2023/24")]
    assert (pal["numerator"], pal["denominator"], pal["value"]) == (1, 2, 50.0)
    assert v[("coding_charlson_coverage", "2023/24")]["numerator"] == 1
    assert v[("coding_depth", "2023-06")]["denominator"] == 1  # monthly, by discharge month


def test_sign_and_symptom_by_specialty(audit):
    spells, _ = audit
    t = coding_by_specialty(spells).to_pylist()
    assert t == [{"provider_code": "RAA", "fy": 2023, "treatment_function_code": "300", "spells": 3,
                  "symptom_primary": 1, "symptom_primary_pct": pytest.approx(100 / 3)}]
