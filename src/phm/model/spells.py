"""Spells from APC episodes: provider spells, then continuous inpatient spells (CIPS).

Method: NHS Digital, "Methodology to create provider and CIP spells from HES APC data" (v2;
the 2014 HSCIC methodology it revises is used by the NHS Outcomes Framework and SHMI). The
primary PDF could not be read from this sandbox; the rules below follow the v2 wording as
quoted by public implementations (The Strategy Unit's nhp_data; UKHSA/PHE's epidm
``cip_spells``, which states NHS Digital confirmed the 2014 method in May 2020). Rules marked
UNVERIFIED rest on those implementations or on this issue's decision, not on the PDF.

**Episodes.** Duplicates resolve to one record per provider, spell, episode order and episode
start: a finished episode (EPISTAT 3) beats an unfinished one, then the source loaded last
(load ledger), then the latest line (:func:`clean_episodes`). Only finished episodes make
spells and costs; an unfinished final episode leaves its spell open (no discharge date).
Within a spell, episodes are ordered by episode start, episode order, episode end and key
(v2), so two EPIORDER 99 episodes keep their places.

**Provider spell**: the finished episodes one provider sent under one spell number (HES
``PROVSPNOPS``; v2 also requires the same person and admission date, which a valid spell number
implies: UNVERIFIED difference). Admission method, source, classification, primary diagnosis,
treatment function, administrative category and commissioner come from the first episode;
discharge method and destination from the last. The dominant procedure is the main procedure
of the first episode that has one. The spell's HRG is that of its costliest episode.

Dates: HES sentinels are missing; a discharge date after the extract date or before the
admission date is treated as missing (the spell is open or the date is wrong, and data
quality counts it). Length of stay = discharge - admission in days.

Point of delivery (NCC): patient classification 3/4 regular day/night; elective
(admission method 11-13) day case (classification 2) or elective inpatient; otherwise
non-elective short stay (length of stay 0-1 days) or long stay.

**Cost** = the episodes' costs (:mod:`.costing`) + excess bed days beyond the HRG's trim point
(:func:`excess_bed_days`). **Funder**: administrative category 02 is a private patient (not NHS
spend); a commissioner that is an NHS England commissioning hub makes the spell NHS England-
commissioned (specialised or directly commissioned); anything else is ICB-commissioned
(:func:`phm.model.funding.funder`). All stay in activity.

**Continuous inpatient spell** (:func:`continuous_spells`): provider spells linked when the
next admission is 0-2 days after the discharge and there is evidence of a transfer: the
discharge destination is a transfer (49-53, 84), or the next admission source is (49-53, 87),
or its admission method is (2B, 81); not when the discharge is to the usual residence (19) and
the next admission is an emergency (21) from source 51 ("rule 3"). Regular day and night
attenders (classification 3/4) are separate units of care and never linked (v2). The gap is
measured from the latest discharge so far among the person's earlier spells, so a transfer
out and back nested inside a longer stay does not end the chain (the running maximum is what
epidm's grouping does; UNVERIFIED against the PDF, and required by issue 13).
"""

from __future__ import annotations

import ibis

from phm.model import costing
from phm.model.common import Window, clean_date, deduplicate, drop_right, fy_expr, lookup
from phm.model.funding import funder

ELECTIVE = ("11", "12", "13")
EMERGENCY = ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
MATERNITY = ("31", "32")
TRANSFER_DEST = ("49", "50", "51", "52", "53", "84")
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


FINISHED = "3"
UNFINISHED = "1"
REGULAR_ATTENDER = ("3", "4")
PRIVATE = "02"


def clean_episodes(apc, window: Window, loads=None):
    """Episodes, one per record: HES sentinel and future dates read as missing; episode status
    (null read as finished, as 1.0 extracts held only finished episodes) and administrative
    category (``2`` read as ``02``) normalised. Duplicates resolve by
    :func:`~phm.model.common.deduplicate` with a finished episode beating an unfinished one, then
    the source loaded last (``loads``), then the latest line."""
    e = apc.mutate(
        episode_status=apc.episode_status.nullif("").coalesce(FINISHED),
        administrative_category=apc.administrative_category.lpad(2, "0"),
    )
    # two episodes both sent with order 99 may start on the same day: their ids tell them apart
    e = deduplicate(
        e,
        "apc_episodes",
        loads,
        prefer=[e.episode_status == FINISHED],
        extra_key={"_k99": ibis.ifelse(e.episode_order == 99, e.episode_id, "")},
    )
    dates = ("admission_date", "discharge_date", "episode_start", "episode_end")
    e = e.mutate(**{d: clean_date(e[d]) for d in dates})
    e = e.mutate(
        **{d: ibis.ifelse(e[d] > window.extract_date, ibis.null("date"), e[d]) for d in dates}
    )
    return e


# what a provider spell takes from its first episode (with the diagnoses and practice)
FIRST_EPISODE = (
    "admission_method",
    "admission_source",
    "patient_classification",
    "treatment_function_code",
    "administrative_category",
    "commissioner_code",
)
SECONDARY_DIAGNOSES = [
    f"diag_{i:02d}" for i in range(2, 21)
]  # the first episode's, for programme budgeting


def _first(t, keys, order):
    w = ibis.window(group_by=[t[k] for k in keys], order_by=order)
    return t.mutate(_r=ibis.row_number().over(w)).filter(ibis._._r == 0).drop("_r")


def _episode_order(e, descending=False):
    """The methodology's episode order within a spell (v2): episode start, episode order,
    episode end, episode key."""
    cols = [e.episode_start, e.episode_order, e.episode_end, e.episode_id]
    return [ibis.desc(c) for c in cols] if descending else cols


def provider_spells(episodes, refs, window: Window):
    """One row per provider spell, from finished episodes only, costed, with its point of delivery
    and who pays (``funder``: ``icb``, ``nhse`` for NHS England-commissioned activity, ``private``)."""
    e = episodes.filter(episodes.episode_status == FINISHED)
    key = ["provider_code", "spell_id"]
    agg = e.group_by(key).aggregate(
        person_id=e.person_id.max(),
        admission_date=e.admission_date.min().coalesce(e.episode_start.min()),
        discharge_date=e.discharge_date.max(),
        episodes=e.count(),
        died=(e.discharge_method == DIED).any(),
    )
    head = _first(e, key, _episode_order(e)).select(
        *key,
        *FIRST_EPISODE,
        *[c for c in SECONDARY_DIAGNOSES if c in e.columns],
        primary_diagnosis=e.diag_01,
        practice_code=e.practice_code,
    )
    tail = _first(e, key, _episode_order(e, descending=True)).select(
        *key,
        "discharge_method",
        "discharge_destination",
    )
    withproc = e.filter(e.opertn_01.notnull())
    proc = _first(withproc, key, _episode_order(withproc)).select(
        *key, dominant_procedure=withproc.opertn_01
    )
    s = agg.join(head, key).join(tail, key).left_join(proc, key)
    s = drop_right(s)
    dis_ok = (
        s.discharge_date.notnull()
        & s.admission_date.notnull()
        & (s.discharge_date >= s.admission_date)
    )
    s = s.mutate(discharge_date=ibis.ifelse(dis_ok, s.discharge_date, ibis.null("date")))
    los = s.discharge_date.delta(s.admission_date, unit="day").cast("int64")
    elective = s.admission_method.isin(ELECTIVE)
    pod = ibis.cases(
        (s.patient_classification.isin(REGULAR_ATTENDER), "RDN"),
        (elective & (s.patient_classification == "2"), "DC"),
        (elective, "EL"),
        # an open spell (still in hospital) by its length of stay so far, to the extract date
        (
            s.admission_date.notnull()
            & (
                los.coalesce(
                    ibis.literal(window.extract_date)
                    .delta(s.admission_date, unit="day")
                    .cast("int64")
                )
                <= 1
            ),
            "NES",
        ),
        (s.admission_date.isnull(), "NES"),
        else_="NEL",
    )
    s = s.mutate(
        los_days=los, pod=pod, funder=funder(s.administrative_category, s.commissioner_code)
    )
    # prices of the year the spell ends in (or starts, while open): costing.price_index
    s = s.mutate(
        _level=costing.year_price_level(
            fy_expr(s.discharge_date.coalesce(s.admission_date)), window.years
        )
    )
    # cost each episode at its spell's point of delivery, then excess bed days on the spell
    ec = e.join(s.select(*key, "pod", "_level"), key)
    ec = _cost_episodes(ec, refs)
    w_cost = ibis.window(
        group_by=[ec.provider_code, ec.spell_id], order_by=[ibis.desc(ec.cost), *_episode_order(ec)]
    )
    top = (
        ec.mutate(_r=ibis.row_number().over(w_cost))
        .filter(ibis._._r == 0)
        .select(*key, hrg_code=ibis._.hrg_code)
    )
    costs = ec.group_by(key).aggregate(
        episode_cost=ec.cost.sum(),
        _sources=ec.cost_source.nunique(),
        _source=ec.cost_source.max(),
        _supplied=(ec.cost_source == "supplied").any(),
    )
    s = s.join(costs, key).join(top, key)
    s = drop_right(s)
    s = excess_bed_days(s, refs)
    s = s.mutate(
        cost=(s.episode_cost + s.excess_bed_day_cost).round(2),
        cost_source=ibis.ifelse(s._sources > 1, "mixed", s._source),
    ).drop("_sources", "_source", "_supplied", "episode_cost", "_level")
    activity_date = s.discharge_date.coalesce(s.admission_date)
    return s.mutate(
        admission_type=admission_type(s.admission_method),
        emergency=s.admission_method.isin(EMERGENCY),
        activity_date=activity_date,
        fy=fy_expr(activity_date),
    )


def _cost_episodes(ec, refs):
    j = lookup(
        ec,
        refs["ref_unit_cost"],
        [("pod", "pod"), ("hrg_code", "currency_code")],
        _unit="unit_cost",
    )
    pod_cost = ibis.cases(
        *[
            (j.pod == p, costing.pod_unit_cost(p))
            for p in ("EL", "DC", "RDN", "NES", "NEL")
            if costing.pod_unit_cost(p) is not None
        ],
        else_=ibis.null("float64"),
    )
    cost, source = costing.priced(j.cost, j._unit, pod_cost, costing.default_cost("apc", "APC"))
    year = ibis.cases(
        (source.isin(("ncc_currency", "ncc_pod")), costing.NCC_PRICE_YEAR),
        (source == "default", costing.default_price_year("apc", "APC")),
        else_=ibis.null("int64"),
    )
    return j.select(
        "provider_code",
        "spell_id",
        "episode_order",
        "episode_id",
        "episode_start",
        "episode_end",
        "hrg_code",
        cost=costing.restate(cost, year, j._level),
        cost_source=source,
    )


def excess_bed_days(s, refs):
    """``excess_bed_days`` and ``excess_bed_day_cost`` of each provider spell: days beyond the
    trim point of the spell's HRG (elective trim point for EL, non-elective for NEL; none for day
    cases, short stays and regular attenders) at the per-day rate of ``ref_trim_point``. A spell
    costed wholly from supplied patient-level costs already carries its whole stay: no excess."""
    tp = refs["ref_trim_point"]
    j = lookup(
        s,
        tp,
        [("pod", "pod"), ("hrg_code", "hrg_code")],
        _trim="trim_days",
        _per_day="per_day_cost",
    )
    days = ibis.greatest(j.los_days - j._trim, 0)
    days = ibis.ifelse(j._trim.notnull() & j.los_days.notnull() & ~j._supplied, days, 0).cast(
        "int64"
    )
    per_day = j._per_day.coalesce(0.0) * j._level.coalesce(
        1.0
    )  # a 2024/25 price (UNVERIFIED), restated
    return j.mutate(excess_bed_days=days, excess_bed_day_cost=(days * per_day).round(2)).drop(
        "_trim", "_per_day"
    )


def continuous_spells(pspells, extract_date=None):
    """One row per continuous inpatient spell (transfers between providers joined).

    Rules (NHS Digital, "Methodology to create provider and CIPS spells from HES APC data"): a
    person's provider spells, ordered by admission, discharge, provider and spell, are joined
    when the admission is no more than 2 days after the *latest discharge so far* of the person's
    earlier spells (so a transfer out and back inside a longer stay does not break the chain)
    and the spell holding that discharge ended in a transfer, or this spell was admitted from
    one (source or method). Regular day and night attenders (patient classification 3/4) are
    not linked: each is a CIPS of its own and does not break or extend a chain."""
    s = pspells.mutate(_ra=pspells.patient_classification.isin(REGULAR_ATTENDER).coalesce(False))
    # the group each spell links within: the person (non regular attenders), else the spell
    grp = ibis.ifelse(s._ra | s.person_id.isnull(), -1, s.person_id)
    s = s.mutate(
        _grp=grp,
        _solo=ibis.ifelse(
            s._ra | s.person_id.isnull(), s.provider_code.concat(":", s.spell_id), ""
        ),
    )
    order = [s.admission_date, s.discharge_date, s.provider_code, s.spell_id]
    before = ibis.window(group_by=[s._grp, s._solo], order_by=order, rows=(None, -1))
    # latest discharge so far (an open spell: still in hospital at the extract date), and the
    # destination of the spell holding it: max of "date|transfer?|dest", so that of two spells
    # ending the same day a transfer out wins
    dis = (
        s.discharge_date
        if extract_date is None
        else s.discharge_date.coalesce(ibis.literal(extract_date))
    )
    dest = s.discharge_destination.coalesce("")
    tag = dis.strftime("%Y%m%d").concat(
        "|", ibis.ifelse(dest.isin(TRANSFER_DEST), "1", "0"), "|", dest
    )
    latest = tag.max().over(before)
    latest_dis = dis.max().over(before)
    latest_dest = latest.substr(11)
    not_transfer = (
        (latest_dest == "19") & (s.admission_source == "51") & (s.admission_method == "21")
    )
    linked = (
        ~s._ra
        & s.person_id.notnull()
        & latest.notnull()
        & s.admission_date.notnull()
        & (s.admission_date <= latest_dis + ibis.interval(days=2))
        & (
            latest_dest.isin(TRANSFER_DEST)
            | s.admission_source.isin(TRANSFER_SOURCE)
            | s.admission_method.isin(TRANSFER_METHOD)
        )
        & ~not_transfer.coalesce(False)
    )
    s = s.mutate(_new=ibis.ifelse(linked, 0, 1))
    s = s.mutate(
        _seq=s._new.sum().over(
            ibis.cumulative_window(
                group_by=[s._grp, s._solo],
                order_by=[s.admission_date, s.discharge_date, s.provider_code, s.spell_id],
            )
        )
    )
    s = s.mutate(
        _cips=ibis.ifelse(
            s._solo != "", s._solo, s.person_id.cast("string").concat("#", s._seq.cast("string"))
        )
    )
    first = _first(s, ["_cips"], [s.admission_date, s.discharge_date, s.provider_code, s.spell_id])
    last = _first(
        s,
        ["_cips"],
        [
            ibis.desc(s.discharge_date),
            ibis.desc(s.admission_date),
            ibis.desc(s.provider_code),
            ibis.desc(s.spell_id),
        ],
    )
    costliest = _first(
        s, ["_cips"], [ibis.desc(s.cost), s.admission_date, s.provider_code, s.spell_id]
    )
    withproc = s.filter(s.dominant_procedure.notnull())
    proc = _first(
        withproc, ["_cips"], [withproc.admission_date, withproc.provider_code, withproc.spell_id]
    )
    agg = s.group_by("_cips").aggregate(
        provider_spells=s.count(),
        providers=s.provider_code.nunique(),
        episodes=s.episodes.sum(),
        discharge_date=s.discharge_date.max(),
        open_spells=(s.discharge_date.isnull()).sum(),
        cost=s.cost.sum().round(2),
        excess_bed_days=s.excess_bed_days.sum(),
        _funders=s.funder.nunique(),
        excess_bed_day_cost=s.excess_bed_day_cost.sum().round(2),
        _sources=s.cost_source.nunique(),
        _source=s.cost_source.max(),
        died_in_hospital=s.died.any(),
    )
    out = (
        agg.join(
            first.select(
                "_cips",
                "person_id",
                "provider_code",
                "spell_id",
                "admission_date",
                "admission_method",
                "admission_type",
                "emergency",
                "admission_source",
                "patient_classification",
                "primary_diagnosis",
                "treatment_function_code",
                "practice_code",
                "pod",
                "administrative_category",
                "commissioner_code",
                "funder",
            ),
            "_cips",
        )
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
        discharge_method=ibis.ifelse(
            out.open_spells > 0, ibis.null("string"), out.discharge_method
        ),
        discharge_destination=ibis.ifelse(
            out.open_spells > 0, ibis.null("string"), out.discharge_destination
        ),
        died_in_hospital=out.died_in_hospital,
        practice_code=out.practice_code,
        administrative_category=out.administrative_category,
        commissioner_code=out.commissioner_code,
        funder=ibis.ifelse(out._funders > 1, "mixed", out.funder),
        excess_bed_days=out.excess_bed_days,
        excess_bed_day_cost=out.excess_bed_day_cost,
        cost=out.cost,
        cost_source=ibis.ifelse(out._sources > 1, "mixed", out._source),
        activity_date=activity_date,
        fy=fy_expr(activity_date),
    )
