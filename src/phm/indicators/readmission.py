"""Emergency readmissions within 30 days of discharge, one row per index discharge.

Method: NHS Digital, *I02040 Emergency readmissions within 30 days of discharge from hospital*
(Compendium of population health indicators), specification v3, aligned in 2019 with NHS OF 3b
(I00712) and CCG OIS 3.2 (I00760, specification v1.4). The unit is the continuous inpatient
(CIP) spell (:func:`phm.model.spells.continuous_spells`), so a transfer between providers is
inside one spell and never a readmission.

**Index (denominator)**: finished CIP spells (a discharge date) discharged in the period,
excluding (``definitions/readmission_exclusions.csv``, each rule with its source and whether it
is verified): day cases and other non-ordinary admissions (patient classification not 1),
spells ending in death (discharge method 4), maternity (admission method 31/32, treatment
function 501/560 or an O primary diagnosis), cancer (C00-C97) or chemotherapy (Z51.1; OPCS-4
X70-X74, X35.2) anywhere in the spell or in the 365 days before admission, and mental health
specialties. phm adds one rule of its own: an index needs the 29 days after its discharge to
be in the extract (``follow_up``), since a later discharge cannot yet show its readmission.

**Readmission (numerator)**: the index's *next* CIP spell of the same person (by admission
date; regular day and night attendances are not admissions and are passed over: UNVERIFIED)
when it is an emergency admission (21-2D) 0 to 29 days after the index discharge (day 0
counts, day 30 does not), finished or not, in any hospital, including those in which the
person died; not when its treatment function is obstetric or it has cancer or chemotherapy
coded anywhere. The wording "the next subsequent readmission spell (this spell must meet the
numerator criteria)" (CCG OIS 2014/15 technical guidance) is followed literally: an elective
spell between the discharge and an emergency within 29 days means no readmission is counted.

**Strata for indirect standardisation** (UNVERIFIED groups; the specification says "age, sex,
method of admission and diagnosis/procedure"): ``age_band`` (ESP 5-year bands, age at
admission), ``sex``, ``method_group`` (elective, emergency, other: of the index) and
``case_group`` (OPCS-4 chapter of the main procedure of a spell with a surgical treatment
function 100-199, else the ICD-10 chapter letter of the primary diagnosis).
"""

from __future__ import annotations

import ibis

from phm.indicators.codes import (
    DIAGNOSES,
    PROCEDURES,
    any_position,
    prefixes,
    rows,
    starts_with_any,
)
from phm.model.common import age_band, age_on, drop_right
from phm.model.spells import (
    ELECTIVE,
    EMERGENCY,
    FINISHED,
    REGULAR_ATTENDER,
    TRANSFER_METHOD,
    TRANSFER_SOURCE,
    _episode_order,
    _first,
)

EXCLUSIONS_FILE = "readmission_exclusions.csv"
# the ``excluded`` reasons whose codes are UNVERIFIED (readmission_exclusions.csv verified = no)
UNVERIFIED_RULES = ("not an ordinary admission", "maternity", "cancer or chemotherapy", "specialty")
WINDOW_DAYS = 30  # readmitted 0..29 days after discharge
LOOKBACK_DAYS = 365


def exclusion(rule: str, field: str, applies_to: str) -> list[str]:
    """The codes of one rule of ``readmission_exclusions.csv`` for a field and use."""
    out: list[str] = []
    for r in rows(EXCLUSIONS_FILE):
        if r["rule"] == rule and r["field"] == field and applies_to in r["applies_to"].split("|"):
            out += prefixes(r["values"])
    return out


def cancer_episodes(episodes):
    """(person_id, date) of every episode with cancer or chemotherapy coded anywhere."""
    dx = exclusion("cancer", "diagnosis_any", "index") + exclusion("chemotherapy", "diagnosis_any", "index")
    px = exclusion("chemotherapy", "procedure_any", "index")
    e = episodes.filter(episodes.person_id.notnull())
    flag = any_position(e, DIAGNOSES, dx) | any_position(e, PROCEDURES, px)
    e = e.filter(flag)
    return e.select("person_id", date=e.episode_start.coalesce(e.admission_date)).filter(ibis._.date.notnull())


def _cancer_flags(spells, cancer, extract_date):
    """Per CIP spell: cancer or chemotherapy in the spell (``_ca_in``) and in the 365 days
    before admission (``_ca_before``), by the person's coded episodes' dates."""
    s = spells.select("cips_id", "person_id", "admission_date", "discharge_date")
    end = s.discharge_date.coalesce(ibis.literal(extract_date)) if extract_date else s.discharge_date
    s = s.mutate(_end=end)
    j = s.join(cancer, (s.person_id == cancer.person_id)
               & (cancer.date >= s.admission_date - ibis.interval(days=LOOKBACK_DAYS))
               & (cancer.date <= s._end))
    return j.group_by("cips_id").aggregate(
        _ca_in=(j.date >= j.admission_date).any(),
        _ca_before=(j.date < j.admission_date).any(),
    )


def method_group(method):
    return ibis.cases((method.isin(ELECTIVE), "elective"), (method.isin(EMERGENCY), "emergency"), else_="other")


def case_group(tfc, procedure, diagnosis):
    """OPCS-4 chapter of the main procedure in a surgical treatment function (100-199), else
    the ICD-10 chapter letter of the primary diagnosis (UNVERIFIED grouping)."""
    surgical = tfc.substr(0, 1).coalesce("") == "1"
    proc = procedure.upper().substr(0, 1)
    return ibis.ifelse(surgical & procedure.notnull(), "opcs:" + proc,
                       "icd10:" + diagnosis.upper().substr(0, 1).coalesce("?"))


SPELL_COLUMNS = ("cips_id", "person_id", "provider_code", "admission_date", "discharge_date", "fy",
                 "admission_method", "patient_classification", "treatment_function_code", "primary_diagnosis",
                 "dominant_procedure", "discharge_method", "died_in_hospital")


def unfinished_spells(episodes):
    """Provider spells with no finished episode yet (not in the spells mart, which is built from
    finished episodes): they can be readmissions ("finished and unfinished CIP spells")."""
    key = ["provider_code", "spell_id"]
    e = episodes.filter(episodes.person_id.notnull())
    done = e.group_by(key).aggregate(_done=(e.episode_status == FINISHED).any())
    e = e.join(done.filter(~done._done), key)
    e = drop_right(e)
    f = _first(e, key, _episode_order(e))
    # admitted by transfer: the continuation of an earlier stay (phm.model.spells links transfers
    # in its finished spells; an open one is simply left out), never a readmission
    f = f.filter(~f.admission_source.coalesce("").isin(TRANSFER_SOURCE)
                 & ~f.admission_method.coalesce("").isin(TRANSFER_METHOD))
    return f.select(
        cips_id=f.provider_code.concat(":", f.spell_id), person_id=f.person_id, provider_code=f.provider_code,
        admission_date=f.admission_date.coalesce(f.episode_start), discharge_date=ibis.null("date"),
        fy=ibis.null("int64"), admission_method=f.admission_method,
        patient_classification=f.patient_classification, treatment_function_code=f.treatment_function_code,
        primary_diagnosis=f.diag_01, dominant_procedure=f.opertn_01, discharge_method=ibis.null("string"),
        died_in_hospital=ibis.literal(False),
    )


def index_discharges(spells, person, episodes, extract_date, follow_up: bool = True):
    """One row per index discharge with ``readmitted`` (bool), ``days_to_readmission``, the
    readmission's ``readmission_died`` and ``readmission_cips_id``, the strata columns and
    ``excluded`` (null for an index; else the first rule that excluded it), so the table also
    says why each spell left the denominator."""
    cancer = cancer_episodes(episodes)
    cast = {c: spells[c].type() for c in SPELL_COLUMNS}
    allsp = ibis.union(spells.select(*SPELL_COLUMNS),
                       unfinished_spells(episodes).cast(cast), distinct=False)
    flags = _cancer_flags(allsp, cancer, extract_date)
    s = allsp.left_join(flags, "cips_id")
    s = drop_right(s)
    s = s.mutate(_ca_in=s._ca_in.coalesce(False), _ca_before=s._ca_before.coalesce(False))
    s = s.filter(s.person_id.notnull())

    # the next admission of the person (regular attendances passed over)
    adm = s.filter(~s.patient_classification.coalesce("").isin(REGULAR_ATTENDER))
    order = [adm.admission_date, adm.discharge_date, adm.cips_id]
    w = ibis.window(group_by=adm.person_id, order_by=order)
    nxt = adm.mutate(
        _next_id=adm.cips_id.lead().over(w),
        _next_adm=adm.admission_date.lead().over(w),
        _next_method=adm.admission_method.lead().over(w),
        _next_tfc=adm.treatment_function_code.lead().over(w),
        _next_ca=adm._ca_in.lead().over(w),
        _next_died=adm.died_in_hospital.lead().over(w),
    )
    days = nxt._next_adm.delta(nxt.discharge_date, unit="day").cast("int64")
    readm = (
        nxt._next_method.isin(EMERGENCY).coalesce(False)
        & (days >= 0) & (days < WINDOW_DAYS)
        & ~nxt._next_tfc.coalesce("").isin(exclusion("maternity", "treatment_function", "readmission"))
        & ~nxt._next_ca.coalesce(False)
    ).coalesce(False)

    mat_method = exclusion("maternity", "admission_method", "index")
    mat_tfc = exclusion("maternity", "treatment_function", "index")
    mat_dx = exclusion("maternity", "primary_diagnosis", "index")
    day_case = exclusion("day_case", "patient_classification", "index")
    died = exclusion("died", "discharge_method", "index")
    specialty = exclusion("specialty", "treatment_function", "index")
    last_day = ibis.literal(extract_date) - ibis.interval(days=WINDOW_DAYS - 1) if extract_date else None
    excluded = ibis.cases(
        (nxt.discharge_date.isnull(), "not discharged"),
        (nxt.patient_classification.coalesce("").isin(day_case) | nxt.patient_classification.isnull(),
         "not an ordinary admission"),
        (nxt.discharge_method.coalesce("").isin(died) | nxt.died_in_hospital.coalesce(False), "died"),
        (nxt.admission_method.coalesce("").isin(mat_method)
         | nxt.treatment_function_code.coalesce("").isin(mat_tfc)
         | starts_with_any(nxt.primary_diagnosis.coalesce("").upper(), mat_dx), "maternity"),
        (nxt._ca_in | nxt._ca_before, "cancer or chemotherapy"),
        (nxt.treatment_function_code.coalesce("").isin(specialty), "specialty"),
        *([((nxt.discharge_date > last_day), "under 30 days of follow-up")] if follow_up and last_day is not None
          else []),
        else_=ibis.null("string"),
    )
    nxt = nxt.mutate(excluded=excluded, readmitted=readm, _days=days)
    p = person.select("person_id", "sex", "date_of_birth")
    j = nxt.left_join(p, nxt.person_id == p.person_id)  # not on the spine: kept, sex and age unknown
    j = drop_right(j)
    age = ibis.ifelse(j.date_of_birth.isnull(), ibis.null("int64"),
                      ibis.greatest(age_on(j.date_of_birth, j.admission_date), 0))
    out = j.select(
        "cips_id", "person_id", "provider_code", "admission_date", "discharge_date", "fy",
        "admission_method", "treatment_function_code", "primary_diagnosis", "dominant_procedure",
        "excluded",
        "readmitted",
        days_to_readmission=ibis.ifelse(j.readmitted, j._days, ibis.null("int64")),
        readmission_cips_id=ibis.ifelse(j.readmitted, j._next_id, ibis.null("string")),
        readmission_died=ibis.ifelse(j.readmitted, j._next_died.coalesce(False), ibis.null("boolean")),
        sex=j.sex,
        age=age,
        age_band=ibis.ifelse(age.isnull(), ibis.null("string"), age_band(age)),  # least() skips nulls
        method_group=method_group(j.admission_method),
        case_group=case_group(j.treatment_function_code, j.dominant_procedure, j.primary_diagnosis),
    )
    return out


__all__ = ["LOOKBACK_DAYS", "WINDOW_DAYS", "cancer_episodes", "exclusion", "index_discharges"]
