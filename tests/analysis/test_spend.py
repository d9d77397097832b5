"""Spec tests for phm.analysis.spend on hand-made person-years and activity."""

from __future__ import annotations

import math

import pyarrow.compute as pc
import pytest

from phm.analysis import spend
from phm.model.activity import SETTINGS


def _one(t, **eq):
    mask = None
    for k, v in eq.items():
        m = pc.equal(t[k], v)
        mask = m if mask is None else pc.and_(mask, m)
    rows = t.filter(mask).to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


def _areas():
    """Practice A: 4 registered people, APC 1000 and 500 (2 users); practice B: 2 registered,
    APC 300 (1 user), and a person with GP spend 40 but no registered day."""
    return [
        {"practice_code": "A", "cost_apc": 1000.0, "cost_gp": 30.0},
        {"practice_code": "A"},
        {"practice_code": "A", "cost_gp": 30.0},
        {"practice_code": "A", "cost_apc": 500.0},
        {"practice_code": "B", "pcn_code": "P2"},
        {"practice_code": "B", "pcn_code": "P2", "cost_apc": 300.0},
        {"practice_code": "B", "pcn_code": "P2", "exposure_days": 0, "cost_gp": 40.0},
    ]


def test_access_times_intensity_is_spend_per_head(make_person_year):
    t = spend.access_intensity(make_person_year(_areas()), ["practice", "icb"])
    a = _one(t, level="practice", area_code="A", setting="apc")
    assert (a["population"], a["users"], a["spend"]) == (4, 2, 1500.0)
    assert (a["access"], a["intensity"], a["spend_per_head"]) == (0.5, 750.0, 375.0)
    b = _one(t, level="practice", area_code="B", setting="apc")
    assert (b["access"], b["intensity"], b["spend_per_head"]) == (0.5, 300.0, 150.0)
    icb = _one(t, level="icb", setting="apc")
    assert (icb["access"], icb["intensity"], icb["spend_per_head"]) == (0.5, 600.0, 300.0)
    assert (a["access_index"], a["intensity_index"], a["spend_per_head_index"]) == pytest.approx(
        (1.0, 1.25, 1.25)
    )
    for r in t.to_pylist():
        if r["users"]:
            assert r["access"] * r["intensity"] == pytest.approx(r["spend_per_head"])
            assert r["access_index"] * r["intensity_index"] == pytest.approx(
                r["spend_per_head_index"]
            )
    # the unregistered person's GP spend counts in B's spend, not its population
    gp = _one(t, level="practice", area_code="B", setting="gp")
    assert (gp["population"], gp["users"], gp["spend"], gp["spend_per_head"]) == (2, 1, 40.0, 20.0)
    assert math.isnan(_one(t, level="practice", area_code="B", setting="mh")["intensity"])
    assert sorted(set(t["setting"].to_pylist())) == sorted(SETTINGS)


def test_resource_consumption_map_totals_equal_total_spend(make_person_year):
    rows = [
        {**r, "segment": s}
        for r, s in zip(
            _areas(),
            [
                "healthy",
                "healthy",
                "end_of_life",
                "organ_failure",
                "healthy",
                "end_of_life",
                "end_of_life",
            ],
            strict=True,
        )
    ]
    t = spend.resource_consumption_map(make_person_year(rows))
    assert sum(t["spend"].to_pylist()) == pytest.approx(1000 + 500 + 300 + 30 + 30 + 40)
    assert sum(t["share_of_spend"].to_pylist()) == pytest.approx(1.0)
    eol = _one(t, segment="end_of_life", setting="gp")
    assert (eol["persons"], eol["users"], eol["spend"]) == (2, 2, 70.0)  # 3 people, 2 registered
    assert eol["spend_per_person"] == 35.0
    # segments in Bridges to Health priority order, each with every setting
    assert list(dict.fromkeys(t["segment"].to_pylist())) == [
        "end_of_life",
        "organ_failure",
        "healthy",
    ]
    assert t.num_rows == 3 * len(SETTINGS)
    assert _one(t, segment="healthy", setting="apc")["segment_name"] == "Healthy"


def test_programme_budget_by_area_and_spend_per_head(make_person_year, make_activity):
    py = make_person_year(_areas())
    act = make_activity(
        [
            {
                "person_id": 1,
                "fy": 2024,
                "setting": "apc",
                "programme": "circulation",
                "cost": 600.0,
            },
            {
                "person_id": 1,
                "fy": 2024,
                "setting": "apc",
                "programme": "circulation",
                "cost": 400.0,
            },
            {
                "person_id": 4,
                "fy": 2024,
                "setting": "op",
                "programme": "circulation",
                "cost": 200.0,
            },
            {
                "person_id": 6,
                "fy": 2024,
                "setting": "apc",
                "programme": "respiratory",
                "cost": 300.0,
            },
            {
                "person_id": 1,
                "fy": 2023,
                "setting": "apc",
                "programme": "circulation",
                "cost": 999.0,
            },
            {"person_id": 99, "fy": 2024, "setting": "gp", "programme": "other", "cost": 10.0},
        ]
    )
    t = spend.programme_budget(py, act, ["practice", "icb"])
    a = _one(t, level="practice", area_code="A", programme="circulation", setting="apc")
    assert (a["spend"], a["contacts"], a["population"], a["spend_per_head"]) == (
        1000.0,
        2,
        4,
        250.0,
    )
    assert a["programme_name"] == "Problems of circulation"
    assert (
        _one(t, level="practice", area_code="A", programme="circulation", setting="op")["spend"]
        == 200.0
    )
    assert (
        _one(t, level="practice", area_code="B", programme="respiratory", setting="apc")[
            "spend_per_head"
        ]
        == 150.0
    )
    # activity of a person with no person-year is kept, in an area of its own (null)
    lost = _one(t, level="practice", programme="other")
    assert (
        lost["area_code"] is None and lost["spend"] == 10.0 and math.isnan(lost["spend_per_head"])
    )
    practice = t.filter(pc.equal(t["level"], "practice"))
    icb = t.filter(pc.equal(t["level"], "icb"))
    assert sum(practice["spend"].to_pylist()) == sum(icb["spend"].to_pylist()) == 1510.0
    assert (
        _one(t, level="icb", area_code="ICB", programme="circulation", setting="apc")["population"]
        == 6
    )


def test_top_costliest_order_and_columns(make_person_year):
    costs = [10.0, 50.0, 50.0, 30.0, 0.0]
    rows = [
        {"cost_apc": c, "n_apc": 1 if c else 0, "practice_code": "A", "age": 60 + i}
        for i, c in enumerate(costs)
    ]
    rows.append({"cost_apc": 500.0, "fy": 2023})  # another year
    t = spend.top_costliest(make_person_year(rows), n=3)
    assert t["rank"].to_pylist() == [1, 2, 3]
    assert t["person_id"].to_pylist() == [2, 3, 4]  # 50, 50 (ties by person_id), 30
    assert t["cost_total"].to_pylist() == [50.0, 50.0, 30.0]
    assert t["n_apc"].to_pylist() == [1, 1, 1]
    expected = {
        "rank",
        "person_id",
        "fy",
        "age_band",
        "sex",
        "segment",
        "practice_code",
        "cost_total",
        *(f"cost_{s}" for s in SETTINGS),
        *(f"n_{s}" for s in SETTINGS),
    }
    assert set(t.column_names) == expected
    assert str(t.schema.field("n_apc").type) == "int64"
    assert spend.top_costliest(make_person_year(rows), n=50).num_rows == 5
    with pytest.raises(ValueError):
        spend.top_costliest(make_person_year(rows), n=0)
