"""Relations an attacker derives by combining two published ones, for the differencing audit
(:mod:`phm.web.differencing`; docs/governance.md, "Secondary disclosure").

Bound tightening bounds each cell of one relation by the extremes of the others. It cannot
use two relations *together*, which linear programming does. Measured on the 10k test ICB,
the place lead's LP attack recovered 23 withheld counts that tightening called safe, in two
shapes, and this module writes each shape out as relations tightening can use:

1. **A shared block** (:func:`shared_blocks`). Two relations with two or more cells in
   common, in the same proportion, are subtracted so the common cells cancel: ``core20 =
   decile 1 + decile 2`` and ``quintile 1 = decile 1 + decile 2`` give ``core20 = quintile
   1``; ``persons = sum of deciles`` and ``core20 = deciles 1 + 2`` give ``persons - core20
   = deciles 3..10``, which with ``persons = core20 + rest`` gives ``rest = deciles 3..10``.
   Applied for ``rounds`` generations (each new relation combined with every relation).
   Cells that a two-cell equality makes equal (``core20 = quintile 1``) are one unknown
   to an attacker: :func:`equal_cells` finds them and :func:`substitute` writes relations
   over one cell of each, so pairs that share such a cell under two names combine too
   (``persons = core20 + rest`` and ``persons = quintile 1 + ... + unknown`` give ``rest
   = quintiles 2..5 + unknown``; measured: a 20k ICB's place lead bounded a withheld
   decile to 1-6 through it, issue 16).
2. **Parallel sums under a bound** (:func:`slack_sums`). Where ``x <= y`` cell by cell (rcm
   users <= persons; a register <= its denominator) and both ``x`` and ``y`` add up the same
   way (practices to their PCN), so do the gaps ``s = y - x >= 0``: ``s(PCN) = sum s(practice)``.
   Each gap is a new hidden cell ``s`` with ``s - y + x = 0`` and ``s >= 0``; an attacker who
   knows the PCN's ``y`` and ``x`` to within rounding then bounds every practice's gap.

Every derived relation is a linear combination of valid relations (with a non-negative
multiplier on each inequality), so it is valid: the audit stays sound and only grows
stronger. It is still weaker than linear programming; see :data:`~phm.web.differencing.MARGIN`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import NamedTuple

EPS = 1e-9


class Relation(NamedTuple):
    """``sum(coef * cell) == 0`` (``sense`` "=") or ``<= 0`` ("<="), over cell indices."""

    terms: tuple[tuple[float, int], ...]
    sense: str = "="


def canonical(r: Relation) -> Relation:
    """Terms sorted by cell; an equality's first coefficient made positive."""
    terms = sorted((i, a) for a, i in r.terms if abs(a) > EPS)
    if r.sense == "=" and terms and terms[0][1] < 0:
        terms = [(i, -a) for i, a in terms]
    return Relation(tuple((a, i) for i, a in terms), r.sense)


def _combine(r1: Relation, r2: Relation, lam: float) -> Relation | None:
    """``r1 - lam * r2`` (cancelling the cells where ``r1 = lam * r2``), or the valid
    variant of it when an inequality would be multiplied by a negative number."""
    if r2.sense == "=":
        base, other, mult, sense = r1, r2, lam, r1.sense
    elif r1.sense == "=":  # r2 - r1 / lam: r2 keeps a positive multiplier
        base, other, mult, sense = r2, r1, 1.0 / lam, "<="
    else:  # two inequalities: bands of ages, already written out pairwise (links._bands)
        return None
    acc: dict[int, float] = defaultdict(float)
    for a, i in base.terms:
        acc[i] += a
    for a, i in other.terms:
        acc[i] -= mult * a
    terms = tuple((a, i) for i, a in acc.items() if abs(a) > EPS)
    if not terms or (sense == "<=" and all(a < 0 for a, _ in terms)):
        return None  # 0 = 0, or a sum of non-negative cells >= 0: nothing learnt
    return canonical(Relation(terms, sense))


def equal_cells(relations: Sequence[Relation]) -> dict[int, int]:
    """Each cell that a two-cell equality ``x - y = 0`` ties to another, mapped to one cell
    of its class (the smallest index)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in relations:
        if r.sense == "=" and len(r.terms) == 2:
            (a1, i1), (a2, i2) = r.terms
            if abs(a1 + a2) <= EPS and abs(a1) > EPS and i1 != i2:
                x, y = find(i1), find(i2)
                parent[max(x, y)] = min(x, y)
    return {i: root for i in list(parent) if (root := find(i)) != i}


def substitute(
    relations: Sequence[Relation], rep: dict[int, int]
) -> tuple[list[Relation], list[int]]:
    """``relations`` over one cell of each class of :func:`equal_cells` (terms of one cell
    added up; the equalities themselves become empty and are dropped), and the indices in
    the returned list of those that changed."""
    out: list[Relation] = []
    changed: list[int] = []
    for r in relations:
        if not any(i in rep for _, i in r.terms):
            out.append(r)
            continue
        acc: dict[int, float] = defaultdict(float)
        for a, i in r.terms:
            acc[rep.get(i, i)] += a
        terms = tuple((a, i) for i, a in acc.items() if abs(a) > EPS)
        if terms:
            changed.append(len(out))
            out.append(Relation(terms, r.sense))
    return out, changed


def shared_blocks(
    relations: Sequence[Relation], rounds: int = 3, start: Sequence[int] | None = None
) -> list[Relation]:
    """New relations from pairs sharing two or more cells in one proportion (see module);
    with ``start``, the first generation pairs only those relations with the others."""
    rels = [canonical(r) for r in relations]
    seen = set(rels)
    by_cell: dict[int, list[int]] = defaultdict(list)
    for j, r in enumerate(rels):
        for _, i in r.terms:
            by_cell[i].append(j)
    out: list[Relation] = []
    new = range(len(rels)) if start is None else start
    for generation in range(rounds):
        fresh: list[Relation] = []
        new_set = set(new)
        for j in new:
            r1 = rels[j]
            if generation and r1.sense != "=":
                continue
            c1 = {i: a for a, i in r1.terms}
            shared = Counter(k for _, i in r1.terms for k in by_cell[i] if k != j)
            for k, n in shared.items():
                if n < 2 or (k in new_set and k < j):
                    continue
                r2 = rels[k]
                if generation and r2.sense != "=":
                    continue  # inequalities take part in the first generation only
                if min(len(r1.terms), len(r2.terms)) >= 2 * n or (
                    r1.sense != "=" and r2.sense != "="
                ):
                    # the n shared cells cancel, so r1 - lam r2 has at least |r1| + |r2| - 2n
                    # terms: never fewer than the longer of the two (kept below); and _combine
                    # leaves two inequalities alone
                    continue
                ratios = {round(c1[i] / a, 9) for a, i in r2.terms if i in c1}
                if len(ratios) != 1:
                    continue
                d = _combine(r1, r2, ratios.pop())
                if (
                    d is not None
                    and len(d.terms) < max(len(r1.terms), len(r2.terms))
                    and d not in seen
                ):
                    seen.add(d)
                    fresh.append(d)
        start = len(rels)
        for d in fresh:
            for _, i in d.terms:
                by_cell[i].append(len(rels))
            rels.append(d)
        out += fresh
        new = range(start, len(rels))
        if not fresh:
            break
    return out


def slack_sums(
    relations: Sequence[Relation], n: int
) -> tuple[list[Relation], list[tuple[int, int]]]:
    """Gap cells and their sums (see module). Returns the new relations (each gap's
    definition ``s - y + x = 0`` and each sum of gaps) and the ``(x, y)`` pair of each gap;
    gap ``k`` is cell ``n + k``."""
    upper: dict[int, list[int]] = defaultdict(list)  # x -> every y with x <= y
    for r in relations:
        if r.sense == "<=" and len(r.terms) == 2:
            (a1, i1), (a2, i2) = r.terms
            if abs(a1 + a2) <= EPS and abs(a1) > EPS:
                x, y = (i1, i2) if a1 > 0 else (i2, i1)
                upper[x].append(y)
    eqs = [canonical(r) for r in relations if r.sense == "="]
    by_cell: dict[int, list[int]] = defaultdict(list)
    for j, r in enumerate(eqs):
        for _, i in r.terms:
            by_cell[i].append(j)
    gap: dict[tuple[int, int], int] = {}
    out: list[Relation] = []
    seen: set[Relation] = set()

    def cell(x: int, y: int) -> int:
        if (x, y) not in gap:
            gap[(x, y)] = n + len(gap)
            out.append(Relation(((1.0, n + len(gap) - 1), (-1.0, y), (1.0, x)), "="))
        return gap[(x, y)]

    for rx in eqs:
        lows = [(a, x) for a, x in rx.terms if len(upper.get(x, ())) == 1]
        if len(lows) < 2:
            continue
        images = {upper[x][0]: (a, x) for a, x in lows}
        first = upper[lows[0][1]][0]
        for k in by_cell[first]:
            ry = eqs[k]
            cy = {i: a for a, i in ry.terms}
            for sign in (1.0, -1.0):  # ry may be written the other way round
                pairs = [
                    (a, x, y)
                    for y, (a, x) in images.items()
                    if abs(cy.get(y, 0.0) - sign * a) <= EPS
                ]
                if len(pairs) < 2:
                    continue
                acc: dict[int, float] = defaultdict(float)
                for a, i in ry.terms:
                    acc[i] += sign * a
                for a, i in rx.terms:
                    acc[i] -= a
                for a, x, y in pairs:  # a*y - a*x = a*s
                    acc[y] -= a
                    acc[x] += a
                    acc[cell(x, y)] += a
                d = canonical(Relation(tuple((a, i) for i, a in acc.items() if abs(a) > EPS), "="))
                if d.terms and d not in seen:
                    seen.add(d)
                    out.append(d)
    return out, list(gap)
