"""Emergency admissions for ambulatory care sensitive conditions (ACSC), one row per admission.

Counting unit (NHS Digital, CCG OIS 2.6 *Unplanned hospitalisation for chronic ambulatory care
sensitive conditions*, indicator specification I00757 v1.15, December 2018): the first episode
of each provider spell, finished or unfinished (EPIORDER 1, EPISTAT 1 or 3), with an emergency
admission method (21, 22, 23, 24, 25, 28, 2A, 2B, 2C, 2D), an ordinary admission (patient
classification 1), a general episode (episode type 1; a missing type is read as 1), not
transferred in (admission source not 51, 52 or 53), of a person of known sex (1 or 2). The same
unit serves every list (``acute``, ``vaccine_preventable``, ``broad``: UNVERIFIED for those
lists, whose own specifications were not read).

Which conditions: ``definitions/acsc_conditions.csv``, one row per (list, condition, role,
prefixes). A condition is met when a ``code`` prefix matches the primary diagnosis (position
``primary``) or any of the 20 diagnoses (``any``), every ``require_diagnosis`` role finds its
code in some position, and no ``exclude_diagnosis`` (any of 20 diagnoses) or
``exclude_procedure`` (any of 24 procedures) prefix matches. An admission counts once per list
whatever the number of its conditions; ``<list>_condition`` names the first met (by name).
"""

from __future__ import annotations

import ibis

from phm.indicators.codes import (
    DIAGNOSES,
    PROCEDURES,
    code_table,
    long_codes,
    match_prefixes,
    prefixes,
    rows,
)
from phm.model.common import drop_right
from phm.model.spells import EMERGENCY, _episode_order, _first

LISTS = ("chronic", "acute", "vaccine_preventable", "broad")
CONDITIONS_FILE = "acsc_conditions.csv"
TRANSFER_SOURCES = ("51", "52", "53")


def condition_codes():
    """The prefix rows of ``acsc_conditions.csv`` (``list``, ``condition``, ``role``,
    ``position``, ``prefix``, ``n``) for ``refs['ref_acsc_codes']``."""
    return code_table(CONDITIONS_FILE, ("list", "condition", "role", "position"))


def _requires() -> set[tuple[str, str]]:
    return {(r["list"], r["condition"]) for r in rows(CONDITIONS_FILE) if r["role"] == "require_diagnosis"}


def admission_episodes(episodes, person):
    """The counting unit: first episodes of emergency, ordinary, non-transfer provider spells
    (finished or not) of people of known sex, with ``admission_date`` (the spell's, else the
    episode start) and the person's ``sex`` and ``date_of_birth``."""
    key = ["provider_code", "spell_id"]
    e = episodes.filter(episodes.episode_status.isin(("1", "3")) & episodes.person_id.notnull())
    first = _first(e, key, _episode_order(e))
    f = first.filter(
        first.admission_method.isin(EMERGENCY)
        & (first.patient_classification == "1")
        & (first.episode_type.coalesce("1") == "1")
        & ~first.admission_source.coalesce("").isin(TRANSFER_SOURCES)
    )
    f = f.mutate(admission_date=f.admission_date.coalesce(f.episode_start))
    f = f.filter(f.admission_date.notnull())
    p = person.select("person_id", "sex", "date_of_birth")
    j = f.join(p, f.person_id == p.person_id)
    j = drop_right(j)
    return j.filter(j.sex.isin(("1", "2")))


def acsc_admissions(admissions, ref_codes):
    """One row per counted emergency admission (``admissions``: :func:`admission_episodes`,
    materialised first, since its 44 code columns are each read once here) with a boolean per
    list in :data:`LISTS` (``acsc_<list>``) and the first condition met (``<list>_condition``);
    admissions that meet no list are kept (all flags false) for the denominators of shares."""
    key = ["provider_code", "spell_id"]
    a = admissions
    dx = long_codes(a, key, DIAGNOSES)
    px = long_codes(a, key, PROCEDURES)
    ref = ref_codes
    dref = ref.filter(ref.role != "exclude_procedure")
    pref = ref.filter(ref.role == "exclude_procedure")
    lengths = {len(p) for r in rows(CONDITIONS_FILE) for p in prefixes(r["prefix"])}
    m_d = match_prefixes(dx, dref, lengths)
    m_d = m_d.select(*key, "list", "condition", "role", "position", "pos")
    m_p = match_prefixes(px, pref, lengths)
    m_p = m_p.select(*key, "list", "condition", "role", "position", pos=ibis.literal(0, "int64"))
    m = ibis.union(m_d, m_p, distinct=False)
    hit = (m.role == "code") & ((m.position == "any") | (m.pos == 1))
    per = m.group_by([*key, "list", "condition"]).aggregate(
        _hit=hit.any(),
        _req=(m.role == "require_diagnosis").any(),
        _excl=m.role.isin(("exclude_diagnosis", "exclude_procedure")).any(),
    )
    needs = _requires()
    need_req = ibis.literal(False)
    for lst, cond in sorted(needs):
        need_req = need_req | ((per.list == lst) & (per.condition == cond))
    met = per.filter(per._hit & ~per._excl & (per._req | ~need_req))
    by = met.group_by([*key, "list"]).aggregate(condition=met.condition.min())
    out = a.select(*key, "person_id", "admission_date", "admission_method", "sex", "date_of_birth",
                   primary_diagnosis=a.diag_01)
    for lst in LISTS:
        b = by.filter(by.list == lst).select(*key, **{f"{lst}_condition": by.condition})
        out = out.left_join(b, key)
        out = drop_right(out)
        out = out.mutate(**{f"acsc_{lst}": out[f"{lst}_condition"].notnull()})
    return out


__all__ = ["LISTS", "acsc_admissions", "admission_episodes", "condition_codes"]
