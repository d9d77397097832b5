"""The interface both warehouse backends implement, and a content checksum for tables."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa


def fetch(expr) -> pa.Table:
    """Execute an Ibis expression and return Arrow. On Spark this uses DataFrame.toArrow(),
    which skips pandas (Ibis's own path goes through toPandas)."""
    backend = expr._find_backend()
    if backend.name == "pyspark":
        return backend._session.sql(backend.compile(expr)).toArrow()
    return expr.to_pyarrow()


class SourceWriter(ABC):
    """Receives the new rows of one source for one table inside a transaction."""

    @abstractmethod
    def write(self, batch: pa.Table) -> None: ...


class Transaction(ABC):
    """Writes that land together at :meth:`commit`, or not at all."""

    @abstractmethod
    def writer(self, table: str, schema: pa.Schema, source: str | None, *, replace: bool = True) -> SourceWriter:
        """Rows for ``table``. With ``replace`` (and a ``source``), they replace every row whose
        ``_source`` is ``source``; otherwise they are appended. Creates the table if needed."""

    @abstractmethod
    def replace_table(self, table: str, data: pa.Table) -> None:
        """Replace the whole of a (small) table with ``data``."""

    @abstractmethod
    def materialize(self, table: str, expr, categories: dict[str, list[str]] | None = None):
        """Replace ``table`` with the result of the Ibis expression ``expr``, computed in the engine.
        Returns an Ibis table of the new content, readable before the commit. ``categories``
        names string columns whose every value is in the given list: an engine may store them
        as categories (DuckDB ENUMs); they read back as strings."""

    def materialize_parts(self, table: str, exprs, categories: dict[str, list[str]] | None = None):
        """:meth:`materialize` of the rows of all the expressions ``exprs`` (same schema; the
        build passes one per setting), which an engine may compute one query at a time (DuckDB
        does: :func:`phm.model.activity.activity_by_setting` says why); here, as one union."""
        import ibis

        return self.materialize(table, ibis.union(*exprs, distinct=False) if len(exprs) > 1 else exprs[0],
                                categories)

    @abstractmethod
    def table(self, name: str):
        """The Ibis table ``name`` as this transaction sees it, including its own uncommitted writes."""

    @abstractmethod
    def drop(self, table: str) -> None:
        """Remove ``table`` (if it exists) when the transaction commits."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


class Warehouse(ABC):
    backend: str
    path: Path

    @property
    @abstractmethod
    def con(self):
        """The Ibis backend connection."""

    @abstractmethod
    def list_tables(self) -> list[str]: ...

    def has_table(self, name: str) -> bool:
        return name in self.list_tables()

    @abstractmethod
    def table(self, name: str):
        """The Ibis table ``name``."""

    @abstractmethod
    def transaction(self, staged: bool = False) -> Transaction:
        """Writes that land together at commit, or not at all. ``staged``: only whole tables
        are replaced (no appends), which lets an engine commit each as it is written under
        another name and swap them all in at the end (:mod:`.duck`)."""

    def to_arrow(self, name: str) -> pa.Table:
        return fetch(self.table(name))

    def meta(self) -> dict[str, str]:
        if not self.has_table("warehouse_meta"):
            return {}
        t = self.to_arrow("warehouse_meta")
        return dict(zip(t["key"].to_pylist(), t["value"].to_pylist(), strict=True))

    def close(self) -> None:  # noqa: B027 - optional for backends
        pass

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def conform(expr):
    """Cast an Ibis table expression to the warehouse's few column types (int64, float64,
    string, date, timestamp, boolean), so both engines store identical schemas."""
    casts = {}
    for name, typ in expr.schema().items():
        if typ.is_integer() and not typ.is_int64():
            casts[name] = "int64"
        elif typ.is_decimal() or (typ.is_floating() and not typ.is_float64()):
            casts[name] = "float64"
    return expr.cast(casts) if casts else expr


def meta_table(values: dict[str, str]) -> pa.Table:
    keys = sorted(values)
    return pa.table({"key": pa.array(keys, pa.string()), "value": pa.array([values[k] for k in keys], pa.string())})


def normalise(t: pa.Table, exclude: Iterable[str] = ()) -> pa.Table:
    """A canonical form of a table's content: columns sorted by name, rows sorted (by the exact
    columns first, then booleans, then doubles), one chunk, timestamps without time zone. Two engines holding the same rows give equal results."""
    drop = set(exclude)
    cols = sorted(c for c in t.column_names if c not in drop)
    t = t.select(cols)
    fields = []
    for f in t.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("us")))
        elif pa.types.is_large_string(f.type):
            fields.append(pa.field(f.name, pa.string()))
        elif pa.types.is_integer(f.type) and f.type != pa.int64():
            fields.append(pa.field(f.name, pa.int64()))
        elif pa.types.is_decimal(f.type):
            fields.append(pa.field(f.name, pa.float64()))
        else:
            fields.append(pa.field(f.name, f.type))
    t = t.cast(pa.schema(fields))
    if t.num_rows:
        # Exact columns lead the sort and doubles come last: two engines may add doubles in
        # another order, and a last-bit difference must not reorder rows that tie.
        def rank(c: str) -> int:
            typ = t.schema.field(c).type
            return 2 if pa.types.is_floating(typ) else 1 if pa.types.is_boolean(typ) else 0

        t = t.sort_by([(c, "ascending") for c in sorted(cols, key=rank)])
    return t.combine_chunks()


def table_checksum(wh: Warehouse, name: str, exclude: Iterable[str] = ()) -> str:
    """sha256 of a table's content, independent of row order and storage layout."""
    t = normalise(wh.to_arrow(name), exclude)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        for b in t.to_batches(max_chunksize=1 << 20):
            w.write_batch(b)
    h = hashlib.sha256(sink.getvalue().to_pybytes())
    h.update(str(t.num_rows).encode())
    return h.hexdigest()
