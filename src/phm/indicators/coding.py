"""Clinical coding audit for commissioners' coding reviews: how each provider codes its spells.

One row per finished provider spell (:func:`coding_spells`, the mart ``ind_coding_spells``),
from the spell's first episode (where HES takes the primary diagnosis) and, for palliative care,
every episode of the spell. Measures, by provider, financial year and month
(:func:`coding_values`, rows of ``ind_values``):

- ``coding_depth``: mean secondary diagnoses (positions 2-20) per spell. The depth of coding
  that NHS Digital publishes beside SHMI as a contextual indicator (SHMI specification;
  whether SHMI counts per spell or per episode is UNVERIFIED). 95% limits: mean +/- 1.96 SE.
- ``coding_symptom_primary``: % of spells whose primary diagnosis is a sign or symptom
  (ICD-10 chapter XVIII, R00-R99): a high share can mean under-investigated or under-coded
  activity. By treatment function in ``ind_coding_specialty``.
- ``coding_unspecified_primary``: % of spells whose primary diagnosis is a residual
  "unspecified" subcategory (4th character 9). phm's measure of non-specific coding
  (UNVERIFIED as a national definition). Invalid codes are data-quality rule DQ-CODE-01 (``phm dq``,
  fed back to each provider), not repeated here.
- ``coding_palliative_deaths``: % of spells ending in death (discharge method 4) with palliative
  care coded: Z51.5 in any diagnosis position of any episode, or treatment function 315
  (palliative medicine). SHMI's contextual palliative care indicator uses the same two markers
  (NHS Digital SHMI specification; its exact field rules are UNVERIFIED).
- ``coding_charlson_coverage``: % of spells with at least one Charlson comorbidity (Quan 2005
  ICD-10 prefixes, ``ref_charlson``) in the first episode's 20 diagnoses.

Proportions carry Wilson limits (Wilson 1927; PHE Technical Guide *Confidence intervals*).
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa

from phm import stats
from phm.analysis._common import table
from phm.indicators.codes import DIAGNOSES, any_position, long_codes, normalised
from phm.indicators.values import TYPES, fy_label
from phm.model.common import drop_right
from phm.warehouse import fetch

SECONDARY = DIAGNOSES[1:]
PALLIATIVE_DIAGNOSIS = ["Z515"]
PALLIATIVE_TFC = "315"
DIED = "4"
MEASURES = ("coding_depth", "coding_symptom_primary", "coding_unspecified_primary", "coding_palliative_deaths",
            "coding_charlson_coverage")


def coding_spells(provider_spells, episodes, refs):
    """One row per finished provider spell: ``provider_code``, ``spell_id``, ``fy``, ``month``
    (of discharge), ``admission_type``, ``treatment_function_code``, ``secondary`` (count),
    ``symptom_primary``, ``unspecified_primary``, ``died``, ``palliative``, ``charlson_coded``."""
    key = ["provider_code", "spell_id"]
    s = provider_spells.filter(provider_spells.discharge_date.notnull())
    e = episodes
    pal = e.filter(any_position(e, DIAGNOSES, PALLIATIVE_DIAGNOSIS)
                   | (e.treatment_function_code == PALLIATIVE_TFC))
    pal = pal.select(*key).distinct().mutate(palliative=ibis.literal(True))
    ch = refs["ref_charlson"]
    sd = s.select(*key, diag_01=s.primary_diagnosis, **{c: s[c] for c in SECONDARY if c in s.columns})
    codes = long_codes(sd, key, DIAGNOSES)
    hits = []
    for n in (3, 4):
        r = ch.filter(ch.icd10_prefix.length() == n).select("icd10_prefix").distinct()
        c = codes.mutate(_p=codes.code.substr(0, n))
        hits.append(c.join(r, c._p == r.icd10_prefix).select(*key))
    coded = ibis.union(*hits, distinct=True).mutate(charlson_coded=ibis.literal(True))
    secondary = sum((s[c].notnull() & (s[c] != "")).cast("int64") for c in SECONDARY if c in s.columns)
    primary = normalised(s.primary_diagnosis.coalesce(""))
    out = s.select(
        *key, "fy", "admission_type", "treatment_function_code",
        month=s.discharge_date.strftime("%Y-%m"),
        secondary=secondary,
        symptom_primary=primary.substr(0, 1) == "R",
        unspecified_primary=(primary.length() >= 4) & (primary.substr(3, 1) == "9"),
        died=(s.discharge_method == DIED).coalesce(False),
    )
    out = drop_right(drop_right(out.left_join(pal, key)).left_join(coded, key))
    return out.mutate(palliative=out.palliative.coalesce(False), charlson_coded=out.charlson_coded.coalesce(False))


def coding_values(spells) -> pa.Table:
    """``ind_values`` rows of the coding measures by provider, yearly and monthly."""
    t = spells.mutate(_sq=spells.secondary * spells.secondary)
    flag = lambda c: t[c].cast("int64").sum()  # noqa: E731
    aggs = dict(n=t.count(), sec=t.secondary.sum(), sq=t._sq.sum(), r=flag("symptom_primary"),
                u=flag("unspecified_primary"), d=flag("died"),
                dp=(t.died & t.palliative).cast("int64").sum(), ch=flag("charlson_coded"))
    parts = []
    for monthly in (False, True):
        keys = ["provider_code", "fy"] + (["month"] if monthly else [])
        g = fetch(t.group_by(keys).aggregate(**aggs))
        if g.num_rows:
            parts.append(_rows(g, monthly))
    return pa.concat_tables(parts) if parts else table({k: [] for k in TYPES}, TYPES)


def _rows(g: pa.Table, monthly: bool) -> pa.Table:
    v = {c: g.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("n", "sec", "sq", "r", "u", "d", "dp", "ch")}
    k = g.num_rows
    fy = g.column("fy").to_pylist()
    month = g.column("month").to_pylist() if monthly else [None] * k
    area = g.column("provider_code").to_pylist()
    out = []
    mean = v["sec"] / v["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(v["sq"] / v["n"] - mean**2, 0) * v["n"] / np.maximum(v["n"] - 1, 1))
    se = sd / np.sqrt(v["n"])
    out.append(_table("coding_depth", area, fy, month, v["sec"], v["n"], mean, mean - 1.959963984540054 * se,
                      mean + 1.959963984540054 * se, "secondary diagnoses per spell"))
    for name, x, n in (("coding_symptom_primary", v["r"], v["n"]), ("coding_unspecified_primary", v["u"], v["n"]),
                       ("coding_palliative_deaths", v["dp"], v["d"]), ("coding_charlson_coverage", v["ch"], v["n"])):
        ok = n > 0
        lo, hi = np.full(k, np.nan), np.full(k, np.nan)
        if ok.any():
            lo[ok], hi[ok] = stats.wilson_ci(x[ok], n[ok])
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(ok, x / np.where(ok, n, 1), np.nan)
        out.append(_table(name, area, fy, month, x, n, 100 * p, 100 * lo, 100 * hi, "%"))
    return pa.concat_tables(out)


def _table(indicator, area, fy, month, num, den, value, lower, upper, unit) -> pa.Table:
    k = len(area)
    nan = np.full(k, np.nan)
    return table({
        "indicator": [indicator] * k, "level": ["provider"] * k, "area_code": area,
        "period": [m or fy_label(f) for m, f in zip(month, fy, strict=True)], "fy": fy, "month": month,
        "numerator": num.astype(np.int64), "denominator": den, "value": value, "lower": lower, "upper": upper,
        "crude": value, "crude_lower": lower, "crude_upper": upper,
        "expected": nan, "ratio": nan, "ratio_lower": nan, "ratio_upper": nan,
        "unit": [unit] * k, "reference": ["none"] * k,
    }, TYPES)


SPECIALTY_TYPES = {"provider_code": pa.string(), "fy": pa.int64(), "treatment_function_code": pa.string(),
                   "spells": pa.int64(), "symptom_primary": pa.int64(), "symptom_primary_pct": pa.float64()}


def coding_by_specialty(spells) -> pa.Table:
    """``ind_coding_specialty``: spells and sign-and-symptom primary diagnoses by provider, year
    and treatment function."""
    t = spells
    g = fetch(t.group_by(["provider_code", "fy", "treatment_function_code"]).aggregate(
        spells=t.count(), symptom_primary=t.symptom_primary.cast("int64").sum()))
    n = g.column("spells").to_numpy().astype(float)
    r = g.column("symptom_primary").to_numpy(zero_copy_only=False).astype(float)
    return table({"provider_code": g.column("provider_code").to_pylist(), "fy": g.column("fy").to_pylist(),
                  "treatment_function_code": g.column("treatment_function_code").to_pylist(),
                  "spells": n.astype(np.int64), "symptom_primary": r.astype(np.int64),
                  "symptom_primary_pct": 100 * r / n}, SPECIALTY_TYPES)


__all__ = ["MEASURES", "SPECIALTY_TYPES", "coding_by_specialty", "coding_spells", "coding_values"]
