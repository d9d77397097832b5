"""``person_year``: one row per person per financial year of the window.

A person has a row for every year in which they were registered for at least one day or had
any costed activity (so that person-year cost, ``cost_total + cost_nhse + cost_private``, sums
to activity cost exactly).

- **Exposure**: days registered in the year (registration start to the earliest of
  registration end, death and the year end).
- **Conditions** (``cond_<condition>``): on the condition's QOF register at the year end
  (the achievement date), by the business rules in :mod:`.registers`: GP codes only, the
  latest diagnosis not resolved, the register's age floor on the year end, and the treatment
  or date conditions of asthma, epilepsy, severe mental illness, cancer and depression.
  ``ltc_count`` counts them. ``palliative_care_register`` is the QOF palliative care
  register. ``hospital_only_<condition>``: coded in hospital (ICD-10 in any diagnosis
  position of an admitted episode, on or before the year end), never coded by the GP by
  then, old enough for the register and not on it: the PCN's case-finding list ("coded in
  hospital, not on the GP register"). ``age_year_end``: whole years on the year end, the
  age QOF's rules and list sizes use.
- **Charlson**: Quan et al. (2005) ICD-10 coding of the Charlson categories over every
  admitted diagnosis on or before the year end (all history in the warehouse), Charlson
  (1987) weights, keeping the more severe of each hierarchy pair (:mod:`.comorbidity`).
- **Hospital Frailty Risk Score** (``hfrs``): Gilbert et al. (2018) points over the distinct
  ICD-10 codes of admissions in the two years to the year end (:func:`.comorbidity.hfrs`).
- **Cambridge Multimorbidity Score**: Payne et al. (2020) general-outcome weights summed over
  the CMS conditions phm can measure (:mod:`.comorbidity`).
- **Segment**: Bridges to Health, first matching rule in priority order (:mod:`.segments`);
  ``end_of_life_retrospective``: in the end-of-life segment by death in the year alone (not on
  the palliative care register), which is known only in retrospect.
- **Activity and cost** by setting and by programme of care, from ``activity``. Costs
  (``cost_*``, ``cost_total``) are ICB-commissioned NHS activity only; NHS England-
  commissioned activity is ``cost_nhse`` and private patients ``cost_private`` (counts ``n_*``
  include all three; :mod:`.funding`). Emergency
  admissions count continuous inpatient spells, so a transfer is one admission.
- **HRI**: High Resource Individuals, the fewest people whose combined cost reaches half of
  the year's total (ranked by cost, ties by ``person_id``): a person is HRI when the people
  ranked above them hold less than 50% of spend: the High Resource Individuals definition
  in issue 4 (the top spenders accounting for 50% of spend).
"""

from __future__ import annotations

import ibis

from phm.model import comorbidity, registers, segments
from phm.model.activity import SETTINGS
from phm.model.common import age_band, age_in_year, age_on, clean_date, drop_right


def _exposure(pf):
    start = ibis.greatest(pf.registration_start.coalesce(pf.fy_start), pf.fy_start)
    stop = ibis.least(pf.registration_end.coalesce(pf.fy_end), pf.date_of_death.coalesce(pf.fy_end), pf.fy_end)
    days = stop.delta(start, unit="day") + 1
    return ibis.greatest(days, 0).cast("int64")


def person_years(person, fy):
    pf = person.cross_join(fy)
    return pf.mutate(exposure_days=_exposure(pf))


def activity_totals(activity, programme_ids):
    a = activity.mutate(_all_cost=activity.cost, cost=ibis.ifelse(activity.funder == "icb", activity.cost, 0.0))
    aggs = {}
    for s in SETTINGS:
        aggs[f"n_{s}"] = a.count(where=a.setting == s)  # COUNT FILTER: not a HUGEINT sum
    for s in SETTINGS:
        aggs[f"cost_{s}"] = a.cost.sum(where=a.setting == s).coalesce(0.0).round(2)
    for p in programme_ids:
        aggs[f"cost_prog_{p}"] = a.cost.sum(where=a.programme == p).coalesce(0.0).round(2)
    aggs["prescription_items"] = a.quantity.sum(where=a.setting == "prescribing").coalesce(0.0)
    aggs["cost_total"] = a.cost.sum().round(2)
    aggs["cost_nhse"] = a._all_cost.sum(where=a.funder == "nhse").coalesce(0.0).round(2)
    aggs["cost_private"] = a._all_cost.sum(where=a.funder == "private").coalesce(0.0).round(2)
    return a.group_by(["person_id", "fy"]).aggregate(**aggs)


def spell_totals(spells):
    s = spells.filter(spells.person_id.notnull())
    return s.group_by(["person_id", "fy"]).aggregate(
        emergency_admissions=s.emergency.sum().cast("int64"),
        maternity_admissions=(s.admission_type == "maternity").sum().cast("int64"),
    )


def condition_first_dates(gp_events, episodes, refs, window):
    """The ``person_condition`` mart: (person_id, condition, first_date, first_gp_date,
    first_hospital_date) from GP SNOMED codes and hospital ICD-10 codes. A condition coded in
    hospital but never in general practice (``first_gp_date`` null) is a case-finding lead."""
    g = gp_events.filter(gp_events.person_id.notnull())
    g = g.mutate(event_date=clean_date(g.event_date))
    g = g.filter(g.event_date.notnull() & (g.event_date <= window.extract_date))
    sn = refs["ref_condition_snomed"]
    gj = g.join(sn, g.snomed_code == sn.snomed_code).select("person_id", "condition", date=g.event_date,
                                                           gp=ibis.literal(True))
    dx = comorbidity.diagnoses(episodes)
    icd = refs["ref_condition_icd10"]
    hj = []
    for n in (3, 4):
        ref = icd.filter(icd.code_length == n)
        hj.append(dx.join(ref, dx.code.substr(0, n) == ref.icd10_code).select(
            "person_id", "condition", date=dx.date, gp=ibis.literal(False)))
    both = ibis.union(gj, *hj, distinct=False)
    return both.group_by(["person_id", "condition"]).aggregate(
        first_date=both.date.min(),
        first_gp_date=both.date.min(where=both.gp),
        first_hospital_date=both.date.min(where=~both.gp),
    )


def hospital_only_flags(keys, firsts, condition_ids):
    """One row per (person_id, fy) in ``keys`` with ``hosp_<condition>``: coded in hospital on
    or before the year end and not coded in general practice by then (before the register
    and age test, which :func:`person_year` applies)."""
    j = keys.join(firsts, (keys.person_id == firsts.person_id) & (firsts.first_hospital_date <= keys.fy_end))
    gp_by_end = j.first_gp_date.notnull() & (j.first_gp_date <= j.fy_end)
    return j.group_by([j.person_id, j.fy]).aggregate(
        **{f"hosp_{c}": ((j.condition == c) & ~gp_by_end).any() for c in condition_ids}
    )


def hri_flag(t):
    """``hri``: the people ranked above hold less than half of the year's spend."""
    w_total = ibis.window(group_by=t.fy)
    w_cum = ibis.cumulative_window(group_by=t.fy, order_by=[ibis.desc(t.cost_total), t.person_id])
    before = t.cost_total.sum().over(w_cum) - t.cost_total
    total = t.cost_total.sum().over(w_total)
    return (t.cost_total > 0) & (before < 0.5 * total)


def hri_cut(t):
    """Per year, the last High Resource Individual in the ranking :func:`hri_flag` walks (cost
    descending, then ``person_id``): ``(fy, _hri_cost, _hri_pid)`` from person-year costs ``t``
    (``cost_total`` of :func:`activity_totals`). The HRIs of a year are a prefix of that
    ranking (everyone ranked above an HRI holds even less), so this one row per year marks
    them all (:func:`with_hri`).
    The ranking window reads three columns: over the assembled mart it sorted every one of its
    150 (about 80 of a 3,000,000-person ``person_year``'s 291 seconds)."""
    n = t.filter(t.cost_total > 0).select("person_id", "fy", "cost_total")
    n = n.mutate(_hri=hri_flag(n))
    h = n.filter(n._hri)
    low = h.group_by("fy").aggregate(_hri_cost=h.cost_total.min())
    at = h.join(low, (h.fy == low.fy) & (h.cost_total == low._hri_cost))
    return at.group_by(["fy", "_hri_cost"]).aggregate(_hri_pid=at.person_id.max())


def with_hri(t, cut):
    """``t`` with ``hri`` from :func:`hri_cut`: ranked at or above the year's last HRI, which
    is :func:`hri_flag` over the whole year."""
    j = drop_right(t.left_join(cut, t.fy == cut.fy))
    at_or_above = (j.cost_total > j._hri_cost) | ((j.cost_total == j._hri_cost) & (j.person_id <= j._hri_pid))
    return j.mutate(hri=((j.cost_total > 0) & at_or_above).coalesce(False)).drop("_hri_cost", "_hri_pid")


def _by_person_year(t, other):
    """Left-join a table keyed by (person_id, fy)."""
    return drop_right(t.left_join(other, (t.person_id == other.person_id) & (t.fy == other.fy)))


def person_year(person, activity, spells, conditions, episodes, refs, condition_ids, programme_ids,
                gp_events, prescriptions):
    fy = refs["ref_fy"]
    base = person_years(person, fy)
    act = activity_totals(activity, programme_ids)
    j = _by_person_year(base, act)
    j = j.filter((j.exposure_days > 0) | j.cost_total.notnull())
    j = _by_person_year(j, spell_totals(spells))

    # Keys for the per-person-year evidence come from ``base`` (person x year), not from ``j``:
    # every use of ``j`` would recompute the activity totals, and the extra keys (years with no
    # exposure and no cost) simply find no row in the left joins below.
    keys = base.select("person_id", "fy", "fy_end")
    last_day = ibis.least(base.fy_end, base.registration_end.coalesce(base.fy_end),
                          base.date_of_death.coalesce(base.fy_end))
    status = registers.register_status(gp_events, prescriptions, refs,
                                       base.select("person_id", "fy", "fy_end", last_day=last_day))
    reg_ids = registers.register_ids()
    regs = registers.register_flags(base.select("person_id", "fy", "fy_end", "date_of_birth"), status, reg_ids)
    ch = comorbidity.charlson(keys, comorbidity.charlson_first_dates(episodes, refs))
    j = _by_person_year(j, regs)
    j = _by_person_year(j, hospital_only_flags(keys, conditions, condition_ids))
    j = _by_person_year(j, ch)
    j = _by_person_year(j, comorbidity.hfrs(keys, episodes, refs))
    j = _by_person_year(j, segments.evidence(base.select("person_id", "fy", "fy_start", "fy_end"), episodes,
                                             gp_events, refs))

    fill = {f"n_{s}": 0 for s in SETTINGS}
    fill.update({f"cost_{s}": 0.0 for s in SETTINGS})
    fill.update({f"cost_prog_{p}": 0.0 for p in programme_ids})
    fill.update({f"reg_{r}": False for r in reg_ids})
    fill.update({f"hosp_{c}": False for c in condition_ids})
    fill.update(dict.fromkeys(segments.FLAGS, False))
    fill.update({"cost_total": 0.0, "cost_nhse": 0.0, "cost_private": 0.0, "prescription_items": 0.0, "emergency_admissions": 0, "maternity_admissions": 0,
                 "charlson": 0, "hfrs": 0.0})
    j = j.mutate(**{k: j[k].coalesce(v) for k, v in fill.items()})
    age = age_in_year(j.date_of_birth, j.fy_start)
    age_end = ibis.greatest(age_on(j.date_of_birth, j.fy_end), 0)
    min_age = {r["condition"]: int(r["min_age"]) for r in registers.register_definitions()}
    j = j.mutate(
        **{f"cond_{c}": j[f"reg_{c}"] for c in condition_ids},
        **{f"hospital_only_{c}": j[f"hosp_{c}"] & ~j[f"reg_{c}"] & (age_end >= min_age[c]).coalesce(False)
           for c in condition_ids},
        palliative_care_register=j.reg_palliative_care,
    )
    ltc = sum((j[f"cond_{c}"].cast("int64") for c in condition_ids), ibis.literal(0, "int64"))
    died_in_year = j.date_of_death.notnull() & (j.date_of_death >= j.fy_start) & (j.date_of_death <= j.fy_end)
    j = j.mutate(
        age=age, age_band=age_band(age), age_year_end=age_end, ltc_count=ltc,
        ae_attendances=j.n_ecds,  # A&E attendances are the ECDS rows (linked, every funder)
        deceased=j.date_of_death.notnull() & (j.date_of_death <= j.fy_end),
        died_in_year=died_in_year,
    )
    j = j.mutate(cms=comorbidity.cms_expr(j))
    j = j.mutate(segment=segments.segment_expr(j))
    j = j.mutate(end_of_life_retrospective=(j.segment == "end_of_life") & ~j.palliative_care_register)
    # ``act`` a second time: DuckDB computes a query's shared subexpression (a CTE) once, so
    # the ranking costs no second pass over activity
    j = with_hri(j, hri_cut(act.select("person_id", "fy", "cost_total")))
    cols = [
        "person_id", "fy", "fy_label", "fy_start", "fy_end", "exposure_days", "age", "age_band", "age_year_end", "sex",
        "ethnic_group", "imd2019_decile", "imd2019_quintile", "imd2025_decile", "imd2025_quintile", "core20",
        "practice_code", "pcn_code", "place_code", "icb_code", "deceased", "died_in_year",
        *[f"cond_{c}" for c in condition_ids], *[f"hospital_only_{c}" for c in condition_ids],
        "palliative_care_register", "ltc_count", "charlson", "hfrs", "cms", "segment", "end_of_life_retrospective",
        *[f"n_{s}" for s in SETTINGS], "prescription_items", "emergency_admissions", "maternity_admissions",
        "ae_attendances", *[f"cost_{s}" for s in SETTINGS], *[f"cost_prog_{p}" for p in programme_ids],
        "cost_total", "cost_nhse", "cost_private", "hri",
    ]
    return j.select(*cols)
