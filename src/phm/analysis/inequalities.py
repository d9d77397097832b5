"""Health inequalities: needs and spend by deprivation, ethnicity and Core20.

For one financial year of ``person_year`` (default: the latest), by each ``dimension``:
IMD 2019 and IMD 2025 quintile and decile (1 = most deprived), ``ethnic_group`` and
``core20`` (IMD 2019 deciles 1-2, NHS England Core20PLUS5, against the rest of the ICB).
People with no IMD (no LSOA) are the group ``Unknown``. Population: person-years with
``exposure_days > 0``, as in :mod:`.needs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as st

from phm import stats
from phm.analysis import _measures as ms
from phm.analysis._common import (
    DAYS_PER_YEAR,
    F64,
    I64,
    S,
    as_float,
    as_int,
    col,
    empty_like,
    group_labels,
    table,
    year,
)
from phm.warehouse import fetch

DIMENSIONS = (
    "imd2019_quintile",
    "imd2019_decile",
    "imd2025_quintile",
    "imd2025_decile",
    "ethnic_group",
    "core20",
)
DEPRIVATION = {
    "imd2019_quintile": 5,
    "imd2019_decile": 10,
    "imd2025_quintile": 5,
    "imd2025_decile": 10,
}

_HEAD = {"dimension": S, "group": S, "fy": I64}
PREVALENCE_TYPES = {
    **_HEAD,
    "condition": S,
    "min_age": I64,
    "register": I64,
    "denominator": I64,
    **dict.fromkeys(ms.PREVALENCE_STAT_COLUMNS[4:], F64),
}
EMERGENCY_TYPES = {**_HEAD, "admissions": I64, **dict.fromkeys(ms.EMERGENCY_STAT_COLUMNS[1:], F64)}
COST_TYPES = {**_HEAD, "spend": F64, "persons": I64, **dict.fromkeys(ms.COST_STAT_COLUMNS[2:], F64)}
SII_TYPES = {
    "measure": S,
    "condition": S,
    "dimension": S,
    "fy": I64,
    "quantiles": I64,
    "sii": F64,
    "sii_lower": F64,
    "sii_upper": F64,
    "rii": F64,
    "rii_lower": F64,
    "rii_upper": F64,
}
GRADIENT_TYPES = {
    "fy": I64,
    "dimension": S,
    "most_deprived": I64,
    "least_deprived": I64,
    "admissions_most": I64,
    "person_years_most": F64,
    "rate_most": F64,
    "admissions_least": I64,
    "person_years_least": F64,
    "rate_least": F64,
    "rate_ratio": F64,
    "lower": F64,
    "upper": F64,
    "conf": F64,
}


def prevalence(
    person_year, dimensions: Sequence[str] = DIMENSIONS, fy: int | None = None
) -> pa.Table:
    """Recorded prevalence of every condition by group, age-sex standardised (indirectly).

    Columns as :func:`phm.analysis.needs.prevalence` without the funnel: register,
    denominator (QOF age floor), crude prevalence with a 95% Wilson interval (Wilson 1927),
    expected register from the ICB's rates by ESP age band x sex, ISR with Byar's / exact
    limits (PHE Technical Guide *Confidence intervals*; PHEindicatormethods
    ``calculate_ISRatio``) and the indirectly standardised prevalence ISR x ICB prevalence.
    """
    t, f = year(person_year, fy)
    st_, conds = ms.prevalence_strata(t, list(dimensions))
    return _stack(
        dimensions, f, lambda d: ms.prevalence_stats(st_, d, conds, funnel=False), PREVALENCE_TYPES
    )


def emergency_admission_dsr(
    person_year, dimensions: Sequence[str] = DIMENSIONS, fy: int | None = None
) -> pa.Table:
    """Emergency admissions per 100,000 person-years by group: crude (Byar's / exact limits)
    and ESP2013 directly standardised with Dobson et al. (1991) limits, NaN below 10
    (PHE *Technical Guide: Calculating directly standardised rates*; :func:`phm.stats.dsr`)."""
    t, f = year(person_year, fy)
    st_ = ms.emergency_strata(t, list(dimensions))
    return _stack(dimensions, f, lambda d: ms.emergency_stats(st_, d), EMERGENCY_TYPES)


def cost_per_head(
    person_year, dimensions: Sequence[str] = DIMENSIONS, fy: int | None = None
) -> pa.Table:
    """Spend per registered person by group, with a 95% normal interval from the ratio
    estimator's standard error (Cochran, *Sampling Techniques*, 1977, section 6.3).

    ``spend`` is every pound of the group's person-years in the year (``cost_total``), so
    group spends add up to the year's activity cost; ``persons`` counts the group's
    person-years with exposure. Not age-standardised.
    """
    t, f = year(person_year, fy)
    st_ = ms.cost_strata(t, list(dimensions))
    return _stack(dimensions, f, lambda d: ms.cost_stats(st_, d), COST_TYPES)


def _stack(dimensions, fy, compute, types) -> pa.Table:
    parts = []
    for d in dimensions:
        s = compute(d)
        n = len(s["group"])
        cols = {"dimension": [d] * n, "group": group_labels(d, s.pop("group")), "fy": [fy] * n, **s}
        parts.append(table({k: cols[k] for k in types}, types))
    return pa.concat_tables(parts) if parts else empty_like(types)


# ---- slope and relative index of inequality ------------------------------------------


def sii_table(
    prevalence_t: pa.Table, emergency_t: pa.Table, cost_t: pa.Table, repetitions: int = 100_000
) -> pa.Table:
    """SII and RII across IMD quintiles and deciles, from the three group tables above.

    Low & Low (2004) J Public Health 26:388-395; Fingertips *Public Health Technical
    Guidance* SII, as UKHSA PHEindicatormethods ``phe_sii`` (:func:`phm.stats.sii`: weighted
    regression on each quantile's relative rank, quantile 1 = most deprived first, limits
    by simulation with a fixed seed). Measures: indirectly standardised prevalence of each
    condition (``value_type="proportion"``, limits from the ISR), the emergency admission
    DSR (``"rate"``, Dobson limits) and cost per head (``"normal"``, its standard error);
    populations: the denominator, person-years and registered persons. SII = fitted value at
    the least deprived end minus the most deprived end (negative: higher among the more
    deprived); RII = their ratio. NaN where a quantile is missing or its value or limits
    are not usable on the measure's scale (e.g. a zero count, a DSR below 10 events).
    """
    out: dict[str, list] = {k: [] for k in SII_TYPES}
    fy = _first_fy(prevalence_t, emergency_t, cost_t)
    for dim, q in DEPRIVATION.items():
        for c in _unique(prevalence_t, "condition"):
            rows = _rows(prevalence_t, dim, q, condition=c)
            r = _sii(
                rows,
                "standardised_prevalence",
                "denominator",
                "proportion",
                repetitions,
                limits=("standardised_lower", "standardised_upper"),
            )
            _add(out, "prevalence", c, dim, fy, q, r)
        rows = _rows(emergency_t, dim, q)
        r = _sii(
            rows, "dsr", "person_years", "rate", repetitions, limits=("dsr_lower", "dsr_upper")
        )
        _add(out, "emergency_admission_dsr", None, dim, fy, q, r)
        rows = _rows(cost_t, dim, q)
        r = _sii(rows, "cost_per_head", "persons", "normal", repetitions, se="cost_per_head_se")
        _add(out, "cost_per_head", None, dim, fy, q, r)
    return table(out, SII_TYPES)


def _first_fy(*tables: pa.Table) -> int | None:
    for t in tables:
        if t.num_rows:
            return t["fy"][0].as_py()
    return None


def _unique(t: pa.Table, name: str) -> list[str]:
    return list(dict.fromkeys(t[name].to_pylist()))


def _rows(t: pa.Table, dim: str, q: int, condition: str | None = None) -> dict[str, list] | None:
    """The rows of quantiles 1..q in order, or None if any is missing."""
    mask = pc.equal(t["dimension"], dim)
    if condition is not None:
        mask = pc.and_(mask, pc.equal(t["condition"], condition))
    sub = t.filter(mask).to_pylist()
    by = {r["group"]: r for r in sub}
    wanted = [str(i) for i in range(1, q + 1)]
    if any(w not in by for w in wanted):
        return None
    return {k: [by[w][k] for w in wanted] for k in sub[0]}


def _sii(rows, value, population, value_type, repetitions, limits=None, se=None):
    if rows is None:
        return None
    y = np.asarray(rows[value], float)
    n = np.asarray(rows[population], float)
    args = (
        {"se": np.asarray(rows[se], float)}
        if se
        else {
            "lower_cl": np.asarray(rows[limits[0]], float),
            "upper_cl": np.asarray(rows[limits[1]], float),
        }
    )
    checks = [y, n, *args.values()]
    if not all(np.all(np.isfinite(a)) for a in checks) or np.any(n <= 0):
        return None
    try:
        return stats.sii(y, n, **args, value_type=value_type, repetitions=repetitions)
    except ValueError:  # values or limits outside the measure's scale (a zero prevalence)
        return None


def _add(out, measure, condition, dim, fy, q, r) -> None:
    vals = (
        (np.nan,) * 6
        if r is None
        else (r.sii, r.sii_lower, r.sii_upper, r.rii, r.rii_lower, r.rii_upper)
    )
    row = dict(
        zip(("sii", "sii_lower", "sii_upper", "rii", "rii_lower", "rii_upper"), vals, strict=True)
    )
    row.update(measure=measure, condition=condition, dimension=dim, fy=fy, quantiles=q)
    for k in SII_TYPES:
        out[k].append(row[k])


# ---- deprivation gradient --------------------------------------------------------------


def deprivation_gradient(
    person_year,
    fy: int | None = None,
    dimension: str = "imd2025_decile",
    most_deprived: int = 1,
    least_deprived: int = 10,
    conf: float = 0.95,
) -> pa.Table:
    """Ratio of emergency admission crude rates (per person-year), IMD 2025 decile 1 vs 10.

    ``rate = admissions / person-years`` over person-years with exposure in each decile;
    ``rate_ratio = rate_most / rate_least`` with the exact conditional interval: given the
    total ``O1 + O2``, ``O1`` is binomial with ``p = R T1 / (R T1 + T2)``, so the
    Clopper-Pearson limits ``p_L, p_U`` of ``O1 / (O1 + O2)`` give ``R = p / (1 - p) x T2 / T1``
    (Breslow NE, Day NE, *Statistical Methods in Cancer Research Vol. II*, IARC Sci Publ 82,
    1987, exact limits for a ratio of Poisson rates; Clopper CJ, Pearson ES 1934 Biometrika
    26:404-413; as R ``stats::poisson.test`` with two samples). One row.
    """
    t, f = year(person_year, fy)
    t = t.filter((t.exposure_days > 0) & col(t, dimension).isin([most_deprived, least_deprived]))
    agg = fetch(
        t.group_by(dimension).aggregate(
            admissions=as_int(col(t, "emergency_admissions")).sum(),
            person_years=as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
        )
    )
    got = {r[dimension]: r for r in agg.to_pylist()}
    o1, t1 = _counts(got.get(most_deprived))
    o2, t2 = _counts(got.get(least_deprived))
    ratio, lo, up = rate_ratio(o1, t1, o2, t2, conf)
    row = {
        "fy": f,
        "dimension": dimension,
        "most_deprived": most_deprived,
        "least_deprived": least_deprived,
        "admissions_most": o1,
        "person_years_most": t1,
        "rate_most": o1 / t1 if t1 > 0 else np.nan,
        "admissions_least": o2,
        "person_years_least": t2,
        "rate_least": o2 / t2 if t2 > 0 else np.nan,
        "rate_ratio": ratio,
        "lower": lo,
        "upper": up,
        "conf": conf,
    }
    return table({k: [row[k]] for k in GRADIENT_TYPES}, GRADIENT_TYPES)


def _counts(r) -> tuple[int, float]:
    return (0, 0.0) if r is None else (int(r["admissions"]), float(r["person_years"]))


def rate_ratio(
    o1: int, t1: float, o2: int, t2: float, conf: float = 0.95
) -> tuple[float, float, float]:
    """``(o1/t1) / (o2/t2)`` with exact conditional (binomial, Clopper-Pearson) limits; NaN
    where a rate is undefined, a lower limit of 0 when ``o1 = 0``, an infinite upper limit
    when ``o2 = 0``. Sources as :func:`deprivation_gradient`."""
    if t1 <= 0 or t2 <= 0 or o1 + o2 == 0:
        return np.nan, np.nan, np.nan
    a = (1.0 - conf) / 2.0
    p_lo = st.beta.ppf(a, o1, o2 + 1) if o1 > 0 else 0.0
    p_up = st.beta.ppf(1.0 - a, o1 + 1, o2) if o2 > 0 else 1.0
    scale = t2 / t1

    def odds(p):
        return np.inf if p >= 1.0 else p / (1.0 - p) * scale

    ratio = (o1 / t1) / (o2 / t2) if o2 > 0 else np.inf
    return float(ratio), float(odds(p_lo)), float(odds(p_up))
