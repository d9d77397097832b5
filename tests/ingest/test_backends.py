"""One suite over both warehouse backends: ingest and data quality give identical tables on
DuckDB and Spark (architecture.md: the same transforms on every backend)."""

from __future__ import annotations

import pytest

from phm.warehouse import connect
from phm.warehouse.base import normalise
from phm.warehouse.ledger import LEDGER_TABLE, VOLATILE
from phm_testing import ingest_with_key

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="module")
def spark_wh(icb10k_spark):
    return icb10k_spark


def _tables(path) -> dict:
    with connect(path) as wh:
        return {t: normalise(wh.to_arrow(t), VOLATILE if t == LEDGER_TABLE else ()) for t in wh.list_tables()}


def test_duckdb_and_spark_give_identical_tables(icb10k_duckdb, spark_wh):
    duck, spark = _tables(icb10k_duckdb), _tables(spark_wh)
    assert sorted(duck) == sorted(spark)
    assert duck["raw_patients"].num_rows >= 10_000
    d_meta = dict(zip(duck["warehouse_meta"]["key"].to_pylist(), duck["warehouse_meta"]["value"].to_pylist(), strict=True))
    s_meta = dict(zip(spark["warehouse_meta"]["key"].to_pylist(), spark["warehouse_meta"]["value"].to_pylist(), strict=True))
    assert (d_meta.pop("backend"), s_meta.pop("backend")) == ("duckdb", "spark")
    assert d_meta == s_meta
    for name in duck:
        if name == "warehouse_meta":
            continue
        assert duck[name].schema == spark[name].schema, name
        assert duck[name].equals(spark[name]), name


def test_spark_reingest_changes_nothing(icb10k, spark_wh):
    before = _tables(spark_wh)
    report = ingest_with_key(icb10k, spark_wh, backend="spark")
    assert {r.status for r in report.results} == {"unchanged"}
    assert _tables(spark_wh) == before


def test_spark_rollback_leaves_no_trace(spark_wh):
    import pyarrow as pa

    with connect(spark_wh) as wh:
        before = sorted(p.name for p in (spark_wh / "data").rglob("*"))
        tx = wh.transaction()
        w = tx.writer("scratch", pa.schema([pa.field("x", pa.int64())]), "extra.csv")
        w.write(pa.table({"x": [1, 2]}))
        assert len(sorted(p.name for p in (spark_wh / "data").rglob("*"))) > len(before)
        tx.rollback()
        assert sorted(p.name for p in (spark_wh / "data").rglob("*")) == before
        assert "scratch" not in wh.list_tables()


def test_two_spark_warehouses_in_one_process_keep_their_own_tables(spark_wh, icb_small, tmp_path):
    other = tmp_path / "other"
    ingest_with_key(icb_small / "deaths.parquet", other, backend="spark", run_dq=False)
    with connect(spark_wh) as a, connect(other) as b:
        n_a = a.to_arrow("raw_deaths").num_rows
        n_b = b.to_arrow("raw_deaths").num_rows
        assert n_a != n_b
        assert a.to_arrow("raw_deaths").num_rows == n_a  # still its own after b was read
        assert b.to_arrow("raw_deaths").num_rows == n_b
