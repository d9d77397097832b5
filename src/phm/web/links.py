"""Disclosure control over every served dataset at once (docs/governance.md, "Secondary
disclosure"; docs/web.md, "Disclosure control").

Every COUNT and MONEY value of every dataset row is a *cell*. Cells that show one quantity in
two places (:class:`~phm.web.datasets.Same`) are one cell. *Relations* are the additive
constraints an attacker could combine: child areas summing to their parent (practices to a
PCN, PCNs to a place, places to the ICB) for the same year and category, and the margins of
:data:`~phm.web.datasets.RELATIONS` (categories of an area summing to a total in another
table). Primary protection (:func:`phm.disclosure.primary`) runs per dataset; complementary
suppression (:func:`phm.disclosure.suppress_linked`) then runs over all cells and relations
together, so a withheld value stays withheld in every table that shows it and cannot be
recovered from any combination of the others; finally each dataset's standardised values and
ratios are computed from its protected cells (:func:`phm.disclosure.finish`).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from phm.disclosure import SUPPRESSED, Kind, finish, primary, suppress_linked
from phm.web import differencing
from phm.web.datasets import AREA, DATASETS, RELATIONS, Bands, Same, Sum

_ADDITIVE = (Kind.COUNT, Kind.MONEY)


@dataclass
class _Table:
    name: str
    rows: list[dict]
    keys: list[str]  # category key names
    raw: dict[str, list]
    shown: dict[str, list]
    base: dict[str, int]  # column -> index of its first cell

    def cell(self, column: str, i: int) -> int:
        return self.base[column] + i

    def key(self, i: int, names) -> tuple:
        r = self.rows[i]
        return (r["level"], r["area_code"], r["fy"], *(r[k] for k in names))


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.up = list(range(n))

    def find(self, i: int) -> int:
        while self.up[i] != i:
            self.up[i] = self.up[self.up[i]]
            i = self.up[i]
        return i

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.up[max(a, b)] = min(a, b)


def _split(ref: str) -> tuple[str, str]:
    name, _, column = ref.partition(".")
    return name, column


MAX_WORKERS = 8  # processes protecting years at once (each holds one year's tables)


def protect_by_year(
    tables: dict[str, list[dict]], parent: Callable[[tuple[str, str]], tuple[str, str] | None],
    workers: int | None = None,
) -> tuple[dict[str, list[dict]], dict]:
    """:func:`protect_all` for each financial year apart, the years in parallel processes (up
    to ``workers``, default one per year, at most :data:`MAX_WORKERS`: on two cores three
    years as three processes finish sooner than two and then one, 54 s to 45 s on the 10k
    test ICB). Exact: no relation crosses years (the key of every cell a relation joins
    holds ``fy``, and an area's parent is the same in every year),
    so the years are independent problems; together they took longer than apart (the checks
    grow faster than the cells). Rows come back year by year, oldest first; the statistics are
    summed, with each year's audit under ``audit``."""
    years = sorted({r["fy"] for rows in tables.values() for r in rows}, key=lambda y: (y is None, y))
    parts = [{n: [r for r in rows if r["fy"] == y] for n, rows in tables.items()} for y in years]
    workers = min(workers or MAX_WORKERS, len(parts))
    if workers <= 1:
        results = [protect_all(p, parent) for p in parts]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(protect_all, parts, [parent] * len(parts)))
    out = {n: [r for rows, _ in results for r in rows[n]] for n in tables}
    stats = {k: sum(st[k] for _, st in results) for k in ("cells", "relations", "primary", "secondary")}
    stats["audit"] = {y: st["audit"] for y, (_, st) in zip(years, results, strict=True)}
    return out, stats


def protect_all(
    tables: dict[str, list[dict]], parent: Callable[[tuple[str, str]], tuple[str, str] | None]
) -> tuple[dict[str, list[dict]], dict]:
    """Disclosure-control every dataset in ``tables`` (name -> raw rows with ``level``,
    ``area_code``, ``fy``, the dataset's columns and money support columns) together.
    ``parent((level, code))`` is the parent area. Returns the protected rows per dataset and
    statistics (cells, relations, primary and secondary withheld)."""
    t: dict[str, _Table] = {}
    n = 0
    for name, rows in tables.items():
        d = DATASETS[name]
        cols = (*AREA, *d.columns)
        raw, shown = primary(rows, cols)
        base = {}
        for c in cols:
            if c.kind in _ADDITIVE and not c.order_statistic:
                base[c.name] = n
                n += len(rows)
        t[name] = _Table(name, rows, list(d.key_names), raw, shown, base)

    values: list = [None] * n
    released: list = [None] * n
    money = [False] * n
    integer = [False] * n
    for tb in t.values():
        for c, b in tb.base.items():
            is_money = DATASETS[tb.name].column(c).kind is Kind.MONEY
            whole = not is_money and all(v is None or float(v).is_integer() for v in tb.raw[c])
            for i, (v, s) in enumerate(zip(tb.raw[c], tb.shown[c], strict=True)):
                values[b + i], released[b + i], money[b + i], integer[b + i] = v, s, is_money, whole

    uf = _UnionFind(n)
    sums: list[tuple[list[int], list[int], str]] = []  # (total or [], parts, sense)
    for rel in RELATIONS:
        if isinstance(rel, Same):
            _same(t, rel, uf)
    for rel in RELATIONS:
        if isinstance(rel, Sum):
            sums += _sums(t, rel)
        elif isinstance(rel, Bands):
            sums += _bands(t, rel)
    for tb in t.values():
        if DATASETS[tb.name].hierarchical:
            sums += _hierarchy(tb, parent)

    # one cell per quantity: withheld if any copy is (copies have equal values and rules)
    for i in range(n):
        r = uf.find(i)
        if released[i] == SUPPRESSED:
            released[r] = SUPPRESSED
        integer[r] = integer[r] and integer[i]
    canon = {
        tuple(sorted({uf.find(i) for i in (*total, *parts)}))
        for total, parts, sense in sums
        if sense == "="
    }
    canon = [list(rel) for rel in sorted(canon) if len(rel) > 1]
    withheld_before = sum(1 for i in range(n) if uf.find(i) == i and released[i] == SUPPRESSED)
    added = suppress_linked(values, released, canon, money)
    terms, weakened = _terms(sums, uf, values)
    checked = differencing.protect(
        values,
        released,
        terms,
        integer,
        money,
        lambda: suppress_linked(values, released, canon, money),
    )
    checked["weakened"] = weakened

    out = {}
    for tb in t.values():
        for c, b in tb.base.items():
            tb.shown[c] = [released[uf.find(b + i)] for i in range(len(tb.rows))]
        out[tb.name] = finish(tb.rows, (*AREA, *DATASETS[tb.name].columns), tb.raw, tb.shown)
    stats = {
        "cells": sum(1 for i in range(n) if uf.find(i) == i),
        "relations": len(canon),
        "primary": withheld_before,
        "secondary": added + checked["added"],
        "audit": checked,
    }
    return out, stats


def _terms(sums, uf: _UnionFind, values: list) -> tuple[list[differencing.Relation], int]:
    """The relations with a total, over canonical cells, as ``sum(coef * cell) (= or <=) 0``.
    A margin that does not hold exactly on the data (e.g. a parent area with people whose
    practice is unknown) is kept as the bound that does hold; a declared bound that does not
    hold is left out. Returns them and how many were weakened or left out."""
    out = {}
    weakened = 0
    for total, parts, sense in sums:
        if not total:
            continue
        acc: dict[int, float] = {}
        for i in total:
            acc[uf.find(i)] = acc.get(uf.find(i), 0.0) + 1.0
        for i in parts:
            acc[uf.find(i)] = acc.get(uf.find(i), 0.0) - 1.0
        gap = sum(a * float(values[i] or 0) for i, a in acc.items())  # total - parts
        scale = 1e-6 * (1 + sum(abs(a * float(values[i] or 0)) for i, a in acc.items()))
        if sense == "=" and abs(gap) > scale:
            sense, weakened = "<=", weakened + 1
            flip = gap > 0  # parts <= total holds: write parts - total <= 0
        else:
            flip = sense == "<="
            if flip and gap < -scale:  # a declared bound that does not hold here: not used
                weakened += 1
                continue
        terms = tuple(sorted(((-a if flip else a), i) for i, a in acc.items() if a))
        if len(terms) > 1 or (terms and sense == "="):
            out[(terms, sense)] = differencing.Relation(terms, sense)
    return list(out.values()), weakened


def _index(tb: _Table, names) -> dict[tuple, list[int]]:
    idx: dict[tuple, list[int]] = {}
    for i in range(len(tb.rows)):
        idx.setdefault(tb.key(i, names), []).append(i)
    return idx


def _same(t: dict[str, _Table], rel: Same, uf: _UnionFind) -> None:
    (a, ca), (b, cb) = _split(rel.cells), _split(rel.of)
    if a not in t or b not in t:
        return
    ta, tb = t[a], t[b]
    idx = _index(tb, rel.on)
    only = dict(rel.only)
    for i, r in enumerate(ta.rows):
        if ta.raw[ca][i] is None or any(r[k] not in v for k, v in only.items()):
            continue
        for j in idx.get(ta.key(i, rel.on), ())[:1]:
            if tb.raw[cb][j] is not None:
                uf.union(ta.cell(ca, i), tb.cell(cb, j))


def _sums(t: dict[str, _Table], rel: Sum) -> list[tuple[list[int], list[int], str]]:
    (a, ca), (b, cb) = _split(rel.parts), _split(rel.total)
    if a not in t or b not in t:
        return []
    tp, tt = t[a], t[b]
    only = dict(rel.only)
    rename = dict(rel.rename)
    matched = [k for k in rel.by if rename.get(k, k) in tt.keys]
    where = dict(rel.where)
    totals = _index(tt, [*(rename.get(k, k) for k in matched), *where])
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(tp.rows):
        if tp.raw[ca][i] is None or any(r[k] not in v for k, v in only.items()):
            continue
        groups.setdefault(tp.key(i, rel.by), []).append(tp.cell(ca, i))
    out = []
    for key, cells in groups.items():
        total_key = (
            *key[:3],
            *(v for k, v in zip(rel.by, key[3:], strict=True) if k in matched),
            *where.values(),
        )
        total = [tt.cell(cb, j) for j in totals.get(total_key, ())[:1] if tt.raw[cb][j] is not None]
        out.append((total, cells, rel.sense))
    return out


def _band_limits(band: str) -> tuple[int, float]:
    """'5-9' -> (5, 9); '90+' -> (90, inf)."""
    low, _, high = str(band).rstrip("+").partition("-")
    return int(low), float(high) if high else math.inf


def _bands(t: dict[str, _Table], rel: Bands) -> list[tuple[list[int], list[int], str]]:
    (a, ca), (b, cb) = _split(rel.bands), _split(rel.count)
    if a not in t or b not in t:
        return []
    tb, tc = t[a], t[b]
    bands: dict[tuple, list[tuple[int, float, int]]] = {}
    for i, r in enumerate(tb.rows):
        if tb.raw[ca][i] is not None:
            bands.setdefault(tb.key(i, ()), []).append(
                (*_band_limits(r[rel.band_key]), tb.cell(ca, i))
            )
    counts: dict[tuple, dict[int, int]] = {}
    for j, r in enumerate(tc.rows):
        if tc.raw[cb][j] is not None:
            counts.setdefault(tc.key(j, ()), {}).setdefault(int(r[rel.age_key]), tc.cell(cb, j))
    out = []
    for head, by_age in counts.items():
        mine = bands.get(head, [])
        ages = sorted(by_age)
        for age in ages:
            c = by_age[age]
            out.append(
                ([c], [i for low, _, i in mine if low >= age], "<=")
            )  # bands from age <= count
            out.append(
                ([i for _, high, i in mine if high >= age - rel.shift], [c], "<=")
            )  # count <= bands reaching age (less the shift)
        out += [([by_age[lo]], [by_age[hi]], "<=") for lo, hi in itertools.pairwise(ages)]
        # two minimum ages a < b together: an attacker subtracts one count from the other
        for lo, hi in itertools.combinations(ages, 2):
            a, b = by_age[lo], by_age[hi]
            # bands in [lo, hi) + count(hi) <= count(lo) + bands straddling both ages
            out.append(
                (
                    [a, *(i for low, high, i in mine if low < lo and high >= hi)],
                    [b, *(i for low, high, i in mine if low >= lo and high < hi - rel.shift)],
                    "<=",
                )
            )
            # count(lo) <= count(hi) + bands reaching lo that start below hi
            out.append(([b, *(i for low, high, i in mine if high >= lo and low < hi)], [a], "<="))
    return out


def _hierarchy(tb: _Table, parent) -> list[tuple[list[int], list[int], str]]:
    """For each column: the parent area's cell and its children's cells, per year and category."""
    idx = _index(tb, tb.keys)
    children: dict[tuple, list[int]] = {}
    for i, r in enumerate(tb.rows):
        up = parent((r["level"], r["area_code"]))
        if up is not None:
            children.setdefault((*up, *tb.key(i, tb.keys)[2:]), []).append(i)
    out = []
    for key, rows in children.items():
        top = idx.get(key, ())[:1]
        for c in tb.base:
            out.append(
                (
                    [tb.cell(c, j) for j in top if tb.raw[c][j] is not None],
                    [tb.cell(c, j) for j in rows if tb.raw[c][j] is not None],
                    "=",
                )
            )
    return out
