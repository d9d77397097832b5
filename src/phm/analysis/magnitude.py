"""Support columns for money cells, so that £ can be released as a magnitude table.

A £ cell shown to anyone but an ICB analyst is a cell of a magnitude table. It may be released
only when enough distinct people contribute to it and no one person dominates it (the p% rule
needs the two largest contributions). The web layer never sees patient rows, so the build
writes three support columns beside every money column ``M``:

- ``M_people`` (int64): distinct persons whose contribution to the cell is > 0;
- ``M_top1``, ``M_top2`` (float64): the largest and second-largest single-person
  contributions, 0.0 when fewer than one or two persons contribute. Two persons with the
  same largest contribution give ``M_top1 == M_top2``.

A person's contribution is the £ of that person that the cell sums (``cost_total`` or
``cost_<setting>`` of a person-year, or a person's activity cost on a programme in a setting),
so ``M`` is the sum of the contributions and ``M - M_top1 - M_top2`` is the rest.

Computed in two halves, like the other area tables. In the engine, :func:`aggregates` gives
per-stratum (the finest grouping: the four area codes plus the table's keys) sums, counts and
top-2s in the strata query itself. On DuckDB the top two are one aggregate, ``max(v, 2)``
(the two largest values, ties kept: DuckDB's ``max(arg, n)``); on other engines (Spark),
:func:`contributions` first gives each row the largest contribution of its stratum (a window
``max``, portable Ibis) and the second is the largest below it, or the largest again when two
persons share it. Both give the same numbers (the DuckDB/Spark parity suite and
``tests/analysis/test_magnitude.py`` check it); the DuckDB aggregate avoids the window's
sort of every contribution row (about 2.5 times faster on a person-month table).
In Python, :func:`phm.analysis._common.rollup` with ``top2=`` merges the strata up the
levels: counts add (a person is in one stratum: one practice per year), and top-2 is
mergeable (the top-2 of a union is the top-2 of the parts' top-2s), so every level is exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.datatypes as dt
from ibis.common.exceptions import IbisError

from phm.analysis._common import F64, I64, as_float, col

SUFFIXES = ("_people", "_top1", "_top2")
_VALUE, _MAX = "_v_", "_m_"


@ibis.udf.agg.builtin(name="max")
def _largest(arg: dt.float64, n: dt.int64) -> dt.Array(dt.float64):
    """DuckDB's ``max(arg, n)``: the ``n`` largest values of the group, largest first."""


def _top_n_aggregate(t) -> bool:
    """Whether ``t``'s engine has :func:`_largest` (DuckDB; an unbound table runs there too)."""
    try:
        return t.get_backend().name == "duckdb"
    except IbisError:  # no single backend (unbound, or tables of several): it cannot run as
        return True  # it is, so either path will do


def types(money: str) -> dict:
    """The column types of money column ``money`` and its support columns, in order."""
    return {money: F64, f"{money}_people": I64, f"{money}_top1": F64, f"{money}_top2": F64}


def contributions(
    t, keys: Sequence[str], money: Mapping[str, ibis.Value], keep: Sequence[str] = ()
):
    """The rows of ``t``, one person's contribution each (a person has at most one row per
    stratum ``keys``), ready for :func:`aggregates`: ``keys`` and ``keep`` (the columns the
    strata's other aggregates read; build them on the returned table), and for each money
    measure ``name -> £ expression`` ``_v_<name>`` (the £, null as 0) and ``_m_<name>`` (the
    stratum's largest).

    ``_m_<name>`` is there only off DuckDB (where :func:`aggregates` takes the top two in one
    aggregate): a window ``max`` partitioned by ``keys`` with no ordering. Every money
    measure shares the one partitioning (a single sort, where a ``row_number`` per measure
    would sort once per measure), and it sees the very values the aggregation then reads,
    so comparing them for equality is exact.
    """
    by = list(dict.fromkeys(keys))
    cols = list(dict.fromkeys([*by, *keep]))
    v = t.select(
        *(col(t, c) for c in cols), **{f"{_VALUE}{m}": as_float(e) for m, e in money.items()}
    )
    if _top_n_aggregate(t):
        return v
    return v.mutate(**{f"{_MAX}{m}": v[f"{_VALUE}{m}"].max().over(group_by=by) for m in money})


def names(t) -> list[str]:
    """The money measures :func:`contributions` prepared in ``t``."""
    return [c[len(_VALUE) :] for c in t.columns if c.startswith(_VALUE)]


def aggregates(t) -> dict:
    """For each money measure of a :func:`contributions` table: ``<name>`` (the sum), and
    ``<name>_people``, ``<name>_top1``, ``<name>_top2`` within the group (the strata keys
    must be the ``keys`` given there). The second largest is the largest again when two
    persons share it (a tie), else the largest of those below it."""
    out = {}
    for m in names(t):
        v = t[f"{_VALUE}{m}"]
        pos = v > 0
        out[m] = v.sum()
        out[f"{m}_people"] = pos.cast("int64").sum()
        if f"{_MAX}{m}" not in t.columns:  # DuckDB: the two largest in one aggregate
            two = _largest(v, 2, where=pos)
            out[f"{m}_top1"] = two[0].coalesce(0.0)
            out[f"{m}_top2"] = two[1].coalesce(0.0)
            continue
        largest = t[f"{_MAX}{m}"]
        top1 = v.max(where=pos).coalesce(0.0)
        at_top = (pos & (v == largest)).cast("int64").sum()
        below = v.max(where=pos & (v < largest)).coalesce(0.0)
        out[f"{m}_top1"] = top1
        out[f"{m}_top2"] = ibis.ifelse(at_top >= 2, top1, below)
    return out


def measures(money: Sequence[str]) -> list[str]:
    """The columns :func:`phm.analysis._common.rollup` sums for ``money`` (pass ``money``
    itself as its ``top2``)."""
    return [c for m in money for c in (m, f"{m}_people")]


def support(v: Mapping | None, money: str, i=None, name: str | None = None) -> dict:
    """``{name_people, name_top1, name_top2}`` (``name`` defaults to ``money``) from rolled-up
    values ``v``: scalars, or vectors / matrices at index ``i``; zeros when ``v`` is None."""
    name = name or money
    if v is None:
        return {f"{name}_people": 0, f"{name}_top1": 0.0, f"{name}_top2": 0.0}

    def at(x):
        return x if i is None else x[i]

    return {
        f"{name}_people": int(at(v[f"{money}_people"])),
        f"{name}_top1": float(at(v[f"{money}_top1"])),
        f"{name}_top2": float(at(v[f"{money}_top2"])),
    }
