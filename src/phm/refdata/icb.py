"""Integrated care boards: valid codes and per-ICB slices of the reference data."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from phm.errors import InputError
from phm.refdata._io import lookup
from phm.refdata.deprivation import imd2025
from phm.refdata.geography import lsoa21_icb, lsoa21_lad
from phm.refdata.population import lsoa21_population
from phm.refdata.practices import practices

EXAMPLE_ICBS = ("QWU", "QHM", "QE1")


@lru_cache(maxsize=1)
def icbs() -> pa.Table:
    """The 42 ICBs (April 2024 boundaries), sorted by ODS code.

    Columns: ``icb_code`` (ODS, e.g. ``QWU``), ``icb_code_ons`` (``E54...``),
    ``icb_name``, ``lsoa21_count`` (int64). Source: :func:`phm.refdata.lsoa21_icb`.
    """
    table = lsoa21_icb()
    counts = table.group_by(["icb24_code_nhs", "icb24_code", "icb24_name"]).aggregate(
        [("lsoa21_code", "count")]
    )
    counts = counts.take(pc.sort_indices(counts["icb24_code_nhs"]))
    return pa.table(
        {
            "icb_code": counts["icb24_code_nhs"],
            "icb_code_ons": counts["icb24_code"],
            "icb_name": counts["icb24_name"],
            "lsoa21_count": counts["lsoa21_code_count"],
        }
    )


@lru_cache(maxsize=1)
def _icb_names() -> dict[str, str]:
    table = icbs()
    return dict(zip(table["icb_code"].to_pylist(), table["icb_name"].to_pylist(), strict=True))


def known_icb_codes() -> set[str]:
    """ODS codes of the 42 ICBs (e.g. ``{'QWU', 'QHM', ...}``), from the April 2024 lookup."""
    return set(_icb_names())


def _short(name: str) -> str:
    return name.replace("Integrated Care Board", "ICB")


def check_icb(icb_ods: object) -> str:
    """Return the ICB ODS code, upper-cased and stripped, or raise :class:`InputError`."""
    names = _icb_names()
    code = icb_ods.strip().upper() if isinstance(icb_ods, str) else None
    if code in names:
        return code
    examples = ", ".join(f"{c} ({_short(names[c])})" for c in EXAMPLE_ICBS if c in names)
    hint = ""
    if code:
        ons = icbs().filter(pc.equal(icbs()["icb_code_ons"], code))
        if ons.num_rows:
            hint = f" ({code} is the ONS code of {ons['icb_code'][0].as_py()})"
    raise InputError(
        f"unknown ICB code {icb_ods!r}{hint}; expected an ICB ODS code such as {examples}; "
        "run 'phm refdata icbs' for the list"
    )


def icb_lsoas(icb_ods: str) -> pa.Table:
    """The LSOA 2021s of one ICB with sub-ICB, local authority, IMD 2025 and population.

    Columns: ``lsoa21_code, lsoa21_name, sicbl24_code, sicbl24_code_nhs, sicbl24_name,
    ltla24_code, ltla24_name, imd_rank`` (int32) ``, imd_decile`` (int8) ``, imd_score,
    population`` (float64, :func:`phm.refdata.lsoa21_population`: mid-2015 IoD2019
    denominators carried to LSOA21). ``icb_ods`` is an ICB ODS code such as ``'QWU'``;
    an unknown code raises :class:`phm.errors.InputError`. Sources: ONS LSOA21-ICB
    (April 2024) and LSOA21-LTLA (2024) lookups, MHCLG IoD2025.
    """
    return _icb_lsoas(check_icb(icb_ods))


@lru_cache(maxsize=64)
def _icb_lsoas(code: str) -> pa.Table:
    geo = lsoa21_icb()
    geo = geo.filter(pc.equal(geo["icb24_code_nhs"], code))
    keys = geo["lsoa21_code"]
    lad = lookup(keys, lsoa21_lad(), "lsoa21_code")
    imd = lookup(keys, imd2025(), "lsoa21_code")
    pop = lookup(keys, lsoa21_population(), "lsoa21_code")
    return pa.table(
        {
            "lsoa21_code": keys,
            "lsoa21_name": geo["lsoa21_name"],
            "sicbl24_code": geo["sicbl24_code"],
            "sicbl24_code_nhs": geo["sicbl24_code_nhs"],
            "sicbl24_name": geo["sicbl24_name"],
            "ltla24_code": lad["ltla24_code"],
            "ltla24_name": lad["ltla24_name"],
            "imd_rank": imd["imd_rank"],
            "imd_decile": imd["imd_decile"],
            "imd_score": imd["imd_score"],
            "population": pop["population"],
        }
    )


def icb_practices(icb_ods: str) -> pa.Table:
    """The GP practices of one ICB: the rows of :func:`phm.refdata.practices` whose
    ``icb_code`` (2025/26 allocations) is ``icb_ods``; same columns. An unknown code
    raises :class:`phm.errors.InputError`."""
    return _icb_practices(check_icb(icb_ods))


@lru_cache(maxsize=64)
def _icb_practices(code: str) -> pa.Table:
    table = practices()
    return table.filter(pc.equal(table["icb_code"], code))
