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


def test_two_suppressed_need_nothing_more():
    rows = [{"pcn": "P1", "area": a, "n": n} for a, n in [("A", 40), ("B", 3), ("C", 5)]]
    assert [r["n"] for r in protect(rows, COUNT, groups=[by("pcn")])] == [40, S, S]


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
    Column("spend", Kind.MONEY, basis="persons"),
    Column("pct", Kind.RATIO, numerator="deaths", denominator="persons", scale=100, label="%"),
    Column("per_head", Kind.RATIO, numerator="spend", denominator="persons", mean=True),
    Column("crude_lcl", Kind.ANALYST_ONLY),
]


def row(area, deaths, persons, dsr=101.5, spend=1234.56, g="G"):
    return {
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


def test_money_withheld_when_basis_secondary_suppressed():
    rows = [row("A", 20, 3), row("B", 20, 30, spend=999.99), row("C", 20, 40)]
    out = protect(rows, TABLE, groups=[by("g")])
    assert [r["persons"] for r in out] == [S, S, 40]
    assert [r["spend"] for r in out] == [S, S, 1234.56]
    assert [r["per_head"] for r in out] == [S, S, 1234.56 / 40]


def test_ratio_from_rounded_numbers():
    (out,) = protect([row("A", 12, 103)], TABLE)
    assert (out["deaths"], out["persons"]) == (10, 105)
    assert out["pct"] == pytest.approx(10 / 105 * 100)
    assert out["per_head"] == pytest.approx(1234.56 / 105)


def test_ratio_withheld_with_a_suppressed_part_or_zero_denominator():
    out = protect([row("A", 3, 100), row("B", 20, 4), row("C", 0, 0), row("D", None, 50)], TABLE)
    assert [r["pct"] for r in out] == [S, S, S, None]


def test_mean_needs_eight_values():
    (out,) = protect([row("A", 8, MIN_VALUES_FOR_MEAN, spend=Decimal("100.00"))], TABLE)
    assert out["per_head"] == pytest.approx(100 / 10)  # 8 rounds to 10
    assert out["spend"] == Decimal("100.00")
    cols = [
        Column("d", Kind.COUNT),
        Column("s", Kind.MONEY, basis="d"),
        Column("m", Kind.RATIO, numerator="s", denominator="d", mean=True),
    ]
    assert protect([{"d": 7, "s": 70.0}], cols) == [{"d": S, "s": S, "m": S}]


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
        ({"kind": Kind.MONEY}, "basis"),
        ({"kind": Kind.COUNT, "basis": "n"}, "basis"),
        ({"kind": Kind.COUNT, "numerator": "n"}, "only to ratios"),
        ({"kind": Kind.LABEL, "mean": True}, "only to ratios"),
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
            Column("s", Kind.MONEY, basis="d"),
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
