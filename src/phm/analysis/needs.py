"""Health needs assessment by area: recorded prevalence and emergency admissions.

For one financial year of ``person_year`` (default: the latest), at practice, PCN, place
or ICB level. Population: person-years registered (and alive) for at least one day of
the year (``exposure_days > 0``); the year's condition flags are "recorded on or before
the year end" and age is age at the year start (see :mod:`phm.model.person_year`).

Two references for expected counts. ``expected`` / ``isr`` compare an area with the ICB
(the whole table's age-sex rates; ``reference`` column ``ICB``), which is what a practice
or PCN lead compares against locally. ``expected_england`` / ``isr_england`` compare it
with England's recorded prevalence (NHS England QOF 2022-23, shipped in
:func:`phm.refdata.england_prevalence`); at ICB and place level that is the ratio a
board reads, and the dashboard shows it there. How the England expected is built, and
its stated assumption, is :func:`phm.analysis._measures._england`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from phm.analysis import _measures as ms
from phm.analysis._common import F64, I64, S, empty_like, group_labels, level_columns, table, year

PREVALENCE_TYPES = {
    "level": S,
    "area_code": S,
    "fy": I64,
    "condition": S,
    "min_age": I64,
    "register": I64,
    "denominator": I64,
    "prevalence": F64,
    "prevalence_lower": F64,
    "prevalence_upper": F64,
    "expected": F64,
    "isr": F64,
    "isr_lower": F64,
    "isr_upper": F64,
    "standardised_prevalence": F64,
    "standardised_lower": F64,
    "standardised_upper": F64,
    "reference": S,
    "icb_prevalence": F64,
    "funnel_lower_95": F64,
    "funnel_upper_95": F64,
    "funnel_lower_998": F64,
    "funnel_upper_998": F64,
    "outlier": S,
    "england_prevalence": F64,
    "expected_england": F64,
    "isr_england": F64,
    "isr_england_lower": F64,
    "isr_england_upper": F64,
    "icb_standardised_to_england": F64,
    "hospital_only": I64,
}
EMERGENCY_TYPES = {
    "level": S,
    "area_code": S,
    "fy": I64,
    "admissions": I64,
    "person_years": F64,
    "crude_rate": F64,
    "crude_lower": F64,
    "crude_upper": F64,
    "dsr": F64,
    "dsr_lower": F64,
    "dsr_upper": F64,
}


def prevalence(
    person_year, level: str | Sequence[str] = "practice", fy: int | None = None
) -> pa.Table:
    """Recorded prevalence of every condition by area, indirectly standardised, with funnels.

    One row per area (``level``: practice, pcn, place, icb, or a list of them, stacked) and
    condition: ``register`` (people with the condition among the ``denominator``),
    ``denominator`` (registered people at least ``min_age``, the QOF register age floor of
    :mod:`.registers`), ``prevalence`` with a 95% Wilson score interval (Wilson 1927 JASA
    22:209-212); ``expected`` register from the ICB's rates by ESP age band x sex (indirect
    standardisation), ``isr`` = register / expected with Byar's (register >= 10) or exact
    Poisson limits (PHE Technical Guide *Confidence intervals*; PHEindicatormethods
    ``calculate_ISRatio``; :func:`phm.stats.isr`), ``standardised_prevalence`` = ISR x ICB
    prevalence; funnel-plot data for the crude prevalence: ``icb_prevalence`` (the target),
    95% and 99.8% limits at the area's denominator by Wilson-score inversion (Spiegelhalter
    2005 Stat Med 24:1185-1202; Fingertips funnel method; :func:`phm.stats.proportion_limits`)
    and ``outlier`` (``above 99.8``, ``above 95``, ``within``, ``below 95``, ``below 99.8``).
    Proportions are 0-1. Areas with nobody old enough for a register have no row for it.
    Against England: ``england_prevalence`` (QOF 2022-23), ``expected_england``,
    ``isr_england`` with limits, ``icb_standardised_to_england`` (the ICB's prevalence on
    England's age structure); see the module docstring. ``hospital_only``: people old enough
    for the register, coded with the condition in hospital but not on the GP register (the
    case-finding count; null for a table without ``hospital_only_<condition>`` columns).
    """
    t, f = year(person_year, fy)
    levels = level_columns(level)
    st, conds = ms.prevalence_strata(t, [c for _, c in levels])
    parts = []
    for name, column in levels:
        s = ms.prevalence_stats(st, column, conds, funnel=True, england=True)
        s.setdefault("hospital_only", [None] * len(s["group"]))
        parts.append(_stack(name, column, f, s, PREVALENCE_TYPES, reference="ICB"))
    return pa.concat_tables(parts) if parts else empty_like(PREVALENCE_TYPES)


def emergency_admission_dsr(
    person_year, level: str | Sequence[str] = "practice", fy: int | None = None
) -> pa.Table:
    """Emergency admissions per 100,000 person-years by area: crude and age-standardised.

    Events: ``emergency_admissions`` (continuous inpatient spells with an emergency
    admission method) of person-years with exposure; population: ``exposure_days / 365.25``
    person-years, by ESP2013 band. ``crude_rate`` with Byar's / exact Poisson limits (PHE
    Technical Guide *Confidence intervals*; :func:`phm.stats.crude_rate`); ``dsr`` directly
    standardised to the European Standard Population 2013 with Dobson et al. (1991) Stat Med
    10:457-462 limits, NaN below 10 admissions (PHE *Technical Guide: Calculating directly
    standardised rates*; :func:`phm.stats.dsr`). The DSR treats admissions as independent
    events; a person admitted twice makes the limits slightly too narrow
    (:func:`phm.stats.dsr_nonindependent` is the Fingertips alternative).
    """
    t, f = year(person_year, fy)
    levels = level_columns(level)
    st = ms.emergency_strata(t, [c for _, c in levels])
    parts = [_stack(n, c, f, ms.emergency_stats(st, c), EMERGENCY_TYPES) for n, c in levels]
    return pa.concat_tables(parts) if parts else empty_like(EMERGENCY_TYPES)


def _stack(level: str, column: str, fy: int, s: dict, types: dict, **const) -> pa.Table:
    n = len(s["group"])
    cols = {"level": [level] * n, "area_code": group_labels(column, s.pop("group")), "fy": [fy] * n}
    cols.update({k: [v] * n for k, v in const.items()})
    cols.update(s)
    return table({k: cols[k] for k in types}, types)
