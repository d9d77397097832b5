"""Stream tables to one parquet or CSV file per dataset, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class DatasetWriter:
    """Appends chunks to ``DIR/name.parquet`` (one row group per chunk) or ``DIR/name.csv``."""

    def __init__(self, directory: Path, name: str, fmt: str) -> None:
        self.path = Path(directory) / f"{name}.{fmt}"
        self.fmt = fmt
        self.rows = 0
        self._writer = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
            if self.fmt == "parquet":
                self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd",
                                                compression_level=1, write_statistics=True)
            else:
                self._writer = pacsv.CSVWriter(self.path, table.schema)
        table = table.cast(self._schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        if self._writer is None and empty_schema is not None:
            self.write(empty_schema.empty_table())
        if self._writer is not None:
            self._writer.close()
