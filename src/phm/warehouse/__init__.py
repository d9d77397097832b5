"""The warehouse: Ibis connections to DuckDB (embedded default) or Spark (scale).

Both backends offer the same small interface:

- :meth:`Warehouse.table` returns an Ibis table; analytics only ever see Ibis.
- :meth:`Warehouse.transaction` groups writes so that they land together or not at all:
  replace one source's rows in a table, append rows, or materialise Ibis expressions.
  A crash at any point leaves the previous committed state.

DuckDB keeps everything in one ``.duckdb`` file and uses its ACID transactions.
Spark keeps each table as parquet directories under the warehouse folder and commits
by atomically replacing ``catalog.json`` (write-new-then-rename), so readers see the
old catalogue or the new one, never a mixture.
"""

from __future__ import annotations

from pathlib import Path

from phm.errors import InputError, UserError
from phm.warehouse.access import WarehouseInUse, check_duckdb_file
from phm.warehouse.base import Transaction, Warehouse, fetch, table_checksum

__all__ = ["BACKENDS", "Transaction", "Warehouse", "WarehouseInUse", "connect", "fetch", "table_checksum"]

BACKENDS = ("duckdb", "spark")


def connect(path: str | Path, backend: str | None = None, *, create: bool = False, read_only: bool = False) -> Warehouse:
    """Open the warehouse at ``path``.

    ``backend`` defaults to what is already there: a file is DuckDB, a folder with
    ``catalog.json`` is Spark; a new path is DuckDB unless ``backend="spark"``.
    ``create=False`` refuses a path that holds no warehouse yet; an existing file that is not a
    DuckDB database is always refused. ``read_only`` (DuckDB) shares the file with other
    readers, such as the dashboard; writing needs it to itself (:class:`WarehouseInUse`).
    """
    path = Path(path)
    if backend is None:
        backend = "spark" if (path / "catalog.json").is_file() else "duckdb"
    if backend not in BACKENDS:
        raise UserError(f"unknown warehouse backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "duckdb":
        check_duckdb_file(path)  # before anything is read or written: a Parquet file is not a warehouse
    elif path.exists() and not path.is_dir():
        raise InputError(f"warehouse {path} is a file, not a Spark warehouse folder; give a folder "
                         "(phm ingest --backend spark creates it)")
    exists = (path / "catalog.json").is_file() if backend == "spark" else path.is_file()
    if not exists and not create:
        raise UserError(f"no warehouse at {path}; run 'phm ingest' first")
    if backend == "spark":
        from phm.warehouse.spark import SparkWarehouse

        return SparkWarehouse(path, create=create)
    from phm.warehouse.duck import DuckDBWarehouse

    return DuckDBWarehouse(path, create=create, read_only=read_only)
