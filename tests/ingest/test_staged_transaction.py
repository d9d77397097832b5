"""``phm build``'s transaction on DuckDB (:class:`phm.warehouse.duck._StagedTransaction`):
every table lands at the commit or none does, although each is written (and committed)
under a staging name as the build goes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from phm.warehouse import connect


@pytest.fixture
def wh(tmp_path):
    with connect(tmp_path / "w.duckdb", create=True) as w:
        with w.transaction() as tx:
            tx.replace_table("mart", pa.table({"x": [1, 2]}))
            tx.replace_table("old", pa.table({"y": ["a"]}))
        yield w


def _times10(w):
    t = w.table("mart")
    return t.mutate(x=t.x * 10)


def _x(w, name="mart"):
    return sorted(w.to_arrow(name)["x"].to_pylist())


def test_readers_see_the_old_tables_until_the_commit(wh):
    tx = wh.transaction(staged=True)
    t = tx.materialize("mart", _times10(wh))
    tx.drop("old")
    assert _x(wh) == [1, 2] and wh.has_table("old")  # the warehouse as readers see it
    assert sorted(t.x.to_pyarrow().to_pylist()) == [10, 20]  # the transaction sees its own
    assert sorted(tx.table("mart").x.to_pyarrow().to_pylist()) == [10, 20]
    tx.commit()
    assert _x(wh) == [10, 20] and not wh.has_table("old")
    assert not [n for n in wh.list_tables() if n.startswith("_staged_")]


def test_a_failed_build_changes_nothing_and_leaves_nothing(wh):
    with pytest.raises(RuntimeError), wh.transaction(staged=True) as tx:
        tx.materialize("mart", _times10(wh))
        tx.replace_table("new", pa.table({"z": [1]}))
        raise RuntimeError("a step failed")
    assert _x(wh) == [1, 2] and not wh.has_table("new")
    assert not [n for n in wh.list_tables() if n.startswith("_staged_")]


def test_staged_tables_of_a_run_that_died_are_removed_by_the_next(wh):
    tx = wh.transaction(staged=True)
    tx.materialize("mart", _times10(wh))  # then the process is killed: no commit
    assert "_staged_mart" in wh.list_tables() and _x(wh) == [1, 2]
    with wh.transaction(staged=True) as tx2:
        tx2.replace_table("other", pa.table({"x": [3]}))
    assert "_staged_mart" not in wh.list_tables() and _x(wh) == [1, 2] and _x(wh, "other") == [3]


def test_a_staged_transaction_does_not_append(wh):
    with pytest.raises(NotImplementedError, match="whole tables"):
        wh.transaction(staged=True).writer("mart", pa.schema([("x", pa.int64())]), "f.csv")
