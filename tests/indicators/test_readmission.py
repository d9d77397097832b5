"""Emergency readmissions within 30 days (NHS Digital I02040 v3 / NHS OF 3b / CCG OIS 3.2 v1.4),
pinned with hand-built spells: the 0-29 day window, transfers, deaths, exclusions, follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
from spells_by_hand import EXTRACT, d, ep, marts

from phm.indicators.readmission import index_discharges


def rows_of(episodes_rows, **kw):
    _, episodes, spells, person, _ = marts(episodes_rows)
    t = index_discharges(spells, person, episodes, EXTRACT, **kw).order_by("admission_date")
    return t.to_pyarrow().to_pylist()


def first_index(episodes_rows):
    return rows_of(episodes_rows)[0]


@pytest.mark.parametrize(("gap", "counted"), [(0, True), (1, True), (29, True), (30, False), (31, False)])
def test_the_30_day_window_is_0_to_29_days_after_discharge(gap, counted):
    back = (d("2023-05-10") + dt.timedelta(days=gap)).isoformat()
    # discharged home and admitted from home: not a transfer, so two spells even on day 0
    r = first_index([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-10", dest="19"),
        ep(1, "RBB", "S2", back, "2023-07-20", source="19"),
    ])
    assert r["excluded"] is None
    assert r["readmitted"] is counted
    assert r["days_to_readmission"] == (gap if counted else None)


def test_a_transfer_is_not_a_readmission():
    rows = rows_of([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-05", dest="51"),
        ep(1, "RBB", "S2", "2023-05-05", "2023-05-12", method="81", source="51"),
    ])
    assert len(rows) == 1  # one continuous spell
    assert rows[0]["readmitted"] is False


def test_a_readmission_in_which_the_person_died_counts():
    r = first_index([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-10"),
        ep(1, "RAA", "S2", "2023-05-20", "2023-05-25", dismeth="4"),
    ])
    assert r["readmitted"] is True and r["readmission_died"] is True


def test_an_index_spell_ending_in_death_is_not_in_the_denominator():
    r = first_index([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10", dismeth="4")])
    assert r["excluded"] == "died"


def test_an_elective_readmission_does_not_count_and_blocks_a_later_emergency():
    rows = rows_of([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-10"),
        ep(1, "RAA", "S2", "2023-05-12", "2023-05-13", method="11"),
        ep(1, "RAA", "S3", "2023-05-20", "2023-05-25"),
    ])
    assert rows[0]["readmitted"] is False  # the next spell is elective
    assert rows[1]["readmitted"] is True  # the elective index is itself readmitted on day 7


@pytest.mark.parametrize(("change", "reason"), [
    (dict(cls="2", method="11"), "not an ordinary admission"),
    (dict(method="31", diag="O800"), "maternity"),
    (dict(diag="J181", diags=("C349",)), "cancer or chemotherapy"),
    (dict(tfc="710", diag="F329"), "specialty"),
])
def test_index_exclusions(change, reason):
    r = first_index([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10", **change)])
    assert r["excluded"] == reason


def test_cancer_in_the_365_days_before_admission_excludes_the_index():
    rows = rows_of([
        ep(1, "RAA", "S0", "2022-06-01", "2022-06-03", method="11", diag="C189"),
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-10"),
        ep(1, "RAA", "S2", "2024-06-01", "2024-06-05"),
    ])
    assert [r["excluded"] for r in rows] == ["cancer or chemotherapy", "cancer or chemotherapy", None]


def test_a_readmission_with_cancer_or_obstetric_specialty_does_not_count():
    for second in (ep(1, "RAA", "S2", "2023-05-20", "2023-05-25", diags=("C509",)),
                   ep(1, "RAA", "S2", "2023-05-20", "2023-05-25", tfc="501", diag="O209")):
        r = first_index([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10"), second])
        assert r["readmitted"] is False


def test_an_unfinished_readmission_counts():
    r = first_index([
        ep(1, "RAA", "S1", "2025-01-01", "2025-01-10"),
        ep(1, "RAA", "S2", "2025-01-20", None, status="1"),
    ])
    assert r["readmitted"] is True


def test_a_discharge_without_30_days_of_follow_up_is_set_apart():
    r = first_index([ep(1, "RAA", "S1", "2025-03-01", "2025-03-10")])
    assert r["excluded"] == "under 30 days of follow-up"
    r = rows_of([ep(1, "RAA", "S1", "2025-03-01", "2025-03-10")], follow_up=False)[0]
    assert r["excluded"] is None


def test_regular_day_attendances_are_passed_over_when_finding_the_next_admission():
    r = first_index([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-10"),
        ep(1, "RAA", "R1", "2023-05-12", "2023-05-12", method="11", cls="3"),
        ep(1, "RAA", "S2", "2023-05-20", "2023-05-25"),
    ])
    assert r["readmitted"] is True and r["days_to_readmission"] == 10


def test_strata_columns():
    r = first_index([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10", tfc="110", opertn="W381")])
    assert (r["sex"], r["age"], r["age_band"]) == ("1", 63, "60-64")
    assert (r["method_group"], r["case_group"]) == ("emergency", "opcs:W")
    r = first_index([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10")])
    assert r["case_group"] == "icd10:J"


def test_an_open_stay_admitted_by_transfer_is_not_a_readmission():
    for method, source in (("2B", "19"), ("21", "51")):
        r = first_index([
            ep(1, "RAA", "S1", "2025-01-01", "2025-01-10", dest="51"),
            ep(1, "RBB", "S2", "2025-01-10", None, status="1", method=method, source=source),
        ])
        assert r["readmitted"] is False, (method, source)


def test_a_person_not_on_the_spine_keeps_the_discharge_with_unknown_strata():
    _, episodes, spells, person, _ = marts([ep(1, "RAA", "S1", "2023-05-01", "2023-05-10")], {2: ("1", "1960-01-01")})
    r = index_discharges(spells, person, episodes, EXTRACT).to_pyarrow().to_pylist()[0]
    assert r["excluded"] is None and (r["sex"], r["age"], r["age_band"]) == (None, None, None)
