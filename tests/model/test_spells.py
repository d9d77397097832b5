"""Spell building, pinned with a few rows in and the expected spells out (HES CIPS method)."""

from __future__ import annotations

import pytest
from tiny import WINDOW, con, d, raw, refs

from phm.model import costing
from phm.model.spells import clean_episodes, continuous_spells, provider_spells


def ep(person, provider, spell, order, adm, dis, *, method="21", source="19", dest="19", diag="J181", opertn=None,
       hrg="DZ11R", cost=None, cls="1", episode_id=None, line=None):
    return {
        "person_id": person, "nhs_number_status": "valid" if person else "missing", "provider_code": provider,
        "spell_id": spell, "episode_order": order, "episode_id": episode_id or f"{spell}-{order}",
        "admission_date": d(adm), "discharge_date": d(dis) if dis else None, "episode_start": d(adm),
        "admission_method": method, "admission_source": source, "discharge_destination": dest,
        "discharge_method": "1", "patient_classification": cls, "diag_01": diag, "opertn_01": opertn,
        "hrg_code": hrg, "cost": cost, "_line": line or order + 1,
    }


def build(rows):
    c = con()
    r = refs(c)
    episodes = clean_episodes(raw(c, "apc_episodes", rows), WINDOW)
    ps = provider_spells(episodes, r, WINDOW)
    return ps.to_pyarrow().to_pylist(), continuous_spells(ps).order_by("admission_date").to_pyarrow().to_pylist()


def test_a_transfer_joins_two_provider_spells_into_one_continuous_spell():
    ps, cips = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-05", dest="51", cost=1000.0),
        ep(1, "RBB", "S2", 1, "2023-05-05", "2023-05-10", method="81", source="51", cost=500.0),
    ])
    assert len(ps) == 2
    assert len(cips) == 1
    s = cips[0]
    assert (s["provider_spells"], s["providers"], s["transfer"]) == (2, 2, True)
    assert (s["admission_date"], s["discharge_date"], s["los_days"]) == (d("2023-05-01"), d("2023-05-10"), 9)
    assert (s["admission_method"], s["admission_type"], s["emergency"]) == ("21", "emergency", True)
    assert s["provider_code"] == "RAA" and s["cips_id"] == "RAA:S1"
    assert s["cost"] == 1500.0 and s["cost_source"] == "supplied"
    assert s["fy"] == 2023


@pytest.mark.parametrize("second", [
    dict(adm="2023-05-06", method="21", source="19"),  # readmitted next day, not a transfer
    dict(adm="2023-05-08", method="81", source="51"),  # a transfer, but 3 days after discharge
])
def test_spells_that_are_not_transfers_within_two_days_stay_apart(second):
    _, cips = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-05", dest="19"),
        ep(1, "RBB", "S2", 1, second["adm"], "2023-05-12", method=second["method"], source=second["source"]),
    ])
    assert len(cips) == 2
    assert [c["transfer"] for c in cips] == [False, False]


def test_a_discharge_to_another_trust_links_even_without_a_transfer_admission_code():
    _, cips = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-05", dest="49"),
        ep(1, "RBB", "S2", 1, "2023-05-06", "2023-05-07"),
    ])
    assert len(cips) == 1


def test_episodes_give_the_spell_its_diagnosis_procedure_hrg_and_cost():
    first_nes = costing.ncc_unit_costs().to_pandas()
    nel = first_nes[(first_nes.pod == "NEL") & (first_nes.currency_code == "DZ11R")].unit_cost.item()
    ps, cips = build([
        ep(7, "RAA", "S9", 2, "2023-06-01", "2023-06-09", diag="I219", opertn="K401", hrg="EB10A", cost=9000.0,
           dest="19"),
        ep(7, "RAA", "S9", 1, "2023-06-01", None, diag="J181", opertn=None, hrg="DZ11R", dest="98"),
    ])
    (s,) = ps
    assert s["primary_diagnosis"] == "J181"  # first episode
    assert s["dominant_procedure"] == "K401"  # first episode that has a procedure
    assert s["discharge_destination"] == "19"  # last episode
    assert s["hrg_code"] == "EB10A"  # costliest episode
    assert s["pod"] == "NEL" and s["los_days"] == 8 and s["episodes"] == 2
    # NCC 2024/25 restated to 2023/24 prices (the spell ends in 2023/24); supplied costs as sent
    assert s["cost"] == pytest.approx(9000.0 + round(round(nel, 2) * costing.price_level(2023), 2), abs=1e-9)
    assert s["cost_source"] == "mixed"
    assert cips[0]["episodes"] == 2


def test_spells_without_a_person_are_never_joined():
    _, cips = build([
        ep(None, "RAA", "S1", 1, "2023-05-01", "2023-05-05", dest="51"),
        ep(None, "RBB", "S2", 1, "2023-05-05", "2023-05-10", method="81", source="51"),
    ])
    assert len(cips) == 2 and all(c["person_id"] is None for c in cips)


def test_sentinel_future_and_backwards_discharge_dates_count_as_missing():
    ps, _ = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", "1800-01-01"),
        ep(2, "RAA", "S2", 1, "2023-05-01", "2030-01-01"),
        ep(3, "RAA", "S3", 1, "2023-05-01", "2023-04-01"),
    ])
    assert [(s["discharge_date"], s["los_days"], s["activity_date"]) for s in sorted(ps, key=lambda s: s["spell_id"])] == [
        (None, None, d("2023-05-01"))] * 3


def test_a_resubmitted_episode_replaces_the_first():
    ps, _ = build([
        ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-03", cost=100.0, episode_id="E1") | {"_line": 2},
        ep(1, "RAA", "S1", 1, "2023-05-01", "2023-05-03", cost=250.0, episode_id="E1b") | {"_line": 3},
    ])
    assert [(s["episodes"], s["cost"]) for s in ps] == [(1, 250.0)]


@pytest.mark.parametrize(("method", "cls", "los", "pod"), [
    ("11", "2", 0, "DC"), ("12", "1", 3, "EL"), ("21", "1", 1, "NES"), ("21", "1", 2, "NEL"),
    ("31", "1", 0, "NES"), ("11", "3", 0, "RDN"),
])
def test_point_of_delivery(method, cls, los, pod):
    dis = f"2023-05-{1 + los:02d}"
    ps, _ = build([ep(1, "RAA", "S1", 1, "2023-05-01", dis, method=method, cls=cls)])
    assert ps[0]["pod"] == pod
