"""The indicator tables the dashboard serves (``phm.indicators.dashboard``), from hand-built
``ind_values``, ``ind_ebi`` and ``ind_shmi`` rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

from phm.indicators.dashboard import dashboard_tables
from phm.indicators.values import TYPES


def values(rows: list[dict]) -> pa.Table:
    return pa.table({k: pa.array([r.get(k) for r in rows], t) for k, t in TYPES.items()})


def row(indicator, level, area, n, d, month=None, **kw):
    return {"indicator": indicator, "level": level, "area_code": area, "period": month or "2024/25", "fy": 2024,
            "month": month, "numerator": n, "denominator": d, "unit": kw.pop("unit", "x"), **kw}


def test_crude_values_are_never_carried_and_the_funnel_centre_is_the_icbs_rate():
    v = values([
        row("frequent_ae_attenders", "icb", "Q1", 50, 10_000.0, value=5.0, crude=5.0),
        row("frequent_ae_attenders", "practice", "P1", 9, 1_000.0, value=9.0, crude=9.0),
        row("acsc_chronic", "icb", "Q1", 200, 20_000.0, value=1100.0, crude=1000.0, lower=950.0, upper=1250.0),
        row("acsc_chronic", "practice", "P1", 30, 2_000.0, value=1600.0, crude=1500.0),  # not by practice
        row("acsc_chronic", "pcn", "N1", 30, 2_000.0, value=1600.0, crude=1500.0),
        row("acsc_chronic", "imd_quintile", "1", 30, 2_000.0, value=1600.0),  # not an area level
        row("readmission_30d", "provider", "RXX", 12, 100.0, value=11.0, crude=12.0),
        row("shmi", "provider", "RXX", 40, 1000.0, value=1.25, expected=32.0, ratio=1.25),
        row("acsc_chronic", "place", "PL1", 3, 150.0, month="2024-05"),
    ])
    ebi = pa.table({"level": ["practice", "provider"], "area_code": ["P1", "RXX"], "fy": [2024, 2024],
                    "intervention": ["grommets", "grommets"], "spells": [4, 6], "person_years": [2000.0, None],
                    "rate_lower": [50.0, None], "rate_upper": [500.0, None], "peer_rate": [120.0, None],
                    "peer_released_cost": [1500.0, None]})
    shmi = pa.table({"provider_code": ["RXX", "RXX"], "fy": [2024, None], "lower_limit": [0.7, 0.8],
                     "upper_limit": [1.3, 1.2], "banding": ["as expected", "higher than expected"]})
    t = dashboard_tables({"ind_values": v, "ind_ebi": ebi, "ind_shmi": shmi})
    crude = {(r["level"], r["area_code"], r["indicator"]): r for r in t["dash_indicators"].to_pylist()}
    assert "value" not in t["dash_indicators"].column_names  # crude: recomputed from rounded counts only
    assert set(crude) == {("icb", "Q1", "frequent_ae_attenders"), ("practice", "P1", "frequent_ae_attenders"),
                          ("icb", "Q1", "acsc_chronic"), ("pcn", "N1", "acsc_chronic"),
                          ("practice", "P1", "ebi_grommets")}
    assert crude[("practice", "P1", "frequent_ae_attenders")]["target"] == pytest.approx(50 / 10_000 * 1000)
    assert crude[("pcn", "N1", "acsc_chronic")]["per"] == 100_000
    assert crude[("pcn", "N1", "acsc_chronic")]["target"] == pytest.approx(1000.0)
    g = crude[("practice", "P1", "ebi_grommets")]
    assert (g["numerator"], g["denominator"], g["per"], g["target"]) == (4, 2000.0, 100_000, None)  # no ICB row
    assert (g["peer_rate"], g["peer_released_cost"], g["released_spells"]) == (120.0, 1500.0, None)
    assert crude[("practice", "P1", "frequent_ae_attenders")]["peer_rate"] is None  # EBI only
    std = {(r["area_code"], r["indicator"]): r for r in t["dash_indicators_standardised"].to_pylist()}
    assert set(std) == {("Q1", "acsc_chronic"), ("N1", "acsc_chronic")}  # standardised indicators only
    assert std[("Q1", "acsc_chronic")]["value"] == 1100.0 and std[("Q1", "acsc_chronic")]["lower"] == 950.0
    (m,) = t["dash_indicators_monthly"].to_pylist()
    assert (m["level"], m["month"], m["numerator"], m["month_days"]) == ("place", "2024-05", 3, None)
    prov = {r["indicator"]: r for r in t["dash_provider_indicators"].to_pylist()}
    assert {r["area_code"] for r in t["dash_provider_indicators"].to_pylist()} == {"Q1"}  # under each ICB
    s = prov["shmi"]
    assert (s["denominator"], s["funnel_lower"], s["funnel_upper"], s["band"]) == (32.0, 0.7, 1.3, "as expected")
    assert prov["readmission_30d"]["denominator"] == 100.0 and prov["readmission_30d"]["band"] == ""


def test_provider_months_are_served_under_each_icb_with_the_days_covered():
    """The providers' SPC charts: each provider row by month, under every ICB of the warehouse;
    the SHMI's denominator is its expected deaths, as in the yearly table."""
    v = values([
        row("frequent_ae_attenders", "icb", "Q1", 50, 10_000.0),
        row("frequent_ae_attenders", "icb", "Q2", 50, 10_000.0),
        row("coding_symptom_primary", "provider", "RXX", 7, 70.0, month="2024-05", unit="%"),
        row("coding_symptom_primary", "provider", "RXX", 9, 80.0, unit="%"),  # yearly: not monthly
        row("shmi", "provider", "RXX", 4, 900.0, month="2024-06", expected=3.5, unit="ratio"),
        row("readmission_30d", "pcn", "N1", 3, 40.0, month="2024-05"),  # not a provider
    ])
    monthly = pa.table({"level": ["icb", "icb", "place"], "area_code": ["Q1", "Q2", "L1"],
                        "month": ["2024-05", "2024-05", "2024-05"], "month_days": [31, 20, 31]})
    t = dashboard_tables({"ind_values": v, "dash_monthly": monthly})["dash_provider_indicators_monthly"]
    got = [(r["area_code"], r["provider_code"], r["month"], r["month_days"], r["indicator"], r["numerator"],
            r["denominator"], r["per"]) for r in t.to_pylist()]
    assert got == [("Q1", "RXX", "2024-05", 31, "coding_symptom_primary", 7, 70.0, 100.0),
                   ("Q1", "RXX", "2024-06", None, "shmi", 4, 3.5, 1.0),
                   ("Q2", "RXX", "2024-05", 20, "coding_symptom_primary", 7, 70.0, 100.0),
                   ("Q2", "RXX", "2024-06", None, "shmi", 4, 3.5, 1.0)]
    assert set(t["level"].to_pylist()) == {"icb"}


def test_the_funnel_centre_is_the_areas_own_icb_in_a_region():
    """Several ICBs in one warehouse: each area is read against its own ICB's rate."""
    v = values([
        row("frequent_ae_attenders", "icb", "Q1", 50, 10_000.0),
        row("frequent_ae_attenders", "icb", "Q2", 90, 10_000.0),
        row("frequent_ae_attenders", "practice", "P1", 9, 1_000.0),
        row("frequent_ae_attenders", "pcn", "N2", 9, 1_000.0),
    ])
    areas = pa.table({"practice_code": ["P1", "P2"], "pcn_code": ["N1", "N2"], "place_code": ["L1", "L2"],
                      "icb_code": ["Q1", "Q2"]})
    t = dashboard_tables({"ind_values": v, "dash_areas": areas})
    target = {r["area_code"]: r["target"] for r in t["dash_indicators"].to_pylist()}
    assert target == pytest.approx({"Q1": 5.0, "Q2": 9.0, "P1": 5.0, "N2": 9.0})
    # without dash_areas the ICB is unknown when there are several: no centre rather than a wrong one
    t = dashboard_tables({"ind_values": v})
    assert {r["area_code"]: r["target"] for r in t["dash_indicators"].to_pylist()}["P1"] is None
