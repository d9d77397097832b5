"""Relations an attacker derives by combining two (phm.web.derived), and the audit they
strengthen: the two shapes in which the place lead's linear-programming attack on the 10k test
ICB beat bound tightening, rebuilt by hand (issue 12)."""

from __future__ import annotations

from phm.disclosure import SUPPRESSED as S
from phm.web import derived
from phm.web import differencing as dif
from phm.web.derived import Relation


def eq(total: int, *parts: int) -> Relation:
    return Relation(((1.0, total), *((-1.0, p) for p in parts)), "=")


def le(x: int, y: int) -> Relation:
    """x <= y."""
    return Relation(((1.0, x), (-1.0, y)), "<=")


def test_two_sums_of_the_same_parts_make_their_totals_equal():
    # core20 (0) = decile 1 (2) + decile 2 (3); quintile 1 (1) = the same deciles
    out = derived.shared_blocks([eq(0, 2, 3), eq(1, 2, 3)])
    assert out == [Relation(((1.0, 0), (-1.0, 1)), "=")]


def test_a_sum_of_some_parts_leaves_the_rest_of_a_larger_sum():
    # persons (0) = deciles 2..5; core20 (1) = deciles 2, 3 -> persons - core20 = deciles 4, 5
    out = derived.shared_blocks([eq(0, 2, 3, 4, 5), eq(1, 2, 3)])
    assert out == [Relation(((1.0, 0), (-1.0, 1), (-1.0, 4), (-1.0, 5)), "=")]


def test_an_inequality_keeps_a_non_negative_multiplier():
    # persons (0) = bands 1, 2, 3; a denominator (4) <= bands 2, 3 -> 4 + band 1 <= persons
    out = derived.shared_blocks([eq(0, 1, 2, 3), Relation(((1.0, 4), (-1.0, 2), (-1.0, 3)), "<=")])
    assert out == [Relation(((-1.0, 0), (1.0, 1), (1.0, 4)), "<=")]
    # two inequalities are never subtracted (that would flip one of them)
    assert derived.shared_blocks([le(0, 1), Relation(((1.0, 0), (-1.0, 1), (-1.0, 2)), "<=")]) == []


def test_cells_shared_in_different_proportions_are_not_cancelled():
    assert (
        derived.shared_blocks([eq(0, 1, 2), Relation(((1.0, 3), (-1.0, 1), (1.0, 2)), "=")]) == []
    )


def test_a_rest_of_icb_is_worked_out_over_three_generations():
    """The place lead's attack on practice Y04882: rest = persons - core20, core20 = deciles
    1+2, persons = all deciles, quintile 2 = deciles 3+4 (released 15), rest released 20, so
    the five withheld deciles 5-9 add up to at most 22 - 13 = 9: each is at most 5."""
    # 0 persons, 1 core20, 2 rest, 3..12 deciles 1..10, 13 quintile 1, 14 quintile 2
    values = [22, 2, 20, 1, 1, 10, 5, 1, 1, 1, 1, 1, 0, 2, 15]
    released = [S, S, 20, S, S, S, S, S, S, S, S, S, 0, S, 15]
    rels = [eq(0, 1, 2), eq(0, *range(3, 13)), eq(1, 3, 4), eq(13, 3, 4), eq(14, 5, 6)]
    whole, money = [True] * 15, [False] * 15
    assert dif.Audit(values, rels, whole, money, derive=False).unsafe(released)[0] == []
    assert dif.Audit(values, rels, whole, money).unsafe(released)[0] == [7, 8, 9, 10, 11]


def test_gaps_between_two_parallel_sums_add_up_too():
    """The place lead's attack on practice M86001: rcm users <= persons in each practice,
    both sum over the PCN's practices, and the PCN's totals are both released as 35. The gaps
    (persons - users) then add up to at most 37 - 33 = 4, so a practice with 0 users has at
    most 4 persons."""
    # 0 persons PCN, 1-3 persons of practices A-C; 4 users PCN, 5-7 users of A-C
    values = [35, 1, 20, 14, 34, 0, 20, 14]
    released = [35, S, S, S, 35, 0, S, S]
    rels = [eq(0, 1, 2, 3), eq(4, 5, 6, 7), le(5, 1), le(6, 2), le(7, 3), le(4, 0)]
    extra, gaps = derived.slack_sums(rels, len(values))
    assert sorted(gaps) == [(4, 0), (5, 1), (6, 2), (7, 3)]
    s = {pair: len(values) + k for k, pair in enumerate(gaps)}
    total = derived.canonical(
        Relation(((1.0, s[(4, 0)]), *((-1.0, s[p]) for p in ((5, 1), (6, 2), (7, 3)))), "=")
    )
    assert total in extra
    whole, money = [True] * 8, [False] * 8
    assert dif.Audit(values, rels, whole, money, derive=False).unsafe(released)[0] == []
    assert dif.Audit(values, rels, whole, money).unsafe(released)[0] == [1]


def test_derived_relations_hold_on_the_data():
    """Every derived relation is a valid combination: it holds on the true values (with the
    gaps' true values), so the audit never cuts off the truth."""
    values = [22, 2, 20, 1, 1, 10, 5, 1, 1, 1, 1, 1, 0, 2, 15]
    rels = [eq(0, 1, 2), eq(0, *range(3, 13)), eq(1, 3, 4), eq(13, 3, 4), eq(14, 5, 6), le(14, 2)]
    extra, gaps = derived.slack_sums(rels, len(values))
    full = values + [values[y] - values[x] for x, y in gaps]
    for r in [*extra, *derived.shared_blocks([*rels, *extra])]:
        total = sum(a * full[i] for a, i in r.terms)
        assert (abs(total) < 1e-9) if r.sense == "=" else (total <= 1e-9), r


def test_cells_proved_equal_are_one_unknown_when_blocks_are_combined():
    """The place lead's attack on practice F81192 of the 20k ICB (issue 16): core20 and
    quintile 1 are both deciles 1+2, so ``persons = core20 + rest`` and ``persons = quintiles
    1..5 + unknown`` give ``rest = quintiles 2..5 + unknown`` (rest released 125, quintiles 2-4
    55, 25, 25), and decile 10 = quintile 5 - decile 9 (released 20) is at most 127 - 56 - 23
    - 23 - 1 - 18 = 6. Tightening over the pairs alone leaves it free to reach 48."""
    # 0 persons, 1 core20, 2 rest, 3..12 deciles 1..10, 13 decile unknown, 14..18 quintiles
    # 1..5, 19 quintile unknown
    values = [148, 22, 126, 6, 16, 23, 33, 16, 7, 16, 11, 18, 1, 1, 22, 56, 23, 27, 19, 1]
    released = [S, S, 125, S, S, 25, 35, S, S, S, S, 20, S, S, S, 55, 25, 25, S, S]
    rels = [
        eq(0, 1, 2),
        eq(0, *range(3, 14)),
        eq(1, 3, 4),
        eq(0, *range(14, 20)),
        *(eq(14 + q, 3 + 2 * q, 4 + 2 * q) for q in range(5)),
        eq(19, 13),
    ]
    assert derived.equal_cells(rels + derived.shared_blocks(rels)) == {14: 1, 19: 13}
    whole, money = [True] * 20, [False] * 20
    merged, changed = derived.substitute(rels, {14: 1, 19: 13})
    assert changed == [3, 4] and len(merged) == len(rels) - 1  # persons = quintiles, quintile 1
    assert eq(0, 1, *range(15, 19), 13) == merged[3] and eq(19, 13) not in merged
    assert 12 in dif.Audit(values, rels, whole, money).unsafe(released)[0]
    without = derived.shared_blocks(rels)  # the pairs alone, as before issue 16
    old = dif.Audit(values, rels + without, whole, money, derive=False).unsafe(released)[0]
    assert 12 not in old


def _every_pair(relations: list[Relation]) -> set[Relation]:
    """The first generation of :func:`derived.shared_blocks` by brute force: every two
    relations sharing two or more cells in one proportion, combined, kept if shorter."""
    rels = [derived.canonical(r) for r in relations]
    out = set()
    for j, r1 in enumerate(rels):
        c1 = {i: a for a, i in r1.terms}
        for r2 in rels[j + 1 :]:
            shared = [(c1[i], a) for a, i in r2.terms if i in c1]
            ratios = {round(x / a, 9) for x, a in shared}
            if len(shared) < 2 or len(ratios) != 1:
                continue
            d = derived._combine(r1, r2, ratios.pop())
            if d is not None and len(d.terms) < max(len(r1.terms), len(r2.terms)) and d not in rels:
                out.add(d)
    return out


def test_shared_blocks_skips_only_pairs_that_cannot_shorten():
    """The pairs skipped without combining (their shared cells are at most half the shorter
    relation, or both are inequalities) are exactly those whose combination would have
    been dropped: one generation equals the brute force over every pair."""
    import random

    rng = random.Random(16)
    for _ in range(40):
        rels = []
        for _ in range(rng.randint(3, 12)):
            cells = rng.sample(range(10), rng.randint(2, 7))
            terms = tuple((rng.choice((1.0, -1.0, 2.0, 0.5)), i) for i in cells)
            rels.append(Relation(terms, rng.choice(("=", "=", "<="))))
        assert set(derived.shared_blocks(rels, rounds=1)) == _every_pair(rels)
