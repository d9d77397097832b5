"""Tests for phm.disclosure: the HES/ECDS disclosure rule (docs/governance.md).

Literal examples follow the rule as written in governance.md: counts 1–7 -> "*", other
counts to the nearest 5, percentages from the rounded numbers, means from 8+ values,
standardised values withheld with their count; plus secondary suppression properties on
random practice -> PCN -> place -> ICB hierarchies.
"""

from __future__ import annotations

import copy
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phm.disclosure import (
    MIN_VALUES_FOR_MEAN,
    ROUND_TO,
    SMALL_MAX,
    SMALL_MIN,
    SUPPRESSED,
    Column,
    Kind,
    column_kinds,
    protect,
    round_count,
)

FAST = settings(max_examples=150, deadline=None, database=None)
S = SUPPRESSED


def test_constants():
    assert (SMALL_MIN, SMALL_MAX, ROUND_TO, MIN_VALUES_FOR_MEAN, SUPPRESSED) == (1, 7, 5, 8, "*")


# --- round_count ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, 0),
        *[(k, S) for k in range(1, 8)],
        (8, 10),
        (12, 10),
        (13, 15),
        (17, 15),
        (18, 20),
        (1234, 1235),
        (1232, 1230),
        (10**30 + 3, 10**30 + 5),
    ],
)
def test_round_count_integers(n, shown):
    assert round_count(n) == shown


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0.0, 0),
        (0.3, S),
        (7.4, S),
        (7.49, S),
        (7.5, 10),
        (12.4, 10),
        (12.5, 15),
        (12.0, 10),
        (Decimal("7.5"), 10),
        (Decimal("1234.0"), 1235),
        (Fraction(25, 2), 15),
    ],
)
def test_round_count_person_years(n, shown):
    """Non-integers: 0 < v < 7.5 -> "*", else nearest multiple of 5, halves up (exactly)."""
    assert round_count(n) == shown


def test_round_count_numpy_and_missing():
    np = pytest.importorskip("numpy")
    assert round_count(np.int64(13)) == 15 and type(round_count(np.int64(13))) is int
    assert round_count(np.float64(7.5)) == 10
    assert round_count(None) is None
    assert round_count(float("nan")) is None and round_count(np.nan) is None
    assert round_count(Decimal("NaN")) is None


@pytest.mark.parametrize("bad", [-1, -0.5, Decimal("-3"), float("inf"), "3", True, [3]])
def test_round_count_rejects(bad):
    with pytest.raises(ValueError, match="count"):
        round_count(bad)


@given(st.integers(min_value=0, max_value=10**6))
@FAST
def test_round_count_property(n):
    shown = round_count(n)
    if 1 <= n <= 7:
        assert shown == S
    else:
        assert shown % 5 == 0 and abs(shown - n) <= 2 and (shown == 0) == (n == 0)


@given(
    st.one_of(
        st.floats(min_value=0, max_value=1e17, allow_nan=False),
        st.integers(0, 10**6).map(lambda k: k / 2),  # exact halves: the ties
        st.decimals(min_value=0, max_value=10**9, allow_nan=False, places=3),
        st.fractions(min_value=0, max_value=10**6),
    )
)
@FAST
def test_round_count_non_integers_match_exact_arithmetic(x):
    v = Fraction(x)
    expected = 0 if v == 0 else S if v < Fraction(15, 2) else math.floor(v / 5 + Fraction(1, 2)) * 5
    shown = round_count(x)
    assert shown == expected and type(shown) is type(expected)


# --- protect: secondary suppression -----------------------------------------------------------

COUNT = [Column("area", Kind.LABEL), Column("n", Kind.COUNT)]


def by(*keys):
    return lambda row: tuple(row[k] for k in keys)


def test_pcn_with_one_small_practice_suppresses_smallest_sibling():
    rows = [
        {"pcn": "P1", "area": a, "n": n} for a, n in [("A", 40), ("B", 3), ("C", 22), ("D", 22)]
    ]
    out = protect(rows, COUNT, groups=[by("pcn")])
    assert [r["n"] for r in out] == [40, S, S, 20]  # 22 tie: the first in input order


def test_two_suppressed_hiding_enough_need_nothing_more():
    rows = [{"pcn": "P1", "area": a, "n": n} for a, n in [("A", 40), ("B", 3), ("C", 6)]]
    assert [r["n"] for r in protect(rows, COUNT, groups=[by("pcn")])] == [40, S, S]


def test_two_small_suppressed_are_not_enough():
    """3 + 5 withheld: the released total less the rest would show their sum is 8, so each
    is at most 7 (sum - (|W| - 1) must be 8+): a third cell is withheld."""
    rows = [{"pcn": "P1", "area": a, "n": n} for a, n in [("A", 40), ("B", 3), ("C", 5), ("D", 50)]]
    assert [r["n"] for r in protect(rows, COUNT, groups=[by("pcn")])] == [S, S, S, 50]


def test_zero_is_not_a_complement_and_no_candidate_is_left_alone():
    rows = [{"pcn": "P1", "area": a, "n": n} for a, n in [("A", 0), ("B", 3), ("C", 0)]]
    assert [r["n"] for r in protect(rows, COUNT, groups=[by("pcn")])] == [0, S, 0]
    rows = [{"pcn": "P1", "area": a, "n": n} for a, n in [("A", 0), ("B", 3), ("C", 9)]]
    assert [r["n"] for r in protect(rows, COUNT, groups=[by("pcn")])] == [0, S, S]


def test_rows_outside_any_group_and_missing_values():
    rows = [
        {"pcn": None, "area": "A", "n": 3},
        {"pcn": None, "area": "B", "n": 50},
        {"pcn": "P", "area": "C", "n": None},
        {"pcn": "P", "area": "D", "n": 2},
        {"pcn": "P", "area": "E", "n": 30},
    ]
    group = [lambda r: r["pcn"]]
    assert [r["n"] for r in protect(rows, COUNT, groups=group)] == [S, 50, None, S, S]


def test_chain_reaction_across_a_practice_by_category_grid():
    grid = {"p1": [3, 20, 40], "p2": [10, 12, 50], "p3": [30, 35, 60]}
    rows = [
        {"practice": p, "cat": f"c{j}", "n": v}
        for p, vals in grid.items()
        for j, v in enumerate(vals)
    ]
    cols = [Column("practice", Kind.LABEL), Column("cat", Kind.LABEL), Column("n", Kind.COUNT)]
    out = protect(rows, cols, groups=[by("practice"), by("cat")])
    shown = [[r["n"] for r in out if r["practice"] == p] for p in grid]
    # p1 row -> p1/c1 (20); c0 column -> p2/c0 (10); c1 column -> p2/c1 (12); p2 row done.
    assert shown == [[S, S, 40], [S, S, 50], [30, 35, 60]]
    for key in ("practice", "cat"):
        for g in {r[key] for r in out}:
            assert sum(r["n"] == S for r in out if r[key] == g) in (0, 2)


def test_secondary_suppression_is_per_count_column():
    cols = [*COUNT, Column("m", Kind.COUNT)]
    rows = [{"g": 1, "area": "A", "n": 3, "m": 30}, {"g": 1, "area": "B", "n": 40, "m": 40}]
    out = protect(rows, cols, groups=[by("g")])
    assert [(r["n"], r["m"]) for r in out] == [(S, 30), (S, 40)]


# --- protect: standardised, money, ratio, analyst-only ----------------------------------------

TABLE = [
    Column("area", Kind.LABEL),
    Column("deaths", Kind.COUNT),
    Column("persons", Kind.COUNT),
    Column("dsr", Kind.STANDARDISED, basis="deaths"),
    Column("dsr_lcl", Kind.STANDARDISED, basis="deaths"),
    Column("spend", Kind.MONEY),
    Column("pct", Kind.RATIO, numerator="deaths", denominator="persons", scale=100, label="%"),
    Column("per_head", Kind.RATIO, numerator="spend", denominator="persons", mean=True),
    Column("crude_lcl", Kind.ANALYST_ONLY),
]


def row(area, deaths, persons, dsr=101.5, spend=12345.67, g="G", people=20):
    return {
        "spend_people": people,
        "spend_top1": spend / people if people else 0.0,
        "spend_top2": spend / people if people > 1 else 0.0,
        "g": g,
        "area": area,
        "deaths": deaths,
        "persons": persons,
        "dsr": dsr,
        "dsr_lcl": dsr / 2,
        "spend": spend,
        "crude_lcl": 0.123,
        "secret": "x",
    }


def test_standardised_withheld_when_basis_small_shown_unrounded_otherwise():
    out = protect([row("A", 5, 100), row("B", 8, 100, dsr=123.456)], TABLE)
    assert (out[0]["dsr"], out[0]["dsr_lcl"]) == (S, S)
    assert (out[1]["dsr"], out[1]["dsr_lcl"]) == (123.456, 61.728)


def test_money_is_released_by_its_own_people_not_by_a_count_column():
    rows = [row("A", 20, 3, people=3), row("B", 20, 30, spend=9999.99, people=30), row("C", 20, 40)]
    out = protect(rows, TABLE, groups=[by("g")])
    assert [r["persons"] for r in out] == [S, S, 40]
    # A: 3 people -> withheld; B: secondary for the money too (A's would be alone in g)
    assert [r["spend"] for r in out] == [S, S, 12000]
    assert [r["per_head"] for r in out] == [S, S, 12000 / 40]


def test_ratio_from_rounded_numbers():
    (out,) = protect([row("A", 12, 103)], TABLE)
    assert (out["deaths"], out["persons"]) == (10, 105)
    assert out["pct"] == pytest.approx(10 / 105 * 100)
    assert out["spend"] == 12000  # £12,345.67 to 3 significant figures
    assert out["per_head"] == pytest.approx(12000 / 105)


def test_ratio_withheld_with_a_suppressed_part_or_zero_denominator():
    out = protect([row("A", 3, 100), row("B", 20, 4), row("C", 0, 0), row("D", None, 50)], TABLE)
    assert [r["pct"] for r in out] == [S, S, S, None]


def test_ratio_in_each_rows_own_unit():
    """``scale_by``: one column of rates whose unit differs by row (a % beside a rate per
    100,000) is still recomputed from the rounded parts, times the row's multiplier."""
    cols = [Column("per", Kind.LABEL), Column("n", Kind.COUNT), Column("d", Kind.COUNT),
            Column("r", Kind.RATIO, numerator="n", denominator="d", scale_by="per")]
    out = protect([{"per": 100.0, "n": 12, "d": 103}, {"per": 1e5, "n": 23, "d": 18122.2},
                   {"per": None, "n": 12, "d": 103}, {"per": 100.0, "n": 3, "d": 103}], cols)
    assert out[0]["r"] == pytest.approx(10 / 105 * 100)
    assert out[1]["r"] == pytest.approx(25 / 18120 * 1e5)
    assert (out[2]["r"], out[3]["r"]) == (None, S)


def test_mean_needs_eight_values():
    (out,) = protect([row("A", 8, MIN_VALUES_FOR_MEAN, spend=Decimal("10000.00"), people=8)], TABLE)
    assert out["per_head"] == pytest.approx(10000 / 10)  # 8 rounds to 10
    assert out["spend"] == 10000
    cols = [
        Column("d", Kind.COUNT),
        Column("s", Kind.MONEY),
        Column("m", Kind.RATIO, numerator="s", denominator="d", mean=True),
    ]
    money = {"s_people": 7, "s_top1": 10.0, "s_top2": 10.0}
    assert protect([{"d": 7, "s": 70.0, **money}], cols) == [{"d": S, "s": S, "m": S}]


def test_analyst_only_and_unlisted_columns_are_dropped_in_column_order():
    (out,) = protect([row("A", 12, 103)], TABLE)
    assert list(out) == ["area", "deaths", "persons", "dsr", "dsr_lcl", "spend", "pct", "per_head"]
    assert list(column_kinds(TABLE)) == list(out)
    assert column_kinds(TABLE)["pct"] is Kind.RATIO
    assert TABLE[6].label == "%" and TABLE[0].label == "area"


def test_nan_shown_as_none():
    (out,) = protect([row("A", float("nan"), 100, dsr=float("nan"))], TABLE)
    assert (out["deaths"], out["dsr"], out["pct"]) == (None, None, None)


# --- invalid input ----------------------------------------------------------------------------


def test_negative_count_rejected_with_column_name():
    with pytest.raises(ValueError, match=r"column 'deaths': negative count"):
        protect([row("A", -1, 10)], TABLE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": Kind.RATIO, "denominator": "d"}, "numerator and a denominator"),
        ({"kind": Kind.RATIO, "numerator": "n"}, "numerator and a denominator"),
        ({"kind": Kind.STANDARDISED}, "basis"),
        ({"kind": Kind.MONEY, "basis": "n"}, "basis"),
        ({"kind": Kind.COUNT, "order_statistic": True}, "only to money"),
        ({"kind": Kind.COUNT, "basis": "n"}, "basis"),
        ({"kind": Kind.COUNT, "numerator": "n"}, "only to ratios"),
        ({"kind": Kind.LABEL, "mean": True}, "only to ratios"),
        ({"kind": Kind.COUNT, "scale_by": "per"}, "only to ratios"),
        ({"kind": "nonsense"}, "nonsense"),
        ({"kind": Kind.RATIO, "numerator": "n", "denominator": "d", "scale": 0}, "scale"),
    ],
)
def test_invalid_columns(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Column("x", **kwargs)


@pytest.mark.parametrize(
    "columns",
    [
        [Column("d", Kind.COUNT), Column("d", Kind.LABEL)],
        [Column("r", Kind.STANDARDISED, basis="missing")],
        [Column("l", Kind.LABEL), Column("r", Kind.STANDARDISED, basis="l")],
        [Column("d", Kind.COUNT), Column("r", Kind.RATIO, numerator="l", denominator="d")],
        [
            Column("d", Kind.COUNT),
            Column("p", Kind.ANALYST_ONLY),
            Column("r", Kind.RATIO, numerator="d", denominator="p"),
        ],
        [
            Column("d", Kind.COUNT),
            Column("s", Kind.MONEY),
            Column("r", Kind.RATIO, numerator="d", denominator="s", mean=True),
        ],
    ],
)
def test_invalid_references(columns):
    with pytest.raises(ValueError, match=r"duplicate|refers to"):
        protect([], columns)


def test_missing_column_in_a_row():
    with pytest.raises(ValueError, match=r"row 1 has no column\(s\) \['n'\]"):
        protect([{"area": "A", "n": 1}, {"area": "B"}], COUNT)


# --- properties on random hierarchies ---------------------------------------------------------

small_or_any = st.one_of(st.integers(0, 8), st.integers(0, 60))


@st.composite
def hierarchies(draw):
    """ICB -> 1-3 places -> 1-4 PCNs -> 1-6 practices; parents are sums of their children.

    Rows: one per (area, category) plus an "all" category per area (the sum over categories).
    """
    cats = [f"k{i}" for i in range(draw(st.integers(1, 3)))]
    areas = []  # (level, area id, parent id, {cat: (n, m)})

    def leaf():
        return {c: (draw(small_or_any), draw(small_or_any)) for c in cats}

    def add(level, ident, parent, children):
        values = {c: tuple(sum(ch[3][c][j] for ch in children) for j in (0, 1)) for c in cats}
        areas.append((level, ident, parent, values))
        return areas[-1]

    places = []
    for p in range(draw(st.integers(1, 3))):
        pcns = []
        for q in range(draw(st.integers(1, 4))):
            pcn = f"pcn{p}.{q}"
            practices = [(3, f"{pcn}.{r}", pcn, leaf()) for r in range(draw(st.integers(1, 6)))]
            areas.extend(practices)
            pcns.append(add(2, pcn, f"place{p}", practices))
        places.append(add(1, f"place{p}", "icb", pcns))
    add(0, "icb", None, places)
    rows = []
    for level, ident, parent, values in areas:
        for c in cats:
            rows.append(
                {
                    "level": level,
                    "area": ident,
                    "parent": parent,
                    "cat": c,
                    "n": values[c][0],
                    "m": values[c][1],
                }
            )
        rows.append(
            {
                "level": level,
                "area": ident,
                "parent": parent,
                "cat": "all",
                "n": sum(v[0] for v in values.values()),
                "m": sum(v[1] for v in values.values()),
            }
        )
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order]


H_COLUMNS = [
    Column("level", Kind.LABEL),
    Column("area", Kind.LABEL),
    Column("cat", Kind.LABEL),
    Column("n", Kind.COUNT),
    Column("m", Kind.COUNT),
    Column("n_pct", Kind.RATIO, numerator="n", denominator="m", scale=100),
    Column("parent", Kind.ANALYST_ONLY),
]
H_GROUPS = [
    lambda r: None if r["parent"] is None else ("siblings", r["level"], r["cat"], r["parent"]),
    lambda r: None if r["cat"] == "all" else ("categories", r["area"]),
]


@given(hierarchies())
@FAST
def test_protect_properties_on_hierarchies(rows):
    before = copy.deepcopy(rows)
    out = protect(rows, H_COLUMNS, groups=H_GROUPS)
    assert rows == before  # input not mutated
    assert protect(rows, H_COLUMNS, groups=H_GROUPS) == out  # deterministic
    assert all("parent" not in r for r in out) and len(out) == len(rows)
    for r, o in zip(rows, out, strict=True):
        for c in ("n", "m"):
            v = o[c]
            assert v == 0 or v == S or (isinstance(v, int) and v >= 10 and v % 5 == 0)
            if 1 <= r[c] <= 7:
                assert v == S  # primary
            if v != S:
                assert v == round_count(r[c])  # totals rounded from the unrounded sum
        if S in (o["n"], o["m"]) or o["m"] == 0:
            assert o["n_pct"] == S
        else:
            assert o["n_pct"] == pytest.approx(o["n"] / o["m"] * 100)
    for f in H_GROUPS:
        members = {}
        for i, r in enumerate(rows):
            if (gid := f(r)) is not None:
                members.setdefault(gid, []).append(i)
        for idx in members.values():
            for c in ("n", "m"):
                starred = [i for i in idx if out[i][c] == S]
                if len(starred) == 1:  # allowed only when no non-zero unsuppressed sibling
                    assert all(rows[i][c] == 0 for i in idx if i not in starred)


@given(hierarchies())
@FAST
def test_secondary_only_adds_suppression(rows):
    """Without groups only primary "*" appear; groups only turn shown counts into "*"."""
    plain = protect(rows, H_COLUMNS)
    grouped = protect(rows, H_COLUMNS, groups=H_GROUPS)
    for r, p, g in zip(rows, plain, grouped, strict=True):
        for c in ("n", "m"):
            assert (p[c] == S) == (1 <= r[c] <= 7)
            assert p[c] == S or g[c] in (p[c], S)


def test_hierarchy_example_is_reproducible():
    """A fixed example of the strategy's shape, to make failures readable."""
    rows = [
        {"level": 1, "area": "pcn", "parent": None, "cat": "all", "n": 45, "m": 60},
        {"level": 2, "area": "a", "parent": "pcn", "cat": "all", "n": 2, "m": 20},
        {"level": 2, "area": "b", "parent": "pcn", "cat": "all", "n": 18, "m": 20},
        {"level": 2, "area": "c", "parent": "pcn", "cat": "all", "n": 25, "m": 20},
    ]
    out = protect(rows, H_COLUMNS, groups=H_GROUPS)
    assert [r["n"] for r in out] == [45, S, S, 25]
    assert [r["n_pct"] for r in out] == [pytest.approx(75.0), S, S, pytest.approx(125.0)]
    assert math.isclose(out[0]["n_pct"], 45 / 60 * 100)


# --- money: magnitude rule (Hundepool et al. 2012, section 4.2; docs/governance.md) -----------

from phm.disclosure import (  # noqa: E402
    MONEY_MIN_BASE,
    MONEY_MIN_PEOPLE,
    MONEY_SIG_FIGS,
    P_PERCENT,
    money_base,
    money_sensitive,
    round_money,
    suppress_linked,
)


def test_money_constants():
    assert (MONEY_MIN_PEOPLE, P_PERCENT, MONEY_SIG_FIGS, MONEY_MIN_BASE) == (8, 10, 3, 1000)


@pytest.mark.parametrize(
    ("v", "base", "shown"),
    [
        (0, 1000, 0),
        (499.99, 1000, 0),
        (500, 1000, 1000),
        (3456.78, 1000, 3000),
        (123_456, 1000, 123_000),
        (123_500, 1000, 124_000),  # half up
        (999_499, 1000, 999_000),
        (1_234_567, 10_000, 1_230_000),
        (256_105_493.94, 1_000_000, 256_000_000),
        (Decimal("10000.00"), 1000, 10_000),
    ],
)
def test_money_rounding_three_significant_figures_at_least_1000(v, base, shown):
    assert money_base(v) == base
    assert round_money(v) == shown


def test_round_money_rejects_negative_and_passes_missing():
    assert round_money(None) is None and round_money(float("nan")) is None
    with pytest.raises(ValueError, match="negative"):
        round_money(-1)


@pytest.mark.parametrize(
    ("total", "people", "top1", "top2", "sensitive"),
    [
        (0.0, 0, 0.0, 0.0, False),  # nobody contributes: released as 0
        (70_000.0, 7, 10_000.0, 10_000.0, True),  # threshold rule: fewer than 8 people
        (80_000.0, 8, 10_000.0, 10_000.0, False),
        # p% rule: X - x1 - x2 < 0.10 x1 -> the second largest could estimate the largest
        (100_000.0, 10, 85_000.0, 10_000.0, True),  # 5,000 < 8,500
        (100_000.0, 10, 80_000.0, 10_000.0, False),  # 10,000 >= 8,000
        (100_000.0, 10, 90_000.0, 1_000.0, False),  # 9,000 >= 9,000: not less than
        (None, None, None, None, True),  # no support: withheld
    ],
)
def test_money_sensitivity(total, people, top1, top2, sensitive):
    assert money_sensitive(total, people, top1, top2) is sensitive


MONEY = [Column("area", Kind.LABEL), Column("spend", Kind.MONEY)]


def mrow(area, spend, people, top1=None, top2=None, pcn="P"):
    top1 = spend / max(people, 1) if top1 is None else top1
    top2 = (spend / people if people > 1 else 0.0) if top2 is None else top2
    return {
        "pcn": pcn,
        "area": area,
        "spend": spend,
        "spend_people": people,
        "spend_top1": top1,
        "spend_top2": top2,
    }


def test_money_needs_its_support_columns():
    with pytest.raises(ValueError, match=r"spend_people"):
        protect([{"area": "A", "spend": 1.0}], MONEY)


def test_money_order_statistic_is_only_rounded():
    cols = [Column("t", Kind.MONEY, order_statistic=True)]
    assert protect([{"t": 12_345.6}], cols) == [{"t": 12_000}]


def test_money_secondary_hides_at_least_p_percent_and_the_base():
    # A is withheld (3 people); the complement must hide >= max(10% of A, £1,000): B (£500)
    # is too small, so C (£20,000, next smallest sufficient) is withheld instead.
    rows = [
        mrow("A", 60_000.0, 3),
        mrow("B", 500.0, 9),
        mrow("C", 20_000.0, 9),
        mrow("D", 90_000.0, 30),
    ]
    out = protect(rows, MONEY, groups=[by("pcn")])
    assert [r["spend"] for r in out] == [S, 1000, S, 90_000]


def test_suppress_linked_shared_cell_links_two_relations():
    # cells 0..2 sum to 6; cells 2..4 sum to 7 (cell 2 is in both)
    raw = [40, 3, 30, 50, 60, 0, 0]
    shown = [40, S, 30, 50, 60, 0, 0]
    added = suppress_linked(raw, shown, [[0, 1, 2, 5], [2, 3, 4, 6]])
    # relation 1: 3 alone -> needs a cell >= 8 + 1 - 3 = 6: 30 (smallest sufficient);
    # relation 2 then has 30 alone -> 50.
    assert shown == [40, S, S, S, 60, 0, 0] and added == 2


@given(
    st.lists(
        st.tuples(
            st.floats(0, 200_000, allow_nan=False),
            st.integers(0, 40),
            st.floats(0, 1),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=12,
    )
)
@FAST
def test_property_no_released_money_breaks_the_magnitude_rule(cells):
    """Any released £ value has 8+ people behind it and passes the p% rule, is a multiple of
    its base, and no group is left with a lone withheld value."""
    rows = []
    for k, (spend, people, a, b) in enumerate(cells):
        spend = spend if people else 0.0
        top1 = spend * a if people else 0.0
        top2 = min(top1, (spend - top1) * b) if people > 1 else 0.0
        rows.append(mrow(f"A{k}", spend, people, top1, top2))
    out = protect(rows, MONEY, groups=[by("pcn")])
    for r, o in zip(rows, out, strict=True):
        if o["spend"] != S:
            assert not money_sensitive(
                r["spend"], r["spend_people"], r["spend_top1"], r["spend_top2"]
            )
            assert o["spend"] == round_money(r["spend"]) and o["spend"] % MONEY_MIN_BASE == 0
    withheld = [r for r in out if r["spend"] == S]
    candidates = [r for r, o in zip(rows, out, strict=True) if o["spend"] != S and r["spend"]]
    assert len(withheld) != 1 or not candidates


def test_missing_standardised_value_beside_a_released_count_is_withheld_not_blank():
    """A DSR is not computed below 10 events: blank beside a count shown as 10 would reveal
    8-9 events, so it is shown as * (a zero count keeps its blank)."""
    out = protect([row("A", 9, 100, dsr=float("nan")), row("B", 0, 100, dsr=float("nan"))], TABLE)
    assert (out[0]["deaths"], out[0]["dsr"]) == (10, S)
    assert (out[1]["deaths"], out[1]["dsr"]) == (0, None)
