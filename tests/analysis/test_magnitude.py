"""Support columns of the money cells (``<M>_people``, ``<M>_top1``, ``<M>_top2``): hand-made
examples, the exact top-2 merge, and every table checked against a brute-force count from the
rows themselves at every level."""

from __future__ import annotations

from collections import defaultdict

import ibis
import numpy as np
import pyarrow as pa
import pytest

from phm.analysis import analysis_tables, dashboard, magnitude, spend
from phm.analysis._common import merge_top2, rollup
from phm.model.activity import SETTINGS

from .conftest import ACTIVITY_SCHEMA
from .test_dashboard import dash_rows

LEVELS = {"practice": "practice_code", "pcn": "pcn_code", "place": "place_code", "icb": "icb_code"}
MONEY = {
    "dash_summary": ["spend"],
    "dash_segments": ["spend"],
    "dash_rcm": ["spend"],
    "dash_ineq": ["spend"],
    "dash_top_cohort": ["spend", "area_spend"],
    "spend_access_intensity": ["spend"],
    "spend_programme_budget": ["spend"],
}
ZERO = {"sum": 0.0, "people": 0, "top1": 0.0, "top2": 0.0}


def _support(row: dict, m: str) -> tuple:
    return row[f"{m}_people"], row[f"{m}_top1"], row[f"{m}_top2"]


def _by(t: pa.Table, **eq) -> dict:
    rows = [r for r in t.to_pylist() if all(r[k] == v for k, v in eq.items())]
    return {r["area_code"]: r for r in rows}


# ---- the merge ---------------------------------------------------------------------------


def test_merge_top2_ties_one_and_none():
    # targets: 0 = two parts with a tie at the top, 1 = one part with one person,
    # 2 = no part at all, 3 = three parts whose second-largest is in another part than the first
    target = np.array([0, 0, 1, 3, 3, 3])
    top1 = np.array([70.0, 70.0, 5.0, 10.0, 30.0, 20.0])
    top2 = np.array([60.0, 0.0, 0.0, 9.0, 1.0, 19.0])
    first, second = merge_top2(target, 4, top1, top2)
    assert first.tolist() == [70.0, 5.0, 0.0, 30.0]
    assert second.tolist() == [70.0, 0.0, 0.0, 20.0]
    empty = merge_top2(np.array([], np.int64), 2, np.array([]), np.array([]))
    assert [x.tolist() for x in empty] == [[0.0, 0.0], [0.0, 0.0]]


def test_rollup_merges_top2_and_adds_people():
    st = pa.table(
        {
            "pcn": ["P1", "P1", "P1", "P2"],
            "seg": ["a", "a", "b", "a"],
            "spend": [30.0, 12.0, 8.0, 0.0],
            "spend_people": [3, 2, 1, 0],
            "spend_top1": [20.0, 10.0, 8.0, 0.0],
            "spend_top2": [6.0, 2.0, 0.0, 0.0],
        }
    )
    groups, cells, m = rollup(st, "pcn", [], ["spend", "spend_people"], ["spend"])
    assert groups == ["P1", "P2"] and cells == [()]
    assert m["spend"][:, 0].tolist() == [50.0, 0.0]
    assert m["spend_people"][:, 0].tolist() == [6.0, 0.0]
    assert m["spend_top1"][:, 0].tolist() == [20.0, 0.0]
    assert m["spend_top2"][:, 0].tolist() == [10.0, 0.0]
    _, cells, m = rollup(st, "pcn", ["seg"], ["spend_people"], ["spend"])
    assert cells == [("a",), ("b",)]
    assert m["spend_top1"].tolist() == [[20.0, 8.0], [0.0, 0.0]]
    assert m["spend_top2"].tolist() == [[10.0, 0.0], [0.0, 0.0]]


def test_duckdbs_top_two_aggregate_and_the_portable_window_agree(con, monkeypatch):
    """DuckDB takes the two largest in one aggregate (``max(v, 2)``); Spark's path (a window
    ``max``, then the largest below it or a tie) must give the same cells: ties, one person,
    nobody positive, negatives and nulls (null counts as 0)."""
    cells = {  # stratum -> contributions; expected (sum, people, top1, top2)
        "tie": ([50.0, 50.0, 10.0], (110.0, 3, 50.0, 50.0)),
        "one": ([7.5, 0.0, None], (7.5, 1, 7.5, 0.0)),
        "none": ([0.0, -3.0], (-3.0, 0, 0.0, 0.0)),
        "spread": ([1.0, 9.0, 4.0, 9.5, -2.0], (21.5, 4, 9.5, 9.0)),
    }
    t = con.create_table("contrib", ibis.memtable(pa.table({
        "k": [k for k, (vs, _) in cells.items() for _ in vs],
        "v": pa.array([v for vs, _ in cells.values() for v in vs], pa.float64()),
    })), overwrite=True)

    def run() -> dict:
        c = magnitude.contributions(t, ["k"], {"m": t.v})
        out = c.group_by("k").aggregate(**magnitude.aggregates(c)).to_pyarrow().to_pylist()
        return {r["k"]: (r["m"], r["m_people"], r["m_top1"], r["m_top2"]) for r in out}

    assert magnitude._top_n_aggregate(t)
    in_one = run()
    monkeypatch.setattr(magnitude, "_top_n_aggregate", lambda _t: False)
    assert any(c.startswith("_m_") for c in magnitude.contributions(t, ["k"], {"m": t.v}).columns)
    assert run() == in_one == {k: want for k, (_, want) in cells.items()}


# ---- hand-made examples ------------------------------------------------------------------


@pytest.fixture
def make_py(con):
    def make(rows: list[dict]):
        return con.create_table("person_year", ibis.memtable(dash_rows(rows)), overwrite=True)

    return make


def _hand_rows() -> list[dict]:
    """Practice A (PCN P1): 100, 100 (a tie), 0 and a null cost; B (P1): one person, 300;
    C (P2): two people costing nothing; D (P2): 40, 30, 20 and an unregistered person's 5."""
    rows = [
        {"practice_code": "A", "cost_apc": 100.0},
        {"practice_code": "A", "cost_gp": 100.0},
        {"practice_code": "A"},
        {"practice_code": "A", "cost_total": None},
        {"practice_code": "B", "cost_apc": 300.0},
        {"practice_code": "C", "pcn_code": "P2"},
        {"practice_code": "C", "pcn_code": "P2"},
        {"practice_code": "D", "pcn_code": "P2", "cost_apc": 40.0},
        {"practice_code": "D", "pcn_code": "P2", "cost_apc": 30.0},
        {"practice_code": "D", "pcn_code": "P2", "cost_gp": 20.0},
        {"practice_code": "D", "pcn_code": "P2", "exposure_days": 0, "cost_gp": 5.0},
    ]
    return rows


def test_summary_support_by_hand(make_py):
    s = dashboard.summary(make_py(_hand_rows()))
    want = {
        ("practice", "A"): (200.0, 2, 100.0, 100.0),  # tie: both top values 100
        ("practice", "B"): (300.0, 1, 300.0, 0.0),  # one person
        ("practice", "C"): (0.0, 0, 0.0, 0.0),  # nobody contributes
        ("practice", "D"): (95.0, 4, 40.0, 30.0),  # the unregistered person's 5 counts
        ("pcn", "P1"): (500.0, 3, 300.0, 100.0),
        ("pcn", "P2"): (95.0, 4, 40.0, 30.0),
        ("place", "PL"): (595.0, 7, 300.0, 100.0),
        ("icb", "ICB"): (595.0, 7, 300.0, 100.0),
    }
    got = {(r["level"], r["area_code"]): r for r in s.to_pylist()}
    assert set(got) == set(want)
    for k, (total, people, top1, top2) in want.items():
        r = got[k]
        assert (r["spend"], *_support(r, "spend")) == (total, people, top1, top2), k
    assert list(s.column_names[5:9]) == ["spend", "spend_people", "spend_top1", "spend_top2"]
    assert s.schema.field("spend_people").type == pa.int64()


def test_segments_rcm_access_and_cohort_by_hand(make_py):
    py = make_py(_hand_rows())
    seg = _by(dashboard.segments(py), level="practice", segment="healthy")
    assert _support(seg["A"], "spend") == (2, 100.0, 100.0)
    rcm = dashboard.rcm(py)
    apc = _by(rcm, segment="healthy", setting="apc")
    assert (apc["A"]["spend"], *_support(apc["A"], "spend")) == (100.0, 1, 100.0, 0.0)
    assert _support(apc["ICB"], "spend") == (4, 300.0, 100.0)
    gp = _by(rcm, segment="healthy", setting="gp", level="practice")
    assert (gp["D"]["spend"], *_support(gp["D"], "spend")) == (25.0, 2, 20.0, 5.0)
    assert _support(gp["C"], "spend") == (0, 0.0, 0.0)
    ai = _by(spend.access_intensity(py, ["practice", "icb"]), setting="apc")
    assert _support(ai["ICB"], "spend") == (4, 300.0, 100.0)
    assert ai["ICB"]["spend_people"] == ai["ICB"]["users"]
    # the cohort: the 95th percentile of 10 registered costs is the 10th smallest, 300
    top = dashboard.top_cohort(py)
    b = [r for r in top.to_pylist() if r["level"] == "practice" and r["area_code"] == "B"]
    assert {_support(r, "area_spend") for r in b} == {(1, 300.0, 0.0)}
    healthy = next(r for r in b if (r["dimension"], r["group"]) == ("segment", "healthy"))
    assert (healthy["spend"], *_support(healthy, "spend")) == (300.0, 1, 300.0, 0.0)
    a = [r for r in top.to_pylist() if r["level"] == "practice" and r["area_code"] == "A"]
    assert all(_support(r, "spend") == (0, 0.0, 0.0) for r in a)


def test_programme_budget_counts_persons_not_contacts(make_py, make_activity):
    py = make_py([{"practice_code": "A"}, {"practice_code": "A"}, {"practice_code": "B"}])
    act = [
        # person 1: two contacts of 600 + 400 = 1000, one contribution
        *({"person_id": 1, "cost": c} for c in (600.0, 400.0)),
        {"person_id": 2, "cost": 1000.0},  # ties with person 1
        *({"person_id": 3, "cost": c} for c in (50.0, 70.0, 0.0)),  # practice B
        {"person_id": 2, "cost": 0.0, "setting": "op"},  # a zero-cost contact: not a person
    ]
    act = make_activity(
        [{"fy": 2024, "setting": "apc", "programme": "circulation", **r} for r in act]
    )
    t = spend.programme_budget(py, act, ["practice", "pcn", "icb"])
    cell = _by(t, programme="circulation", setting="apc")
    assert (cell["A"]["contacts"], cell["A"]["spend"]) == (3, 2000.0)
    assert _support(cell["A"], "spend") == (2, 1000.0, 1000.0)
    assert (cell["B"]["contacts"], *_support(cell["B"], "spend")) == (3, 1, 120.0, 0.0)
    assert _support(cell["P1"], "spend") == (3, 1000.0, 1000.0)
    op = _by(t, programme="circulation", setting="op")
    assert (op["A"]["contacts"], *_support(op["A"], "spend")) == (1, 0, 0.0, 0.0)


# ---- every table against brute force -----------------------------------------------------

PRACTICES = {"A": "P1", "B": "P1", "C": "P2", "D": "P2", "E": "P2"}
COSTS = (0.0, 0.0, 0.0, 25.0, 50.0, 50.0, 120.5, 900.0)  # few values: many ties
SEGMENTS = ("healthy", "chronic_conditions", "acutely_ill", "end_of_life")


def _population(n: int = 500, seed: int = 5):
    """Two years of person-years with many tied costs, zero and null costs, unregistered
    person-years, a practice (E) where nobody costs anything in 2023, person-years with no PCN; and
    the latest year's activity, split into contacts over two programmes (plus a person with no
    person-year)."""
    rng = np.random.default_rng(seed)
    rows, act = [], []
    for fy in (2023, 2024):
        for i in range(n):
            practice = "ABCDE"[i % 5]
            nil = practice == "E" and fy == 2023
            costs = {s: 0.0 if nil else float(rng.choice(COSTS)) for s in SETTINGS}
            decile = None if i % 41 == 0 else int(rng.integers(1, 11))
            row = {
                "person_id": i + 1,
                "fy": fy,
                "age": int(rng.integers(0, 100)),
                "exposure_days": 0 if i % 23 == 0 else 365,
                "imd2019_decile": decile,
                "imd2025_decile": decile,
                "core20": decile is not None and decile <= 2,
                "ethnic_group": [None, "White", "Asian or Asian British"][i % 3],
                "practice_code": practice,
                "pcn_code": None if i % 31 == 0 else PRACTICES[practice],
                "segment": SEGMENTS[int(rng.integers(0, 4))],
                "ltc_count": int(rng.integers(0, 6)),
                **{f"cost_{s}": c for s, c in costs.items()},
                **{f"n_{s}": int(c > 0) for s, c in costs.items()},
            }
            if i % 17 == 0:
                row["cost_total"] = None
            rows.append(row)
            for s, c in costs.items():
                if fy == 2024 and c > 0:
                    parts = int(rng.integers(1, 4))
                    for k in range(parts):
                        prog = ["circulation", "respiratory"][(i + k) % 2]
                        act.append(_contact(i + 1, s, prog, c / parts))
    act.append(_contact(9999, "gp", "other", 50.0))
    act.append(_contact(9998, "gp", "other", 50.0))
    return dash_rows(rows), pa.Table.from_pylist(act, schema=ACTIVITY_SCHEMA)


def _contact(person: int, setting: str, programme: str, cost: float) -> dict:
    return {
        "person_id": person,
        "fy": 2024,
        "setting": setting,
        "programme": programme,
        "cost": cost,
    }


def _reference(contributions, keep_null: bool = False) -> dict:
    """``{cell: {sum, people, top1, top2}}`` from ``(row, cell key without the area, person,
    £)``, for the row's area at every level (null area codes dropped unless ``keep_null``)."""
    per: dict = defaultdict(lambda: defaultdict(float))
    for row, key, person, amount in contributions:
        for level, column in LEVELS.items():
            area = row.get(column) if row is not None else None
            if area is not None or keep_null:
                per[(level, area, *key)][person] += amount or 0.0
    out = {}
    for cell, persons in per.items():
        values = [*sorted((v for v in persons.values() if v > 0), reverse=True), 0.0, 0.0]
        people = sum(v > 0 for v in persons.values())
        out[cell] = {
            "sum": sum(persons.values()),
            "people": people,
            "top1": values[0],
            "top2": values[1],
        }
    return out


def _check(t: pa.Table, key, want: dict, money: str = "spend", value: str | None = None) -> int:
    value = value or money
    for r in t.to_pylist():
        w = want.get(key(r), ZERO)
        assert r[value] == pytest.approx(w["sum"], abs=1e-9), (key(r), value)
        assert r[f"{money}_people"] == w["people"], (key(r), money)
        assert r[f"{money}_top1"] == w["top1"], (key(r), money)
        assert r[f"{money}_top2"] == w["top2"], (key(r), money)
        assert r[f"{money}_top1"] >= r[f"{money}_top2"] >= 0.0
    return sum(w["people"] > 0 for w in want.values())


@pytest.fixture(scope="module")
def population():
    return _population()


@pytest.fixture(scope="module")
def built(population):
    py, act = population
    con = ibis.duckdb.connect()
    marts = {
        "person_year": con.create_table("person_year", ibis.memtable(py)),
        "activity": con.create_table("activity", ibis.memtable(act)),
    }
    return analysis_tables(marts), marts


def _latest(py: pa.Table) -> list[dict]:
    return [r for r in py.to_pylist() if r["fy"] == 2024]


def test_every_money_column_has_its_support(built):
    tables, _ = built
    for name, money in MONEY.items():
        t = tables[name]
        for m in money:
            i = t.column_names.index(m)
            assert t.column_names[i : i + 4] == [m, *(m + x for x in magnitude.SUFFIXES)], name
            assert [t.schema.field(m + x).type for x in magnitude.SUFFIXES] == [
                pa.int64(),
                pa.float64(),
                pa.float64(),
            ], name


def test_summary_segments_and_ineq_against_brute_force(built, population):
    tables, _ = built
    py, _ = population
    rows = py.to_pylist()
    summary = _reference((r, (r["fy"],), r["person_id"], r["cost_total"]) for r in rows)
    n = _check(tables["dash_summary"], lambda r: (r["level"], r["area_code"], r["fy"]), summary)
    assert n == len(summary) - 1  # every area has a contributor but practice E in 2023
    latest = _latest(py)
    segs = _reference((r, (r["segment"],), r["person_id"], r["cost_total"]) for r in latest)
    _check(tables["dash_segments"], lambda r: (r["level"], r["area_code"], r["segment"]), segs)
    settings = _reference(
        (r, (r["segment"], s), r["person_id"], r[f"cost_{s}"]) for r in latest for s in SETTINGS
    )
    _check(
        tables["dash_rcm"],
        lambda r: (r["level"], r["area_code"], r["segment"], r["setting"]),
        settings,
    )
    labels = {
        "imd2019_quintile": lambda r: str(r["imd2019_quintile"] or "Unknown"),
        "ethnic_group": lambda r: r["ethnic_group"] or "Unknown",
        "core20": lambda r: "Core20" if r["core20"] else "Rest of ICB",
    }
    ineq = _reference(
        (r, (d, label(r)), r["person_id"], r["cost_total"])
        for r in latest
        for d, label in labels.items()
    )
    key = lambda r: (r["level"], r["area_code"], r["dimension"], r["group"])  # noqa: E731
    _check(tables["dash_ineq"], key, ineq)


def test_spend_tables_against_brute_force(built, population):
    tables, _ = built
    py, act = population
    latest = _latest(py)
    area = {r["person_id"]: r for r in latest}
    ai = _reference(
        ((r, (s,), r["person_id"], r[f"cost_{s}"]) for r in latest for s in SETTINGS),
        keep_null=True,
    )
    t = tables["spend_access_intensity"]
    _check(t, lambda r: (r["level"], r["area_code"], r["setting"]), ai)
    assert t["spend_people"].to_pylist() == t["users"].to_pylist()
    pb = _reference(
        (
            (area.get(a["person_id"]), (a["programme"], a["setting"]), a["person_id"], a["cost"])
            for a in act.to_pylist()
        ),
        keep_null=True,
    )
    t = tables["spend_programme_budget"]
    _check(t, lambda r: (r["level"], r["area_code"], r["programme"], r["setting"]), pb)
    assert t.num_rows == len(pb)
    lost = [r for r in t.to_pylist() if r["area_code"] is None and r["programme"] == "other"]
    assert [_support(r, "spend") for r in lost] == [(2, 50.0, 50.0)] * 4  # two persons, a tie


def test_top_cohort_against_brute_force(built, population):
    tables, marts = built
    py, _ = population
    threshold, _ = dashboard.top_cost_threshold(marts["person_year"])
    cohort = [
        r for r in _latest(py) if r["exposure_days"] > 0 and (r["cost_total"] or 0) >= threshold
    ]
    assert 0 < len(cohort) < 100
    t = tables["dash_top_cohort"]
    groups = _reference(
        [(r, ("segment", r["segment"]), r["person_id"], r["cost_total"]) for r in cohort]
        + [(r, ("setting", s), r["person_id"], r[f"cost_{s}"]) for r in cohort for s in SETTINGS]
    )
    rows = t.filter(pa.compute.is_in(t["dimension"], pa.array(["segment", "setting"])))
    _check(rows, lambda r: (r["level"], r["area_code"], r["dimension"], r["group"]), groups)
    areas = _reference((r, (), r["person_id"], r["cost_total"]) for r in cohort)
    _check(t, lambda r: (r["level"], r["area_code"]), areas, money="area_spend")
    # the other dimensions partition the cohort too: their people add up to the area's
    for dim in ("age_band_broad", "ltc_count"):
        people: dict = defaultdict(int)
        for r in t.to_pylist():
            if r["dimension"] == dim:
                people[(r["level"], r["area_code"])] += r["spend_people"]
        assert people == {k[:2]: w["people"] for k, w in areas.items()} | {
            k: 0 for k in people if k not in {a[:2] for a in areas}
        }


def test_value_is_the_sum_of_the_contributions(built):
    """``M - M_top1 - M_top2`` is the rest: never negative (costs are not), and zero when at
    most two persons contribute."""
    tables, _ = built
    for name, money in MONEY.items():
        for r in tables[name].to_pylist():
            for m in money:
                people, top1, top2 = _support(r, m)
                rest = r[m] - top1 - top2
                assert rest >= -1e-6, (name, m, r)
                if people <= 2:
                    assert rest == pytest.approx(0.0, abs=1e-6), (name, m, r)
                assert (top1 > 0) + (top2 > 0) == min(people, 2), (name, m, r)
