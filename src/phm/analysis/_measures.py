"""The measures the needs assessment and the inequality analysis share, by any grouping.

Each measure has two halves: an engine aggregation over one financial year of
``person_year`` grouped by several grouping columns at once (one query), and a numpy half
that rolls the fetched strata up to one grouping column and computes the statistics with
:mod:`phm.stats`. Population throughout: person-years with ``exposure_days > 0`` (registered
and alive for at least one day of the year).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from phm import refdata, stats
from phm.analysis import magnitude, registers
from phm.analysis._common import (
    DAYS_PER_YEAR,
    ESP_BANDS,
    PER_100K,
    Z95,
    as_float,
    as_int,
    band_matrix,
    col,
    ratio_se,
    registered,
    rollup,
    strata,
)

# ---- condition prevalence --------------------------------------------------------------


def prevalence_strata(t, keys: Sequence[str]) -> tuple[pa.Table, list[str]]:
    """Register and denominator of every condition by ``keys`` x age band x sex (one query).

    Denominator: registered person-years aged at least the register's floor
    (:mod:`.registers`) on the year end (QOF's achievement date; ``age_year_end``, or the
    year-start ``age`` for a table without it); register: those of them with the condition
    flag. ``h__<condition>`` counts the hospital-only case-finding flag where the table has it.
    """
    conds = registers.conditions_in(t)
    t = t.filter(t.exposure_days > 0)
    age = col(t, "age_year_end") if "age_year_end" in t.columns else col(t, "age")
    aggs = {}
    for c in conds:
        eligible = (age >= registers.min_age(c)).coalesce(False)
        aggs[f"n__{c}"] = eligible.cast("int64").sum()
        aggs[f"o__{c}"] = (eligible & t[f"cond_{c}"].coalesce(False)).cast("int64").sum()
        if f"hospital_only_{c}" in t.columns:
            aggs[f"h__{c}"] = (eligible & t[f"hospital_only_{c}"].coalesce(False)).cast("int64").sum()
    if not aggs:
        raise ValueError("person_year has no cond_<condition> columns of phm conditions")
    return strata(t, keys, ["age_band", "sex"], aggs), conds


def prevalence_stats(
    st: pa.Table, key: str, conds: Sequence[str], funnel: bool, england: bool = False
) -> dict[str, list]:
    """Per group and condition: crude prevalence (Wilson), ISR against the whole table's
    age-sex rates, indirectly standardised prevalence and (``funnel``) funnel-plot data.

    Sources: Wilson (1927) JASA 22:209-212; indirect standardisation and Byar's / exact
    limits of O/E, PHE Technical Guide *Confidence intervals* and PHEindicatormethods
    ``calculate_ISRatio`` (:func:`phm.stats.isr`); proportion funnel limits by inverting the
    Wilson score around the pooled prevalence, Spiegelhalter (2005) Stat Med 24:1185-1202
    and the Fingertips funnel-plot method (:func:`phm.stats.proportion_limits`).
    ``england``: also the ratio to England's recorded prevalence (:func:`_england`).
    """
    hosp = all(f"h__{c}" in st.column_names for c in conds)
    measures = [f"{p}__{c}" for c in conds for p in ("n", "o", *(("h",) if hosp else ()))]
    groups, cells, m = rollup(st, key, ["age_band", "sex"], measures)
    names = ["group", *PREVALENCE_STAT_COLUMNS, *(FUNNEL_COLUMNS if funnel else ()),
             *(ENGLAND_COLUMNS if england else ()), *(("hospital_only",) if hosp else ())]
    out: dict[str, list] = {k: [] for k in names}
    for c in conds:
        n, o = m[f"n__{c}"], m[f"o__{c}"]
        keep = n.sum(axis=1) > 0  # a group with nobody old enough for the register has no row
        if not keep.any():
            continue
        n, o = n[keep], o[keep]
        denom, reg = n.sum(axis=1), o.sum(axis=1)
        ref_n, ref_o = n.sum(axis=0), o.sum(axis=0)
        target = ref_o.sum() / ref_n.sum()
        lo, up = stats.wilson_ci(reg, denom)
        cols = {
            "group": [g for g, k in zip(groups, keep, strict=True) if k],
            "condition": c,
            "min_age": registers.min_age(c),
            "register": reg.astype(np.int64),
            "denominator": denom.astype(np.int64),
            "prevalence": reg / denom,
            "prevalence_lower": lo,
            "prevalence_upper": up,
            **_isr(n, reg, ref_n, ref_o, target),
        }
        if funnel:
            cols.update(_funnel(reg / denom, denom, target))
        if england:
            cols.update(_england(c, cells, ref_n, ref_o, reg, cols["expected"]))
        if hosp:
            cols["hospital_only"] = m[f"h__{c}"][keep].sum(axis=1).astype(np.int64)
        _extend(out, cols, len(denom))
    return out


def _extend(out: dict[str, list], cols: dict, n: int) -> None:
    """Append ``n`` rows: arrays and lists as they are, scalars repeated."""
    for k, v in cols.items():
        out[k].extend(
            v.tolist() if isinstance(v, np.ndarray) else v if isinstance(v, list) else [v] * n
        )


def _isr(
    n: np.ndarray, reg: np.ndarray, ref_n: np.ndarray, ref_o: np.ndarray, target: float
) -> dict:
    """:func:`phm.stats.isr` for every group at once: ``expected = n @ ref rate``, limits the
    Poisson limits of the register (Byar's >= 10, exact < 10) over ``expected``."""
    rate = np.divide(ref_o, ref_n, out=np.zeros_like(ref_o), where=ref_n > 0)
    expected = n @ rate
    lo, up = stats.poisson_ci(reg)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = expected > 0
        isr = np.where(ok, reg / expected, np.nan)
        isr_lo = np.where(ok, np.atleast_1d(lo) / expected, np.nan)
        isr_up = np.where(ok, np.atleast_1d(up) / expected, np.nan)
    return {
        "expected": expected,
        "isr": isr,
        "isr_lower": isr_lo,
        "isr_upper": isr_up,
        "standardised_prevalence": isr * target,
        "standardised_lower": isr_lo * target,
        "standardised_upper": isr_up * target,
    }


PREVALENCE_STAT_COLUMNS = (
    "condition",
    "min_age",
    "register",
    "denominator",
    "prevalence",
    "prevalence_lower",
    "prevalence_upper",
    "expected",
    "isr",
    "isr_lower",
    "isr_upper",
    "standardised_prevalence",
    "standardised_lower",
    "standardised_upper",
)
ENGLAND_COLUMNS = (
    "england_prevalence",
    "expected_england",
    "isr_england",
    "isr_england_lower",
    "isr_england_upper",
    "icb_standardised_to_england",
)
FUNNEL_COLUMNS = (
    "icb_prevalence",
    "funnel_lower_95",
    "funnel_upper_95",
    "funnel_lower_998",
    "funnel_upper_998",
    "outlier",
)


def _england(
    condition: str, cells: Sequence[tuple], ref_n: np.ndarray, ref_o: np.ndarray,
    reg: np.ndarray, expected: np.ndarray,
) -> dict:
    """The ratio of recorded to expected prevalence with England as the reference.

    England's register and list size come from NHS England's QOF publication
    (:func:`phm.refdata.england_prevalence`); QOF publishes no prevalence by age and sex.
    So the England age-specific rates are taken as the ICB's (whole table's) rates by age
    band, scaled by one factor ``k`` per condition chosen so that, applied to England's
    population of the register's ages (ONS mid-2020 by single year of age,
    :func:`phm.refdata.england_population_by_age`), they give England's recorded
    prevalence. Then ``expected_england = k x expected`` (the ICB-referenced expected),
    ``isr_england = register / expected_england`` with the same Poisson limits, and at ICB
    level ``isr_england = 1 / k`` = ``icb_standardised_to_england / england_prevalence``:
    the ICB's age-specific prevalence applied to England's age structure (direct
    standardisation), against England's. Assumption (UNVERIFIED, stated on the page): the
    ICB's age gradient holds for England. Age only: no England single-year-by-sex table
    is shipped, so sex is not standardised against England. England's registered list is
    older than its resident population by a little; the weights are residents.
    """
    nan = np.full(reg.shape, np.nan)
    none = {k: nan for k in ENGLAND_COLUMNS}
    ref = _england_row(condition)
    if ref is None:
        return none
    weights = _england_band_weights(int(ref["min_age"]))
    n_b: dict[str, float] = {}
    o_b: dict[str, float] = {}
    for j, (band, _sex) in enumerate(cells):
        n_b[band] = n_b.get(band, 0.0) + ref_n[j]
        o_b[band] = o_b.get(band, 0.0) + ref_o[j]
    used = [b for b in weights if n_b.get(b, 0.0) > 0 and weights[b] > 0]
    w = np.array([weights[b] for b in used])
    if not used or w.sum() == 0:
        return none
    rate = np.array([o_b[b] / n_b[b] for b in used])
    direct = float((w * rate).sum() / w.sum())
    p_eng = float(ref["prevalence"])
    if direct <= 0:
        return none | {"england_prevalence": np.full(reg.shape, p_eng)}
    k = p_eng / direct
    exp_e = expected * k
    lo, up = stats.poisson_ci(reg)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = exp_e > 0
        return {
            "england_prevalence": np.full(reg.shape, p_eng),
            "expected_england": exp_e,
            "isr_england": np.where(ok, reg / exp_e, np.nan),
            "isr_england_lower": np.where(ok, np.atleast_1d(lo) / exp_e, np.nan),
            "isr_england_upper": np.where(ok, np.atleast_1d(up) / exp_e, np.nan),
            "icb_standardised_to_england": np.full(reg.shape, direct),
        }


def _england_row(condition: str) -> dict | None:
    for r in refdata.england_prevalence().to_pylist():
        if r["condition"] == condition:
            return r
    return None


def _england_band_weights(min_age: int) -> dict[str, float]:
    """England residents of each ESP2013 band aged at least ``min_age`` (ONS mid-2020)."""
    pop = refdata.england_population_by_age().to_pydict()
    out: dict[str, float] = {}
    for age, persons in zip(pop["age"], pop["persons"], strict=True):
        if age >= min_age:
            band = ESP_BANDS[min(age // 5, len(ESP_BANDS) - 1)]
            out[band] = out.get(band, 0.0) + persons
    return out


def _funnel(p: np.ndarray, n: np.ndarray, target: float) -> dict:
    l95, u95 = (np.atleast_1d(x) for x in stats.proportion_limits(n, target, 0.95))
    l998, u998 = (np.atleast_1d(x) for x in stats.proportion_limits(n, target, 0.998))
    return {
        "icb_prevalence": target,
        "funnel_lower_95": l95,
        "funnel_upper_95": u95,
        "funnel_lower_998": l998,
        "funnel_upper_998": u998,
        "outlier": [outlier(*v) for v in zip(p, l95, u95, l998, u998, strict=True)],
    }


def outlier(value: float, l95: float, u95: float, l998: float, u998: float) -> str:
    """Where a point sits on the funnel: ``above 99.8``, ``above 95``, ``within``, ``below 95``
    or ``below 99.8`` (a point on a limit is within it)."""
    if value > u998:
        return "above 99.8"
    if value > u95:
        return "above 95"
    if value < l998:
        return "below 99.8"
    if value < l95:
        return "below 95"
    return "within"


# ---- emergency admissions --------------------------------------------------------------


def emergency_strata(t, keys: Sequence[str]) -> pa.Table:
    """Emergency admissions and person-years by ``keys`` x age band (one query)."""
    t = t.filter(t.exposure_days > 0)
    return strata(
        t,
        keys,
        ["age_band"],
        {
            "admissions": as_int(col(t, "emergency_admissions")).sum(),
            "person_years": as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
        },
    )


def emergency_stats(st: pa.Table, key: str) -> dict[str, list]:
    """Per group: crude rate and ESP2013 directly standardised rate per 100,000 person-years.

    Sources: crude rate with Byar's (>= 10) or exact (< 10) Poisson limits, PHE Technical
    Guide *Confidence intervals* (:func:`phm.stats.crude_rate`); DSR on the European
    Standard Population 2013 (19 bands, 0-4 ... 90+) with Dobson et al. (1991) Stat Med
    10:457-462 limits, NA below 10 events, PHE *Technical Guide: Calculating directly
    standardised rates* (:func:`phm.stats.dsr`).
    """
    groups, cells, m = rollup(st, key, ["age_band"], ["admissions", "person_years"])
    bands = band_matrix(cells, m)
    esp = refdata.esp2013()
    weight = dict(zip(esp["age_band"].to_pylist(), esp["esp2013"].to_pylist(), strict=True))
    w = np.array([weight[b] for b in ESP_BANDS])
    out: dict[str, list] = {k: [] for k in ("group", *EMERGENCY_STAT_COLUMNS)}
    for g, group in enumerate(groups):
        events, py = m["admissions"][g].sum(), m["person_years"][g].sum()
        if py <= 0:
            continue
        crude = stats.crude_rate(events, py, multiplier=PER_100K)
        d = stats.dsr(bands["admissions"][g], bands["person_years"][g], w, multiplier=PER_100K)
        row = {
            "group": group,
            "admissions": int(events),
            "person_years": float(py),
            "crude_rate": crude.value,
            "crude_lower": crude.lower,
            "crude_upper": crude.upper,
            "dsr": d.value,
            "dsr_lower": d.lower,
            "dsr_upper": d.upper,
        }
        for k, v in row.items():
            out[k].append(v)
    return out


EMERGENCY_STAT_COLUMNS = (
    "admissions",
    "person_years",
    "crude_rate",
    "crude_lower",
    "crude_upper",
    "dsr",
    "dsr_lower",
    "dsr_upper",
)

# ---- cost per head ---------------------------------------------------------------------


def cost_strata(t, keys: Sequence[str], support: bool = False) -> pa.Table:
    """Spend (all of the year's person-years) and registered persons by ``keys``, with the
    sums the ratio estimator's variance needs (one query). ``support``: with the support
    columns of ``spend`` (:mod:`.magnitude`; a contribution is a person-year's
    ``cost_total``) within ``keys``, which must then be the finest grouping."""
    if support:
        keep = ["cost_total", "exposure_days"]
        t = magnitude.contributions(t, keys, {"spend": col(t, "cost_total")}, keep)
    y = as_float(col(t, "cost_total"))
    x = registered(t).cast("float64")
    return strata(
        t,
        keys,
        [],
        {
            "spend": y.sum(),
            **(magnitude.aggregates(t) if support else {}),
            "persons": registered(t).sum(),
            "units": t.count(),
            "person_years": as_float(t.exposure_days).sum() / DAYS_PER_YEAR,
            "sum_y2": (y * y).sum(),
            "sum_xy": (y * x).sum(),
        },
    )


def cost_stats(st: pa.Table, key: str) -> dict[str, list]:
    """Per group: spend per registered person with a normal 95% CI from the ratio estimator's
    standard error (:func:`._common.ratio_se`; Cochran 1977 section 6.3). With ``spend``'s
    support columns in the strata, the rows have them too (merged exactly)."""
    measures = ["spend", "persons", "units", "person_years", "sum_y2", "sum_xy"]
    money = ["spend"] if "spend_top1" in st.column_names else []
    measures += [f"{m}_people" for m in money]
    groups, _cells, m = rollup(st, key, [], measures, money)
    v = {k: mat[:, 0] for k, mat in m.items()}
    se = ratio_se(v["spend"], v["persons"], v["sum_y2"], v["sum_xy"], v["persons"], v["units"])
    names = ["group", *COST_STAT_COLUMNS, *(f"{m}{x}" for m in money for x in magnitude.SUFFIXES)]
    out: dict[str, list] = {k: [] for k in names}
    for g, group in enumerate(groups):
        if v["persons"][g] <= 0:
            continue
        head = v["spend"][g] / v["persons"][g]
        row = {
            "group": group,
            "spend": float(v["spend"][g]),
            "persons": int(v["persons"][g]),
            "person_years": float(v["person_years"][g]),
            "cost_per_head": head,
            "cost_per_head_se": float(se[g]),
            "cost_per_head_lower": head - Z95 * se[g],
            "cost_per_head_upper": head + Z95 * se[g],
        }
        if money:
            row.update(magnitude.support(v, "spend", g))
        for k, val in row.items():
            out[k].append(val)
    return out


COST_STAT_COLUMNS = (
    "spend",
    "persons",
    "person_years",
    "cost_per_head",
    "cost_per_head_se",
    "cost_per_head_lower",
    "cost_per_head_upper",
)
