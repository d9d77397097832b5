"""Spec tests for phm.analysis.needs on hand-made person-years, values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
import pytest
from scipy import stats as st

from phm import refdata, stats
from phm.analysis import needs
from phm.analysis._measures import outlier
from phm.analysis.registers import REGISTER_MIN_AGE, min_age

Z95, Z998 = 1.959963984540054, 3.090232306167813


def _rows(t, **eq):
    mask = None
    for k, v in eq.items():
        m = pc.equal(t[k], v)
        mask = m if mask is None else pc.and_(mask, m)
    return t.filter(mask).to_pylist()


def _one(t, **eq):
    rows = _rows(t, **eq)
    assert len(rows) == 1, rows
    return rows[0]


def _two_practices():
    """Diabetes (register 17+) in two practices and two age bands, one sex.

    Practice A: 10 aged 20 (1 diabetic), 10 aged 70 (4 diabetic).
    Practice B: 30 aged 20 (1 diabetic), 10 aged 70 (2 diabetic).
    Not counted: two diabetic children aged 10 in A (below the floor), a diabetic aged 70 in
    A with no registered day in the year, and everyone in an earlier year.
    """
    rows = []

    def add(practice, age, n, ill, **kw):
        rows.extend(
            {"practice_code": practice, "age": age, "cond_diabetes": i < ill, **kw}
            for i in range(n)
        )

    add("A", 20, 10, 1)
    add("A", 70, 10, 4)
    add("B", 20, 30, 1)
    add("B", 70, 10, 2)
    add("A", 10, 2, 2)
    add("A", 70, 1, 1, exposure_days=0)
    add("B", 70, 5, 5, fy=2023)
    return rows


def test_isr_from_two_age_bands(make_person_year):
    t = needs.prevalence(make_person_year(_two_practices()), "practice")
    # reference rates: 20-24 2/40 = 0.05; 70-74 6/20 = 0.3
    a = _one(t, area_code="A", condition="diabetes")
    b = _one(t, area_code="B", condition="diabetes")
    assert (a["register"], a["denominator"], a["min_age"], a["fy"]) == (5, 20, 17, 2024)
    assert (b["register"], b["denominator"]) == (3, 40)
    assert a["expected"] == pytest.approx(10 * 0.05 + 10 * 0.3)  # 3.5
    assert b["expected"] == pytest.approx(30 * 0.05 + 10 * 0.3)  # 4.5
    assert a["isr"] == pytest.approx(5 / 3.5)
    assert b["isr"] == pytest.approx(3 / 4.5)
    # fewer than 10 events: exact (Garwood) limits of O, divided by E
    assert a["isr_lower"] == pytest.approx(st.chi2.ppf(0.025, 10) / 2 / 3.5)
    assert a["isr_upper"] == pytest.approx(st.chi2.ppf(0.975, 12) / 2 / 3.5)
    ref = stats.isr(5, [10, 10], [2, 6], [40, 20])
    assert (a["isr"], a["isr_lower"], a["isr_upper"], a["expected"]) == pytest.approx(
        (ref.value, ref.lower, ref.upper, ref.expected)
    )
    icb = 8 / 60
    assert a["standardised_prevalence"] == pytest.approx(5 / 3.5 * icb)
    assert a["reference"] == "ICB"


def test_crude_prevalence_wilson_and_funnel(make_person_year):
    t = needs.prevalence(make_person_year(_two_practices()), "practice")
    a = _one(t, area_code="A", condition="diabetes")
    x, n, z = 5, 20, Z95
    root = z * math.sqrt(z * z + 4 * x * (1 - x / n))
    assert a["prevalence"] == 0.25
    assert a["prevalence_lower"] == pytest.approx((2 * x + z * z - root) / (2 * (n + z * z)))
    assert a["prevalence_upper"] == pytest.approx((2 * x + z * z + root) / (2 * (n + z * z)))
    p0 = 8 / 60
    assert a["icb_prevalence"] == pytest.approx(p0)
    half95, half998 = Z95 * math.sqrt(p0 * (1 - p0) / 20), Z998 * math.sqrt(p0 * (1 - p0) / 20)
    assert a["funnel_lower_95"] == pytest.approx(max(p0 - half95, 0))
    assert a["funnel_upper_95"] == pytest.approx(p0 + half95)
    assert a["funnel_upper_998"] == pytest.approx(p0 + half998)
    assert a["outlier"] == "within"  # 0.25 < 0.282


def test_age_floor_applies_per_register(make_person_year):
    t = needs.prevalence(make_person_year(_two_practices()), "practice")
    # children aged 10 count for hypertension (all ages) but not diabetes (17+)
    assert _one(t, area_code="A", condition="hypertension")["denominator"] == 22
    assert _one(t, area_code="A", condition="asthma")["min_age"] == 6
    assert min_age("diabetes") == 17 and min_age("hypertension") == 0


def test_area_with_nobody_old_enough_has_no_row(make_person_year):
    rows = [
        {"practice_code": "A", "age": 40},
        {"practice_code": "K", "age": 3, "cond_diabetes": True},
    ]
    t = needs.prevalence(make_person_year(rows), "practice")
    assert [r["area_code"] for r in _rows(t, condition="diabetes")] == ["A"]
    assert sorted(r["area_code"] for r in _rows(t, condition="hypertension")) == ["A", "K"]


def test_levels_stack_and_icb_is_its_own_reference(make_person_year):
    rows = [{**r, "pcn_code": "P" + r["practice_code"]} for r in _two_practices()]
    t = needs.prevalence(make_person_year(rows), ["practice", "pcn", "icb"])
    assert set(t["level"].to_pylist()) == {"practice", "pcn", "icb"}
    assert _one(t, level="pcn", area_code="PA", condition="diabetes")["isr"] == pytest.approx(
        5 / 3.5
    )
    icb = _one(t, level="icb", condition="diabetes")
    assert (icb["register"], icb["denominator"], icb["isr"], icb["expected"]) == (
        8,
        60,
        1.0,
        pytest.approx(8),
    )
    with pytest.raises(ValueError, match="unknown level"):
        needs.prevalence(make_person_year(rows), "region")


def test_expected_adds_up_to_observed_over_the_areas(make_person_year):
    t = needs.prevalence(make_person_year(_two_practices()), "practice")
    d = _rows(t, condition="diabetes")
    assert sum(r["expected"] for r in d) == pytest.approx(sum(r["register"] for r in d))


def test_outlier_bands():
    assert outlier(0.50, 0.1, 0.3, 0.05, 0.4) == "above 99.8"
    assert outlier(0.35, 0.1, 0.3, 0.05, 0.4) == "above 95"
    assert outlier(0.30, 0.1, 0.3, 0.05, 0.4) == "within"
    assert outlier(0.07, 0.1, 0.3, 0.05, 0.4) == "below 95"
    assert outlier(0.01, 0.1, 0.3, 0.05, 0.4) == "below 99.8"


def test_outlier_flag_from_the_funnel(make_person_year):
    # 40 of 40 in practice H have hypertension, 2 of 400 elsewhere: far above 99.8% limits
    rows = [{"practice_code": "H", "cond_hypertension": True} for _ in range(40)]
    rows += [{"practice_code": "L", "cond_hypertension": i < 2} for i in range(400)]
    t = needs.prevalence(make_person_year(rows), "practice")
    assert _one(t, area_code="H", condition="hypertension")["outlier"] == "above 99.8"
    assert _one(t, area_code="L", condition="hypertension")["outlier"] == "below 99.8"


def test_register_floors_match_the_synthetic_icb_calibration():
    from phm.synth.definitions import conditions

    assert {c.id: c.denominator_min_age for c in conditions()} == {
        c.id: REGISTER_MIN_AGE.get(c.id, 0) for c in conditions()
    }


# ---- emergency admissions ----------------------------------------------------------------


def _admissions():
    """Practice A: 4 people aged 2 with 3 admissions each (12), 2 aged 92 with none, and one
    person with an admission but no registered day (not counted). Practice B: 1 admission."""
    rows = [{"practice_code": "A", "age": 2, "emergency_admissions": 3} for _ in range(4)]
    rows += [{"practice_code": "A", "age": 92, "exposure_days": 200} for _ in range(2)]
    rows += [{"practice_code": "A", "age": 50, "exposure_days": 0, "emergency_admissions": 5}]
    rows += [{"practice_code": "B", "age": 30, "emergency_admissions": 1}]
    return rows


def test_emergency_dsr_and_crude_rate(make_person_year):
    t = needs.emergency_admission_dsr(make_person_year(_admissions()), "practice")
    a = _one(t, area_code="A")
    py_young, py_old = 4 * 365 / 365.25, 2 * 200 / 365.25
    assert a["admissions"] == 12
    assert a["person_years"] == pytest.approx(py_young + py_old)
    assert a["crude_rate"] == pytest.approx(12 / (py_young + py_old) * 1e5)
    # ESP2013: 0-4 weight 5000, 90+ weight 1000, all 19 weights sum to 100,000
    assert a["dsr"] == pytest.approx(5000 * 12 / py_young / 100_000 * 1e5)
    w = np.zeros(19)
    w[0], w[18] = 12, 0
    pops = np.zeros(19)
    pops[0], pops[18] = py_young, py_old
    ref = stats.dsr(w, pops, refdata.esp2013()["esp2013"].to_numpy())
    assert (a["dsr_lower"], a["dsr_upper"]) == pytest.approx((ref.lower, ref.upper))
    lo, up = stats.byars_ci(12)
    assert (a["crude_lower"], a["crude_upper"]) == pytest.approx(
        (lo / (py_young + py_old) * 1e5, up / (py_young + py_old) * 1e5)
    )


def test_emergency_dsr_is_missing_below_ten_events(make_person_year):
    t = needs.emergency_admission_dsr(make_person_year(_admissions()), "practice")
    b = _one(t, area_code="B")
    assert b["admissions"] == 1 and math.isnan(b["dsr"]) and b["crude_rate"] > 0
    assert b["crude_upper"] == pytest.approx(st.chi2.ppf(0.975, 4) / 2 / (365 / 365.25) * 1e5)


def test_latest_year_by_default_and_a_chosen_year(make_person_year):
    rows = [*_admissions(), {"practice_code": "A", "fy": 2023, "emergency_admissions": 9}]
    py = make_person_year(rows)
    assert _one(needs.emergency_admission_dsr(py, "practice"), area_code="A")["admissions"] == 12
    old = needs.emergency_admission_dsr(py, "practice", fy=2023)
    assert old["fy"].to_pylist() == [2023] and old["admissions"].to_pylist() == [9]


def test_ratio_to_england_is_the_icb_standardised_to_england_over_england(make_person_year):
    """At ICB level the ratio to England is the ICB's age-specific prevalence applied to England's
    population of the register's ages (ONS mid-2020 single years, bands the ICB has people in),
    over England's QOF 2022-23 prevalence; an area's England expected is its ICB expected times
    the same factor (phm.analysis._measures._england)."""
    from phm import refdata

    t = needs.prevalence(make_person_year(_two_practices()), ["practice", "icb"])
    pop = refdata.england_population_by_age().to_pydict()
    w = {b: sum(p for a, p in zip(pop["age"], pop["persons"], strict=True) if lo <= a <= hi)
         for b, lo, hi in (("20-24", 20, 24), ("70-74", 70, 74))}
    direct = (w["20-24"] * 2 / 40 + w["70-74"] * 6 / 20) / (w["20-24"] + w["70-74"])
    p_eng = next(r["prevalence"] for r in refdata.england_prevalence().to_pylist() if r["condition"] == "diabetes")
    icb = _one(t, level="icb", condition="diabetes")
    assert icb["england_prevalence"] == pytest.approx(p_eng)
    assert icb["icb_standardised_to_england"] == pytest.approx(direct)
    assert icb["isr_england"] == pytest.approx(direct / p_eng)
    assert icb["isr_england"] != pytest.approx(1.0)
    assert icb["isr"] == pytest.approx(1.0)  # against itself, the ICB is 1 by construction
    a = _one(t, level="practice", area_code="A", condition="diabetes")
    assert a["expected_england"] == pytest.approx(3.5 * p_eng / direct)
    assert a["isr_england"] == pytest.approx(5 / (3.5 * p_eng / direct))
