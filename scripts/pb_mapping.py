"""Regenerate phm's programme budgeting maps from the Department of Health workbook.

Source: Department of Health, "Programme Budgeting Mappings and Definitions" (the mapping
document of the 2011-12 PCT programme budgeting collection; Crown copyright, Open Government
Licence v3.0), as held in github.com/Digital-Intelligence-Unit/NHS_Business_Intelligence_Platform_Shiny
at mountpoints/apps/Activity-Cost/Programme-Budgeting-Mappings-Definitions.xls (commit d93c1eb,
sha256 f9a0c949...a822). Evidence and caveats: docs/research/programme-budgeting.md.

Usage (a maintainer's tool, not run by phm; needs the optional ``refdata`` extra for xlrd):

    pip install -e '.[refdata]'
    python scripts/pb_mapping.py Programme-Budgeting-Mappings-Definitions.xls ref_diagnosis.csv

The second file is the ETOS diagnosis grouping (see ``ECDS_COPY``).

It rewrites, under src/phm/model/definitions/: pb_categories.csv, programme_icd10.csv.gz
(12,426 rows, compressed),
programme_tfc.csv (DH rows; phm's rows for treatment functions created since 2011 are kept
and marked unverified) and programme_bnf.csv (DH rows, with the published percentage splits;
phm's chapter defaults kept and marked unverified) and programme_ecds.csv (ECDS diagnoses by
their ETOS group, through the HES A&E diagnosis condition; unverified).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import sys
from pathlib import Path

import xlrd

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "src" / "phm" / "model" / "definitions"
BNF_INFO = ROOT / "src" / "phm" / "refdata" / "data" / "codelists" / "bnf_code_information_20241101.csv.gz"
SHA256 = "f9a0c9498357cddf81ba1b3232ef0e6d1ba273340ac294b6f896ff5f62bca822"
SOURCE = "DH Programme Budgeting Mappings and Definitions, sheet '{sheet}'"
VERSION = "2011-12 PCT collection (copy at d93c1eb)"
# Programme of each main programme number: the ids of programmes.csv ("01" -> infectious_diseases).
with (DEFS / "programmes.csv").open(encoding="utf-8") as _f:
    PROGRAMME_IDS = {r["code"]: r["id"] for r in csv.DictReader(_f)}


def _cell(v) -> str:
    if isinstance(v, float):
        return str(int(v)) if v == int(v) else str(v)
    return str(v).strip()


def _rows(book, sheet: str, header: str) -> list[list[str]]:
    """The rows below the row whose first cell (after the blank column A) is ``header``."""
    s = book.sheet_by_name(sheet)
    start = next(r for r in range(s.nrows) if _cell(s.cell_value(r, 1)) == header)
    out = []
    for r in range(start + 1, s.nrows):
        vals = [_cell(c.value) for c in s.row(r)[1:]]
        if any(vals):
            out.append(vals)
    return out


def _write(name: str, header: list[str], rows: list[list[str]]) -> None:
    if name.endswith(".gz"):  # mtime=0: the same workbook gives byte-identical files
        raw = gzip.GzipFile(DEFS / name, "wb", mtime=0)
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    else:
        fh = (DEFS / name).open("w", encoding="utf-8", newline="")
    with fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def _pbc(code: str) -> str:
    """'5X' -> '05X', '2X' -> '02X', '21' -> '21X', '23' -> '23X', '7A' -> '07A'."""
    code = code.strip().upper()
    if re.fullmatch(r"\d{2}", code):
        return code + "X"
    if re.fullmatch(r"\d[A-Z]", code):
        return "0" + code
    return code


def categories(book) -> None:
    rows = _rows(book, "Programme Budgeting Categories", "Programme Budgeting Code")
    out = [[r[0], PROGRAMME_IDS[r[0][:2]], r[2], SOURCE.format(sheet="Programme Budgeting Categories"), VERSION, ""]
           for r in rows if re.fullmatch(r"\d\d[A-Z]", r[0])]
    legacy = "Used in the Inpatient Activity sheet, missing from the category list (legacy); rolled up to programme 21."
    out += [["21A", "healthy_individuals", "NSF Prevention programme", SOURCE.format(sheet="Inpatient Activity"), VERSION, legacy],
            ["21B", "healthy_individuals", "NSF Mental health prevention", SOURCE.format(sheet="Inpatient Activity"), VERSION, legacy],
            ["2U2", "", "Unclassified (not valid as a primary diagnosis)", SOURCE.format(sheet="Inpatient Activity"), VERSION,
             "Not a programme: phm places these spells by a secondary diagnosis, then the treatment function."]]
    _write("pb_categories.csv", ["pbc", "programme", "name", "source", "version", "note"], out)


def icd10(book) -> None:
    out = []
    for r in _rows(book, "Inpatient Activity", "ICD10"):
        code, pbc, star = r[0], r[3], r[5]
        if "+" in code:  # one cell reads 'Z955+A233+...': a spreadsheet artefact, the code is Z955
            code = code.split("+")[0]
        out.append([code, pbc, star, SOURCE.format(sheet="Inpatient Activity"), VERSION])
    _write("programme_icd10.csv.gz", ["icd10", "pbc", "secondary", "source", "version"], out)


def _old(name: str, key: str) -> dict[str, dict]:
    with (DEFS / name).open(encoding="utf-8", newline="") as fh:
        return {r[key]: r for r in csv.DictReader(fh)}


def tfc(book) -> None:
    old = _old("programme_tfc.csv", "tfc")
    out, seen = [], set()
    for r in _rows(book, "Outpatient Attendances", "Treatment Function Code"):
        code, name, cat = r[0], r[1], r[2]
        seen.add(code)
        src = SOURCE.format(sheet="Outpatient Attendances")
        if cat.startswith("65%"):
            out.append([code, name, "musculoskeletal", "15X", "0.65", "yes", src, VERSION, "Published split 65% 15X / 35% 16X."])
            out.append([code, name, "trauma_injuries", "16X", "0.35", "yes", src, VERSION, "Published split 65% 15X / 35% 16X."])
        elif cat == "Exclude":
            out.append([code, name, "other", "", "1", "yes", src, VERSION,
                        "Published as 'Exclude' (well babies are not programme budgeting spend); phm keeps the cost in other."])
        else:
            out.append([code, name, PROGRAMME_IDS[cat[:2]], cat, "1", "yes", src, VERSION, ""])
    for code, r in sorted(old.items()):
        if code in seen or r.get("verified") == "yes":
            continue
        out.append([code, r["name"], r["programme"], "", "1", "no", r["source"], r["version"],
                    ("Treatment function not in the 2011-12 DH sheet; " + (r.get("note") or "")).strip()])
    out.sort(key=lambda x: (x[0], x[3]))
    _write("programme_tfc.csv", ["tfc", "name", "programme", "pbc", "share", "verified", "source", "version", "note"], out)


def _bnf_names() -> dict[str, set[str]]:
    """Upper-case chemical substance name -> its 9-character BNF codes (NHSBSA 2024-11-01)."""
    names: dict[str, set[str]] = {}
    with gzip.open(BNF_INFO, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            names.setdefault(r["BNF Chemical Substance"].strip().upper(), set()).add(r["BNF Chemical Substance Code"])
    return names


def _split(cat: str) -> list[tuple[str, float]]:
    """'10A / 10B (70/30)' -> [('10A', .7), ('10B', .3)]; '7A/15X/16X (5:75:20)'; '2H / 4B' (no
    percentages published -> equal shares, flagged by the caller)."""
    m = re.fullmatch(r"(.+?)\s*\(([\d:/ ]+)\)", cat)
    codes = [_pbc(c) for c in re.split(r"\s*/\s*", (m.group(1) if m else cat).strip())]
    if m:
        pct = [float(p) for p in re.split(r"[:/]", m.group(2))]
        return [(c, p / sum(pct)) for c, p in zip(codes, pct, strict=True)]
    return [(c, 1 / len(codes)) for c in codes]


def _prefix(label: str) -> str | None:
    """'2.9: Antiplatelet drugs' -> '0209'; '5.3.2.1 Herpes' -> '0503021'; '9.2   Fluids' -> '0902'."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?", label)
    if not m:
        return None
    ch, sec, para, sub = m.groups()
    code = f"{int(ch):02d}{int(sec):02d}"
    if para:
        code += f"{int(para):02d}"
    if sub:
        code += sub
    return code


def bnf(book) -> None:
    names = _bnf_names()
    src = SOURCE.format(sheet="Primary Prescribing")
    out, parent = [], None
    for r in _rows(book, "Primary Prescribing", "SECTION"):
        label = r[0] or r[1] or r[2]
        chem, cat = r[3], r[4]
        if label and not chem:
            parent = _prefix(label)
        if not cat or cat.startswith("See ") or cat.startswith("No longer"):
            continue
        if chem:
            codes = sorted(c for c in names.get(chem.upper(), ()) if parent and c.startswith(parent[:4]))
            if not codes:
                print(f"  no BNF code for chemical {chem!r} under {parent}: skipped", file=sys.stderr)
                continue
            name, prefixes = chem.title(), codes
        else:
            name, prefixes = re.sub(r"^[\d.:\s]+", "", label), [_prefix(label)]
        parts = _split(cat)
        note = "" if "(" in cat or len(parts) == 1 else "Published without percentages: equal shares (UNVERIFIED)."
        verified = "yes" if not note else "no"
        for p in prefixes:
            for pbc, share in parts:
                out.append([p, name, PROGRAMME_IDS[pbc[:2]], pbc, f"{share:.4g}", verified, src, VERSION,
                            (f"Published: {cat}. " + note).strip() if len(parts) > 1 else note])
    seen = {r[0] for r in out}
    for code, r in sorted(_old("programme_bnf.csv", "bnf_prefix").items()):
        if code in seen or r.get("verified") == "yes" or len(code) != 2:
            continue
        out.append([code, r["name"], r["programme"], "", "1", "no", r["source"], r["version"],
                    "Chapter default for codes the DH sheet does not list (phm judgement)."])
    out.sort(key=lambda x: (x[0], x[3]))
    _write("programme_bnf.csv", ["bnf_prefix", "name", "programme", "pbc", "share", "verified", "source", "version", "note"], out)


# ECDS: the NHS Digital ETOS groups each emergency care diagnosis (SNOMED CT); phm takes each
# group to the nearest HES A&E diagnosis condition, which the DH workbook's 'A&E' sheet maps to
# a sub-category. The group -> condition step is phm judgement (UNVERIFIED): NHS England's own
# ECDS -> ICD-10 map (ETOS 'Diagnosis' sheet, ICD10_Mapping) could not be obtained.
ECDS_COPY = "DCaphane/DCaphane.github.io@0ab42de Data/ecds/ecds_ref_tables/ref_diagnosis.csv"
ECDS_GROUP_AE = {
    "Wound : lac / incised / bite": "01", "Sprain / ligament injury": "06", "Bruise / contusion / abrasion": "02",
    "Muscle injury": "07", "Tendon injury": "07", "Crush injury": "05", "Degloving injury": "01", "Burn": "10",
    "Closed fracture": "05", "Open fracture": "05", "Dislocation": "05",
    "Abdominal injury": "16", "Amputation / partial amputation": "05", "Complication of injury": "09",
    "Dental injury": "33", "Foreign body": "12", "Head injury": "04", "Neck injury": "16", "Thoracic injury": "16",
    "GU / GI": "17", "Notifiable disease": "17", "Respiratory": "25", "Skin": "18", "Systemic / CNS": "17",
    "Tropical disease": "17",
    "Allergy": "32", "Cardiac": "20", "Cardiac electrical": "20", "Endocrine / metabolic": "30",
    "Gastroenterology": "26", "Haem / oncology": "23", "Neuro : central": "24", "Neuro : peripheral": "24",
    "Neuro : seizure": "24", "Neuro : vascular": "21", "Neurology CN": "24", "Renal": "27",
    "Skin and soft tissues": "31",
    "Orthopaedics": "03", "Rheumatology": "03",
    "Drug / alcohol": "35", "Mental health": "35", "Toxicology": "14",
    "ENT": "34", "General Surgery": "26", "Maxillo facial": "33", "Post-op": "38", "Urology": "27", "Vascular": "22",
    "Gynaecology": "29", "Gynaecology : early pregnancy": "28", "Obstetrics": "28",
    "Paediatric : medical": "38", "Paediatric : ortho / surg": "03",
    "Environmental": "38", "Not applicable": "39", "Social": "37",
}
# Codes whose group is mixed ('See Notes', paediatric) or absent from the ETOS copy: by code.
ECDS_CODE_AE = {
    "Bronchiolitis": "25", "Viral wheeze": "25", "Croup": "25", "Febrile convulsion": "24",
    "Convulsions in the newborn": "24", "Congenital heart disease": "20", "Nonspecific exanthematous viral infection": "17",
    "Diaper rash": "31", "Henoch-Sch\u00f7nlein purpura": "23", "Acute febrile mucocutaneous lymph node syndrome": "20",
    "Pyloric stenosis": "26", "Intussusception of intestine": "26", "Congenital malrotation of intestine": "26",
    "Umbilical granuloma": "26", "Undescended testicle": "27", "Pulled elbow": "05",
    "Drowning and non-fatal immersion": "15", "Needle stick injury": "12",
    "Cranial nerve disorder": "24", "Respiratory failure": "25",
}
SEE_NOTES_EYE = "36"


def _desc(d: str) -> str:
    return re.sub(r" \((disorder|finding|procedure|event)\)$", "", d.strip())


def ecds(copy: str) -> None:
    ae = {r[0]: (r[1], _pbc(r[2])) for r in _rows(xlrd.open_workbook(WORKBOOK), "A&E", "A&E diagnosis code")}
    src = ("NHS Digital ECDS Enhanced Technical Output Specification (ETOS), Diagnosis groups, copy at " + ECDS_COPY
           + "; group -> HES A&E diagnosis condition: phm judgement UNVERIFIED; condition -> sub-category: "
           + SOURCE.format(sheet="A&E"))
    out = []
    with open(copy, encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            desc = _desc(r["SNOMED_Description"])
            code_ae = ECDS_CODE_AE.get(desc)
            if code_ae is None and r["ECDS_Group1"] == "See Notes":
                code_ae = SEE_NOTES_EYE
            group = r["ECDS_Group2"]
            cond = code_ae or ("36" if group.startswith("Eye") else ECDS_GROUP_AE[group])
            pbc = ae[cond][1]
            out.append([r["SNOMED_Code"], desc, r["ECDS_Group1"], r["ECDS_Group2"], cond, ae[cond][0], pbc,
                        PROGRAMME_IDS[pbc[:2]], "no", src, "ETOS groups (copy 0ab42de, 2021); DH A&E sheet 2011-12",
                        "condition by code" if code_ae else ""])
    seen = {r[0] for r in out}
    for code, r in sorted(_old("programme_ecds.csv", "snomed_code").items()):
        if code in seen or r.get("ecds_group1"):
            continue
        cond = {"S": "05", "I": "20"}.get(r["icd10"][:1], "38")
        if r["icd10"].startswith("S4"):
            cond = "06"
        pbc = ae[cond][1]
        out.append([code, r["description"], "", "", cond, ae[cond][0], pbc, PROGRAMME_IDS[pbc[:2]], "no",
                    "ECDS diagnosis refset 991411000000109 code not in the ETOS copy; condition: phm judgement from ICD-10 "
                    + r["icd10"] + "; condition -> sub-category: " + SOURCE.format(sheet="A&E"),
                    "DH A&E sheet 2011-12", "not in the ETOS copy"])
    out.sort(key=lambda x: x[0])
    _write("programme_ecds.csv", ["snomed_code", "description", "ecds_group1", "ecds_group2", "ae_diagnosis",
                                  "ae_condition", "pbc", "programme", "verified", "source", "version", "note"], out)


WORKBOOK = ""


def main(path: str, ecds_copy: str) -> None:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != SHA256:
        sys.exit(f"{path}: sha256 {digest} is not the workbook phm's maps were made from ({SHA256})")
    global WORKBOOK
    WORKBOOK = path
    book = xlrd.open_workbook(path)
    categories(book)
    icd10(book)
    tfc(book)
    bnf(book)
    ecds(ecds_copy)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
