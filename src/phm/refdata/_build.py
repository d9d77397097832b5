"""Maintainer tool: rebuild ``phm/refdata/data`` from the reference-data drop.

Run ``python -m phm.refdata._build /work/shared/refdata`` (the directory holding
``MANIFEST.md``). It copies, trims and gzips the files the package needs and writes
``data/provenance.csv`` from :data:`SPECS`, so the provenance table always describes
exactly what was built. The condition code lists copied are those named in the
hand-written ``data/conditions.csv``. Values are never changed: the only conversions are
dropping columns, dropping documented rows, re-encoding text to UTF-8 and gzip.
Gzip uses ``gzip -n -9`` so rebuilt bytes are identical.

The loaders never import this module.
"""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")
GZIP_OVER_BYTES = 200_000

OGL = "Open Government Licence v3.0"


@dataclass(frozen=True)
class Spec:
    """One shipped file: where it comes from and how it is converted."""

    file: str  # path under data/
    src: str  # path under the drop directory
    dataset: str
    source: str  # repo@commit:path
    publisher: str
    licence: str
    vintage: str
    notes: str
    keep: tuple[str, ...] | None = None  # columns to keep, in source order (None: all)
    row_filter: Callable[[dict[str, str]], bool] | None = field(default=None, compare=False)
    encoding: str = "utf-8-sig"


# --- condition code lists --------------------------------------------------------
# data/conditions.csv is the hand-written source of truth for the condition
# definitions; the build copies exactly the code-list files it names.


def _condition_files() -> tuple[list[str], list[str]]:
    with (DATA_DIR / "conditions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    refsets = sorted({x for r in rows for x in r["snomed_refsets"].split(";") if x})
    icd = sorted({x for r in rows for x in r["icd10_codelists"].split(";") if x})
    return refsets, icd


PCD_SOURCE = "opensafely/deaths-at-home-covid19@b0cf90c:codelists/"
MLTC_SOURCE = "rprigge-uoe/mltc-codelists@9b53dee:"
PCD_NOTE = (
    "NHS Digital Primary Care Domain refset {r} (QOF register cluster), as published on "
    "OpenCodelists; SNOMED CT codes with terms"
)


def _specs() -> list[Spec]:
    imd = "anetobradley/energy_flex@709f2f8:02-EnergyModel/Energy_Intensity_Analysis/data/imd/"
    hv_imd = "humaniverse/IMD@2f6c905:data/"
    geo = "humaniverse/geographr@c026be5:data/"
    specs = [
        Spec(
            "deprivation/iod2019_file1_imd_lsoa11.csv.gz",
            "deprivation/File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv.gz",
            "English Indices of Deprivation 2019, File 1: IMD rank and decile by LSOA 2011",
            imd + "File_1_-_IMD2019_Index_of_Multiple_Deprivation.csv",
            "MHCLG",
            OGL,
            "IoD2019 (published 2019-09), LSOA 2011, LAD 2019",
            "Unchanged (regzipped). Ranks are text with thousands separators; imd2019() parses them.",
        ),
        Spec(
            "deprivation/iod2019_file6_population_lsoa11.csv.gz",
            "deprivation/File_6_-_IoD2019_Population_Denominators.csv.gz",
            "English Indices of Deprivation 2019, File 6: population denominators by LSOA 2011",
            imd + "File_6_-_IoD2019_Population_Denominators.csv",
            "MHCLG (ONS mid-2015 population estimates, excluding prisoners)",
            OGL,
            "IoD2019; populations mid-2015",
            "Dropped LSOA name, LAD code and LAD name (duplicated in File 1). All rows kept.",
            keep=(
                "LSOA code (2011)",
                "Total population: mid 2015 (excluding prisoners)",
                "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
                "Population aged 16-59: mid 2015 (excluding prisoners)",
                "Older population aged 60 and over: mid 2015 (excluding prisoners)",
                "Working age population 18-59/64: for use with Employment Deprivation Domain "
                "(excluding prisoners)",
            ),
        ),
        Spec(
            "deprivation/uk_imd_e_scores.csv.gz",
            "deprivation/UK_IMD_E.csv",
            "IMD 2019 scores (England: overall_local_score is the published IMD2019 score)",
            "mysociety/composite_uk_imd@af4866b:data/packages/uk_index/UK_IMD_E.csv",
            "mySociety, derived from MHCLG / Welsh Government / Scottish Government / NISRA",
            "CC-BY-4.0 (data package); source indices OGL",
            "IoD2019 (England), WIMD2019, SIMD2020, NIMDM2017",
            "Kept nation, lsoa, overall_local_score, income_score, employment_score; dropped "
            "the UK composite index columns (UK_IMD_E_*, original_decile, E_expanded_decile). "
            "All rows (all four nations) kept.",
            keep=("nation", "lsoa", "overall_local_score", "income_score", "employment_score"),
        ),
        Spec(
            "deprivation/imd2025_england_lsoa21.csv.gz",
            "deprivation/imd2025_england_lsoa21.csv.gz",
            "English Indices of Deprivation 2025: IMD and 7 domains by LSOA 2021",
            hv_imd + "imd2025_england_lsoa21.rda",
            "MHCLG",
            OGL + " (R package code MIT)",
            "IoD2025 (published 2025-10), LSOA 2021",
            "Converted from R .rda to CSV upstream of phm (values unchanged); regzipped here.",
        ),
        Spec(
            "deprivation/imd2025_england_icb24.csv",
            "deprivation/imd2025_england_icb24.csv",
            "English Indices of Deprivation 2025: ICB (April 2024) summary measures",
            hv_imd + "imd2025_england_icb24.rda",
            "MHCLG",
            OGL + " (R package code MIT)",
            "IoD2025 (published 2025-10), ICB April 2024 boundaries",
            "Converted from R .rda to CSV upstream of phm (values unchanged). Kept the ICB code and "
            "name and the IMD average score, average rank and proportion of LSOAs in the most deprived "
            "10% nationally; dropped the domain summaries. Used for similar-ICB peer groups.",
            keep=("icb24_code", "icb24_name", "imd_average_rank", "imd_average_score",
                  "imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally"),
        ),
        Spec(
            "geography/lookup_lsoa21_icb24.csv.gz",
            "geography_lookups/lookup_lsoa21_icb24.csv",
            "LSOA 2021 to sub-ICB location to ICB (April 2024)",
            geo + "lookup_lsoa21_icb24.rda",
            "ONS Open Geography Portal",
            OGL + " (R package code MIT)",
            "April 2024",
            "Converted from .rda to CSV upstream (values unchanged); gzipped.",
        ),
        Spec(
            "geography/lookup_lsoa21_ltla24.csv.gz",
            "geography_lookups/lookup_lsoa21_ward24_ltla24.csv",
            "LSOA 2021 to lower-tier local authority (2024), England and Wales",
            geo + "lookup_lsoa21_ward24_ltla24.rda",
            "ONS Open Geography Portal",
            OGL + " (R package code MIT)",
            "2024 (wards and LTLAs, May 2024)",
            "Converted from .rda upstream. Dropped lsoa21_name, ward24_name and ward24_code; "
            "all rows kept; gzipped.",
            keep=("lsoa21_code", "ltla24_name", "ltla24_code"),
        ),
        Spec(
            "geography/lookup_lsoa11_sicbl22_icb22_ltla22.csv.gz",
            "geography_lookups/lookup_lsoa11_sicbl22_icb22_ltla22.csv.gz",
            "LSOA 2011 to sub-ICB location to ICB to LAD (July 2022)",
            geo + "lookup_lsoa11_sicbl22_icb22_ltla22.rda",
            "ONS Open Geography Portal",
            OGL + " (R package code MIT)",
            "July 2022",
            "Converted from .rda upstream (values unchanged); regzipped. "
            "sicbl22_code_h / icb22_code_h are the ODS (NHS) codes.",
        ),
        Spec(
            "geography/lookup_lsoa11_lsoa21_ltla22.csv.gz",
            "geography_lookups/lookup_lsoa11_lsoa21_ltla22.csv",
            "LSOA 2011 to LSOA 2021 to LAD 2022 (v2), with U/S/M/X change codes",
            geo + "lookup_lsoa11_lsoa21_ltla22.rda",
            "ONS Open Geography Portal",
            OGL + " (R package code MIT)",
            "2022 (v2)",
            "Converted from .rda upstream. Dropped lsoa11_name and lsoa21_name; all rows kept; "
            "gzipped.",
            keep=("lsoa11_code", "change_code", "lsoa21_code", "ltla22_name", "ltla22_code"),
        ),
        Spec(
            "practices/gp_allocations_2025_26.csv.gz",
            "gp_practices_allocations/2025_2026.csv",
            "ICB allocations 2025/26: GP practice registered and weighted populations",
            "nhsengland/ICB_Allocation_Tool_update@28f478b:data/2025_2026.csv",
            "NHS England",
            OGL,
            "2025/26 allocations; registered populations Nov 2023 to Oct 2024 (projected)",
            "Unchanged apart from gzip. CCG, Former CCG, PCN_Code, PCN_Name, LOC, LOCname, LA, "
            "UTLA and Patients are empty in this vintage.",
        ),
        Spec(
            "practices/structures_2023_24.csv.gz",
            "gp_practices_allocations/structures_2023_2024.csv",
            "QOF 2023-24 MAPPING_NHS_GEOGRAPHIES: practice to PCN to sub-ICB to ICB to region",
            "wylie102/QOF-visualisation@febccd2:src/QOF_visualisation/sources/"
            "structures_2023_2024.parquet",
            "NHS England (QOF 2023-24)",
            OGL + " (repository MIT)",
            "QOF 2023-24 (practices as at March 2024)",
            "Converted from parquet to CSV upstream (values unchanged); gzipped.",
        ),
        Spec(
            "costs/ncc_2024_25.csv.gz",
            "costs/ncc_2024_25.csv",
            "National Cost Collection, National Schedule 2024/25 (unit costs by currency)",
            "NICE-Data-and-Analytics/COSTmos@6a11fa0:data/ncc.rda",
            "NHS England",
            OGL + " (repository MIT)",
            "2024/25",
            "Converted from .rda upstream (values unchanged); gzipped. Suppressed values are "
            "empty (null).",
        ),
        Spec(
            "costs/hrg_trimpoints.csv",
            "costs/hrg_trimpoints.csv",
            "HRG length-of-stay trim points (elective and emergency)",
            "The-Strategy-Unit/nhp_data@cff9dde:src/nhp/data/raw_data/mitigators/"
            "reference_data/hrg_trimpoints.csv",
            "NHS England (National Tariff / NHS Payment Scheme), via The Strategy Unit",
            "MIT (© NHS England)",
            "Not stated by the source (NHS Payment Scheme era)",
            "Unchanged. '-' means no trim point.",
        ),
        Spec(
            "codelists/athena_icd10_opcs4_2025.csv.gz",
            "codelists/2025_ICD10_OPCS4.csv",
            "ICD-10 and OPCS-4 concepts (with ICD-10 chapters and blocks) from OHDSI Athena",
            "londonaicentre/PhenoLab@d4a1276:phenolab/data/athena/2025_ICD10_OPCS4.parquet",
            "OHDSI Athena vocabulary export; WHO (ICD-10), NHS England (OPCS-4)",
            "ICD-10 © WHO; OPCS-4 © NHS England (Crown copyright); repository has no licence. "
            "Check terms before redistributing outside the NHS.",
            "Athena export 2025 (WHO ICD-10 with COVID-19 U-code updates; OPCS-4)",
            "Converted from parquet upstream. Kept vocabulary_id, concept_class_id, "
            "concept_code, concept_name; dropped concept_id, domain_id, standard_concept, "
            "valid dates and invalid_reason. Dropped the 469 rows with invalid_reason='D' "
            "(351 code-less 'Invalid ICD10 Concept' placeholders, 112 ICD-10 codes deleted by "
            "WHO such as C83.2 and N18.0, 6 retired OPCS-4 codes); 27,169 rows kept; gzipped.",
            keep=("concept_name", "vocabulary_id", "concept_class_id", "concept_code"),
            row_filter=lambda r: r["invalid_reason"] != "D",
        ),
        Spec(
            "codelists/bnf_code_information_20241101.csv.gz",
            "codelists/20241101_1730476037387_BNF_Code_Information.csv.gz",
            "BNF code information: chapter to presentation hierarchy",
            "londonaicentre/PhenoLab@0847e2c:.../bsa_bnf/20241101_bsa_bnf.zip",
            "NHS Business Services Authority",
            OGL,
            "2024-11-01",
            "Unzipped and gzipped upstream (values unchanged); regzipped.",
        ),
        Spec(
            "codelists/ethnicity_categories.csv",
            "codelists/ethnicity_categories.csv",
            "NHS Data Dictionary ethnic category codes with broad groups",
            "bhfdschds/hds_jf_pipeline_dev@2321e51:hds_reference_data/ethnicity_categories.csv",
            "NHS England (NHS Data Dictionary), via BHF Data Science Centre",
            "Not stated (NHS Data Dictionary content is OGL)",
            "2001 census categories A-S, Z; 99 (2013 onwards); plus T, W, X",
            "Unchanged. T (Traveller) and W (Arab) are 2021-census-style additions and X "
            "(not known, before 2013) is legacy; none is a current NHS Data Dictionary code.",
        ),
        Spec(
            "codelists/mltc_icd10/dictionary.csv",
            "codelists/mltc_rprigge/dictionary.csv",
            "MLTC code lists: condition to code-list file dictionary",
            MLTC_SOURCE + "dictionary.csv",
            "Prigge R. (University of Edinburgh), adapted from CALIBER / Kuan et al. 2019",
            "MIT",
            "2024-06-06",
            "Unchanged.",
        ),
        Spec(
            "codelists/mltc_icd10/codelists_sources.csv",
            "codelists/mltc_rprigge/codelists_sources.csv",
            "MLTC code lists: source of each code list",
            MLTC_SOURCE + "codelists_sources.csv",
            "Prigge R. (University of Edinburgh)",
            "MIT",
            "2024-06-06",
            "Re-encoded from Windows-1252 to UTF-8 (en dashes, non-breaking spaces, a-umlaut); "
            "text otherwise unchanged.",
            encoding="cp1252",
        ),
        Spec(
            "population/esp2013.csv",
            "population_mortality/esp2013.csv",
            "European Standard Population 2013 (19 age bands, total 100,000)",
            "ukhsa-collaboration/PHEindicatormethods@093fd28:data/esp2013.rda",
            "Eurostat",
            "Public standard (R package GPL-3; the data values are a published standard)",
            "2013",
            "Converted from .rda upstream, with band labels added there. Unchanged here.",
        ),
        Spec(
            "population/population20_ltla21.csv.gz",
            "population_mortality/population20_ltla21.csv",
            "Mid-2020 population estimates by LTLA 2021, single year of age 0-89 and 90+",
            "humaniverse/demographr@d041710:data/population20_ltla21.rda",
            "ONS",
            OGL + " (R package code MIT)",
            "Mid-2020 (before the Census 2021 rebase); persons only",
            "Converted from .rda upstream (values unchanged); gzipped. England and Wales LTLAs.",
        ),
        Spec(
            "population/age_gender21_ltla21_ew.csv",
            "population_mortality/age_gender21_ltla21_ew.csv",
            "Census 2021 population by sex and broad age group, LTLA 2021",
            "humaniverse/demographr@d041710:data/age_gender21_ltla21_ew.rda",
            "ONS (Census 2021)",
            OGL + " (R package code MIT)",
            "Census 2021 (21 March 2021)",
            "Converted from .rda upstream (values unchanged). Caution: younger + working_age + "
            "older is only about 91% of the total; 'older' looks like 65-74 only.",
        ),
    ]
    refsets, icd_files = _condition_files()
    for refset in sorted({*refsets, *REGISTER_REFSETS}):
        specs.append(
            Spec(
                f"codelists/pcd_refsets/{refset}.csv",
                f"codelists/opensafely_pcd_refsets_2021/nhsd-primary-care-domain-refsets-{refset}.csv",
                f"SNOMED CT code list: PCD refset {refset.upper()}",
                PCD_SOURCE + f"nhsd-primary-care-domain-refsets-{refset}.csv",
                "NHS Digital (Primary Care Domain reference sets), via OpenCodelists",
                "OGL / SNOMED CT UK affiliate licence (repository MIT)",
                "PCD refsets 2020-08 / 2021-01 releases",
                PCD_NOTE.format(r=refset.upper()) + ". Unchanged (renamed).",
            )
        )
    for name in icd_files:
        specs.append(
            Spec(
                f"codelists/mltc_icd10/{name}.csv",
                f"codelists/mltc_rprigge/ICD-10/{name}.csv",
                f"ICD-10 code list {name} (MLTC definitions)",
                MLTC_SOURCE + f"ICD-10/{name}.csv",
                "Prigge R. (University of Edinburgh), adapted from CALIBER / Kuan et al. 2019",
                "MIT",
                "2024-06-06",
                "Unchanged.",
            )
        )
    return specs


# GP data-extraction refsets (NHS England SNOMED CT UK edition 2025-01-15) for the Bridges to
# Health disability segment: autism and physical disability (phm.model.segments).
DISABILITY_REFSETS = (
    ("autism", "999016611000230107", "autism diagnoses"),
    ("cerebral_palsy", "999026731000230102", "cerebral palsy diagnoses"),
    ("multiple_sclerosis", "999032531000230107", "multiple sclerosis diagnoses"),
    ("motor_neurone_disease", "999032611000230103", "motor neurone disease diagnoses"),
)


def _disability_spec(name: str, refset: str, what: str) -> Spec:
    return Spec(
        f"codelists/gp_refsets/{name}.csv",
        "codelists/nhs_snomed_refset_definitions.csv.gz",
        f"SNOMED CT code list: GP data extraction {what} simple reference set {refset}",
        "londonaicentre/PhenoLab@d4a1276:extdefinitions/ontoserver (refset definitions parquet)",
        "NHS England (SNOMED CT UK edition, UK NHS primary care data extraction refsets)",
        "SNOMED CT UK affiliate licence (free for UK use)",
        "SNOMED CT UK edition 2025-01-15",
        f"Rows of refset {refset} only; kept CODE and CODE_DESCRIPTION.",
        keep=("CODE", "CODE_DESCRIPTION"),
        row_filter=lambda r, refset=refset: r["CODELIST_ID"] == refset and r["CODE"] != "",
    )


# QOF register clusters beyond the diagnosis refsets of conditions.csv: CKD stage 1-2
# (a later stage 1-2 code takes a person off the CKD 3-5 register) and the palliative
# care register and its "no longer indicated" cluster (phm.model.registers).
REGISTER_REFSETS = ("ckd1and2_cod", "palcare_cod", "palcareni_cod")

# Resolved clusters not in the drop, copied by hand (byte for byte) from the OpenSAFELY
# study repositories that downloaded them from OpenCodelists (version in ``vintage``).
_RESOLVED = (
    ("astres_cod", "opensafely/disease_incidence@8cddc03", "530fc5c8"),
    ("dmres_cod", "opensafely/disease_incidence@8cddc03", "62d83746"),
    ("copdres_cod", "opensafely/disease_incidence@8cddc03", "67806ca0"),
    ("depres_cod", "opensafely/disease_incidence@8cddc03", "1369b693"),
    ("ckdres_cod", "opensafely/disease_incidence@8cddc03", "305aab93"),
    ("hfres_cod", "opensafely/disease_incidence@8cddc03", "627991fd"),
    ("epilres_cod", "opensafely/disease_incidence@8cddc03", "26b50493"),
    ("hypres_cod", "opensafely/winter-pressures-phase-II@b62ac6a", "20250627"),
)
HAND_SPECS = tuple(
    Spec(
        f"codelists/pcd_refsets/{name}.csv",
        "",
        f"SNOMED CT code list: PCD refset {name.upper()} (QOF resolved cluster)",
        f"{repo}:codelists/nhsd-primary-care-domain-refsets-{name}.csv",
        "NHS Digital (Primary Care Domain reference sets), via OpenCodelists",
        "OGL / SNOMED CT UK affiliate licence (repository MIT)",
        f"OpenCodelists nhsd-primary-care-domain-refsets/{name}/{version}"
        " (downloaded 2024-12-31 or later)",
        "Not in the reference-data drop: copied by hand, unchanged (code,term). The QOF "
        "resolved cluster of the register; one code.",
    )
    for name, repo, version in _RESOLVED
)

HAND_SPECS = (
    *HAND_SPECS,
    Spec(
        "prevalence/qof_england_2022_23.csv",
        "",
        "England recorded prevalence of the QOF registers, 2022-23",
        "blackwellrd/shiny_app_example@46dcb85:example001/www/PREVALENCE_2223.csv (NHS England "
        "QOF 2022-23 practice-level prevalence data file, git blob 839b54eb)",
        "NHS England (Quality and Outcomes Framework, 2022-23, published 7 September 2023)",
        OGL,
        "QOF 2022-23 (achievement year ending 31 March 2023)",
        "Derived by hand, not in the drop: REGISTER and PRACTICE_LIST_SIZE summed over England's "
        "6,378 practices per register (GROUP_CODE) on the register's own list type (all ages, 6+, "
        "16+, 17+, 18+ or 50+); prevalence = register / list size. Diabetes, dementia and learning "
        "disability equal OHID Fingertips England 2022/23 exactly.",
    ),
)

HAND_SPECS = (
    *HAND_SPECS,
    Spec(
        "costs/pb_england_shares.csv",
        "",
        "England spend by programme of care (programme budgeting), as far as it could be cited",
        "https://parallelparliament.co.uk/question/205929 (HC written answer PQ 205929, 22 July 2014); "
        "https://parallelparliament.co.uk/question/218879/mental-health-services (PQ 218879); "
        "https://www.parallelparliament.co.uk/question/7936/respiratory-system-diseases (PQ 7936, 11 September "
        "2015); https://publications.parliament.uk/pa/cm201516/cmselect/cmpubacc/502/50204.htm (HC 502, "
        "2015-16); https://www.gov.scot/publications/programme-budgeting-testing-approach-scotland/pages/5/ "
        "(Table 4.1)",
        "Department of Health / NHS England programme budgeting returns, as quoted by Parliament and "
        "the Scottish Government",
        "Open Parliament Licence; OGL (Scottish Government)",
        "PCT returns 2012-13 (programmes 02, 05, 07, 10, 11, 15: 2009-10); English shares of an earlier "
        "year (not stated) for 12, 13, 16, 17 and 23",
        "Transcribed by hand, not in the drop: one row per programme with a cited figure. The national "
        "aggregate file (NHS England, 2003-04 to 2012-13) could not be read; programmes with no cited "
        "figure are absent. Shares of mental health and respiratory divide the quoted spend by the "
        "£94.6bn PCT total implied by PQ 205929.",
    ),
)

SPECS = [*_specs(), *(_disability_spec(*d) for d in DISABILITY_REFSETS)]

CONDITIONS_SPEC = Spec(
    "conditions.csv",
    "",
    "phm long-term condition definitions (which code lists make each condition)",
    "phm (hand-written for this package; names the PCD refsets and MLTC code lists)",
    "phm",
    "MIT (phm)",
    "2025",
    "Definitions as data: one row per condition with its SNOMED refsets and ICD-10 files "
    "(';'-separated). Not derived from a third-party file.",
)

PROVENANCE_COLUMNS = ("file", "dataset", "source", "publisher", "licence", "vintage", "notes")


def _read_text(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode(encoding)


def _rewrite(text: str, spec: Spec) -> str:
    """Keep the columns in ``spec.keep`` and rows passing ``spec.row_filter``."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames is not None
    keep = list(spec.keep) if spec.keep else list(reader.fieldnames)
    missing = set(keep) - set(reader.fieldnames)
    if missing:
        raise SystemExit(f"{spec.src}: columns not found: {sorted(missing)}")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keep)
    for row in reader:
        if spec.row_filter is None or spec.row_filter(row):
            writer.writerow([row[c] for c in keep])
    return out.getvalue()


def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.name.endswith(".gz"):
        gz = subprocess.run(["gzip", "-n", "-9", "-c"], input=data, capture_output=True, check=True)
        dest.write_bytes(gz.stdout)
    else:
        if len(data) > GZIP_OVER_BYTES:
            raise SystemExit(f"{dest.name}: {len(data)} bytes, should be gzipped")
        dest.write_bytes(data)


def _build_file(drop: Path, spec: Spec) -> None:
    src = drop / spec.src
    dest = DATA_DIR / spec.file
    if spec.keep is None and spec.row_filter is None and spec.encoding == "utf-8-sig":
        raw = src.read_bytes()  # unchanged content, bytes and all (BOM kept)
        _write(dest, gzip.decompress(raw) if src.name.endswith(".gz") else raw)
        return
    text = _read_text(src, spec.encoding)
    if spec.keep is not None or spec.row_filter is not None:
        text = _rewrite(text, spec)
    _write(dest, text.encode("utf-8"))


def _write_provenance() -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROVENANCE_COLUMNS)
    for spec in sorted([*SPECS, *HAND_SPECS, CONDITIONS_SPEC], key=lambda s: s.file):
        writer.writerow([getattr(spec, c) for c in PROVENANCE_COLUMNS])
    (DATA_DIR / "provenance.csv").write_text(out.getvalue(), encoding="utf-8")


def build(drop: Path) -> None:
    """Rebuild every shipped data file from the drop directory ``drop``."""
    if not (drop / "MANIFEST.md").is_file():
        raise SystemExit(f"{drop}: no MANIFEST.md; pass the reference-data drop directory")
    for spec in SPECS:
        _build_file(drop, spec)
    _write_provenance()


if __name__ == "__main__":  # pragma: no cover
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/refdata"))
