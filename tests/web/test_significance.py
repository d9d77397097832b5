"""Significance categories for non-analysts (issue 12 item 3; phm.web.significance).

Hand-worked cases of the Fingertips comparison (the area's 95% interval against the
comparator's value), with the intervals from phm.stats: Wilson for a proportion, Byar's /
exact Poisson for a rate, a DSR's own Dobson limits."""

from __future__ import annotations

import pytest

from phm.disclosure import SUPPRESSED
from phm.web import significance as sig

PARENT = {
    ("practice", "A"): ("pcn", "N"),
    ("practice", "B"): ("pcn", "N"),
    ("pcn", "N"): ("place", "P"),
    ("place", "P"): ("icb", "I"),
}.get


def test_compare_is_fingertips():
    assert sig.compare((0.11, 0.20), 0.10) == sig.HIGHER
    assert sig.compare((0.01, 0.09), 0.10) == sig.LOWER
    assert sig.compare((0.05, 0.15), 0.10) == sig.SIMILAR
    assert sig.compare((0.10, 0.15), 0.10) == sig.SIMILAR  # touching the value is not significant
    assert sig.compare(None, 0.1) is None and sig.compare((0.0, 1.0), None) is None


def prev(level, code, register, denominator):
    return {
        "level": level,
        "area_code": code,
        "fy": 2024,
        "condition": "asthma",
        "register": register,
        "denominator": denominator,
        "prevalence": register / denominator,
    }


def test_prevalence_against_icb_and_parent():
    # ICB 10% (1,000 / 10,000). Practice A 150/1,000: Wilson 95% (0.1290, 0.1737) > 0.10 -> higher.
    # Practice B 80/1,000: Wilson (0.0647, 0.0985) < 0.10 -> lower than ICB; PCN 230/2,000 = 11.5%; the place is the ICB.
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
        "I": (None, None),
        "P": ("similar", "similar"),
        "N": ("higher", "higher"),  # 230/2,000: Wilson (0.1015, 0.1299) > 0.10
        "A": ("higher", "higher"),
        "B": ("lower", "lower"),
    }
    assert [r["prevalence_vs_icb"] for r in shown] == [r["prevalence_vs_icb"] for r in raw]


def test_withheld_count_gives_suppressed_not_a_category():
    raw = [prev("icb", "I", 1000, 10_000), prev("practice", "A", 5, 20)]
    shown = [dict(r) for r in raw]
    shown[1].update(register=SUPPRESSED, prevalence=SUPPRESSED)
    sig.annotate("prevalence", raw, shown, {("practice", "A"): ("icb", "I")}.get)
    assert shown[1]["prevalence_vs_icb"] == sig.WITHHELD
    assert raw[1]["prevalence_vs_icb"] == sig.HIGHER  # 25% of 20: Wilson (0.112, 0.469) > 0.10


def summary(level, code, admissions, persons):
    return {
        "level": level,
        "area_code": code,
        "fy": 2024,
        "persons": persons,
        "emergency_admissions": admissions,
        "emergency_per_1000": admissions / persons * 1000,
        "ae_attendances": 0,
        "ae_per_1000": 0.0,
        "ltc2plus": 0,
        "ltc2plus_pct": 0.0,
    }


def test_rate_uses_byars_interval():
    # ICB 100 per 1,000. Practice: 130 admissions in 1,000 people; Byar's 95% for 130 is
    # (108.6, 154.4) per 1,000 > 100 -> higher. 110 in 1,000: (90.3, 132.6) -> similar.
    raw = [
        summary("icb", "I", 10_000, 100_000),
        summary("practice", "A", 130, 1000),
        summary("practice", "B", 110, 1000),
    ]
    parent = {("practice", "A"): ("icb", "I"), ("practice", "B"): ("icb", "I")}.get
    sig.annotate("summary", raw, [dict(r) for r in raw], parent)
    assert [r["emergency_per_1000_vs_icb"] for r in raw] == [None, "higher", "similar"]


def test_columns_and_words():
    names = [c.name for c in sig.COLUMNS["summary"]]
    assert "emergency_per_1000_vs_icb" in names and "ltc2plus_pct_vs_parent" in names
    assert sig.text("similar", "ICB") == "similar to ICB" and sig.text(None, "ICB") == ""


@pytest.mark.parametrize("name", sorted(sig.MEASURES))
def test_served_rows_carry_the_categories(dashboard, name):
    rows = [r for rs in dashboard.served[name].protected.values() for r in rs]
    cats = {r[f"{m.name}_vs_icb"] for r in rows for m in sig.MEASURES[name]}
    assert cats <= {None, *sig.CATEGORIES}
    assert cats & {sig.HIGHER, sig.SIMILAR, sig.LOWER}
