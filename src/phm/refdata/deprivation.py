"""English Indices of Deprivation: IoD2019 (LSOA 2011) and IoD2025 (LSOA 2021)."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from phm.refdata._io import float_to_int, lookup, parse_int, read_csv

S, F64 = pa.string(), pa.float64()

IMD2025_DOMAINS = (
    "income",
    "employment",
    "education",  # Education, Skills and Training
    "health",  # Health Deprivation and Disability
    "crime",
    "housing_and_services",  # Barriers to Housing and Services
    "environment",  # Living Environment
)


@lru_cache(maxsize=1)
def imd2019() -> pa.Table:
    """IMD 2019 by LSOA 2011 (England, 32,844 rows).

    Columns: ``lsoa11_code, lsoa11_name, lad19_code, lad19_name, imd_rank (int32,
    1 = most deprived), imd_decile (int8, 1 = most deprived 10%), imd_score (float64)``.

    Source: MHCLG English Indices of Deprivation 2019, File 1 (rank and decile; ranks
    published as text such as "29,199" are parsed), joined on the LSOA code to the
    IMD score, which File 1 lacks: ``overall_local_score`` for ``nation == 'E'`` in
    mySociety's composite UK IMD (``UK_IMD_E``), which is the published IoD2019 IMD
    score (E01000001 = 6.208). Vintage: IoD2019 (September 2019); LAD 2019.
    """
    f1 = read_csv(
        "deprivation/iod2019_file1_imd_lsoa11.csv.gz",
        {
            "LSOA code (2011)": S,
            "LSOA name (2011)": S,
            "Local Authority District code (2019)": S,
            "Local Authority District name (2019)": S,
            "Index of Multiple Deprivation (IMD) Rank": S,
            "Index of Multiple Deprivation (IMD) Decile": pa.int8(),
        },
    )
    scores = _uk_imd_scores()
    scores = scores.filter(pc.equal(scores["nation"], "E"))
    matched = lookup(f1.column(0), scores, "lsoa")
    if matched["overall_local_score"].null_count:
        raise RuntimeError("IMD2019: some LSOA11 codes have no score in UK_IMD_E")
    return pa.table(
        {
            "lsoa11_code": f1.column(0),
            "lsoa11_name": f1.column(1),
            "lad19_code": f1.column(2),
            "lad19_name": f1.column(3),
            "imd_rank": parse_int(f1.column(4), pa.int32()),
            "imd_decile": f1.column(5),
            "imd_score": matched["overall_local_score"],
        }
    )


@lru_cache(maxsize=1)
def _uk_imd_scores() -> pa.Table:
    return read_csv(
        "deprivation/uk_imd_e_scores.csv.gz",
        {
            "nation": S,
            "lsoa": S,
            "overall_local_score": F64,
            "income_score": F64,
            "employment_score": F64,
        },
    )


@lru_cache(maxsize=1)
def iod2019_population() -> pa.Table:
    """IoD2019 population denominators by LSOA 2011 (England, 32,844 rows).

    Columns (float64 counts): ``lsoa11_code, population, population_0_15,
    population_16_59, population_60_plus, working_age_population`` (18-59/64, for the
    employment domain). Source: MHCLG IoD2019 File 6, ONS mid-2015 estimates
    excluding prisoners.
    """
    col = {
        "LSOA code (2011)": "lsoa11_code",
        "Total population: mid 2015 (excluding prisoners)": "population",
        "Dependent Children aged 0-15: mid 2015 (excluding prisoners)": "population_0_15",
        "Population aged 16-59: mid 2015 (excluding prisoners)": "population_16_59",
        "Older population aged 60 and over: mid 2015 (excluding prisoners)": ("population_60_plus"),
        "Working age population 18-59/64: for use with Employment Deprivation Domain "
        "(excluding prisoners)": "working_age_population",
    }
    raw = read_csv("deprivation/iod2019_file6_population_lsoa11.csv.gz", dict.fromkeys(col, S))
    arrays = [raw.column(0)] + [parse_int(raw.column(i), F64) for i in range(1, len(col))]
    return pa.table(arrays, names=list(col.values()))


@lru_cache(maxsize=1)
def imd2025() -> pa.Table:
    """IMD 2025 and its seven domains by LSOA 2021 (England, 33,755 rows).

    Columns: ``lsoa21_code, imd_rank (int32), imd_decile (int8), imd_score (float64)``,
    then for each domain in ``IMD2025_DOMAINS`` (income, employment, education,
    health, crime, housing_and_services, environment): ``<domain>_rank`` (int32),
    ``<domain>_decile`` (int8) and ``<domain>_score`` (float64). Rank 1 and decile 1
    are the most deprived. Income and employment scores are proportions (0-1); the
    health score is a z-like score and can be negative.

    Source: MHCLG English Indices of Deprivation 2025 (October 2025), via the
    humaniverse/IMD R package (``imd2025_england_lsoa21``).
    """
    prefixes = {"imd": "IMD", **{d: d.capitalize() for d in IMD2025_DOMAINS}}
    prefixes["housing_and_services"] = "Housing_and_Services"
    types: dict[str, pa.DataType] = {"lsoa21_code": S}
    for src in prefixes.values():
        types.update({f"{src}_rank": F64, f"{src}_decile": F64, f"{src}_score": F64})
    raw = read_csv("deprivation/imd2025_england_lsoa21.csv.gz", types)
    out: dict[str, pa.ChunkedArray] = {"lsoa21_code": raw["lsoa21_code"]}
    for name, src in prefixes.items():
        out[f"{name}_rank"] = float_to_int(raw[f"{src}_rank"], pa.int32())
        out[f"{name}_decile"] = float_to_int(raw[f"{src}_decile"], pa.int8())
        out[f"{name}_score"] = raw[f"{src}_score"]
    return pa.table(out)
