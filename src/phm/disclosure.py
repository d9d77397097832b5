"""Disclosure control for every table that leaves for a non-analyst role.

**Counts** (people, events, records, person-years): NHS England, Hospital Episode Statistics
Analysis Guide / HES disclosure control rules (also applied to ECDS), as adopted in
docs/governance.md, "Disclosure control (outputs)". Sub-national counts 1–7 are shown as
``*``; every other count is rounded to the nearest 5 (0 stays 0); totals are rounded from
unrounded values, never summed from rounded ones; percentages are computed from the rounded
numbers; means need 8+ values; standardised rates need no rounding but are withheld when the
count behind them is 1–7. Non-integer counts (person-years) are exact-rounded half up:
``0 < v < SMALL_MAX + 0.5`` is ``*``, else the nearest multiple of ``ROUND_TO``.

**Money** (spend, cost) is a magnitude table (Hundepool A et al., *Statistical Disclosure
Control*, Wiley 2012, and its open edition, the sdcTools *Handbook on Statistical Disclosure
Control*, chapter 4 "Magnitude tabular data", section 4.2 "Disclosure control concepts for
magnitude tabular data"). A £ cell is withheld (primary) when fewer than
``MONEY_MIN_PEOPLE`` distinct people contribute to it (the threshold rule; 8, as for counts)
or when it fails the p% rule with ``P_PERCENT``: with contributions ``x1 >= x2 >= ...`` and
total ``X``, the cell is sensitive if ``X - x1 - x2 < p/100 * x1`` (the second-largest
contributor could estimate the largest to within p%). Released £ values are rounded to
``MONEY_SIG_FIGS`` significant figures, never finer than ``MONEY_MIN_BASE`` (half up): the
rounding base of a value ``v`` is :func:`money_base`. Support columns ``<name>_people``,
``<name>_top1`` and ``<name>_top2`` of the input rows carry the number of contributing
people and the two largest single-person contributions (written by ``phm build``).

**Secondary (complementary) suppression** (:func:`suppress_linked`) runs over *relations*:
sets of cells with one additive constraint between them (a total and its parts, in one table
or across tables, and across the area hierarchy). In every relation no withheld cell may be
alone, and the withheld cells of a relation must hide enough: for counts, when a primary
``*`` is among them, their sum less one for each other withheld cell must be at least 8 (so
subtracting the released cells can never prove a ``*`` is 1–7); for money, the withheld cells
other than the largest must add up to at least ``P_PERCENT`` of the largest and at least its
rounding base. Cells are added smallest-sufficient first, repeated to a fixed point.
Limitation: a relation with nothing left to add keeps its lone ``*`` (e.g. all other cells
are 0); its total then is ``*`` too or is 0-bounded. The attacker's test
(``tests/web/test_attack.py``) solves the released tables for every withheld cell.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

SMALL_MIN = 1  # smallest count suppressed ...
SMALL_MAX = 7  # ... and largest: counts 1–7 are shown as SUPPRESSED
ROUND_TO = 5  # every other count is rounded to the nearest multiple of this (0 stays 0)
MIN_VALUES_FOR_MEAN = 8  # a mean or per-head value needs this many values behind it
SUPPRESSED = "*"  # shown for a suppressed or withheld value
# Money (magnitude tables): docs/governance.md; Hundepool et al. 2012, section 4.2.
MONEY_MIN_PEOPLE = 8  # threshold rule: a £ value needs this many distinct people behind it
P_PERCENT = 10  # p% rule: sensitive when X - x1 - x2 < P_PERCENT/100 * x1
MONEY_SIG_FIGS = 3  # released £ values are rounded to 3 significant figures ...
MONEY_MIN_BASE = 1000  # ... and never to a base finer than £1,000


class Kind(StrEnum):
    """How a column is protected (see :func:`protect`)."""

    LABEL = "label"  # keys and text: unchanged
    COUNT = "count"  # additive count of people/events/records/person-years
    STANDARDISED = "standardised"  # DSR, ISR, outlier flags: unrounded, withheld with basis
    MONEY = "money"  # £ totals: magnitude rule (people, p%), rounded to 3 s.f.
    RATIO = "ratio"  # %, crude rates, per-head: recomputed from protected parts
    ANALYST_ONLY = "analyst_only"  # never leaves for a non-analyst role


@dataclass(frozen=True)
class Column:
    """One column of a released table. ``label`` defaults to ``name``.

    A MONEY column reads its support columns ``<name>_people``, ``<name>_top1`` and
    ``<name>_top2`` from the input rows, unless ``order_statistic`` (a single order statistic
    of a large population, e.g. a percentile threshold): that is only rounded."""

    name: str
    kind: Kind
    basis: str | None = None  # STANDARDISED: the COUNT column that withholds it
    numerator: str | None = None  # RATIO: a COUNT or MONEY column
    denominator: str | None = None  # RATIO: a COUNT (or MONEY, unless mean) column
    scale: float = 1.0  # RATIO: 100 for a percentage, 100_000 per 100k
    scale_by: str | None = None  # RATIO: a LABEL column whose number also multiplies (a per-row unit)
    mean: bool = False  # RATIO that is a mean: needs MIN_VALUES_FOR_MEAN+ values
    label: str | None = None
    order_statistic: bool = False  # MONEY: rounded only

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))  # ValueError on an unknown kind
        object.__setattr__(self, "label", self.label or self.name)
        kind, where = self.kind, f"column {self.name!r} ({self.kind})"
        if (self.basis is not None) != (kind is Kind.STANDARDISED):
            raise ValueError(f"{where}: basis is required for, and only for, standardised")
        ratio_parts = (self.numerator, self.denominator)
        if kind is Kind.RATIO and None in ratio_parts:
            raise ValueError(f"{where}: a ratio needs a numerator and a denominator")
        if kind is not Kind.RATIO and (ratio_parts != (None, None) or self.mean or self.scale_by):
            raise ValueError(f"{where}: numerator/denominator/mean apply only to ratios")
        if self.order_statistic and kind is not Kind.MONEY:
            raise ValueError(f"{where}: order_statistic applies only to money")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"{where}: scale must be a positive finite number")

    @property
    def support(self) -> tuple[str, str, str]:
        """MONEY: the names of its people, largest and second-largest contribution columns."""
        return f"{self.name}_people", f"{self.name}_top1", f"{self.name}_top2"


def _exact(n: Any) -> int | float | Fraction | None:
    """``n`` as a non-negative int, float or (Decimal, Fraction) exact Fraction; None for
    None/NaN; ValueError otherwise."""
    if type(n) is not int and type(n) is not float:  # fast path for plain numbers
        if n is None:
            return None
        if isinstance(n, bool) or not isinstance(n, numbers.Real | Decimal):
            raise ValueError(f"not a count: {n!r}")
        if n != n:  # NaN (numpy or Decimal)
            return None
        try:
            exact = isinstance(n, Decimal | numbers.Rational)
            n = int(n) if isinstance(n, numbers.Integral) else Fraction(n) if exact else float(n)
        except (OverflowError, ValueError):
            raise ValueError(f"not a finite count: {n!r}") from None
    if n != n:
        return None
    if n < 0 or n == math.inf:
        raise ValueError(f"{'negative' if n < 0 else 'not a finite'} count: {n!r}")
    return int(n) if type(n) is float and n.is_integer() else n


def _round(v: int | float | Fraction | None) -> int | str | None:
    if v is None or v == 0:
        return v if v is None else 0
    if 2 * v < 2 * SMALL_MAX + 1:  # integers SMALL_MIN..SMALL_MAX; non-integers < 7.5
        return SUPPRESSED
    if isinstance(v, float):  # exact: fmod, 2 * r and v - r (v < 2**53 as not integral)
        r = math.fmod(v, ROUND_TO)
        return int(v - r) + (ROUND_TO if 2 * r >= ROUND_TO else 0)
    return int((2 * v + ROUND_TO) // (2 * ROUND_TO)) * ROUND_TO  # nearest, half up


def round_count(n: Any) -> int | str | None:
    """0 -> 0; 1..7 -> "*"; else the nearest multiple of 5 (int). None/NaN -> None.

    Non-integers: ``0 < n < 7.5`` -> "*", else nearest multiple of 5, halves rounded up.
    Negative, infinite or non-numeric (including bool) -> ValueError.
    """
    return _round(_exact(n))


def money_base(v: float) -> int:
    """The rounding base of a £ value: ``MONEY_SIG_FIGS`` significant figures, never finer
    than ``MONEY_MIN_BASE`` (e.g. £3,456 -> 1,000; £123,456 -> 1,000; £1,234,567 -> 10,000)."""
    v = abs(float(v))
    if not math.isfinite(v) or v == 0:
        return MONEY_MIN_BASE
    return max(MONEY_MIN_BASE, 10 ** (math.floor(math.log10(v)) - MONEY_SIG_FIGS + 1))


def round_money(v: Any) -> int | None:
    """A £ value rounded half up to its :func:`money_base` (an int). None/NaN -> None."""
    if v is None or v != v:
        return None
    v = Fraction(v) if isinstance(v, Decimal) else v
    if v < 0 or v == math.inf:
        raise ValueError(f"{'negative' if v < 0 else 'not a finite'} money value: {v!r}")
    base = money_base(v)
    return int((2 * Fraction(v) + base) // (2 * base)) * base


def money_sensitive(total: Any, people: Any, top1: Any, top2: Any) -> bool:
    """True when a £ cell must be withheld: fewer than ``MONEY_MIN_PEOPLE`` contributing people,
    or the p% rule (``total - top1 - top2 < P_PERCENT/100 * top1``). A cell no one contributes
    to (total 0, no people) is not sensitive: it is released as 0."""
    if people is None or people != people:
        return True
    if people == 0 and not total:
        return False
    if people < MONEY_MIN_PEOPLE:
        return True
    x1, x2 = float(top1 or 0.0), float(top2 or 0.0)
    return float(total) - x1 - x2 < P_PERCENT / 100 * x1


def money_sum_sensitive(cells: Sequence[tuple[Any, Any, Any, Any]]) -> bool:
    """:func:`money_sensitive` for the sum of several £ cells ``(total, people, top1, top2)``
    whose contributors may overlap (one person in several settings of a programme), judged
    from the cells' support columns alone, conservatively:

    - people: at least the largest cell's count (a person counted in two cells is one person);
    - p% rule: one person's share of the sum is at most the sum of the cells' ``top1``, and two
      persons' shares together at most the sum of ``top1 + top2`` (in each cell two persons
      hold at most the two largest contributions). The sum is released only if
      ``X - sum(top1 + top2) >= P_PERCENT/100 * sum(top1)``, which implies the rule holds for
      the true two largest contributors.
    """
    if not cells:
        return False
    total = sum(float(c[0] or 0.0) for c in cells)
    if any(c[1] is None or c[1] != c[1] for c in cells):
        return True
    people = max(int(c[1]) for c in cells)
    if people == 0 and not total:
        return False
    if people < MONEY_MIN_PEOPLE:
        return True
    t1 = sum(float(c[2] or 0.0) for c in cells)
    t12 = t1 + sum(float(c[3] or 0.0) for c in cells)
    return total - t12 < P_PERCENT / 100 * t1


def column_kinds(columns: Sequence[Column]) -> dict[str, Kind]:
    """name -> kind for the columns that :func:`protect` releases."""
    return {c.name: c.kind for c in columns if c.kind is not Kind.ANALYST_ONLY}


def _check_references(columns: Sequence[Column]) -> dict[str, Kind]:
    kinds = {c.name: c.kind for c in columns}
    if len(kinds) != len(columns):
        raise ValueError("duplicate column names")
    for c in columns:
        allowed = {Kind.COUNT} if c.mean else {Kind.COUNT, Kind.MONEY}
        refs = [
            (c.basis, {Kind.COUNT}),
            (c.numerator, {Kind.COUNT, Kind.MONEY}),
            (c.denominator, allowed),
        ]
        for ref, ok in refs:
            if ref is not None and kinds.get(ref) not in ok:
                raise ValueError(
                    f"column {c.name!r} refers to {ref!r}, which is not a "
                    f"{'/'.join(sorted(ok))} column of this table"
                )
    return kinds


# ---- secondary suppression over linked relations ------------------------------------------


def _needs(rel: Sequence[int], raw: list, shown: list, primary: list, money: list) -> float | None:
    """How much more a relation must hide: None when it is safe, else the smallest raw value
    one more withheld cell should have (0: any non-zero cell will do)."""
    w = [i for i in rel if shown[i] == SUPPRESSED]
    if not w:
        return None
    values = [float(raw[i] or 0) for i in w]
    if money[rel[0]]:  # the others must hide max(p% of the largest, its base)
        big = max(values)
        short = max(P_PERCENT / 100 * big, money_base(big)) - (sum(values) - big)
        need = short
    elif any(primary[i] for i in w):  # sum - (|W| - 1) >= 8 for the withheld counts
        short = MONEY_MIN_PEOPLE + len(w) - 1 - sum(values)
        need = short + 1  # a cell added also adds one to |W|
    else:
        short = need = 0.0
    if len(w) == 1:
        return max(need, 0.0)
    return need if short > 0 else None


def suppress_linked(
    raw: list, shown: list, relations: Sequence[Sequence[int]], money: list | None = None
) -> int:
    """Complementary suppression, in place, over ``relations`` (lists of indices of cells that
    one additive constraint links: a total and its parts). ``raw`` are the exact values,
    ``shown`` the released ones after primary suppression (``*`` for withheld), ``money[i]``
    whether cell ``i`` is £ (relations hold one kind). Rules in the module docstring; the
    cell added is the smallest released non-zero cell that satisfies the relation (else the
    largest), ties broken by index; relations are revisited first-in first-out until none
    needs more. Returns the number of cells added."""
    money = money if money is not None else [False] * len(raw)
    primary = [v == SUPPRESSED for v in shown]
    member: dict[int, list[int]] = {}
    rels = [list(r) for r in relations if len(r) > 1]
    for k, r in enumerate(rels):
        for i in r:
            member.setdefault(i, []).append(k)
    queue = deque(range(len(rels)))
    queued = [True] * len(rels)
    added = 0
    while queue:
        k = queue.popleft()
        queued[k] = False
        need = _needs(rels[k], raw, shown, primary, money)
        if need is None:
            continue
        candidates = sorted(
            (float(raw[i]), i) for i in rels[k] if shown[i] != SUPPRESSED and raw[i]
        )
        if not candidates:  # nothing left to hide behind: see the module docstring
            continue
        j = next((i for v, i in candidates if v >= need), candidates[-1][1])
        shown[j] = SUPPRESSED
        added += 1
        for k2 in member[j]:
            if not queued[k2]:
                queued[k2] = True
                queue.append(k2)
    return added


def group_relations(keys: Sequence[Sequence[Hashable]]) -> list[list[int]]:
    """Relations from group ids: ``keys[i]`` are the groups row ``i`` belongs to (cells of a
    group sum to a released total that is not itself in the table)."""
    members: dict[Hashable, list[int]] = {}
    for i, row_keys in enumerate(keys):
        for k in row_keys:
            members.setdefault(k, []).append(i)
    return list(members.values())


# ---- one table --------------------------------------------------------------------------


def primary(rows: list[dict], columns: Sequence[Column]) -> tuple[dict[str, list], dict[str, list]]:
    """``(raw, shown)`` of every COUNT and MONEY column: exact values and their primary
    disclosure control (counts rounded or ``*``; money rounded or ``*`` by the magnitude
    rule). Raises ValueError naming the column for a bad value or a missing support column."""
    kinds = _check_references(columns)
    needed = [c for c, k in kinds.items() if k not in (Kind.ANALYST_ONLY, Kind.RATIO)]
    needed += [
        s for c in columns if c.kind is Kind.MONEY and not c.order_statistic for s in c.support
    ]
    for n, row in enumerate(rows):
        if missing := [c for c in needed if c not in row]:
            raise ValueError(f"row {n} has no column(s) {missing}")
    raw: dict[str, list] = {}
    shown: dict[str, list] = {}
    for c in columns:
        try:
            if c.kind is Kind.COUNT:
                raw[c.name] = [_exact(row[c.name]) for row in rows]
                shown[c.name] = [_round(v) for v in raw[c.name]]
            elif c.kind is Kind.MONEY:
                raw[c.name] = [_exact(row[c.name]) for row in rows]
                shown[c.name] = [
                    _money(c, row, v) for row, v in zip(rows, raw[c.name], strict=True)
                ]
        except ValueError as e:
            raise ValueError(f"column {c.name!r}: {e}") from None
    return raw, shown


def _money(c: Column, row: dict, v) -> int | str | None:
    if v is None:
        return None
    if not c.order_statistic and money_sensitive(v, *(row[s] for s in c.support)):
        return SUPPRESSED
    return round_money(v)


def finish(
    rows: list[dict], columns: Sequence[Column], raw: dict[str, list], shown: dict[str, list]
) -> list[dict]:
    """The released rows from the protected COUNT and MONEY values: labels as they are,
    STANDARDISED withheld with their basis, RATIO from the shown parts, ANALYST_ONLY dropped."""
    released = [c for c in columns if c.kind is not Kind.ANALYST_ONLY]
    out: dict[str, list] = {}  # column-wise, then zipped into rows
    for c in released:  # ratios last: they read their parts' protected values
        if c.kind is Kind.LABEL:
            out[c.name] = [row[c.name] for row in rows]
        elif c.kind in (Kind.COUNT, Kind.MONEY):
            out[c.name] = shown[c.name]
        elif c.kind is Kind.STANDARDISED:
            out[c.name] = [
                # a missing value beside a released non-zero count is shown as *, not blank: a
                # blank DSR (none below 10 events) would tell that a count shown as 10 is 8-9
                (SUPPRESSED if isinstance(b, int | float) and b else None) if v is None or v != v
                else SUPPRESSED if b is None or b == SUPPRESSED else v
                for v, b in zip((row[c.name] for row in rows), shown[c.basis], strict=True)
            ]
    for c in (c for c in released if c.kind is Kind.RATIO):
        num, den = out[c.numerator], out[c.denominator]
        den_raw = raw[c.denominator] if c.mean else den  # mean: the denominator is a COUNT
        scales = [row[c.scale_by] for row in rows] if c.scale_by else [1.0] * len(rows)
        out[c.name] = [_ratio(c, *parts) for parts in zip(num, den, den_raw, scales, strict=True)]
    names = [c.name for c in released]
    return [{n: out[n][i] for n in names} for i in range(len(rows))]


def protect(
    rows: list[dict],
    columns: Sequence[Column],
    *,
    groups: Sequence[Callable[[dict], Hashable | None]] = (),
) -> list[dict]:
    """Disclosure-control one released table (a list of row dicts); return new rows.

    Output rows hold only the non-ANALYST_ONLY ``columns``, in that order; other keys are
    dropped, ANALYST_ONLY and RATIO keys need not be in the input (a RATIO there is
    ignored). Each function in ``groups`` maps a row to the id of an additive group
    (rows summing to a released total) or None. Steps: (1) :func:`primary`; (2) secondary
    suppression per COUNT and MONEY column over the groups (:func:`suppress_linked`; a
    missing value is not a cell of any group); (3) :func:`finish`: STANDARDISED shown
    unrounded, ``*`` when the basis is ``*`` (or missing); RATIO = numerator_shown /
    denominator_shown * scale (times the row's ``scale_by`` value), ``*`` if either is ``*``,
    the denominator is 0/None, or (``mean``) the unrounded denominator < MIN_VALUES_FOR_MEAN;
    None when the numerator (or the row's scale) is None. NaN is shown as None. The input rows
    are not modified.
    """
    raw, shown = primary(rows, columns)
    keys = [[(g, gid) for g, f in enumerate(groups) if (gid := f(row)) is not None] for row in rows]
    money = {c.name: c.kind is Kind.MONEY for c in columns}
    for c in raw:
        present = [k if raw[c][i] is not None else [] for i, k in enumerate(keys)]
        suppress_linked(raw[c], shown[c], group_relations(present), [money[c]] * len(rows))
    return finish(rows, columns, raw, shown)


def _ratio(c: Column, num: Any, den: Any, den_raw: Any, scale: Any = 1.0) -> float | str | None:
    if SUPPRESSED in (num, den) or not den or (c.mean and den_raw < MIN_VALUES_FOR_MEAN):
        return SUPPRESSED
    if num is None or scale is None:
        return None
    return float(num) / float(den) * c.scale * float(scale)
