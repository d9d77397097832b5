"""The load ledger (table ``load_ledger``): one row per load of a source (file or database table).

A source is identified by its name (a file's path relative to the folder ingested, or
``database#table``). Loading a source whose sha256, dataset, profile and schema version
match its current ledger row changes nothing. A changed source is a *restatement*: its
rows replace the previous load's rows in the same transaction, and the old ledger row
is kept with status ``superseded``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa

LEDGER_TABLE = "load_ledger"
LEDGER_SCHEMA = pa.schema([
    pa.field("source", pa.string()), pa.field("dataset", pa.string()), pa.field("format", pa.string()),
    pa.field("sha256", pa.string()), pa.field("size_bytes", pa.int64()),
    pa.field("rows_in", pa.int64()), pa.field("rows_loaded", pa.int64()), pa.field("rows_quarantined", pa.int64()),
    pa.field("schema_version", pa.string()), pa.field("profile", pa.string()), pa.field("options", pa.string()),
    pa.field("encoding", pa.string()), pa.field("delimiter", pa.string()),
    pa.field("extract_date", pa.date32()), pa.field("pseudonym_key_id", pa.string()),
    pa.field("phm_version", pa.string()), pa.field("notes", pa.string()),
    pa.field("status", pa.string()), pa.field("load_number", pa.int64()),
    pa.field("loaded_at", pa.timestamp("us")),
])
# Columns that differ between two runs that load the same data (excluded from checksums).
VOLATILE = ("loaded_at",)


def fingerprint(ledger: pa.Table) -> str:
    """Identifies what is loaded: the data-quality tables record it to know when they are stale."""
    rows = sorted((r["source"], r["sha256"] or "", r["load_number"], r["status"]) for r in ledger.to_pylist())
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def read_ledger(wh) -> pa.Table:
    if not wh.has_table(LEDGER_TABLE):
        return LEDGER_SCHEMA.empty_table()
    return wh.to_arrow(LEDGER_TABLE).cast(LEDGER_SCHEMA)


def current(ledger: pa.Table) -> dict[str, dict]:
    return {r["source"]: r for r in ledger.to_pylist() if r["status"] == "current"}


def with_load(ledger: pa.Table, row: dict) -> pa.Table:
    """The ledger after recording ``row`` as the current load of its source."""
    rows = ledger.to_pylist()
    for r in rows:
        if r["source"] == row["source"] and r["status"] == "current":
            r["status"] = "superseded"
    row = dict(row, status="current", load_number=1 + sum(r["source"] == row["source"] for r in rows),
               loaded_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    rows.append(row)
    rows.sort(key=lambda r: (r["source"], r["load_number"]))
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)
