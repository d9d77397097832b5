"""Spend: programme budgeting, the resource consumption map, access x intensity, top spenders.

For one financial year (default: the latest in ``person_year``). ``spend`` is every costed
contact of the year (:mod:`phm.model.activity`, :mod:`phm.model.costing`), so an area's or
segment's spends add up to the year's total. ``population`` ("per head") is the registered
population: person-years with ``exposure_days > 0`` (registered and alive for at least a
day of the year), a head count not weighted by exposure; ``person_years`` (exposure / 365.25)
is given beside it for exposure-weighted rates. Spend of people with no registered day in
the year (activity after death or before registration) counts in spend but not in population.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pyarrow as pa

from phm.analysis import magnitude as mg
from phm.analysis._common import (
    DAYS_PER_YEAR,
    F64,
    I64,
    SETTINGS,
    S,
    as_float,
    as_int,
    col,
    empty_like,
    group_labels,
    level_columns,
    plain,
    registered,
    resolve_fy,
    rollup,
    strata,
    table,
    year,
)
from phm.warehouse import fetch

PROGRAMME_TYPES = {
    "level": S,
    "area_code": S,
    "fy": I64,
    "programme": S,
    "programme_name": S,
    "setting": S,
    **mg.types("spend"),
    "contacts": I64,
    "population": I64,
    "person_years": F64,
    "spend_per_head": F64,
}
RCM_TYPES = {
    "fy": I64,
    "segment": S,
    "segment_name": S,
    "setting": S,
    "persons": I64,
    "users": I64,
    "spend": F64,
    "spend_per_person": F64,
    "share_of_spend": F64,
}
ACCESS_TYPES = {
    "level": S,
    "area_code": S,
    "fy": I64,
    "setting": S,
    "population": I64,
    "users": I64,
    **mg.types("spend"),
    "access": F64,
    "intensity": F64,
    "spend_per_head": F64,
    "access_index": F64,
    "intensity_index": F64,
    "spend_per_head_index": F64,
}


def _population(t, keys: Sequence[str]) -> pa.Table:
    return strata(
        t,
        keys,
        [],
        {
            "population": registered(t).sum(),
            "person_years": as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
        },
    )


def programme_budget(
    person_year, activity, level: str | Sequence[str] = "practice", fy: int | None = None
) -> pa.Table:
    """Spend by programme of care x setting per area, and spend per head.

    Activity rows of the year are attributed to the area of the person's person-year
    (practice, PCN, place, ICB; a list of levels is stacked). Programmes of care: the 23
    programme budgeting categories (Department of Health programme budgeting, 2003/04 on;
    NHS England *Programme Budgeting Guidance for CCGs* 2015/16; phm's maps in
    :mod:`phm.model.activity`). ``spend_per_head`` = spend / registered population of the
    area (methods.md section 10). One row per area, programme and setting with activity;
    ``contacts`` counts activity rows. Spend is ICB-commissioned (``activity.funder == "icb"``:
    NHS England-commissioned activity and private patients are not ICB spend).
    ``spend`` has its support columns (:mod:`.magnitude`):
    a person's contribution is their activity cost on the programme in the setting, so
    ``spend_people`` counts persons (``activity.person_id``, never null in the linked mart),
    not contacts.
    """
    t, f = year(person_year, fy)
    levels = level_columns(level)
    keys = [c for _, c in levels]
    # ICB-commissioned activity only, as person_year's costs (phm.model.funding); an activity
    # table without a funder (made before contract 1.1) is all ICB-commissioned
    a = activity.filter(activity.fy == f)
    if "funder" in a.columns:
        a = a.filter(a.funder == "icb")
    # the one pass over activity: each person's cost and contacts per programme x setting
    a = a.group_by(["person_id", "programme", "setting"]).aggregate(
        _cost=as_float(a.cost).sum(), _contacts=a.count()
    )
    # the person's area, not the activity row's own practice_code (the practice that saw them)
    area = {f"_area{i}": k for i, k in enumerate(keys)}
    p = t.select(_pid=t.person_id, **{alias: t[k] for alias, k in area.items()})
    j = a.left_join(p, a.person_id == p._pid)
    j = mg.contributions(j, [*area, "programme", "setting"], {"spend": j._cost}, ["_contacts"])
    agg = fetch(
        j.group_by([*area, "programme", "setting"]).aggregate(
            contacts=j._contacts.sum(), **mg.aggregates(j)
        )
    ).rename_columns({alias: k for alias, k in area.items()})
    pop = _population(t, keys)
    names = _programme_names()
    parts = []
    for name, column in levels:
        measures = ["contacts", *mg.measures(["spend"])]
        groups, cells, m = rollup(agg, column, ["programme", "setting"], measures, ["spend"])
        pg, _, pm = rollup(pop, column, [], ["population", "person_years"])
        pidx = {g: i for i, g in enumerate(pg)}
        out: dict[str, list] = {k: [] for k in PROGRAMME_TYPES}
        for g, group in enumerate(groups):
            i = pidx.get(group)
            popn = pm["population"][i, 0] if i is not None else 0.0
            pyrs = pm["person_years"][i, 0] if i is not None else 0.0
            for c, (prog, setting) in enumerate(cells):
                if m["contacts"][g, c] == 0:
                    continue
                spend = m["spend"][g, c]
                row = {
                    "level": name,
                    "area_code": group_labels(column, [group])[0],
                    "fy": f,
                    "programme": prog,
                    "programme_name": names.get(prog),
                    "setting": setting,
                    "spend": spend,
                    **mg.support(m, "spend", (g, c)),
                    "contacts": int(m["contacts"][g, c]),
                    "population": int(popn),
                    "person_years": pyrs,
                    "spend_per_head": spend / popn if popn > 0 else np.nan,
                }
                for k, v in row.items():
                    out[k].append(v)
        parts.append(table(out, PROGRAMME_TYPES))
    return pa.concat_tables(parts) if parts else empty_like(PROGRAMME_TYPES)


def _programme_names() -> dict[str, str]:
    from phm.model import definitions

    p = definitions.programmes()
    return dict(zip(p["id"].to_pylist(), p["name"].to_pylist(), strict=True))


def _settings(t) -> list[str]:
    return [s for s in SETTINGS if f"cost_{s}" in t.columns]


def resource_consumption_map(person_year, fy: int | None = None) -> pa.Table:
    """Spend by population segment x setting: the resource consumption map.

    Segments: Bridges to Health (Lynn J et al. 2007 Milbank Q 85:185-208;
    :mod:`phm.model.segments`), one per person-year. One row per segment present and
    setting: ``persons`` (registered person-years in the segment), ``users`` (people with
    spend in the setting), ``spend``, ``spend_per_person`` = spend / persons and
    ``share_of_spend`` of the year's total. The rows' spends add up to the year's total.
    """
    from phm.model.segments import segment_definitions

    t, f = year(person_year, fy)
    settings = _settings(t)
    aggs = {"persons": registered(t).sum()}
    for s in settings:
        cost = as_float(t[f"cost_{s}"])
        aggs[f"spend_{s}"] = cost.sum()
        aggs[f"users_{s}"] = (cost > 0).cast("int64").sum()
    st = strata(t, ["segment"], [], aggs)
    rows = {r["segment"]: r for r in st.to_pylist()}
    defs = segment_definitions().to_pylist()
    order = [d["segment"] for d in defs] + sorted(set(rows) - {d["segment"] for d in defs}, key=str)
    names = {d["segment"]: d["name"] for d in defs}
    total = sum(r[f"spend_{s}"] or 0.0 for r in rows.values() for s in settings)
    out: dict[str, list] = {k: [] for k in RCM_TYPES}
    for seg in (s for s in order if s in rows):
        r = rows[seg]
        persons = int(r["persons"] or 0)
        for s in settings:
            spend = float(r[f"spend_{s}"] or 0.0)
            row = {
                "fy": f,
                "segment": seg,
                "segment_name": names.get(seg),
                "setting": s,
                "persons": persons,
                "users": int(r[f"users_{s}"] or 0),
                "spend": spend,
                "spend_per_person": spend / persons if persons else np.nan,
                "share_of_spend": spend / total if total else np.nan,
            }
            for k, v in row.items():
                out[k].append(v)
    return table(out, RCM_TYPES)


def access_intensity(
    person_year, level: str | Sequence[str] = "practice", fy: int | None = None, _strata=None
) -> pa.Table:
    """Spend per head decomposed as access x intensity, per setting and area.

    ``spend_per_head = (users / population) x (spend / users)`` = ``access x intensity``
    (methods.md section 10, finance and allocation: spend per head = spend per patient x
    patients per head). A user is a person with spend in the setting in the year. The ``*_index`` columns
    divide by the same measure over the whole table (the ICB), so ``spend_per_head_index =
    access_index x intensity_index``: an area spends more per head because more of its people
    use the setting, or because each user costs more. ``intensity`` is NaN with no users.
    ``spend`` has its support columns (:mod:`.magnitude`; a person's contribution is the
    person-year's ``cost_<setting>``, so ``spend_people`` = ``users``).

    ``_strata``: ``(strata, settings)`` of the year's person-years with the four area codes
    among their keys, registered ``persons`` and each setting's ``spend_<setting>`` with its
    support columns (``phm.analysis.dashboard.segment_strata``), to save the engine query.
    """
    f = resolve_fy(person_year, fy)
    levels = level_columns(level)
    if _strata is not None:
        st, settings = _strata
    else:
        t, _ = year(person_year, f)
        settings = _settings(t)
        keys = [c for _, c in levels]
        t = mg.contributions(
            t, keys, {f"spend_{s}": t[f"cost_{s}"] for s in settings}, ["exposure_days"]
        )
        st = strata(t, keys, [], {"persons": registered(t).sum(), **mg.aggregates(t)})
    money = [f"spend_{s}" for s in settings]
    parts = []
    for name, column in levels:
        groups, _, m = rollup(st, column, [], ["persons", *mg.measures(money)], money)
        v = {k: mat[:, 0] for k, mat in m.items()}
        out: dict[str, list] = {k: [] for k in ACCESS_TYPES}
        for s in settings:
            pop, users, spend = v["persons"], v[f"spend_{s}_people"], v[f"spend_{s}"]
            icb = _decompose(pop.sum(), users.sum(), spend.sum())
            for g, group in enumerate(groups):
                acc, inten, head = _decompose(pop[g], users[g], spend[g])
                row = {
                    "level": name,
                    "area_code": group_labels(column, [group])[0],
                    "fy": f,
                    "setting": s,
                    "population": int(pop[g]),
                    "users": int(users[g]),
                    "spend": float(spend[g]),
                    **mg.support(v, f"spend_{s}", g, name="spend"),
                    "access": acc,
                    "intensity": inten,
                    "spend_per_head": head,
                    "access_index": _div(acc, icb[0]),
                    "intensity_index": _div(inten, icb[1]),
                    "spend_per_head_index": _div(head, icb[2]),
                }
                for k, val in row.items():
                    out[k].append(val)
        parts.append(table(out, ACCESS_TYPES))
    return pa.concat_tables(parts) if parts else empty_like(ACCESS_TYPES)


def _div(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b != 0 else np.nan


def _decompose(population: float, users: float, spend: float) -> tuple[float, float, float]:
    access = users / population if population > 0 else np.nan
    intensity = spend / users if users > 0 else np.nan
    head = spend / population if population > 0 else np.nan
    return access, intensity, head


def top_costliest(person_year, n: int = 20, fy: int | None = None) -> pa.Table:
    """The ``n`` people with the highest ``cost_total`` in the year (ties: lower person_id first).

    Pseudonymised ``person_id`` only, with age band, sex, segment and practice, their cost
    per setting (``cost_<setting>``) and contacts per setting (``n_<setting>``), and
    ``rank`` (1 = costliest). The head of the High Resource Individuals ranking (NHS England
    HRI definition, as ``hri`` in :mod:`phm.model.person_year`: people ranked by cost, ties by
    ``person_id``).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    t, _ = year(person_year, fy)
    settings = _settings(t)
    q = t.order_by([ibis.desc(t.cost_total), t.person_id]).limit(n)
    q = q.select(
        person_id=q.person_id.cast("int64"),
        fy=q.fy.cast("int64"),
        age_band=col(q, "age_band"),
        sex=col(q, "sex"),
        segment=col(q, "segment"),
        practice_code=col(q, "practice_code"),
        cost_total=as_float(q.cost_total),
        **{f"cost_{s}": as_float(q[f"cost_{s}"]) for s in settings},
        **{f"n_{s}": as_int(q[f"n_{s}"]) for s in settings if f"n_{s}" in q.columns},
    )
    got = plain(fetch(q)).sort_by([("cost_total", "descending"), ("person_id", "ascending")])
    return got.add_column(0, "rank", pa.array(range(1, got.num_rows + 1), I64))
