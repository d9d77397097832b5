"""Each loader returns its documented schema, row count and known values."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import phm.refdata as refdata

S, F64, I8, I16, I32 = pa.string(), pa.float64(), pa.int8(), pa.int16(), pa.int32()

IMD2025_DOMAINS = (
    "income",
    "employment",
    "education",
    "health",
    "crime",
    "housing_and_services",
    "environment",
)
IMD2025_SCHEMA = [("lsoa21_code", S)] + [
    (f"{d}_{part}", t)
    for d in ("imd", *IMD2025_DOMAINS)
    for part, t in (("rank", I32), ("decile", I8), ("score", F64))
]
WP = ("ga_wp", "cs_wp", "mh_wp", "mat_wp", "health_ineq_wp", "prescr_wp", "final_wp", "pmc_wp")
BNF_LEVELS = ("chapter", "section", "paragraph", "subparagraph", "chemical", "product")

# loader -> (schema, rows); rows from MANIFEST.md unless noted.
EXPECTED = {
    "imd2019": (
        [
            ("lsoa11_code", S),
            ("lsoa11_name", S),
            ("lad19_code", S),
            ("lad19_name", S),
            ("imd_rank", I32),
            ("imd_decile", I8),
            ("imd_score", F64),
        ],
        32_844,
    ),
    "imd2025": (IMD2025_SCHEMA, 33_755),
    "lsoa21_icb": (
        [
            (c, S)
            for c in (
                "lsoa21_code",
                "lsoa21_name",
                "sicbl24_code",
                "sicbl24_code_nhs",
                "sicbl24_name",
                "icb24_code",
                "icb24_code_nhs",
                "icb24_name",
            )
        ],
        33_755,
    ),
    "lsoa21_lad": ([("lsoa21_code", S), ("ltla24_code", S), ("ltla24_name", S)], 35_672),
    "lsoa11_geography": (
        [
            (c, S)
            for c in (
                "lsoa11_code",
                "sicbl22_code_nhs",
                "icb22_code_nhs",
                "ltla22_code",
                "ltla22_name",
            )
        ],
        32_844,
    ),
    "lsoa11_to_lsoa21": ([("lsoa11_code", S), ("lsoa21_code", S), ("change_code", S)], 35_795),
    "lsoa21_population": ([("lsoa21_code", S), ("population", F64)], 33_755),
    "practices": (
        [
            ("practice_code", S),
            ("practice_name", S),
            ("postcode", S),
            ("icb_code", S),
            ("icb_name", S),
            ("region_code", S),
            ("lad_code", S),
            ("lad_name", S),
            ("registered_population", F64),
            *[(c, F64) for c in (*WP, "final_pmc_wp")],
            ("pcn_code", S),
            ("pcn_name", S),
            ("sub_icb_code", S),
            ("sub_icb_name", S),
        ],
        6_348,
    ),
    "ncc_unit_costs": (
        [
            ("department_code", S),
            ("currency_code", S),
            ("currency_desc", S),
            ("activity", F64),
            ("unit_cost", F64),
            ("cost", F64),
        ],
        13_362,
    ),
    "hrg_trimpoints": (
        [("hrg_code", S), ("elective_trimpoint", I32), ("emergency_trimpoint", I32)],
        2_312,
    ),
    # 14,249 Athena ICD-10 codes less 5-character subdivisions and WHO-deleted codes
    "icd10": (
        [
            (c, S)
            for c in (
                "code",
                "code_hes",
                "description",
                "chapter",
                "chapter_name",
                "block",
                "block_name",
            )
        ],
        12_297,
    ),
    # 11,000 Athena OPCS-4 concepts less 6 retired codes
    "opcs4": (
        [(c, S) for c in ("code", "code_compact", "description", "chapter", "chapter_name")],
        10_994,
    ),
    "bnf": (
        [(c, S) for level in (*BNF_LEVELS, "presentation") for c in (f"{level}_code", level)],
        54_879,
    ),
    "esp2013": ([("age_band", S), ("age_lower", I16), ("esp2013", F64)], 19),
    "england_population_by_age": ([("age", I16), ("persons", F64)], 91),
    "england_sex_by_broad_age": ([("sex", S), ("age_group", S), ("persons", F64)], 8),
    "ethnic_categories": ([("code", S), ("description", S), ("broad_group", S)], 21),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_schema_and_rows(name):
    schema, rows = EXPECTED[name]
    table = getattr(refdata, name)()
    assert isinstance(table, pa.Table)
    assert [(f.name, f.type) for f in table.schema] == schema
    assert table.num_rows == rows
    assert getattr(refdata, name)() is table, "loaders are cached"
    assert getattr(refdata, name).__doc__ and "Source" in getattr(refdata, name).__doc__


def test_condition_codelists_schema():
    table = refdata.condition_codelists()
    assert table.column_names == [
        "condition",
        "vocabulary",
        "code",
        "description",
        "source",
        "is_prefix",
    ]
    assert table.schema.field("is_prefix").type == pa.bool_()
    assert set(table["vocabulary"].to_pylist()) == {"SNOMED", "ICD10"}


def _row(table: pa.Table, column: str, value: str) -> dict:
    rows = table.filter(pc.equal(table[column], value)).to_pylist()
    assert len(rows) == 1, f"{value}: {len(rows)} rows"
    return rows[0]


def test_imd2019_spot_values():
    row = _row(refdata.imd2019(), "lsoa11_code", "E01000001")
    assert row["imd_score"] == pytest.approx(6.208)
    assert row["imd_decile"] == 9
    assert row["imd_rank"] == 29_199  # published as "29,199"
    assert row["lad19_name"] == "City of London"


@pytest.mark.parametrize("loader", ["imd2019", "imd2025"])
def test_imd_deciles_ranks_and_codes(loader):
    table = getattr(refdata, loader)()
    deciles = [c for c in table.column_names if c.endswith("_decile")]
    for col in deciles:
        assert table[col].null_count == 0
        assert sorted(pc.unique(table[col]).to_pylist()) == list(range(1, 11)), col
    n = table.num_rows
    assert pc.min(table["imd_rank"]).as_py() == 1
    assert pc.max(table["imd_rank"]).as_py() == n
    assert table["imd_score"].null_count == 0
    code = table.column_names[0]
    assert pc.count_distinct(table[code]).as_py() == n
    assert pc.all(pc.starts_with(table[code], "E01")).as_py()


def test_imd2025_spot_values():
    row = _row(refdata.imd2025(), "lsoa21_code", "E01000001")
    assert (row["imd_rank"], row["imd_decile"], row["imd_score"]) == (26_525, 8, 8.742)
    assert row["environment_decile"] == 1


def test_lsoa21_icb_counts():
    table = refdata.lsoa21_icb()
    assert pc.count_distinct(table["icb24_code_nhs"]).as_py() == 42
    assert pc.count_distinct(table["icb24_code"]).as_py() == 42
    assert pc.count_distinct(table["sicbl24_code_nhs"]).as_py() == 106
    assert pc.count_distinct(table["lsoa21_code"]).as_py() == table.num_rows


def test_lsoa21_lad_one_row_per_lsoa_in_england_and_wales():
    table = refdata.lsoa21_lad()
    assert pc.count_distinct(table["lsoa21_code"]).as_py() == table.num_rows
    english = set(refdata.lsoa21_icb()["lsoa21_code"].to_pylist())
    assert english <= set(table["lsoa21_code"].to_pylist())
    assert {c[0] for c in table["lsoa21_code"].to_pylist()} == {"E", "W"}


def test_lsoa11_to_lsoa21_change_codes():
    table = refdata.lsoa11_to_lsoa21()
    assert set(table["change_code"].to_pylist()) == {"U", "S", "M", "X"}


def test_lsoa21_population_preserves_the_iod_total():
    pop = refdata.lsoa21_population()
    iod_total = pc.sum(refdata.iod2019_population()["population"]).as_py()
    assert iod_total == 54_728_204
    assert pc.sum(pop["population"]).as_py() == pytest.approx(iod_total, rel=1e-12)
    assert pop["population"].null_count == 0
    assert pc.min(pop["population"]).as_py() > 0
    assert pop["lsoa21_code"].to_pylist() == refdata.lsoa21_icb()["lsoa21_code"].to_pylist()
    # unchanged LSOA: copied
    assert _row(pop, "lsoa21_code", "E01000001")["population"] == 1_296


def test_practices_final_pmc_weighting():
    """NHS England methods note: Final PMC WP = 0.85 x PMC WP + 0.15 x Health Ineq WP.

    The published weighted populations carry about 10 significant figures; the largest
    relative discrepancy in 2025/26 is 4e-9, so 1e-7 is tight but safe.
    """
    table = refdata.practices()
    for row in table.select(["pmc_wp", "health_ineq_wp", "final_pmc_wp"]).to_pylist():
        expected = 0.85 * row["pmc_wp"] + 0.15 * row["health_ineq_wp"]
        assert math.isclose(row["final_pmc_wp"], expected, rel_tol=1e-7, abs_tol=1e-6), row


def test_practices_codes_and_join():
    table = refdata.practices()
    assert pc.count_distinct(table["practice_code"]).as_py() == table.num_rows
    assert set(table["icb_code"].to_pylist()) == refdata.known_icb_codes()
    assert table["registered_population"].null_count == 0
    # practices missing from the 2023-24 structures have no PCN (none in QWU)
    assert table["pcn_code"].null_count == 81
    assert table["sub_icb_code"].null_count == 81


def test_ncc_codes_are_trimmed_and_suppressed_values_null():
    table = refdata.ncc_unit_costs()
    for col in ("department_code", "currency_code", "currency_desc"):
        assert pc.all(pc.equal(table[col], pc.utf8_trim_whitespace(table[col]))).as_py()
    assert table["unit_cost"].null_count > 0
    assert (
        _row(table.filter(pc.equal(table["department_code"], "Ambulance")), "currency_code", "01")[
            "currency_desc"
        ]
        == "Hear & Treat"
    )


def test_hrg_trimpoints_values():
    row = _row(refdata.hrg_trimpoints(), "hrg_code", "AA22C")
    assert (row["elective_trimpoint"], row["emergency_trimpoint"]) == (90, 257)
    assert _row(refdata.hrg_trimpoints(), "hrg_code", "LA97B")["emergency_trimpoint"] is None


def test_icd10_codes_chapters_and_blocks():
    table = refdata.icd10()
    assert pc.count_distinct(table["code"]).as_py() == table.num_rows
    assert pc.count_distinct(table["chapter"]).as_py() == 22
    row = _row(table, "code", "J44.1")
    assert row["code_hes"] == "J441"
    assert (row["chapter"], row["block"]) == ("X", "J40-J47")
    assert row["chapter_name"] == "Diseases of the respiratory system"
    row = _row(table, "code", "I10")
    assert (row["code_hes"], row["chapter"], row["block"]) == ("I10X", "IX", "I10-I15")
    # the narrowest block wins over a containing super-block (C00-C97)
    assert _row(table, "code", "C00.1")["block"] == "C00-C14"
    assert pc.all(pc.equal(pc.utf8_length(table["code_hes"]), 4)).as_py()
    for col in table.column_names:
        assert table[col].null_count == 0


def test_opcs4_codes():
    table = refdata.opcs4()
    row = _row(table, "code", "W37.1")
    assert (row["code_compact"], row["chapter"]) == ("W371", "W")
    assert row["chapter_name"] == "Other bones and joints"
    assert "hip" in row["description"]


def test_bnf_codes_stay_text():
    row = refdata.bnf().slice(0, 1).to_pylist()[0]
    assert (row["chapter_code"], row["section_code"]) == ("01", "0101")
    assert len(row["presentation_code"]) == 15


def test_esp2013_bands():
    table = refdata.esp2013()
    assert pc.sum(table["esp2013"]).as_py() == 100_000
    assert table["age_lower"].to_pylist() == list(range(0, 95, 5))
    assert table["age_band"].to_pylist()[-1] == "90+"


def test_england_populations():
    by_age = refdata.england_population_by_age()
    assert by_age["age"].to_pylist() == list(range(91))
    assert pc.sum(by_age["persons"]).as_py() == 56_550_138  # ONS mid-2020, England
    sex = refdata.england_sex_by_broad_age()
    totals = sex.filter(pc.equal(sex["age_group"], "total"))
    assert pc.sum(totals["persons"]).as_py() == 56_490_040  # Census 2021, England


def test_ethnic_categories():
    table = refdata.ethnic_categories()
    assert _row(table, "code", "A")["description"] == "British"
    assert _row(table, "code", "99")["broad_group"] == "Not known"
