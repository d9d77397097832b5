"""Reference tables the marts join to, built from the shipped reference data and definitions.

:func:`reference_tables` returns small Arrow tables; :mod:`phm.build` writes them into the
warehouse as ``ref_*`` tables (so that the same joins run in DuckDB and Spark, and every
build records exactly which reference data it used).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from phm import refdata
from phm.model import costing, definitions, programme, registers, segments
from phm.model.common import Window


def _ethnicity() -> pa.Table:
    t = refdata.ethnic_categories()
    return pa.table(
        {
            "ethnic_code": t["code"],
            "ethnic_name": t["description"],
            "ethnic_group": t["broad_group"],
        }
    )


def _lsoa() -> pa.Table:
    """LSOA 2021 with IMD 2025 and IMD 2019 deciles (see :mod:`.person` for the 2011 to 2021 rule)."""
    i25 = (
        refdata.imd2025()
        .select(["lsoa21_code", "imd_decile"])
        .rename_columns(["lsoa21_code", "imd2025_decile"])
    )
    look = refdata.lsoa11_to_lsoa21().select(["lsoa11_code", "lsoa21_code"])
    i19 = refdata.imd2019().select(["lsoa11_code", "imd_rank", "imd_decile"])
    j = look.join(i19, "lsoa11_code", join_type="inner")
    # the most deprived 2011 parent (lowest rank) of each 2021 LSOA
    j = j.sort_by([("lsoa21_code", "ascending"), ("imd_rank", "ascending")])
    codes = j["lsoa21_code"].to_pylist()
    keep = [i for i, c in enumerate(codes) if i == 0 or codes[i - 1] != c]
    i19_21 = (
        j.take(keep)
        .select(["lsoa21_code", "imd_decile"])
        .rename_columns(["lsoa21_code", "imd2019_decile"])
    )
    out = i25.join(i19_21, "lsoa21_code", join_type="full outer")
    return out.cast(
        pa.schema(
            [
                ("lsoa21_code", pa.string()),
                ("imd2025_decile", pa.int64()),
                ("imd2019_decile", pa.int64()),
            ]
        )
    )


def _practice() -> pa.Table:
    p = refdata.practices()
    place = pc.if_else(pc.is_null(p["sub_icb_code"]), p["icb_code"], p["sub_icb_code"])
    place_name = pc.if_else(pc.is_null(p["sub_icb_name"]), p["icb_name"], p["sub_icb_name"])
    return pa.table(
        {
            "ref_practice_code": p["practice_code"],
            "practice_name": p["practice_name"],
            "pcn_code": p["pcn_code"],
            "pcn_name": p["pcn_name"],
            "place_code": place,
            "place_name": place_name,
            "icb_code": p["icb_code"],
        }
    )


def _condition_codes() -> tuple[pa.Table, pa.Table]:
    """SNOMED concept -> condition, and ICD-10 (3- or 4-character HES form) -> condition."""
    t = refdata.condition_codelists()
    voc = t["vocabulary"].to_pylist()
    cond, code = t["condition"].to_pylist(), t["code"].to_pylist()
    snomed = {(c, k) for c, v, k in zip(cond, voc, code, strict=True) if v == "SNOMED"}
    icd = {
        (c, refdata.normalise_icd10(k)[:4])
        for c, v, k in zip(cond, voc, code, strict=True)
        if v == "ICD10"
    }
    s = sorted(snomed)
    i = sorted(icd)
    return (
        pa.table({"condition": [c for c, _ in s], "snomed_code": [k for _, k in s]}),
        pa.table(
            {
                "condition": [c for c, _ in i],
                "icd10_code": [k for _, k in i],
                "code_length": pa.array([len(k) for _, k in i], pa.int64()),
            }
        ),
    )


def reference_tables(window: Window) -> dict[str, pa.Table]:
    snomed, icd = _condition_codes()
    return {
        "ref_fy": window.table(),
        "ref_ethnicity": _ethnicity(),
        "ref_lsoa": _lsoa(),
        "ref_practice": _practice(),
        "ref_condition_snomed": snomed,
        "ref_condition_icd10": icd,
        "ref_unit_cost": costing.ncc_unit_costs(),
        "ref_pod_cost": costing.ncc_pod_costs(),
        "ref_setting_cost": costing.setting_costs(),
        "ref_trim_point": costing.trim_points(),
        "ref_price_index": costing.price_index(window.years),
        **registers.reference_tables(),
        **segments.reference_tables(),
        **_definition_tables(),
    }


def _definition_tables() -> dict[str, pa.Table]:
    """Programme maps and comorbidity weights (:mod:`.definitions`) in the shape the joins use."""
    chs = costing.ncc_unit_costs()
    chs = sorted(set(chs.filter(pc.equal(chs["pod"], "CHS"))["currency_code"].to_pylist()))
    community = [(c, definitions.community_programme(c)) for c in chs]
    ch = definitions.charlson_codes()
    return {
        "ref_programme": definitions.programmes().select(["code", "id", "name"]),
        **programme.reference_tables(),
        "ref_programme_community": pa.table(
            {"currency": [c for c, _ in community], "programme": [p for _, p in community]}
        ),
        "ref_programme_mh": definitions.programme_mh_team()
        .select(["code", "programme"])
        .rename_columns(["team", "programme"]),
        "ref_hfrs": definitions.hfrs_points().select(["icd10_3", "points"]),
        "ref_charlson": pa.table(
            {
                "category": ch["category"],
                "icd10_prefix": ch["icd10_prefix"],
                "weight": ch["weight"],
                "hgroup": ch["hierarchy_group"],
            }
        ),
    }
