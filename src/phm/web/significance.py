"""Uncertainty without exact counts: whether an area is statistically higher, similar or
lower than its comparators, released to non-analysts only as that category (issue 12).

Method, as OHID Fingertips benchmarks an area (PHE, *Technical Guide: Confidence Intervals*,
2018; the Fingertips "compared with benchmark" colouring — section wording UNVERIFIED): the
area's 95% confidence interval is compared with the comparator's *value*: ``higher`` if the
lower limit is above it, ``lower`` if the upper limit is below it, else ``similar``. The
intervals are the ones phm already computes on the exact data (phm.stats): Byar's (exact
Poisson below 10 events, the PHE rule) for crude rates of events (emergency admissions, A&E attendances per person), Wilson for
proportions (2+ long-term conditions, recorded prevalence) and Dobson for directly
standardised rates (emergency admissions DSR). Comparators: the ICB, and the parent area (a
practice's PCN, a PCN's place, a place's ICB).

The category is computed by the server on the unrounded rows and added to both versions of
each row (analysts see it too). For a non-analyst it is ``suppressed`` when the value or the
count behind it is withheld; ``None`` where there is no comparator (the ICB itself) or no
interval (a DSR below 10 events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from phm.disclosure import SUPPRESSED, Column, Kind
from phm.stats import poisson_ci, wilson_ci

HIGHER, SIMILAR, LOWER, WITHHELD = "higher", "similar", "lower", "suppressed"
CATEGORIES = (HIGHER, SIMILAR, LOWER, WITHHELD)
LEGEND = (
    "Compared with the ICB and with the parent area (a practice's PCN, a PCN's place) at 95% "
    "confidence, as Fingertips does: higher or lower where the area's confidence interval lies "
    "wholly above or below the comparator's value, else similar. Computed on unrounded data; only "
    "the category is released. 'suppressed': the numbers behind the value are too small to show."
)


@dataclass(frozen=True)
class Measure:
    """A value and how its 95% interval is found: ``interval(row) -> (lower, upper)`` on the
    exact row; ``basis``: the count columns whose withholding withholds the category."""

    name: str
    label: str
    interval: Callable[[dict], tuple[float, float] | None]
    basis: tuple[str, ...]
    match: tuple[str, ...] = ()  # key columns that pick the comparator's row


def _rate(count: str, den: str, scale: float):
    def interval(r):
        n, d = r.get(count), r.get(den)
        if n is None or not d:
            return None
        lo, hi = poisson_ci(float(n))
        return float(lo) / d * scale, float(hi) / d * scale

    return interval


def _proportion(x: str, n: str, scale: float = 1.0):
    def interval(r):
        k, d = r.get(x), r.get(n)
        if k is None or not d:
            return None
        lo, hi = wilson_ci(float(k), float(d))
        return float(lo) * scale, float(hi) * scale

    return interval


def _given(lo: str, hi: str):
    def interval(r):
        a, b = r.get(lo), r.get(hi)
        return None if a is None or b is None or a != a or b != b else (a, b)

    return interval


MEASURES: dict[str, tuple[Measure, ...]] = {
    "summary": (
        Measure(
            "emergency_per_1000",
            "Emergency admissions per 1,000",
            _rate("emergency_admissions", "persons", 1000),
            ("emergency_admissions", "persons"),
        ),
        Measure(
            "ae_per_1000",
            "A&E attendances per 1,000",
            _rate("ae_attendances", "persons", 1000),
            ("ae_attendances", "persons"),
        ),
        Measure(
            "ltc2plus_pct",
            "% with 2+ long-term conditions",
            _proportion("ltc2plus", "persons", 100),
            ("ltc2plus", "persons"),
        ),
    ),
    "prevalence": (
        Measure(
            "prevalence",
            "Recorded prevalence",
            _proportion("register", "denominator"),
            ("register", "denominator"),
            ("condition",),
        ),
    ),
    "emergency": (
        Measure(
            "dsr", "Emergency admissions DSR", _given("dsr_lower", "dsr_upper"), ("admissions",)
        ),
    ),
    "inequalities": (
        Measure(
            "dsr",
            "Emergency admissions DSR",
            _given("dsr_lower", "dsr_upper"),
            ("admissions",),
            ("dimension", "group"),
        ),
    ),
}

COLUMNS: dict[str, tuple[Column, ...]] = {
    name: tuple(
        Column(f"{m.name}_vs_{c}", Kind.LABEL, label=f"{m.label}: vs {text}")
        for m in ms
        for c, text in (("icb", "ICB"), ("parent", "parent area"))
    )
    for name, ms in MEASURES.items()
}


def text(category: str | None, comparator: str) -> str:
    """The words shown for a category against a named comparator."""
    return {
        HIGHER: f"higher than {comparator}",
        LOWER: f"lower than {comparator}",
        SIMILAR: f"similar to {comparator}",
        WITHHELD: f"vs {comparator}: suppressed",
    }.get(category or "", "")


def compare(interval: tuple[float, float] | None, value: float | None) -> str | None:
    """Fingertips' comparison of an interval with a comparator's value."""
    if interval is None or value is None or value != value:
        return None
    lo, hi = interval
    return HIGHER if lo > value else LOWER if hi < value else SIMILAR


def annotate(
    name: str,
    raw_rows: list[dict],
    shown_rows: list[dict],
    parent: Callable[[tuple[str, str]], tuple[str, str] | None],
) -> None:
    """Add ``<measure>_vs_icb`` and ``<measure>_vs_parent`` to every raw row and its shown row
    (same order) of dataset ``name``."""
    measures = MEASURES.get(name, ())
    if not measures:
        return
    by_key: dict[tuple, dict] = {}
    for r in raw_rows:
        for m in measures:
            by_key[(r["level"], r["area_code"], r["fy"], *(r[k] for k in m.match))] = r
    icb = next((r["area_code"] for r in raw_rows if r["level"] == "icb"), None)
    for raw, shown in zip(raw_rows, shown_rows, strict=True):
        area = (raw["level"], raw["area_code"])
        up = parent(area)
        for m in measures:
            keys = tuple(raw[k] for k in m.match)
            interval = m.interval(raw)
            withheld = any(shown.get(c) == SUPPRESSED for c in (*m.basis, m.name))
            for suffix, comp in (
                ("icb", None if area[0] == "icb" else ("icb", icb)),
                ("parent", up),
            ):
                other = by_key.get((*comp, raw["fy"], *keys)) if comp else None
                category = compare(interval, other.get(m.name)) if other else None
                col = f"{m.name}_vs_{suffix}"
                raw[col] = category
                shown[col] = WITHHELD if withheld and category is not None else category
