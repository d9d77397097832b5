"""Evidence-Based Interventions from hand-built spells: each rule's procedure and diagnosis
positions, exclusions, age, the alternative rules, and the global emergency and cancer rules."""

from __future__ import annotations

import pytest
from spells_by_hand import WINDOW, ep, marts

from phm.indicators.ebi import ebi_candidates, ebi_spells, not_coded
from phm.model.spells import provider_spells


def met(dob="1960-01-01", method="11", **kw):
    """The interventions one spell (elective unless ``method`` says) meets."""
    rows = [ep(1, "RAA", "S1", "2023-05-01", "2023-05-01", method=method, **kw)]
    _, episodes, _, person, refs = marts(rows, {1: ("1", dob)})
    ps = provider_spells(episodes, refs, WINDOW)
    t = ebi_spells(ebi_candidates(ps, episodes, person), refs["ref_ebi_codes"], refs["ref_ebi_rules"])
    return sorted(r["intervention"] for r in t.to_pyarrow().to_pylist())


@pytest.mark.parametrize(("kw", "expected"), [
    (dict(opertn="W851", diag="M171"), ["knee_arthroscopy"]),
    (dict(opertn="W802", procs=("Y767", "Z846"), diag="M179"), ["knee_arthroscopy"]),  # the arthroscopic rule
    (dict(opertn="W802", procs=("Y767",), diag="M179"), []),  # without the knee site code
    (dict(opertn="W851", diag="M171", diags=("M238",)), []),  # excluded secondary M23.8
    (dict(opertn="W851", diag="M231"), []),  # not osteoarthritis
    (dict(opertn="F341", diag="J350"), ["tonsillectomy"]),
    (dict(opertn="F341", diag="J350", diags=("G473",)), []),  # sleep apnoea
    (dict(opertn="T521", diag="M720"), ["dupuytren"]),
    (dict(opertn="A651", diag="G560"), ["carpal_tunnel"]),
    (dict(opertn="O291", procs=("Y767",), diag="M754"), ["shoulder_decompression"]),
    (dict(opertn="W821", diag="S832"), ["meniscal_tear_arthroscopy"]),
    (dict(opertn="H011", diag="K358"), ["appendicectomy_unconfirmed"]),
])
def test_rules(kw, expected):
    assert met(**kw) == expected


def test_age_limits():
    assert met(opertn="W851", diag="M171", dob="2005-01-01") == []  # 18 at admission: under 19
    assert met(opertn="D151", diag="H653", dob="2018-01-01") == ["grommets"]
    assert met(opertn="D151", diag="H653", dob="1990-01-01") == []  # grommets are for children


def test_emergency_and_cancer_spells_are_never_counted():
    assert met(opertn="H011", diag="K358", method="21") == []
    assert met(opertn="W851", diag="M171", diags=("C189",)) == []
    assert met(opertn="W851", diag="M171", diags=("D485",)) == []


def test_interventions_without_coding_are_listed():
    assert set(not_coded()) == {"dilatation_curettage", "breast_reduction", "benign_skin_lesions",
                                "hysterectomy_hmb", "chalazia"}


def test_rates_and_what_the_lower_quartile_would_release():
    import datetime as dt

    import ibis
    import numpy as np
    import pyarrow as pa

    from phm.indicators.ebi import ebi_table

    # four practices of 1,000 person-years each with 1, 2, 4 and 8 knee arthroscopies costing £1,000 each
    py, sp, pid = [], [], 0
    for practice, n in (("P1", 1), ("P2", 2), ("P3", 4), ("P4", 8)):
        for i in range(1000):
            pid += 1
            py.append({"person_id": pid, "fy": 2023, "practice_code": practice, "pcn_code": "U1",
                       "place_code": "PL1", "icb_code": "QWU", "exposure_days": 365.25})
            if i < n:
                sp.append({"provider_code": "RAA", "spell_id": f"S{pid}", "person_id": pid, "fy": 2023,
                           "admission_date": dt.date(2023, 6, 1), "intervention": "knee_arthroscopy", "cost": 1000.0})
    c = ibis.duckdb.connect()
    t = ebi_table(c.create_table("sp", pa.Table.from_pylist(sp)), c.create_table("py", pa.Table.from_pylist(py)))
    rows = {(r["level"], r["area_code"]): r for r in t.to_pylist()}
    lq = float(np.percentile([100, 200, 400, 800], 25))  # rates per 100,000: 175
    p4 = rows[("practice", "P4")]
    assert p4["rate"] == pytest.approx(800) and p4["lower_quartile_rate"] == pytest.approx(lq)
    assert p4["released_spells"] == pytest.approx(8 - lq / 100) and p4["released_cost"] == pytest.approx(1000 * (8 - 1.75))
    assert rows[("practice", "P1")]["released_spells"] == 0  # below the quartile: nothing released
    icb = rows[("icb", "QWU")]
    assert icb["spells"] == 15 and icb["released_spells"] == pytest.approx((2 - 1.75) + (4 - 1.75) + (8 - 1.75))
    assert rows[("provider", "RAA")]["spells"] == 15 and rows[("provider", "RAA")]["cost"] == 15_000


def test_what_coming_down_to_similar_practices_would_release():
    """The peer benchmark: a practice's similar practices' pooled rate (their spells over their
    person-years), and what coming down to it would release at the practice's cost per spell."""
    import datetime as dt

    import ibis
    import pyarrow as pa

    from phm.indicators.ebi import ebi_table

    py, sp, pid = [], [], 0
    for practice, n, cost in (("P1", 1, 900.0), ("P2", 2, 900.0), ("P3", 4, 900.0), ("P4", 8, 1200.0)):
        for i in range(1000 if practice != "P2" else 3000):
            pid += 1
            py.append({"person_id": pid, "fy": 2023, "practice_code": practice, "pcn_code": "U1",
                       "place_code": "PL1", "icb_code": "QWU", "exposure_days": 365.25})
            if i < n:
                sp.append({"provider_code": "RAA", "spell_id": f"S{pid}", "person_id": pid, "fy": 2023,
                           "admission_date": dt.date(2023, 6, 1), "intervention": "grommets", "cost": cost})
    peers = pa.table({"level": ["practice"] * 4 + ["pcn"], "area_code": ["P4", "P4", "P1", "P3", "U1"],
                      "basis": ["icb"] * 5, "rank": [1, 2, 1, 1, 1], "peer_code": ["P1", "P2", "P4", "P9", "U2"]})
    c = ibis.duckdb.connect()
    t = ebi_table(c.create_table("sp", pa.Table.from_pylist(sp)), c.create_table("py", pa.Table.from_pylist(py)),
                  peers)
    rows = {(r["level"], r["area_code"]): r for r in t.to_pylist()}
    p4 = rows[("practice", "P4")]
    # P1 and P2: 3 spells in 4,000 person-years = 75 per 100,000; P4 would have 0.75 at that rate
    assert p4["peer_rate"] == pytest.approx(75.0)
    assert p4["peer_released_spells"] == pytest.approx(8 - 0.75)
    assert p4["peer_released_cost"] == pytest.approx(1200 * (8 - 0.75))  # at P4's own cost per spell
    assert rows[("practice", "P1")]["peer_rate"] == pytest.approx(800.0)  # its peer, P4, is higher: nothing
    assert rows[("practice", "P1")]["peer_released_spells"] == 0
    p3 = rows[("practice", "P3")]  # its only peer has no population: no benchmark, nothing released
    assert p3["peer_rate"] != p3["peer_rate"] and p3["peer_released_spells"] == 0
    assert rows[("practice", "P2")]["peer_rate"] != rows[("practice", "P2")]["peer_rate"]  # no peers given
    icb = rows[("icb", "QWU")]
    assert icb["peer_released_spells"] == pytest.approx(8 - 0.75) and icb["peer_rate"] != icb["peer_rate"]
    assert rows[("provider", "RAA")]["peer_released_spells"] != rows[("provider", "RAA")]["peer_released_spells"]
