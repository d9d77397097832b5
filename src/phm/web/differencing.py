"""The differencing audit: can a withheld cell be worked out from everything released?
(docs/governance.md, "Secondary disclosure"; issue 12.)

Complementary suppression (:func:`phm.disclosure.suppress_linked`) checks each relation on
its own. An attacker who combines relations, with every released value read as the interval
of true values its rounding leaves, can do better. A suppression pattern is safe when each
withheld cell's feasible interval stays wide enough (Hundepool A et al., *Statistical
Disclosure Control*, Wiley 2012, section 4.3 "Secondary cell suppression": the attacker's
interval of a sensitive cell must cover its protection range).

:func:`audit` is that attacker, run by the server on its exact data over the union of every
cell any non-analyst role can see (a role sees a subset, so its intervals can only be
wider). It bounds every cell by *feasibility-based bound tightening* (:func:`tighten`):
each relation bounds each of its cells by the extremes of the others, repeated until
nothing moves, over the declared relations and those :mod:`phm.web.derived` writes out
from pairs of them (shared blocks, gaps of parallel sums). Every bound it derives is valid,
so a cell it pins is pinned; it is weaker than linear programming over all relations at
once, which the attacker's test
(``tests/web/test_attack.py``) also runs. A withheld cell is *unsafe* when it is proved:

- a count of 1-7 that cannot reach 8 (a ``*`` is never 0, as 0 is shown);
- any other count that cannot move by 1 from its true value;
- a £ value that cannot move from its true value by its rounding base.

:func:`protect` repeats: audit, then withhold one more cell beside each unsafe cell (the
smallest released non-zero cell of the same kind in any relation with it; twice as many
each round it stays unsafe), re-run the per-relation rules, until the audit finds nothing
(or nothing is left to withhold, which is reported).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from phm.disclosure import ROUND_TO, SMALL_MAX, SUPPRESSED, money_base
from phm.web import derived
from phm.web.derived import Relation

HALF = ROUND_TO // 2  # a released integer count v is one of v-2 .. v+2
MARGIN = 8  # a withheld 1-7 must be able to reach 8 + MARGIN under bound tightening
MAX_ROUNDS = 40  # audit-and-repair rounds before giving up (reported, never silent)
PARTNER_DEPTH = 4  # how far (relations) and how wide (cells) the repair looks through
PARTNER_REACH = 20_000  # withheld cells beside a provably pinned cell (others: its relations)
TOL = 1e-6
log = logging.getLogger(__name__)


def interval(v, integer: bool, money: bool) -> tuple[float, float]:
    """The true values a released value is consistent with under the published rules."""
    if v is None or (isinstance(v, float) and v != v):
        return 0.0, math.inf
    if v == SUPPRESSED:
        return (1.0 if integer else 0.0), math.inf
    v = float(v)
    if money:
        b = max(money_base(v), money_base(max(v - money_base(v) / 2, 0.0)))
        return max(0.0, v - b / 2), v + b / 2
    if v == 0:
        return 0.0, 0.0
    if integer:
        return max(SMALL_MAX + 1.0, v - HALF), v + HALF
    return max(SMALL_MAX + 0.5, v - ROUND_TO / 2), v + ROUND_TO / 2


def money_width(true: float) -> float:
    """A £ cell is pinned when its feasible interval is narrower than this: the rounding
    base of its value, or half of it for values that would round to 0."""
    b = money_base(true)
    return b if true >= b / 2 else b / 2


@dataclass
class _Goal:
    small: bool  # a count of 1-7 that must be able to reach ``reach``
    reach: float
    width: float  # otherwise: it must be able to move this far from its true value


def _goal(true: float, integer: bool, money: bool, margin: float) -> _Goal:
    if money:
        return _Goal(False, 0.0, money_width(true))
    limit = SMALL_MAX + (1.0 if integer else 0.5)
    if true < limit:
        return _Goal(True, limit + margin, 0.0)
    return _Goal(False, 0.0, 1.0)


class Audit:
    """The audit's system, built once for a set of cells and relations: the relations (and,
    with ``derive``, those :mod:`phm.web.derived` writes out for bound tightening) as sparse
    arrays. :meth:`unsafe` then audits any pattern of released values over it."""

    def __init__(
        self,
        values: Sequence,
        relations: Sequence[Relation],
        integer: Sequence[bool],
        money: Sequence[bool],
        derive: bool = True,
    ) -> None:
        n = len(values)
        rels = list(relations)
        gaps: list[tuple[int, int]] = []
        if derive:
            extra, gaps = derived.slack_sums(rels, n)
            rels += extra
            rels += derived.shared_blocks(rels)
            rep = derived.equal_cells(rels)  # cells proved equal, as one unknown
            if rep:
                merged, changed = derived.substitute(rels, rep)
                rels += derived.shared_blocks(merged, start=changed)
        self.relations = len(relations)
        self.derived = len(rels) - len(relations)
        self._rels = rels
        self._by_cell: dict[int, list[int]] = {}
        for k, r in enumerate(rels):
            for _, i in r.terms:
                self._by_cell.setdefault(i, []).append(k)
        self._partners: dict[int, frozenset[int]] = {}
        self._gaps_of: dict[int, list[int]] = {}
        for k, (x, y) in enumerate(gaps):  # a cell is also in every relation of its gaps
            for i in (x, y):
                self._gaps_of.setdefault(i, []).append(n + k)
                self._by_cell.setdefault(i, []).extend(self._by_cell.get(n + k, ()))
        self.cells = sorted({i for r in rels for _, i in r.terms})
        var = {c: j for j, c in enumerate(self.cells)}

        def true(c: int) -> float:
            if c < n:
                return float(values[c] or 0.0)
            x, y = gaps[c - n]
            return float(values[y] or 0.0) - float(values[x] or 0.0)

        self.n = n
        self.gaps = gaps
        self.true = np.array([true(c) for c in self.cells])
        self.whole = np.array(
            [
                integer[c] if c < n else integer[gaps[c - n][0]] and integer[gaps[c - n][1]]
                for c in self.cells
            ],
            dtype=bool,
        )
        self.integer, self.money = integer, money
        self.r = np.array([k for k, r in enumerate(rels) for _ in r.terms], dtype=np.int64)
        self.c = np.array([var[i] for r in rels for _, i in r.terms], dtype=np.int64)
        self.a = np.array([a for r in rels for a, _ in r.terms], dtype=float)
        self.eq = np.array([r.sense == "=" for r in rels], dtype=bool)

    def partner(
        self,
        cell: int,
        values: Sequence,
        released: Sequence,
        taken: set[int],
        count: int = 1,
        depth: int = 1,
    ) -> list[int]:
        """The cells to withhold beside an unsafe ``cell``: the ``count`` smallest released
        non-zero cells of its kind in a relation with it; if there is none, the nearest such
        cells reached through withheld cells and then sums of gaps, up to ``depth`` relations
        away (a practice pinned because its PCN's and place's users and people are both
        released gets the place's withheld)."""
        seen, frontier = {cell}, [cell]
        for layer in range(depth):
            near: set[int] = set()
            for c in frontier:
                near |= self.partners(c) if layer == 0 else self._gap_partners(c)
            near -= seen
            seen |= near
            cands = [
                (float(values[j]), j)
                for j in near
                if released[j] != SUPPRESSED
                and values[j]
                and self.money[j] == self.money[cell]
                and j not in taken
            ]
            if cands:
                return [j for _, j in sorted(cands)[:count]]
            frontier = [j for j in near if released[j] == SUPPRESSED]
            if not frontier or len(seen) > PARTNER_REACH:
                return []
        return []

    def _gap_partners(self, cell: int) -> set[int]:
        """The cells whose gaps add up with a gap of ``cell`` (the same quantity one level
        up or down the hierarchy): how the repair looks beyond a cell's own relations."""
        out: set[int] = set()
        for g in self._gaps_of.get(cell, ()):
            for k in self._by_cell.get(g, ()):
                for _, i in self._rels[k].terms:
                    if i >= self.n:
                        out.update(self.gaps[i - self.n])
        out.discard(cell)
        return out

    def partners(self, cell: int) -> frozenset[int]:
        """The cells in a relation with ``cell`` (a gap stands for its two cells)."""
        if cell not in self._partners:
            out: set[int] = set()
            for k in set(self._by_cell.get(cell, ())):
                for _, i in self._rels[k].terms:
                    out.update(self.gaps[i - self.n] if i >= self.n else (i,))
            out.discard(cell)
            self._partners[cell] = frozenset(out)
        return self._partners[cell]

    def unsafe(self, released: Sequence, margin: float = 0.0) -> tuple[list[int], int]:
        """The withheld cells that bound tightening proves unsafe under ``released`` (with
        ``margin``: a 1-7 count must be able to reach ``8 + margin``), and the passes made."""
        (unsafe,), passes = self.check(released, (margin,))
        return unsafe, passes

    def check(self, released: Sequence, margins: Sequence[float]) -> tuple[list[list[int]], int]:
        """:meth:`unsafe` for each of ``margins`` from one bound tightening."""
        n, integer, money = self.n, self.integer, self.money
        bounds = [
            interval(released[c], integer[c], money[c]) if c < n else (0.0, math.inf)
            for c in self.cells
        ]
        lo = np.minimum([b[0] for b in bounds], self.true)  # never cut off the truth
        hi = np.maximum([b[1] for b in bounds], self.true)  # (e.g. a released None beside a value)
        lo, hi, passes = tighten(self.r, self.c, self.a, self.eq, lo, hi, self.whole)
        out: list[list[int]] = [[] for _ in margins]
        for j, c in enumerate(self.cells):
            if c >= n or released[c] != SUPPRESSED:
                continue
            for k, margin in enumerate(margins):
                g = _goal(self.true[j], integer[c], money[c], margin)
                if (g.small and hi[j] < g.reach - TOL) or (
                    not g.small and hi[j] - lo[j] < g.width - TOL
                ):
                    out[k].append(c)
        return out, passes


def audit(
    values: Sequence,
    released: Sequence,
    relations: Sequence[Relation],
    integer: Sequence[bool],
    money: Sequence[bool],
    margin: float = 0.0,
    derive: bool = True,
) -> tuple[list[int], int]:
    """The withheld cells that bound tightening proves unsafe (see :class:`Audit`)."""
    return Audit(values, relations, integer, money, derive).unsafe(released, margin)


def tighten(r, c, a, eq, lo, hi, whole, passes: int = 100):
    """Feasibility-based bound tightening over ``sum(a x) = 0`` (``eq``) or ``<= 0``: every
    relation bounds each of its cells by the extremes of its other cells; whole-number cells
    round inwards. Each bound stays valid (it only ever uses valid bounds), so a cell whose
    bounds close in is pinned. Returns the bounds and the passes made."""
    m = int(r.max()) + 1 if len(r) else 0
    lo, hi = lo.copy(), hi.copy()
    upper_only = ~eq[r]
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(1, passes + 1):
            least = np.where(a > 0, a * lo[c], a * hi[c])  # each term's least and greatest value
            most = np.where(a > 0, a * hi[c], a * lo[c])
            least_inf, most_inf = np.isinf(least), np.isinf(most)
            sum_least = np.bincount(r, np.where(least_inf, 0.0, least), m)
            sum_most = np.bincount(r, np.where(most_inf, 0.0, most), m)
            n_least_inf = np.bincount(r, least_inf, m)
            n_most_inf = np.bincount(r, most_inf, m)
            # the rest of the relation without this term
            rest_least = np.where(
                n_least_inf[r] - least_inf > 0,
                -math.inf,
                sum_least[r] - np.where(least_inf, 0, least),
            )
            rest_most = np.where(
                n_most_inf[r] - most_inf > 0, math.inf, sum_most[r] - np.where(most_inf, 0, most)
            )
            # a x <= -rest_least (always); a x >= -rest_most (equalities only)
            term_hi = -rest_least
            term_lo = np.where(upper_only, -math.inf, -rest_most)
            new_hi = np.where(a > 0, term_hi / a, term_lo / a)
            new_lo = np.where(a > 0, term_lo / a, term_hi / a)
            h2, l2 = hi.copy(), lo.copy()
            np.minimum.at(h2, c, np.nan_to_num(new_hi, nan=math.inf))
            np.maximum.at(l2, c, np.nan_to_num(new_lo, nan=-math.inf))
            h2 = np.where(whole & np.isfinite(h2), np.floor(h2 + TOL), h2)
            l2 = np.where(whole & np.isfinite(l2), np.ceil(l2 - TOL), l2)
            gained = (h2 < hi - 1e-7 * (1 + np.abs(np.where(np.isinf(hi), 0, hi)))) | (
                l2 > lo + 1e-7 * (1 + np.abs(lo))
            )
            lo, hi = l2, h2
            if not gained.any():
                return lo, hi, k
    return lo, hi, passes


def protect(
    values: list,
    released: list,
    relations: Sequence[Relation],
    integer: Sequence[bool],
    money: Sequence[bool],
    relink: Callable[[], int],
) -> dict:
    """Audit and repair ``released`` in place until no withheld cell is unsafe with
    ``MARGIN`` to spare (bound tightening is weaker than the linear programming an attacker
    can run, so a 1-7 count must be able to reach ``8 + MARGIN``, not just 8). ``relink()``
    re-applies the per-relation rules (returns cells added). A cell still unsafe after a
    round gets twice as many cells withheld beside it in the next (1, 2, 4, ...), so a long
    tail of stubborn cells closes in a few rounds. Returns statistics: ``unsafe``
    counts cells still provably pinned, ``short_of_margin`` those left without the margin
    because nothing more could be withheld beside them."""
    t0 = time.perf_counter()
    system = Audit(values, relations, integer, money)
    log.info(
        "audit system: %d relations + %d derived, %.1f s",
        system.relations,
        system.derived,
        time.perf_counter() - t0,
    )
    added = passes = rounds = 0
    unsafe: list[int] = []
    pinned: list[int] = []
    stubborn: dict[int, int] = {}
    for rounds in range(1, MAX_ROUNDS + 1):
        t0 = time.perf_counter()
        (unsafe, pinned), n = system.check(released, (MARGIN, 0.0))  # pinned: with no margin
        passes += n
        log.info(
            "audit round %d: %d unsafe, %d passes, %.1f s",
            rounds,
            len(unsafe),
            n,
            time.perf_counter() - t0,
        )
        if not unsafe:
            break
        provable = set(pinned)
        new: set[int] = set()
        for i in unsafe:
            stubborn[i] = stubborn.get(i, 0) + 1  # still unsafe: withhold more beside it
            depth = PARTNER_DEPTH if i in provable else 1
            new.update(system.partner(i, values, released, new, 2 ** (stubborn[i] - 1), depth))
        if not new:
            break
        for j in new:
            released[j] = SUPPRESSED
        added += len(new) + relink()
    else:  # the rounds ran out after withholding more: audit the final pattern
        (unsafe, pinned), n = system.check(released, (MARGIN, 0.0))
        passes += n
    return {
        "rounds": rounds,
        "added": added,
        "passes": passes,
        "short_of_margin": len(unsafe),
        "derived": system.derived,
        "unsafe": len(pinned),
    }
