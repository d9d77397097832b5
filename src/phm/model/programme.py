"""Programme budgeting: which of the 23 programmes of care (and which sub-category) each
costed row belongs to, by the Department of Health's published mapping.

Source: Department of Health, *Programme Budgeting Mappings and Definitions*, the mapping
document of the 2011-12 PCT programme budgeting collection (Crown copyright, OGL v3), sheets
Inpatient Activity, Outpatient Attendances, A&E, Primary Prescribing and Programme Budgeting
Categories, transcribed by ``scripts/pb_mapping.py`` into ``definitions/``. Evidence and what
could not be verified: ``docs/research/programme-budgeting.md``.

Rules, in order, per setting (``programme_rule`` names the one used):

apc          ``icd10_primary_diagnosis``: the spell's primary diagnosis (first episode) by the
             Inpatient Activity sheet (4-character code; a 3-character code as ``<code>X``).
             ``icd10_category``: a code the sheet does not hold (a later ICD-10 edition) takes
             its 3-character category's sub-category when every published code of the
             category has the same one (UNVERIFIED).
             ``icd10_secondary_diagnosis``: when the primary is "2U2 Unclassified" (external
             causes, sequelae, agents: not valid as a primary) or not in the sheet, the first
             secondary diagnosis of that episode the sheet places (UNVERIFIED: the workbook does
             not say how unclassified spells are redistributed; this follows SHMI's practice of
             looking past an invalid primary). ``treatment_function``: then the spell's
             treatment function by the Outpatient Attendances sheet (UNVERIFIED for admitted care).
op           ``treatment_function``: the Outpatient Attendances sheet, with its one published
             split (trauma and orthopaedics 65% musculoskeletal, 35% trauma).
             ``tfc_inpatient_mix``: a generic treatment function the sheet puts in 23X (general
             surgery, ENT, general medicine, paediatrics, geriatrics, therapies) is apportioned by
             the programme mix of the same treatment function's admitted spells in the window
             (UNVERIFIED: early programme budgeting rounds apportioned outpatients by specialty
             in this way; phm could not read the guidance that says so).
ecds         ``ecds_diagnosis``: the diagnosis's ETOS group, taken to the nearest HES A&E
             diagnosis condition (phm judgement, UNVERIFIED), which the A&E sheet maps.
prescribing  ``bnf``: the Primary Prescribing sheet at section, paragraph or chemical level,
             with its published percentage splits; phm's chapter default where the sheet has
             no row (UNVERIFIED).
gp           ``primary_care_gms``: 23A "Other - GMS/PMS expenditure", as the national returns
             place core general practice (not attributable to a condition).
community, mh ``community_currency``, ``mh_team``: phm's maps (UNVERIFIED).
social_care  ``social_care``: 22X social care needs.

A published split (65/35, 70/30, ...) is applied without splitting the row: each row is given
one of the split's sub-categories by a stable pseudo-random number from its person and date
(:func:`apportion`), so over many rows the money divides as published and row counts stay
whole. ``programme_verified`` is false for every row placed by an UNVERIFIED rule or map
row; ``phm build`` reports the money that rests on them.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

from phm import refdata
from phm.model import definitions
from phm.model.common import lookup

UNCLASSIFIED = "2U2"
GMS = "23A"
OTHER = "23X"


def apportion(person_id, day):
    """A number in [0, 1) that is the same on every backend for the same person and date:
    integer arithmetic on the (already keyed, uniformly spread) person id and the day number."""
    days = day.delta(ibis.date(2000, 1, 1), unit="day").cast("int64").coalesce(0)
    pid = person_id.cast("int64").coalesce(0)
    x = ((pid % 99991).abs() * 7919 + (days % 10007).abs() * 104729) % 10000
    return x.cast("float64") / 10000.0


def _intervals(keys: list[str], rows: list[dict], share: str = "share") -> list[dict]:
    """Give each row of a split its [lo, hi) slice of [0, 1); the last slice runs to 2."""
    out, groups = [], {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    for members in groups.values():
        total, lo = sum(float(m[share]) for m in members), 0.0
        for i, m in enumerate(sorted(members, key=lambda m: m["pbc"])):
            hi = lo + float(m[share]) / total
            out.append({**m, "lo": lo, "hi": 2.0 if i == len(members) - 1 else hi})
            lo = hi
    return out


def _bnf_by_chemical() -> tuple[list[dict], list[dict]]:
    """The prescribing map resolved for every chemical substance (9-character BNF code) in
    the shipped BNF: its longest matching prefix's rows, as [lo, hi) slices; and the chapter
    defaults for codes the BNF list does not hold."""
    rows = definitions.programme_bnf().to_pylist()
    by_prefix: dict[str, list[dict]] = {}
    for r in rows:
        by_prefix.setdefault(r["bnf_prefix"], []).append(r)
    out = []
    for chem in sorted(set(refdata.bnf()["chemical_code"].to_pylist())):
        match = next((by_prefix[chem[:n]] for n in (9, 7, 6, 4, 2) if chem[:n] in by_prefix), None)
        if match:
            out += [{**m, "bnf_prefix": chem} for m in match]
    chapters = [r for r in rows if len(r["bnf_prefix"]) == 2]
    return _intervals(["bnf_prefix"], out), chapters


def _categories(icd: pa.Table) -> pa.Table:
    """3-character categories whose every published code has one placed sub-category (the
    sub-category a code of a later ICD-10 edition in that category takes), and the categories
    added since the sheet (:func:`definitions.programme_icd10_later`)."""
    found: dict[str, set[tuple[str, str]]] = {}
    for code, pbc, prog in zip(
        *(icd[c].to_pylist() for c in ("icd10", "pbc", "programme")), strict=True
    ):
        found.setdefault(code[:3], set()).add((pbc, prog))
    one = {k: next(iter(v)) for k, v in sorted(found.items()) if len(v) == 1 and next(iter(v))[1]}
    by_code = {
        c: (p, g)
        for c, p, g in zip(
            *(icd[c].to_pylist() for c in ("icd10", "pbc", "programme")), strict=True
        )
    }
    for r in definitions.programme_icd10_later().to_pylist():
        pbc, prog = by_code[r["like"]]
        if prog:
            one[r["icd3"]] = (pbc, prog)
    return pa.table(
        {
            "icd3": list(one),
            "pbc": [v[0] for v in one.values()],
            "programme": [v[1] for v in one.values()],
        }
    )


def reference_tables() -> dict[str, pa.Table]:
    cats = {r["pbc"]: r["programme"] for r in definitions.pb_categories().to_pylist()}
    icd = definitions.programme_icd10()
    icd_ref = pa.table(
        {
            "icd10": icd["icd10"],
            "pbc": icd["pbc"],
            "programme": pa.array(
                [cats.get(p) or None for p in icd["pbc"].to_pylist()], pa.string()
            ),
        }
    )
    tfc = _intervals(["tfc"], definitions.programme_tfc().to_pylist())
    bnf, chapters = _bnf_by_chemical()
    ecds = definitions.programme_ecds()

    def table(rows, cols):
        return pa.table({c: pa.array([r[c] for r in rows], t) for c, t in cols.items()})

    return {
        "ref_pb_icd10": icd_ref,
        "ref_pb_icd3": _categories(icd_ref),
        "ref_pb_tfc": table(
            tfc,
            {
                "tfc": pa.string(),
                "pbc": pa.string(),
                "programme": pa.string(),
                "lo": pa.float64(),
                "hi": pa.float64(),
                "verified": pa.string(),
            },
        ),
        "ref_pb_bnf": table(
            bnf,
            {
                "bnf_prefix": pa.string(),
                "pbc": pa.string(),
                "programme": pa.string(),
                "lo": pa.float64(),
                "hi": pa.float64(),
                "verified": pa.string(),
            },
        ),
        "ref_pb_bnf_chapter": table(
            chapters,
            {
                "bnf_prefix": pa.string(),
                "pbc": pa.string(),
                "programme": pa.string(),
                "verified": pa.string(),
            },
        ),
        "ref_pb_ecds": pa.table(
            {"snomed_code": ecds["snomed_code"], "pbc": ecds["pbc"], "programme": ecds["programme"]}
        ),
    }


def hes_icd10(code):
    """An ICD-10 code in the sheet's 4-character form: dots and spaces dropped, upper case,
    a 3-character code padded with ``X`` (``'I10'`` -> ``'I10X'``, ``'J44.1'`` -> ``'J441'``)."""
    c = code.upper().replace(".", "").replace(" ", "").substr(0, 4)
    return ibis.ifelse(c.length() == 3, c.concat("X"), c)


SECONDARY = [f"diag_{i:02d}" for i in range(2, 21)]


def _first_secondary(pspells, ref):
    """Per spell, the programme of the first secondary diagnosis the sheet places."""
    key = ["provider_code", "spell_id"]
    parts = [
        pspells.select(*key, _pos=ibis.literal(i, "int64"), _code=hes_icd10(pspells[c]))
        for i, c in enumerate(SECONDARY)
        if c in pspells.columns
    ]
    dx = ibis.union(*parts, distinct=False)
    dx = dx.filter(dx._code.notnull())
    placed = ref.filter(ref.programme.notnull())
    j = dx.join(placed, dx._code == placed.icd10)
    w = ibis.window(group_by=[j.provider_code, j.spell_id], order_by=[j._pos])
    j = j.mutate(_r=ibis.row_number().over(w))
    return j.filter(j._r == 0).select(*key, _spbc=j.pbc, _sprog=j.programme)


def apc(pspells, refs):
    """Provider spells with ``_pbc``, ``_prog``, ``_rule``, ``_verified``."""
    ref = refs["ref_pb_icd10"]
    code = hes_icd10(pspells.primary_diagnosis)
    j = lookup(pspells, ref, [(code, "icd10")], _xpbc="pbc", _xprog="programme")
    j = lookup(
        j,
        refs["ref_pb_icd3"],
        [(hes_icd10(j.primary_diagnosis).substr(0, 3), "icd3")],
        _cpbc="pbc",
        _cprog="programme",
    )
    held = j._xpbc.notnull()  # in the sheet (placed, or 2U2 Unclassified)
    j = j.mutate(
        _ppbc=ibis.ifelse(held, j._xpbc, j._cpbc),
        _pprog=ibis.ifelse(held, j._xprog, j._cprog),
        _by_category=~held & j._cprog.notnull(),
    )
    j = j.left_join(_first_secondary(pspells, ref), ["provider_code", "spell_id"])
    j = j.drop(*[c for c in j.columns if c.endswith("_right")])
    tfc = refs["ref_pb_tfc"]
    tfc1 = tfc.filter(
        tfc.lo == 0
    )  # admitted care: the first sub-category of a split (no apportioning)
    j = lookup(j, tfc1, [("treatment_function_code", "tfc")], _tpbc="pbc", _tprog="programme")
    primary = j._pprog.notnull()
    second = j._sprog.notnull()
    generic = j._tpbc == OTHER
    by_tfc = j._tprog.notnull() & ~generic
    return j.mutate(
        _pbc=ibis.cases((primary, j._ppbc), (second, j._spbc), (by_tfc, j._tpbc), else_=OTHER),
        _prog=ibis.cases(
            (primary, j._pprog), (second, j._sprog), (by_tfc, j._tprog), else_="other"
        ),
        _rule=ibis.cases(
            (primary & j._by_category, "icd10_category"),
            (primary, "icd10_primary_diagnosis"),
            (second, "icd10_secondary_diagnosis"),
            (by_tfc, "treatment_function"),
            else_="unclassified",
        ),
        _verified=primary & ~j._by_category,
    )


def inpatient_mix(placed):
    """Per treatment function, the programme mix (by cost) of the admitted spells their
    diagnosis placed (the output of :func:`apc`), as [lo, hi) slices."""
    a = placed.filter(
        placed._prog.notnull()
        & (placed._prog != "other")
        & placed.treatment_function_code.notnull()
        & placed._rule.isin(
            ("icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis")
        )
    )
    g = a.group_by(tfc=a.treatment_function_code, pbc=a._pbc, programme=a._prog).aggregate(
        c=a.cost.sum().coalesce(0.0) + 0.01
    )  # + 1p: a spell costed at 0 still counts
    cum = ibis.cumulative_window(group_by=g.tfc, order_by=[g.pbc])
    last = ibis.window(group_by=g.tfc, order_by=[ibis.desc(g.pbc)])
    g = g.mutate(
        _cum=g.c.sum().over(cum),
        _tot=g.c.sum().over(ibis.window(group_by=g.tfc)),
        _n=ibis.row_number().over(last),
    )
    return g.select(
        "tfc",
        "pbc",
        "programme",
        lo=(g._cum - g.c) / g._tot,
        hi=ibis.ifelse(g._n == 0, 2.0, g._cum / g._tot),
    )


def by_split(t, ref, key_expr, u, prefix: str):
    """Left-join the row's slice of a split map (``ref``: ``_k`` key, ``pbc``, ``programme``,
    ``lo``, ``hi``, optional ``verified``) on ``key_expr``; adds ``<prefix>pbc``,
    ``<prefix>prog`` and ``<prefix>ver`` (``'yes'``/``'no'``, null when unmatched)."""
    ver = ref.verified if "verified" in ref.columns else ibis.literal("no")
    r = ref.select(
        _k=ref[ref.columns[0]], _rp=ref.pbc, _rg=ref.programme, _lo=ref.lo, _hi=ref.hi, _rv=ver
    )
    j = t.mutate(_key=key_expr, _u=u)
    out = j.left_join(r, (j._key == r._k) & (j._u >= r._lo) & (j._u < r._hi))
    return out.select(
        *t.columns, **{f"{prefix}pbc": out._rp, f"{prefix}prog": out._rg, f"{prefix}ver": out._rv}
    )


def x_category(programme_id):
    """The ``X`` (general) sub-category of a programme id: ``'circulation'`` -> ``'10X'``."""
    cases = [
        (programme_id == r["id"], r["code"] + "X") for r in definitions.programmes().to_pylist()
    ]
    return ibis.cases(*cases, else_=ibis.null("string"))
