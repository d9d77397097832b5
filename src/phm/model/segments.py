"""Bridges to Health segments (Lynn et al., Milbank Q 2007), one per person-year.

Evidence beyond the condition registers (:func:`evidence`, codes in
``definitions/segment_codes.csv``): an emergency admission for heart failure or COPD in the
year (severe organ failure), kidney failure (CKD stage 5, dialysis, transplant) or liver
failure coded by the year end, CKD stage 4 (with 4+ emergency admissions), pregnancy and
delivery codes of admissions in the year, and GP codes of autism or a physical disability
(cerebral palsy, multiple sclerosis, motor neurone disease). End of life is the QOF palliative
care register at the year end, or death in the year: the death part is retrospective (known
only afterwards) and ``person_year.end_of_life_retrospective`` marks who is there by it alone.

Rules are data (``definitions/segments.csv``: priority, segment, name, rule in words, source);
this module holds the matching expression for each segment, and a person-year takes the
first segment, in priority order, whose rule it meets. The precedence is explicit in the CSV
and a test checks that every segment there has exactly one rule here and vice versa.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import ibis
import pyarrow as pa

from phm.model import comorbidity
from phm.model.common import clean_date


@lru_cache(maxsize=1)
def segment_definitions() -> pa.Table:
    with resources.files("phm.model").joinpath("definitions/segments.csv").open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["priority"]))
    return pa.table({
        "priority": pa.array([int(r["priority"]) for r in rows], pa.int64()),
        "segment": [r["segment"] for r in rows], "name": [r["name"] for r in rows],
        "rule": [r["rule"] for r in rows], "source": [r["source"] for r in rows],
        "version": [r["version"] for r in rows],
    })


FLAGS = ("heart_failure_emergency", "copd_emergency", "kidney_failure", "ckd_stage4", "liver_failure",
         "pregnancy", "disability_coded")
IN_YEAR = {"heart_failure_emergency", "copd_emergency", "pregnancy"}  # else: by the year end
EMERGENCY_ONLY = {"heart_failure_emergency", "copd_emergency"}


@lru_cache(maxsize=1)
def segment_codes() -> tuple[dict, ...]:
    """Rows of ``definitions/segment_codes.csv``: the codes behind the segment evidence."""
    with resources.files("phm.model").joinpath("definitions/segment_codes.csv").open(encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def reference_tables() -> dict[str, pa.Table]:
    """``ref_segment_icd10`` (flag, prefix, prefix_length) and ``ref_segment_snomed``
    (flag, snomed_code; the GP refsets named in the ``code`` column)."""
    from phm.refdata._io import data_path

    icd = [(r["flag"], r["code"]) for r in segment_codes() if r["vocabulary"] == "ICD10"]
    sn: set[tuple[str, str]] = set()
    for r in segment_codes():
        if r["vocabulary"] == "SNOMED":
            flag = "disability_coded" if r["flag"] == "disability" else r["flag"]
            with data_path(f"codelists/gp_refsets/{r['code']}.csv").open(encoding="utf-8-sig") as f:
                sn.update((flag, row["CODE"].strip()) for row in csv.DictReader(f))
    sn_rows = sorted(sn)
    return {
        "ref_segment_icd10": pa.table({
            "flag": [f for f, _ in icd], "prefix": [c for _, c in icd],
            "prefix_length": pa.array([len(c) for _, c in icd], pa.int64())}),
        "ref_segment_snomed": pa.table({"flag": [f for f, _ in sn_rows], "snomed_code": [c for _, c in sn_rows]}),
    }


def evidence(keys, episodes, gp_events, refs):
    """(person_id, fy) -> one boolean per :data:`FLAGS`: hospital codes (in the year, or for
    the chronic organ-failure codes by the year end; heart failure and COPD only from an
    emergency admission) and GP disability codes by the year end. ``keys``: (person_id, fy,
    fy_start, fy_end)."""
    from phm.model.spells import EMERGENCY

    e = episodes.filter(episodes.person_id.notnull())
    date = e.admission_date.coalesce(e.episode_start)
    emergency = e.admission_method.isin(EMERGENCY).coalesce(False)
    dx = ibis.union(*[e.select("person_id", code=e[c], date=date, emergency=emergency)
                      for c in comorbidity.DIAGNOSIS_COLUMNS], distinct=False)
    chapters = sorted({r["code"][0] for r in segment_codes() if r["vocabulary"] == "ICD10"})
    dx = dx.filter(dx.code.notnull() & dx.date.notnull() & dx.code.substr(0, 1).isin(chapters))
    ref = refs["ref_segment_icd10"]
    parts = []
    for n in (1, 3, 4):
        r = ref.filter(ref.prefix_length == n)
        parts.append(dx.join(r, dx.code.substr(0, n) == r.prefix).select("person_id", "flag", "date", "emergency"))
    g = gp_events.filter(gp_events.person_id.notnull())
    sn = refs["ref_segment_snomed"]
    parts.append(g.join(sn, g.snomed_code == sn.snomed_code).select(
        "person_id", "flag", date=clean_date(g.event_date), emergency=ibis.literal(False)))
    ev = ibis.union(*parts, distinct=False)
    k = keys.select("person_id", "fy", "fy_start", "fy_end")
    j = ev.join(k, (ev.person_id == k.person_id) & (ev.date <= k.fy_end))
    in_year = j.date >= j.fy_start
    out = {}
    for f in FLAGS:
        cond = j.flag == f
        if f in IN_YEAR:
            cond = cond & in_year
        if f in EMERGENCY_ONLY:
            cond = cond & j.emergency
        out[f] = cond.any()
    return j.group_by([j.person_id, j.fy]).aggregate(**out)


FRAILTY_MIN_AGE = 65  # NHS England Bridges to Health segmentation applies the HFRS from 65
HFRS_FRAIL = 5.0  # Gilbert et al. 2018: 5 or more is intermediate or high frailty risk
CKD4_EMERGENCIES = 4  # NHS England B2H definitions (Aug 2023): CKD stage 4 with 4+ in 12 months


def rules(t) -> dict:
    """Segment -> boolean expression over a person_year-shaped table."""
    return {
        "end_of_life": t.palliative_care_register | t.died_in_year,
        "frailty_dementia": t.cond_dementia | ((t.age >= FRAILTY_MIN_AGE) & (t.hfrs >= HFRS_FRAIL)),
        "organ_failure": (
            (t.cond_heart_failure & t.heart_failure_emergency)
            | (t.cond_copd & t.copd_emergency)
            | t.kidney_failure
            | (t.ckd_stage4 & (t.emergency_admissions >= CKD4_EMERGENCIES))
            | t.liver_failure
        ),
        "disability": t.cond_learning_disability | t.disability_coded,
        "maternal_infant": (t.maternity_admissions > 0) | t.pregnancy | (t.age < 1),
        "chronic_conditions": t.ltc_count >= 1,
        "acutely_ill": (t.emergency_admissions > 0) | (t.ae_attendances > 0),
        "healthy": ibis.literal(True),
    }


def segment_expr(t):
    r = rules(t)
    order = segment_definitions()["segment"].to_pylist()
    return ibis.cases(*[(r[s].coalesce(False), s) for s in order], else_="healthy")
