"""analysis_tables: every output, plain types, totals that reconcile, and DuckDB = Spark."""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phm.analysis import TABLES, analysis_tables
from phm.model.activity import SETTINGS

from .conftest import ACTIVITY_SCHEMA, CONDITIONS, rows_table

PLAIN = {pa.string(), pa.int64(), pa.float64(), pa.bool_()}
PRACTICES = {"A": "P1", "B": "P1", "C": "P2", "D": "P2"}


def _population(n: int = 600, seed: int = 7):
    """``(person_year rows, activity rows)``: a small made-up ICB over two years, every IMD
    decile present; activity rows carry exactly each person-year's cost per setting."""
    rng = np.random.default_rng(seed)
    rows, act = [], []
    for fy in (2023, 2024):
        for i in range(n):
            practice = "ABCD"[i % 4]
            age = int(rng.integers(0, 96))
            costs = {
                s: float(round(rng.gamma(0.5, 200.0), 2)) if rng.random() < 0.5 else 0.0
                for s in SETTINGS
            }
            rows.append(
                {
                    "person_id": i + 1,
                    "fy": fy,
                    "age": age,
                    "sex": "12"[i % 2],
                    "exposure_days": 0 if i % 97 == 0 else 365,
                    "imd2019_decile": i % 10 + 1,
                    "imd2025_decile": (i + 3) % 10 + 1,
                    "core20": i % 10 < 2,
                    "ethnic_group": ["White", "Asian or Asian British", "Not known"][i % 3],
                    "practice_code": practice,
                    "pcn_code": PRACTICES[practice],
                    "segment": ["healthy", "chronic_conditions", "acutely_ill", "end_of_life"][
                        i % 4
                    ],
                    "emergency_admissions": int(rng.poisson(0.3 if i % 10 < 5 else 0.1)),
                    **{f"cond_{c}": bool(rng.random() < 0.1 + age / 400) for c in CONDITIONS},
                    **{f"cost_{s}": c for s, c in costs.items()},
                    **{f"n_{s}": int(c > 0) for s, c in costs.items()},
                }
            )
            for s, c in costs.items():
                if c > 0:
                    act.append(
                        {
                            "person_id": i + 1,
                            "fy": fy,
                            "setting": s,
                            "programme": ["circulation", "respiratory", "other"][i % 3],
                            "cost": c,
                        }
                    )
    return rows_table(rows), pa.Table.from_pylist(act, schema=ACTIVITY_SCHEMA)


@pytest.fixture(scope="module")
def data():
    return _population()


@pytest.fixture(scope="module")
def duck_tables(data):
    con = ibis.duckdb.connect()
    py, act = data
    marts = {
        "person_year": con.create_table("person_year", ibis.memtable(py)),
        "activity": con.create_table("activity", ibis.memtable(act)),
    }
    return analysis_tables(marts)


def test_every_table_with_plain_types(duck_tables):
    assert list(duck_tables) == [t for t in TABLES if t != "dash_monthly"]  # needs the spells mart
    for name, t in duck_tables.items():
        assert t.num_rows > 0, name
        bad = {f.name: str(f.type) for f in t.schema if f.type not in PLAIN}
        assert not bad, (name, bad)


def test_latest_year_and_totals_reconcile(duck_tables, data):
    py, _ = data
    latest = py.filter(pc.equal(py["fy"], 2024))
    total = pc.sum(latest["cost_total"]).as_py()
    for name, t in duck_tables.items():
        if name == "dash_summary":  # every year
            assert set(t["fy"].to_pylist()) == {2023, 2024}
        elif name not in ("dash_areas", "dash_monthly", "dash_peers", "dash_peer_profile"):  # no fy column
            assert set(t["fy"].to_pylist()) == {2024}, name
    pb = duck_tables["spend_programme_budget"]
    for level in ("practice", "pcn", "place", "icb"):
        spent = pc.sum(pb.filter(pc.equal(pb["level"], level))["spend"]).as_py()
        assert spent == pytest.approx(total), level
    assert pc.sum(duck_tables["spend_rcm"]["spend"]).as_py() == pytest.approx(total)
    ai = duck_tables["spend_access_intensity"]
    icb = ai.filter(pc.equal(ai["level"], "icb"))
    assert pc.sum(icb["spend"]).as_py() == pytest.approx(total)
    cph = duck_tables["ineq_cost_per_head"]
    assert pc.sum(
        cph.filter(pc.equal(cph["dimension"], "core20"))["spend"]
    ).as_py() == pytest.approx(total)


def test_sii_rows_for_every_deprivation_dimension(duck_tables):
    sii = duck_tables["ineq_sii"]
    dims = {"imd2019_quintile", "imd2019_decile", "imd2025_quintile", "imd2025_decile"}
    assert set(sii["dimension"].to_pylist()) == dims
    cost = sii.filter(pc.equal(sii["measure"], "cost_per_head"))
    assert cost.num_rows == 4 and all(np.isfinite(cost["sii"].to_numpy()))


def _canonical(t: pa.Table) -> pa.Table:
    keys = [f.name for f in t.schema if f.type != pa.float64()]
    return t.sort_by([(k, "ascending") for k in keys])


@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_tables(data, duck_tables):
    pytest.importorskip("pyspark")
    from phm.warehouse.spark import spark_session

    session = spark_session()
    py, act = data
    session.createDataFrame(py).createOrReplaceTempView("analysis_person_year")
    session.createDataFrame(act).createOrReplaceTempView("analysis_activity")
    con = ibis.pyspark.connect(session)
    marts = {
        "person_year": con.table("analysis_person_year"),
        "activity": con.table("analysis_activity"),
    }
    spark = analysis_tables(marts)
    for name, d in duck_tables.items():
        s = spark[name]
        assert s.schema == d.schema, name
        d, s = _canonical(d), _canonical(s)
        for column in d.column_names:
            a, b = d[column].to_pylist(), s[column].to_pylist()
            if d.schema.field(column).type == pa.float64():
                assert np.allclose(
                    np.array(a, float), np.array(b, float), rtol=1e-9, equal_nan=True
                ), (name, column)
            else:
                assert a == b, (name, column)
