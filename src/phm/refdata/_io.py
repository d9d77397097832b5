"""Reading the shipped CSV files into typed Arrow tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DATA_DIR = Path(__file__).with_name("data")

# What counts as missing in numeric columns. Text columns never become null from
# the file: an empty code stays "" (and is reported by the loader that cares).
NULL_VALUES = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-")


def data_path(rel: str) -> Path:
    """Absolute path of a shipped data file, ``rel`` relative to ``data/``."""
    return DATA_DIR / rel


def read_csv(
    rel: str,
    types: Mapping[str, pa.DataType],
    *,
    rename: Mapping[str, str] | None = None,
) -> pa.Table:
    """Read the columns named in ``types`` (and only those) with those exact types.

    Text columns are stripped of surrounding whitespace. ``rename`` maps source
    column names to the names the loader returns. A UTF-8 byte-order mark is
    ignored; ``.gz`` files are decompressed.
    """
    convert = pacsv.ConvertOptions(
        column_types=dict(types),
        include_columns=list(types),
        null_values=list(NULL_VALUES),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    table = pacsv.read_csv(
        data_path(rel),
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        convert_options=convert,
    )
    columns = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type):
            col = pc.utf8_trim_whitespace(col)
        columns.append(col)
    names = [rename.get(n, n) if rename else n for n in table.column_names]
    return pa.table(columns, names=names)


def parse_int(col: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    """Parse integers written as text with thousands separators ("29,199")."""
    return pc.cast(pc.replace_substring(col, ",", ""), to)


def float_to_int(col: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    """Cast whole-number floats ("8.0") to ``to``; raises if any has a fraction."""
    return pc.cast(col, to, safe=True)


def lookup(keys: pa.ChunkedArray, table: pa.Table, key: str) -> pa.Table:
    """Rows of ``table`` matching each of ``keys`` in order (a left join, nulls if absent).

    ``table[key]`` must be unique.
    """
    idx = pc.index_in(keys, value_set=table.column(key).combine_chunks())
    return table.take(idx)


def select(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    return table.select(list(columns))
