"""Aggregate tables for the web dashboard, so that the web layer never reads patient rows.

Every table is small and ready to serve: areas, a multi-year summary, the population
pyramid, IMD profile, Bridges to Health segments and their resource consumption map, the
top-cost cohort, and inequalities (cost per head, emergency admission DSR, SII/RII) for
every area. Conventions as the other analysis tables (``docs/analysis.md``):

- **Persons**: person-years with ``exposure_days > 0`` in the year (registered and alive
  for at least one day; :func:`._common.registered`), a head count.
- **Spend**: ``cost_total`` (or ``cost_<setting>``) of every person-year of the year, so
  spends add up to the year's total. Every £ column ``M`` has its support columns
  ``M_people``, ``M_top1`` and ``M_top2`` for disclosure control (:mod:`.magnitude`).
- **Areas**: every table stacks the four levels, ``level`` (practice, pcn, place, icb) and
  ``area_code``; person-years with a null code at a level are left out of that level.
  Tables listing groups within an area (pyramid, IMD, segments, settings, cohort groups)
  give every group for every area with person-years in the year, zeros included.
- **Year**: the latest ``fy`` of ``person_year`` (or ``fy``), except ``dash_summary``,
  which has every year.

Each function aggregates in the engine with portable Ibis (DuckDB and Spark alike), fetches
the small result with :func:`phm.warehouse.fetch` and finishes in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pyarrow as pa

from phm.analysis import _measures as ms
from phm.analysis import inequalities
from phm.analysis import magnitude as mg
from phm.analysis._common import (
    DAYS_PER_YEAR,
    ESP_BANDS,
    F64,
    I64,
    LEVELS,
    SETTINGS,
    S,
    as_float,
    as_int,
    col,
    empty_like,
    group_labels,
    level_columns,
    registered,
    resolve_fy,
    rollup,
    strata,
    table,
    year,
)
from phm.model.common import BROAD_BANDS, broad_age_band
from phm.warehouse import fetch

KEYS = list(LEVELS.values())
SEP = "\x1f"  # joins an area code and a group label into one rollup key
IMD_DECILES = (*(str(d) for d in range(1, 11)), "Unknown")
LTC_GROUPS = ("0", "1", "2", "3", "4+")
INEQ_DIMENSIONS = ("imd2019_quintile", "ethnic_group", "core20")
TOP_PERCENTILE = 95
SII_REPETITIONS = 10_000

TABLES = (
    "dash_areas",
    "dash_summary",
    "dash_pyramid",
    "dash_imd",
    "dash_segments",
    "dash_rcm",
    "dash_top_cohort",
    "dash_ineq",
    "dash_ineq_sii",
)

_AREA = {"level": S, "area_code": S, "fy": I64}
AREAS_TYPES = {
    "practice_code": S,
    "practice_name": S,
    "pcn_code": S,
    "pcn_name": S,
    "place_code": S,
    "place_name": S,
    "icb_code": S,
    "persons": I64,
}
SUMMARY_TYPES = {
    **_AREA,
    "persons": I64,
    "person_years": F64,
    **mg.types("spend"),
    "emergency_admissions": I64,
    "ae_attendances": I64,
    "ltc2plus": I64,
    "hri": I64,
    "core20": I64,
    "deaths": I64,
    "age65plus": I64,
}
PYRAMID_TYPES = {**_AREA, "age_band": S, "sex": S, "persons": I64}
IMD_TYPES = {**_AREA, "imd2019_decile": S, "persons": I64}
SEGMENT_TYPES = {
    **_AREA,
    "segment": S,
    "segment_name": S,
    "persons": I64,
    "person_years": F64,
    **mg.types("spend"),
}
RCM_TYPES = {
    **_AREA,
    "segment": S,
    "segment_name": S,
    "setting": S,
    "persons": I64,
    "users": I64,
    **mg.types("spend"),
}
TOP_TYPES = {
    **_AREA,
    "dimension": S,
    "group": S,
    "persons": I64,
    **mg.types("spend"),
    "area_persons": I64,
    **mg.types("area_spend"),
    "threshold": F64,
}
INEQ_TYPES = {
    **_AREA,
    "dimension": S,
    "group": S,
    "persons": I64,
    "person_years": F64,
    **mg.types("spend"),
    "cost_per_head": F64,
    "cost_per_head_se": F64,
    "cost_per_head_lower": F64,
    "cost_per_head_upper": F64,
    "admissions": I64,
    "crude_rate": F64,
    "crude_lower": F64,
    "crude_upper": F64,
    "dsr": F64,
    "dsr_lower": F64,
    "dsr_upper": F64,
}
SII_TYPES = {  # ineq_sii's columns, per area, without condition (no prevalence measure)
    **_AREA,
    **{k: v for k, v in inequalities.SII_TYPES.items() if k not in ("condition", "fy")},
}


# ---- shared helpers --------------------------------------------------------------------


def _by_area(st: pa.Table, by: Sequence[str], measures: Sequence[str], top2: Sequence[str] = ()):
    """``(level, area_code, cells, {measure: vector over cells})`` for every level and area of
    a strata table grouped by the four area codes (and ``by``); null area codes dropped.
    ``top2``: money measures whose top-2 columns are merged (:func:`._common.rollup`)."""
    for name, column in level_columns(tuple(LEVELS)):
        groups, cells, m = rollup(st, column, by, measures, top2)
        for g, area in enumerate(groups):
            if area is not None:
                yield name, area, cells, {k: v[g] for k, v in m.items()}


def _count_if(t, cond):
    """Registered person-years meeting ``cond`` (a null condition counts as false)."""
    return ((t.exposure_days > 0) & cond.coalesce(False)).cast("int64").sum()


def _settings(t) -> list[str]:
    return [s for s in SETTINGS if f"cost_{s}" in t.columns]


def _segment_names() -> tuple[list[str], dict[str, str]]:
    from phm.model.segments import segment_definitions

    defs = segment_definitions().to_pylist()
    return [d["segment"] for d in defs], {d["segment"]: d["name"] for d in defs}


def _ordered(defined: Sequence, seen: Sequence) -> list:
    """``defined`` in order, then anything else seen (sorted, missing last)."""
    extra = sorted({v for v in seen if v not in defined and v is not None}, key=str)
    return [*defined, *extra, *([None] if None in seen else [])]


def _append(out: dict[str, list], row: dict) -> None:
    for k in out:
        out[k].append(row[k])


# ---- dash_areas ------------------------------------------------------------------------


def areas(person_year, ref_practice=None, fy: int | None = None) -> pa.Table:
    """One row per practice with registered persons in the year: its PCN, place and ICB
    codes (as on the person-years) and names from ``ref_practice`` (the code where the
    reference has no name), and ``persons``."""
    t, _ = year(person_year, fy)
    t = t.filter((t.exposure_days > 0) & col(t, "practice_code").notnull())
    st = strata(t, KEYS, [], {"persons": t.count()})
    rows = sorted(st.to_pylist(), key=lambda r: tuple((r[k] is None, r[k] or "") for k in KEYS))
    names = _practice_names(ref_practice, rows)
    out: dict[str, list] = {k: [] for k in AREAS_TYPES}
    for r in rows:
        row = {k: r[k] for k in KEYS}
        for level, code in (
            ("practice", "practice_code"),
            ("pcn", "pcn_code"),
            ("place", "place_code"),
        ):
            c = r[code]
            row[f"{level}_name"] = names[level].get(c) or c
        row["persons"] = int(r["persons"])
        _append(out, row)
    return table(out, AREAS_TYPES)


def _practice_names(ref_practice, rows: list[dict]) -> dict[str, dict]:
    """``{level: {code: name}}`` from the reference practices, for the codes in ``rows``."""
    names: dict[str, dict] = {"practice": {}, "pcn": {}, "place": {}}
    if ref_practice is None or not rows:
        return names
    r = ref_practice
    code = "ref_practice_code" if "ref_practice_code" in r.columns else "practice_code"
    wanted = {k: sorted({x[k] for x in rows if x[k] is not None}) for k in KEYS[:3]}
    cond = r[code].isin(wanted["practice_code"])
    for k, c in (("pcn_code", "pcn_name"), ("place_code", "place_name")):
        if k in r.columns and c in r.columns and wanted[k]:
            cond = cond | r[k].isin(wanted[k])
    cols = {"practice_code": r[code], "practice_name": col(r, "practice_name")}
    for k in ("pcn_code", "pcn_name", "place_code", "place_name"):
        if k in r.columns:
            cols[k] = r[k]
    ref = fetch(r.filter(cond).select(**cols)).to_pylist()
    ref.sort(key=lambda x: x["practice_code"] or "")  # first non-null name wins, deterministically
    for level in names:
        code_col, name_col = f"{level}_code", f"{level}_name"
        for x in ref:
            c, n = x.get(code_col), x.get(name_col)
            if c is not None and n is not None:
                names[level].setdefault(c, n)
    return names


# ---- dash_summary ----------------------------------------------------------------------

_SUMMARY_COUNTS = (
    "emergency_admissions",
    "ae_attendances",
    "ltc2plus",
    "hri",
    "core20",
    "deaths",
    "age65plus",
)


def summary(person_year) -> pa.Table:
    """Per area and financial year (every ``fy`` of ``person_year``): ``persons``,
    ``person_years``, ``spend``, ``emergency_admissions`` and ``ae_attendances`` (of all the
    year's person-years, as spend), ``deaths`` (person-years with ``died_in_year``), and
    registered persons with 2+ long-term conditions (``ltc2plus``), ``hri``, in ``core20``
    and aged 65+ at the year start (``age65plus``). ``spend`` has its support columns
    (:mod:`.magnitude`; a person's contribution is the person-year's ``cost_total``)."""
    py = person_year
    keep = ["exposure_days", "emergency_admissions", "ae_attendances", "ltc_count", "hri"]
    keep += ["core20", "died_in_year", "age"]
    t = mg.contributions(py, [*KEYS, "fy"], {"spend": col(py, "cost_total")}, keep)
    aggs = {
        "units": t.count(),
        "persons": registered(t).sum(),
        "person_years": as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
        **mg.aggregates(t),
        "emergency_admissions": as_int(col(t, "emergency_admissions")).sum(),
        "ae_attendances": as_int(col(t, "ae_attendances")).sum(),
        "ltc2plus": _count_if(t, col(t, "ltc_count") >= 2),
        "hri": _count_if(t, col(t, "hri")),
        "core20": _count_if(t, col(t, "core20")),
        "deaths": col(t, "died_in_year").coalesce(False).cast("int64").sum(),
        "age65plus": _count_if(t, col(t, "age") >= 65),
    }
    st = strata(t, KEYS, ["fy"], aggs)
    out: dict[str, list] = {k: [] for k in SUMMARY_TYPES}
    summed = [k for k in aggs if not k.endswith(("_top1", "_top2"))]
    for level, area, cells, v in _by_area(st, ["fy"], summed, ["spend"]):
        for c, (fy,) in enumerate(cells):
            if v["units"][c] == 0:
                continue
            row = {"level": level, "area_code": area, "fy": fy}
            row["persons"] = int(v["persons"][c])
            row["person_years"] = float(v["person_years"][c])
            row["spend"] = float(v["spend"][c])
            row.update(mg.support(v, "spend", c))
            row.update({k: int(v[k][c]) for k in _SUMMARY_COUNTS})
            _append(out, row)
    return table(out, SUMMARY_TYPES)


# ---- dash_pyramid, dash_imd ------------------------------------------------------------


def pyramid(person_year, fy: int | None = None) -> pa.Table:
    """Registered persons by ESP2013 age band (19 bands, in order) x sex per area; every
    band x sex seen in the year for every area (zeros included), and rows for a missing
    band or sex only where someone has one."""
    t, f = year(person_year, fy)
    st = strata(t, KEYS, ["age_band", "sex"], {"persons": registered(t).sum()})
    sexes = sorted({s for s in st["sex"].to_pylist() if s is not None})
    seen = set(zip(st["age_band"].to_pylist(), st["sex"].to_pylist(), strict=True))
    bands = _ordered(ESP_BANDS, [b for b, _ in seen])
    dense = [(b, s) for b in bands if b is not None for s in sexes]
    known = set(dense)
    rare = [c for c in sorted(seen, key=lambda c: (str(c[0]), str(c[1]))) if c not in known]
    out: dict[str, list] = {k: [] for k in PYRAMID_TYPES}
    for level, area, cells, v in _by_area(st, ["age_band", "sex"], ["persons"]):
        got = dict(zip(cells, v["persons"].tolist(), strict=True))
        for cell in dense + rare:
            n = int(got.get(cell, 0))
            if cell in known or n > 0:
                row = {"level": level, "area_code": area, "fy": f, "age_band": cell[0]}
                _append(out, {**row, "sex": cell[1], "persons": n})
    return table(out, PYRAMID_TYPES)


def imd(person_year, fy: int | None = None) -> pa.Table:
    """Registered persons by IMD 2019 decile (``"1"`` most deprived ... ``"10"``, and
    ``"Unknown"`` for no LSOA) per area, all eleven rows for every area."""
    t, f = year(person_year, fy)
    st = strata(t, KEYS, ["imd2019_decile"], {"persons": registered(t).sum()})
    out: dict[str, list] = {k: [] for k in IMD_TYPES}
    for level, area, cells, v in _by_area(st, ["imd2019_decile"], ["persons"]):
        got: dict[str, float] = {}
        for (d,), n in zip(cells, v["persons"].tolist(), strict=True):
            label = group_labels("imd2019_decile", [d])[0]
            got[label] = got.get(label, 0) + n
        for label in IMD_DECILES:
            row = {"level": level, "area_code": area, "fy": f, "imd2019_decile": label}
            _append(out, {**row, "persons": int(got.get(label, 0))})
    return table(out, IMD_TYPES)


# ---- dash_segments, dash_rcm -----------------------------------------------------------


def segment_strata(person_year, fy: int | None = None) -> tuple[pa.Table, list[str]]:
    """``(strata, settings)``: the year's person-years by the four area codes x segment, with
    registered ``persons``, ``person_years``, ``spend`` (``cost_total``) and per setting
    ``spend_<s>`` (``cost_<s>``), each with its support columns (:mod:`.magnitude`), and
    ``users_<s>`` (registered, ``n_<s> > 0``). One engine query, shared by ``dash_segments``,
    ``dash_rcm`` and ``spend_access_intensity``."""
    t, _ = year(person_year, fy)
    settings = _settings(t)
    money = {"spend": col(t, "cost_total"), **{f"spend_{s}": t[f"cost_{s}"] for s in settings}}
    t = mg.contributions(
        t, [*KEYS, "segment"], money, ["exposure_days", *(f"n_{s}" for s in settings)]
    )
    aggs = {
        "persons": registered(t).sum(),
        "person_years": as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
        **mg.aggregates(t),
    }
    for s in settings:
        aggs[f"users_{s}"] = _count_if(t, col(t, f"n_{s}") > 0)
    return strata(t, KEYS, ["segment"], aggs), settings


def _segment_rows(st: pa.Table, measures: Sequence[str], money: Sequence[str]):
    """``(level, area, segment, label, name, {measure: value})`` for every segment defined (in
    priority order, then any other seen) for every area; ``money`` with its support."""
    order, names = _segment_names()
    segs = _ordered(order, st["segment"].to_pylist())
    summed = [*measures, *mg.measures(money)]
    columns = [*summed, *(f"{m}{x}" for m in money for x in ("_top1", "_top2"))]
    for level, area, cells, v in _by_area(st, ["segment"], summed, money):
        idx = {c[0]: i for i, c in enumerate(cells)}
        for seg in segs:
            i = idx.get(seg)
            vals = {m: (v[m][i] if i is not None else 0.0) for m in columns}
            label = group_labels("segment", [seg])[0]
            yield level, area, label, names.get(seg), vals


def segments(person_year, fy: int | None = None, _strata=None) -> pa.Table:
    """Per area and Bridges to Health segment (:mod:`phm.model.segments`, priority order):
    registered ``persons``, ``person_years`` and ``spend`` (all the year's person-years) with
    its support columns; an area's segment spends add up to its spend in ``dash_summary``."""
    f = resolve_fy(person_year, fy)
    st, _ = _strata or segment_strata(person_year, f)
    out: dict[str, list] = {k: [] for k in SEGMENT_TYPES}
    for level, area, seg, name, v in _segment_rows(st, ["persons", "person_years"], ["spend"]):
        row = {"level": level, "area_code": area, "fy": f, "segment": seg, "segment_name": name}
        row.update(
            persons=int(v["persons"]),
            person_years=float(v["person_years"]),
            spend=float(v["spend"]),
            **mg.support(v, "spend"),
        )
        _append(out, row)
    return table(out, SEGMENT_TYPES)


def rcm(person_year, fy: int | None = None, _strata=None) -> pa.Table:
    """The resource consumption map per area: segment x setting, with ``persons``
    (registered in the segment), ``users`` (of them, those with ``n_<setting> > 0``) and
    ``spend`` (``cost_<setting>`` of all the segment's person-years) with its support."""
    f = resolve_fy(person_year, fy)
    st, settings = _strata or segment_strata(person_year, f)
    measures = ["persons", *(f"users_{s}" for s in settings)]
    money = [f"spend_{s}" for s in settings]
    out: dict[str, list] = {k: [] for k in RCM_TYPES}
    for level, area, seg, name, v in _segment_rows(st, measures, money):
        head = {"level": level, "area_code": area, "fy": f, "segment": seg, "segment_name": name}
        for s in settings:
            row = {**head, "setting": s, "persons": int(v["persons"])}
            row.update(users=int(v[f"users_{s}"]), spend=float(v[f"spend_{s}"]))
            row.update(mg.support(v, f"spend_{s}", name="spend"))
            _append(out, row)
    return table(out, RCM_TYPES)


# ---- dash_top_cohort -------------------------------------------------------------------


def top_cost_threshold(person_year, fy: int | None = None, percentile: int = TOP_PERCENTILE):
    """``(threshold, persons)``: the ``percentile``-th percentile of ``cost_total`` (null as
    0) among the year's registered persons, whole table, by the nearest-rank method: the
    ``k``-th smallest cost, ``k = ceil(percentile / 100 x persons)`` (an observed value, no
    interpolation, so every engine gives the same number). NaN with no persons."""
    t, _ = year(person_year, fy)
    n = int(fetch(registered(t).sum().name("n").as_table()).column(0)[0].as_py() or 0)
    return _threshold(t, n, percentile), n


def _threshold(t, n: int, percentile: int) -> float:
    """The ``k``-th smallest registered cost of ``t`` (``n`` registered person-years), as the
    smallest of the ``n - k + 1`` largest: one engine query."""
    if n == 0:
        return float("nan")
    t = t.filter(t.exposure_days > 0)
    k = -(-percentile * n // 100)  # ceil, in integers
    top = t.select(c=as_float(col(t, "cost_total"))).order_by(ibis.desc("c")).limit(n - k + 1)
    return float(fetch(top.c.min().name("threshold").as_table()).column(0)[0].as_py())


def _ltc_group(ltc):
    return ibis.cases(
        *[(ltc == int(g), g) for g in LTC_GROUPS[:-1]],
        (ltc >= 4, LTC_GROUPS[-1]),
        else_=ibis.null("string"),
    )


def top_cohort(
    person_year, fy: int | None = None, percentile: int = TOP_PERCENTILE, _strata=None
) -> pa.Table:
    """The top-cost cohort per area: registered person-years of the year whose ``cost_total``
    is at or above the ICB-wide ``percentile`` threshold (:func:`top_cost_threshold`).

    Rows by ``dimension``: ``segment``, ``age_band_broad`` (0-17, 18-64, 65-74, 75-84, 85+
    from age at the year start), ``ltc_count`` (0, 1, 2, 3, 4+) with the cohort's ``persons``
    and ``spend`` in each group; ``setting``: ``persons`` = cohort members with contacts
    (``n_<setting> > 0``), ``spend`` = their ``cost_<setting>``. ``area_persons`` and
    ``area_spend``: the cohort in the area; ``threshold``: the pound threshold. Every group for
    every area with person-years in the year (zeros where the area has no cohort member).
    ``spend`` and ``area_spend`` have their support columns (:mod:`.magnitude`; a member's
    contribution is their ``cost_total``, or ``cost_<setting>`` on setting rows).
    """
    t, f = year(person_year, fy)
    # the areas and the number of registered persons: from the segment strata if given
    area_st = _strata[0] if _strata else strata(t, KEYS, [], {"persons": registered(t).sum()})
    n = int(np.asarray(area_st["persons"].to_numpy(zero_copy_only=False), float).sum())
    if n == 0:
        return empty_like(TOP_TYPES)
    threshold = _threshold(t, n, percentile)
    settings = _settings(t)
    c = t.filter((t.exposure_days > 0) & (as_float(col(t, "cost_total")) >= threshold))
    c = c.mutate(
        _age=broad_age_band(col(c, "age")),
        _ltc=_ltc_group(col(c, "ltc_count")),
        _seg=col(c, "segment"),
    )
    money = {"spend": c.cost_total, **{f"spend_{s}": c[f"cost_{s}"] for s in settings}}
    c = mg.contributions(c, [*KEYS, "_seg", "_age", "_ltc"], money, [f"n_{s}" for s in settings])
    aggs = {"persons": c.count(), **mg.aggregates(c)}
    for s in settings:
        aggs[f"users_{s}"] = (col(c, f"n_{s}") > 0).coalesce(False).cast("int64").sum()
    st = strata(c, KEYS, ["_seg", "_age", "_ltc"], aggs)
    seg_order, _ = _segment_names()
    dims = {
        "segment": ("_seg", _ordered(seg_order, st["_seg"].to_pylist())),
        "age_band_broad": (
            "_age",
            _ordered([b for b, _, _ in BROAD_BANDS], st["_age"].to_pylist()),
        ),
        "ltc_count": ("_ltc", _ordered(LTC_GROUPS, st["_ltc"].to_pylist())),
    }
    measures = ["persons", *(f"users_{s}" for s in settings), *mg.measures(list(money))]
    cohort: dict[tuple[str, str], dict] = {}
    for dim, column in [("", None), *((d, col_) for d, (col_, _) in dims.items())]:
        by = [column] if column else []
        for level, area, cells, v in _by_area(st, by, measures, list(money)):
            idx = {cell[0]: i for i, cell in enumerate(cells)} if column else None
            cohort.setdefault((level, area), {})[dim] = (idx, v)  # "": the whole cohort
    out: dict[str, list] = {k: [] for k in TOP_TYPES}
    for level, area, _cells, _v in _by_area(area_st, [], ["persons"]):
        got = cohort.get((level, area))
        totals = {k: x[0] for k, x in got[""][1].items()} if got else None
        head = {"level": level, "area_code": area, "fy": f}
        tail = {
            "area_persons": int(totals["persons"]) if got else 0,
            "area_spend": float(totals["spend"]) if got else 0.0,
            **mg.support(totals, "spend", name="area_spend"),
            "threshold": threshold,
        }
        for dim, (_column, groups) in dims.items():
            idx, v = got[dim] if got else ({}, None)
            for g in groups:
                i = idx.get(g)
                row = {**head, "dimension": dim, "group": group_labels(dim, [g])[0]}
                row["persons"] = int(v["persons"][i]) if i is not None else 0
                row["spend"] = float(v["spend"][i]) if i is not None else 0.0
                _append(
                    out, {**row, **mg.support(v if i is not None else None, "spend", i), **tail}
                )
        for s in settings:
            row = {**head, "dimension": "setting", "group": s}
            row["persons"] = int(totals[f"users_{s}"]) if got else 0
            row["spend"] = float(totals[f"spend_{s}"]) if got else 0.0
            _append(out, {**row, **mg.support(totals, f"spend_{s}", name="spend"), **tail})
    return table(out, TOP_TYPES)


# ---- dash_ineq, dash_ineq_sii ----------------------------------------------------------


def _keyed(st: pa.Table, area: str, dimension: str) -> pa.Table:
    """``st`` with a column ``_key`` = area code + SEP + the group's label, rows with a null
    area code dropped."""
    areas_ = st[area].to_pylist()
    keep = [i for i, a in enumerate(areas_) if a is not None]
    sub = st.take(keep)
    labels = group_labels(dimension, sub[dimension].to_pylist())
    keys = [f"{a}{SEP}{g}" for a, g in zip(sub[area].to_pylist(), labels, strict=True)]
    return sub.append_column("_key", pa.array(keys, S))


def ineq(
    person_year, fy: int | None = None, dimensions: Sequence[str] = INEQ_DIMENSIONS
) -> pa.Table:
    """``ineq_cost_per_head`` and ``ineq_emergency_dsr`` for every area at every level: per
    area, dimension and group, spend per registered person (ratio-estimator SE, normal
    limits) and emergency admissions per 100,000 person-years (crude, Byar's / exact; ESP2013
    DSR, Dobson, NaN below 10). Two engine queries whatever the number of dimensions.
    ``spend`` has its support columns (a contribution: a person-year's ``cost_total``)."""
    t, f = year(person_year, fy)
    keys = [*KEYS, *dimensions]
    em, co = ms.emergency_strata(t, keys), ms.cost_strata(t, keys, support=True)
    out: dict[str, list] = {k: [] for k in INEQ_TYPES}
    for level, column in level_columns(tuple(LEVELS)):
        for d in dimensions:
            e = ms.emergency_stats(_keyed(em, column, d), "_key")
            c = ms.cost_stats(_keyed(co, column, d), "_key")
            erow = {g: i for i, g in enumerate(e["group"])}
            crow = {g: i for i, g in enumerate(c["group"])}
            for key in sorted(set(erow) | set(crow)):
                area, group = key.split(SEP, 1)
                i, j = erow.get(key), crow.get(key)
                row = {"level": level, "area_code": area, "fy": f, "dimension": d, "group": group}
                for k in ms.COST_STAT_COLUMNS:
                    row[k] = c[k][j] if j is not None else (0 if k == "persons" else np.nan)
                row.update(mg.support(c if j is not None else None, "spend", j))
                for k in ms.EMERGENCY_STAT_COLUMNS:
                    if i is not None:
                        row[k] = e[k][i]
                    elif k == "admissions":
                        row[k] = 0
                    elif k != "person_years":
                        row[k] = np.nan
                _append(out, row)
    return table(out, INEQ_TYPES)


def ineq_sii(ineq_t: pa.Table, repetitions: int = SII_REPETITIONS) -> pa.Table:
    """SII and RII across IMD 2019 quintiles for every area, from :func:`ineq`'s rows, by the
    method of :func:`phm.analysis.inequalities.sii_table` (its ``_sii``: emergency admission
    DSR with Dobson limits on person-years, ``"rate"``; cost per head with its SE on persons,
    ``"normal"``), with ``repetitions`` Monte-Carlo draws (fixed seed). NaN where a quintile
    is missing or not usable."""
    dim, q = "imd2019_quintile", inequalities.DEPRIVATION["imd2019_quintile"]
    by: dict[tuple, dict[str, dict]] = {}
    order: list[tuple] = []
    for r in ineq_t.to_pylist():
        k = (r["level"], r["area_code"], r["fy"])
        if k not in by:
            by[k] = {}
            order.append(k)
        if r["dimension"] == dim:
            by[k][r["group"]] = r
    wanted = [str(i) for i in range(1, q + 1)]
    out: dict[str, list] = {k: [] for k in SII_TYPES}
    for k in order:
        groups = by[k]
        rows = None
        if all(w in groups for w in wanted):
            rows = {c: [groups[w][c] for w in wanted] for c in INEQ_TYPES}
        results = {
            "emergency_admission_dsr": inequalities._sii(
                rows, "dsr", "person_years", "rate", repetitions, limits=("dsr_lower", "dsr_upper")
            ),
            "cost_per_head": inequalities._sii(
                rows, "cost_per_head", "persons", "normal", repetitions, se="cost_per_head_se"
            ),
        }
        for measure, r in results.items():
            vals = (
                (np.nan,) * 6
                if r is None
                else (r.sii, r.sii_lower, r.sii_upper, r.rii, r.rii_lower, r.rii_upper)
            )
            row = dict(
                zip(
                    ("sii", "sii_lower", "sii_upper", "rii", "rii_lower", "rii_upper"),
                    vals,
                    strict=True,
                )
            )
            row.update(
                level=k[0], area_code=k[1], fy=k[2], measure=measure, dimension=dim, quantiles=q
            )
            _append(out, row)
    return table(out, SII_TYPES)


# ---- all -------------------------------------------------------------------------------


def dashboard_tables(
    person_year, ref_practice=None, fy: int | None = None, _segment_strata=None,
    across_years: bool = True,
) -> dict[str, pa.Table]:
    """Every dashboard table (:data:`TABLES`) for the year ``fy`` (default: the latest);
    ``_segment_strata``: :func:`segment_strata` of the same year, if already computed.
    ``across_years=False`` leaves out the two that are not one year's (``dash_areas``,
    ``dash_summary``), for the earlier years of a multi-year build."""
    f = resolve_fy(person_year, fy)
    seg = _segment_strata or segment_strata(person_year, f)
    ineq_t = ineq(person_year, f)
    across = {"dash_areas": areas(person_year, ref_practice, f),
              "dash_summary": summary(person_year)} if across_years else {}
    out = {
        **across,
        "dash_pyramid": pyramid(person_year, f),
        "dash_imd": imd(person_year, f),
        "dash_segments": segments(person_year, f, _strata=seg),
        "dash_rcm": rcm(person_year, f, _strata=seg),
        "dash_top_cohort": top_cohort(person_year, f, _strata=seg),
        "dash_ineq": ineq_t,
        "dash_ineq_sii": ineq_sii(ineq_t),
    }
    return {name: out[name] for name in TABLES if name in out}
