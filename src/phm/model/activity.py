"""One costed row per contact in every setting, with a programme of care.

Settings and what one row is:

======== ============================================================ ==========================
setting  one row                                                      programme of care from
======== ============================================================ ==========================
apc      provider spell (episodes costed and summed, :mod:`.spells`)  diagnoses (ICD-10)
op       outpatient appointment                                       treatment function
ecds     emergency care attendance                                    ECDS diagnosis (SNOMED CT)
community community care contact                                      NCC community currency
mh       mental health contact or inpatient bed day                   team type
gp       general practice appointment                                 23A GMS/PMS
prescribing  person x month x BNF presentation                        BNF section to chemical
social_care  service episode x financial year it overlaps             social care needs
======== ============================================================ ==========================

The rules are the Department of Health's programme budgeting mapping (:mod:`.programme`);
``pbc`` holds the sub-category (``'10A'``), ``programme_rule`` the rule that placed the row
and ``programme_verified`` whether that rule and map row are the published ones. A row whose
code is missing or not in the map gets programme ``other`` with rule ``unmapped``. Costs follow
:mod:`.costing`. Social care services are split at financial-year boundaries: weekly cost
x days in the year / 7, so each year carries its own spend.

``funder`` says who pays (:mod:`.funding`): ``icb``, ``nhse`` (NHS England-commissioned) or
``private``. Only the admitted care contract carries a commissioner so far, so outpatient,
A&E and other NHS England-commissioned activity still counts as ICB spend (a known gap).

Rows that cannot be attributed to a person in the spine within the analysis window go to
``activity_unlinked`` with a reason, so that raw rows = activity rows + unlinked rows
(social care: services) and every pound is accounted for.
"""

from __future__ import annotations

import ibis

from phm.model import costing, programme
from phm.model.common import Window, clean_date, deduplicate, fy_expr, lookup

COLUMNS = {
    "activity_id": "string",
    "person_id": "int64",
    "setting": "string",
    "activity_date": "date",
    "fy": "int64",
    "provider_code": "string",
    "practice_code": "string",
    "pod": "string",
    "currency_code": "string",
    "code_system": "string",
    "code": "string",
    "emergency": "boolean",
    "attended": "boolean",
    "quantity": "float64",
    "cost": "float64",
    "cost_source": "string",
    "programme": "string",
    "programme_rule": "string",
    "funder": "string",
    "price_basis": "string",
    "pbc": "string",
    "programme_verified": "boolean",
}
SETTINGS = ("apc", "op", "ecds", "community", "mh", "gp", "prescribing", "social_care")
OP_ATTENDED = ("5", "6")
OP_FIRST = ("1", "3")


CODE_SYSTEMS = ("ICD10", "TFC", "SNOMED", "NCC", "MHSDS team", "GPAD", "BNF", "ASC service")
PROGRAMME_RULES = (
    "icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis", "treatment_function",
    "unclassified", "tfc_inpatient_mix", "unmapped", "ecds_diagnosis", "community_currency", "mh_team",
    "mh_setting", "primary_care_gms", "bnf", "social_care", "in_progress",
)  # fmt: skip


def value_sets(window: Window) -> dict[str, list[str]]:
    """Every value the low-cardinality columns of ``activity`` can hold. They are phm's own
    labels (never passed through from an extract), so the warehouse can store them as
    categories (DuckDB ENUMs: writing 77M rows of nine such columns as plain strings took
    44 s, as ENUMs 10 s). ``tests/model/test_build.py`` checks the build's values are in them."""
    from phm.model import definitions
    from phm.model.funding import FUNDERS

    programmes = definitions.programmes().to_pylist()
    pbc = {r["pbc"] for r in definitions.pb_categories().to_pylist()}
    pbc |= {r["code"] + "X" for r in programmes} | {programme.GMS, programme.OTHER}
    pbc.add("")  # prescribing map rows that name a programme but no sub-category
    pods = set(costing.POD_DEPARTMENT) | set(costing.setting_costs()["pod"].to_pylist())
    sets = {
        "setting": SETTINGS,
        "pod": pods | {"OPFA", "OPFUP", "RX", "ASC"},
        "code_system": CODE_SYSTEMS,
        "cost_source": (*costing.SOURCES, "mixed", "outside_window", "in_progress", "other_maternity_event"),
        "programme": {r["id"] for r in programmes} | {"other", "social_care_needs", "mental_health"},
        "programme_rule": PROGRAMME_RULES,
        "funder": (*FUNDERS, "mixed"),
        "price_basis": costing.price_index(window.years)["price_basis"].to_pylist(),
        "pbc": pbc,
    }
    return {k: sorted(set(v)) for k, v in sets.items()}


def _row(t, **cols):
    out = {}
    for name, typ in COLUMNS.items():
        v = cols.get(name)
        if name == "funder" and v is None:
            v = "icb"  # settings without a commissioner field: ICB-commissioned (phm.model.funding)
        out[name] = (
            ibis.null(typ)
            if v is None
            else (v.cast(typ) if not isinstance(v, str) else ibis.literal(v, typ))
        )
    return t.select(**out)


def _id(prefix: str, col):
    return ibis.literal(prefix + ":").concat(col.cast("string"))


def _line_id(prefix: str, t):
    return ibis.literal(prefix + ":").concat(t._source, ":", t._line.cast("string"))


def _units(refs, pod: str):
    u = refs["ref_unit_cost"]
    return u.filter(u.pod == pod)


def _mapped(prog, rule: str, fallback: str = "other", fallback_rule: str = "unmapped"):
    return prog.coalesce(fallback), ibis.ifelse(prog.notnull(), rule, fallback_rule)


def apc_rows(placed):
    """``placed``: provider spells with their programme (:func:`.programme.apc`)."""
    j = placed
    return _row(
        j,
        activity_id=_id("apc", j.provider_code.concat(":", j.spell_id)),
        person_id=j.person_id,
        setting="apc",
        activity_date=j.activity_date,
        fy=j.fy,
        provider_code=j.provider_code,
        practice_code=j.practice_code,
        pod=j.pod,
        currency_code=j.hrg_code,
        code_system=ibis.literal("ICD10"),
        code=j.primary_diagnosis,
        emergency=j.emergency,
        attended=ibis.literal(True),
        quantity=j.episodes,
        cost=j.cost,
        cost_source=j.cost_source,
        programme=j._prog,
        programme_rule=j._rule,
        funder=j.funder,
        pbc=j._pbc,
        programme_verified=j._verified,
    )


def _kept(t, keep, date):
    """``t`` filtered by ``keep(t, date column name)`` (see :func:`activity_by_setting`), or whole."""
    return t if keep is None else keep(t, date.get_name())


def op_rows(op, refs, window: Window, mix=None, keep=None):
    """``mix``: the admitted programme mix per treatment function (:func:`.programme.inpatient_mix`);
    without it a generic treatment function stays in 23X."""
    o = deduplicate(op, "op_attendances", refs.get("load_order"))
    o = o.mutate(
        appointment_date=_in_window_date(clean_date(o.appointment_date), window),
        _attended=o.attendance_status.isin(OP_ATTENDED),
    )
    o = _kept(o, keep, o.appointment_date)
    j = lookup(o, _units(refs, "OPPROC"), [("hrg_code", "currency_code")], _unit="unit_cost")
    u = programme.apportion(j.person_id, j.appointment_date)
    j = programme.by_split(j, refs["ref_pb_tfc"], j.treatment_function_code, u, "_t")
    if mix is None:
        tfc = refs["ref_pb_tfc"]
        mix = tfc.filter(tfc.lo > 9)  # none
    j = programme.by_split(j, mix, j.treatment_function_code, u, "_m")
    generic = (j._tpbc == programme.OTHER) & j._mpbc.notnull()
    first = j.first_attendance.isin(OP_FIRST)
    default = ibis.ifelse(
        first, costing.default_cost("op", "OPFA"), costing.default_cost("op", "OPFUP")
    )
    cost, source = costing.priced(j.cost, j._unit, None, default, attended=j._attended)
    pod = ibis.cases((j._unit.notnull(), "OPPROC"), (first, "OPFA"), else_="OPFUP")
    prog = ibis.cases((generic, j._mprog), else_=j._tprog.coalesce("other"))
    rule = ibis.cases(
        (generic, "tfc_inpatient_mix"), (j._tprog.notnull(), "treatment_function"), else_="unmapped"
    )
    pbc = ibis.cases((generic, j._mpbc), else_=j._tpbc.coalesce(programme.OTHER))
    return _row(
        j,
        activity_id=_id("op", j.provider_code.concat(":", j.attendance_id)),
        person_id=j.person_id,
        setting="op",
        activity_date=j.appointment_date,
        fy=fy_expr(j.appointment_date),
        provider_code=j.provider_code,
        practice_code=j.practice_code,
        pod=pod,
        currency_code=j.hrg_code,
        code_system=ibis.literal("TFC"),
        code=j.treatment_function_code,
        emergency=ibis.literal(False),
        attended=j._attended,
        quantity=ibis.literal(1.0),
        cost=cost,
        cost_source=source,
        programme=prog,
        programme_rule=rule,
        pbc=pbc,
        programme_verified=~generic & (j._tver == "yes").coalesce(False),
    )


def ecds_rows(ecds, refs, window: Window, keep=None):
    a = deduplicate(ecds, "ecds_attendances", refs.get("load_order"))
    a = a.mutate(_day=_in_window_date(a.arrival_time.date(), window))
    a = _kept(a, keep, a._day)
    j = lookup(a, _units(refs, "AE"), [("hrg_code", "currency_code")], _unit="unit_cost")
    j = lookup(
        j, refs["ref_pb_ecds"], [("diagnosis_snomed", "snomed_code")], _prog="programme", _pbc="pbc"
    )
    cost, source = costing.priced(
        j.cost, j._unit, costing.pod_unit_cost("AE"), costing.default_cost("ecds", "AE")
    )
    prog, rule = _mapped(j._prog, "ecds_diagnosis")
    return _row(
        j,
        activity_id=_id("ecds", j.provider_code.concat(":", j.attendance_id)),
        person_id=j.person_id,
        setting="ecds",
        activity_date=j._day,
        fy=fy_expr(j._day),
        provider_code=j.provider_code,
        practice_code=j.practice_code,
        pod=ibis.literal("AE"),
        currency_code=j.hrg_code,
        code_system=ibis.literal("SNOMED"),
        code=j.diagnosis_snomed,
        emergency=ibis.literal(True),
        attended=ibis.literal(True),
        quantity=ibis.literal(1.0),
        cost=cost,
        cost_source=source,
        programme=prog,
        programme_rule=rule,
        pbc=j._pbc.coalesce(programme.OTHER),
        programme_verified=ibis.literal(False),
    )


def community_rows(cc, refs, window: Window, keep=None):
    c = deduplicate(cc, "community_contacts", refs.get("load_order"))
    c = c.mutate(contact_date=_in_window_date(clean_date(c.contact_date), window))
    c = _kept(c, keep, c.contact_date)
    j = lookup(c, _units(refs, "CHS"), [("service_type", "currency_code")], _unit="unit_cost")
    j = lookup(
        j, refs["ref_programme_community"], [("service_type", "currency")], _prog="programme"
    )
    cost, source = costing.priced(
        j.cost, j._unit, costing.pod_unit_cost("CHS"), costing.default_cost("community", "CHS")
    )
    prog, rule = _mapped(j._prog, "community_currency")
    return _row(
        j,
        activity_id=_id("community", j.provider_code.concat(":", j.contact_id)),
        person_id=j.person_id,
        setting="community",
        activity_date=j.contact_date,
        fy=fy_expr(j.contact_date),
        provider_code=j.provider_code,
        pod=ibis.literal("CHS"),
        currency_code=j.service_type,
        code_system=ibis.literal("NCC"),
        code=j.service_type,
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=ibis.literal(1.0),
        cost=cost,
        cost_source=source,
        programme=prog,
        programme_rule=rule,
        pbc=programme.x_category(prog),
        programme_verified=ibis.literal(False),
    )


def mh_rows(mh, refs, window: Window, keep=None):
    c = deduplicate(mh, "mh_contacts", refs.get("load_order"))
    c = c.mutate(contact_date=_in_window_date(clean_date(c.contact_date), window))
    c = _kept(c, keep, c.contact_date)
    bed = c.inpatient.coalesce(False) | (c.contact_type == "bed_day")
    # a bed day is costed on its ward type when the row gives an NCC provider spell currency
    # (e.g. 200MHPS acute adult, 201MHPS older adult), else at the unknown-cluster currency
    ward = ibis.ifelse(
        c.team_type.re_search(r"^[0-9]{3}MHPS$").coalesce(False),
        c.team_type,
        ibis.literal(costing.MH_BED_DAY_CURRENCY),
    )
    c = c.mutate(_pod=ibis.ifelse(bed, "MHBD", "MHCC"), _cur=ibis.ifelse(bed, ward, c.team_type))
    j = lookup(
        c, refs["ref_unit_cost"], [("_pod", "pod"), ("_cur", "currency_code")], _unit="unit_cost"
    )
    j = lookup(j, refs["ref_programme_mh"], [("team_type", "team")], _prog="programme")
    is_bed = j._pod == "MHBD"
    pod_cost = ibis.ifelse(is_bed, costing.pod_unit_cost("MHBD"), costing.pod_unit_cost("MHCC"))
    default = ibis.ifelse(
        is_bed, costing.default_cost("mh", "MHBD"), costing.default_cost("mh", "MHCC")
    )
    cost, source = costing.priced(j.cost, j._unit, pod_cost, default)
    prog, rule = _mapped(j._prog, "mh_team", "mental_health", "mh_setting")
    return _row(
        j,
        activity_id=_id("mh", j.provider_code.concat(":", j.contact_id)),
        person_id=j.person_id,
        setting="mh",
        activity_date=j.contact_date,
        fy=fy_expr(j.contact_date),
        provider_code=j.provider_code,
        pod=j._pod,
        currency_code=j._cur,
        code_system=ibis.literal("MHSDS team"),
        code=j.team_type,
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=ibis.literal(1.0),
        cost=cost,
        cost_source=source,
        programme=prog,
        programme_rule=rule,
        pbc=programme.x_category(prog),
        programme_verified=ibis.literal(False),
    )


def gp_pod(hcp_type, mode):
    """The costing class of a GP appointment (``setting_costs.csv``): staff type (GP or other
    practice staff) x mode (face to face, remote: telephone or video/online, home visit);
    ``GPAPPT`` when either is unknown. Values as in NHS Digital's Appointments in General Practice."""
    staff = ibis.cases(
        (hcp_type.upper() == "GP", "GP"),
        (hcp_type.lower().isin(("other practice staff", "other")), "OPS"),
        else_=ibis.null("string"),
    )
    m = mode.lower()
    how = ibis.cases(
        (m == "face-to-face", "F2F"),
        (m.isin(("telephone", "video conference/online", "video")), "REMOTE"),
        (m == "home visit", "HOME"),
        else_=ibis.null("string"),
    )
    return staff.concat("_", how).coalesce("GPAPPT")


def gp_rows(gp, window: Window, keep=None):
    g = gp.mutate(appointment_date=_in_window_date(clean_date(gp.appointment_date), window))
    g = _kept(g, keep, g.appointment_date)
    j = g.mutate(
        _att=(g.appointment_status != "DNA").coalesce(True),
        _pod=gp_pod(g.hcp_type, g.appointment_mode),
    )
    unit = ibis.cases(
        *[(j._pod == pod, costing.default_cost("gp", pod)) for pod in costing.gp_pods()],
        else_=costing.default_cost("gp", "GPAPPT"),
    )
    cost, source = costing.priced(ibis.null("float64"), None, None, unit, attended=j._att)
    return _row(
        j,
        activity_id=_line_id("gp", j),
        person_id=j.person_id,
        setting="gp",
        activity_date=j.appointment_date,
        fy=fy_expr(j.appointment_date),
        provider_code=j.practice_code,
        practice_code=j.practice_code,
        pod=j._pod,
        code_system=ibis.literal("GPAD"),
        code=j.hcp_type,
        emergency=ibis.literal(False),
        attended=j._att,
        quantity=ibis.literal(1.0),
        cost=cost,
        cost_source=source,
        programme=ibis.literal("other"),
        programme_rule=ibis.literal("primary_care_gms"),
        pbc=ibis.literal(programme.GMS),
        programme_verified=ibis.literal(True),
    )


def prescribing_rows(rx, refs, window: Window, keep=None):
    p = rx.mutate(month=_in_window_date(clean_date(rx.month), window))
    p = _kept(p, keep, p.month)
    u = programme.apportion(p.person_id, p.month)
    j = programme.by_split(p, refs["ref_pb_bnf"], p.bnf_code.substr(0, 9), u, "_s")
    ch = refs["ref_pb_bnf_chapter"]
    j = lookup(j, ch, [(j.bnf_code.substr(0, 2), "bnf_prefix")], _cprog="programme")
    found = j._sprog.coalesce(j._cprog)
    default = costing.default_cost("prescribing", "RX") * j["items"].cast("float64")
    cost, source = costing.priced(j.net_ingredient_cost, None, None, default)
    prog, rule = _mapped(found, "bnf")
    return _row(
        j,
        activity_id=_line_id("rx", j),
        person_id=j.person_id,
        setting="prescribing",
        activity_date=j.month,
        fy=fy_expr(j.month),
        provider_code=j.practice_code,
        practice_code=j.practice_code,
        pod=ibis.literal("RX"),
        code_system=ibis.literal("BNF"),
        code=j.bnf_code,
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=j["items"],
        cost=cost,
        cost_source=source,
        programme=prog,
        programme_rule=rule,
        pbc=j._spbc.coalesce(programme.x_category(prog)),
        programme_verified=(j._sver == "yes").coalesce(False),
    )


def social_care_rows(sc, refs, window: Window):
    """Services split by financial year; ``(in_window, outside)``: the second has one row per
    service that overlaps no year of the window."""
    s = deduplicate(sc, "social_care", refs.get("load_order"))
    start = clean_date(s.start_date)
    end = clean_date(s.end_date)
    end = ibis.ifelse(end.isnull() | (end > window.end), ibis.literal(window.end), end)
    end = ibis.ifelse(
        start.notnull() & (end < start), start, end
    )  # an end before the start: one day
    s = s.mutate(_start=start, _end=end)
    fy = refs["ref_fy"]
    j = s.join(fy, (s._start <= fy.fy_end) & (s._end >= fy.fy_start))
    j = j.mutate(
        _days=(
            ibis.least(j._end, j.fy_end).delta(ibis.greatest(j._start, j.fy_start), unit="day") + 1
        ).cast("float64")
    )
    weekly = ibis.cases(
        *[
            (j.service_type == st, costing.default_cost("social_care", st))
            for st in costing.social_care_types()
        ],
        else_=costing.default_cost("social_care", "ASC"),
    )
    ok = j.weekly_cost.notnull() & (j.weekly_cost >= 0)
    cost = (ibis.ifelse(ok, j.weekly_cost, weekly) * j._days / 7).round(2)
    rows = _row(
        j,
        activity_id=_id(
            "social_care", j.la_code.concat(":", j.service_id, ":", j.fy.cast("string"))
        ),
        person_id=j.person_id,
        setting="social_care",
        activity_date=ibis.greatest(j._start, j.fy_start),
        fy=j.fy,
        provider_code=j.la_code,
        pod=ibis.literal("ASC"),
        code_system=ibis.literal("ASC service"),
        code=j.service_type,
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=j._days / 7,
        cost=cost,
        cost_source=ibis.ifelse(ok, "supplied", "default"),
        programme=ibis.literal("social_care_needs"),
        programme_rule=ibis.literal("social_care"),
        pbc=ibis.literal("22X"),
        programme_verified=ibis.literal(True),
    )
    placed = j.select("la_code", "service_id").distinct()
    outside = s.anti_join(placed, ["la_code", "service_id"])
    out_rows = _row(
        outside,
        activity_id=_id("social_care", outside.la_code.concat(":", outside.service_id)),
        person_id=outside.person_id,
        setting="social_care",
        activity_date=outside._start,
        fy=fy_expr(outside._start),
        provider_code=outside.la_code,
        pod=ibis.literal("ASC"),
        code_system=ibis.literal("ASC service"),
        code=outside.service_type,
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=ibis.literal(0.0),
        cost=ibis.literal(0.0),
        cost_source=ibis.literal("outside_window"),
        programme=ibis.literal("social_care_needs"),
        programme_rule=ibis.literal("social_care"),
        pbc=ibis.literal("22X"),
        programme_verified=ibis.literal(True),
    )
    return rows, out_rows


def _in_window_date(d, window: Window):
    """A date after the extract date is not a real activity date."""
    return ibis.ifelse(d > window.extract_date, ibis.null("date"), d)


def activity_by_setting(raw, pspells, refs, window: Window, keep=None) -> list:
    """Every setting's rows, before linkage, as one expression per setting (social care's two
    kinds of row together). ``raw`` maps dataset names to Ibis tables.
    ``keep(rows, date_column)``, if given, filters each setting's rows as soon as their date is
    known, before they are costed and placed (:func:`may_be_unlinked` keeps only the few rows
    ``activity_unlinked`` needs, instead of costing every row again); :func:`split_linked`
    still decides. Social care services are kept whole (their years come from the split).
    The build writes the settings one query each: as one
    union DuckDB planned the whole 3,000,000-person activity 27% slower than its settings one by
    one (157 s against 115 s), and the few rows of ``activity_unlinked`` three times slower
    (87 s against 32 s)."""
    sc_in, sc_out = social_care_rows(raw["social_care"], refs, window)
    placed = programme.apc(pspells, refs)
    parts = [
        apc_rows(_kept(placed, keep, placed.activity_date)),
        op_rows(raw["op_attendances"], refs, window, programme.inpatient_mix(placed), keep),
        ecds_rows(raw["ecds_attendances"], refs, window, keep),
        community_rows(raw["community_contacts"], refs, window, keep),
        mh_rows(raw["mh_contacts"], refs, window, keep),
        gp_rows(raw["gp_appointments"], window, keep),
        prescribing_rows(raw["prescriptions"], refs, window, keep),
        ibis.union(sc_in, sc_out, distinct=False),
    ]
    return [at_year_prices(p, window) for p in parts]


def at_year_prices(rows, window: Window):
    """Every reference cost restated to the prices of the year the activity happened in, and
    ``price_basis`` saying so (:func:`.costing.price_index`). NCC unit costs are 2024/25 prices;
    a setting default is in its own ``price_year``; supplied costs stay as sent; admitted care
    arrives already restated (:mod:`.spells`)."""
    j = rows.mutate(
        _level=costing.year_price_level(rows.fy, window.years),
        _basis=costing.year_price_basis(rows.fy, window.years),
    )
    default_year = ibis.cases(
        *[(j.setting == s, costing.default_price_year(s, p)) for s, p in DEFAULT_POD.items()],
        else_=ibis.null("int64"),
    )
    year = ibis.cases(
        (j.setting == "apc", ibis.null("int64")),
        (j.cost_source.isin(("ncc_currency", "ncc_pod")), costing.NCC_PRICE_YEAR),
        (j.cost_source == "default", default_year),
        else_=ibis.null("int64"),
    )
    return j.mutate(cost=costing.restate(j.cost, year, j._level), price_basis=j._basis).drop(
        "_level", "_basis"
    )


# The default each setting falls back to (all of a setting's defaults share one price year).
DEFAULT_POD = {
    "op": "OPFA",
    "ecds": "AE",
    "community": "CHS",
    "mh": "MHCC",
    "gp": "GPAPPT",
    "prescribing": "RX",
    "social_care": "ASC",
}


def _one_price_year_per_setting() -> None:
    t = costing.setting_costs().to_pydict()
    years: dict[str, set[int]] = {}
    for setting, year in zip(t["setting"], t["price_year"], strict=True):
        years.setdefault(setting, set()).add(year)
    mixed = {k: v for k, v in years.items() if len(v) > 1}
    if mixed:
        raise ValueError(
            f"setting_costs.csv: each setting's defaults must share one price_year, not {mixed}"
        )


_one_price_year_per_setting()


IN_PROGRESS = "spell in progress: no finished episode"
OTHER_MATERNITY = "other maternity event (episode status 9): not a spell"


def in_progress_rows(episodes):
    """Provider spells sent without a finished episode: still in hospital at the extract
    (unfinished, EPISTAT 1) or other maternity events (EPISTAT 9 only). Not a spell by the NHS
    Digital method (finished episodes only, :mod:`.spells`), so not costed, but accounted for
    in ``activity_unlinked`` with their reason, cost 0."""
    e = episodes
    g = e.group_by(["provider_code", "spell_id"]).aggregate(
        person_id=e.person_id.max(),
        practice_code=e.practice_code.max(),
        activity_date=e.admission_date.min(),
        episodes=e.count(),
        _finished=(e.episode_status == "3").sum(),
        _other=(e.episode_status == "9").all(),
    )
    g = g.filter(g._finished == 0)
    other = g._other.coalesce(False)
    rows = _row(
        g,
        activity_id=_id("apc", g.provider_code.concat(":", g.spell_id)),
        person_id=g.person_id,
        setting="apc",
        activity_date=g.activity_date,
        fy=fy_expr(g.activity_date),
        provider_code=g.provider_code,
        practice_code=g.practice_code,
        code_system=ibis.literal("ICD10"),
        emergency=ibis.literal(False),
        attended=ibis.literal(True),
        quantity=g.episodes,
        cost=ibis.literal(0.0),
        cost_source=ibis.ifelse(other, "other_maternity_event", "in_progress"),
        programme=ibis.literal("other"),
        programme_rule=ibis.literal("in_progress"),
        pbc=ibis.literal(programme.OTHER),
        programme_verified=ibis.literal(False),
    )
    return rows.mutate(
        unlinked_reason=ibis.ifelse(rows.cost_source == "in_progress", IN_PROGRESS, OTHER_MATERNITY)
    )


def may_be_unlinked(person, window: Window):
    """A ``keep`` for :func:`activity_by_setting`: rows that :func:`split_linked` may set apart (no
    person_id, not on the spine, no date, or dated outside the window).

    "Not on the spine" is a left join, not ``NOT IN``: Spark plans ``NOT IN (subquery)`` as a
    null-aware anti join, a nested loop over every row and every person (229 of a 20,000-person
    build's 389 seconds); a join is a hash join on both engines."""
    spine = person.select(_spine_pid=person.person_id)

    def keep(t, date: str):
        j = t.left_join(spine, t.person_id == spine._spine_pid)
        d = j[date]
        fy = fy_expr(d)
        away = (j.person_id.isnull() | j._spine_pid.isnull() | d.isnull() | (fy < window.first)
                | (fy > window.last)).coalesce(True)
        return j.filter(away).drop("_spine_pid")

    return keep


def split_linked(rows, person, window: Window):
    """``(activity, unlinked)``: rows of spine persons dated in the window, and the rest with a reason."""
    spine = person.select(_pid=person.person_id)
    j = rows.left_join(spine, rows.person_id == spine._pid)
    reason = ibis.cases(
        (j.person_id.isnull(), "no valid NHS number"),
        (j._pid.isnull(), "person not on the registered list"),
        (j.activity_date.isnull(), "no valid activity date"),
        ((j.fy < window.first) | (j.fy > window.last), "outside the analysis window"),
        else_=ibis.null("string"),
    )
    j = j.mutate(unlinked_reason=reason).drop("_pid")
    return j.filter(j.unlinked_reason.isnull()).drop("unlinked_reason"), j.filter(
        j.unlinked_reason.notnull()
    )
