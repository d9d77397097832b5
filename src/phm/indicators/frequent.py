"""Frequent A&E attenders and high intensity users, and what else they use (linked settings).

Parameters are data (``definitions/parameters.csv``), not constants: by default a *frequent
attender* has 5 or more A&E attendances in the financial year (methods.md section 5), and a
*high intensity user* is an adult (18 or over at the year start) with more than 20 (NHS England
High Intensity Use programme, adults). Attendances are the person's ECDS rows in the year
(``person_year.ae_attendances``); the 12 months are the financial year, so each year's cohort
is read from one ``person_year`` row per person (the rolling 12 months of a live service
would differ at the edges: phm's choice).

Two outputs:

- rows of ``ind_values`` (:func:`frequent_values`): the cohort per 1,000 registered people
  (``value``; Wilson limits on the proportion, Wilson 1927; PHE Technical Guide *Confidence
  intervals*), by area and by IMD quintile and ethnic group;
- ``ind_frequent_attenders`` (:func:`cohort_profile`): per area, year and cohort, the people,
  their A&E attendances and share of everyone's, their emergency admissions, and their
  activity and cost in every setting, so a commissioner sees the whole of their care.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from phm import stats
from phm.analysis._common import SETTINGS, table
from phm.indicators.codes import rows
from phm.indicators.values import AREA_LEVELS, EQUITY_LEVELS, TYPES, fy_label
from phm.warehouse import fetch

COHORTS = ("frequent_ae_attenders", "high_intensity_users")


def parameters() -> dict[str, float]:
    """``{name: value}`` from ``definitions/parameters.csv``."""
    return {r["name"]: float(r["value"]) for r in rows("parameters.csv")}


def cohort_flags(person_year):
    """``person_year`` rows of registered people with ``frequent_ae_attenders`` and
    ``high_intensity_users`` (booleans) by :func:`parameters`."""
    p = parameters()
    t = person_year.filter(person_year.exposure_days > 0)
    return t.mutate(
        frequent_ae_attenders=t.ae_attendances >= int(p["frequent_min_attendances"]),
        high_intensity_users=(t.ae_attendances > int(p["high_intensity_over_attendances"]))
        & (t.age >= int(p["high_intensity_min_age"])),
    )


def frequent_values(person_year) -> pa.Table:
    """``ind_values`` rows: each cohort per 1,000 registered people, by area and equity group."""
    t = cohort_flags(person_year)
    levels = {**AREA_LEVELS, **EQUITY_LEVELS}
    keys = list(dict.fromkeys([*levels.values(), "fy"]))
    st = fetch(t.group_by(keys).aggregate(
        people=t.count(), **{c: t[c].cast("int64").sum() for c in COHORTS}))
    parts = []
    for level, column in levels.items():
        g = st.group_by([column, "fy"], use_threads=False).aggregate(
            [("people", "sum"), *[(c, "sum") for c in COHORTS]])
        n = g.column("people_sum").to_numpy().astype(float)
        fy = g.column("fy").to_pylist()
        area = [None if a is None else str(a) for a in g.column(column).to_pylist()]
        for c in COHORTS:
            x = g.column(f"{c}_sum").to_numpy().astype(float)
            lo, hi = stats.wilson_ci(x, n)
            nan = np.full(len(n), np.nan)
            k = len(n)
            parts.append(table({
                "indicator": [c] * k, "level": [level] * k, "area_code": area,
                "period": [fy_label(f) for f in fy], "fy": fy, "month": [None] * k,
                "numerator": x.astype(np.int64), "denominator": n,
                "value": 1000 * x / n, "lower": 1000 * lo, "upper": 1000 * hi,
                "crude": 1000 * x / n, "crude_lower": 1000 * lo, "crude_upper": 1000 * hi,
                "expected": nan, "ratio": nan, "ratio_lower": nan, "ratio_upper": nan,
                "unit": ["per 1,000 registered"] * k, "reference": ["none"] * k,
            }, TYPES))
    return pa.concat_tables(parts)


PROFILE_TYPES = {
    "level": pa.string(), "area_code": pa.string(), "fy": pa.int64(), "cohort": pa.string(),
    "people": pa.int64(), "registered": pa.int64(), "ae_attendances": pa.int64(),
    "ae_share_of_area": pa.float64(), "emergency_admissions": pa.int64(),
    **{f"n_{s}": pa.int64() for s in SETTINGS}, **{f"cost_{s}": pa.float64() for s in SETTINGS},
    "cost_total": pa.float64(),
}


def cohort_profile(person_year) -> pa.Table:
    """``ind_frequent_attenders``: per area (practice, PCN, place, ICB), year and cohort, the
    people and their activity and cost in every setting (patient rows aggregated in the
    engine; one query)."""
    t = cohort_flags(person_year)
    sums = ["ae_attendances", "emergency_admissions", *[f"n_{s}" for s in SETTINGS],
            *[f"cost_{s}" for s in SETTINGS], "cost_total"]
    keys = [*AREA_LEVELS.values(), "fy"]
    aggs = {"registered": t.count(), "all_ae": t.ae_attendances.sum()}
    for c in COHORTS:
        aggs[f"{c}__people"] = t[c].cast("int64").sum()
        for s in sums:
            aggs[f"{c}__{s}"] = t[s].cast("float64").sum(where=t[c])
    st = fetch(t.group_by(keys).aggregate(**aggs))
    out = []
    for level, column in AREA_LEVELS.items():
        g = st.group_by([column, "fy"], use_threads=False).aggregate(
            [(c, "sum") for c in st.column_names if c not in keys])
        k = g.num_rows
        all_ae = g.column("all_ae_sum").to_numpy(zero_copy_only=False).astype(float)
        for c in COHORTS:
            col = {s: np.nan_to_num(g.column(f"{c}__{s}_sum").to_numpy(zero_copy_only=False).astype(float))
                   for s in sums}
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(all_ae > 0, col["ae_attendances"] / all_ae, np.nan)
            out.append(table({
                "level": [level] * k, "area_code": g.column(column).to_pylist(), "fy": g.column("fy").to_pylist(),
                "cohort": [c] * k,
                "people": np.nan_to_num(g.column(f"{c}__people_sum").to_numpy(zero_copy_only=False)).astype(np.int64),
                "registered": g.column("registered_sum").to_numpy().astype(np.int64),
                "ae_attendances": col["ae_attendances"].astype(np.int64), "ae_share_of_area": share,
                "emergency_admissions": col["emergency_admissions"].astype(np.int64),
                **{f"n_{s}": col[f"n_{s}"].astype(np.int64) for s in SETTINGS},
                **{f"cost_{s}": col[f"cost_{s}"].round(2) for s in SETTINGS},
                "cost_total": col["cost_total"].round(2),
            }, PROFILE_TYPES))
    return pa.concat_tables(out)


__all__ = ["COHORTS", "PROFILE_TYPES", "cohort_flags", "cohort_profile", "frequent_values", "parameters"]
