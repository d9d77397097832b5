"""``phm ingest``'s transaction on DuckDB (:class:`phm.warehouse.duck._DuckTransaction`): a
source's rows are staged on a connection of their own, committed in chunks so that memory stays
bounded (DuckDB holds a transaction's own appends in memory), and land in their table at the
commit, or not at all."""

from __future__ import annotations

import pyarrow as pa
import pytest

from phm.warehouse import connect, duck

SCHEMA = pa.schema([("_source", pa.string()), ("x", pa.int64())])


def _rows(source: str, xs) -> pa.Table:
    return pa.table({"_source": [source] * len(xs), "x": list(xs)}, schema=SCHEMA)


def _content(w) -> list[tuple]:
    t = w.to_arrow("raw")
    return sorted(zip(t["_source"].to_pylist(), t["x"].to_pylist(), strict=True))


def _stages(w) -> list[str]:
    return [n for n in w.list_tables() if n.startswith(duck.STAGE_PREFIX)]


@pytest.fixture
def wh(tmp_path, monkeypatch):
    monkeypatch.setattr(duck, "STAGE_COMMIT_ROWS", 3)  # several staging commits in a small test
    with connect(tmp_path / "w.duckdb", create=True) as w:
        yield w


def _load(w, source: str, batches, commit: bool = True):
    tx = w.transaction()
    wr = tx.writer("raw", SCHEMA, source)
    for b in batches:
        wr.write(_rows(source, b))
    tx.replace_table("ledger", pa.table({"source": [source]}))
    if commit:
        tx.commit()
    else:
        tx.rollback()


def test_a_first_load_lands_whole_in_chunks(wh):
    _load(wh, "a.parquet", [range(0, 4), range(4, 9), []])
    assert _content(wh) == [("a.parquet", i) for i in range(9)]
    assert _stages(wh) == []


def test_a_reload_replaces_its_own_rows_and_keeps_the_others(wh):
    _load(wh, "a.parquet", [range(3)])
    _load(wh, "b.parquet", [range(10, 15)])  # a second source: appended by INSERT
    _load(wh, "a.parquet", [range(100, 102)])  # a reload of a: its old rows go
    assert _content(wh) == [("a.parquet", 100), ("a.parquet", 101), *[("b.parquet", i) for i in range(10, 15)]]
    _load(wh, "b.parquet", [])  # a reload with no rows empties that source
    assert _content(wh) == [("a.parquet", 100), ("a.parquet", 101)]
    assert _stages(wh) == []


def test_a_rolled_back_load_changes_nothing_and_leaves_nothing(wh):
    _load(wh, "a.parquet", [range(3)])
    _load(wh, "a.parquet", [range(50, 60)], commit=False)
    _load(wh, "c.parquet", [range(7)], commit=False)
    assert _content(wh) == [("a.parquet", i) for i in range(3)]
    assert _stages(wh) == [] and wh.to_arrow("ledger")["source"].to_pylist() == ["a.parquet"]


def test_staging_left_by_a_killed_ingest_is_removed_when_the_warehouse_opens(tmp_path):
    path = tmp_path / "w.duckdb"
    with connect(path, create=True) as w:
        tx = w.transaction()
        tx.writer("raw", SCHEMA, "a.parquet").write(_rows("a.parquet", range(5)))
        tx.writer("raw", SCHEMA, "a.parquet").write(_rows("a.parquet", range(1)))
        assert len(_stages(w)) == 2  # the process "dies" here: no commit, no rollback
    with connect(path) as w:
        assert _stages(w) == [] and not w.has_table("raw")


def test_writing_after_the_transaction_began_is_refused(wh):
    tx = wh.transaction()
    wr = tx.writer("raw", SCHEMA, "a.parquet")
    tx.replace_table("ledger", pa.table({"source": ["a.parquet"]}))
    with pytest.raises(RuntimeError, match="bug in phm"):
        wr.write(_rows("a.parquet", [1]))
    tx.rollback()
    # a writer asked for once the transaction began writes into it directly
    tx = wh.transaction()
    tx.replace_table("ledger", pa.table({"source": ["b.parquet"]}))
    tx.writer("raw", SCHEMA, "b.parquet").write(_rows("b.parquet", [7]))
    tx.commit()
    assert _content(wh) == [("b.parquet", 7)]
