"""``dash_monthly``: monthly series per area, the points of the dashboard's SPC charts.

One row per area (ICB, place, PCN, practice) and calendar month of the window, with:

- ``emergency_admissions``: continuous inpatient spells with an emergency admission method,
  by admission month (the ``spells`` mart: as ``person_year.emergency_admissions``);
- ``ae_attendances``: A&E attendances (ECDS), by arrival month (as ``person_year``);
- ``elective_admissions``: elective ordinary and day-case admissions (``activity`` setting
  ``apc``, points of delivery ``EL`` and ``DC``), by admission month;
- ``op_attendances``: outpatient attendances (setting ``op``), by appointment month;
- ``spend`` and ``spend_<setting>``: ICB-commissioned cost (funder ``icb``, as
  ``person_year.cost_total`` and ``cost_<setting>``) by activity month, each with its
  support columns (:mod:`.magnitude`) for disclosure control.

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

COUNTS = ("emergency_admissions", "ae_attendances", "elective_admissions", "op_attendances")
MONEY = ("spend", *(f"spend_{s}" for s in SETTINGS))
TYPES = {"level": S, "area_code": S, "fy": I64, "month": S, "month_days": I64,
         **{c: I64 for c in COUNTS}, **{k: v for m in MONEY for k, v in mg.types(m).items()}}


def _month(d):
    return d.truncate("M")


def monthly(person_year, activity, spells, extract_date: dt.date | None = None) -> pa.Table:
    """Every area's monthly series (see the module docstring), for every month with activity."""
    areas = person_year.select("person_id", "fy", *KEYS)
    a = activity.filter(activity.person_id.notnull())
    icb = a.funder == "icb"
    per = a.group_by(["person_id", "fy", _month(a.activity_date).name("month")]).aggregate(
        ae_attendances=a.count(where=a.setting == "ecds"),
        elective_admissions=a.count(where=(a.setting == "apc") & a.pod.isin(("EL", "DC"))),
        op_attendances=a.count(where=a.setting == "op"),
        spend=a.cost.sum(where=icb),
        **{f"spend_{s}": a.cost.sum(where=icb & (a.setting == s)) for s in SETTINGS},
    )
    t = per.join(areas, ["person_id", "fy"])
    t = mg.contributions(t, [*KEYS, "fy", "month"], {m: col(t, m) for m in MONEY},
                         ["ae_attendances", "elective_admissions", "op_attendances"])
    aggs = {c: t[c].sum() for c in ("ae_attendances", "elective_admissions", "op_attendances")}
    st = strata(t, KEYS, ["fy", "month"], {**aggs, **mg.aggregates(t)})
    s = spells.filter(spells.person_id.notnull() & spells.emergency)
    s = s.join(areas, ["person_id", "fy"])
    em = strata(s, KEYS, ["fy", _month(s.admission_date).name("month")],
                {"emergency_admissions": s.count()})
    return _rows(st, em, extract_date)


def _rows(st: pa.Table, em: pa.Table, extract_date: dt.date | None) -> pa.Table:
    counts = {}
    for level, area, cells, v in _by_area(em, ["fy", "month"], ["emergency_admissions"]):
        for c, cell in enumerate(cells):
            counts[(level, area, *cell)] = int(v["emergency_admissions"][c])
    summed = ["ae_attendances", "elective_admissions", "op_attendances", *mg.measures(MONEY)]
    out: dict[str, list] = {k: [] for k in TYPES}
    seen = set()
    for level, area, cells, v in _by_area(st, ["fy", "month"], summed, MONEY):
        for c, (fy, month) in enumerate(cells):
            if month is None:
                continue
            key = (level, area, fy, month)
            seen.add(key)
            row = {"level": level, "area_code": area, "fy": int(fy), "month": month.strftime("%Y-%m"),
                   "month_days": _days(month, extract_date),
                   "emergency_admissions": counts.get(key, 0)}
            row.update({m: int(v[m][c]) for m in summed[:3]})
            for m in MONEY:
                row[m] = round(float(v[m][c]), 2)
                row.update(mg.support(v, m, c))
            _append(out, row)
    for key, n in counts.items():  # a month with emergency admissions and no other activity
        if key not in seen and key[3] is not None:
            level, area, fy, month = key
            row = {"level": level, "area_code": area, "fy": int(fy), "month": month.strftime("%Y-%m"),
                   "month_days": _days(month, extract_date), "emergency_admissions": n,
                   **{m: 0 for m in summed[:3]}}
            for m in MONEY:
                row[m] = 0.0
                row.update(mg.support(None, m))
            _append(out, row)
    t = table(out, TYPES)
    return t.sort_by([("level", "ascending"), ("area_code", "ascending"), ("month", "ascending")])


def _days(month: dt.date, extract_date: dt.date | None) -> int:
    """Days of ``month`` up to the extract date (the whole month when it ends before it)."""
    nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end = nxt if extract_date is None else min(nxt, extract_date + dt.timedelta(days=1))
    return max((end - month).days, 0)


__all__ = ["COUNTS", "MONEY", "TYPES", "monthly"]
