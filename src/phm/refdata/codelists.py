"""Clinical classifications and code lists: ICD-10, OPCS-4, BNF, conditions, ethnicity."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from phm.refdata._io import data_path, read_csv

S = pa.string()

ATHENA = "codelists/athena_icd10_opcs4_2025.csv.gz"

# WHO ICD-10 chapter ranges, by three-character category. Athena has chapter
# rows (numeral and title) but no chapter-to-code relationships in this export, so
# codes are placed in chapters by these published ranges; titles come from Athena.
ICD10_CHAPTER_RANGES = (
    ("I", "A00", "B99"),
    ("II", "C00", "D48"),
    ("III", "D50", "D89"),
    ("IV", "E00", "E90"),
    ("V", "F00", "F99"),
    ("VI", "G00", "G99"),
    ("VII", "H00", "H59"),
    ("VIII", "H60", "H95"),
    ("IX", "I00", "I99"),
    ("X", "J00", "J99"),
    ("XI", "K00", "K93"),
    ("XII", "L00", "L99"),
    ("XIII", "M00", "M99"),
    ("XIV", "N00", "N99"),
    ("XV", "O00", "O99"),
    ("XVI", "P00", "P96"),
    ("XVII", "Q00", "Q99"),
    ("XVIII", "R00", "R99"),
    ("XIX", "S00", "T98"),
    ("XX", "V01", "Y98"),
    ("XXI", "Z00", "Z99"),
    ("XXII", "U00", "U99"),
)

# OPCS-4 chapter titles (Athena has no OPCS-4 chapter rows).
OPCS4_CHAPTERS = {
    "A": "Nervous system",
    "B": "Endocrine system and breast",
    "C": "Eye",
    "D": "Ear",
    "E": "Respiratory tract",
    "F": "Mouth",
    "G": "Upper digestive system",
    "H": "Lower digestive system",
    "J": "Other abdominal organs, principally digestive",
    "K": "Heart",
    "L": "Arteries and veins",
    "M": "Urinary",
    "N": "Male genital organs",
    "O": "Overflow codes",
    "P": "Lower female genital tract",
    "Q": "Upper female genital tract",
    "R": "Female genital tract associated with pregnancy, childbirth and the puerperium",
    "S": "Skin",
    "T": "Soft tissue",
    "U": "Diagnostic imaging, testing and rehabilitation",
    "V": "Bones and joints of skull and spine",
    "W": "Other bones and joints",
    "X": "Miscellaneous operations",
    "Y": "Subsidiary classification of methods of operation",
    "Z": "Subsidiary classification of sites of operation",
}

_ICD10_RE = re.compile(r"^([A-Z][0-9]{2})\.?([0-9A-Z]?)$")


def normalise_icd10(code: str) -> str:
    """Dotted ICD-10 form: ``'J441'``/``'J44.1'`` -> ``'J44.1'``; ``'I10X'``/``'I10'`` -> ``'I10'``.

    Surrounding space, a trailing dash and case are ignored. Raises ``ValueError`` for
    anything that is not a three- or four-character ICD-10 code.
    """
    text = code.strip().upper().rstrip("-").replace(" ", "")
    m = _ICD10_RE.match(text)
    if not m:
        raise ValueError(f"not an ICD-10 code: {code!r}")
    cat, sub = m.groups()
    return cat if sub in ("", "X") else f"{cat}.{sub}"


@lru_cache(maxsize=1)
def _athena() -> pa.Table:
    return read_csv(
        ATHENA,
        {"vocabulary_id": S, "concept_class_id": S, "concept_code": S, "concept_name": S},
    )


def _vocabulary(name: str) -> list[dict[str, str]]:
    table = _athena()
    return table.filter(pc.equal(table["vocabulary_id"], name)).to_pylist()


@lru_cache(maxsize=1)
def icd10() -> pa.Table:
    """WHO ICD-10 three- and four-character codes with chapter and block (12,297 rows).

    Columns: ``code`` (dotted: ``'J44.1'``, ``'I10'``), ``code_hes`` (four characters as
    in HES/SUS: ``'J441'``, ``'I10X'``), ``description``, ``chapter`` (Roman numeral as in
    Athena, ``'X'``), ``chapter_name``, ``block`` (e.g. ``'J40-J47'``), ``block_name``.
    Three-character categories are included whether or not they have subdivisions.

    Source: OHDSI Athena 2025 ICD-10 vocabulary (londonaicentre/PhenoLab), without
    chapter and block header concepts, WHO-deleted codes (``invalid_reason = 'D'``) and
    five-character subdivisions (such as the M-chapter site codes ``M80.00``), which
    HES/SUS do not use. Block: the narrowest Athena "ICD10 SubChapter" range holding the
    code (e.g. ``C00-C14`` rather than ``C00-C97``). Chapter: WHO chapter ranges
    (:data:`ICD10_CHAPTER_RANGES`) with Athena's chapter titles.
    """
    rows = _vocabulary("ICD10")
    chapter_names = {r["concept_code"]: r["concept_name"] for r in rows if _cls(r, "Chapter")}
    blocks = sorted(
        (
            (r["concept_code"][:3], r["concept_code"][4:], r["concept_code"], r["concept_name"])
            for r in rows
            if _cls(r, "SubChapter")
        ),
        key=lambda b: (_block_width(b[0], b[1]), b[0]),
    )
    out: dict[str, list[str]] = {k: [] for k in _ICD10_COLUMNS}
    for r in rows:
        if r["concept_class_id"] not in ("ICD10 code", "ICD10 Hierarchy"):
            continue
        code = r["concept_code"]
        if len(code.replace(".", "")) > 4:
            continue
        cat = code[:3]
        chapter = next(ch for ch, lo, hi in ICD10_CHAPTER_RANGES if lo <= cat <= hi)
        block = next(b for b in blocks if b[0] <= cat <= b[1])
        compact = code.replace(".", "")
        out["code"].append(code)
        out["code_hes"].append(compact if len(compact) == 4 else compact + "X")
        out["description"].append(r["concept_name"])
        out["chapter"].append(chapter)
        out["chapter_name"].append(chapter_names[chapter])
        out["block"].append(block[2])
        out["block_name"].append(block[3])
    return _sorted_table(out, "code")


_ICD10_COLUMNS = (
    "code",
    "code_hes",
    "description",
    "chapter",
    "chapter_name",
    "block",
    "block_name",
)


def _cls(row: dict[str, str], suffix: str) -> bool:
    return row["concept_class_id"] == f"ICD10 {suffix}"


def _block_width(lo: str, hi: str) -> int:
    def ordinal(cat: str) -> int:
        return (ord(cat[0]) - ord("A")) * 100 + int(cat[1:])

    return ordinal(hi) - ordinal(lo)


def _sorted_table(columns: dict[str, list[str]], key: str) -> pa.Table:
    table = pa.table({k: pa.array(v, S) for k, v in columns.items()})
    return table.take(pc.sort_indices(table[key]))


@lru_cache(maxsize=1)
def opcs4() -> pa.Table:
    """OPCS-4 procedure (and subsidiary method and site) codes (10,994 rows).

    Columns: ``code`` (dotted: ``'W37.1'``; three-character categories such as ``'W37'``
    included), ``code_compact`` (``'W371'``, as in HES/SUS), ``description``,
    ``chapter`` (the first letter), ``chapter_name``.

    Source: OHDSI Athena 2025 OPCS-4 vocabulary (londonaicentre/PhenoLab),
    without the 6 retired codes. Chapter Y (methods) and Z (sites) are subsidiary
    codes. Chapter titles are the OPCS-4 Tabular List chapter titles
    (:data:`OPCS4_CHAPTERS`), as Athena has no chapter rows.
    """
    rows = _vocabulary("OPCS4")
    out: dict[str, list[str]] = {
        k: [] for k in ("code", "code_compact", "description", "chapter", "chapter_name")
    }
    for r in rows:
        code = r["concept_code"]
        out["code"].append(code)
        out["code_compact"].append(code.replace(".", ""))
        out["description"].append(r["concept_name"])
        out["chapter"].append(code[0])
        out["chapter_name"].append(OPCS4_CHAPTERS[code[0]])
    return _sorted_table(out, "code")


_BNF_LEVELS = (
    ("chapter", "BNF Chapter"),
    ("section", "BNF Section"),
    ("paragraph", "BNF Paragraph"),
    ("subparagraph", "BNF Subparagraph"),
    ("chemical", "BNF Chemical Substance"),
    ("product", "BNF Product"),
    ("presentation", "BNF Presentation"),
)


@lru_cache(maxsize=1)
def bnf() -> pa.Table:
    """BNF hierarchy, one row per presentation (54,879 rows).

    Columns: ``chapter_code, chapter, section_code, section, paragraph_code, paragraph,
    subparagraph_code, subparagraph, chemical_code, chemical, product_code, product,
    presentation_code, presentation``; codes are text with leading zeros kept
    (``'01'``, ``'0101'``, ... the 15-character ``presentation_code``).

    Source: NHSBSA BNF Code Information, 1 November 2024 (via londonaicentre/PhenoLab).
    """
    types: dict[str, pa.DataType] = {}
    rename: dict[str, str] = {}
    for name, src in _BNF_LEVELS:
        types[f"{src} Code"] = S
        types[src] = S
        rename[f"{src} Code"] = f"{name}_code"
        rename[src] = name
    table = read_csv("codelists/bnf_code_information_20241101.csv.gz", types, rename=rename)
    order = [c for name, _ in _BNF_LEVELS for c in (f"{name}_code", name)]
    return table.select(order)


@lru_cache(maxsize=1)
def ethnic_categories() -> pa.Table:
    """NHS ethnic category codes (21 rows).

    Columns: ``code`` (``'A'`` ... ``'Z'``, ``'99'``), ``description``, ``broad_group``.
    A-S and Z are the NHS Data Dictionary 2001-census categories, 99 is "not known"
    (2013 onwards). T (Traveller), W (Arab) and X (not known, before 2013) are extra
    codes carried by the source and are not current Data Dictionary codes.

    Source: bhfdschds/hds_jf_pipeline_dev ``ethnicity_categories.csv``.
    """
    return read_csv(
        "codelists/ethnicity_categories.csv",
        {"code": S, "description": S, "ethnic_broad_group": S},
        rename={"ethnic_broad_group": "broad_group"},
    )


@dataclass(frozen=True)
class Condition:
    """A long-term condition defined by code lists (a row of ``data/conditions.csv``)."""

    id: str
    name: str
    snomed_refsets: tuple[str, ...]  # files codelists/pcd_refsets/<refset>.csv
    icd10_codelists: tuple[str, ...]  # files codelists/mltc_icd10/<name>.csv
    source: str


@lru_cache(maxsize=1)
def _conditions() -> tuple[Condition, ...]:
    with data_path("conditions.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(
            Condition(
                id=r["id"],
                name=r["name"],
                snomed_refsets=tuple(x for x in r["snomed_refsets"].split(";") if x),
                icd10_codelists=tuple(x for x in r["icd10_codelists"].split(";") if x),
                source=r["source"],
            )
            for r in csv.DictReader(fh)
        )


def conditions() -> list[Condition]:
    """The condition definitions in ``data/conditions.csv`` (definitions as data)."""
    return list(_conditions())


_CODELIST_SCHEMA = pa.schema(
    [
        ("condition", S),
        ("vocabulary", S),
        ("code", S),
        ("description", S),
        ("source", S),
        ("is_prefix", pa.bool_()),
    ]
)


@lru_cache(maxsize=1)
def condition_codelists() -> pa.Table:
    """Codes for each long-term condition in ``data/conditions.csv``.

    Columns: ``condition`` (condition id, e.g. ``'diabetes'``), ``vocabulary``
    (``'SNOMED'`` | ``'ICD10'``), ``code``, ``description``, ``source`` (``'PCD
    refset DM_COD'`` or ``'MLTC ICD_type2_diab'``), ``is_prefix`` (bool).

    SNOMED CT codes come from the NHS Digital Primary Care Domain (QOF register)
    refsets, 2020-08/2021-01 releases via OpenCodelists; ICD-10 codes from Prigge
    (2024) mltc-codelists, adapted from CALIBER / Kuan et al. 2019. ICD-10 codes are
    normalised to dotted form; a three-character code (``'E11'``) has ``is_prefix``
    true and stands for the category and all its subdivisions (``E11.0`` ... ``E11.9``,
    HES ``E11X``); four-character codes match exactly. Duplicates within a condition
    are dropped (first source kept).
    """
    rows: list[tuple[str, str, str, str, str, bool]] = []
    seen: set[tuple[str, str, str]] = set()

    def add(cond: str, vocab: str, code: str, desc: str, source: str, prefix: bool) -> None:
        if (cond, vocab, code) not in seen:
            seen.add((cond, vocab, code))
            rows.append((cond, vocab, code, desc, source, prefix))

    for cond in _conditions():
        for refset in cond.snomed_refsets:
            path = data_path(f"codelists/pcd_refsets/{refset}.csv")
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for r in csv.DictReader(fh):
                    source = f"PCD refset {refset.upper()}"
                    add(cond.id, "SNOMED", r["code"].strip(), r["term"].strip(), source, False)
        for name in cond.icd10_codelists:
            path = data_path(f"codelists/mltc_icd10/{name}.csv")
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for r in csv.DictReader(fh):
                    code = normalise_icd10(r["Code"])
                    desc = r["Description"].strip()
                    add(cond.id, "ICD10", code, desc, f"MLTC {name}", len(code) == 3)
    return pa.Table.from_pylist(
        [dict(zip(_CODELIST_SCHEMA.names, r, strict=True)) for r in rows], schema=_CODELIST_SCHEMA
    )
