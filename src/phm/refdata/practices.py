"""GP practices: registered and weighted populations, and NHS structures."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

from phm.refdata._io import lookup, read_csv

S, F64 = pa.string(), pa.float64()

# 2025/26 allocation file column -> returned name (weighted populations).
WEIGHTED_POPULATIONS = {
    "G&A WP": "ga_wp",  # general and acute
    "CS WP": "cs_wp",  # community services
    "MH WP": "mh_wp",  # mental health
    "Mat WP": "mat_wp",  # maternity
    "Health Ineq WP": "health_ineq_wp",  # health inequalities
    "Prescr WP": "prescr_wp",  # prescribing
    "Final WP": "final_wp",  # core services, all components
    "Primary Medical Care WP": "pmc_wp",
    "Final PMC WP": "final_pmc_wp",  # = 0.85 * pmc_wp + 0.15 * health_ineq_wp
}


@lru_cache(maxsize=1)
def practices() -> pa.Table:
    """GP practices with registered and weighted populations (England, 6,348 rows).

    Columns: ``practice_code, practice_name, postcode, icb_code`` (ODS, e.g. ``QWU``),
    ``icb_name, region_code`` (NHS region ODS, e.g. ``Y60``), ``lad_code, lad_name,
    registered_population`` (float64), the weighted populations ``ga_wp, cs_wp, mh_wp,
    mat_wp, health_ineq_wp, prescr_wp, final_wp, pmc_wp, final_pmc_wp`` (float64), then
    ``pcn_code, pcn_name, sub_icb_code`` (ODS, e.g. ``B2M3M``) ``, sub_icb_name``.

    Sources: NHS England ICB allocations 2025/26 practice file
    (nhsengland/ICB_Allocation_Tool_update, ``2025_2026.csv``; populations projected
    from registrations Nov 2023 to Oct 2024), left-joined on practice code to the QOF
    2023-24 ``MAPPING_NHS_GEOGRAPHIES`` structures file for PCN and sub-ICB (blank in
    the allocation file). PCN and sub-ICB are null for the 81 practices that are not
    in the 2023-24 structures (new or re-coded practices; none in QWU).
    """
    types: dict[str, pa.DataType] = {
        "Practice_Code": S,
        "GP_Practice_Name": S,
        "Practice_Postcode": S,
        "ICB": S,
        "ICBname": S,
        "Rcode": S,
        "LAD": S,
        "LTLA": S,
        "Population": F64,
    }
    types.update(dict.fromkeys(WEIGHTED_POPULATIONS, F64))
    rename = {
        "Practice_Code": "practice_code",
        "GP_Practice_Name": "practice_name",
        "Practice_Postcode": "postcode",
        "ICB": "icb_code",
        "ICBname": "icb_name",
        "Rcode": "region_code",
        "LAD": "lad_code",
        "LTLA": "lad_name",
        "Population": "registered_population",
        **WEIGHTED_POPULATIONS,
    }
    alloc = read_csv("practices/gp_allocations_2025_26.csv.gz", types, rename=rename)
    alloc = alloc.select(list(rename.values()))
    struct = practice_structures()
    matched = lookup(alloc["practice_code"], struct, "practice_code")
    for col in ("pcn_code", "pcn_name", "sub_icb_code", "sub_icb_name"):
        alloc = alloc.append_column(col, matched[col])
    return alloc


@lru_cache(maxsize=1)
def practice_structures() -> pa.Table:
    """Practice to PCN to sub-ICB to ICB to NHS region, QOF 2023-24 (6,267 rows).

    Columns: ``practice_code, practice_name, pcn_code, pcn_name, sub_icb_code,
    sub_icb_code_ons, sub_icb_name, icb_code, icb_code_ons, icb_name, region_code,
    region_code_ons, region_name`` (``*_code`` are ODS codes).

    Source: NHS England QOF 2023-24 ``MAPPING_NHS_GEOGRAPHIES``, via
    wylie102/QOF-visualisation (``structures_2023_2024``).
    """
    rename = {
        "PRACTICE_CODE": "practice_code",
        "PRACTICE_NAME": "practice_name",
        "PCN_ODS_CODE": "pcn_code",
        "PCN_NAME": "pcn_name",
        "SUB_ICB_ODS_CODE": "sub_icb_code",
        "SUB_ICB_ONS_CODE": "sub_icb_code_ons",
        "SUB_ICB_NAME": "sub_icb_name",
        "ICB_ODS_CODE": "icb_code",
        "ICB_ONS_CODE": "icb_code_ons",
        "ICB_NAME": "icb_name",
        "REGION_ODS_CODE": "region_code",
        "REGION_ONS_CODE": "region_code_ons",
        "REGION_NAME": "region_name",
    }
    table = read_csv("practices/structures_2023_24.csv.gz", dict.fromkeys(rename, S), rename=rename)
    return table.select(list(rename.values()))
