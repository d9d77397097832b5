"""Costing: which unit cost each contact gets, in a fixed order of precedence.

1. **supplied**: a patient-level cost the provider sent (PLICS), the net ingredient cost of a
   prescription, or the weekly cost of a social care service;
2. **ncc_currency**: the National Cost Collection 2024/25 unit cost of the row's point of
   delivery (NCC department) and currency (HRG, or the community / mental health currency);
3. **ncc_pod**: the activity-weighted average NCC unit cost of the point of delivery, when
   the currency has no unit cost (ungroupable HRGs such as UZ01Z, unknown currencies);
4. **default**: a documented setting default (``definitions/setting_costs.csv``), where NCC
   has no unit cost for the point of delivery at all (GP appointments, outpatient
   attendances, prescriptions without a cost, social care without a weekly cost).

A contact that did not happen (did not attend, cancelled) and has no supplied cost is costed
at zero with source **not_attended**. Costs are rounded to the penny.

Source: NHS England, National Cost Collection 2024/25 national schedule (shipped in
``phm.refdata``); NHS England, Approved Costing Guidance (patient-level costs first).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from phm import refdata
from phm.model.common import fy_label

# Point of delivery -> NCC department (as published in the national schedule).
POD_DEPARTMENT = {
    "EL": "Elective Inpatients",
    "DC": "Daycase",
    "RDN": "Regular Day or Night Admissions",
    "NES": "Non-Elective Inpatient - Short Stay",
    "NEL": "Non-Elective Inpatient - Long Stay",
    "OPPROC": "Outpatient Procedures",
    "AE": "Emergency Care",
    "CHS": "Community Health Service",
    "MHCC": "Mental Health Care Contact",
    "MHBD": "Mental Health Provider Spell",
}
MH_BED_DAY_CURRENCY = "999MHPS"  # NCC mental health provider spell, cluster unknown: a bed day
SOURCES = ("supplied", "ncc_currency", "ncc_pod", "default", "not_attended")


def _pod_table() -> pa.Table:
    pods = sorted(POD_DEPARTMENT)
    return pa.table({"pod": pods, "department_code": [POD_DEPARTMENT[p] for p in pods]})


@lru_cache(maxsize=1)
def ncc_unit_costs() -> pa.Table:
    """``pod``, ``currency_code``, ``unit_cost``: NCC unit costs of the points of delivery phm uses."""
    t = refdata.ncc_unit_costs()
    t = t.filter(pc.is_valid(t["unit_cost"]))
    t = t.join(_pod_table(), "department_code", join_type="inner")
    return t.select(["pod", "currency_code", "unit_cost"]).sort_by([("pod", "ascending"), ("currency_code", "ascending")])


@lru_cache(maxsize=1)
def ncc_pod_costs() -> pa.Table:
    """``pod``, ``pod_unit_cost``: activity-weighted average NCC unit cost of each point of delivery
    (total cost / total activity over the currencies with both published)."""
    t = refdata.ncc_unit_costs()
    t = t.filter(pc.and_(pc.is_valid(t["activity"]), pc.is_valid(t["cost"])))
    g = t.group_by("department_code").aggregate([("cost", "sum"), ("activity", "sum")])
    g = g.join(_pod_table(), "department_code", join_type="inner")
    avg = pc.divide(g["cost_sum"], g["activity_sum"])
    return pa.table({"pod": g["pod"], "pod_unit_cost": avg}).sort_by("pod")


@lru_cache(maxsize=1)
def trim_points() -> pa.Table:
    """``pod``, ``hrg_code``, ``trim_days``, ``per_day_cost``: the length of stay beyond which an
    elective (EL) or non-elective long-stay (NEL) spell has excess bed days, and the cost of each.

    Source: ``refdata.hrg_trimpoints()`` (NHS England National Tariff / NHS Payment Scheme, via
    The Strategy Unit's nhp_data; tariff year not stated). UNVERIFIED reading: its second
    column (labelled "elective") is taken as the long-stay trim point in days for both elective
    and non-elective spells, and its third (labelled "emergency", one value per HRG chapter,
    £230-£424) as the NHS Payment Scheme "per day long stay payment" in pounds, because those
    are the two values the Payment Scheme's APC price tab holds per HRG and the third column's
    values are prices, not lengths of stay. NCC 2023/24 and 2024/25 publish no excess bed day
    costs (whole-spell costs only), so no verified source exists in phm; the build reports the
    share of admitted cost that rests on excess bed days (``excess_bed_day_cost``)."""
    t = refdata.hrg_trimpoints()
    ok = pc.and_(pc.is_valid(t["elective_trimpoint"]), pc.is_valid(t["emergency_trimpoint"]))
    t = t.filter(ok)
    n = t.num_rows
    hrg = t["hrg_code"]
    days = t["elective_trimpoint"].cast(pa.int64())
    per_day = t["emergency_trimpoint"].cast(pa.float64())
    return pa.table({
        "pod": pa.array(["EL"] * n + ["NEL"] * n, pa.string()),
        "hrg_code": pa.concat_arrays([hrg.combine_chunks(), hrg.combine_chunks()]),
        "trim_days": pa.concat_arrays([days.combine_chunks(), days.combine_chunks()]),
        "per_day_cost": pa.concat_arrays([per_day.combine_chunks(), per_day.combine_chunks()]),
    })


def pod_unit_cost(pod: str) -> float | None:
    t = ncc_pod_costs().to_pydict()
    return dict(zip(t["pod"], t["pod_unit_cost"], strict=True)).get(pod)


def social_care_types() -> list[str]:
    """Social care service types with their own default weekly cost (``ASC`` is the catch-all)."""
    t = setting_costs().to_pydict()
    return [p for s, p in zip(t["setting"], t["pod"], strict=True) if s == "social_care" and p != "ASC"]


def gp_pods() -> list[str]:
    """GP appointment costing classes with their own unit cost (``GPAPPT`` is the catch-all)."""
    t = setting_costs().to_pydict()
    return [p for s, p in zip(t["setting"], t["pod"], strict=True) if s == "gp" and p != "GPAPPT"]


def _setting_cost(setting: str, pod: str) -> dict:
    """The ``setting_costs.csv`` row of a setting's point of delivery."""
    for row in setting_costs().to_pylist():
        if (row["setting"], row["pod"]) == (setting, pod):
            return row
    raise KeyError(f"no default cost for {setting} {pod} in setting_costs.csv")


def default_cost(setting: str, pod: str) -> float:
    """The documented default unit cost of a setting's point of delivery."""
    return _setting_cost(setting, pod)["unit_cost"]


@lru_cache(maxsize=1)
def setting_costs() -> pa.Table:
    """``setting``, ``pod``, ``unit_cost``, ``unit``, ``source`` from ``definitions/setting_costs.csv``."""
    with resources.files("phm.model").joinpath("definitions/setting_costs.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return pa.table({
        "setting": [r["setting"] for r in rows], "pod": [r["pod"] for r in rows],
        "unit_cost": pa.array([float(r["unit_cost"]) for r in rows], pa.float64()),
        "unit": [r["unit"] for r in rows], "price_year": pa.array([int(r["price_year"]) for r in rows], pa.int64()),
        "source": [r["source"] for r in rows],
    })


def default_price_year(setting: str, pod: str) -> int:
    """The financial year whose prices a setting default is stated in (``setting_costs.csv``)."""
    return _setting_cost(setting, pod)["price_year"]


# -- price basis -----------------------------------------------------------------------------
NCC_PRICE_YEAR = 2024  # the shipped National Cost Collection schedule is 2024/25


@lru_cache(maxsize=1)
def _growth() -> dict[int, float]:
    with resources.files("phm.model").joinpath("definitions/price_index.csv").open(encoding="utf-8") as f:
        return {int(r["fy"]): float(r["growth_pct"]) / 100 for r in csv.DictReader(f)}


def price_level(fy: int) -> float | None:
    """The NHS cost inflation index (pay and prices) of financial year ``fy``, 2024/25 = 1, from
    ``definitions/price_index.csv`` (PSSRU Unit Costs of Health and Social Care); ``None``
    outside the years the file covers."""
    g = _growth()
    level = 1.0
    if fy > NCC_PRICE_YEAR:
        for y in range(NCC_PRICE_YEAR + 1, fy + 1):
            if y not in g:
                return None
            level *= 1 + g[y]
        return level
    for y in range(fy + 1, NCC_PRICE_YEAR + 1):
        if y not in g:
            return None
        level /= 1 + g[y]
    return level


def price_index(years) -> pa.Table:
    """``fy``, ``price_level`` (2024/25 = 1) and ``price_basis`` for each financial year: every
    reference cost (NCC 2024/25, setting defaults at their own year) is restated to the prices
    of the year the activity happened in; supplied costs stay as sent (the provider's own year).
    A year the index does not cover keeps the reference year's prices and says so."""
    fys, levels, labels = [], [], []
    for y in years:
        level = price_level(y)
        label = fy_label(y)
        fys.append(y)
        levels.append(level if level is not None else 1.0)
        if level is None:
            labels.append(f"{fy_label(NCC_PRICE_YEAR)} prices (no cost index for {label}); supplied costs as sent")
        elif y == NCC_PRICE_YEAR:
            labels.append(f"{label} prices (National Cost Collection {label}); supplied costs as sent")
        else:
            labels.append(f"{label} prices (National Cost Collection {fy_label(NCC_PRICE_YEAR)} restated by the "
                          "NHS cost inflation index); supplied costs as sent")
    return pa.table({"fy": pa.array(fys, pa.int64()), "price_level": pa.array(levels, pa.float64()),
                     "price_basis": pa.array(labels, pa.string())})


def year_price_level(fy, years):
    """The price level of the financial year expression ``fy`` (:func:`price_index` over
    ``years``), as literals in a CASE: no join on the large activity tables."""
    t = price_index(years).to_pydict()
    return ibis.cases(*[(fy == y, lv) for y, lv in zip(t["fy"], t["price_level"], strict=True)],
                      else_=ibis.null("float64"))


def year_price_basis(fy, years):
    """The ``price_basis`` label of the financial year expression ``fy``."""
    t = price_index(years).to_pydict()
    return ibis.cases(*[(fy == y, b) for y, b in zip(t["fy"], t["price_basis"], strict=True)],
                      else_=ibis.null("string"))


def restate(cost, price_year, level_fy):
    """``cost``, stated in the prices of ``price_year`` (an int64 expression; null for a supplied
    cost, which stays as sent), restated to the prices of the activity's year, whose price level
    is ``level_fy`` (null outside the index: the cost is left at its own year's prices)."""
    years = {NCC_PRICE_YEAR, *setting_costs()["price_year"].to_pylist()}  # the years costs are stated in
    levels = [(y, lv) for y in sorted(years) if (lv := price_level(y)) is not None]
    base = ibis.cases(*[(price_year == y, lv) for y, lv in levels], else_=ibis.null("float64"))
    factor = (level_fy / base).coalesce(1.0)
    return ibis.ifelse(price_year.isnull(), cost, (cost * factor).round(2))


def priced(supplied, unit, pod_unit, default, attended=None):
    """Cost (rounded to the penny) and its source, by the precedence above; ``None`` for a tier
    the setting lacks. ``pod_unit`` is a float or an expression; ``default`` a float or expression."""
    tiers = [(supplied.notnull() & (supplied >= 0), supplied, "supplied")]
    if attended is not None:
        tiers.append((~attended, ibis.literal(0.0), "not_attended"))
    if unit is not None:
        tiers.append((unit.notnull(), unit, "ncc_currency"))
    if pod_unit is not None:
        pod_unit = ibis.literal(pod_unit, "float64") if isinstance(pod_unit, float) else pod_unit
        tiers.append((pod_unit.notnull(), pod_unit, "ncc_pod"))
    cost = ibis.cases(*[(c, v) for c, v, _ in tiers], else_=default)
    source = ibis.cases(*[(c, name) for c, _, name in tiers], else_="default")
    return cost.round(2), source
