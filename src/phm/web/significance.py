"""Uncertainty without exact counts: whether an area is statistically higher, similar or
lower than its comparators, released to roles other than ICB analyst only as that category
(issue 12).

Method, as OHID Fingertips (formerly PHE) benchmarks an area: the area's 95% confidence
interval is compared with the comparator's *value* (the benchmark's point estimate, not its
interval): ``higher`` if the lower limit is above that value, ``lower`` if the upper limit is
below it, else ``similar`` (a value on a limit counts as inside the interval). Sources:

- PHE, *Technical Guide: RAG rating indicator values* (2017, listed on the Fingertips guidance
  page, https://fingertips.phe.org.uk/profile/guidance) and the Fingertips benchmark key
  ("Compared with benchmark": better / similar / worse, or, for indicators without a polarity,
  lower / similar / higher, which are "shaded blue rather than red/amber/green ... because it is
  not straightforward to determine for these indicators whether a high value is good or bad":
  *Public Health Outcomes Framework at a glance*, fingertips.phe.org.uk, 2021); the intervals
  follow the PHE *Technical Guide: Confidence intervals* (see :mod:`phm.stats.intervals`).
- Fingertips' own code (ukhsa-collaboration/fingertips-open,
  ``PholioVisualisationWS/Analysis/SingleOverlappingCIsComparer.cs``): ``Same`` when the
  comparator's value lies within ``[LowerCI, UpperCI]`` (inclusive), else below or above; its
  "blue orange blue" scheme colours lower ``#5555E6``, similar ``#FFC000`` and higher
  ``#C2CCFF`` (``static/app.css`` uses these, always with the word).

The intervals are phm.stats', computed on the exact (analyst) rows: the PHE Poisson rule
(:func:`phm.stats.poisson_ci`: Byar's for 10+ events, exact for fewer) for a count over the
registered persons (emergency admissions, A&E attendances per 1,000), Wilson
(:func:`phm.stats.wilson_ci`) for proportions (% with 2+ long-term conditions, recorded
prevalence), and each DSR's own Dobson limits (``dsr_lower``/``dsr_upper``, written by
``phm build``). Comparators: the ICB, and the parent area (a practice's PCN, a PCN's place, a
place's ICB), for the same year and the same category (condition; breakdown and group).

The category is added to both versions of each row (analysts see it too). In the released
(non-analyst) row it is ``suppressed`` instead of the category wherever the value or a count behind it
is withheld (``*``) in the area's row or in the comparator's, so a category can say nothing
about a withheld number; ``None`` where nothing is compared (the ICB itself, no comparator row,
or no interval: a DSR of fewer than 10 events has none).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from phm.disclosure import SUPPRESSED, Column, Kind
from phm.stats import poisson_ci, wilson_ci

HIGHER, SIMILAR, LOWER, WITHHELD = "higher", "similar", "lower", "suppressed"
CATEGORIES = (HIGHER, SIMILAR, LOWER, WITHHELD)
# Fingertips' "blue orange blue" colours for indicators without a polarity; never shown alone.
COLOURS = {
    LOWER: "#5555E6",
    SIMILAR: "#FFC000",
    HIGHER: "#C2CCFF",
    WITHHELD: "#FFFFFF",
    None: "#C9C9C9",
}
LEGEND = (
    "Compared with the ICB and with the parent area (a practice's PCN, a PCN's place) at 95% "
    "confidence, as Fingertips does: higher or lower where the area's 95% confidence interval lies "
    "wholly above or below the comparator's value, else similar. Computed on unrounded data; only "
    "the category is released. 'suppressed': the numbers behind the value (or the comparator's) "
    "are too small to show. No label: not compared (the ICB itself, or too few events for an "
    "interval)."
)


@dataclass(frozen=True)
class Measure:
    """A value, how its 95% interval is found (``interval(exact_row) -> (lower, upper)`` or
    None), the columns whose withholding withholds the category (``basis``) and the key
    columns that pick the comparator's row (``match``)."""

    name: str
    label: str
    interval: Callable[[dict], tuple[float, float] | None]
    basis: tuple[str, ...]
    match: tuple[str, ...] = ()


def _number(v) -> float | None:
    if v is None or isinstance(v, bool | str):
        return None
    v = float(v)
    return v if v == v else None


def _rate(count: str, den: str, scale: float):
    """Poisson interval of ``count`` (PHE rule) over ``den``, times ``scale``."""

    def interval(r):
        n, d = _number(r.get(count)), _number(r.get(den))
        if n is None or not d:
            return None
        lo, hi = poisson_ci(n)
        return float(lo) / d * scale, float(hi) / d * scale

    return interval


def _proportion(x: str, n: str, scale: float = 1.0):
    """Wilson interval of ``x / n``, times ``scale``."""

    def interval(r):
        k, d = _number(r.get(x)), _number(r.get(n))
        if k is None or not d or k > d:
            return None
        lo, hi = wilson_ci(k, d)
        return float(lo) * scale, float(hi) * scale

    return interval


def _given(lo: str, hi: str):
    """Limits already on the row (a DSR's Dobson limits)."""

    def interval(r):
        a, b = _number(r.get(lo)), _number(r.get(hi))
        return None if a is None or b is None else (a, b)

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


def columns_of(name: str, measure: str) -> tuple[str, str]:
    """The category columns of ``measure`` in dataset ``name`` (vs ICB, vs parent)."""
    return f"{measure}_vs_icb", f"{measure}_vs_parent"


def text(category: str | None, comparator: str) -> str:
    """The words shown for a category against a named comparator."""
    return {
        HIGHER: f"higher than {comparator}",
        LOWER: f"lower than {comparator}",
        SIMILAR: f"similar to {comparator}",
        WITHHELD: f"vs {comparator}: suppressed",
    }.get(category or "", "")


def compare(interval: tuple[float, float] | None, value: float | None) -> str | None:
    """Fingertips' comparison of an area's interval with a comparator's value."""
    value = _number(value)
    if interval is None or value is None:
        return None
    lo, hi = interval
    return HIGHER if lo > value else LOWER if hi < value else SIMILAR


def _withheld(shown: dict, m: Measure) -> bool:
    return any(shown.get(c) == SUPPRESSED for c in (*m.basis, m.name))


def annotate(
    name: str,
    raw_rows: list[dict],
    shown_rows: list[dict],
    parent: Callable[[tuple[str, str]], tuple[str, str] | None],
) -> None:
    """Set ``<measure>_vs_icb`` and ``<measure>_vs_parent`` on every exact row and on its
    released row (``shown_rows``: the same rows, same order, after disclosure control) of
    dataset ``name``. ``parent((level, code))`` is the parent area, or None."""
    measures = MEASURES.get(name, ())
    if not measures:
        return
    if len(raw_rows) != len(shown_rows):
        raise ValueError(f"{name}: {len(raw_rows)} exact rows but {len(shown_rows)} released rows")
    where: dict[tuple, int] = {}  # (measure, level, area, fy, *match keys) -> row position
    for i, r in enumerate(raw_rows):
        for m in measures:
            where[(m.name, r["level"], r["area_code"], r["fy"], *(r.get(k) for k in m.match))] = i
    icb = next(((r["level"], r["area_code"]) for r in raw_rows if r["level"] == "icb"), None)
    for raw, shown in zip(raw_rows, shown_rows, strict=True):
        if any(raw[k] != shown[k] for k in ("level", "area_code", "fy")):
            raise ValueError(f"{name}: exact and released rows are not in the same order")
        area = (raw["level"], raw["area_code"])
        against = {"icb": None if area[0] == "icb" else icb, "parent": parent(area)}
        for m in measures:
            interval = m.interval(raw)
            keys = (m.name, raw["fy"], *(raw.get(k) for k in m.match))
            own_withheld = _withheld(shown, m)
            for suffix, comp in against.items():
                j = where.get((keys[0], *comp, *keys[1:])) if comp else None
                col = f"{m.name}_vs_{suffix}"
                if j is None:  # nothing to compare with
                    raw[col] = shown[col] = None
                    continue
                raw[col] = compare(interval, raw_rows[j].get(m.name))
                withheld = own_withheld or _withheld(shown_rows[j], m)
                shown[col] = WITHHELD if withheld else raw[col]
