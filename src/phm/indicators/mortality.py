"""Deaths after hospital care, one row per finished provider spell: the mart ``ind_shmi_spells``.

Method: NHS England (formerly NHS Digital), *Summary Hospital-level Mortality Indicator (SHMI)
- indicator specification*, v1.60 (June 2026) and the SHMI publication pages
(digital.nhs.uk/data-and-information/publications/statistical/shmi). Sources and what could
not be checked are in ``docs/research/indicators-shmi.md``; the statistics are in
:mod:`phm.indicators.shmi`.

**Unit**: finished provider spells ("the SHMI is calculated at the level of the provider
spell"), by the provider and the month of discharge.

**Observed death**: the spell ended in death (discharge method 4), or the person died within
30 days inclusive of discharge (date of death from ONS registrations, else the GP record).
A death is counted against the person's *last* spell before it; any earlier spell in the 30
days counts as a survival (UNVERIFIED: the attribution rule is not on the pages read).

**Excluded** (``excluded``, the first rule that applies): not linked to a person (their death
cannot be known); day cases and regular day or night attenders (patient classification 2, 3,
4: "Day cases and regular day attenders are excluded from the SHMI"); stillbirths (discharge
method 5: UNVERIFIED); COVID-19 (U07.1, U07.2 in any position of the first episode) discharged
before 1 September 2021 ("COVID-19 activity is included in the SHMI if the discharge date is on
or after 1 September 2021"; the code positions are UNVERIFIED); and phm's rule that the 30
days after discharge must lie within the extract.

**Case-mix variables** (the SHMI's, with UNVERIFIED categories): ``diagnosis_group`` of the
first episode's primary diagnosis (``definitions/shmi_diagnosis_groups.csv``: phm's grouping,
NOT the SHMI's 144 groups, whose lookup phm does not have; ``invalid`` when none matches);
``age_band`` at admission (<1, 1-4, 5-9, ... 85-89, 90+, unknown); ``sex``; ``method``
(elective 11-13, non-elective, unknown); ``admission_month`` (1-12); ``charlson_group`` (0,
1-5, 6+; ``n/a`` in the invalid group, which SHMI does not adjust for Charlson) from the
SHMI's Charlson weights (``definitions/shmi_charlson.csv``) over the first episode's secondary
diagnoses, a negative total counted as 0; and the year index, set from ``fy`` when the model
is fitted. Birthweight (perinatal groups only) is not in the extract and is not adjusted for.
"""

from __future__ import annotations

import datetime as dt

import ibis

from phm.indicators.codes import (
    DIAGNOSES,
    any_position,
    code_table,
    long_codes,
    match_prefixes,
    normalised,
)
from phm.model.common import age_on, drop_right

WINDOW_DAYS = 30  # a death 0-30 days after discharge (inclusive) counts
DIED = "4"
STILLBIRTH = "5"
NOT_ORDINARY = ("2", "3", "4")  # day case, regular day attender, regular night attender
ELECTIVE = ("11", "12", "13")
COVID = ["U071", "U072"]
COVID_INCLUDED_FROM = dt.date(2021, 9, 1)
CHARLSON_FILE = "shmi_charlson.csv"
GROUPS_FILE = "shmi_diagnosis_groups.csv"
INVALID = "invalid"
AGE_BANDS = ("<1", "1-4", *[f"{5 * i}-{5 * i + 4}" for i in range(1, 18)], "90+")
# every ``excluded`` reason, in the order they are tested
EXCLUSIONS = ("not linked to a person", "day case or regular attender", "stillbirth",
              "COVID-19 before September 2021", "under 30 days of follow-up")


def charlson_codes():
    """``ref_shmi_charlson``: one row per ICD-10 prefix of the SHMI Charlson conditions."""
    return code_table(CHARLSON_FILE, ("condition", "weight", "overridden_by"))


def group_codes():
    """``ref_shmi_groups``: one row per ICD-10 prefix of the diagnosis groups."""
    return code_table(GROUPS_FILE, ("group",))


def shmi_age_band(age):
    """The age bands above from whole years of age (null -> ``unknown``)."""
    idx = ibis.ifelse(age < 1, 0, ibis.ifelse(age < 5, 1, ibis.least(age // 5 + 1, 19)))
    band = ibis.cases(*[(idx == i, label) for i, label in enumerate(AGE_BANDS)], else_="unknown")
    return ibis.ifelse(age.isnull(), "unknown", band)


def charlson_scores(spells, ref):
    """(provider_code, spell_id, charlson_score) of spells with a Charlson condition among the
    secondary diagnoses: the SHMI weights summed over the distinct conditions, a condition
    overridden by a more severe one coded too left out, a negative total set to 0."""
    key = ["provider_code", "spell_id"]
    codes = long_codes(spells, key, DIAGNOSES[1:])
    hit = match_prefixes(codes, ref, {2, 3, 4})
    cond = hit.select(*key, "condition", "overridden_by", weight=hit.weight.cast("int64")).distinct()
    sup = cond.select(*key, _sup=cond.condition)
    c = cond.left_join(sup, [*[cond[k] == sup[k] for k in key], cond.overridden_by == sup._sup])
    c = drop_right(c)
    c = c.filter(c._sup.isnull())
    g = c.group_by(key).aggregate(_w=c.weight.sum())
    return g.select(*key, charlson_score=ibis.greatest(g._w, 0))


def diagnosis_groups(spells, ref):
    """(provider_code, spell_id, diagnosis_group): the longest prefix of the primary diagnosis
    in ``ref_shmi_groups`` (spells whose code matches none are left out)."""
    key = ["provider_code", "spell_id"]
    codes = spells.select(*key, code=normalised(spells.primary_diagnosis))
    hit = match_prefixes(codes.filter(codes.code.notnull() & (codes.code != "")), ref, {1, 2, 3, 4})
    return hit.group_by(key).aggregate(diagnosis_group=hit.group.argmax(hit.n))


def shmi_spells(provider_spells, person, refs, extract_date):
    """One row per finished provider spell: ``provider_code``, ``spell_id``, ``person_id``,
    ``fy`` and ``month`` (of discharge), the case-mix columns, ``died`` (the death this spell is
    counted for), ``died_in_hospital``, ``charlson_score`` and ``excluded`` (null when in the
    indicator)."""
    key = ["provider_code", "spell_id"]
    s = provider_spells.filter(provider_spells.discharge_date.notnull())
    p = person.select("person_id", "sex", "date_of_birth", "date_of_death")
    s = drop_right(s.left_join(p, s.person_id == p.person_id))
    in_hosp = (s.discharge_method == DIED).coalesce(False) | s.died.coalesce(False)
    after = s.date_of_death.delta(s.discharge_date, unit="day").cast("int64")
    within = in_hosp | ((after >= 0) & (after <= WINDOW_DAYS)).coalesce(False)
    covid = any_position(s, ("primary_diagnosis", *DIAGNOSES[1:]), COVID)
    last_day = ibis.literal(extract_date) - ibis.interval(days=WINDOW_DAYS)
    excluded = ibis.cases(
        (s.person_id.isnull(), EXCLUSIONS[0]),
        (s.patient_classification.coalesce("").isin(NOT_ORDINARY), EXCLUSIONS[1]),
        (s.discharge_method.coalesce("") == STILLBIRTH, EXCLUSIONS[2]),
        (covid & (s.discharge_date < ibis.literal(COVID_INCLUDED_FROM)), EXCLUSIONS[3]),
        (s.discharge_date > last_day, EXCLUSIONS[4]),
        else_=ibis.null("string"),
    )
    s = s.mutate(excluded=excluded, _within=within, _in_hosp=in_hosp)
    # the death goes to the person's last counted spell before it
    cand = s.filter(s.excluded.isnull() & s._within)
    w = ibis.window(group_by=cand.person_id,
                    order_by=[ibis.desc(cand.discharge_date), ibis.desc(cand.admission_date),
                              ibis.desc(cand.provider_code), ibis.desc(cand.spell_id)])
    last = cand.mutate(_rn=ibis.row_number().over(w))
    last = last.filter(last._rn == 0).select(*key, _last=ibis.literal(True))
    s = drop_right(s.left_join(last, key))
    s = drop_right(s.left_join(diagnosis_groups(s, refs["ref_shmi_groups"]), key))
    s = drop_right(s.left_join(charlson_scores(s, refs["ref_shmi_charlson"]), key))
    group = s.diagnosis_group.coalesce(INVALID)
    score = s.charlson_score.coalesce(0)
    age = ibis.ifelse(s.date_of_birth.isnull(), ibis.null("int64"),
                      ibis.greatest(age_on(s.date_of_birth, s.admission_date), 0))
    return s.select(
        *key, "person_id", "fy",
        month=s.discharge_date.strftime("%Y-%m"),
        discharge_date=s.discharge_date,
        diagnosis_group=group,
        age_band=shmi_age_band(age),
        sex=s.sex.coalesce("unknown"),
        method=ibis.cases((s.admission_method.isin(ELECTIVE), "elective"),
                          (s.admission_method.notnull() & (s.admission_method != ""), "non-elective"),
                          else_="unknown"),
        admission_month=s.admission_date.month().cast("int64").coalesce(0),
        charlson_score=score,
        charlson_group=ibis.cases((group == INVALID, "n/a"), (score == 0, "0"), (score <= 5, "1-5"), else_="6+"),
        died=s._last.coalesce(False),
        died_in_hospital=s._in_hosp & s._last.coalesce(False),
        excluded=s.excluded,
    )


__all__ = ["AGE_BANDS", "EXCLUSIONS", "WINDOW_DAYS", "charlson_codes", "charlson_scores", "diagnosis_groups",
           "group_codes", "shmi_age_band", "shmi_spells"]
