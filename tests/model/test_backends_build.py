"""The same build on DuckDB and Spark gives identical marts (10,000 persons)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phm.analysis import TABLES
from phm.build import MARTS
from phm.cli import main
from phm.warehouse import connect
from phm.warehouse.base import normalise

pytestmark = pytest.mark.xdist_group("spark")


def _marts(path) -> dict[str, pa.Table]:
    with connect(path) as wh:
        return {m: normalise(wh.to_arrow(m)) for m in (*MARTS, *TABLES, "build_meta")}


def _round(t: pa.Table) -> pa.Table:
    """Money and other doubles to 6 decimal places: engines may add floats in another order."""
    cols = [pc.round(c, 6) if pa.types.is_floating(c.type) else c for c in t.columns]
    return pa.table(cols, names=t.column_names)


def test_duckdb_and_spark_build_identical_marts(icb10k_built, icb10k_spark, tmp_path):
    spark_copy = tmp_path / "spark"
    shutil.copytree(icb10k_spark, spark_copy, ignore=shutil.ignore_patterns(".lock"))
    assert main(["build", "--warehouse", str(spark_copy)]) == 0
    duck, spark = _marts(icb10k_built), _marts(spark_copy)
    assert duck["person"].num_rows >= 10_000
    for name in duck:
        assert duck[name].schema == spark[name].schema, name
        d, s = _round(duck[name]), _round(spark[name])
        assert d.num_rows == s.num_rows, name
        assert normalise(d).equals(normalise(s)), name
