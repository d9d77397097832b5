"""Opportunity (phm.analysis.opportunity): the RightCare "better half of peers" method on small
hand-built tables, every expected figure worked by hand in the comments."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from phm import disclosure
from phm.analysis.opportunity import better_half, opportunity_table

FY = 2024


def budget_row(level, area, programme, setting, contacts, spend, population, people=100, top1=10.0, top2=9.0):
    return {"level": level, "area_code": area, "fy": FY, "programme": programme, "setting": setting,
            "contacts": contacts, "spend": spend, "spend_people": people, "spend_top1": top1,
            "spend_top2": top2, "population": population}


def peers_table(rows):
    return pa.Table.from_pylist([{"level": lv, "area_code": a, "basis": b, "rank": r, "peer_code": p, "distance": 0.0}
                                 for lv, a, b, r, p in rows])


AREAS = pa.table({"practice_code": pa.array([], pa.string())})


def rows_of(t, **match):
    return [r for r in t.to_pylist() if all(r[k] == v for k, v in match.items())]


@pytest.fixture
def local():
    """PCN P0 and four peer PCNs in one ICB, each 1,000 registered people; P0's need index is
    1.25 (weighted population 1,250), the peers' 1.0. Mental health (apc) contacts: P0 300,
    peers 100, 150, 200, 400; spend: P0 £50,000, peers £20,000, £30,000, £40,000, £80,000."""
    b = [budget_row("pcn", "P0", "mental_health", "apc", 300, 50_000.0, 1000)]
    for code, c, s in (("P1", 100, 20_000.0), ("P2", 150, 30_000.0), ("P3", 200, 40_000.0), ("P4", 400, 80_000.0)):
        b.append(budget_row("pcn", code, "mental_health", "apc", c, s, 1000))
    peers = peers_table([("pcn", "P0", "icb", i + 1, p) for i, p in enumerate(("P1", "P2", "P3", "P4"))])
    need = {"pcn": {"P0": 1.25, "P1": 1.0, "P2": 1.0, "P3": 1.0, "P4": 1.0}}
    return opportunity_table(pa.Table.from_pylist(b), peers, AREAS, need=need)


def test_local_activity_opportunity_is_the_gap_to_the_better_half(local):
    r = rows_of(local, area_code="P0", dimension="programme", category="mental_health", measure="activity")[0]
    # rate = 1000 * 300 / 1250 = 240 per 1,000 weighted; peers 100, 150, 200, 400 per 1,000;
    # better half = the 2 lowest (100, 150): benchmark 125; opportunity (240 - 125) * 1250 / 1000
    assert r["rate"] == pytest.approx(240.0)
    assert (r["peers"], r["better_half"], r["peers_withheld"]) == (4, 2, 0)
    assert r["benchmark"] == pytest.approx(125.0)
    assert r["opportunity"] == pytest.approx(143.75)
    assert r["weighted_population"] == pytest.approx(1250.0)
    # unweighted: 300 per 1,000 against (100 + 150) / 2 = 125: (300 - 125) * 1000 / 1000
    assert r["opportunity_unweighted"] == pytest.approx(175.0)
    assert r["category_name"] == "Mental health disorders"


def test_local_spend_opportunity_in_pounds(local):
    r = rows_of(local, area_code="P0", dimension="programme", category="mental_health", measure="spend")[0]
    # £50,000 / 1,250 = £40 per weighted head; better half £20 and £30: benchmark £25;
    # opportunity (40 - 25) * 1250 = £18,750
    assert r["rate"] == pytest.approx(40.0)
    assert r["benchmark"] == pytest.approx(25.0)
    assert r["opportunity"] == pytest.approx(18_750.0)
    assert r["difference"] == pytest.approx(18_750.0)


def test_setting_totals_sum_programmes():
    b = [budget_row("pcn", "P0", "mental_health", "op", 10, 1000.0, 100),
         budget_row("pcn", "P0", "cancers_tumours", "op", 30, 3000.0, 100),
         budget_row("pcn", "P1", "cancers_tumours", "op", 20, 1000.0, 100)]
    peers = peers_table([("pcn", "P0", "icb", 1, "P1")])
    t = opportunity_table(pa.Table.from_pylist(b), peers, AREAS, need={"pcn": {"P0": 1.0, "P1": 1.0}})
    r = rows_of(t, area_code="P0", dimension="setting", category="op", measure="spend")[0]
    # P0 op spend £4,000 over 100 people = £40 a head; P1 £10 a head; one peer: better half is it
    assert (r["value"], r["rate"], r["benchmark"], r["opportunity"]) == (4000.0, 40.0, 10.0, 3000.0)
    # P0 has mental health and P1 none: P1's rate is 0, the whole of P0's is opportunity
    mh = rows_of(t, area_code="P0", dimension="programme", category="mental_health", measure="activity")[0]
    assert (mh["benchmark"], mh["opportunity"]) == (0.0, 10.0)


def test_an_area_better_than_the_benchmark_has_no_opportunity(local):
    r = rows_of(local, area_code="P1", dimension="programme", category="mental_health", measure="activity")
    assert r == []  # P1 has no peer group of its own here
    b = [budget_row("pcn", "P0", "mental_health", "apc", 50, 5000.0, 1000),
         budget_row("pcn", "P1", "mental_health", "apc", 100, 9000.0, 1000)]
    t = opportunity_table(pa.Table.from_pylist(b), peers_table([("pcn", "P0", "icb", 1, "P1")]), AREAS,
                          need={"pcn": {"P0": 1.0, "P1": 1.0}})
    r = rows_of(t, area_code="P0", measure="activity", dimension="setting")[0]
    assert r["difference"] == pytest.approx(-50.0)
    assert r["opportunity"] == 0.0


def test_icb_peers_enter_only_as_released():
    """Another ICB's figures are rounded as released (counts to 5, £ to 3 significant figures)
    and a withheld figure (1-7 contacts) leaves the row without a benchmark."""
    b = [budget_row("icb", "QAA", "mental_health", "apc", 1000, 1_000_000.0, 100_000),
         budget_row("icb", "QBB", "mental_health", "apc", 502, 612_345.0, 100_002),
         budget_row("icb", "QAA", "cancers_tumours", "apc", 40, 50_000.0, 100_000),
         budget_row("icb", "QBB", "cancers_tumours", "apc", 6, 7_000.0, 100_002, people=6)]
    peers = peers_table([("icb", "QAA", "warehouse", 1, "QBB"), ("icb", "QAA", "england", 1, "QZZ")])
    t = opportunity_table(pa.Table.from_pylist(b), peers, AREAS, need={"icb": {"QAA": 1.0, "QBB": 1.0}})
    act = rows_of(t, area_code="QAA", category="mental_health", measure="activity")[0]
    # QBB released: 502 -> 500 contacts, population 100,002 -> 100,000: 5 per 1,000
    assert act["benchmark"] == pytest.approx(5.0)
    assert act["opportunity"] == pytest.approx((10.0 - 5.0) * 100_000 / 1000)
    spend = rows_of(t, area_code="QAA", category="mental_health", measure="spend")[0]
    assert spend["benchmark"] == pytest.approx(612_000 / 100_000)  # £612,345 -> £612,000
    cancer = rows_of(t, area_code="QAA", category="cancers_tumours", measure="activity")[0]
    assert cancer["peers_withheld"] == 1 and cancer["better_half"] == 0
    assert math.isnan(cancer["benchmark"]) and math.isnan(cancer["opportunity"])
    assert rows_of(t, area_code="QAA", category="cancers_tumours", measure="spend")[0]["peers_withheld"] == 1
    # the england basis (ICBs not in the warehouse) is not used
    assert {r["peers"] for r in rows_of(t, area_code="QAA")} == {1}


def test_better_half_is_the_lowest_half_ties_by_code():
    rates = {f"P{i:02d}": float(v) for i, v in enumerate((5, 3, 9, 1, 7, 3, 8, 2, 6, 4))}
    assert better_half(rates) == ["P03", "P07", "P01", "P05", "P09"]  # 1, 2, 3, 3 (by code), 4
    assert better_half({"B": 2.0, "A": 2.0, "C": 1.0}) == ["C"]  # 3 peers: the lowest 1
    assert better_half({"A": 4.0}) == ["A"]
    assert better_half({}) == []


def test_an_area_without_a_need_index_keeps_its_registered_population_opportunity():
    """No published need index (a practice newer than the allocations): the weighted figures
    are missing, never guessed, and the registered-population opportunity is still there."""
    b = [budget_row("pcn", "P0", "mental_health", "apc", 300, 50_000.0, 1000),
         budget_row("pcn", "P1", "mental_health", "apc", 100, 20_000.0, 1000)]
    t = opportunity_table(pa.Table.from_pylist(b), peers_table([("pcn", "P0", "icb", 1, "P1")]), AREAS,
                          need={"pcn": {"P1": 1.0}})
    r = rows_of(t, area_code="P0", dimension="setting", measure="spend")[0]
    assert math.isnan(r["need_index"]) and math.isnan(r["opportunity"])
    assert r["opportunity_unweighted"] == pytest.approx(30_000.0)  # £50,000 - £20 a head x 1,000
    t = opportunity_table(pa.Table.from_pylist(b), peers_table([("pcn", "P0", "icb", 1, "P1")]), AREAS,
                          need={"pcn": {"P0": 1.0}})  # the peer has none: no weighted benchmark
    r = rows_of(t, area_code="P0", dimension="setting", measure="spend")[0]
    assert (r["peers"], r["better_half"]) == (1, 0) and math.isnan(r["benchmark"])


class TestMoneySumSensitive:
    """disclosure.money_sum_sensitive: a conservative p% and threshold rule for summed cells."""

    def test_people_are_the_largest_cells_count(self):
        assert disclosure.money_sum_sensitive([(1000.0, 5, 100.0, 90.0), (1000.0, 6, 100.0, 90.0)])
        assert not disclosure.money_sum_sensitive([(1000.0, 8, 100.0, 90.0), (1000.0, 3, 100.0, 90.0)])

    def test_p_percent_on_the_bounds(self):
        # X = 2,000; sum top1 = 800, sum top1+top2 = 1,600: 2,000 - 1,600 = 400 >= 80: released
        assert not disclosure.money_sum_sensitive([(1000.0, 10, 400.0, 400.0), (1000.0, 10, 400.0, 400.0)])
        # X = 2,000; top1s 900 + 900, top2s 50 + 50: 2,000 - 1,900 = 100 < 180: withheld
        assert disclosure.money_sum_sensitive([(1000.0, 10, 900.0, 50.0), (1000.0, 10, 900.0, 50.0)])

    def test_agrees_with_the_single_cell_rule(self):
        for cell in ((1000.0, 10, 400.0, 400.0), (1000.0, 10, 850.0, 60.0), (0.0, 0, 0.0, 0.0), (50.0, 7, 10.0, 9.0)):
            assert disclosure.money_sum_sensitive([cell]) == disclosure.money_sensitive(*cell)

    def test_unknown_support_is_withheld(self):
        assert disclosure.money_sum_sensitive([(1000.0, None, 1.0, 1.0)])
        assert not disclosure.money_sum_sensitive([])
