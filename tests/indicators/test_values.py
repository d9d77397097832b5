"""ind_values from hand-built index discharges and admissions: the indirectly standardised
readmission ratio and the ESP2013 directly standardised ACSC rate, computed by hand."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from phm import stats
from phm.indicators.values import acsc_values, readmission_values

AREA = {"pcn_code": "U1", "place_code": "PL1", "icb_code": "QWU", "imd2025_quintile": 1, "ethnic_group": "A"}


def py_row(pid, practice, band="60-64", sex="1", fy=2023, days=365.25, end=dt.date(2024, 3, 31)):
    return {"person_id": pid, "fy": fy, "practice_code": practice, **AREA, "age_band": band, "sex": sex,
            "exposure_days": days, "fy_start": dt.date(fy, 4, 1), "fy_end": end}


def _tables(c, index_rows, py_rows):
    idx = pa.Table.from_pylist(index_rows)
    idx = idx.set_column(idx.schema.get_field_index("excluded"), "excluded", idx.column("excluded").cast(pa.string()))
    return c.create_table("idx", idx), c.create_table("py", pa.Table.from_pylist(py_rows))


def test_readmission_isr_against_the_warehouse_strata_by_hand():
    strata = {"A": ("60-64", "1", "emergency", "icd10:J"), "B": ("80-84", "2", "emergency", "icd10:I")}
    plan = [("P1", "A", 10, 2), ("P1", "B", 10, 5), ("P2", "A", 30, 3)]  # practice, stratum, index, readmitted
    idx, py, pid = [], [], 0
    for practice, s, n, r in plan:
        band, sex, method, case = strata[s]
        for i in range(n):
            pid += 1
            idx.append({"person_id": pid, "fy": 2023, "discharge_date": dt.date(2023, 6, 1), "excluded": None,
                        "readmitted": i < r, "provider_code": "RAA", "age_band": band, "sex": sex,
                        "method_group": method, "case_group": case})
            py.append(py_row(pid, practice, band, sex))
    # one more discharge, of someone registered nowhere that year (a person-year kept for its cost,
    # no days registered): the provider's, no area's
    idx.append({**idx[0], "person_id": 999, "readmitted": False})
    py.append(py_row(999, "P1", days=0))
    c = ibis.duckdb.connect()
    t = readmission_values(*_tables(c, idx, py)).to_pylist()
    provider = next(r for r in t if r["level"] == "provider" and r["month"] is None)
    assert provider["denominator"] == 51 and provider["numerator"] == 10
    assert {r["area_code"] for r in t if r["level"] == "practice"} == {"P1", "P2"}
    year = {r["area_code"]: r for r in t if r["level"] == "practice" and r["month"] is None}
    # reference rates (with the unregistered discharge, stratum A): A 5/41, B 5/10; crude 10/51
    e1, e2 = 10 * 5 / 41 + 10 * 5 / 10, 30 * 5 / 41
    assert year["P1"]["expected"] == pytest.approx(e1) and year["P2"]["expected"] == pytest.approx(e2)
    assert year["P1"]["ratio"] == pytest.approx(7 / e1) and year["P2"]["ratio"] == pytest.approx(3 / e2)
    assert year["P1"]["value"] == pytest.approx(100 * 7 / e1 * 10 / 51)
    lo, hi = stats.exact_poisson_ci(7)  # fewer than 10 readmissions: exact limits
    assert (year["P1"]["ratio_lower"], year["P1"]["ratio_upper"]) == pytest.approx((lo / e1, hi / e1))
    assert year["P1"]["crude"] == pytest.approx(35.0) and year["P1"]["denominator"] == 20
    icb = next(r for r in t if r["level"] == "icb" and r["month"] is None)
    assert icb["numerator"] == 10 and icb["denominator"] == 50  # the registered only
    assert icb["expected"] == pytest.approx(e1 + e2) and icb["reference"] == "warehouse 2023/24 (19.61%)"
    month = next(r for r in t if r["level"] == "icb" and r["month"] == "2023-06")
    assert month["numerator"] == 10 and month["period"] == "2023-06"


def test_acsc_dsr_by_hand():
    py = [py_row(i, "P1", sex="1") for i in range(100)] + [py_row(100 + i, "P1", sex="2") for i in range(100)]
    adm = [{"person_id": i, "admission_date": dt.date(2023, 6, 1) + dt.timedelta(days=i), "acsc_chronic": True}
           for i in range(12)]
    c = ibis.duckdb.connect()
    a, p = c.create_table("adm", pa.Table.from_pylist(adm)), c.create_table("py", pa.Table.from_pylist(py))
    t = acsc_values(a, p, ["chronic"]).to_pylist()
    year = next(r for r in t if r["level"] == "practice" and r["month"] is None)
    # 12 admissions among 100 person-years of men aged 60-64; ESP 60-64 = 6000, half to each sex
    assert year["value"] == pytest.approx(3000 * 12 / 100 / 100_000 * 100_000)
    ref = stats.dsr([0] * 24 + [12, 0] + [0] * 12, [0] * 24 + [100, 100] + [0] * 12,
                    [w / 2 for w in (5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500,
                                     6000, 5500, 5000, 4000, 2500, 1500, 1000) for _ in (1, 2)])
    assert (year["value"], year["lower"], year["upper"]) == pytest.approx((ref.value, ref.lower, ref.upper))
    assert year["crude"] == pytest.approx(12 / 200 * 100_000) and year["numerator"] == 12
    months = {r["month"]: r for r in t if r["level"] == "practice" and r["month"]}
    assert sorted(months) == ["2023-06"]  # only months with an admission somewhere that year
    assert months["2023-06"]["denominator"] == pytest.approx(200 * 30 / 366)  # June's share of 2023/24's days


def test_a_month_of_the_latest_year_has_its_share_of_the_days_to_the_extract():
    # the year runs to an extract date of 30 September 2023: 183 days, June 30 of them
    py = [py_row(i, "P1", days=183, end=dt.date(2023, 9, 30)) for i in range(100)]
    adm = [{"person_id": i, "admission_date": dt.date(2023, 6, 1), "acsc_chronic": True} for i in range(12)]
    c = ibis.duckdb.connect()
    a, p = c.create_table("adm", pa.Table.from_pylist(adm)), c.create_table("py", pa.Table.from_pylist(py))
    t = acsc_values(a, p, ["chronic"]).to_pylist()
    june = next(r for r in t if r["level"] == "practice" and r["month"] == "2023-06")
    person_years = 100 * 183 / 365.25
    assert june["denominator"] == pytest.approx(person_years * 30 / 183)
    assert june["crude"] == pytest.approx(12 / (person_years * 30 / 183) * 100_000)
    assert {r["level"] for r in t} == {"practice", "pcn", "place", "icb", "imd_quintile", "ethnic_group"}
