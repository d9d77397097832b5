"""Spec tests, one per rule, for spells on real HES semantics (issue 13).

Method: NHS Digital, "Methodology to create provider and CIP spells from HES APC data" (v2), as
cited in :mod:`phm.model.spells`: finished episodes only; regular day/night attenders never
linked; CIPS linking within 2 days of the latest discharge so far with evidence of a transfer;
duplicates resolved so that a finished episode beats an unfinished one, then the source loaded
last. Each case is hand-built: a few episodes in, the expected spells out.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from test_spells import ep
from tiny import WINDOW, con, d, raw, refs

from phm.model import costing
from phm.model.common import load_order
from phm.model.spells import clean_episodes, continuous_spells, provider_spells


def build(rows, ledger=None):
    c = con()
    r = refs(c)
    loads = None
    if ledger is not None:  # (source, loaded_at) in load order
        t = pa.table({"source": [s for s, _ in ledger], "status": ["current"] * len(ledger),
                      "loaded_at": pa.array([a for _, a in ledger], pa.timestamp("us"))})
        loads = load_order(c.create_table("load_ledger", t, overwrite=True))
    episodes = clean_episodes(raw(c, "apc_episodes", rows), WINDOW, loads)
    ps = provider_spells(episodes, r, WINDOW)
    cips = continuous_spells(ps, WINDOW.extract_date).order_by("admission_date")
    return ps.order_by("admission_date").to_pyarrow().to_pylist(), cips.to_pyarrow().to_pylist()


def test_a_nested_transfer_does_not_break_the_chain():
    """Provider A 1-30 May; a transfer to B 10-11 May inside it; then to C on 30 May (discharged
    20 June): one continuous inpatient spell of 50 days (issue 13's case)."""
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-30", dest="51"),
        ep(1, "RBB", "B1", 1, "2023-05-10", "2023-05-11", method="81", source="51", dest="51"),
        ep(1, "RCC", "C1", 1, "2023-05-30", "2023-06-20", method="81", source="51"),
    ])
    assert len(cips) == 1
    (s,) = cips
    assert (s["admission_date"], s["discharge_date"], s["los_days"]) == (d("2023-05-01"), d("2023-06-20"), 50)
    assert (s["provider_spells"], s["providers"]) == (3, 3)


def test_the_gap_counts_from_the_latest_discharge_not_the_previous_spell():
    # B ends 11 May; C is admitted 1 June, 2 days after A's discharge (30 May): linked
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-30", dest="51"),
        ep(1, "RBB", "B1", 1, "2023-05-10", "2023-05-11", method="81", source="51", dest="19"),
        ep(1, "RCC", "C1", 1, "2023-06-01", "2023-06-05", method="81", source="51"),
    ])
    assert len(cips) == 1 and cips[0]["los_days"] == 35


@pytest.mark.parametrize(("gap", "linked"), [(0, True), (1, True), (2, True), (3, False)])
def test_the_two_day_rule(gap, linked):
    adm = (dt.date(2023, 5, 5) + dt.timedelta(days=gap)).isoformat()
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-05", dest="51"),
        ep(1, "RBB", "B1", 1, adm, "2023-05-20", method="81", source="51"),
    ])
    assert len(cips) == (1 if linked else 2)


@pytest.mark.parametrize(("dest", "source", "method", "linked"), [
    ("51", "19", "21", True),    # discharged to another provider
    ("84", "19", "21", True),
    ("19", "49", "21", True),    # admitted from another provider (source)
    ("19", "87", "21", True),
    ("19", "19", "2B", True),    # admitted by transfer (method)
    ("19", "19", "81", True),
    ("19", "19", "21", False),   # no evidence of a transfer
    ("87", "19", "21", False),   # 87 is a transfer source, not a transfer destination
    ("19", "51", "21", False),   # rule 3: home, then an emergency "from another provider"
])
def test_transfer_evidence(dest, source, method, linked):
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-05", dest=dest),
        ep(1, "RBB", "B1", 1, "2023-05-06", "2023-05-08", method=method, source=source),
    ])
    assert len(cips) == (1 if linked else 2)


def test_regular_attenders_are_never_linked_and_do_not_break_a_chain():
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-05", dest="51"),
        # a regular day attender session the same day, "from another provider": its own spell
        ep(1, "RDD", "R1", 1, "2023-05-06", "2023-05-06", method="11", source="51", cls="3", dest="51"),
        ep(1, "RBB", "B1", 1, "2023-05-06", "2023-05-09", method="81", source="51"),
    ])
    assert len(cips) == 2
    ra = [c for c in cips if c["patient_classification"] == "3"]
    chain = [c for c in cips if c["patient_classification"] != "3"]
    assert [(c["provider_spells"], c["los_days"]) for c in ra] == [(1, 0)]
    assert [(c["provider_spells"], c["los_days"]) for c in chain] == [(2, 8)]


def test_unfinished_episodes_are_not_costed_and_leave_the_spell_open():
    ps, cips = build([
        ep(1, "RAA", "S1", 1, "2024-03-20", None, hrg="DZ11R") | {"episode_status": "3", "episode_start": d("2024-03-20")},
        ep(1, "RAA", "S1", 2, "2024-03-20", None, hrg="EB10A") | {"episode_status": "1", "episode_start": d("2024-03-25")},
    ])
    (s,) = ps
    assert s["episodes"] == 1 and s["discharge_date"] is None and s["los_days"] is None
    assert s["hrg_code"] == "DZ11R"
    assert cips[0]["discharge_date"] is None


def test_a_spell_of_only_unfinished_episodes_is_not_a_spell():
    ps, cips = build([ep(1, "RAA", "S1", 1, "2024-03-20", None) | {"episode_status": "1"}])
    assert ps == [] and cips == []


def test_two_epiorder_99_episodes_are_two_episodes_in_start_order():
    ps, _ = build([
        ep(1, "RAA", "S1", 99, "2023-05-01", "2023-05-09", diag="I219", dest="19", episode_id="E2")
        | {"episode_start": d("2023-05-04")},
        ep(1, "RAA", "S1", 99, "2023-05-01", None, diag="J181", dest="98", episode_id="E1")
        | {"episode_start": d("2023-05-01")},
    ])
    (s,) = ps
    assert s["episodes"] == 2
    assert s["primary_diagnosis"] == "J181"  # the episode that started first
    assert s["discharge_destination"] == "19" and s["los_days"] == 8


def test_a_finished_episode_beats_an_unfinished_copy_whatever_the_order():
    base = ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-04", hrg="DZ11R", episode_id="E1")
    for lines in ((2, 3), (3, 2)):
        ps, _ = build([
            base | {"episode_status": "3", "_line": lines[0]},
            base | {"episode_status": "1", "discharge_date": None, "_line": lines[1], "hrg_code": "EB10A"},
        ])
        assert [(s["episodes"], s["hrg_code"], s["los_days"]) for s in ps] == [(1, "DZ11R", 3)]


def test_identical_duplicate_episodes_are_costed_once():
    one = ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-04", cost=1234.5)
    ps, _ = build([one | {"_line": 2}, one | {"_line": 3}, one | {"_source": "again.csv", "_line": 2}])
    assert [(s["episodes"], s["cost"]) for s in ps] == [(1, 1234.5)]


def test_a_resubmission_wins_by_load_order_not_by_file_name():
    old = ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-04", cost=100.0) | {"_source": "sus_apc_M12.csv"}
    new = ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-04", cost=250.0) | {"_source": "sus_apc_2025-04_refresh.csv"}
    t0 = dt.datetime(2025, 4, 1, 9)
    ledger = [("sus_apc_M12.csv", t0), ("sus_apc_2025-04_refresh.csv", t0 + dt.timedelta(days=30))]
    ps, _ = build([old, new], ledger)
    assert [s["cost"] for s in ps] == [250.0]
    # loaded the other way round, the M12 file is the later submission and wins
    ps, _ = build([old, new], [(s, t0 + dt.timedelta(days=30 - 30 * i)) for i, (s, _) in enumerate(ledger)])
    assert [s["cost"] for s in ps] == [100.0]


@pytest.mark.parametrize(("admincat", "commissioner", "funder"), [
    ("01", "15N", "icb"), ("1", None, "icb"), ("02", "15N", "private"), ("2", None, "private"),
    ("01", "VPP00", "private"), ("01", "13R", "nhse"), ("01", "14F00", "nhse"), ("01", "YDD82", "nhse"),
])
def test_who_pays(admincat, commissioner, funder):
    ps, cips = build([ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-04")
                      | {"administrative_category": admincat, "commissioner_code": commissioner}])
    assert ps[0]["funder"] == funder and cips[0]["funder"] == funder


def _trim(hrg):
    t = costing.trim_points().to_pylist()
    return next(r for r in t if r["pod"] == "NEL" and r["hrg_code"] == hrg)


def test_a_non_elective_spell_costs_more_the_longer_it_stays_beyond_the_trim_point():
    tp = _trim("DZ11V")
    trim, per_day = tp["trim_days"], tp["per_day_cost"] * costing.price_level(2023)  # 2023/24 prices
    costs = {}
    for los in (2, trim, trim + 1, trim + 10):
        dis = (dt.date(2023, 5, 1) + dt.timedelta(days=los)).isoformat()
        ps, _ = build([ep(1, "RAA", "S1", 1, "2023-05-01", dis, hrg="DZ11V")])
        (s,) = ps
        assert s["pod"] == "NEL" and s["excess_bed_days"] == max(0, los - trim)
        costs[los] = s["cost"]
    assert costs[2] == costs[trim]
    assert costs[trim + 1] == pytest.approx(costs[trim] + per_day, abs=0.01)
    assert costs[trim + 10] == pytest.approx(costs[trim] + 10 * per_day, abs=0.01)


def test_supplied_patient_level_costs_carry_the_whole_stay():
    trim = _trim("DZ11V")["trim_days"]
    dis = (dt.date(2023, 5, 1) + dt.timedelta(days=trim + 5)).isoformat()
    ps, _ = build([ep(1, "RAA", "S1", 1, "2023-05-01", dis, hrg="DZ11V", cost=7000.0)])
    assert (ps[0]["excess_bed_days"], ps[0]["cost"]) == (0, 7000.0)


def test_load_order_follows_the_time_of_load():
    c = con()
    t = pa.table({"source": ["b.csv", "a.csv", "old.csv"], "status": ["current", "current", "superseded"],
                  "loaded_at": pa.array([dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1), dt.datetime(2025, 3, 1)],
                                        pa.timestamp("us"))})
    out = load_order(c.create_table("ledger", t)).order_by("load_seq").to_pyarrow().to_pylist()
    assert out == [{"source": "b.csv", "load_seq": 1}, {"source": "a.csv", "load_seq": 2}]


def test_each_year_is_priced_at_its_own_prices_and_says_so():
    """NCC 2024/25 unit costs restated to the activity year's prices by the NHS cost inflation
    index (PSSRU Unit Costs of Health and Social Care); supplied costs stay as sent."""
    from phm.model.common import Window

    window = Window.ending(dt.date(2025, 3, 31), 3)
    idx = {r["fy"]: r for r in costing.price_index(window.years).to_pylist()}
    assert idx[2024]["price_level"] == 1.0 and "2024/25 prices" in idx[2024]["price_basis"]
    assert idx[2023]["price_level"] == pytest.approx(1 / 1.0402)
    assert idx[2022]["price_level"] == pytest.approx(1 / (1.0402 * 1.0247))
    assert "2022/23 prices" in idx[2022]["price_basis"] and "restated" in idx[2022]["price_basis"]
    costs = {}
    for year in (2022, 2023, 2024):
        ps, _ = build([ep(1, "RAA", "S1", 1, f"{year}-05-01", f"{year}-05-03", hrg="DZ11R")])
        costs[year] = ps[0]["cost"]
    assert costs[2022] < costs[2023] < costs[2024]
    assert costs[2022] == pytest.approx(costs[2024] * idx[2022]["price_level"], abs=0.01)
    supplied = [build([ep(1, "RAA", "S1", 1, f"{y}-05-01", f"{y}-05-03", cost=999.0)])[0][0]["cost"] for y in (2022, 2024)]
    assert supplied == [999.0, 999.0]


def test_two_epiorder_99_episodes_starting_the_same_day_are_both_kept():
    ps, _ = build([
        ep(1, "RAA", "S1", 99, "2023-05-01", None, episode_id="E1", cost=100.0) | {"episode_start": d("2023-05-01")},
        ep(1, "RAA", "S1", 99, "2023-05-01", "2023-05-03", episode_id="E2", cost=200.0) | {"episode_start": d("2023-05-01")},
    ])
    assert [(s["episodes"], s["cost"]) for s in ps] == [(2, 300.0)]


def test_a_transfer_in_while_the_earlier_spell_is_still_open_links():
    """An earlier spell still open at the extract date is a stay that has not ended: a transfer
    admitted during it joins it."""
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2025-03-01", None, dest=None),
        ep(1, "RBB", "B1", 1, "2025-03-10", "2025-03-12", method="81", source="51"),
    ])
    assert len(cips) == 1
    (c,) = cips
    assert c["discharge_date"] is None and c["los_days"] is None
    assert c["discharge_destination"] is None and c["discharge_method"] is None  # open: not the closed spell's


def test_of_two_spells_ending_the_same_day_a_transfer_out_wins():
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-05", dest="51"),
        ep(1, "RCC", "C1", 1, "2023-05-03", "2023-05-05", dest="79"),  # inside A, linked by A's transfer out
        ep(1, "RBB", "B1", 1, "2023-05-06", "2023-05-08"),  # no transfer code of its own
    ])
    # A went to another provider on 5 May; C, which ended the same day at home-or-elsewhere
    # (79 sorts after 51), must not hide that transfer: B joins the chain
    assert [c["provider_spells"] for c in cips] == [3]


def test_an_open_non_elective_spell_is_a_long_stay_by_its_days_so_far():
    ps, _ = build([ep(1, "RAA", "S1", 1, "2025-03-01", None, hrg="DZ11R")])
    assert ps[0]["pod"] == "NEL" and ps[0]["discharge_date"] is None


def test_a_spell_with_any_supplied_episode_gets_no_excess_bed_days():
    trim = _trim("DZ11V")["trim_days"]
    dis = (dt.date(2023, 5, 1) + dt.timedelta(days=trim + 5)).isoformat()
    ps, _ = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", None, hrg="DZ11V", cost=3000.0),
        ep(1, "RAA", "S1", 2, "2023-05-01", dis, hrg="DZ11V") | {"episode_start": d("2023-05-03")},
    ])
    assert ps[0]["excess_bed_days"] == 0 and ps[0]["cost_source"] == "mixed"


def test_a_continuous_spell_paid_by_two_funders_says_so():
    _, cips = build([
        ep(1, "RAA", "A1", 1, "2023-05-01", "2023-05-05", dest="51") | {"commissioner_code": "15N"},
        ep(1, "RBB", "B1", 1, "2023-05-05", "2023-05-09", method="81", source="51") | {"commissioner_code": "13R"},
    ])
    assert [c["funder"] for c in cips] == ["mixed"]
