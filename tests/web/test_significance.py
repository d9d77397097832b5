"""Significance categories for non-analysts (issue 12 item 3; phm.web.significance).

Hand-worked cases of the Fingertips comparison (the area's 95% interval against the
comparator's value), with the intervals worked out here from their textbook formulas (Wilson
1927; Byar's, Breslow & Day 1987 p. 69; the exact Garwood interval below 10 events) and
checked against what annotate() decides: higher, similar or lower; ``suppressed`` where the
released row withholds the numbers; None where there is nothing to compare with."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chi2

from phm.disclosure import SUPPRESSED
from phm.web import significance as sig

Z = 1.959963984540054  # the 97.5th centile of the standard normal

PARENT = {
    ("practice", "A"): ("pcn", "N"),
    ("practice", "B"): ("pcn", "N"),
    ("pcn", "N"): ("place", "P"),
    ("place", "P"): ("icb", "I"),
}.get


def wilson(x: float, n: float) -> tuple[float, float]:
    root = Z * math.sqrt(Z * Z + 4 * x * (1 - x / n))
    return (2 * x + Z * Z - root) / (2 * (n + Z * Z)), (2 * x + Z * Z + root) / (2 * (n + Z * Z))


def byars(o: float) -> tuple[float, float]:
    lo = o * (1 - 1 / (9 * o) - Z / (3 * math.sqrt(o))) ** 3
    hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + Z / (3 * math.sqrt(o + 1))) ** 3
    return lo, hi


def exact(o: float) -> tuple[float, float]:
    return (chi2.ppf(0.025, 2 * o) / 2 if o else 0.0), chi2.ppf(0.975, 2 * o + 2) / 2


def test_hand_worked_intervals():
    """The numbers the cases below rely on, to 4 figures."""
    assert wilson(150, 1000) == pytest.approx((0.1292, 0.1735), abs=1e-4)
    assert wilson(80, 1000) == pytest.approx((0.06475, 0.09847), abs=1e-4)
    assert wilson(230, 2000) == pytest.approx((0.1018, 0.1297), abs=1e-4)
    assert wilson(30, 100) == pytest.approx((0.2189, 0.3958), abs=1e-4)
    assert byars(130) == pytest.approx((108.61, 154.37), abs=1e-2)
    assert byars(110) == pytest.approx((90.40, 132.58), abs=1e-2)
    assert exact(9) == pytest.approx((4.115, 17.085), abs=1e-3)
    assert exact(2) == pytest.approx((0.2422, 7.2247), abs=1e-4)
    assert exact(0) == pytest.approx((0.0, 3.6889), abs=1e-4)


def test_compare_is_fingertips():
    assert sig.compare((0.11, 0.20), 0.10) == sig.HIGHER
    assert sig.compare((0.01, 0.09), 0.10) == sig.LOWER
    assert sig.compare((0.05, 0.15), 0.10) == sig.SIMILAR
    assert sig.compare((0.10, 0.15), 0.10) == sig.SIMILAR  # on a limit: inside the interval
    assert sig.compare((0.05, 0.10), 0.10) == sig.SIMILAR
    assert sig.compare(None, 0.1) is None and sig.compare((0.0, 1.0), None) is None
    assert sig.compare((0.0, 1.0), float("nan")) is None


def prev(level, code, register, denominator, condition="asthma"):
    return {
        "level": level,
        "area_code": code,
        "fy": 2024,
        "condition": condition,
        "register": register,
        "denominator": denominator,
        "prevalence": register / denominator,
    }


def test_prevalence_against_icb_and_parent():
    # ICB 10% (1,000 / 10,000); the place is the ICB. PCN 230/2,000: Wilson (0.1018, 0.1297)
    # > 0.10: higher than the ICB and than its place. Practice A 150/1,000: Wilson
    # (0.1292, 0.1735) > 0.10 (ICB) and > 0.115 (its PCN): higher than both. Practice B
    # 80/1,000: Wilson (0.0647, 0.0985) < 0.10 and < 0.115: lower than both.
    raw = [
        prev("icb", "I", 1000, 10_000),
        prev("place", "P", 1000, 10_000),
        prev("pcn", "N", 230, 2000),
        prev("practice", "A", 150, 1000),
        prev("practice", "B", 80, 1000),
    ]
    shown = [dict(r) for r in raw]
    sig.annotate("prevalence", raw, shown, PARENT)
    got = {r["area_code"]: (r["prevalence_vs_icb"], r["prevalence_vs_parent"]) for r in raw}
    assert got == {
        "I": (None, None),  # the ICB is compared with nothing
        "P": ("similar", "similar"),
        "N": ("higher", "higher"),
        "A": ("higher", "higher"),
        "B": ("lower", "lower"),
    }
    assert [r["prevalence_vs_icb"] for r in shown] == [r["prevalence_vs_icb"] for r in raw]


def test_prevalence_compares_the_same_condition():
    # Practice A: asthma 150/1,000 (Wilson 0.129-0.173), diabetes 80/1,000 (0.065-0.098). The
    # ICB: asthma 20%, diabetes 5%: asthma lower, diabetes higher; not the other way round.
    raw = [
        prev("icb", "I", 2000, 10_000, "asthma"),
        prev("icb", "I", 500, 10_000, "diabetes"),
        prev("practice", "A", 150, 1000, "asthma"),
        prev("practice", "A", 80, 1000, "diabetes"),
    ]
    sig.annotate("prevalence", raw, [dict(r) for r in raw], {}.get)
    assert [r["prevalence_vs_icb"] for r in raw] == [None, None, "lower", "higher"]
    assert [r["prevalence_vs_parent"] for r in raw] == [None] * 4  # no parent


def summary(level, code, admissions, persons, ltc2plus=0, ae=0):
    return {
        "level": level,
        "area_code": code,
        "fy": 2024,
        "persons": persons,
        "emergency_admissions": admissions,
        "emergency_per_1000": admissions / persons * 1000,
        "ae_attendances": ae,
        "ae_per_1000": ae / persons * 1000,
        "ltc2plus": ltc2plus,
        "ltc2plus_pct": ltc2plus / persons * 100,
    }


def test_rates_use_byars_from_10_events_and_the_exact_interval_below():
    # ICB 100 per 1,000. 130 admissions in 1,000 people: Byar's (108.6, 154.4) per 1,000 > 100:
    # higher. 110 in 1,000: (90.4, 132.6): similar. 9 in 20 (exact, < 10 events): (4.115,
    # 17.08) / 20 x 1,000 = (205.8, 854.2): higher. 2 in 50: (0.242, 7.22) / 50 x 1,000 =
    # (4.8, 144.5): similar. 0 in 100: (0, 3.69) / 100 x 1,000 = (0, 36.9): lower.
    raw = [
        summary("icb", "I", 10_000, 100_000),
        summary("practice", "A", 130, 1000),
        summary("practice", "B", 110, 1000),
        summary("practice", "C", 9, 20),
        summary("practice", "D", 2, 50),
        summary("practice", "E", 0, 100),
    ]
    assert byars(130)[0] > 100 and byars(110)[0] < 100 < byars(110)[1]  # per 1,000 (1,000 people)
    assert exact(9)[0] / 20 * 1000 > 100 and exact(0)[1] / 100 * 1000 < 100
    assert exact(2)[0] / 50 * 1000 < 100 < exact(2)[1] / 50 * 1000
    parent = {(r["level"], r["area_code"]): ("icb", "I") for r in raw[1:]}.get
    sig.annotate("summary", raw, [dict(r) for r in raw], parent)
    assert [r["emergency_per_1000_vs_icb"] for r in raw] == [
        None,
        "higher",
        "similar",
        "higher",
        "similar",
        "lower",
    ]
    # the parent of each practice here is the ICB, so the two categories agree
    assert [r["emergency_per_1000_vs_parent"] for r in raw[1:]] == [
        r["emergency_per_1000_vs_icb"] for r in raw[1:]
    ]


def test_percentage_with_two_or_more_ltcs_uses_wilson():
    # ICB 20% (20,000 / 100,000). Practice A 30/100: Wilson (21.9%, 39.6%) > 20%: higher.
    # Practice B 12/100: Wilson (7.0%, 19.8%) < 20%: lower.
    raw = [
        summary("icb", "I", 0, 100_000, ltc2plus=20_000),
        summary("practice", "A", 0, 100, ltc2plus=30),
        summary("practice", "B", 0, 100, ltc2plus=12),
    ]
    assert wilson(12, 100)[1] < 0.20 < wilson(30, 100)[0]
    sig.annotate("summary", raw, [dict(r) for r in raw], {}.get)
    assert [r["ltc2plus_pct_vs_icb"] for r in raw] == [None, "higher", "lower"]


def dsr(level, code, value, lower, upper, admissions=100, **keys):
    return {
        "level": level,
        "area_code": code,
        "fy": 2024,
        "admissions": admissions,
        "dsr": value,
        "dsr_lower": lower,
        "dsr_upper": upper,
        **keys,
    }


def test_emergency_dsr_uses_its_own_limits():
    # ICB DSR 400; PCN 550 (its limits 500-600); practice 500 (420-590): higher than the ICB
    # (420 > 400), similar to its PCN (550 lies in 420-590). A DSR without limits (fewer than
    # 10 events) is not compared.
    raw = [
        dsr("icb", "I", 400.0, 390.0, 410.0),
        dsr("pcn", "N", 550.0, 500.0, 600.0),
        dsr("practice", "A", 500.0, 420.0, 590.0),
        dsr("practice", "B", None, None, None, admissions=9),
    ]
    parent = {("practice", "A"): ("pcn", "N"), ("practice", "B"): ("pcn", "N")}.get
    sig.annotate("emergency", raw, [dict(r) for r in raw], parent)
    got = [(r["dsr_vs_icb"], r["dsr_vs_parent"]) for r in raw]
    assert got == [(None, None), ("higher", None), ("higher", "similar"), (None, None)]


def test_inequality_groups_compare_with_the_same_group():
    # Quintile 1: practice 500 (450-560) vs ICB quintile 1 at 600: lower; quintile 5: practice
    # 300 (250-350) vs ICB quintile 5 at 200: higher. Against the other quintile both flip.
    q = {"dimension": "imd2019_quintile"}
    raw = [
        dsr("icb", "I", 600.0, 590.0, 610.0, group="1", **q),
        dsr("icb", "I", 200.0, 190.0, 210.0, group="5", **q),
        dsr("practice", "A", 500.0, 450.0, 560.0, group="1", **q),
        dsr("practice", "A", 300.0, 250.0, 350.0, group="5", **q),
        dsr("practice", "A", 300.0, 250.0, 350.0, group="5", dimension="ethnic_group"),
    ]
    sig.annotate("inequalities", raw, [dict(r) for r in raw], {}.get)
    assert [r["dsr_vs_icb"] for r in raw] == [None, None, "lower", "higher", None]


def test_withheld_count_gives_suppressed_not_a_category():
    raw = [prev("icb", "I", 1000, 10_000), prev("practice", "A", 5, 20)]
    shown = [dict(r) for r in raw]
    shown[1].update(register=SUPPRESSED, prevalence=SUPPRESSED)
    sig.annotate("prevalence", raw, shown, {("practice", "A"): ("icb", "I")}.get)
    assert shown[1]["prevalence_vs_icb"] == sig.WITHHELD
    assert shown[1]["prevalence_vs_parent"] == sig.WITHHELD
    assert raw[1]["prevalence_vs_icb"] == sig.HIGHER  # 25% of 20: Wilson (0.112, 0.469) > 0.10


def test_withheld_count_is_suppressed_even_where_there_is_no_interval():
    # 8 admissions: no DSR limits, so no category; but the released row withholds the count,
    # and a blank (not compared) beside others' 'suppressed' would tell 8-9 from 10+.
    raw = [dsr("icb", "I", 400.0, 390.0, 410.0), dsr("practice", "A", None, None, None, 8)]
    shown = [dict(r) for r in raw]
    shown[1].update(admissions=SUPPRESSED, dsr=SUPPRESSED)
    sig.annotate("emergency", raw, shown, {("practice", "A"): ("icb", "I")}.get)
    assert raw[1]["dsr_vs_icb"] is None
    assert shown[1]["dsr_vs_icb"] == shown[1]["dsr_vs_parent"] == sig.WITHHELD


def test_withheld_comparator_gives_suppressed():
    # The PCN's register is withheld in the released rows: its practices' comparison with it is
    # not released (it would say something about the withheld number); the one with the ICB is.
    raw = [
        prev("icb", "I", 1000, 10_000),
        prev("pcn", "N", 230, 2000),
        prev("practice", "A", 150, 1000),
    ]
    shown = [dict(r) for r in raw]
    shown[1].update(register=SUPPRESSED, prevalence=SUPPRESSED)
    sig.annotate("prevalence", raw, shown, PARENT)
    assert raw[2]["prevalence_vs_parent"] == sig.HIGHER  # 0.129 > 0.115, for analysts
    assert shown[2]["prevalence_vs_parent"] == sig.WITHHELD
    assert shown[2]["prevalence_vs_icb"] == sig.HIGHER


def test_no_comparator_row_gives_none():
    raw = [prev("practice", "A", 150, 1000)]  # no ICB row, and a parent with no row
    shown = [dict(r) for r in raw]
    sig.annotate("prevalence", raw, shown, PARENT)
    assert (shown[0]["prevalence_vs_icb"], shown[0]["prevalence_vs_parent"]) == (None, None)


def test_rows_out_of_step_are_refused():
    raw = [prev("icb", "I", 1000, 10_000), prev("practice", "A", 150, 1000)]
    with pytest.raises(ValueError, match="same order"):
        sig.annotate("prevalence", raw, [dict(r) for r in reversed(raw)], PARENT)
    with pytest.raises(ValueError):
        sig.annotate("prevalence", raw, [dict(raw[0])], PARENT)


def test_datasets_without_measures_are_left_alone():
    rows = [{"level": "icb", "area_code": "I", "fy": 2024, "persons": 5}]
    sig.annotate("pyramid", rows, [dict(r) for r in rows], PARENT)
    assert set(rows[0]) == {"level", "area_code", "fy", "persons"}


def test_columns_and_words():
    names = [c.name for c in sig.COLUMNS["summary"]]
    assert names == [
        "emergency_per_1000_vs_icb",
        "emergency_per_1000_vs_parent",
        "ae_per_1000_vs_icb",
        "ae_per_1000_vs_parent",
        "ltc2plus_pct_vs_icb",
        "ltc2plus_pct_vs_parent",
    ]
    assert [c.name for c in sig.COLUMNS["prevalence"]] == [
        "prevalence_vs_icb",
        "prevalence_vs_parent",
    ]
    assert [c.name for c in sig.COLUMNS["emergency"]] == ["dsr_vs_icb", "dsr_vs_parent"]
    assert [c.name for c in sig.COLUMNS["inequalities"]] == ["dsr_vs_icb", "dsr_vs_parent"]
    assert all(c.label for cs in sig.COLUMNS.values() for c in cs)
    assert sig.text("similar", "ICB") == "similar to ICB" and sig.text(None, "ICB") == ""
    assert sig.text("suppressed", "PCN") == "vs PCN: suppressed"


@pytest.mark.parametrize("name", sorted(sig.MEASURES))
def test_served_rows_carry_the_categories(dashboard, name):
    """On the built 10k ICB: every released row has its categories; a withheld value or count
    (its own or its comparator's) always shows 'suppressed'; analysts see the same categories
    wherever nothing is withheld."""
    served = dashboard.served[name]
    cats = set()
    for key, raws in served.raw.items():
        for raw, shown in zip(raws, served.protected[key], strict=True):
            for m in sig.MEASURES[name]:
                for col in sig.columns_of(name, m.name):
                    cats.add(shown[col])
                    if shown[col] != sig.WITHHELD:
                        assert shown[col] == raw[col], (key, col)
                    if any(shown.get(c) == SUPPRESSED for c in (*m.basis, m.name)):
                        assert shown[col] in (sig.WITHHELD, None), (key, col)
                        assert shown[col] == sig.WITHHELD or key[0] == "icb"
    assert cats <= {None, *sig.CATEGORIES}
    assert cats & {sig.HIGHER, sig.SIMILAR, sig.LOWER}
