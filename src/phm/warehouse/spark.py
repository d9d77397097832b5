"""Spark warehouse: parquet directories under one folder, committed through ``catalog.json``.

Layout::

    WAREHOUSE/catalog.json                      which parquet directories make up each table
    WAREHOUSE/data/<table>/<uuid>/part-*.parquet

A transaction writes new directories only, then replaces ``catalog.json`` with
``os.replace`` (atomic on POSIX). Directories no catalogue refers to are debris of an
interrupted transaction and are removed when the warehouse is next opened for writing.
Spark runs in local mode by default; set ``PHM_SPARK_MASTER`` to use a cluster.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from phm.warehouse.base import SourceWriter, Transaction, Warehouse, conform

_SESSION = None


def driver_memory() -> str:
    """The local driver's heap (``PHM_SPARK_DRIVER_MEMORY`` overrides): 45% of this machine's
    memory, between 4 and 16 GB. In local mode the driver is also the executor; with 4 GB a
    1,000,000-person build ran out of execution memory in ``person_year`` (its chain of
    sort-merge joins: Spark's UNABLE_TO_ACQUIRE_MEMORY), with 10 GB it completes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return "4g"
    return f"{max(4, min(16, int(0.45 * total / 2**30)))}g"


def spark_session():
    """One Spark session per process, configured for a quiet, reproducible local run."""
    global _SESSION
    if _SESSION is None:
        from pyspark.sql import SparkSession

        master = os.environ.get("PHM_SPARK_MASTER", "local[2]")
        tmp = Path(os.environ.get("PHM_SPARK_TMP", "/tmp/phm-spark"))
        builder = (SparkSession.builder.appName("phm").master(master)
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.shuffle.partitions", os.environ.get("PHM_SPARK_PARTITIONS", "8"))
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.sql.warehouse.dir", str(tmp / "spark-warehouse"))
                   .config("spark.driver.memory", os.environ.get("PHM_SPARK_DRIVER_MEMORY", driver_memory()))
                   .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
                   .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tmp}"))
        _SESSION = builder.getOrCreate()
        _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


def _schema_json(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, str(f.type)] for f in schema]


_TYPES = {"string": pa.string(), "date32[day]": pa.date32(), "timestamp[us]": pa.timestamp("us"),
          "int64": pa.int64(), "double": pa.float64(), "bool": pa.bool_()}


def _schema_from_json(cols: list[list[str]]) -> pa.Schema:
    return pa.schema([pa.field(n, _TYPES[t]) for n, t in cols])


class SparkWarehouse(Warehouse):
    backend = "spark"

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = Path(path)
        self.catalog_path = self.path / "catalog.json"
        if create and not self.catalog_path.exists():
            (self.path / "data").mkdir(parents=True, exist_ok=True)
            self._write_catalog({"tables": {}})
        self.spark = spark_session()
        import ibis

        self._con = ibis.pyspark.connect(self.spark)
        self._registered: dict[str, str] = {}
        # temporary views are shared by the whole Spark session: name them per warehouse
        self._tag = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:10]
        self._lock_fd: int | None = None
        if self._try_lock():
            try:
                self._sweep()
            finally:
                self._unlock()

    # -- one writer at a time ------------------------------------------------------------------
    def _try_lock(self, wait: bool = False) -> bool:
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- catalogue ---------------------------------------------------------------------------
    def catalog(self) -> dict:
        return json.loads(self.catalog_path.read_text())

    def _write_catalog(self, cat: dict) -> None:
        tmp = self.path / f".catalog.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w") as f:
            json.dump(cat, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.catalog_path)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _sweep(self) -> None:
        """Remove directories and temp files that no committed catalogue refers to."""
        cat = self.catalog()
        live = {p["path"] for t in cat["tables"].values() for p in t["parts"]}
        data = self.path / "data"
        for tdir in data.iterdir() if data.exists() else []:
            for d in tdir.iterdir():
                if f"data/{tdir.name}/{d.name}" not in live:
                    shutil.rmtree(d, ignore_errors=True)
            if not any(tdir.iterdir()):
                tdir.rmdir()
        for tmp in self.path.glob(".catalog.*.tmp"):
            tmp.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------
    @property
    def con(self):
        return self._con

    def list_tables(self) -> list[str]:
        return sorted(self.catalog()["tables"])

    def table(self, name: str):
        cat = self.catalog()["tables"]
        if name not in cat:
            raise KeyError(f"no table {name!r} in the warehouse")
        entry = cat[name]
        key = json.dumps(entry, sort_keys=True)
        view = f"{name}__{self._tag}"
        if self._registered.get(view) != key:
            self._register(view, entry)
            self._registered[view] = key
        return self._con.table(view)

    def _register(self, name: str, entry: dict) -> None:
        from pyspark.sql.types import (
            BooleanType,
            DateType,
            DoubleType,
            LongType,
            StringType,
            StructField,
            StructType,
            TimestampNTZType,
        )

        spark_types = {"string": StringType(), "date32[day]": DateType(), "timestamp[us]": TimestampNTZType(),
                       "int64": LongType(), "double": DoubleType(), "bool": BooleanType()}
        schema = StructType([StructField(n, spark_types[t], True) for n, t in entry["schema"]])
        paths = [str(self.path / p["path"]) for p in entry["parts"]]
        df = self.spark.read.schema(schema).parquet(*paths) if paths else self.spark.createDataFrame([], schema)
        df.createOrReplaceTempView(name)

    def transaction(self, staged: bool = False) -> Transaction:
        return _SparkTransaction(self)  # already staged: new directories, swapped in the catalog at commit


class _SparkWriter(SourceWriter):
    def __init__(self, directory: Path, schema: pa.Schema, rel: str) -> None:
        self.dir, self.schema, self.n, self.rel = directory, schema, 0, rel

    def write(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(batch.select(self.schema.names).cast(self.schema), self.dir / f"part-{self.n:05d}.parquet", compression="zstd")
        self.n += 1


class _SparkTransaction(Transaction):
    def __init__(self, wh: SparkWarehouse) -> None:
        self.wh = wh
        if not wh._try_lock(wait=True):  # pragma: no cover - a blocking lock either succeeds or raises
            raise RuntimeError("could not lock the warehouse")
        self.cat = wh.catalog()  # read under the lock: no other writer can commit meanwhile
        self.new_dirs: list[Path] = []
        self.writers: list[_SparkWriter] = []
        self.done = False

    def _new_dir(self, table: str) -> tuple[str, Path]:
        rel = f"data/{table}/{uuid.uuid4().hex}"
        d = self.wh.path / rel
        self.new_dirs.append(d)
        return rel, d

    def _entry(self, table: str, schema: pa.Schema) -> dict:
        entry = self.cat["tables"].setdefault(table, {"schema": _schema_json(schema), "parts": []})
        # A table made under an older contract gains the new columns (read as null from old parts).
        have = {n for n, _ in entry["schema"]}
        entry["schema"] = [*entry["schema"], *[c for c in _schema_json(schema) if c[0] not in have]]
        return entry

    def writer(self, table, schema, source, *, replace=True) -> SourceWriter:
        entry = self._entry(table, schema)
        if replace and source is not None:
            entry["parts"] = [p for p in entry["parts"] if p["source"] != source]
        rel, d = self._new_dir(table)
        entry["parts"].append({"source": source, "path": rel})
        w = _SparkWriter(d, _schema_from_json(entry["schema"]), rel)
        self.writers.append(w)
        return w

    def replace_table(self, table: str, data: pa.Table) -> None:
        self.cat["tables"].pop(table, None)
        self.writer(table, data.schema, None).write(data)

    def materialize(self, table: str, expr, categories: dict[str, list[str]] | None = None) -> None:
        # categories: Spark's parquet already dictionary-encodes repeated strings
        expr = conform(expr)
        sql = self.wh.con.compile(expr)
        df = self.wh.spark.sql(sql)
        schema = _arrow_schema_of(expr)
        rel, d = self._new_dir(table)
        df.write.mode("overwrite").parquet(str(d))
        self.cat["tables"][table] = {"schema": _schema_json(schema), "parts": [{"source": None, "path": rel}]}
        return self.table(table)

    def table(self, name: str):
        if name not in self.cat["tables"]:
            raise KeyError(f"no table {name!r} in the warehouse")
        view = f"_tx_{name}__{self.wh._tag}"
        self.wh._register(view, self.cat["tables"][name])
        self.wh._registered.pop(view, None)
        return self.wh.con.table(view)

    def drop(self, table: str) -> None:
        self.cat["tables"].pop(table, None)  # its parts go with the sweep after the commit

    def commit(self) -> None:
        if self.done:
            return
        # Parts that received no rows are dropped; a part that did but has vanished is an error.
        empty = {w.rel for w in self.writers if w.n == 0}
        for entry in self.cat["tables"].values():
            entry["parts"] = [p for p in entry["parts"] if p["path"] not in empty]
            for p in entry["parts"]:
                if not (self.wh.path / p["path"]).exists():
                    self.rollback()
                    raise RuntimeError(f"warehouse part {p['path']} disappeared before commit")
        try:
            self.wh._write_catalog(self.cat)
            self.done = True
            self.wh._sweep()
        finally:
            self.wh._unlock()

    def rollback(self) -> None:
        if not self.done:
            for d in self.new_dirs:
                shutil.rmtree(d, ignore_errors=True)
                if d.parent.exists() and not any(d.parent.iterdir()):
                    d.parent.rmdir()  # a table this transaction would have created
            self.done = True
            self.wh._unlock()


def _arrow_schema_of(expr) -> pa.Schema:
    fields = []
    for name, typ in expr.schema().items():
        if typ.is_string():
            t = pa.string()
        elif typ.is_date():
            t = pa.date32()
        elif typ.is_timestamp():
            t = pa.timestamp("us")
        elif typ.is_integer():
            t = pa.int64()
        elif typ.is_floating() or typ.is_decimal():
            t = pa.float64()
        elif typ.is_boolean():
            t = pa.bool_()
        else:
            raise TypeError(f"column {name}: no warehouse type for {typ}")
        fields.append(pa.field(name, t))
    return pa.schema(fields)
