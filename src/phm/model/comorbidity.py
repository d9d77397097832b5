"""Comorbidity scores: Charlson (Quan 2005 ICD-10 coding) and the Cambridge Multimorbidity Score.

- **Charlson**: Quan H, Sundararajan V, Halfon P, et al. Coding algorithms for defining
  comorbidities in ICD-9-CM and ICD-10 administrative data. Med Care 2005;43:1130-9 (Table 1,
  ICD-10 codes by prefix), weighted by Charlson ME et al., J Chronic Dis 1987;40:373-83. Of each
  hierarchy pair (mild / moderate-severe liver disease, diabetes without / with complications,
  any malignancy / metastatic solid tumour) only the heavier counts. Codes come from every
  diagnosis position of every admitted episode on or before the year end.
- **Cambridge Multimorbidity Score**: Payne RA, Mendonca SC, Elliott MN, et al. Development and
  validation of the Cambridge Multimorbidity Score. CMAJ 2020;192:E107-14 (general-outcome
  weights; see ``definitions/cms_conditions.csv``). phm scores the CMS conditions it has code
  lists for; the others (hearing loss, IBS, constipation, painful condition, alcohol problems)
  contribute nothing, so phm's CMS is a lower bound of the published score.
"""

from __future__ import annotations

import ibis

from phm.model import definitions

DIAGNOSIS_COLUMNS = tuple(f"diag_{i:02d}" for i in range(1, 21))  # all 20 HES positions


def diagnoses(episodes):
    """(person_id, code, date): every ICD-10 code in every diagnosis position, dated by admission."""
    e = episodes.filter(episodes.person_id.notnull())
    date = e.admission_date.coalesce(e.episode_start)
    parts = [e.select("person_id", code=e[c], date=date) for c in DIAGNOSIS_COLUMNS]
    d = ibis.union(*parts, distinct=False)
    return d.filter(d.code.notnull() & d.date.notnull())


def charlson_first_dates(episodes, refs):
    """(person_id, category, weight, hgroup, first_date)."""
    dx = diagnoses(episodes)
    ch = refs["ref_charlson"]
    parts = []
    for n in (3, 4):
        ref = ch.filter(ch.icd10_prefix.length() == n)
        parts.append(dx.join(ref, dx.code.substr(0, n) == ref.icd10_prefix).select(
            "person_id", "category", "weight", "hgroup", date=dx.date))
    both = ibis.union(*parts, distinct=False)
    return both.group_by(["person_id", "category", "weight", "hgroup"]).aggregate(first_date=both.date.min())


def charlson(keys, firsts):
    """(person_id, fy, charlson) for the keys with any Charlson category by the year end."""
    j = keys.join(firsts, (keys.person_id == firsts.person_id) & (firsts.first_date <= keys.fy_end))
    per_group = j.group_by([j.person_id, j.fy, j.hgroup]).aggregate(w=j.weight.max())
    return per_group.group_by(["person_id", "fy"]).aggregate(charlson=per_group.w.sum().cast("int64"))


HFRS_LOOKBACK_DAYS = 730  # two years of admissions (Gilbert et al. 2018)


def hfrs(keys, episodes, refs):
    """(person_id, fy, hfrs): the Hospital Frailty Risk Score at each year end.

    Gilbert T et al., Lancet 2018;391:1775-82: each of 109 ICD-10 codes (3 characters) carries
    points; a person scores the points of every distinct code recorded in any diagnosis position
    of their admissions in the two years to the year end (admission date in (year end - 730
    days, year end]), each code once. Under 5 is low risk, 5-15 intermediate, over 15 high.
    Developed and validated for people aged 75 and over; phm reports it at every age and the
    frailty segment applies it from 65 (:mod:`.segments`)."""
    dx = diagnoses(episodes)
    pts = refs["ref_hfrs"]
    d = dx.join(pts, dx.code.substr(0, 3) == pts.icd10_3).select("person_id", "date", "icd10_3", "points")
    j = keys.join(d, (keys.person_id == d.person_id) & (d.date <= keys.fy_end)
                  & (d.date > keys.fy_end - ibis.interval(days=HFRS_LOOKBACK_DAYS)))
    codes = j.select("person_id", "fy", "icd10_3", "points").distinct()
    return codes.group_by(["person_id", "fy"]).aggregate(hfrs=codes.points.sum().round(1))


def cms_expr(t):
    """The Cambridge Multimorbidity Score from a table's ``cond_*`` columns."""
    total = ibis.literal(0.0)
    for row in definitions.cms_weights().to_pylist():
        cond = row.get("phm_condition")
        if cond:
            total = total + ibis.ifelse(t[f"cond_{cond}"], float(row["weight"]), 0.0)
    return total.round(2)
