"""Hand-built episodes in, spells and indicator rows out, on an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt
from functools import cache

import ibis
import pyarrow as pa

from phm.indicators import reference_tables as indicator_refs
from phm.model.common import Window
from phm.model.refs import reference_tables
from phm.model.spells import clean_episodes, continuous_spells, provider_spells
from phm.schema import raw_schema

WINDOW = Window.ending(dt.date(2025, 3, 31), 3)
EXTRACT = WINDOW.extract_date


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ep(person, provider, spell, adm, dis, *, order=1, method="21", source="19", dest="19", dismeth="1",
       diag="J181", diags=(), opertn=None, procs=(), cls="1", tfc="300", status="3", etype="1", start=None):
    """One APC episode (HES shape); ``diags``/``procs`` fill positions 2 onwards."""
    row = {
        "person_id": person, "nhs_number_status": "valid", "provider_code": provider, "spell_id": spell,
        "episode_order": order, "episode_id": f"{provider}-{spell}-{order}",
        "admission_date": d(adm), "discharge_date": d(dis) if dis else None,
        "episode_start": d(start or adm), "episode_end": d(dis) if dis else None,
        "admission_method": method, "admission_source": source, "discharge_destination": dest,
        "discharge_method": dismeth, "patient_classification": cls, "episode_status": status,
        "episode_type": etype, "treatment_function_code": tfc, "diag_01": diag, "opertn_01": opertn,
        "hrg_code": "DZ11R", "cost": 1000.0,
    }
    for i, code in enumerate(diags, start=2):
        row[f"diag_{i:02d}"] = code
    for i, code in enumerate(procs, start=2):
        row[f"opertn_{i:02d}"] = code
    return row


def _raw(c, rows: list[dict]):
    schema = raw_schema("apc_episodes")
    cols = {}
    for f in schema:
        if f.name == "_source":
            cols[f.name] = pa.array(["hand.csv"] * len(rows), f.type)
        elif f.name == "_line":
            cols[f.name] = pa.array(list(range(2, len(rows) + 2)), f.type)
        else:
            cols[f.name] = pa.array([r.get(f.name) for r in rows], f.type)
    return c.create_table("raw_apc_episodes", pa.table(cols, schema=schema), overwrite=True)


def people(c, rows: dict[int, tuple]):
    """``{person_id: (sex, date_of_birth[, date_of_death])}`` as a person table."""
    ids = sorted(rows)
    t = pa.table({"person_id": pa.array(ids, pa.int64()), "sex": [rows[i][0] for i in ids],
                  "date_of_birth": [d(rows[i][1]) for i in ids],
                  "date_of_death": pa.array([d(rows[i][2]) if len(rows[i]) > 2 and rows[i][2] else None
                                             for i in ids], pa.date32())})
    return c.create_table("person", t, overwrite=True)


@cache
def _refs() -> dict[str, pa.Table]:
    return {**reference_tables(WINDOW), **indicator_refs()}


def marts(rows: list[dict], persons: dict[int, tuple] | None = None):
    """``(connection, episodes, spells, person, refs)`` from hand-built episode rows."""
    c = ibis.duckdb.connect()
    refs = {n: c.create_table(n, t, overwrite=True) for n, t in _refs().items()}
    episodes = clean_episodes(_raw(c, rows), WINDOW)
    ps = provider_spells(episodes, refs, WINDOW)
    spells = continuous_spells(ps, EXTRACT)
    ids = {r["person_id"] for r in rows}
    person = people(c, persons or {i: ("1", "1960-01-01") for i in ids})
    return c, episodes, spells, person, refs
