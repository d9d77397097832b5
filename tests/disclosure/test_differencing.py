"""The differencing audit (phm.web.differencing): hand-built tables where the per-relation
rules of phm.disclosure.suppress_linked pass but two relations together pin a withheld count,
and the audit-and-repair loop that withholds more until bound propagation pins nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phm.disclosure import SUPPRESSED as S
from phm.disclosure import suppress_linked
from phm.web import differencing as dif
from phm.web.differencing import Relation


def eq(total: int, *parts: int) -> Relation:
    return Relation(((1.0, total), *((-1.0, p) for p in parts)), "=")


def le(total: int, *parts: int) -> Relation:
    """sum(parts) <= total."""
    return Relation(((-1.0, total), *((1.0, p) for p in parts)), "<=")


@pytest.mark.parametrize(
    ("v", "integer", "money", "expected"),
    [
        (S, True, False, (1.0, math.inf)),  # a * is never 0: 0 is shown as 0
        (S, False, False, (0.0, math.inf)),  # person-years: a * may be below 0.5
        (0, True, False, (0.0, 0.0)),
        (10, True, False, (8.0, 12.0)),  # rounded to 5, and not 1-7 (those are *)
        (45, True, False, (43.0, 47.0)),
        (10, False, False, (7.5, 12.5)),
        (None, True, False, (0.0, math.inf)),
        (123_000, False, True, (122_500.0, 123_500.0)),  # 3 s.f., base 1,000
        (1_000_000, False, True, (995_000.0, 1_005_000.0)),  # either base at a power of ten
        (0, False, True, (0.0, 500.0)),
    ],
)
def test_released_values_are_intervals_under_the_published_rules(v, integer, money, expected):
    assert dif.interval(v, integer, money) == expected


def test_tighten_closes_a_total_of_released_parts():
    # x0 = x1 + x2 with x1 in [8, 12], x2 in [3, 3]: x0 in [11, 15]
    r, c, a = np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1.0, -1.0, -1.0])
    lo, hi, _ = dif.tighten(
        r,
        c,
        a,
        np.array([True]),
        np.array([0.0, 8.0, 3.0]),
        np.array([math.inf, 12.0, 3.0]),
        np.ones(3, dtype=bool),
    )
    assert (lo[0], hi[0]) == (11.0, 15.0)


def test_two_relations_together_pin_a_star_that_each_alone_protects():
    """Nested totals, as an age pyramid against prevalence denominators by minimum age:
    everyone (0, 51 people, shown 50) = band 0-4 (1, 3 people, *) + bands 5+ (2, 48, *); the
    count aged 5+ (3, 48, shown 50) is at most bands 5+. Each relation alone is safe (0-4
    and 5+ are withheld together), but together 0-4 = everyone - bands 5+ <= 52 - 48 = 4:
    provably 1-7. The audit finds it; the repair withholds more until nothing is pinned."""
    values = [51, 3, 48, 48]
    released = [50, S, 50, 50]
    relations = [eq(0, 1, 2), le(2, 3)]
    suppress_linked(values, released, [[0, 1, 2]])
    assert released == [50, S, S, 50]  # the per-relation rule: 5+ withheld beside the *
    integer, money = [True] * 4, [False] * 4
    unsafe, _ = dif.audit(values, released, relations, integer, money)
    assert unsafe == [1]

    stats = dif.protect(
        values,
        released,
        relations,
        integer,
        money,
        lambda: suppress_linked(values, released, [[0, 1, 2]]),
    )
    assert stats["unsafe"] == 0 and stats["added"] >= 1
    assert released[1] == S
    assert dif.audit(values, released, relations, integer, money)[0] == []


def test_a_star_with_room_to_reach_eight_is_safe():
    # the same, but the count aged 5+ is 43 (shown 45): 0-4 <= 52 - 43 = 9, so it may be 8
    values, released = [51, 3, 48, 43], [50, S, S, 45]
    unsafe, _ = dif.audit(values, released, [eq(0, 1, 2), le(2, 3)], [True] * 4, [False] * 4)
    assert unsafe == []


def test_money_is_pinned_only_within_its_rounding_base():
    # spend 0 = 1 + 2, 0 and 1 rounded to £1,000: the withheld 2 is 10,000 +/- 1,000: safe
    values = [250_000.0, 240_000.0, 10_000.0]
    unsafe, _ = dif.audit(values, [250_000, 240_000, S], [eq(0, 1, 2)], [False] * 3, [True] * 3)
    assert unsafe == []
    # a third part released: 2 = 0 - 1 - 3 still spans two bases' worth of rounding
    values = [250_000.0, 200_000.0, 10_000.0, 40_000.0]
    unsafe, _ = dif.audit(
        values, [250_000, 200_000, S, 40_000], [eq(0, 1, 2, 3)], [False] * 4, [True] * 4
    )
    assert unsafe == []


def test_the_repair_asks_for_a_margin_above_eight():
    """Bound tightening is weaker than linear programming, so protect() repairs a * that can
    reach 8 but not 8 + MARGIN (here 9), while audit() without the margin calls it safe."""
    values, released = [51, 3, 48, 43], [50, S, S, 45]
    relations = [eq(0, 1, 2), le(2, 3)]
    integer, money = [True] * 4, [False] * 4
    assert dif.audit(values, released, relations, integer, money)[0] == []
    assert dif.audit(values, released, relations, integer, money, dif.MARGIN)[0] == [1]
    stats = dif.protect(values, released, relations, integer, money, lambda: 0)
    assert stats["added"] >= 1 and stats["short_of_margin"] == 0
    assert dif.audit(values, released, relations, integer, money, dif.MARGIN)[0] == []
