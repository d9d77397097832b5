"""The indicator tables the dashboard serves (:mod:`phm.web.datasets`), from ``ind_values``,
``ind_ebi`` and ``ind_shmi``: small aggregates shaped for disclosure control.

- ``dash_indicators``: one row per indicator x area (practice, PCN, place, ICB; ACSC from PCN
  up, :data:`NOT_BY_PRACTICE` says why) x financial year: ``numerator``, ``denominator``,
  ``per`` (the unit's multiplier: 100 for a percentage, 1,000 or 100,000 for a rate; the web
  layer's crude rate is numerator / denominator x per, from the rounded counts) and ``target`` (the ICB's crude rate that year in the unit: the
  funnel's centre line). Evidence-Based Interventions appear one row per intervention
  (``ebi_<intervention>``: spells per 100,000 person-years), with what coming down to the ICB's
  lower quartile or to similar practices' rate would release (:data:`RELEASE`, from ``ind_ebi``).
- ``dash_indicators_standardised``: the indicators whose definition standardises (readmissions:
  indirectly standardised %, ratio to expected; ACSC: directly standardised rate), with the
  numerator the value is withheld with. A crude value is never served exactly: with the
  denominator it would give the exact numerator away (value x denominator / per).
- ``dash_indicators_monthly``: numerator and denominator by calendar month at place and ICB
  level (the SPC charts; practice and PCN months are mostly small numbers), with the days of
  the month the extract covers.
- ``dash_provider_indicators``: the provider-level indicators (readmissions by the trust of
  the index stay, the SHMI, the clinical coding audit), crude, repeated under each ICB of the
  warehouse (a trust serves several ICBs; its figures are the trust's, not the ICB
  population's). The SHMI's denominator is its expected deaths, so its crude rate is the SHMI;
  its rows carry the SHMI's funnel limits and band (``ind_shmi``).
- ``dash_provider_indicators_monthly``: the same by calendar month, with the days of the month
  the extract covers: the providers' SPC charts (the coding audit's changes month on month).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from phm.indicators.codes import indicators, rows
from phm.indicators.values import AREA_LEVELS as _AREA_COLUMNS

AREA_LEVELS = tuple(_AREA_COLUMNS)  # practice, PCN, place, ICB: the levels of ind_values' areas
# Not served by practice: every ACSC admission is an emergency admission, so a practice's ACSC
# counts bound its emergency admissions from below, and disclosure control then withholds
# emergency admissions far more widely (20,000-person ICB: PCN-years with emergency admissions
# shown fell from 26 of 57 to 7). By PCN, place and ICB they cost nothing of the kind.
NOT_BY_PRACTICE = ("acsc_chronic", "acsc_acute", "acsc_vaccine_preventable", "acsc_broad")
MONTHLY_LEVELS = ("place", "icb")
PER = {"%": 100.0, "per 1000": 1000.0, "per 100000": 100_000.0, "ratio": 1.0,
       "secondary diagnoses per spell": 1.0, "spells per 100000 person-years": 100_000.0}
S, I64, F64 = pa.string(), pa.int64(), pa.float64()
# EBI: what coming down to the ICB's lower quartile or to similar practices would release (ind_ebi)
RELEASE = ("lower_quartile_rate", "released_spells", "released_cost", "peer_rate", "peer_released_spells",
           "peer_released_cost")
TYPES = {
    "level": S, "area_code": S, "fy": I64, "indicator": S, "indicator_name": S, "unit": S, "per": F64,
    "numerator": I64, "denominator": F64, "crude_lower": F64, "crude_upper": F64, "target": F64,
    **dict.fromkeys(RELEASE, F64),
}
STANDARDISED_TYPES = {
    "level": S, "area_code": S, "fy": I64, "indicator": S, "indicator_name": S, "unit": S, "numerator": I64,
    "value": F64, "lower": F64, "upper": F64, "expected": F64, "ratio": F64, "ratio_lower": F64,
    "ratio_upper": F64, "reference": S,
}
MONTHLY_TYPES = {"level": S, "area_code": S, "fy": I64, "month": S, "month_days": I64, "indicator": S,
                 "indicator_name": S, "numerator": I64, "denominator": F64}
PROVIDER_TYPES = {
    "level": S, "area_code": S, "fy": I64, "provider_code": S, "indicator": S, "indicator_name": S, "unit": S,
    "per": F64, "numerator": I64, "denominator": F64, "funnel_lower": F64, "funnel_upper": F64, "band": S,
    "reference": S,
}
PROVIDER_MONTHLY_TYPES = {
    "level": S, "area_code": S, "fy": I64, "month": S, "month_days": I64, "provider_code": S, "indicator": S,
    "indicator_name": S, "unit": S, "per": F64, "numerator": I64, "denominator": F64,
}


def _definitions() -> dict[str, dict]:
    """``{indicator: {name, unit, per, standardised}}`` for ``ind_values`` ids and EBI interventions."""
    out = {}
    for r in indicators():
        out[r["id"]] = {"name": r["name"], "unit": r["unit"], "per": PER[r["unit"]],
                        "standardised": not r["standardisation"].lower().startswith("none")}
    ebi = out.pop("ebi")
    for r in rows("ebi_interventions.csv"):
        out.setdefault(f"ebi_{r['intervention']}", {**ebi, "name": f"EBI: {r['name']}", "standardised": False})
    return out


def _table(cols: dict[str, list], types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({k: pa.array(cols.get(k, []), t, from_pandas=True) for k, t in types.items()})


def _order(r: dict, *keys: str) -> tuple:
    """A sort key that puts a null (an area of nobody's, a pooled year) first."""
    return tuple((r[k] is not None, r[k] if r[k] is not None else 0) for k in keys)


def _nan_to_none(v):
    return None if v is None or v != v else v


def icb_of(areas: pa.Table | None) -> dict[tuple[str, str], str]:
    """``{(level, area_code): icb_code}`` from ``dash_areas`` (one row per practice)."""
    out: dict[tuple[str, str], str] = {}
    for r in (areas.to_pylist() if areas is not None else []):
        for level, col in (("practice", "practice_code"), ("pcn", "pcn_code"), ("place", "place_code"),
                           ("icb", "icb_code")):
            if r[col] is not None and r["icb_code"] is not None:
                out[(level, r[col])] = r["icb_code"]
    return out


def area_rows(values: pa.Table, ebi: pa.Table | None, icbs: dict | None = None) -> tuple[pa.Table, pa.Table]:
    """``dash_indicators`` and ``dash_indicators_standardised`` (see the module docstring)."""
    defs = _definitions()
    v = values.filter(pc.and_(pc.is_in(values["level"], pa.array(AREA_LEVELS)), pc.is_null(values["month"])))
    recs = []
    for r in v.to_pylist():
        if r["level"] == "practice" and r["indicator"] in NOT_BY_PRACTICE:
            continue
        d = defs[r["indicator"]]
        per = d["per"]
        std = d["standardised"]
        recs.append({
            "level": r["level"], "area_code": r["area_code"], "fy": r["fy"], "indicator": r["indicator"],
            "indicator_name": d["name"], "unit": r["unit"], "per": per, "numerator": r["numerator"],
            "denominator": r["denominator"], "value": r["value"] if std else None,
            "lower": r["lower"] if std else None, "upper": r["upper"] if std else None,
            "crude_lower": r["crude_lower"], "crude_upper": r["crude_upper"], "expected": r["expected"],
            "ratio": r["ratio"], "ratio_lower": r["ratio_lower"], "ratio_upper": r["ratio_upper"],
            "reference": r["reference"],
        })
    if ebi is not None:
        e = ebi.filter(pc.is_in(ebi["level"], pa.array(AREA_LEVELS)))
        for r in e.to_pylist():
            d = defs[f"ebi_{r['intervention']}"]
            recs.append({
                "level": r["level"], "area_code": r["area_code"], "fy": r["fy"], "indicator": f"ebi_{r['intervention']}",
                "indicator_name": d["name"], "unit": d["unit"], "per": d["per"], "numerator": r["spells"],
                "denominator": r["person_years"], "crude_lower": r["rate_lower"], "crude_upper": r["rate_upper"],
                "reference": "none (crude)", **{k: r.get(k) for k in RELEASE},
            })
    # (an area code of nobody's, people registered nowhere that year, is no area of the dashboard)
    recs = [{k: _nan_to_none(x) for k, x in r.items()} for r in recs if r["area_code"] is not None]
    # the funnel's centre: the crude rate of the area's own ICB, in the unit, for the same
    # indicator and year (``icbs``: the area's ICB; without it, the warehouse's only ICB)
    icb = {(r["area_code"], r["indicator"], r["fy"]): r for r in recs if r["level"] == "icb"}
    only = {c for c, _, _ in icb}
    for r in recs:
        code = (icbs or {}).get((r["level"], r["area_code"])) or (next(iter(only)) if len(only) == 1 else None)
        top = icb.get((code, r["indicator"], r["fy"]))
        r["target"] = (top["numerator"] / top["denominator"] * top["per"]
                       if top and top["denominator"] and top["numerator"] is not None else None)
    recs.sort(key=lambda r: (AREA_LEVELS.index(r["level"]), *_order(r, "area_code", "fy", "indicator")))
    crude = _table({k: [r.get(k) for r in recs] for k in TYPES}, TYPES)
    std = [r for r in recs if defs[r["indicator"]]["standardised"]]
    return crude, _table({k: [r.get(k) for r in std] for k in STANDARDISED_TYPES}, STANDARDISED_TYPES)


def monthly_rows(values: pa.Table, monthly: pa.Table | None) -> pa.Table:
    """``dash_indicators_monthly``: the months of ``ind_values`` at place and ICB level, with
    the days covered from ``dash_monthly`` (the same months and areas)."""
    defs = _definitions()
    v = values.filter(pc.and_(pc.is_in(values["level"], pa.array(MONTHLY_LEVELS)), pc.is_valid(values["month"])))
    days = {}
    if monthly is not None:
        for r in monthly.select(["level", "area_code", "month", "month_days"]).to_pylist():
            days[(r["level"], r["area_code"], r["month"])] = r["month_days"]
    recs = [{"level": r["level"], "area_code": r["area_code"], "fy": r["fy"], "month": r["month"],
             "month_days": days.get((r["level"], r["area_code"], r["month"])), "indicator": r["indicator"],
             "indicator_name": defs[r["indicator"]]["name"], "numerator": r["numerator"],
             "denominator": _nan_to_none(r["denominator"])} for r in v.to_pylist() if r["area_code"] is not None]
    recs.sort(key=lambda r: (MONTHLY_LEVELS.index(r["level"]), *_order(r, "area_code", "month", "indicator")))
    return _table({k: [r[k] for r in recs] for k in MONTHLY_TYPES}, MONTHLY_TYPES)


def provider_rows(values: pa.Table, shmi: pa.Table | None, icbs: list[str]) -> pa.Table:
    """``dash_provider_indicators``: every provider-level row of ``ind_values`` (yearly), under
    each ICB in ``icbs``; the SHMI's rows take its funnel limits and band from ``ind_shmi``."""
    bands = {}
    if shmi is not None:
        for r in shmi.filter(pc.is_valid(shmi["fy"])).to_pylist():
            bands[(r["provider_code"], r["fy"])] = r
    recs = []
    for r, rec in _provider_recs(values, monthly=False):
        rec["band"] = ""  # "" where there is none, so that disclosure control shows it blank, not withheld
        if r["indicator"] == "shmi":
            b = bands.get((r["area_code"], r["fy"]), {})
            rec.update(funnel_lower=b.get("lower_limit"), funnel_upper=b.get("upper_limit"), band=b.get("banding"))
        recs.append({k: _nan_to_none(x) for k, x in rec.items()})
    out = [{**r, "level": "icb", "area_code": icb} for icb in icbs for r in recs]
    out.sort(key=lambda r: _order(r, "area_code", "fy", "provider_code", "indicator"))
    return _table({k: [r.get(k) for r in out] for k in PROVIDER_TYPES}, PROVIDER_TYPES)


def provider_monthly_rows(values: pa.Table, monthly: pa.Table | None, icbs: list[str]) -> pa.Table:
    """``dash_provider_indicators_monthly``: the provider-level rows of ``ind_values`` by
    calendar month (the providers' SPC charts: the coding audit's changes month on month), under
    each ICB in ``icbs``, with the days of the month the extract covers (``dash_monthly``)."""
    days = {}
    if monthly is not None:
        m = monthly.filter(pc.equal(monthly["level"], "icb"))
        for r in m.select(["area_code", "month", "month_days"]).to_pylist():
            days[(r["area_code"], r["month"])] = r["month_days"]
    recs = [{k: _nan_to_none(x) for k, x in {**rec, "month": r["month"]}.items()}
            for r, rec in _provider_recs(values, monthly=True)]
    out = [{**r, "level": "icb", "area_code": icb, "month_days": days.get((icb, r["month"]))}
           for icb in icbs for r in recs]
    out.sort(key=lambda r: _order(r, "area_code", "month", "provider_code", "indicator"))
    return _table({k: [r.get(k) for r in out] for k in PROVIDER_MONTHLY_TYPES}, PROVIDER_MONTHLY_TYPES)


def _provider_recs(values: pa.Table, monthly: bool):
    """``(ind_values row, dashboard row)`` for each provider-level row, yearly or monthly. The
    SHMI's denominator is its expected deaths: the web layer's ratio from the rounded counts is
    then the SHMI itself, and its funnel is read against the expected."""
    defs = _definitions()
    when = pc.is_valid(values["month"]) if monthly else pc.is_null(values["month"])
    for r in values.filter(pc.and_(pc.equal(values["level"], "provider"), when)).to_pylist():
        d = defs[r["indicator"]]
        yield r, {"fy": r["fy"], "provider_code": r["area_code"], "indicator": r["indicator"],
                  "indicator_name": d["name"], "unit": r["unit"], "per": d["per"], "numerator": r["numerator"],
                  "denominator": r["expected"] if r["indicator"] == "shmi" else r["denominator"],
                  "reference": r["reference"]}


def dashboard_tables(tables: dict) -> dict:
    """The five dashboard tables from the built ``tables`` (``ind_values`` and, when built,
    ``ind_ebi``, ``ind_shmi``, ``dash_monthly``, ``dash_areas``)."""
    values = tables["ind_values"]
    icb_rows = values.filter(pc.equal(values["level"], "icb"))
    icbs = sorted({c for c in icb_rows["area_code"].to_pylist() if c is not None})
    crude, standardised = area_rows(values, tables.get("ind_ebi"), icb_of(tables.get("dash_areas")))
    return {
        "dash_indicators": crude,
        "dash_indicators_standardised": standardised,
        "dash_indicators_monthly": monthly_rows(values, tables.get("dash_monthly")),
        "dash_provider_indicators": provider_rows(values, tables.get("ind_shmi"), icbs),
        "dash_provider_indicators_monthly": provider_monthly_rows(values, tables.get("dash_monthly"), icbs),
    }


__all__ = ["dashboard_tables"]
