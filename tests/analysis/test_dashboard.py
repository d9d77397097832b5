"""Dashboard tables: levels add up, tables agree with one another and with the ICB-level
analysis tables, the top-cost cohort on a hand-computed example, and the build writes them."""

from __future__ import annotations

from collections import defaultdict

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from phm.analysis import dashboard, inequalities
from phm.model.activity import SETTINGS
from phm.model.common import ESP_BANDS

from .conftest import CONDITIONS, DEC, rows_table

PLAIN = {pa.string(), pa.int64(), pa.float64(), pa.bool_()}
PRACTICES = {"A": "P1", "B": "P1", "C": "P2", "D": "P2"}
EXTRA = {
    "ltc_count": pa.int64(),
    "hri": pa.bool_(),
    "died_in_year": pa.bool_(),
    "ae_attendances": DEC,
}
EXTRA_DEFAULTS = {"ltc_count": 0, "hri": False, "died_in_year": False, "ae_attendances": 0}


def dash_rows(rows: list[dict]) -> pa.Table:
    """:func:`.conftest.rows_table` plus the person_year columns only the dashboard reads."""
    t = rows_table(rows)
    for name, typ in EXTRA.items():
        if name not in t.column_names:
            values = [r.get(name, EXTRA_DEFAULTS[name]) for r in rows]
            t = t.append_column(name, pa.array(values, typ))
    return t


@pytest.fixture
def make_py(con):
    def make(rows: list[dict]):
        return con.create_table("person_year", ibis.memtable(dash_rows(rows)), overwrite=True)

    return make


def _population(n: int = 800, seed: int = 11) -> pa.Table:
    """Two years of a made-up ICB: four practices in two PCNs, every IMD decile, some people
    with no IMD, no exposure (activity after death) or no PCN."""
    rng = np.random.default_rng(seed)
    rows = []
    for fy in (2023, 2024):
        for i in range(n):
            practice = "ABCD"[i % 4]
            age = int(rng.integers(0, 100))
            costs = {
                s: float(round(rng.gamma(0.5, 300.0), 2)) if rng.random() < 0.4 else 0.0
                for s in SETTINGS
            }
            decile = None if i % 37 == 0 else int(rng.integers(1, 11))
            rows.append(
                {
                    "person_id": i + 1,
                    "fy": fy,
                    "age": age,
                    "sex": "12"[i % 2] if i % 53 else "9",
                    "exposure_days": 0 if i % 97 == 0 else int(rng.integers(1, 366)),
                    "imd2019_decile": decile,
                    "imd2025_decile": decile,
                    "core20": decile is not None and decile <= 2,
                    "ethnic_group": ["White", "Asian or Asian British", "Not known"][i % 3],
                    "practice_code": practice,
                    "pcn_code": None if i % 89 == 0 else PRACTICES[practice],
                    "segment": ["healthy", "chronic_conditions", "acutely_ill", "end_of_life"][
                        i % 4
                    ],
                    "emergency_admissions": int(
                        rng.poisson(0.4 if decile and decile < 5 else 0.15)
                    ),
                    "ae_attendances": int(rng.poisson(0.3)),
                    "ltc_count": int(rng.integers(0, 6)),
                    "hri": bool(rng.random() < 0.05),
                    "died_in_year": i % 4 == 3,
                    **{f"cond_{c}": bool(rng.random() < 0.2) for c in CONDITIONS},
                    **{f"cost_{s}": c for s, c in costs.items()},
                    **{f"n_{s}": int(c > 0) + int(rng.random() < 0.05) for s, c in costs.items()},
                }
            )
    return dash_rows(rows)


@pytest.fixture(scope="module")
def pop_table():
    return _population()


@pytest.fixture(scope="module")
def pop(pop_table):
    return ibis.duckdb.connect().create_table("person_year", ibis.memtable(pop_table))


@pytest.fixture(scope="module")
def tables(pop):
    return dashboard.dashboard_tables(pop)


def _rows(t: pa.Table, **eq) -> list[dict]:
    return [r for r in t.to_pylist() if all(r[k] == v for k, v in eq.items())]


def _sums(t: pa.Table, by: list[str], measure: str, level: str) -> dict:
    out: dict = defaultdict(float)
    for r in _rows(t, level=level):
        out[tuple(r[b] for b in by)] += r[measure]
    return dict(out)


def test_every_table_plain_and_non_empty(tables):
    assert list(tables) == list(dashboard.TABLES)
    for name, t in tables.items():
        assert t.num_rows > 0, name
        assert {f.type for f in t.schema} <= PLAIN, name


def test_levels_add_up(tables, pop_table):
    """Practices sum to the ICB, PCNs to the ICB less the person-years with no PCN."""
    s = tables["dash_summary"]
    measures = [c for c in s.column_names if c not in ("level", "area_code", "fy")]
    measures = [c for c in measures if not c.endswith(("_top1", "_top2"))]  # merged, not added
    no_pcn = pop_table.filter(pc.is_null(pop_table["pcn_code"]))
    for m in measures:
        icb = _sums(s, ["fy"], m, "icb")
        assert _sums(s, ["fy"], m, "practice") == pytest.approx(icb), m
        assert _sums(s, ["fy"], m, "place") == pytest.approx(icb), m
        assert set(icb) == {(2023,), (2024,)}
    for fy in (2023, 2024):
        lost = pc.sum(no_pcn.filter(pc.equal(no_pcn["fy"], fy))["cost_total"]).as_py()
        pcn = _sums(s, ["fy"], "spend", "pcn")[(fy,)]
        assert pcn + lost == pytest.approx(_sums(s, ["fy"], "spend", "icb")[(fy,)])
    assert {r["area_code"] for r in _rows(s, level="pcn")} == {"P1", "P2"}  # null PCN dropped
    for name, by, m in [
        ("dash_pyramid", ["age_band", "sex"], "persons"),
        ("dash_imd", ["imd2019_decile"], "persons"),
        ("dash_segments", ["segment"], "spend"),
        ("dash_rcm", ["segment", "setting"], "users"),
        ("dash_top_cohort", ["dimension", "group"], "spend"),
    ]:
        t = tables[name]
        assert _sums(t, by, m, "practice") == pytest.approx(_sums(t, by, m, "icb")), name


def test_icb_summary_by_hand(tables, pop_table):
    s = _rows(tables["dash_summary"], level="icb", fy=2024)
    assert len(s) == 1
    s = s[0]
    rows = [r for r in pop_table.to_pylist() if r["fy"] == 2024]
    reg = [r for r in rows if r["exposure_days"] > 0]
    assert s["persons"] == len(reg)
    assert s["spend"] == pytest.approx(sum(r["cost_total"] for r in rows))
    assert s["person_years"] == pytest.approx(sum(r["exposure_days"] for r in rows) / 365.25)
    assert s["emergency_admissions"] == sum(int(r["emergency_admissions"]) for r in rows)
    assert s["deaths"] == sum(r["died_in_year"] for r in rows)
    assert s["ltc2plus"] == sum(r["ltc_count"] >= 2 for r in reg)
    assert s["hri"] == sum(r["hri"] for r in reg)
    assert s["ae_attendances"] == sum(int(r["ae_attendances"]) for r in rows)
    assert s["age65plus"] == sum(r["age"] >= 65 for r in reg)
    assert s["core20"] == sum(r["core20"] for r in reg)


def test_tables_agree_per_area(tables):
    summary = {(r["level"], r["area_code"]): r for r in _rows(tables["dash_summary"], fy=2024)}
    pyramid = _sums_by_area(tables["dash_pyramid"], "persons")
    imd = _sums_by_area(tables["dash_imd"], "persons")
    seg_spend = _sums_by_area(tables["dash_segments"], "spend")
    seg_persons = _sums_by_area(tables["dash_segments"], "persons")
    rcm_spend = _sums_by_area(tables["dash_rcm"], "spend")
    assert set(pyramid) == set(summary) == set(seg_spend)
    for k, r in summary.items():
        assert pyramid[k] == r["persons"] == imd[k] == seg_persons[k], k
        assert seg_spend[k] == pytest.approx(r["spend"]), k
        assert rcm_spend[k] == pytest.approx(r["spend"]), k  # cost_total = sum of settings here
    for r in tables["dash_rcm"].to_pylist():
        assert 0 <= r["users"] <= r["persons"]
    # every area has every band x sex, every decile, every segment x setting
    n_areas = len(summary)
    assert tables["dash_pyramid"].num_rows == n_areas * 19 * 3  # sexes 1, 2, 9
    assert tables["dash_pyramid"]["age_band"].to_pylist()[: 19 * 3 : 3] == list(ESP_BANDS)
    assert tables["dash_imd"].num_rows == n_areas * 11
    assert tables["dash_rcm"].num_rows == n_areas * 8 * len(SETTINGS)
    names = _rows(tables["dash_segments"], level="icb", segment="end_of_life")[0]
    assert names["segment_name"] == "Short period of decline before dying"


def _sums_by_area(t: pa.Table, measure: str) -> dict:
    out: dict = defaultdict(float)
    for r in t.to_pylist():
        out[(r["level"], r["area_code"])] += r[measure]
    return dict(out)


def test_top_cohort_by_hand(make_py):
    """20 registered people costing 100, 200, ... 2000 and one unregistered costing 10^6.
    Nearest rank: k = ceil(0.95 x 20) = 19, threshold = 1900 (linear interpolation would give
    1905), so the cohort is the two people at 1900 and 2000; the unregistered one is out."""
    rows = [
        {
            "practice_code": "A" if i < 10 else "B",
            "age": 30 + 3 * i,
            "ltc_count": i % 6,
            "segment": "healthy" if i < 19 else "end_of_life",
            "cost_apc": 60.0 * (i + 1),
            "n_apc": 1,
            "cost_gp": 40.0 * (i + 1),
            "n_gp": 0 if i == 19 else 2,
        }
        for i in range(20)
    ]
    rows.append({"practice_code": "A", "exposure_days": 0, "cost_apc": 1e6, "n_apc": 1})
    py = make_py(rows)
    threshold, n = dashboard.top_cost_threshold(py)
    assert (threshold, n) == (1900.0, 20)
    t = dashboard.top_cohort(py)
    assert set(t["threshold"].to_pylist()) == {1900.0}
    b = {(r["dimension"], r["group"]): r for r in _rows(t, level="practice", area_code="B")}
    assert (
        b[("segment", "healthy")]["persons"] == 1 and b[("segment", "end_of_life")]["persons"] == 1
    )
    assert b[("segment", "healthy")]["spend"] == 1900.0
    assert b[("age_band_broad", "85+")]["persons"] == 1  # age 87 (i = 19)
    assert b[("age_band_broad", "75-84")]["persons"] == 1  # age 84 (i = 18)
    assert b[("ltc_count", "0")]["persons"] == 1 and b[("ltc_count", "1")]["persons"] == 1
    assert b[("setting", "apc")]["persons"] == 2 and b[("setting", "apc")]["spend"] == 2340.0
    assert b[("setting", "gp")]["persons"] == 1 and b[("setting", "gp")]["spend"] == 1560.0
    assert {r["area_persons"] for r in b.values()} == {2}
    assert {r["area_spend"] for r in b.values()} == {3900.0}
    a = _rows(t, level="practice", area_code="A")
    assert a and all(r["persons"] == 0 and r["area_persons"] == 0 for r in a)
    groups = [r["group"] for r in a if r["dimension"] == "age_band_broad"]
    assert groups == ["0-17", "18-64", "65-74", "75-84", "85+"]
    assert [r["group"] for r in a if r["dimension"] == "ltc_count"] == ["0", "1", "2", "3", "4+"]


def test_dash_ineq_at_icb_equals_the_ineq_tables(tables, pop):
    em = inequalities.emergency_admission_dsr(pop, dashboard.INEQ_DIMENSIONS)
    cost = inequalities.cost_per_head(pop, dashboard.INEQ_DIMENSIONS)
    dash = {(r["dimension"], r["group"]): r for r in _rows(tables["dash_ineq"], level="icb")}
    want: dict = defaultdict(dict)
    for t in (em, cost):
        for r in t.to_pylist():
            want[(r["dimension"], r["group"])].update(r)
    assert set(dash) == set(want)
    assert ("imd2019_quintile", "Unknown") in dash and ("core20", "Core20") in dash
    for k, w in want.items():
        for col, v in w.items():
            if col in ("dimension", "group", "fy"):
                assert dash[k][col] == v, (k, col)
            elif isinstance(v, float) and np.isnan(v):
                assert np.isnan(dash[k][col]), (k, col)
            else:
                assert dash[k][col] == pytest.approx(v, rel=1e-9, abs=1e-9), (k, col)


def test_dash_ineq_sii_at_icb_equals_ineq_sii(tables, pop):
    prev = inequalities.prevalence(pop, ["imd2019_quintile"])
    em = inequalities.emergency_admission_dsr(pop, ["imd2019_quintile"])
    cost = inequalities.cost_per_head(pop, ["imd2019_quintile"])
    ref = inequalities.sii_table(prev, em, cost, repetitions=dashboard.SII_REPETITIONS)
    ref = {
        r["measure"]: r
        for r in ref.to_pylist()
        if r["dimension"] == "imd2019_quintile" and r["measure"] != "prevalence"
    }
    got = {r["measure"]: r for r in _rows(tables["dash_ineq_sii"], level="icb")}
    assert set(got) == set(ref) == {"emergency_admission_dsr", "cost_per_head"}
    for m, r in ref.items():
        assert np.isfinite(r["sii"])
        for col in ("sii", "sii_lower", "sii_upper", "rii", "rii_lower", "rii_upper"):
            assert got[m][col] == pytest.approx(r[col], rel=1e-9), (m, col)


def test_sii_is_nan_when_a_quintile_is_missing(make_py):
    rng = np.random.default_rng(3)
    rows = []
    for practice, deciles in (("A", range(1, 11)), ("B", (1, 2, 3, 4, 7, 8, 9, 10))):
        for d in deciles:
            for _ in range(40):
                cost = float(rng.gamma(2.0, 100.0 * (12 - d)))
                rows.append(
                    {
                        "practice_code": practice,
                        "age": int(rng.integers(0, 90)),
                        "imd2019_decile": d,
                        "emergency_admissions": int(rng.poisson(2.0 if d <= 4 else 0.5)),
                        "cost_gp": cost,
                    }
                )
    py = make_py(rows)
    sii = dashboard.ineq_sii(dashboard.ineq(py))
    by = {(r["level"], r["area_code"], r["measure"]): r for r in sii.to_pylist()}
    assert len(by) == 5 * 2  # areas A, B, P1, PL, ICB x two measures
    for m in ("emergency_admission_dsr", "cost_per_head"):
        b = by[("practice", "B", m)]  # no quintile 3 (deciles 5-6)
        assert all(
            np.isnan(b[c])
            for c in ("sii", "sii_lower", "sii_upper", "rii", "rii_lower", "rii_upper")
        )
        a = by[("practice", "A", m)]
        assert np.isfinite(a["sii"]) and a["sii"] < 0 and a["quantiles"] == 5
        assert np.isfinite(by[("icb", "ICB", m)]["sii"])


def test_areas_names_from_ref_practice(make_py, con):
    py = make_py(
        [
            {"practice_code": "A"},
            {"practice_code": "A"},
            {"practice_code": "B"},
            {"practice_code": "C", "pcn_code": "P2"},
            {"practice_code": "D", "exposure_days": 0},  # no registered person: no row
        ]
    )
    ref = con.create_table(
        "ref_practice",
        pa.table(
            {
                "ref_practice_code": ["A", "C", "Z"],
                "practice_name": ["Alpha Surgery", None, "Zed"],
                "pcn_code": ["P1", "P2", "P1"],
                "pcn_name": ["North PCN", None, "North PCN"],
                "place_code": ["PL", "PL", "PL"],
                "place_name": ["The Place", "The Place", "The Place"],
                "icb_code": ["ICB", "ICB", "ICB"],
            }
        ),
        overwrite=True,
    )
    t = dashboard.areas(py, ref)
    assert t.column_names == list(dashboard.AREAS_TYPES)
    got = {r["practice_code"]: r for r in t.to_pylist()}
    assert set(got) == {"A", "B", "C"}
    assert got["A"] == {
        "practice_code": "A",
        "practice_name": "Alpha Surgery",
        "pcn_code": "P1",
        "pcn_name": "North PCN",
        "place_code": "PL",
        "place_name": "The Place",
        "icb_code": "ICB",
        "persons": 2,
    }
    assert got["B"]["practice_name"] == "B" and got["B"]["pcn_name"] == "North PCN"
    assert got["C"]["practice_name"] == "C" and got["C"]["pcn_name"] == "P2"
    assert dashboard.areas(py)["practice_name"].to_pylist() == ["A", "B", "C"]


def test_build_writes_the_dashboard_tables(icb10k_built):
    from phm.warehouse import connect, fetch

    with connect(icb10k_built, read_only=True) as wh:
        got = {name: wh.to_arrow(name) for name in dashboard.TABLES}
        py = wh.table("person_year")
        latest = fetch(py.fy.max().name("fy").as_table()).column(0)[0].as_py()
        t = py.filter((py.fy == latest) & (py.exposure_days > 0))
        persons = fetch(t.count().name("n").as_table()).column(0)[0].as_py()
    for name, t in got.items():
        assert t.num_rows > 0, name
    assert sum(got["dash_areas"]["persons"].to_pylist()) == persons
    assert all(n is not None for n in got["dash_areas"]["practice_name"].to_pylist())
    icb = [r for r in got["dash_summary"].to_pylist() if r["level"] == "icb" and r["fy"] == latest]
    assert len(icb) == 1 and icb[0]["persons"] == persons
    top = got["dash_top_cohort"].to_pylist()
    cohort = next(r for r in top if r["level"] == "icb")
    assert 0.05 * persons <= cohort["area_persons"] <= 0.06 * persons


@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_dashboard_tables(pop_table, tables):
    pytest.importorskip("pyspark")
    from phm.warehouse.spark import spark_session

    session = spark_session()
    session.createDataFrame(pop_table).createOrReplaceTempView("dash_person_year")
    spark = dashboard.dashboard_tables(ibis.pyspark.connect(session).table("dash_person_year"))
    for name, d in tables.items():
        s = spark[name]
        assert s.schema == d.schema, name
        assert s.num_rows == d.num_rows, name
        for column in d.column_names:  # same row order: the tables are sorted in Python
            a, b = d[column].to_pylist(), s[column].to_pylist()
            if d.schema.field(column).type == pa.float64():
                assert np.allclose(
                    np.array(a, float), np.array(b, float), rtol=1e-9, atol=1e-9, equal_nan=True
                ), (name, column)
            else:
                assert a == b, (name, column)
