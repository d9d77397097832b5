"""SHMI from hand-built spells: which deaths count and against which spell, the exclusions, the
case-mix columns (diagnosis group, age band, SHMI Charlson weights), and the banding.

Cases follow NHS England's SHMI specification as phm implements it (phm.indicators.mortality):
a death in hospital or within 30 days inclusive of discharge counts, against the person's last
spell; day cases, regular attenders and stillbirths are excluded; 30 days of follow-up needed.
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pytest
from spells_by_hand import EXTRACT, WINDOW, ep, marts

from phm.indicators.mortality import shmi_age_band, shmi_spells
from phm.indicators.shmi import MIN_OVERDISPERSION_UNITS, banded, expected_deaths
from phm.model.spells import provider_spells

# person: (sex, date of birth, date of death)
PEOPLE = {
    1: ("1", "1940-01-01", "2023-05-04"),  # died in hospital (spell S1)
    2: ("2", "1950-06-01", "2023-07-11"),  # died 30 days after discharge on 2023-06-11: counts
    3: ("1", "1950-06-01", "2023-07-12"),  # died 31 days after discharge on 2023-06-11: does not
    4: ("2", "1930-01-01", "2023-09-20"),  # two spells within 30 days before death: the last only
    5: ("1", "1960-01-01", None),          # day case, regular attender, stillbirth: excluded
    6: ("2", "2024-12-01", None),          # under 1; discharged near the extract date
    7: ("1", "1945-01-01", None),          # Charlson: hierarchy and weights
    8: ("2", "1945-01-01", None),          # invalid primary diagnosis
}
ROWS = [
    ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", diag="I219", diags=("I500",), dismeth="4", dest="79"),
    ep(2, "RAA", "S2", "2023-06-01", "2023-06-11", diag="J181"),
    ep(3, "RAA", "S3", "2023-06-01", "2023-06-11", diag="J181"),
    ep(4, "RAA", "S4", "2023-08-01", "2023-08-25", diag="S720"),
    ep(4, "RBB", "S5", "2023-09-01", "2023-09-05", diag="N390", method="11"),
    ep(5, "RAA", "S6", "2023-10-01", "2023-10-01", diag="K359", cls="2", method="11"),
    ep(5, "RAA", "S7", "2023-10-08", "2023-10-08", diag="C509", cls="3", method="11"),
    ep(5, "RAA", "S8", "2023-11-01", "2023-11-02", diag="O800", dismeth="5", method="31"),
    ep(6, "RAA", "S9", "2025-02-01", "2025-03-01", diag="P599"),   # 30 days before the extract: in
    ep(6, "RAA", "S10", "2025-03-02", "2025-03-02", diag="R509"),  # 29 days before: too late
    ep(7, "RAA", "S11", "2023-05-01", "2023-05-03", diag="R074", diags=("E119", "E112", "J449")),
    ep(7, "RAA", "S12", "2023-06-01", "2023-06-03", diag="I10X", diags=("K703", "K721")),
    ep(7, "RAA", "S13", "2023-07-01", "2023-07-03", diag="K359", diags=("E112",)),
    ep(8, "RAA", "S14", "2023-05-01", "2023-05-03", diag="", diags=("I500",)),
]


@pytest.fixture(scope="module")
def spells():
    _, episodes, _, person, refs = marts(ROWS, PEOPLE)
    ps = provider_spells(episodes, refs, WINDOW)
    out = shmi_spells(ps, person, refs, EXTRACT).to_pyarrow().to_pylist()
    return {r["spell_id"]: r for r in out}


def test_death_in_hospital_counts(spells):
    s = spells["S1"]
    assert s["excluded"] is None and s["died"] and s["died_in_hospital"]


def test_thirty_days_after_discharge_is_inclusive(spells):
    assert spells["S2"]["died"] and not spells["S2"]["died_in_hospital"]  # day 30
    assert not spells["S3"]["died"] and spells["S3"]["excluded"] is None  # day 31: a survival


def test_a_death_counts_against_the_last_spell_only(spells):
    assert spells["S5"]["died"] and spells["S5"]["provider_code"] == "RBB"
    assert not spells["S4"]["died"]  # within 30 days of S4 too, but S5 came later


def test_exclusions(spells):
    assert spells["S6"]["excluded"] == "day case or regular attender"
    assert spells["S7"]["excluded"] == "day case or regular attender"
    assert spells["S8"]["excluded"] == "stillbirth"
    assert spells["S9"]["excluded"] is None  # discharged 30 days before the extract
    assert spells["S10"]["excluded"] == "under 30 days of follow-up"


def test_case_mix_columns(spells):
    s1 = spells["S1"]
    assert (s1["diagnosis_group"], s1["age_band"], s1["sex"], s1["method"], s1["admission_month"]) == \
        ("ami", "80-84", "1", "non-elective", 5)
    assert spells["S4"]["diagnosis_group"] == "hip_fracture"  # S72 before the S|T injury chapter
    assert spells["S5"]["diagnosis_group"] == "uti" and spells["S5"]["method"] == "elective"
    assert spells["S9"]["diagnosis_group"] == "perinatal" and spells["S9"]["age_band"] == "<1"
    assert spells["S12"]["diagnosis_group"] == "circulatory_other"


def test_shmi_charlson_weights(spells):
    # heart failure 13
    assert (spells["S1"]["charlson_score"], spells["S1"]["charlson_group"]) == (13, "6+")
    # diabetes (3) gives way to diabetes with complications (-1), plus pulmonary disease (4): 3
    assert (spells["S11"]["charlson_score"], spells["S11"]["charlson_group"]) == (3, "1-5")
    # liver disease (8) gives way to severe liver disease (18)
    assert spells["S12"]["charlson_score"] == 18
    # complications alone: -1, counted as 0
    assert (spells["S13"]["charlson_score"], spells["S13"]["charlson_group"]) == (0, "0")
    # the primary diagnosis is not a comorbidity: S2 (J181 primary, nothing secondary)
    assert spells["S2"]["charlson_score"] == 0


def test_invalid_primary_diagnosis_has_no_charlson_group(spells):
    s = spells["S14"]
    assert s["diagnosis_group"] == "invalid" and s["charlson_group"] == "n/a"


def test_age_bands():
    c = ibis.duckdb.connect()
    t = c.create_table("a", pa.table({"age": pa.array([0, 1, 4, 5, 9, 89, 90, 104, None], pa.int64())}))
    got = t.select(b=shmi_age_band(t.age)).to_pyarrow().column("b").to_pylist()
    assert got == ["<1", "1-4", "1-4", "5-9", "5-9", "85-89", "90+", "90+", "unknown"]


def _year(o, e, n=None):
    k = len(o)
    return pa.table({"provider_code": [f"P{i:02d}" for i in range(k)], "fy": [2023] * k,
                     "n": pa.array(n or [1000] * k, pa.int64()), "d": pa.array(o, pa.int64()),
                     "h": pa.array(o, pa.int64()), "e": pa.array(e, pa.float64())})


def test_banding_without_enough_providers_uses_the_poisson_funnel():
    t = banded(_year([150, 100, 70], [100.0, 100.0, 100.0])).to_pylist()
    year = [r for r in t if r["fy"] == 2023]
    assert all(r["tau2"] == 0.0 and r["overdispersion"].startswith("not estimated") for r in year)
    lo, hi = np.exp(-1.959963984540054 / 10), np.exp(1.959963984540054 / 10)
    assert year[0]["upper_limit"] == pytest.approx(hi) and year[0]["lower_limit"] == pytest.approx(lo)
    assert [r["band"] for r in year] == [1, 2, 3]
    assert [r["banding"] for r in year] == ["higher than expected", "as expected", "lower than expected"]
    pooled = [r for r in t if r["fy"] is None]
    assert len(pooled) == 3 and pooled[0]["period"] == "2023/24 to 2023/24"


def test_banding_estimates_overdispersion_over_ten_or_more_providers():
    rng = np.random.default_rng(3)
    e = np.full(20, 400.0)
    o = np.round(e * np.exp(rng.normal(0, 0.15, 20))).astype(int)  # between-trust variation
    o[0] = 900  # a gross outlier, trimmed from the estimate
    t = [r for r in banded(_year(o.tolist(), e.tolist())).to_pylist() if r["fy"] == 2023]
    assert len(t) == 20 >= MIN_OVERDISPERSION_UNITS
    assert t[0]["tau2"] > 0 and t[0]["overdispersion"].startswith("estimated over 16 of 20")
    half = 1.959963984540054 * np.sqrt(1 / 400 + t[0]["tau2"])
    assert t[0]["upper_limit"] == pytest.approx(np.exp(half))
    assert t[0]["band"] == 1
    # the limits are wider than Poisson's: a trust 1.15 times expected is not flagged
    assert np.exp(half) > 1.15 > np.exp(1.959963984540054 / 20)


def test_expected_deaths_sum_to_observed_and_follow_the_case_mix():
    cells = pa.table({
        "diagnosis_group": ["ami"] * 4 + ["skin"] * 2,
        "age_band": ["60-64", "60-64", "85-89", "85-89", "60-64", "85-89"],
        "sex": ["1", "2", "1", "2", "1", "1"], "method": ["non-elective"] * 6,
        "admission_month": [5] * 6, "charlson_group": ["0", "0", "6+", "6+", "0", "0"], "fy": [2023] * 6,
        "n": [200, 200, 100, 100, 50, 50], "d": [4, 6, 30, 34, 0, 0],
    })
    e = expected_deaths(cells)
    assert e[:4].sum() == pytest.approx(74, rel=0.01)  # the fit reproduces the group's deaths
    assert e[2] / 100 > 3 * e[0] / 200  # the old and comorbid are at higher risk
    assert e[4:].tolist() == [0.0, 0.0]  # a group with no deaths: its crude rate, 0
