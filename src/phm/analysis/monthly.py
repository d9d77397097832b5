"""``dash_monthly``: monthly series per area, the points of the dashboard's SPC charts.

One row per area (ICB, place, PCN, practice) and calendar month of the window, with:

- ``emergency_admissions``: continuous inpatient spells with an emergency admission method
  (the ``spells`` mart, as ``person_year.emergency_admissions``);
- ``ae_attendances``: A&E attendances (ECDS, as ``person_year``);
- ``elective_admissions``: elective ordinary and day-case admissions (``activity`` setting
  ``apc``, points of delivery ``EL`` and ``DC``);
- ``op_attendances``: outpatient attendances (setting ``op``);
- ``spend`` and ``spend_<setting>``: ICB-commissioned cost (funder ``icb``, as
  ``person_year.cost_total`` and ``cost_<setting>``), each with its support columns
  (:mod:`.magnitude`) for disclosure control.

Each is counted in the month of the date that places it in its financial year
(``activity_date``): the discharge for admitted care (as HES counts finished spells), the
arrival for A&E, the appointment for outpatients, the contact otherwise. So a month belongs to
one financial year, and an area's months sum to its year.

Everything is attributed to the area where the person was registered in that financial year
(``person_year``), as the yearly tables are, so twelve months of an area sum to its
``dash_summary`` year (money to within the pennies of per-person-year rounding). A month of
the window's last year that runs past the extract date is partial; ``month_days`` says how
many of its days the extract covers. Improvement directions and names are data
(``definitions/measures.csv``).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from phm.analysis import magnitude as mg
from phm.analysis._common import I64, S, col, strata, table
from phm.analysis.dashboard import KEYS, _append, _by_area
from phm.model.activity import SETTINGS
from phm.model.parts import slicers

COUNTS = ("emergency_admissions", "ae_attendances", "elective_admissions", "op_attendances")
MONEY = ("spend", *(f"spend_{s}" for s in SETTINGS))
TYPES = {"level": S, "area_code": S, "fy": I64, "month": S, "month_days": I64,
         **{c: I64 for c in COUNTS}, **{k: v for m in MONEY for k, v in mg.types(m).items()}}


def _month_key(d):
    """Year x 12 + month - 1: an integer per calendar month (a cheaper group key than a date)."""
    return (d.year() * 12 + d.month() - 1).cast("int32").name("mkey")


def _with_fy(t):
    """The financial year a month key falls in (April starts it)."""
    return t.mutate(fy=((t.mkey - 3) // 12).cast("int64"))


def monthly(person_year, activity, spells, extract_date: dt.date | None = None, parts: int = 1) -> pa.Table:
    """Every area's monthly series (see the module docstring), for every month with activity.
    ``parts`` > 1 computes the per-person strata in that many slices of the population
    (:mod:`phm.model.parts`; a person is in one slice, so the strata merge exactly)."""
    st, em = [], []
    for cut in slicers(parts):
        s, e = _strata(cut(person_year), cut(activity), cut(spells))
        st.append(s)
        em.append(e)
    return _rows(pa.concat_tables(st), pa.concat_tables(em), extract_date)


def _strata(person_year, activity, spells) -> tuple[pa.Table, pa.Table]:
    areas = person_year.select("person_id", "fy", *KEYS)
    a = activity.filter(activity.person_id.notnull() & activity.activity_date.notnull())
    icb = a.funder == "icb"
    per = a.group_by(["person_id", _month_key(a.activity_date)]).aggregate(
        ae_attendances=a.count(where=a.setting == "ecds"),
        elective_admissions=a.count(where=(a.setting == "apc") & a.pod.isin(("EL", "DC"))),
        op_attendances=a.count(where=a.setting == "op"),
        spend=a.cost.sum(where=icb),
        **{f"spend_{s}": a.cost.sum(where=icb & (a.setting == s)) for s in SETTINGS},
    )
    per = _with_fy(per)
    t = per.join(areas, ["person_id", "fy"])
    t = mg.contributions(t, [*KEYS, "mkey"], {m: col(t, m) for m in MONEY},
                         ["ae_attendances", "elective_admissions", "op_attendances"])
    aggs = {c: t[c].sum() for c in ("ae_attendances", "elective_admissions", "op_attendances")}
    st = strata(t, KEYS, ["mkey"], {**aggs, **mg.aggregates(t)})
    s = spells.filter(spells.person_id.notnull() & spells.emergency & spells.activity_date.notnull())
    s = _with_fy(s.select("person_id", _month_key(s.activity_date)))
    s = s.join(areas, ["person_id", "fy"])
    em = strata(s, KEYS, ["mkey"], {"emergency_admissions": s.count()})
    return st, em


def _month(mkey: int) -> dt.date:
    return dt.date(mkey // 12, mkey % 12 + 1, 1)


def _rows(st: pa.Table, em: pa.Table, extract_date: dt.date | None) -> pa.Table:
    counts = {}
    for level, area, cells, v in _by_area(em, ["mkey"], ["emergency_admissions"]):
        for c, (mkey,) in enumerate(cells):
            if mkey is not None:
                counts[(level, area, mkey)] = int(v["emergency_admissions"][c])
    summed = ["ae_attendances", "elective_admissions", "op_attendances", *mg.measures(MONEY)]
    out: dict[str, list] = {k: [] for k in TYPES}
    seen = set()
    for level, area, cells, v in _by_area(st, ["mkey"], summed, MONEY):
        for c, (mkey,) in enumerate(cells):
            if mkey is None:
                continue
            key = (level, area, mkey)
            seen.add(key)
            row = _head(level, area, mkey, extract_date)
            row["emergency_admissions"] = counts.get(key, 0)
            row.update({m: int(v[m][c]) for m in summed[:3]})
            for m in MONEY:
                row[m] = round(float(v[m][c]), 2)
                row.update(mg.support(v, m, c))
            _append(out, row)
    for key, n in counts.items():  # a month with emergency admissions and no other activity
        if key not in seen:
            row = {**_head(*key, extract_date), "emergency_admissions": n, **{m: 0 for m in summed[:3]}}
            for m in MONEY:
                row[m] = 0.0
                row.update(mg.support(None, m))
            _append(out, row)
    t = table(out, TYPES)
    return t.sort_by([("level", "ascending"), ("area_code", "ascending"), ("month", "ascending")])


def _head(level: str, area: str, mkey: int, extract_date: dt.date | None) -> dict:
    month = _month(int(mkey))
    return {"level": level, "area_code": area, "fy": (int(mkey) - 3) // 12, "month": month.strftime("%Y-%m"),
            "month_days": days_covered(month, extract_date)}


def days_covered(month: dt.date, extract_date: dt.date | None) -> int:
    """Days of ``month`` up to the extract date (the whole month when it ends before it)."""
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end = nxt if extract_date is None else min(nxt, extract_date + dt.timedelta(days=1))
    return max((end - month).days, 0)


__all__ = ["COUNTS", "MONEY", "TYPES", "monthly"]
