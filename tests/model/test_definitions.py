"""Definitions as data: every file has a source and is documented, the programme maps cover the
codes phm sees, and Charlson and the CMS match their published definitions."""

from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phm import refdata
from phm.model import definitions as d

PAGE = Path(__file__).parents[2] / "docs" / "definitions.md"

PROGRAMME_IDS = [
    "infectious_diseases", "cancers_tumours", "blood_disorders", "endocrine_nutritional_metabolic",
    "mental_health", "learning_disability", "neurological", "eye_vision", "hearing", "circulation",
    "respiratory", "dental", "gastro_intestinal", "skin", "musculoskeletal", "trauma_injuries",
    "genito_urinary", "maternity_reproductive", "neonates", "poisoning_adverse_effects",
    "healthy_individuals", "social_care_needs", "other",
]  # fmt: skip


def _synth(name: str) -> list[dict[str, str]]:
    text = resources.files("phm.synth").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _ncc_currencies(*departments: str) -> set[str]:
    t = refdata.ncc_unit_costs()
    t = t.filter(pc.is_in(t["department_code"], value_set=pa.array(list(departments))))
    return set(t["currency_code"].to_pylist())


# --- every definition has a source and is documented -------------------------------------------


def _csv_files() -> list[Path]:
    return sorted([*d.DEFINITIONS_DIR.glob("*.csv"), *d.DEFINITIONS_DIR.glob("*.csv.gz")])


def test_every_definition_file_has_a_source_and_version_on_every_row():
    files = _csv_files()
    assert {f.name for f in files} >= {
        "programmes.csv", "pb_categories.csv", "programme_icd10.csv.gz", "programme_tfc.csv", "programme_bnf.csv",
        "programme_community.csv", "programme_mh_team.csv", "programme_ecds.csv",
        "charlson_quan2005.csv", "cms_conditions.csv",
    }  # fmt: skip
    for f in files:
        with d._open(f) as fh:
            reader = csv.DictReader(fh)
            assert "source" in (reader.fieldnames or []), f"{f.name} has no source column"
            assert "version" in (reader.fieldnames or []), f"{f.name} has no version column"
            rows = list(reader)
        assert rows, f"{f.name} is empty"
        for i, row in enumerate(rows, start=2):
            assert row["source"].strip(), f"{f.name} line {i} has no source"
            assert row["version"].strip(), f"{f.name} line {i} has no version"
            assert None not in row, f"{f.name} line {i} has more fields than the header"


def test_definitions_page_is_up_to_date():
    page = PAGE.read_text(encoding="utf-8")
    assert page == d.definitions_markdown(), (
        "regenerate with: python -m phm.model.definitions > docs/definitions.md"
    )
    for f in _csv_files():
        assert f"`src/phm/model/definitions/{f.name}`" in page, f"{f.name} is not documented"


# --- programmes ----------------------------------------------------------------------------------


def test_the_23_programmes():
    t = d.programmes()
    assert t["code"].to_pylist() == [f"{i:02d}" for i in range(1, 24)]
    assert t["id"].to_pylist() == PROGRAMME_IDS
    assert all(t["name"].to_pylist())


@pytest.mark.parametrize(
    "loader",
    [d.pb_categories, d.programme_tfc, d.programme_bnf, d.programme_community, d.programme_mh_team, d.programme_ecds],
)  # fmt: skip
def test_maps_hold_programme_ids(loader):
    assert set(loader()["programme"].to_pylist()) - {""} <= set(PROGRAMME_IDS)


# --- DH programme budgeting sub-categories ---------------------------------------------------------


def test_sub_categories_roll_up_to_their_programme_number():
    cats = d.pb_categories().to_pylist()
    number = dict(
        zip(d.programmes()["id"].to_pylist(), d.programmes()["code"].to_pylist(), strict=True)
    )
    assert len(cats) == 59  # 56 on the DH category sheet + 21A, 21B (legacy) + 2U2
    for c in cats:
        if c["pbc"] == "2U2":
            assert c["programme"] == ""
        else:
            assert number[c["programme"]] == c["pbc"][:2], c
    # every programme has its general 'X' sub-category (phm places judgement rows there)
    assert {f"{n}X" for n in number.values()} <= {c["pbc"] for c in cats}


@pytest.mark.parametrize(
    "loader", [d.programme_icd10, d.programme_tfc, d.programme_bnf, d.programme_ecds]
)
def test_every_map_uses_published_sub_categories(loader):
    known = set(d.pb_categories()["pbc"].to_pylist())
    assert set(loader()["pbc"].to_pylist()) - {""} <= known


# --- ICD-10 (DH Inpatient Activity sheet) -----------------------------------------------------------


def test_icd10_sheet_is_transcribed_whole():
    t = d.programme_icd10()
    codes = t["icd10"].to_pylist()
    assert len(codes) == 12_426 == len(set(codes))
    assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9X]", c) for c in codes)
    pbc = t["pbc"].to_pylist()
    assert pbc.count("2U2") == 3_137
    assert sum(1 for s in t["secondary"].to_pylist() if s) == 549  # '*' 547 + '**' 2


# Hand checks against the workbook as read independently (docs/research/programme-budgeting.md §3.1).
@pytest.mark.parametrize(
    ("code", "pbc"),
    [
        ("A09.0", "13X"), ("B20", "01A"), ("C50.9", "02F"), ("E66.9", "21A"), ("F84.0", "06X"),
        ("F20.0", "05C"), ("I21.9", "10A"), ("I10", "10X"), ("J45.9", "11B"), ("J44.1", "11A"),
        ("K80.2", "13C"), ("O98.1", "17C"), ("P07.3", "19X"), ("Q21.0", "10X"), ("Q90.9", "06X"),
        ("R07.4", "07A"), ("R10.0", "13A"), ("R10.4", "07A"), ("R11", "13A"), ("R50.9", "01X"),
        ("R54", "23X"), ("R69", "2U2"), ("R99", "2U2"), ("S72.0", "16X"), ("T39.0", "20B"),
        ("T81.4", "20A"), ("T31.2", "14A"), ("T20.0", "16X"), ("K64.9", "13B"), ("V01.0", "2U2"), ("X85", "20C"), ("X60", "2U2"),
        ("Z00.0", "21X"), ("Z49.1", "17B"), ("Z51.1", "02X"), ("Z59.0", "21B"), ("Z74.1", "22X"),
        ("Z88.0", "20A"), ("Z89.4", "16X"), ("Z95.0", "10C"), ("Z99.2", "17B"), ("Z95.5", "10A"),
        ("U07.1", "11X"), ("U85", None),
    ],
)  # fmt: skip
def test_icd10_sub_category_spec(code, pbc):
    assert d.icd10_pbc(code) == pbc


def test_later_icd10_categories_are_new_and_placed_as_a_published_code():
    held = set(d.programme_icd10()["icd10"].to_pylist())
    for r in d.programme_icd10_later().to_pylist():
        assert r["like"] in held, r
        assert not any(c[:3] == r["icd3"] for c in held), r
        assert "UNVERIFIED" in r["source"]


def test_every_synthetic_diagnosis_is_in_the_sheet():
    for name in ("emergency_groups.csv", "elective_procedures.csv"):
        for row in _synth(name):
            for code in row["icd10_hes"].split("|"):
                assert d.icd10_pbc(code) not in (None, "2U2"), f"{name}: {code}"


# --- treatment function (DH Outpatient Attendances sheet) -------------------------------------------


def test_tfc_rows_are_three_digit_codes_whose_shares_sum_to_one():
    t = d.programme_tfc().to_pylist()
    assert all(re.fullmatch(r"[0-9]{3}", r["tfc"]) for r in t)
    total: dict[str, float] = {}
    for r in t:
        total[r["tfc"]] = total.get(r["tfc"], 0.0) + float(r["share"])
    assert all(abs(v - 1) < 1e-9 for v in total.values()), total
    published = {r["tfc"] for r in t if r["verified"] == "yes"}
    assert len(published) == 128  # every row of the DH sheet
    split = sorted((r["tfc"], r["pbc"], r["share"]) for r in t if r["tfc"] in ("110", "214"))
    assert split == [
        ("110", "15X", "0.65"),
        ("110", "16X", "0.35"),
        ("214", "15X", "0.65"),
        ("214", "16X", "0.35"),
    ]


def test_every_synthetic_treatment_function_is_listed():
    listed = set(d.programme_tfc()["tfc"].to_pylist())
    used = {r["tfc"] for r in _synth("op_specialties.csv")}
    used |= {r["tfc"] for r in _synth("emergency_groups.csv")}
    used |= {r["tfc"] for r in _synth("elective_procedures.csv")}
    assert used - listed == set()


@pytest.mark.parametrize(
    ("tfc", "programme"),
    [
        ("100", "other"), ("110", "musculoskeletal"), ("130", "eye_vision"), ("320", "circulation"),
        ("340", "respiratory"), ("370", "cancers_tumours"), ("501", "maternity_reproductive"),
        ("700", "learning_disability"), ("710", "mental_health"), ("430", "other"), ("424", "other"),
        ("999", "other"), ("", "other"),
    ],
)  # fmt: skip
def test_tfc_programme(tfc, programme):
    assert d.tfc_programme(tfc) == programme


# --- BNF (DH Primary Prescribing sheet) -------------------------------------------------------------


def test_bnf_map_covers_every_chapter_and_splits_sum_to_one():
    t = d.programme_bnf().to_pylist()
    assert all(
        re.fullmatch(r"[0-9]{2}([0-9]{2}([0-9]{2}[0-9]?([0-9A-Z]{2})?)?)?", r["bnf_prefix"])
        for r in t
    )
    chapters = set(refdata.bnf()["chapter_code"].to_pylist())
    assert chapters - {r["bnf_prefix"] for r in t} == set()
    total: dict[str, float] = {}
    for r in t:
        total[r["bnf_prefix"]] = total.get(r["bnf_prefix"], 0.0) + float(r["share"])
    assert all(abs(v - 1) < 1e-3 for v in total.values()), {
        k: v for k, v in total.items() if abs(v - 1) >= 1e-3
    }


@pytest.mark.parametrize(
    ("prefix", "parts"),
    [
        ("0209", {"10A": 0.7, "10B": 0.3}),  # antiplatelets
        ("030101", {"11A": 0.2, "11B": 0.8}),  # adrenoceptor stimulants
        ("0302", {"11A": 0.1, "11B": 0.9}),  # inhaled corticosteroids
        ("100101", {"15X": 0.8, "16X": 0.2}),  # NSAIDs
        ("040701", {"07A": 0.05, "15X": 0.75, "16X": 0.2}),  # non-opioid analgesics
        ("0601", {"04A": 1.0}), ("0408", {"07X": 1.0}), ("0403", {"05X": 1.0}), ("0411", {"05B": 1.0}),
        ("1404", {"21X": 1.0}), ("0602", {"04B": 1.0}),
    ],
)  # fmt: skip
def test_bnf_published_rows_and_splits(prefix, parts):
    rows = [r for r in d.programme_bnf().to_pylist() if r["bnf_prefix"] == prefix]
    assert {r["pbc"]: round(float(r["share"]), 4) for r in rows} == parts
    assert {r["verified"] for r in rows} == {"yes"}


@pytest.mark.parametrize(
    ("code", "programme"),
    [
        ("0205051R0AAAAAA", "circulation"), ("0403030E0AAAAAA", "mental_health"),
        ("0408010A0AAAAAA", "neurological"), ("0601", "endocrine_nutritional_metabolic"),
        ("0407020C0AAAAAA", "neurological"),  # codeine: 50% chronic pain, the largest part
        ("0302", "respiratory"), ("1404", "healthy_individuals"), ("12", "other"),
    ],
)  # fmt: skip
def test_bnf_longest_prefix_wins(code, programme):
    assert d.bnf_programme(code) == programme


def test_every_bnf_presentation_has_a_programme():
    codes = set(refdata.bnf()["presentation_code"].to_pylist())
    assert {d.bnf_programme(c) for c in codes} <= set(PROGRAMME_IDS)


def test_bnf_code_outside_every_chapter_is_an_error():
    with pytest.raises(KeyError):
        d.bnf_programme("99")


# --- community, mental health teams, ECDS --------------------------------------------------------


def test_every_community_currency_has_a_prefix():
    prefixes = d.programme_community()["currency_prefix"].to_pylist()
    assert len(prefixes) == len(set(prefixes))
    currencies = {r["currency"] for r in _synth("community_services.csv")}
    currencies |= _ncc_currencies(
        "Community Health Service", "Audiology Community Health Services", "Wheelchair Equipment"
    )
    assert len(currencies) > 100
    for c in currencies:
        assert any(c.startswith(p) for p in prefixes), f"{c} matches no prefix"


@pytest.mark.parametrize(
    ("currency", "programme"),
    [
        ("N01A", "maternity_reproductive"), ("N03G", "healthy_individuals"),
        ("N05CO", "healthy_individuals"), ("N15AF", "endocrine_nutritional_metabolic"),
        ("N08AF", "respiratory"), ("N11AF", "circulation"), ("A08A1", "musculoskeletal"),
        ("A09A", "musculoskeletal"), ("A09C", "endocrine_nutritional_metabolic"),
        ("N02AF", "other"), ("DCF10", "circulation"), ("DCF20", "other"), ("AS01", "hearing"),
        ("XYZ", "other"),
    ],
)  # fmt: skip
def test_community_programme(currency, programme):
    assert d.community_programme(currency) == programme


def test_every_mental_health_currency_is_listed():
    t = d.programme_mh_team()
    codes = t["code"].to_pylist()
    assert len(codes) == len(set(codes))
    needed = {r["currency"] for r in _synth("mental_health_teams.csv")} | {"IP"}
    needed |= _ncc_currencies(
        "Mental Health Care Contact",
        "Mental Health Provider Spell",
        "NHS Talking Therapy Care Contact",
    )
    assert needed - set(codes) == set()
    for row in t.to_pylist():
        if "learning disab" in row["name"].lower():
            assert row["programme"] == "learning_disability", row["code"]


@pytest.mark.parametrize(
    ("code", "programme"),
    [
        ("A06", "mental_health"), ("IP", "mental_health"), ("E01", "learning_disability"),
        ("B02", "learning_disability"), ("205MHPS", "learning_disability"),
        ("E02", "neurological"), ("Q99", "mental_health"),
    ],
)  # fmt: skip
def test_mh_team_programme(code, programme):
    assert d.mh_team_programme(code) == programme


def test_ecds_diagnoses_by_their_etos_group():
    t = d.programme_ecds().to_pylist()
    listed = {r["snomed_code"] for r in t}
    assert len(listed) == len(t)
    assert {r["snomed_code"] for r in _synth("ecds_diagnoses.csv")} - listed == set()
    # one condition per ETOS group, except codes placed one by one (mixed groups)
    by_group: dict[str, set[str]] = {}
    for r in t:
        if r["ecds_group2"] and not r["note"]:
            by_group.setdefault(r["ecds_group2"], set()).add(r["ae_diagnosis"])
    assert all(len(v) == 1 for v in by_group.values()), {
        k: v for k, v in by_group.items() if len(v) > 1
    }
    assert all(r["verified"] == "no" for r in t)  # the group -> condition step is phm's


@pytest.mark.parametrize(
    ("snomed", "programme"),
    [
        ("230690007", "circulation"),  # stroke: cerebro-vascular condition, 10B
        ("233604007", "respiratory"),  # pneumonia: respiratory group
        ("90176007", "other"),  # tonsillitis: ENT, which the DH A&E sheet puts in 23X
        ("128045006", "other"),  # cellulitis: local infection, 23X on the DH A&E sheet
        ("4120002", "respiratory"),  # bronchiolitis: paediatric group, placed by code
        ("1", "other"),
    ],
)  # fmt: skip
def test_ecds_programme(snomed, programme):
    assert d.ecds_programme(snomed) == programme


# --- Charlson (Quan 2005 ICD-10, Charlson 1987 weights) ------------------------------------------

# Our category names for those of the R package `comorbidity` (ellessenne/comorbidity,
# data-raw/make-mapping.R and make-weights.R), whose Quan 2005 mapping and 1987 weights are
# transcribed below as an independent cross-check.
COMORBIDITY_NAMES = {
    "ami": "myocardial_infarction", "chf": "congestive_heart_failure",
    "pvd": "peripheral_vascular_disease", "cevd": "cerebrovascular_disease",
    "dementia": "dementia", "copd": "chronic_pulmonary_disease", "rheumd": "rheumatic_disease",
    "pud": "peptic_ulcer_disease", "mld": "mild_liver_disease",
    "diab": "diabetes_without_chronic_complication", "diabwc": "diabetes_with_chronic_complication",
    "hp": "hemiplegia_paraplegia", "rend": "renal_disease", "canc": "any_malignancy",
    "msld": "moderate_severe_liver_disease", "metacanc": "metastatic_solid_tumour", "aids": "aids_hiv",
}  # fmt: skip

# (category, ICD-10 prefix, Charlson 1987 weight): rows of ellessenne/comorbidity's Quan 2005
# mapping, transcribed from shared/testvectors/reference-lists/charlson_quan2005_icd10.csv.
COMORBIDITY_ROWS = [
    ("ami", "I252", 1), ("chf", "I099", 1), ("chf", "P290", 1), ("pvd", "Z959", 1),
    ("cevd", "H340", 1), ("dementia", "F051", 1), ("copd", "J684", 1), ("rheumd", "M360", 1),
    ("pud", "K28", 1), ("mld", "Z944", 1), ("diab", "E149", 1), ("diabwc", "E107", 2),
    ("hp", "G114", 2), ("rend", "Z992", 2), ("canc", "C97", 2), ("msld", "I982", 3),
    ("metacanc", "C80", 6), ("aids", "B24", 6),
]  # fmt: skip

# Number of prefixes per category in the same mapping.
COMORBIDITY_COUNTS = {
    "ami": 3, "chf": 14, "pvd": 13, "cevd": 13, "dementia": 7, "copd": 21, "rheumd": 9, "pud": 4,
    "mld": 19, "diab": 25, "diabwc": 25, "hp": 12, "rend": 22, "canc": 83, "msld": 11,
    "metacanc": 4, "aids": 4,
}  # fmt: skip

CHARLSON_1987 = {
    "myocardial_infarction": 1, "congestive_heart_failure": 1, "peripheral_vascular_disease": 1,
    "cerebrovascular_disease": 1, "dementia": 1, "chronic_pulmonary_disease": 1,
    "rheumatic_disease": 1, "peptic_ulcer_disease": 1, "mild_liver_disease": 1,
    "diabetes_without_chronic_complication": 1, "diabetes_with_chronic_complication": 2,
    "hemiplegia_paraplegia": 2, "renal_disease": 2, "any_malignancy": 2,
    "moderate_severe_liver_disease": 3, "metastatic_solid_tumour": 6, "aids_hiv": 6,
}  # fmt: skip


def test_charlson_matches_the_comorbidity_package_rows():
    rows = {(r["category"], r["icd10_prefix"]): r["weight"] for r in d.charlson_codes().to_pylist()}
    for cat, prefix, weight in COMORBIDITY_ROWS:
        assert rows[(COMORBIDITY_NAMES[cat], prefix)] == weight, (cat, prefix)
    counts: dict[str, int] = {}
    for cat, _ in rows:
        counts[cat] = counts.get(cat, 0) + 1
    assert counts == {COMORBIDITY_NAMES[k]: n for k, n in COMORBIDITY_COUNTS.items()}


def test_charlson_weights_and_hierarchy():
    t = d.charlson_codes().to_pylist()
    assert {r["category"]: r["weight"] for r in t} == CHARLSON_1987
    groups: dict[str, set[str]] = {}
    for r in t:
        groups.setdefault(r["hierarchy_group"], set()).add(r["category"])
    shared = {g: cats for g, cats in groups.items() if len(cats) > 1}
    assert shared == {
        "liver_disease": {"mild_liver_disease", "moderate_severe_liver_disease"},
        "diabetes": {"diabetes_without_chronic_complication", "diabetes_with_chronic_complication"},
        "malignancy": {"any_malignancy", "metastatic_solid_tumour"},
    }
    # no prefix of one category is a prefix of another's (a code falls in at most one)
    for a in t:
        for b in t:
            if a["category"] != b["category"]:
                assert not b["icd10_prefix"].startswith(a["icd10_prefix"]), (a, b)
    assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9]?", r["icd10_prefix"]) for r in t)


@pytest.mark.parametrize(
    ("codes", "score"),
    [
        ([], 0),
        (["I219"], 1),  # acute MI
        (["I21.9", "I22", "I252"], 1),  # one category counts once, dotted or not
        (["E119"], 1),  # diabetes without chronic complication
        (["E119", "E112"], 2),  # with complication (2) outranks without (1)
        (["C509"], 2),  # breast cancer
        (["C61X"], 2),  # HES filler X
        (["C509", "C787"], 6),  # metastatic (6) outranks any malignancy (2)
        (["K703"], 1),  # alcoholic cirrhosis: mild liver disease
        (["K703", "K721"], 3),  # chronic hepatic failure: moderate/severe (3) outranks mild
        # CHF 1 + MI 1 + COPD 1 + renal 2 + hemiplegia 2
        (["I500", "I214", "J449", "N185", "G819"], 7),
        (["C787", "B200"], 12),  # metastatic 6 + AIDS 6
        (["Z992", "N185"], 2),  # dialysis and CKD: renal disease once
        # hypertension, skin cancer C44 (excluded), I25.1, F05.0, obesity: none; K70.1 mild liver
        (["I10X", "C44", "C443", "I251", "F050", "E660", "K701"], 1),
        (["i21.9"], 1),  # case is ignored
    ],
)
def test_charlson_score_spec(codes, score):
    assert d.charlson_score(codes) == score


def test_charlson_maximum_is_29():
    # one code in every category: 8 one-point categories, liver 3, diabetes 2, hemiplegia 2,
    # renal 2, malignancy 6 and AIDS 6 (Charlson 1987 with the hierarchy)
    one_code_each = {r["category"]: r["icd10_prefix"] for r in d.charlson_codes().to_pylist()}
    assert d.charlson_score(one_code_each.values()) == 29


# --- Cambridge Multimorbidity Score --------------------------------------------------------------

# General-outcome weights as in shared/testvectors/reference-lists/
# cambridge_multimorbidity_20cond_general_weights_UNVERIFIED.csv (a public ehrQL study's
# implementation of Payne et al., CMAJ 2020), transcribed.
CMS_REFERENCE = {
    "dementia": 2.5, "cancer": 1.53, "copd": 1.46, "atrial_fibrillation": 1.34,
    "constipation": 1.12, "hearing_loss": 0.09, "hypertension": 0.08,
}  # fmt: skip


def test_cms_conditions():
    t = d.cms_weights()
    rows = {r["condition"]: r for r in t.to_pylist()}
    assert len(rows) == t.num_rows == 20
    for cond, w in CMS_REFERENCE.items():
        assert rows[cond]["weight"] == pytest.approx(w)
    assert all(0 < r["weight"] < 3 for r in rows.values())
    ids = {c.id for c in refdata.conditions()}
    assert {r["phm_condition"] for r in rows.values()} - {""} <= ids
    blank = {c for c, r in rows.items() if not r["phm_condition"]}
    assert blank == {
        "alcohol_problems", "hearing_loss", "irritable_bowel_syndrome", "constipation",
        "painful_condition",
    }  # fmt: skip
    assert all("UNVERIFIED" in r["note"] for r in rows.values())
