"""A few rows in, expected values out: tiny raw tables and reference tables in an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import pyarrow as pa

from phm.model.common import Window
from phm.model.refs import reference_tables
from phm.schema import raw_schema

WINDOW = Window.ending(dt.date(2025, 3, 31), 3)
_names = itertools.count()


def con():
    return ibis.duckdb.connect()


def raw(c, dataset: str, rows: list[dict]):
    """A ``raw_<dataset>``-shaped table: unspecified columns are null; ``_source``/``_line`` filled."""
    schema = raw_schema(dataset)
    cols = {}
    for f in schema:
        if f.name == "_source":
            cols[f.name] = pa.array([r.get("_source", "tiny.csv") for r in rows], f.type)
        elif f.name == "_line":
            cols[f.name] = pa.array([r.get("_line", i + 2) for i, r in enumerate(rows)], f.type)
        else:
            cols[f.name] = pa.array([r.get(f.name) for r in rows], f.type)
    return c.create_table(f"raw_{dataset}_{next(_names)}", pa.table(cols, schema=schema))


def gp_appointment(day: str = "2023-05-01", **extra) -> dict:
    """A raw GP appointment row of person 1 at practice A81001, attended unless ``extra`` says."""
    return {"person_id": 1, "appointment_date": dt.date.fromisoformat(day), "practice_code": "A81001",
            "appointment_status": "Attended", **extra}


def ae_attendance(attendance_id: str, **extra) -> dict:
    """A raw ECDS attendance of person 1 at provider RAA on 1 May 2023, 09:00."""
    return {"person_id": 1, "provider_code": "RAA", "attendance_id": attendance_id,
            "arrival_time": dt.datetime(2023, 5, 1, 9), **extra}


def refs(c, window: Window = WINDOW) -> dict:
    return {name: c.create_table(name, t, overwrite=True) for name, t in reference_tables(window).items()}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
