"""Disclosure control for every table that leaves for a non-analyst role.

Rules: NHS England, Hospital Episode Statistics Analysis Guide / HES disclosure control
rules (also applied to ECDS), as adopted in docs/governance.md, "Disclosure control
(outputs)". Sub-national counts 1–7 are shown as ``*``; every other count is rounded to
the nearest 5 (0 stays 0); totals are rounded from unrounded values, never summed from
rounded ones; percentages are computed from the rounded numbers; means need 8+ values;
standardised rates need no rounding but are withheld when the count behind them is 1–7.

Non-integer counts (person-years) are exact-rounded half up: ``0 < v < SMALL_MAX + 0.5``
is ``*`` (anything non-zero that would show as 1–7), else the nearest multiple of
``ROUND_TO``. Integers never tie, so for them this is exactly the HES rule.

Secondary (complementary) suppression stops a ``*`` being recovered by subtracting its
siblings from a released total: within each additive group no cell may be the only
``*``. Limitation: a group whose only ``*`` has no non-zero unsuppressed sibling keeps
it (nothing could be suppressed). Its total then equals that one cell (the rest are 0):
for a primary ``*`` the total is 1–7 and is itself ``*``; for a secondary ``*`` the
total releases the cell's rounded value, so a caller releasing that total should treat
it as a cell of a group too (or withhold it).
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


class Kind(StrEnum):
    """How a column is protected (see :func:`protect`)."""

    LABEL = "label"  # keys and text: unchanged
    COUNT = "count"  # additive count of people/events/records/person-years
    STANDARDISED = "standardised"  # DSR, ISR, SII/RII, CIs: unrounded, withheld with basis
    MONEY = "money"  # spend totals: unrounded, withheld with basis
    RATIO = "ratio"  # %, crude rates, per-head: recomputed from protected parts
    ANALYST_ONLY = "analyst_only"  # never leaves for a non-analyst role


@dataclass(frozen=True)
class Column:
    """One column of a released table. ``label`` defaults to ``name``."""

    name: str
    kind: Kind
    basis: str | None = None  # STANDARDISED/MONEY: the COUNT column that withholds it
    numerator: str | None = None  # RATIO: a COUNT or MONEY column
    denominator: str | None = None  # RATIO: a COUNT (or MONEY, unless mean) column
    scale: float = 1.0  # RATIO: 100 for a percentage, 100_000 per 100k
    mean: bool = False  # RATIO that is a mean: needs MIN_VALUES_FOR_MEAN+ values
    label: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))  # ValueError on an unknown kind
        object.__setattr__(self, "label", self.label or self.name)
        kind, where = self.kind, f"column {self.name!r} ({self.kind})"
        if (self.basis is not None) != (kind in (Kind.STANDARDISED, Kind.MONEY)):
            raise ValueError(f"{where}: basis is required for, and only for, standardised/money")
        ratio_parts = (self.numerator, self.denominator)
        if kind is Kind.RATIO and None in ratio_parts:
            raise ValueError(f"{where}: a ratio needs a numerator and a denominator")
        if kind is not Kind.RATIO and (ratio_parts != (None, None) or self.mean):
            raise ValueError(f"{where}: numerator/denominator/mean apply only to ratios")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"{where}: scale must be a positive finite number")


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


def _secondary(raw: list, shown: list, keys: list[list[Hashable]]) -> None:
    """Complementary suppression of one COUNT column, in place, to a fixed point.

    A group's number of ``*`` only grows, so each group needs action at most once: when
    it has exactly one. Groups are handled first-in first-out (deterministic)."""
    members: dict[Hashable, list[int]] = {}
    for i, row_keys in enumerate(keys):
        if raw[i] is not None:  # a missing value is not a cell of any group
            for k in row_keys:
                members.setdefault(k, []).append(i)
    n_sup = {k: sum(shown[i] == SUPPRESSED for i in m) for k, m in members.items()}
    queue = deque(k for k, n in n_sup.items() if n == 1)
    while queue:
        k = queue.popleft()
        if n_sup[k] != 1:  # became 2+ while queued
            continue
        candidates = [i for i in members[k] if shown[i] != SUPPRESSED and raw[i] != 0]
        if not candidates:  # see the module docstring: left as the group's only *
            continue
        j = min(candidates, key=lambda i: (raw[i], i))  # smallest; ties: first in input
        shown[j] = SUPPRESSED
        for k2 in keys[j]:
            n_sup[k2] += 1
            if n_sup[k2] == 1:
                queue.append(k2)


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
    (rows summing to a released total) or None. Steps: (1) COUNT columns
    via :func:`round_count`; (2) secondary suppression per COUNT column: a group with
    exactly one ``*`` also gets its smallest non-zero unsuppressed cell (unrounded; ties:
    first in input order) suppressed, repeated to a fixed point; (3) STANDARDISED/MONEY
    shown unrounded, ``*`` when the basis is ``*`` (or missing); (4) RATIO =
    numerator_shown / denominator_shown * scale, ``*`` if either is ``*``, the denominator
    is 0/None, or (``mean``) the unrounded denominator < MIN_VALUES_FOR_MEAN; None when
    the numerator is None. NaN is shown as None. The input rows are not modified.
    """
    kinds = _check_references(columns)
    needed = [c for c, k in kinds.items() if k not in (Kind.ANALYST_ONLY, Kind.RATIO)]
    for n, row in enumerate(rows):
        if missing := [c for c in needed if c not in row]:
            raise ValueError(f"row {n} has no column(s) {missing}")
    raw: dict[str, list] = {}
    shown: dict[str, list] = {}
    for c in (c.name for c in columns if c.kind is Kind.COUNT):
        try:
            raw[c] = [_exact(row[c]) for row in rows]
        except ValueError as e:
            raise ValueError(f"column {c!r}: {e}") from None
        shown[c] = [_round(v) for v in raw[c]]
    keys = [[(g, gid) for g, f in enumerate(groups) if (gid := f(row)) is not None] for row in rows]
    for c in raw:
        _secondary(raw[c], shown[c], keys)
    released = [c for c in columns if c.kind is not Kind.ANALYST_ONLY]
    out: dict[str, list] = {}  # column-wise, then zipped into rows
    for c in released:  # ratios last: they read their parts' protected values
        if c.kind is Kind.LABEL:
            out[c.name] = [row[c.name] for row in rows]
        elif c.kind is Kind.COUNT:
            out[c.name] = shown[c.name]
        elif c.kind in (Kind.STANDARDISED, Kind.MONEY):
            out[c.name] = [
                None if v is None or v != v else SUPPRESSED if b is None or b == SUPPRESSED else v
                for v, b in zip((row[c.name] for row in rows), shown[c.basis], strict=True)
            ]
    for c in (c for c in released if c.kind is Kind.RATIO):
        num, den = out[c.numerator], out[c.denominator]
        den_raw = raw[c.denominator] if c.mean else den  # mean: the denominator is a COUNT
        out[c.name] = [_ratio(c, *parts) for parts in zip(num, den, den_raw, strict=True)]
    names = [c.name for c in released]
    return [{n: out[n][i] for n in names} for i in range(len(rows))]


def _ratio(c: Column, num: Any, den: Any, den_raw: Any) -> float | str | None:
    if SUPPRESSED in (num, den) or not den or (c.mean and den_raw < MIN_VALUES_FOR_MEAN):
        return SUPPRESSED
    return None if num is None else float(num) / float(den) * c.scale
