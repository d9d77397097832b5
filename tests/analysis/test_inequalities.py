"""Spec tests for phm.analysis.inequalities on hand-made person-years."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy import stats as st

from phm.analysis import inequalities as ineq


def _one(t, **eq):
    mask = None
    for k, v in eq.items():
        m = pc.equal(t[k], v)
        mask = m if mask is None else pc.and_(mask, m)
    rows = t.filter(mask).to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


def test_groups_by_deprivation_ethnicity_and_core20(make_person_year):
    rows = [
        {
            "imd2019_decile": 1,
            "imd2025_decile": 2,
            "core20": True,
            "ethnic_group": "Asian or Asian British",
            "cond_hypertension": True,
        },
        {"imd2019_decile": 2, "imd2025_decile": 3, "core20": True},
        {"imd2019_decile": 10, "imd2025_decile": 10},
        {"imd2019_decile": None, "imd2025_decile": None},
    ]
    t = ineq.prevalence(make_person_year(rows))
    hyp = t.filter(pc.equal(t["condition"], "hypertension"))
    groups = {(r["dimension"], r["group"]): r["register"] for r in hyp.to_pylist()}
    assert groups[("imd2019_decile", "1")] == 1
    assert groups[("imd2019_quintile", "1")] == 1  # deciles 1 and 2
    assert groups[("imd2025_quintile", "1")] == 1
    assert groups[("core20", "Core20")] == 1 and groups[("core20", "Rest of ICB")] == 0
    assert groups[("ethnic_group", "Asian or Asian British")] == 1
    assert ("imd2019_decile", "Unknown") in groups
    assert _one(hyp, dimension="core20", group="Core20")["denominator"] == 2
    assert set(t["dimension"].to_pylist()) == set(ineq.DIMENSIONS)


def test_standardised_prevalence_removes_age_structure(make_person_year):
    # Each decile has the same age-specific rates (young 0/10, old 5/10) but decile 1 is
    # younger: crude prevalence differs, the ISR is 1 in both.
    rows = [{"imd2019_decile": 1, "age": 20} for _ in range(30)]
    rows += [{"imd2019_decile": 1, "age": 70, "cond_hypertension": i < 5} for i in range(10)]
    rows += [{"imd2019_decile": 10, "age": 20} for _ in range(10)]
    rows += [{"imd2019_decile": 10, "age": 70, "cond_hypertension": i < 15} for i in range(30)]
    t = ineq.prevalence(make_person_year(rows), dimensions=["imd2019_decile"])
    d1 = _one(t, group="1", condition="hypertension")
    d10 = _one(t, group="10", condition="hypertension")
    assert (d1["prevalence"], d10["prevalence"]) == (5 / 40, 15 / 40)
    assert d1["isr"] == pytest.approx(1.0) and d10["isr"] == pytest.approx(1.0)
    assert d1["standardised_prevalence"] == pytest.approx(20 / 80)


def test_cost_per_head_with_ratio_estimator_interval(make_person_year):
    rows = [
        {"ethnic_group": "White", "cost_apc": 100.0},
        {"ethnic_group": "White", "cost_apc": 300.0},
        {"ethnic_group": "White", "cost_gp": 50.0, "exposure_days": 0},  # spend, not population
    ]
    t = ineq.cost_per_head(make_person_year(rows), dimensions=["ethnic_group"])
    r = _one(t, group="White")
    assert (r["spend"], r["persons"], r["cost_per_head"]) == (450.0, 2, 225.0)
    # residuals y - R x: -125, 75, 50 -> sum of squares 23750; v = 3/2 * 23750 / 2^2
    se = math.sqrt(3 / 2 * 23750 / 4)
    assert r["cost_per_head_se"] == pytest.approx(se)
    assert (r["cost_per_head_lower"], r["cost_per_head_upper"]) == pytest.approx(
        (225 - 1.959963984540054 * se, 225 + 1.959963984540054 * se)
    )


def test_emergency_dsr_by_core20(make_person_year):
    rows = [{"core20": True, "age": 2, "emergency_admissions": 2} for _ in range(6)]
    rows += [{"core20": False, "age": 2, "emergency_admissions": 1} for _ in range(6)]
    t = ineq.emergency_admission_dsr(make_person_year(rows), dimensions=["core20"])
    c, rest = _one(t, group="Core20"), _one(t, group="Rest of ICB")
    assert (c["admissions"], rest["admissions"]) == (12, 6)
    py = 6 * 365 / 365.25
    assert c["dsr"] == pytest.approx(5000 * 12 / py)  # one band: weight 5000 of 100,000 x 1e5
    assert math.isnan(rest["dsr"])  # fewer than 10 events


# ---- deprivation gradient ----------------------------------------------------------------


def test_deprivation_gradient_rate_ratio_exact_interval(make_person_year):
    rows = [{"imd2025_decile": 1, "emergency_admissions": 2} for _ in range(10)]
    rows += [{"imd2025_decile": 10, "emergency_admissions": 1} for _ in range(10)]
    rows += [{"imd2025_decile": 5, "emergency_admissions": 7}]  # not in the comparison
    rows += [{"imd2025_decile": 1, "emergency_admissions": 4, "exposure_days": 0}]  # no exposure
    g = ineq.deprivation_gradient(make_person_year(rows)).to_pylist()[0]
    t = 10 * 365 / 365.25
    assert (g["admissions_most"], g["admissions_least"]) == (20, 10)
    assert g["person_years_most"] == pytest.approx(t)
    assert g["rate_most"] == pytest.approx(20 / t)
    assert g["rate_ratio"] == pytest.approx(2.0)
    # independently: Clopper-Pearson for 20 of 30, odds times T10 / T1 (= 1)
    ci = st.binomtest(20, 30).proportion_ci(0.95, method="exact")
    assert g["lower"] == pytest.approx(ci.low / (1 - ci.low))
    assert g["upper"] == pytest.approx(ci.high / (1 - ci.high))
    assert g["dimension"] == "imd2025_decile" and g["fy"] == 2024


def test_rate_ratio_edges():
    ratio, lo, up = ineq.rate_ratio(0, 10.0, 5, 10.0)
    assert ratio == 0 and lo == 0 and up > 0
    ratio, lo, up = ineq.rate_ratio(5, 10.0, 0, 10.0)
    assert math.isinf(ratio) and lo > 0 and math.isinf(up)
    assert all(math.isnan(x) for x in ineq.rate_ratio(0, 10.0, 0, 10.0))
    # unequal person-time scales the odds: 10/5 over 10/20 = 4
    ratio, lo, up = ineq.rate_ratio(10, 5.0, 10, 20.0)
    assert ratio == pytest.approx(4.0) and lo < 4 < up


# ---- SII / RII ----------------------------------------------------------------------------


def _cost_table(values, persons, dimension="imd2019_quintile"):
    n = len(values)
    return pa.table(
        {
            "dimension": [dimension] * n,
            "group": [str(i + 1) for i in range(n)],
            "fy": [2024] * n,
            "persons": persons,
            "cost_per_head": values,
            "cost_per_head_se": [1.0] * n,
        }
    )


def _empty(cols):
    return pa.table(
        {
            c: pa.array(
                [], pa.string() if c in ("dimension", "group", "condition") else pa.float64()
            )
            for c in cols
        }
    )


def test_sii_of_a_straight_line_across_quintiles():
    # equal populations: ranks 0.1 ... 0.9; cost falls 100 per quintile = -500 per unit rank;
    # fitted value at rank 0 is 550, at rank 1 is 50 -> SII -500, RII 50/550
    cost = _cost_table([500.0, 400.0, 300.0, 200.0, 100.0], [100] * 5)
    prev = _empty(
        [
            "dimension",
            "group",
            "condition",
            "fy",
            "standardised_prevalence",
            "denominator",
            "standardised_lower",
            "standardised_upper",
        ]
    )
    em = _empty(["dimension", "group", "fy", "dsr", "person_years", "dsr_lower", "dsr_upper"])
    t = ineq.sii_table(prev, em, cost, repetitions=1000)
    r = _one(t, measure="cost_per_head", dimension="imd2019_quintile")
    assert r["sii"] == pytest.approx(-500.0)
    assert r["rii"] == pytest.approx(50 / 550)
    assert r["sii_lower"] < -500 < r["sii_upper"]
    assert r["quantiles"] == 5 and r["fy"] == 2024
    # deciles are missing from the table: a row, with NaN
    assert math.isnan(_one(t, measure="cost_per_head", dimension="imd2019_decile")["sii"])


def test_sii_is_missing_when_a_quantile_is_missing():
    cost = _cost_table([500.0, 400.0, 300.0, 200.0], [100] * 4)
    prev = _empty(
        [
            "dimension",
            "group",
            "condition",
            "fy",
            "standardised_prevalence",
            "denominator",
            "standardised_lower",
            "standardised_upper",
        ]
    )
    em = _empty(["dimension", "group", "fy", "dsr", "person_years", "dsr_lower", "dsr_upper"])
    t = ineq.sii_table(prev, em, cost, repetitions=1000)
    assert math.isnan(_one(t, measure="cost_per_head", dimension="imd2019_quintile")["sii"])
