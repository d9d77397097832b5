"""ONS geography lookups: LSOA to sub-ICB, ICB and local authority."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

from phm.refdata._io import read_csv

S = pa.string()


@lru_cache(maxsize=1)
def lsoa21_icb() -> pa.Table:
    """LSOA 2021 to sub-ICB location (SICBL) to ICB, April 2024 (England, 33,755 rows).

    Columns: ``lsoa21_code, lsoa21_name, sicbl24_code, sicbl24_code_nhs, sicbl24_name,
    icb24_code, icb24_code_nhs, icb24_name``. ``*_code`` are ONS codes (E38..., E54...),
    ``*_code_nhs`` the ODS codes (e.g. sub-ICB ``01F``, ICB ``QWU``). 106 SICBLs, 42 ICBs.

    Source: ONS Open Geography Portal, LSOA21-SICBL-ICB-LAD (April 2024), via the
    humaniverse/geographr R package (``lookup_lsoa21_icb24``).
    """
    cols = (
        "lsoa21_code",
        "lsoa21_name",
        "sicbl24_code",
        "sicbl24_code_nhs",
        "sicbl24_name",
        "icb24_code",
        "icb24_code_nhs",
        "icb24_name",
    )
    return read_csv("geography/lookup_lsoa21_icb24.csv.gz", dict.fromkeys(cols, S)).select(cols)


@lru_cache(maxsize=1)
def lsoa21_lad() -> pa.Table:
    """LSOA 2021 to lower-tier local authority 2024 (England and Wales, 35,672 rows).

    Columns: ``lsoa21_code, ltla24_code, ltla24_name``; one row per LSOA21.

    Source: ONS LSOA21 to ward (2024) to LTLA (2024) lookup, via humaniverse/geographr
    (``lookup_lsoa21_ward24_ltla24``; ward columns not shipped).
    """
    cols = ("lsoa21_code", "ltla24_code", "ltla24_name")
    return read_csv("geography/lookup_lsoa21_ltla24.csv.gz", dict.fromkeys(cols, S)).select(cols)


@lru_cache(maxsize=1)
def lsoa11_geography() -> pa.Table:
    """LSOA 2011 to sub-ICB, ICB and local authority, July 2022 (England, 32,844 rows).

    Columns: ``lsoa11_code, sicbl22_code_nhs, icb22_code_nhs, ltla22_code, ltla22_name``
    (``*_code_nhs`` are ODS codes). For data published on 2011 LSOAs such as IoD2019.

    Source: ONS LSOA11-SICBL-ICB-LAD (July 2022), via humaniverse/geographr
    (``lookup_lsoa11_sicbl22_icb22_ltla22``).
    """
    cols = {
        "lsoa11_code": S,
        "sicbl22_code_h": S,
        "icb22_code_h": S,
        "ltla22_code": S,
        "ltla22_name": S,
    }
    rename = {"sicbl22_code_h": "sicbl22_code_nhs", "icb22_code_h": "icb22_code_nhs"}
    table = read_csv("geography/lookup_lsoa11_sicbl22_icb22_ltla22.csv.gz", cols, rename=rename)
    return table.select(
        ["lsoa11_code", "sicbl22_code_nhs", "icb22_code_nhs", "ltla22_code", "ltla22_name"]
    )


@lru_cache(maxsize=1)
def lsoa11_to_lsoa21() -> pa.Table:
    """LSOA 2011 to LSOA 2021 best-fit pairs (England and Wales, 35,795 rows).

    Columns: ``lsoa11_code, lsoa21_code, change_code``: ``U`` unchanged, ``S`` the
    2011 LSOA was split into several 2021 LSOAs, ``M`` several 2011 LSOAs were merged,
    ``X`` irregular (redrawn; many-to-many).

    Source: ONS LSOA (2011) to LSOA (2021) to LAD (2022) lookup v2, via
    humaniverse/geographr (``lookup_lsoa11_lsoa21_ltla22``).
    """
    cols = ("lsoa11_code", "lsoa21_code", "change_code")
    table = read_csv("geography/lookup_lsoa11_lsoa21_ltla22.csv.gz", dict.fromkeys(cols, S))
    return table.select(cols)
