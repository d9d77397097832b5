"""What every mart shares: the analysis window, date cleaning and de-duplication."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pyarrow as pa

from phm.schema import contract, raw_schema

# HES null and invalid-date sentinels (HES Data Dictionary): they mean "no date".
SENTINELS = (dt.date(1800, 1, 1), dt.date(1801, 1, 1))


@dataclass(frozen=True)
class Window:
    """The financial years the marts cover: ``years`` whole years ending with the one that
    holds the extract date. A financial year runs 1 April to 31 March and is named by the
    year it starts in (2024 is 2024/25)."""

    first: int
    last: int
    extract_date: dt.date

    @classmethod
    def ending(cls, extract_date: dt.date, years: int = 3) -> Window:
        if years < 1:
            raise ValueError("the analysis window needs at least one financial year")
        last = fy_of(extract_date)
        return cls(first=last - years + 1, last=last, extract_date=extract_date)

    @property
    def years(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    @property
    def start(self) -> dt.date:
        return dt.date(self.first, 4, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the window (31 March), or the extract date if that is earlier."""
        return min(dt.date(self.last + 1, 3, 31), self.extract_date)

    def table(self) -> pa.Table:
        """One row per financial year: ``fy`` (start year), ``fy_label``, ``fy_start``, ``fy_end``
        and ``fy_days``. The last year ends at the extract date if the extract is part-year."""
        ends = [min(dt.date(y + 1, 3, 31), self.extract_date) for y in self.years]
        starts = [dt.date(y, 4, 1) for y in self.years]
        return pa.table({
            "fy": pa.array(self.years, pa.int64()),
            "fy_label": pa.array([fy_label(y) for y in self.years], pa.string()),
            "fy_start": pa.array(starts, pa.date32()),
            "fy_end": pa.array(ends, pa.date32()),
            "fy_days": pa.array([(e - s).days + 1 for s, e in zip(starts, ends, strict=True)], pa.int64()),
        })


def fy_of(d: dt.date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def fy_label(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


def fy_expr(d):
    """The financial year (start year) of a date expression."""
    return (d.year() - ibis.ifelse(d.month() < 4, 1, 0)).cast("int64")


def clean_date(d):
    """A date with the HES sentinels read as missing."""
    return ibis.ifelse(d.isin([ibis.literal(s) for s in SENTINELS]), ibis.null("date"), d)


def clean_dates(t, columns):
    return t.mutate(**{c: clean_date(t[c]) for c in columns if c in t.columns})


def deduplicate(t, dataset: str, loads=None, prefer=(), extra_key=None):
    """One row per natural key of ``dataset``: exact and near duplicates collapse, and a
    resubmitted record replaces the earlier one. Which row wins, in order: the ``prefer``
    expressions (each true beats false; for episodes, a finished episode beats an unfinished
    one), then the source loaded last (``loads``: :func:`load_order`, from the load ledger, so a
    refreshed extract wins whatever its file name), then the latest line of that source.
    Without ``loads`` the source name stands in for load order. ``extra_key`` (name ->
    expression) adds to the natural key.
    Datasets without a natural key (GP events and appointments, prescriptions) are kept whole:
    identical rows there are genuine repeat activity."""
    key = contract(dataset).natural_key
    if not key:
        return t
    prefer_cols = {f"_prefer{i}": p.cast("int8") for i, p in enumerate(prefer)}
    extra_key = extra_key or {}
    t = t.mutate(**prefer_cols, **extra_key)
    key = [*key, *extra_key]
    if loads is not None:
        t = t.left_join(loads, t._source == loads.source).select(*t.columns, _load_seq=loads.load_seq.coalesce(-1))
    else:
        t = t.mutate(_load_seq=ibis.literal(0, "int64"))
    order = [ibis.desc(t[c]) for c in prefer_cols] + [ibis.desc(t._load_seq), ibis.desc(t._source), ibis.desc(t._line)]
    w = ibis.window(group_by=[t[k] for k in key], order_by=order)
    return t.mutate(_rank=ibis.row_number().over(w)).filter(ibis._._rank == 0).drop(
        "_rank", "_load_seq", *prefer_cols, *extra_key)


def load_order(ledger):
    """``source`` -> ``load_seq`` (1 = loaded first) for the sources currently loaded, from the
    load ledger table: the order phm actually loaded them (time of load), not their names."""
    cur = ledger.filter(ledger.status == "current")
    w = ibis.window(order_by=[cur.loaded_at, cur.source])
    return cur.select(source=cur.source, load_seq=ibis.row_number().over(w) + 1)


def with_contract_columns(t, dataset: str):
    """``t`` with every column of the current contract, missing ones as typed nulls: a raw table
    loaded under an older contract version reads as the current shape."""
    schema = raw_schema(dataset)
    missing = {f.name: ibis.null(ibis.dtype(f.type)) for f in schema if f.name not in t.columns}
    return t.mutate(**missing) if missing else t


def age_at(dob, on: dt.date):
    """Whole years of age on the date ``on`` (a Python date)."""
    md = on.month * 100 + on.day
    return (on.year - dob.year() - ibis.ifelse(dob.month() * 100 + dob.day() > md, 1, 0)).cast("int64")


def age_on(dob, on):
    """Whole years of age on the date expression ``on``."""
    return (on.year() - dob.year() - ibis.ifelse(dob.month() * 100 + dob.day() > on.month() * 100 + on.day(), 1, 0)).cast("int64")


def age_in_year(dob, year_start):
    """Age at the start of a financial year, never below 0: a baby born during the year is 0
    (in the 0-4 band of every age-standardised rate), not -1."""
    return ibis.greatest(age_on(dob, year_start), 0)


ESP_BANDS = (*tuple(f"{5 * i}-{5 * i + 4}" for i in range(18)), "90+")


def age_band(age):
    """The 19 five-year bands of the European Standard Population 2013 (0-4 ... 85-89, 90+)."""
    idx = ibis.least(age // 5, 18)
    return ibis.cases(*[(idx == i, label) for i, label in enumerate(ESP_BANDS)], else_=ibis.null("string"))


BROAD_BANDS = (("0-17", 0, 17), ("18-64", 18, 64), ("65-74", 65, 74), ("75-84", 75, 84), ("85+", 85, 200))


def broad_age_band(age):
    return ibis.cases(*[((age >= lo) & (age <= hi), label) for label, lo, hi in BROAD_BANDS],
                      else_=ibis.null("string"))


def lookup(t, ref, on, **take):
    """Left-join ``ref`` to ``t`` and add ``take`` (new name -> ref column). ``on`` is a list of
    ``(left, right)`` pairs: ``left`` a column name or an expression over ``t``, ``right`` a
    column of ``ref``. ``ref`` must be unique on the right-hand keys."""
    r = ref.select(**{f"_key{i}": ref[rc] for i, (_, rc) in enumerate(on)}, **{k: ref[v] for k, v in take.items()})
    preds = [(t[lc] if isinstance(lc, str) else lc) == r[f"_key{i}"] for i, (lc, _) in enumerate(on)]
    return t.left_join(r, preds).select(*t.columns, *take)


def drop_right(t):
    """Drop the ``*_right`` key copies an Ibis join leaves behind."""
    return t.drop(*[c for c in t.columns if c.endswith("_right")])
