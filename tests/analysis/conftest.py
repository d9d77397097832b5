"""Tiny hand-made marts for the analysis spec tests: Ibis tables on a fresh DuckDB connection.

``make_person_year(rows)`` takes dicts that override :data:`DEFAULTS`; the columns are the
``person_year`` mart columns the analysis reads, with the mart's types (some counts are
DECIMAL(38,0) in the built mart, as here).
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from phm.model.activity import SETTINGS

DEC = pa.decimal128(38, 0)
CONDITIONS = ("hypertension", "diabetes", "asthma")

SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("fy", pa.int64()),
        ("exposure_days", pa.int64()),
        ("age", pa.int64()),
        ("age_band", pa.string()),
        ("sex", pa.string()),
        ("ethnic_group", pa.string()),
        ("imd2019_decile", pa.int64()),
        ("imd2019_quintile", pa.int64()),
        ("imd2025_decile", pa.int64()),
        ("imd2025_quintile", pa.int64()),
        ("core20", pa.bool_()),
        ("practice_code", pa.string()),
        ("pcn_code", pa.string()),
        ("place_code", pa.string()),
        ("icb_code", pa.string()),
        *[(f"cond_{c}", pa.bool_()) for c in CONDITIONS],
        ("segment", pa.string()),
        ("ltc_count", pa.int64()),
        ("hri", pa.bool_()),
        ("died_in_year", pa.bool_()),
        ("emergency_admissions", DEC),
        ("ae_attendances", DEC),
        *[(f"n_{s}", DEC) for s in SETTINGS],
        *[(f"cost_{s}", pa.float64()) for s in SETTINGS],
        ("cost_total", pa.float64()),
    ]
)

DEFAULTS = {
    "fy": 2024,
    "exposure_days": 365,
    "age": 40,
    "sex": "2",
    "ethnic_group": "White",
    "imd2019_decile": 5,
    "imd2025_decile": 5,
    "core20": False,
    "practice_code": "A",
    "pcn_code": "P1",
    "place_code": "PL",
    "icb_code": "ICB",
    "segment": "healthy",
    "ltc_count": 0,
    "hri": False,
    "died_in_year": False,
    "emergency_admissions": 0,
    "ae_attendances": 0,
    **{f"cond_{c}": False for c in CONDITIONS},
    **{f"n_{s}": 0 for s in SETTINGS},
    **{f"cost_{s}": 0.0 for s in SETTINGS},
}


def esp_band(age: int) -> str:
    i = min(age // 5, 18)
    return "90+" if i == 18 else f"{5 * i}-{5 * i + 4}"


def rows_table(rows: list[dict]) -> pa.Table:
    full = []
    for i, r in enumerate(rows):
        row = {**DEFAULTS, "person_id": i + 1, **r}
        row.setdefault("age_band", esp_band(row["age"]))
        for k in ("imd2019", "imd2025"):
            d = row[f"{k}_decile"]
            row.setdefault(f"{k}_quintile", None if d is None else (d + 1) // 2)
        row.setdefault("cost_total", sum(row[f"cost_{s}"] for s in SETTINGS))
        full.append(row)
    return pa.Table.from_pylist(full, schema=SCHEMA)


@pytest.fixture
def con():
    return ibis.duckdb.connect()


@pytest.fixture
def make_person_year(con):
    """``make_person_year(rows)`` -> an Ibis ``person_year`` table (DuckDB, in memory)."""

    def make(rows: list[dict]):
        return con.create_table("person_year", ibis.memtable(rows_table(rows)), overwrite=True)

    return make


ACTIVITY_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("fy", pa.int64()),
        ("setting", pa.string()),
        ("programme", pa.string()),
        ("cost", pa.float64()),
    ]
)


@pytest.fixture
def make_activity(con):
    def make(rows: list[dict]):
        """Activity rows; ``practice_code`` (the practice that saw the person) defaults to Z,
        a practice no one is registered with, so tests see whether areas come from the person."""
        t = pa.Table.from_pylist(
            [{"practice_code": "Z", **r} for r in rows], schema=ACTIVITY_SCHEMA
        )
        return con.create_table("activity", ibis.memtable(t), overwrite=True)

    return make
