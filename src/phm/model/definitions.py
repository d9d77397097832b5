"""Definitions as data: programmes of care, the code maps into them, Charlson and the CMS.

Every definition is a CSV file under ``phm/model/definitions/`` with a ``source`` column that
says where each row comes from and a ``version`` column naming the edition of that source; ``docs/definitions.md`` is generated from the files by
:func:`definitions_markdown` (a test keeps the page in step). Loaders return immutable
:class:`pyarrow.Table` objects and are cached. The maps into the 23 programme budgeting
categories hold the programme ``id`` (``'circulation'``), never its number.

Rules for codes a map does not hold: treatment function, community currency and ECDS code
-> ``other``; mental health team -> ``mental_health``; an ICD-10 code the 2011-12 DH sheet
does not hold (later editions) -> its category's sub-category when every code of the category
shares one, else the spell's secondary diagnoses and treatment function
(:mod:`phm.model.programme`); every BNF chapter is held (tests check this against
:mod:`phm.refdata`).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

DEFINITIONS_DIR = Path(__file__).with_name("definitions")

UNMAPPED_PROGRAMME = "other"  # treatment function, community currency and ECDS codes
UNMAPPED_MH_TEAM_PROGRAMME = "mental_health"

S = pa.string()


def _open(path: Path):
    return (
        gzip.open(path, "rt", encoding="utf-8", newline="")
        if path.suffix == ".gz"
        else path.open(encoding="utf-8", newline="")
    )


def _read(name: str, types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """Every column as text (codes keep leading zeros), except those named in ``types``.
    A ``.csv.gz`` file is read the same way."""
    path = DEFINITIONS_DIR / name
    with _open(path) as fh:
        header = next(csv.reader(fh))
    column_types = {c: S for c in header} | dict(types or {})
    convert = pacsv.ConvertOptions(
        column_types=column_types, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    return pacsv.read_csv(path, convert_options=convert)


@lru_cache(maxsize=1)
def measures() -> pa.Table:
    """The monthly measures (``measure``, ``name``, ``unit``, ``improvement``: increase,
    decrease or neutral) with the rationale and source of each direction."""
    return _read("measures.csv")


CHANGE_POINTS = "spc_change_points.csv"
CHANGE_POINT_COLUMNS = ("measure", "area", "month", "reason", "source", "version")


@lru_cache(maxsize=1)
def change_points() -> pa.Table:
    """Documented SPC change points, from which a chart's limits are recalculated (Making Data
    Count rebasing): ``measure``, ``area`` (an area code, or ``*`` for every area), ``month``
    (YYYY-MM, the first month of the new process), ``reason`` and ``source``. An ICB records
    its own (a new service, a change of coding or counting) in ``definitions/spc_change_points.csv``;
    phm ships none and invents none, so without the file there are none."""
    if not (DEFINITIONS_DIR / CHANGE_POINTS).exists():
        return pa.table({c: pa.array([], S) for c in CHANGE_POINT_COLUMNS})
    return _read(CHANGE_POINTS)


@lru_cache(maxsize=1)
def programmes() -> pa.Table:
    """The 23 programme budgeting categories (PBC): ``code`` (``'01'`` ... ``'23'``), ``id``,
    ``name``, ``source``.

    Source: Department of Health programme budgeting (2003/04 onwards) and NHS England's
    Programme Budgeting Guidance for CCGs 2015/16."""
    return _read("programmes.csv")


@lru_cache(maxsize=1)
def pb_categories() -> pa.Table:
    """The programme budgeting sub-categories: ``pbc`` (``'10A'``), ``programme`` (the
    :func:`programmes` id; empty for ``2U2`` Unclassified), ``name``, ``source``, ``version``.

    Source: DH Programme Budgeting Mappings and Definitions (2011-12 PCT collection), sheet
    Programme Budgeting Categories; 21A, 21B (legacy) and 2U2 from its Inpatient Activity sheet."""
    return _read("pb_categories.csv")


@lru_cache(maxsize=1)
def programme_icd10() -> pa.Table:
    """ICD-10 -> programme budgeting sub-category: ``icd10`` (HES 4-character form, ``'I219'``,
    ``'R10X'``), ``pbc`` (``'10A'``; ``'2U2'`` Unclassified), ``secondary`` (the sheet's
    "* where secondary diagnosis" flag), ``source``, ``version``. 12,426 codes.

    Source: DH Programme Budgeting Mappings and Definitions (2011-12 PCT collection), sheet
    Inpatient Activity ("how the primary diagnosis of an inpatient spell is mapped")."""
    return _read("programme_icd10.csv.gz")


@lru_cache(maxsize=1)
def programme_icd10_later() -> pa.Table:
    """ICD-10 categories added after the 2011-12 DH sheet: ``icd3``, ``like`` (the sheet's code
    whose sub-category it takes), ``name``, ``source``, ``version``, ``note``. phm judgement
    (UNVERIFIED)."""
    return _read("programme_icd10_later.csv")


@lru_cache(maxsize=1)
def programme_tfc() -> pa.Table:
    """Treatment function code -> programme: ``tfc`` (``'320'``), ``name``, ``programme``, ``pbc``,
    ``share`` (a published split has one row per part), ``verified`` (``yes``: the DH sheet),
    ``source``, ``version``, ``note``. Codes not listed go to ``other`` (:func:`tfc_programme`).

    Source: DH Programme Budgeting Mappings and Definitions (2011-12), sheet Outpatient
    Attendances; treatment functions created since then: phm judgement (UNVERIFIED)."""
    return _read("programme_tfc.csv")


@lru_cache(maxsize=1)
def programme_bnf() -> pa.Table:
    """BNF prefix -> programme: ``bnf_prefix`` (section ``'0209'``, paragraph ``'010901'``,
    sub-paragraph ``'0503021'`` or chemical substance ``'040702040'``; a chapter ``'02'`` is a
    phm default), ``name``, ``programme``, ``pbc``, ``share`` (published splits, one row per
    part), ``verified``, ``source``, ``version``, ``note``. The longest matching prefix wins
    (:func:`bnf_programme`).

    Source: DH Programme Budgeting Mappings and Definitions (2011-12), sheet Primary
    Prescribing; chemical names resolved to codes with the NHSBSA BNF list (2024-11-01)."""
    return _read("programme_bnf.csv")


@lru_cache(maxsize=1)
def programme_community() -> pa.Table:
    """Community health services currency prefix -> programme: ``currency_prefix``
    (``'N15'``), ``name``, ``programme``, ``source``, ``note``. The longest matching prefix
    wins; unmatched currencies go to ``other`` (:func:`community_programme`).

    Source: National Cost Collection 2024/25 community currencies; programme by phm."""
    return _read("programme_community.csv")


@lru_cache(maxsize=1)
def programme_mh_team() -> pa.Table:
    """Mental health team type or currency -> programme: ``code`` (MHSDS service or team
    type ``'A06'``, provider spell ``'200MHPS'``, Talking Therapies ``'02IAPT'``, or phm's
    inpatient pseudo-team ``'IP'``), ``name``, ``programme``, ``source``, ``note``.
    Unlisted codes go to ``mental_health`` (:func:`mh_team_programme`).

    Source: National Cost Collection 2024/25 mental health currencies; programme by phm."""
    return _read("programme_mh_team.csv")


@lru_cache(maxsize=1)
def programme_ecds() -> pa.Table:
    """ECDS diagnosis (SNOMED CT) -> programme: ``snomed_code``, ``description``,
    ``ecds_group1``, ``ecds_group2`` (the ETOS diagnosis groups), ``ae_diagnosis`` and
    ``ae_condition`` (the HES A&E diagnosis condition phm takes the group to be), ``pbc``,
    ``programme``, ``verified``, ``source``, ``version``, ``note``. Unlisted codes go to ``other``.

    Source: NHS Digital ECDS ETOS diagnosis groups (a 2021 copy); group -> condition is phm
    judgement (UNVERIFIED); condition -> sub-category: DH Programme Budgeting Mappings and
    Definitions (2011-12), sheet A&E."""
    return _read("programme_ecds.csv")


@lru_cache(maxsize=1)
def charlson_codes() -> pa.Table:
    """Charlson comorbidity ICD-10 codes: ``category``, ``icd10_prefix`` (HES form without
    dots, ``'I21'``, ``'I252'``: a code starting with it belongs to the category),
    ``weight`` (int64), ``hierarchy_group`` (categories sharing one count only the highest
    weight: mild vs moderate/severe liver disease, diabetes without vs with complications,
    any malignancy vs metastatic solid tumour), ``source``.

    Source: Quan et al., Med Care 2005;43:1130-9, Table 1 (ICD-10 coding algorithm);
    weights from Charlson et al., J Chronic Dis 1987;40:373-83."""
    return _read("charlson_quan2005.csv", {"weight": pa.int64()})


@lru_cache(maxsize=1)
def hfrs_points() -> pa.Table:
    """The Hospital Frailty Risk Score: ``icd10_3`` (3-character ICD-10 code), ``description``,
    ``points`` (float64), ``source``. 109 codes.

    Source: Gilbert T et al., Lancet 2018;391:1775-82, supplementary appendix (points awarded
    per ICD-10 code), transcribed; the total of the 109 points (173.2) is checked by a test."""
    return _read("hfrs_gilbert2018.csv", {"points": pa.float64()})


@lru_cache(maxsize=1)
def cms_weights() -> pa.Table:
    """The 20 Cambridge Multimorbidity Score conditions: ``condition``, ``name``, ``weight``
    (float64, general-outcome score), ``phm_condition`` (the :func:`phm.refdata.conditions`
    id that measures it, ``''`` where phm has no code list), ``source``, ``note``.

    Source: Payne et al., CMAJ 2020;192:E107-14. Weights UNVERIFIED against the paper."""
    return _read("cms_conditions.csv", {"weight": pa.float64()})


def _longest_prefix(code: str, prefixes: Mapping[str, str]) -> str | None:
    for n in range(len(code), 0, -1):
        if code[:n] in prefixes:
            return prefixes[code[:n]]
    return None


@lru_cache(maxsize=8)
def _lookup(file: str, key: str, value: str = "programme") -> dict[str, str]:
    """``key`` -> ``value``; where a published split gives a key several rows, the largest part."""
    rows = _read(file).to_pylist()
    rows.sort(key=lambda r: -float(r.get("share") or 1))
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r[key], r[value])
    return out


def icd10_pbc(code: str) -> str | None:
    """Programme budgeting sub-category of an ICD-10 code as a spell's primary diagnosis
    (``'I21.9'``, ``'I219'`` -> ``'10A'``; ``'I10'`` -> the sheet's ``'I10X'``). A code the sheet
    does not hold takes its category's sub-category when all the category's codes share one
    (``'B20'`` -> ``'01A'``, as :mod:`phm.model.programme` does); else ``None``."""
    c = code.strip().upper().replace(".", "")[:4]
    held = _lookup("programme_icd10.csv.gz", "icd10", "pbc")
    found = held.get(c + "X" if len(c) == 3 else c)
    if found is None:
        same = {v for k, v in held.items() if k[:3] == c[:3]}
        later = {r["icd3"]: held[r["like"]] for r in programme_icd10_later().to_pylist()}
        found = same.pop() if len(same) == 1 else later.get(c[:3])
    return found


def bnf_programme(code: str) -> str:
    """Programme of a BNF code of any length (``'0205051R0AAAAAA'`` -> ``'circulation'``).

    Raises ``KeyError`` for a code whose chapter is not in :func:`programme_bnf`."""
    found = _longest_prefix(code.strip(), _lookup("programme_bnf.csv", "bnf_prefix"))
    if found is None:
        raise KeyError(f"no programme for BNF code {code!r}")
    return found


def community_programme(currency: str) -> str:
    """Programme of a community currency (``'N15AF'`` -> ``'endocrine_nutritional_metabolic'``),
    ``'other'`` when no prefix matches."""
    prefixes = _lookup("programme_community.csv", "currency_prefix")
    return _longest_prefix(currency.strip().upper(), prefixes) or UNMAPPED_PROGRAMME


def tfc_programme(tfc: str) -> str:
    """Programme of a treatment function code, ``'other'`` when it is not listed."""
    return _lookup("programme_tfc.csv", "tfc").get(tfc.strip(), UNMAPPED_PROGRAMME)


def mh_team_programme(code: str) -> str:
    """Programme of a mental health team type or currency, ``'mental_health'`` when unlisted."""
    found = _lookup("programme_mh_team.csv", "code")
    return found.get(code.strip().upper(), UNMAPPED_MH_TEAM_PROGRAMME)


def ecds_programme(snomed_code: str) -> str:
    """Programme of an ECDS diagnosis (SNOMED CT), ``'other'`` when it is not listed."""
    return _lookup("programme_ecds.csv", "snomed_code").get(snomed_code.strip(), UNMAPPED_PROGRAMME)


def charlson_score(codes: Iterable[str]) -> int:
    """Charlson index (1987 weights) of one person's ICD-10 codes: the sum over the
    categories any code falls in, a category counted once, and within a hierarchy group
    only the highest weight. Codes may be dotted or HES form (``'I21.9'``, ``'I219'``,
    ``'C61X'``). A reference implementation for tests; the marts compute the same in SQL."""
    rows = charlson_codes().to_pylist()
    found: dict[str, int] = {}
    for raw in codes:
        code = raw.strip().upper().replace(".", "")
        for r in rows:
            if code.startswith(r["icd10_prefix"]):
                group = r["hierarchy_group"]
                found[group] = max(found.get(group, 0), r["weight"])
    return sum(found.values())


# Page sections: file -> (title, what it is for). Files not listed here still get a section.
_SECTIONS = {
    "measures.csv": (
        "Monthly measures and their direction of improvement",
        "The measures of `dash_monthly` and the dashboard's SPC charts (Making Data Count): "
        "`improvement` is `increase`, `decrease` or `neutral` (no direction: neutral colours, no "
        "assurance icon).",
    ),
    "programmes.csv": (
        "Programmes of care",
        "The 23 programme budgeting categories. Maps below hold the `id`.",
    ),
    "pb_categories.csv": (
        "Programme budgeting sub-categories",
        "The DH sub-categories each map below places a row in (`pbc`), and the programme each "
        "rolls up to. `2U2` (Unclassified) is not a programme: an admitted spell whose primary "
        "diagnosis is unclassified is placed by a secondary diagnosis (phm.model.programme).",
    ),
    "programme_icd10.csv.gz": (
        "ICD-10 to programme budgeting sub-category (admitted care)",
        "The DH Inpatient Activity sheet as published: one row per 4-character ICD-10 code (a "
        "3-character code carries an `X`). A spell takes its primary diagnosis's sub-category; "
        "when that is `2U2`, the first secondary diagnosis the sheet places, then the spell's "
        "treatment function (phm.model.programme). Summarised here by sub-category; the file "
        "holds every code.",
    ),
    "programme_icd10_later.csv": (
        "ICD-10 categories added since the DH sheet",
        "Categories introduced by WHO and UK updates after 2011-12, each placed as the sheet's "
        "code it replaced or sits beside (`like`). phm judgement, UNVERIFIED.",
    ),
    "programme_tfc.csv": (
        "Treatment function to programme",
        "Outpatient attendances by treatment function, as the DH Outpatient Attendances sheet "
        "maps them (`verified` yes), with its one split (trauma and orthopaedics 65% "
        "musculoskeletal, 35% trauma). A generic function the sheet puts in 23X is apportioned "
        "by the programme mix of the same function's admitted spells (UNVERIFIED). Functions "
        "created since 2011-12 carry phm's judgement (`verified` no). A function not listed goes "
        "to `other`.",
    ),
    "programme_bnf.csv": (
        "BNF to programme",
        "The DH Primary Prescribing sheet at section, paragraph, sub-paragraph or chemical "
        "substance level (the longest matching prefix wins), with its published percentage "
        "splits as one row per part (`share`). Chapter rows (2 characters) are phm's default for "
        "codes the sheet does not list (`verified` no).",
    ),
    "programme_community.csv": (
        "Community currency to programme",
        "National Cost Collection community currency prefixes; the longest matching prefix "
        "wins. A currency no prefix matches goes to `other`.",
    ),
    "programme_mh_team.csv": (
        "Mental health team to programme",
        "MHSDS service or team type, provider spell and Talking Therapies currencies, and "
        "phm's inpatient pseudo-team `IP`. A code not listed goes to `mental_health`.",
    ),
    "programme_ecds.csv": (
        "ECDS diagnosis to programme",
        "Each SNOMED CT emergency care diagnosis by its ETOS group (`ecds_group1`, `ecds_group2`), "
        "taken to the nearest HES A&E diagnosis condition (phm judgement, UNVERIFIED; a few codes "
        "in mixed groups by code), which the DH A&E sheet maps to a sub-category. A code not "
        "listed goes to `other`.",
    ),
    "charlson_quan2005.csv": (
        "Charlson comorbidity index (Quan 2005 ICD-10)",
        "A code belongs to a category when it starts with one of the category's prefixes "
        "(HES form, no dots). A person scores each category once; within a hierarchy group "
        "only the highest weight counts. Prefixes of one category are listed together.",
    ),
    "cms_conditions.csv": (
        "Cambridge Multimorbidity Score",
        "The 20 conditions of the general-outcome score, and the phm condition that "
        "measures each (blank: phm has no code list). Weights UNVERIFIED.",
    ),
    "hfrs_gilbert2018.csv": (
        "Hospital Frailty Risk Score (Gilbert et al., Lancet 2018)",
        "Points per 3-character ICD-10 code. A person's score at a year end is the sum of the "
        "points of the distinct codes in any diagnosis position of admissions in the two years to "
        "then (phm.model.comorbidity.hfrs); 5 or more is intermediate or high frailty risk "
        "(under 5 low, 5-15 intermediate, over 15 high).",
    ),
    "qof_registers.csv": (
        "QOF disease registers (business rules v49, 2024/25)",
        "Who is on each register at the financial year end (the achievement date), from GP "
        "codes and GP prescribing only (phm.model.registers): the latest `diagnosis` code "
        "(dated on or after `diagnosed_from` where given), not followed by a code of a "
        "`resolved` cluster; aged `min_age` or over in whole years on the year end; and, where "
        "`treatment` is `required`, a prescription of a `treatment_bnf` prefix in the "
        "`treatment_months` to the person's last day in the year (`or`: such a prescription "
        "alone also counts). Clusters are NHS Digital Primary Care Domain refsets "
        "(`refdata/data/codelists/pcd_refsets/`). `verified` says how far each rule was "
        "checked; a condition coded only in hospital is not on the register but is counted "
        "apart as a case-finding flag.",
    ),
    "segments.csv": (
        "Bridges to Health segments",
        "Eight segments in priority order; a person-year takes the first whose rule it meets "
        "(phm.model.segments). The codes behind the organ failure, disability and maternity "
        "evidence are in the next table.",
    ),
    "segment_codes.csv": (
        "Codes behind the segment evidence",
        "ICD-10 prefixes (any diagnosis position of an admitted episode; `when` says in the "
        "year or by the year end, and whether only emergency admissions count) and the SNOMED "
        "CT GP refsets (`refdata/data/codelists/gp_refsets/<code>.csv`) that set each flag.",
    ),
    "nhse_commissioners.csv": (
        "NHS England as commissioner",
        "Commissioner codes that make admitted activity NHS England-commissioned (specialised "
        "or directly commissioned), reported apart from ICB spend (phm.model.funding). A "
        "5-character code counts when its first 3 characters are listed. List UNVERIFIED.",
    ),
}
# Columns whose rows are merged into one line when every other column is the same.
_MERGE = {"charlson_quan2005.csv": "icd10_prefix"}
# Files too long to list: one line per value of this column, with the count and first codes.
_SUMMARY = {"programme_icd10.csv.gz": ("pbc", "icd10")}


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _file_markdown(name: str) -> str:
    title, about = _SECTIONS.get(name, (name, ""))
    with _open(DEFINITIONS_DIR / name) as fh:
        text = fh.read()
    reader = csv.DictReader(io.StringIO(text))
    columns = list(reader.fieldnames or [])
    rows = list(reader)
    lines = [f"## {title}", "", f"`src/phm/model/definitions/{name}` ({len(rows)} rows)."]
    if about:
        lines += ["", about]
    for col, label in (("source", "Source"), ("version", "Version")):
        values = {r[col] for r in rows}
        if len(values) == 1:
            lines += ["", f"{label}: {values.pop()}"]
            columns.remove(col)
    if name in _SUMMARY:
        by, code = _SUMMARY[name]
        groups: dict[str, list[str]] = {}
        for r in rows:
            groups.setdefault(r[by], []).append(r[code])
        columns = [by, "codes", "first codes"]
        rows = [
            {
                by: k,
                "codes": str(len(v)),
                "first codes": ", ".join(v[:6]) + (", ..." if len(v) > 6 else ""),
            }
            for k, v in sorted(groups.items())
        ]
    merge = _MERGE.get(name)
    if merge:
        merged: list[dict[str, str]] = []
        for r in rows:
            rest = [r[c] for c in columns if c != merge]
            if merged and [merged[-1][c] for c in columns if c != merge] == rest:
                merged[-1][merge] += f", {r[merge]}"
            else:
                merged.append(dict(r))
        rows = merged
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def definitions_markdown() -> str:
    """The whole of ``docs/definitions.md``: one section per file under ``definitions/``.

    Regenerate with ``python -m phm.model.definitions > docs/definitions.md``."""
    known = [n for n in _SECTIONS if (DEFINITIONS_DIR / n).exists()]
    files = [*DEFINITIONS_DIR.glob("*.csv"), *DEFINITIONS_DIR.glob("*.csv.gz")]
    others = sorted(p.name for p in files if p.name not in _SECTIONS)
    head = (
        "# Definitions\n\n"
        "Definitions are versioned data: CSV files under `src/phm/model/definitions/`, each "
        "row with its source and the version of that source. This page is generated from those files by "
        "`phm.model.definitions.definitions_markdown()` (regenerate with "
        "`python -m phm.model.definitions > docs/definitions.md`); a test fails when it is "
        "out of date. UNVERIFIED marks a definition that phm has not checked against its "
        "published source.\n"
    )
    return "\n".join([head, *(_file_markdown(n) for n in [*known, *others])])


if __name__ == "__main__":
    print(definitions_markdown(), end="")
