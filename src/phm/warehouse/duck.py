"""DuckDB warehouse: one file, ACID transactions, out-of-core execution."""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import pyarrow as pa

from phm.errors import UserError
from phm.warehouse.access import WarehouseInUse
from phm.warehouse.base import SourceWriter, Transaction, Warehouse, conform

_counter = iter(range(1 << 62))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def decoded(t: pa.Table) -> pa.Table:
    """``t`` with dictionary columns (DuckDB ENUMs) as plain values: how a table is stored is
    not what it holds."""
    fields = [pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in t.schema]
    return t.cast(pa.schema(fields)) if fields != list(t.schema) else t


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    raise TypeError(f"no DuckDB type for {t}")


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, path: Path, *, create: bool, read_only: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        threads = os.environ.get("PHM_THREADS")
        try:
            self._con = ibis.duckdb.connect(str(self.path), read_only=read_only)
        except Exception as e:  # duckdb.IOException: the file is locked or is not a DuckDB file
            msg = str(e).splitlines()[0]
            if "lock" in msg.lower():
                raise WarehouseInUse.from_duckdb(self.path, msg, read_only=read_only) from None
            raise UserError(f"cannot open warehouse {self.path}: {msg}") from None
        self.raw = self._con.con
        self.raw.execute("SET preserve_insertion_order = false")
        self.raw.execute("SET enable_progress_bar = false")
        # DuckDB would take 80% of RAM; a bounded pool makes it spill to disk instead (out of core).
        self.raw.execute(f"SET memory_limit = '{os.environ.get('PHM_DUCKDB_MEMORY', '4GB')}'")
        if not read_only:
            tmp = str(self.path.parent / (self.path.name + ".tmp")).replace("'", "''")
            self.raw.execute(f"SET temp_directory = '{tmp}'")
            for (name,) in self.raw.execute(  # staging a killed ingest left behind (_StagingWriter)
                    "SELECT table_name FROM information_schema.tables WHERE starts_with(table_name, ?)",
                    [STAGE_PREFIX]).fetchall():
                self.raw.execute(f"DROP TABLE IF EXISTS {_q(name)}")
        if threads:
            self.raw.execute(f"SET threads = {int(threads)}")

    @property
    def con(self):
        return self._con

    def list_tables(self) -> list[str]:
        return sorted(self._con.list_tables())

    def table(self, name: str):
        return self._con.table(name)

    def to_arrow(self, name: str) -> pa.Table:
        res = self.raw.execute(f"SELECT * FROM {_q(name)}")
        t = res.to_arrow_table() if hasattr(res, "to_arrow_table") else res.fetch_arrow_table()
        return decoded(t)

    def transaction(self, staged: bool = False) -> Transaction:
        return _StagedTransaction(self) if staged else _DuckTransaction(self)

    def close(self) -> None:
        self._con.disconnect()


class _DuckWriter(SourceWriter):
    def __init__(self, raw, table: str) -> None:
        self.raw, self.table = raw, table

    def write(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        name = f"_phm_batch_{next(_counter)}"
        self.raw.register(name, batch)
        try:
            self.raw.execute(f"INSERT INTO {_q(self.table)} BY NAME SELECT * FROM {name}")
        finally:
            self.raw.unregister(name)


STAGE_PREFIX = "_phm_stage_"
STAGE_COMMIT_ROWS = 8_000_000  # a staging transaction's rows held in memory (about 0.5 GB)


class _StagingWriter(SourceWriter):
    """A source's rows for ``table``, appended to a staging table on a connection of its own,
    committed every ``STAGE_COMMIT_ROWS`` rows (so DuckDB writes them out and can evict them);
    the transaction moves them into ``table`` at commit."""

    def __init__(self, tx: _DuckTransaction, table: str, schema: pa.Schema, source: str | None, replace: bool) -> None:
        self.tx, self.table, self.schema, self.source, self.replace = tx, table, schema, source, replace
        self.stage: str | None = None
        self.cursor = None
        self.open_rows = 0

    def write(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        if self.tx.begun:
            raise RuntimeError("rows written to a staging writer after its transaction began; this is a bug in phm")
        if self.stage is None:
            self.cursor = self.tx.raw.cursor()
            self.stage = f"{STAGE_PREFIX}{os.getpid()}_{next(_counter)}"
            cols = ", ".join(f"{_q(f.name)} {_duck_type(f.type)}" for f in self.schema)
            self.cursor.execute(f"CREATE TABLE {_q(self.stage)} ({cols})")
            self.open_rows = 0
        if self.open_rows == 0:
            self.cursor.execute("BEGIN TRANSACTION")
        _DuckWriter(self.cursor, self.stage).write(batch)
        self.open_rows += batch.num_rows
        if self.open_rows >= STAGE_COMMIT_ROWS:  # large appends are written out at commit
            self.flush()

    def flush(self) -> None:
        """Commit the staged rows written so far."""
        if self.stage is not None and self.open_rows:
            self.cursor.execute("COMMIT")
            self.open_rows = 0

    def land(self) -> None:
        """In the transaction: the table made or widened, the source's old rows removed, the
        staged rows moved in. When the table holds nothing but this source's old rows (a first
        load, or a reload of the only source), the staging table becomes the table: no copy."""
        raw = self.tx.raw
        if self.stage is not None and self.replace and self.source is not None:
            self.tx._begin()
            exists = raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                 [self.table]).fetchone()[0]
            others = exists and raw.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {_q(self.table)} WHERE _source IS DISTINCT FROM ? LIMIT 1)",
                [self.source]).fetchone()[0]
            if not others:
                raw.execute(f"DROP TABLE IF EXISTS {_q(self.table)}")
                raw.execute(f"ALTER TABLE {_q(self.stage)} RENAME TO {_q(self.table)}")
                self.stage = None  # it is the table now
                self.cursor.close()
                return
        self.tx._ensure(self.table, self.schema)
        if self.replace and self.source is not None:
            self.tx.raw.execute(f"DELETE FROM {_q(self.table)} WHERE _source = ?", [self.source])
        if self.stage is not None:
            cols = ", ".join(_q(f.name) for f in self.schema)
            self.tx.raw.execute(f"INSERT INTO {_q(self.table)} ({cols}) SELECT {cols} FROM {_q(self.stage)}")

    def discard(self) -> None:
        if self.stage is not None:
            if self.open_rows:
                self.cursor.execute("ROLLBACK")
                self.open_rows = 0
            self.cursor.execute(f"DROP TABLE IF EXISTS {_q(self.stage)}")
            self.cursor.close()
            self.stage = None


class _DuckTransaction(Transaction):
    """Writes that land together at :meth:`commit`, or not at all.

    DuckDB keeps the rows a transaction appends in memory until it commits (about 50 bytes a
    row, whatever its memory limit: 165M prescription rows would take over 8 GB), so a writer
    asked for before anything else stages its rows (:class:`_StagingWriter`) and the
    transaction begins only at its first other statement, once the staging tables exist and
    can be seen: at commit they move in with ``INSERT ... SELECT``, which DuckDB runs out of
    core. A writer asked for after the transaction began writes into it directly. Staging
    tables are dropped after commit or rollback, and any a killed process left behind when the
    warehouse next opens for writing."""

    def __init__(self, wh: DuckDBWarehouse) -> None:
        self.wh, self.raw = wh, wh.raw
        self.done = False
        self.begun = False
        self.staging: list[_StagingWriter] = []

    def _begin(self) -> None:
        if not self.begun:
            for w in self.staging:  # the staged rows committed first, so the transaction sees them
                w.flush()
            self.raw.execute("BEGIN TRANSACTION")
            self.begun = True

    def _ensure(self, table: str, schema: pa.Schema) -> None:
        self._begin()
        cols = ", ".join(f"{_q(f.name)} {_duck_type(f.type)}" for f in schema)
        self.raw.execute(f"CREATE TABLE IF NOT EXISTS {_q(table)} ({cols})")
        # A table made under an older contract gains the new columns (null in its old rows).
        have = {r[0] for r in self.raw.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
        for f in schema:
            if f.name not in have:
                self.raw.execute(f"ALTER TABLE {_q(table)} ADD COLUMN {_q(f.name)} {_duck_type(f.type)}")

    def writer(self, table, schema, source, *, replace=True) -> SourceWriter:
        if not self.begun:
            w = _StagingWriter(self, table, schema, source, replace)
            self.staging.append(w)
            return w
        self._ensure(table, schema)
        if replace and source is not None:
            self.raw.execute(f"DELETE FROM {_q(table)} WHERE _source = ?", [source])
        return _DuckWriter(self.raw, table)

    def replace_table(self, table: str, data: pa.Table) -> None:
        self._begin()
        self.raw.execute(f"DROP TABLE IF EXISTS {_q(table)}")
        self._ensure(table, data.schema)
        _DuckWriter(self.raw, table).write(data)

    def materialize(self, table: str, expr, categories: dict[str, list[str]] | None = None) -> None:
        self._begin()
        self.raw.execute(_create_as(self.wh, table, expr, categories))
        return self.wh.con.table(table)

    def table(self, name: str):
        self._begin()
        return self.wh.con.table(name)  # one connection: it sees its own transaction's writes

    def drop(self, table: str) -> None:
        self._begin()
        self.raw.execute(f"DROP TABLE IF EXISTS {_q(table)}")

    def commit(self) -> None:
        if self.done:
            return
        try:
            self._begin()
            for w in self.staging:
                w.land()
            self.raw.execute("COMMIT")
            self.done = True

        finally:
            if not self.done:
                self.rollback()
            self._discard()

    def rollback(self) -> None:
        if not self.done:
            if self.begun:
                self.raw.execute("ROLLBACK")
            self.done = True
        self._discard()

    def _discard(self) -> None:
        for w in self.staging:
            w.discard()
        self.staging = []


def _create_as(wh: DuckDBWarehouse, table: str, expr, categories: dict[str, list[str]] | None) -> str:
    """``CREATE OR REPLACE TABLE table AS`` the Ibis expression (:func:`_select`)."""
    return f"CREATE OR REPLACE TABLE {_q(table)} AS {_select(wh, expr, categories)}"


def _select(wh: DuckDBWarehouse, expr, categories: dict[str, list[str]] | None) -> str:
    """The SQL ``SELECT`` of the Ibis expression with the Ibis schema's types exactly (DuckDB
    sums integers into HUGEINT whatever Ibis infers) and ``categories`` columns as ENUMs (a
    fraction of the cost of compressing repeated strings)."""
    expr = conform(expr)
    sql = wh.con.compile(expr)
    categories = categories or {}
    cols = []
    for name, typ in expr.schema().items():
        cast = "BIGINT" if typ.is_integer() else "DOUBLE" if typ.is_floating() else None
        if name in categories and typ.is_string():
            cast = "ENUM(" + ", ".join(_literal(v) for v in categories[name]) + ")"
        cols.append(f"CAST({_q(name)} AS {cast}) AS {_q(name)}" if cast else _q(name))
    return f"SELECT {', '.join(cols)} FROM ({sql})"


STAGED = "_staged_"


class _StagedTransaction(Transaction):
    """Whole tables replaced together (``phm build``), or not at all. Each table is written
    under a staging name and committed at once, so later steps read it as committed, compressed
    data (reading a 77M-row table written earlier in the same open transaction took twice as
    long); :meth:`commit` then swaps every staged table in, and drops what was dropped, in one
    short transaction. Readers see the old tables until then. Staged tables left by a run that
    died are removed when the next one starts. Not for appends (``writer``)."""

    def __init__(self, wh: DuckDBWarehouse) -> None:
        self.wh, self.raw = wh, wh.raw
        self.staged: dict[str, str] = {}
        self.dropped: set[str] = set()
        self.done = False
        for (name,) in self.raw.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)",
                                        [STAGED]).fetchall():
            self.raw.execute(f"DROP TABLE IF EXISTS {_q(name)}")

    def _stage(self, table: str) -> str:
        self.dropped.discard(table)
        self.staged[table] = STAGED + table
        return self.staged[table]

    def writer(self, table, schema, source, *, replace=True) -> SourceWriter:
        raise NotImplementedError("a staged transaction replaces whole tables; append in a plain transaction")

    def replace_table(self, table: str, data: pa.Table) -> None:
        stage = self._stage(table)
        self.raw.execute(f"DROP TABLE IF EXISTS {_q(stage)}")
        cols = ", ".join(f"{_q(f.name)} {_duck_type(f.type)}" for f in data.schema)
        self.raw.execute(f"CREATE TABLE {_q(stage)} ({cols})")
        _DuckWriter(self.raw, stage).write(data)

    def materialize(self, table: str, expr, categories: dict[str, list[str]] | None = None):
        stage = self._stage(table)
        self.raw.execute(_create_as(self.wh, stage, expr, categories))
        return self.wh.con.table(stage)

    def materialize_parts(self, table: str, exprs, categories: dict[str, list[str]] | None = None):
        """One query per part, appended in turn: each part's hash tables are freed before the
        next starts (one ``UNION ALL`` query would let DuckDB hold them together)."""
        stage = self._stage(table)
        self.raw.execute(_create_as(self.wh, stage, exprs[0], categories))
        for expr in exprs[1:]:
            self.raw.execute(f"INSERT INTO {_q(stage)} {_select(self.wh, expr, categories)}")
        return self.wh.con.table(stage)

    def table(self, name: str):
        return self.wh.con.table(self.staged.get(name, name))

    def drop(self, table: str) -> None:
        stage = self.staged.pop(table, None)
        if stage:
            self.raw.execute(f"DROP TABLE IF EXISTS {_q(stage)}")
        self.dropped.add(table)

    def commit(self) -> None:
        if self.done:
            return
        self.raw.execute("BEGIN TRANSACTION")
        try:
            for table in sorted(self.dropped | set(self.staged)):
                self.raw.execute(f"DROP TABLE IF EXISTS {_q(table)}")
            for table, stage in sorted(self.staged.items()):
                self.raw.execute(f"ALTER TABLE {_q(stage)} RENAME TO {_q(table)}")
            self.raw.execute("COMMIT")
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.done = True

    def rollback(self) -> None:
        if not self.done:
            for stage in self.staged.values():
                self.raw.execute(f"DROP TABLE IF EXISTS {_q(stage)}")
            self.done = True
