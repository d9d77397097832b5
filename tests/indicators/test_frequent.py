"""Frequent A&E attenders (>= 5 a year) and high intensity users (adults, > 20 a year) from
hand-built person-years: the thresholds at their edges, the age rule, and the linked profile."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from phm.analysis._common import SETTINGS
from phm.indicators.frequent import cohort_profile, frequent_values, parameters


def person_year(ae: int, age: int = 40, pid: int = 0, **extra) -> dict:
    row = {"person_id": pid, "fy": 2023, "practice_code": "P1", "pcn_code": "U1", "place_code": "PL1",
           "icb_code": "QWU", "imd2025_quintile": 1, "ethnic_group": "A", "exposure_days": 366, "age": age,
           "ae_attendances": ae, "emergency_admissions": 0, "cost_total": 0.0,
           **{f"n_{s}": 0 for s in SETTINGS}, **{f"cost_{s}": 0.0 for s in SETTINGS}}
    row.update(extra)
    return row


def test_the_default_parameters_are_data():
    assert parameters() == {"frequent_min_attendances": 5, "high_intensity_over_attendances": 20,
                            "high_intensity_min_age": 18}


def test_thresholds_and_the_adult_rule():
    rows = [person_year(4, pid=1), person_year(5, pid=2), person_year(20, pid=3), person_year(21, pid=4),
            person_year(25, age=17, pid=5)]
    py = ibis.duckdb.connect().create_table("py", pa.Table.from_pylist(rows))
    v = {(r["indicator"]): r for r in frequent_values(py).to_pylist() if r["level"] == "practice"}
    assert v["frequent_ae_attenders"]["numerator"] == 4  # 5, 20, 21 and the child's 25
    assert v["high_intensity_users"]["numerator"] == 1  # only the adult with 21 (> 20)
    assert v["frequent_ae_attenders"]["value"] == pytest.approx(1000 * 4 / 5)
    assert v["frequent_ae_attenders"]["denominator"] == 5


def test_the_profile_sums_the_cohort_across_settings():
    rows = [person_year(6, pid=1, n_apc=2, cost_apc=3000.0, cost_ecds=600.0, cost_total=3600.0,
                        emergency_admissions=2),
            person_year(1, pid=2, cost_ecds=100.0, cost_total=100.0)]
    py = ibis.duckdb.connect().create_table("py", pa.Table.from_pylist(rows))
    p = {(r["level"], r["cohort"]): r for r in cohort_profile(py).to_pylist()}
    f = p[("practice", "frequent_ae_attenders")]
    assert (f["people"], f["registered"], f["ae_attendances"]) == (1, 2, 6)
    assert f["ae_share_of_area"] == pytest.approx(6 / 7)
    assert (f["n_apc"], f["cost_apc"], f["cost_total"], f["emergency_admissions"]) == (2, 3000.0, 3600.0, 2)
    assert p[("icb", "high_intensity_users")]["people"] == 0
