"""Programme budgeting rules, row by row, on hand-built spells, attendances and prescriptions
(phm.model.programme; DH Programme Budgeting Mappings and Definitions, 2011-12)."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest
from tiny import WINDOW, ae_attendance, con, d, gp_appointment, raw, refs

from phm.model import activity as act
from phm.model import programme
from phm.model.spells import clean_episodes, provider_spells


@pytest.fixture(scope="module")
def c():
    connection = con()
    return connection, refs(connection)


def _spells(connection, r, rows):
    base = {
        "person_id": 1,
        "provider_code": "RAA",
        "episode_order": 1,
        "admission_date": d("2023-05-01"),
        "discharge_date": d("2023-05-05"),
        "admission_method": "21",
        "patient_classification": "1",
        "hrg_code": "DZ11R",
        "cost": 1000.0,
    }
    eps = raw(
        connection, "apc_episodes", [base | {"episode_id": x["spell_id"] + "1"} | x for x in rows]
    )
    return provider_spells(clean_episodes(eps, WINDOW), r, WINDOW)


def test_admitted_spell_rules_in_order(c):
    connection, r = c
    ps = _spells(
        connection,
        r,
        [
            {"spell_id": "A", "diag_01": "I219", "diag_02": "E119"},  # primary placed: 10A
            {"spell_id": "B", "diag_01": "I10"},  # 3-character code: the sheet's I10X
            {
                "spell_id": "C",
                "diag_01": "X599",
                "diag_02": "Y849",
                "diag_03": "S7200",
            },  # external cause: 1st placed secondary
            {
                "spell_id": "D",
                "diag_01": "R69X",
                "treatment_function_code": "320",
            },  # unclassified, no secondary: TFC
            {
                "spell_id": "E",
                "diag_01": "R69X",
                "treatment_function_code": "300",
            },  # generic TFC: stays other
            {"spell_id": "F", "diag_01": "K649"},  # later edition: K64 as I84
            {"spell_id": "G", "diag_01": "A099"},  # not held, category all one sub-category
            {"spell_id": "H", "diag_01": None, "diag_02": "J440"},  # missing primary: secondary
        ],
    )
    got = {
        x["activity_id"][-1]: (
            x["pbc"],
            x["programme"],
            x["programme_rule"],
            x["programme_verified"],
        )
        for x in act.apc_rows(programme.apc(ps, r)).to_pyarrow().to_pylist()
    }
    assert got == {
        "A": ("10A", "circulation", "icd10_primary_diagnosis", True),
        "B": ("10X", "circulation", "icd10_primary_diagnosis", True),
        "C": ("16X", "trauma_injuries", "icd10_secondary_diagnosis", False),
        "D": ("10X", "circulation", "treatment_function", False),
        "E": ("23X", "other", "unclassified", False),
        "F": ("13B", "gastro_intestinal", "icd10_category", False),
        "G": ("13X", "gastro_intestinal", "icd10_category", False),
        "H": ("11A", "respiratory", "icd10_secondary_diagnosis", False),
    }


def _attendances(connection, tfc: str, n: int):
    return raw(
        connection,
        "op_attendances",
        [
            {
                "attendance_id": str(i),
                "person_id": 1_000_003 * i + 17,
                "provider_code": "RAA",
                "appointment_date": d("2023-04-01"),
                "treatment_function_code": tfc,
                "first_attendance": "2",
                "attendance_status": "5",
            }
            for i in range(n)
        ],
    )


def test_trauma_and_orthopaedics_split_65_35_without_splitting_rows(c):
    connection, r = c
    got = act.op_rows(_attendances(connection, "110", 4000), r, WINDOW).to_pyarrow().to_pylist()
    assert len(got) == 4000
    msk = sum(x["pbc"] == "15X" for x in got) / len(got)
    assert {x["pbc"] for x in got} == {"15X", "16X"}
    assert msk == pytest.approx(0.65, abs=0.03)
    assert all(x["programme_rule"] == "treatment_function" and x["programme_verified"] for x in got)


def test_a_generic_treatment_function_follows_its_admitted_mix(c):
    connection, r = c
    ps = _spells(
        connection,
        r,
        [
            {
                "spell_id": "A",
                "diag_01": "K802",
                "treatment_function_code": "100",
                "cost": 3000.0,
            },  # 13C
            {
                "spell_id": "B",
                "diag_01": "C189",
                "treatment_function_code": "100",
                "cost": 1000.0,
            },  # 02C
            {"spell_id": "C", "diag_01": "I219", "treatment_function_code": "320", "cost": 5000.0},
        ],
    )
    mix = programme.inpatient_mix(programme.apc(ps, r))
    got = (
        act.op_rows(_attendances(connection, "100", 4000), r, WINDOW, mix).to_pyarrow().to_pylist()
    )
    share = {p: sum(x["pbc"] == p for x in got) / len(got) for p in ("13C", "02C")}
    assert share["13C"] == pytest.approx(0.75, abs=0.03)
    assert share["02C"] == pytest.approx(0.25, abs=0.03)
    assert {x["programme_rule"] for x in got} == {"tfc_inpatient_mix"}
    assert not any(x["programme_verified"] for x in got)
    # without admitted spells to learn from, the DH sheet's 23X stands
    alone = (
        act.op_rows(_attendances(connection, "120", 10), r, WINDOW, mix).to_pyarrow().to_pylist()
    )
    assert {(x["pbc"], x["programme"], x["programme_rule"]) for x in alone} == {
        ("23X", "other", "treatment_function")
    }


def test_prescribing_splits_and_chapter_defaults(c):
    connection, r = c
    rows = [
        {
            "person_id": 7_919 * i + 3,
            "practice_code": "A81001",
            "month": d("2023-06-01"),
            "bnf_code": "0209000C0AAAAAA",
            "items": 1,
            "net_ingredient_cost": 10.0,
        }
        for i in range(3000)
    ]
    rows += [
        {
            "person_id": 5,
            "practice_code": "A81001",
            "month": d("2023-06-01"),
            "bnf_code": code,
            "items": 1,
            "net_ingredient_cost": 1.0,
        }
        for code in ("0601011A0AAAAAA", "2102000A0AAAAAA", "9999")
    ]
    got = (
        act.prescribing_rows(raw(connection, "prescriptions", rows), r, WINDOW)
        .to_pyarrow()
        .to_pylist()
    )
    clop = [x for x in got if x["code"].startswith("0209")]
    assert sum(x["pbc"] == "10A" for x in clop) / len(clop) == pytest.approx(
        0.7, abs=0.03
    )  # antiplatelets 70/30
    assert {x["pbc"] for x in clop} == {"10A", "10B"} and all(x["programme_verified"] for x in clop)
    other = {
        x["code"]: (x["pbc"], x["programme_rule"], x["programme_verified"])
        for x in got
        if not x["code"].startswith("0209")
    }
    assert other == {
        "0601011A0AAAAAA": ("04A", "bnf", True),  # insulin: diabetes
        "2102000A0AAAAAA": ("23X", "bnf", False),  # appliances: phm's chapter default (other)
        "9999": ("23X", "unmapped", False),
    }


def test_gp_and_ecds_sub_categories(c):
    connection, r = c
    gp = raw(connection, "gp_appointments", [gp_appointment()])
    (row,) = act.gp_rows(gp, WINDOW).to_pyarrow().to_pylist()
    assert (row["pbc"], row["programme"], row["programme_verified"]) == ("23A", "other", True)
    ae = raw(
        connection,
        "ecds_attendances",
        [
            ae_attendance(str(i), diagnosis_snomed=code)
            for i, code in enumerate(("230690007", "90176007", "1"))
        ],
    )
    got = sorted(
        (x["code"], x["pbc"], x["programme_rule"])
        for x in act.ecds_rows(ae, r, WINDOW).to_pyarrow().to_pylist()
    )
    assert got == [
        ("1", "23X", "unmapped"),
        ("230690007", "10B", "ecds_diagnosis"),
        ("90176007", "23X", "ecds_diagnosis"),
    ]


def test_apportioning_is_stable_and_spread():
    t = ibis.memtable(
        pa.table(
            {
                "pid": pa.array(range(-5000, 5000), pa.int64()),
                "day": pa.array([d("2023-04-01")] * 10_000, pa.date32()),
            }
        )
    )
    u = con().to_pyarrow(t.select(u=programme.apportion(t.pid, t.day)))["u"].to_pylist()
    assert all(0 <= x < 1 for x in u)
    assert abs(sum(u) / len(u) - 0.5) < 0.02
    assert con().to_pyarrow(t.select(u=programme.apportion(t.pid, t.day)))["u"].to_pylist() == u
