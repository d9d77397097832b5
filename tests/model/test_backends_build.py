"""The same build on DuckDB and Spark gives identical marts (10,000 persons)."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
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


def _same(d: pa.Table, s: pa.Table) -> bool:
    """Equal, except that doubles may differ in the last bits (engines add in another order)."""
    for name in d.column_names:
        x, y = d[name], s[name]
        if pa.types.is_floating(x.type):
            if not np.allclose(x.to_numpy(), y.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True):
                return False
        elif not x.equals(y):
            return False
    return True


def test_duckdb_and_spark_build_identical_marts(icb10k_built, icb10k_spark, tmp_path):
    spark_copy = tmp_path / "spark"
    shutil.copytree(icb10k_spark, spark_copy, ignore=shutil.ignore_patterns(".lock"))
    assert main(["build", "--warehouse", str(spark_copy)]) == 0
    duck, spark = _marts(icb10k_built), _marts(spark_copy)
    assert duck["person"].num_rows >= 10_000
    for name in duck:
        assert duck[name].schema == spark[name].schema, name
        assert duck[name].num_rows == spark[name].num_rows, name
        assert _same(duck[name], spark[name]), name
