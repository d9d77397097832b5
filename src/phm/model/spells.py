"""Spells from APC episodes: provider spells, then continuous inpatient spells (CIPS).

**Provider spell**: the episodes one provider sent under one spell number (HES
``PROVSPNOPS``). Admission method, source, classification, primary diagnosis and treatment
function come from the first episode (lowest episode order); discharge method and
destination from the last. The dominant procedure is the main procedure of the first
episode that has one. The spell's HRG is that of its costliest episode (ties: the first).
Each episode is costed (see :mod:`.costing`) and the spell cost is their sum.

Dates: HES sentinels are missing; a discharge date after the extract date or before the
admission date is treated as missing (the spell is open or the date is wrong, and data
quality counts it). Length of stay = discharge - admission in days.

Point of delivery (NCC): patient classification 3/4 regular day/night; elective
(admission method 11-13) day case (classification 2) or elective inpatient; otherwise
non-elective short stay (length of stay 0-1 days) or long stay.

**Continuous inpatient spell**: a person's provider spells are joined when the next
admission is no more than 2 days after the previous discharge and the previous discharge
destination is a transfer (49-53, 84, 87), or the next admission source is a transfer
(49-53, 87), or its admission method is a transfer (2B, 81). Source: NHS Digital, HES
"Methodology to create provider and CIPS spells from HES APC data" (2014), as used by the
NHS Outcomes Framework and SHMI.
"""

from __future__ import annotations

import ibis

from phm.model import costing
from phm.model.common import Window, clean_date, deduplicate, drop_right, fy_expr, lookup

ELECTIVE = ("11", "12", "13")
EMERGENCY = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
MATERNITY = ("31", "32")
TRANSFER_DEST = ("49", "50", "51", "52", "53", "84", "87")
TRANSFER_SOURCE = ("49", "50", "51", "52", "53", "87")
TRANSFER_METHOD = ("2B", "81")
DIED = "4"


def admission_type(method):
    return ibis.cases(
        (method.isin(ELECTIVE), "elective"),
        (method.isin(EMERGENCY), "emergency"),
        (method.isin(MATERNITY), "maternity"),
        (method.isin(("81", "82", "83")), "transfer or other"),
        else_="unknown",
    )


def clean_episodes(apc, window: Window):
    e = deduplicate(apc, "apc_episodes")
    dates = ("admission_date", "discharge_date", "episode_start", "episode_end")
    e = e.mutate(**{d: clean_date(e[d]) for d in dates})
    e = e.mutate(**{d: ibis.ifelse(e[d] > window.extract_date, ibis.null("date"), e[d]) for d in dates})
    return e


def _first(t, keys, order):
    w = ibis.window(group_by=[t[k] for k in keys], order_by=order)
    return t.mutate(_r=ibis.row_number().over(w)).filter(ibis._._r == 0).drop("_r")


def provider_spells(episodes, refs, window: Window):
    """One row per provider spell, costed, with its point of delivery."""
    e = episodes
    key = ["provider_code", "spell_id"]
    agg = e.group_by(key).aggregate(
        person_id=e.person_id.max(),
        admission_date=e.admission_date.min().coalesce(e.episode_start.min()),
        discharge_date=e.discharge_date.max(),
        episodes=e.count(),
        died=(e.discharge_method == DIED).any(),
    )
    head = _first(e, key, [e.episode_order, e.episode_id]).select(
        *key, "admission_method", "admission_source", "patient_classification", "treatment_function_code",
        primary_diagnosis=e.diag_01, practice_code=e.practice_code,
    )
    tail = _first(e, key, [ibis.desc(e.episode_order), ibis.desc(e.episode_id)]).select(
        *key, "discharge_method", "discharge_destination",
    )
    withproc = e.filter(e.opertn_01.notnull())
    proc = _first(withproc, key, [withproc.episode_order, withproc.episode_id]).select(*key, dominant_procedure=withproc.opertn_01)
    s = agg.join(head, key).join(tail, key).left_join(proc, key)
    s = drop_right(s)
    dis_ok = s.discharge_date.notnull() & s.admission_date.notnull() & (s.discharge_date >= s.admission_date)
    s = s.mutate(discharge_date=ibis.ifelse(dis_ok, s.discharge_date, ibis.null("date")))
    los = s.discharge_date.delta(s.admission_date, unit="day").cast("int64")
    elective = s.admission_method.isin(ELECTIVE)
    pod = ibis.cases(
        (s.patient_classification.isin(("3", "4")), "RDN"),
        (elective & (s.patient_classification == "2"), "DC"),
        (elective, "EL"),
        (los.coalesce(0) <= 1, "NES"),
        else_="NEL",
    )
    s = s.mutate(los_days=los, pod=pod)
    # cost each episode at its spell's point of delivery
    ec = e.join(s.select(*key, "pod"), key)
    ec = _cost_episodes(ec, refs)
    w_cost = ibis.window(group_by=[ec.provider_code, ec.spell_id], order_by=[ibis.desc(ec.cost), ec.episode_order, ec.episode_id])
    top = ec.mutate(_r=ibis.row_number().over(w_cost)).filter(ibis._._r == 0).select(*key, hrg_code=ibis._.hrg_code)
    costs = ec.group_by(key).aggregate(
        cost=ec.cost.sum().round(2),
        _sources=ec.cost_source.nunique(),
        _source=ec.cost_source.max(),
    )
    costs = costs.mutate(cost_source=ibis.ifelse(costs._sources > 1, "mixed", costs._source)).drop("_sources", "_source")
    s = s.join(costs, key).join(top, key)
    s = drop_right(s)
    activity_date = s.discharge_date.coalesce(s.admission_date)
    return s.mutate(
        admission_type=admission_type(s.admission_method),
        emergency=s.admission_method.isin(EMERGENCY),
        activity_date=activity_date,
        fy=fy_expr(activity_date),
    )


def _cost_episodes(ec, refs):
    j = lookup(ec, refs["ref_unit_cost"], [("pod", "pod"), ("hrg_code", "currency_code")], _unit="unit_cost")
    pod_cost = ibis.cases(*[(j.pod == p, costing.pod_unit_cost(p)) for p in ("EL", "DC", "RDN", "NES", "NEL")
                            if costing.pod_unit_cost(p) is not None], else_=ibis.null("float64"))
    cost, source = costing.priced(j.cost, j._unit, pod_cost, costing.default_cost("apc", "APC"))
    return j.select("provider_code", "spell_id", "episode_order", "episode_id", "hrg_code",
                    cost=cost, cost_source=source)


def continuous_spells(pspells):
    """One row per continuous inpatient spell (transfers between providers joined)."""
    s = pspells
    w = ibis.window(group_by=s.person_id, order_by=[s.admission_date, s.discharge_date, s.provider_code, s.spell_id])
    prev_dis = s.discharge_date.lag().over(w)
    prev_dest = s.discharge_destination.lag().over(w)
    linked = (
        s.person_id.notnull() & prev_dis.notnull() & s.admission_date.notnull()
        & (s.admission_date <= prev_dis + ibis.interval(days=2))
        & (prev_dest.isin(TRANSFER_DEST) | s.admission_source.isin(TRANSFER_SOURCE) | s.admission_method.isin(TRANSFER_METHOD))
    )
    s = s.mutate(_new=ibis.ifelse(linked, 0, 1))
    s = s.mutate(_seq=s._new.sum().over(ibis.cumulative_window(group_by=s.person_id, order_by=[
        s.admission_date, s.discharge_date, s.provider_code, s.spell_id])))
    s = s.mutate(_cips=ibis.ifelse(s.person_id.isnull(), s.provider_code.concat(":", s.spell_id),
                                   s.person_id.cast("string").concat("#", s._seq.cast("string"))))
    first = _first(s, ["_cips"], [s.admission_date, s.discharge_date, s.provider_code, s.spell_id])
    last = _first(s, ["_cips"], [ibis.desc(s.discharge_date), ibis.desc(s.admission_date), ibis.desc(s.provider_code), ibis.desc(s.spell_id)])
    costliest = _first(s, ["_cips"], [ibis.desc(s.cost), s.admission_date, s.provider_code, s.spell_id])
    withproc = s.filter(s.dominant_procedure.notnull())
    proc = _first(withproc, ["_cips"], [withproc.admission_date, withproc.provider_code, withproc.spell_id])
    agg = s.group_by("_cips").aggregate(
        provider_spells=s.count(),
        providers=s.provider_code.nunique(),
        episodes=s.episodes.sum(),
        discharge_date=s.discharge_date.max(),
        open_spells=(s.discharge_date.isnull()).sum(),
        cost=s.cost.sum().round(2),
        _sources=s.cost_source.nunique(),
        _source=s.cost_source.max(),
        died_in_hospital=s.died.any(),
    )
    out = (
        agg.join(first.select("_cips", "person_id", "provider_code", "spell_id", "admission_date", "admission_method",
                              "admission_type", "emergency", "admission_source", "patient_classification",
                              "primary_diagnosis", "treatment_function_code", "practice_code", "pod"), "_cips")
        .join(last.select("_cips", "discharge_destination", "discharge_method"), "_cips")
        .join(costliest.select("_cips", "hrg_code"), "_cips")
        .left_join(proc.select("_cips", "dominant_procedure"), "_cips")
    )
    out = drop_right(out)
    discharge = ibis.ifelse(out.open_spells > 0, ibis.null("date"), out.discharge_date)
    activity_date = discharge.coalesce(out.admission_date)
    return out.select(
        cips_id=out.provider_code.concat(":", out.spell_id),
        person_id=out.person_id,
        provider_code=out.provider_code,
        first_spell_id=out.spell_id,
        provider_spells=out.provider_spells,
        providers=out.providers,
        transfer=out.provider_spells > 1,
        episodes=out.episodes,
        admission_date=out.admission_date,
        discharge_date=discharge,
        los_days=discharge.delta(out.admission_date, unit="day").cast("int64"),
        admission_method=out.admission_method,
        admission_type=out.admission_type,
        emergency=out.emergency,
        admission_source=out.admission_source,
        patient_classification=out.patient_classification,
        pod=out.pod,
        treatment_function_code=out.treatment_function_code,
        primary_diagnosis=out.primary_diagnosis,
        dominant_procedure=out.dominant_procedure,
        hrg_code=out.hrg_code,
        discharge_method=out.discharge_method,
        discharge_destination=out.discharge_destination,
        died_in_hospital=out.died_in_hospital,
        practice_code=out.practice_code,
        cost=out.cost,
        cost_source=ibis.ifelse(out._sources > 1, "mixed", out._source),
        activity_date=activity_date,
        fy=fy_expr(activity_date),
    )
