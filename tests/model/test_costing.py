"""Cost precedence, pinned row by row: supplied, then NCC by currency, then NCC by point of
delivery, then the documented setting default; contacts that did not happen cost nothing."""

from __future__ import annotations

import pytest
from tiny import WINDOW, ae_attendance, con, d, gp_appointment, raw, refs

from phm.model import activity as act
from phm.model import costing, programme
from phm.model.spells import clean_episodes, provider_spells

UNIT = costing.ncc_unit_costs().to_pandas()


def ncc(pod, currency):
    return round(UNIT[(UNIT.pod == pod) & (UNIT.currency_code == currency)].unit_cost.item(), 2)


@pytest.fixture(scope="module")
def c():
    connection = con()
    return connection, refs(connection)


def rows(expr):
    return sorted(expr.to_pyarrow().to_pylist(), key=lambda r: r["activity_id"])


L2023 = costing.price_level(2023)


def test_admitted_care_precedence(c):
    connection, r = c
    base = {
        "person_id": 1,
        "provider_code": "RAA",
        "episode_order": 1,
        "admission_date": d("2023-05-01"),
        "discharge_date": d("2023-05-05"),
        "admission_method": "21",
        "patient_classification": "1",
    }
    eps = raw(
        connection,
        "apc_episodes",
        [
            base | {"spell_id": "A", "episode_id": "A1", "hrg_code": "DZ11R", "cost": 1234.5},
            base | {"spell_id": "B", "episode_id": "B1", "hrg_code": "DZ11R"},
            base | {"spell_id": "C", "episode_id": "C1", "hrg_code": "UZ01Z"},
        ],
    )
    ps = provider_spells(clean_episodes(eps, WINDOW), r, WINDOW)
    got = [
        (x["code"], x["cost"], x["cost_source"]) for x in rows(act.apc_rows(programme.apc(ps, r)))
    ]
    assert [(g[1], g[2]) for g in got] == [
        (1234.5, "supplied"),
        (
            round(ncc("NEL", "DZ11R") * L2023, 2),
            "ncc_currency",
        ),  # 2023/24 prices (costing.price_index)
        (round(round(costing.pod_unit_cost("NEL"), 2) * L2023, 2), "ncc_pod"),
    ]


def test_outpatients(c):
    connection, r = c
    base = {
        "person_id": 1,
        "provider_code": "RAA",
        "appointment_date": d("2023-07-01"),
        "treatment_function_code": "320",
    }
    op = raw(
        connection,
        "op_attendances",
        [
            base
            | {
                "attendance_id": "1",
                "first_attendance": "1",
                "attendance_status": "5",
                "hrg_code": "WF01B",
            },
            base
            | {
                "attendance_id": "2",
                "first_attendance": "2",
                "attendance_status": "5",
                "hrg_code": "WF01A",
            },
            base
            | {
                "attendance_id": "3",
                "first_attendance": "2",
                "attendance_status": "3",
                "hrg_code": "WF01A",
            },
            base
            | {
                "attendance_id": "4",
                "first_attendance": "2",
                "attendance_status": "3",
                "cost": 99.0,
            },
            base
            | {
                "attendance_id": "5",
                "first_attendance": "2",
                "attendance_status": "5",
                "hrg_code": "AA33C",
            },
        ],
    )
    got = [
        (x["cost"], x["cost_source"], x["pod"], x["programme"])
        for x in rows(act.op_rows(op, r, WINDOW))
    ]
    assert got == [
        (200.0, "default", "OPFA", "circulation"),
        (120.0, "default", "OPFUP", "circulation"),
        (0.0, "not_attended", "OPFUP", "circulation"),
        (99.0, "supplied", "OPFUP", "circulation"),
        (ncc("OPPROC", "AA33C"), "ncc_currency", "OPPROC", "circulation"),
    ]


def test_gp_prescribing_community_mental_health_and_ae(c):
    connection, r = c
    gp = raw(
        connection,
        "gp_appointments",
        [gp_appointment(appointment_status=s) for s in ("Attended", "DNA", None)],
    )
    assert [(x["cost"], x["cost_source"]) for x in rows(act.gp_rows(gp, WINDOW))] == [
        (42.0, "default"),
        (0.0, "not_attended"),
        (42.0, "default"),
    ]
    rx = raw(
        connection,
        "prescriptions",
        [
            {
                "person_id": 1,
                "month": d("2023-05-01"),
                "bnf_code": "0212000B0AAABAB",
                "items": 3,
                "net_ingredient_cost": 4.56,
                "practice_code": "A81001",
            },
            {
                "person_id": 1,
                "month": d("2023-05-01"),
                "bnf_code": "0212000B0AAABAB",
                "items": 2,
                "practice_code": "A81001",
            },
        ],
    )
    assert [
        (x["cost"], x["cost_source"], x["programme"])
        for x in rows(act.prescribing_rows(rx, r, WINDOW))
    ] == [(4.56, "supplied", "circulation"), (17.0, "default", "circulation")]
    cc = raw(
        connection,
        "community_contacts",
        [
            {
                "person_id": 1,
                "provider_code": "RX1",
                "contact_id": "1",
                "contact_date": d("2023-05-01"),
                "service_type": "N02AF",
            },
            {
                "person_id": 1,
                "provider_code": "RX1",
                "contact_id": "2",
                "contact_date": d("2023-05-01"),
                "service_type": "ZZZ",
            },
        ],
    )
    assert [(x["cost"], x["cost_source"]) for x in rows(act.community_rows(cc, r, WINDOW))] == [
        (ncc("CHS", "N02AF"), "ncc_currency"),
        (round(costing.pod_unit_cost("CHS"), 2), "ncc_pod"),
    ]
    mh = raw(
        connection,
        "mh_contacts",
        [
            {
                "person_id": 1,
                "provider_code": "RX2",
                "contact_id": "1",
                "contact_date": d("2023-05-01"),
                "team_type": "A06",
            },
            {
                "person_id": 1,
                "provider_code": "RX2",
                "contact_id": "2",
                "contact_date": d("2023-05-02"),
                "team_type": "IP",
                "contact_type": "bed_day",
                "inpatient": True,
            },
        ],
    )
    assert [
        (x["cost"], x["cost_source"], x["pod"], x["programme"])
        for x in rows(act.mh_rows(mh, r, WINDOW))
    ] == [
        (ncc("MHCC", "A06"), "ncc_currency", "MHCC", "mental_health"),
        (ncc("MHBD", "999MHPS"), "ncc_currency", "MHBD", "mental_health"),
    ]
    ae = raw(
        connection,
        "ecds_attendances",
        [ae_attendance("1", hrg_code="VB09Z"), ae_attendance("2", hrg_code="XX99Z")],
    )
    assert [(x["cost"], x["cost_source"]) for x in rows(act.ecds_rows(ae, r, WINDOW))] == [
        (ncc("AE", "VB09Z"), "ncc_currency"),
        (round(costing.pod_unit_cost("AE"), 2), "ncc_pod"),
    ]


def test_social_care_is_split_at_financial_year_ends(c):
    connection, r = c
    sc = raw(
        connection,
        "social_care",
        [
            {
                "person_id": 1,
                "la_code": "E08000026",
                "service_id": "1",
                "service_type": "home_care",
                "start_date": d("2023-03-01"),
                "end_date": d("2023-04-30"),
                "weekly_cost": 700.0,
            },
            {
                "person_id": 1,
                "la_code": "E08000026",
                "service_id": "2",
                "service_type": "nursing_care",
                "start_date": d("2024-03-25"),
                "end_date": None,
            },
            {
                "person_id": 1,
                "la_code": "E08000026",
                "service_id": "3",
                "service_type": "day_care",
                "start_date": d("2019-01-01"),
                "end_date": d("2019-02-01"),
                "weekly_cost": 100.0,
            },
        ],
    )
    inside, outside = act.social_care_rows(sc, r, WINDOW)
    got = [(x["fy"], x["cost"], x["cost_source"]) for x in rows(inside)]
    # service 1: 31 days of March 2023 in 2022/23 and 30 days in 2023/24, at 700/week
    # service 2: 7 days in 2023/24 and 365 days in 2024/25 (to the window end), at the 1300/week default
    assert got == [
        (2022, 3100.0, "supplied"),
        (2023, 3000.0, "supplied"),
        (2023, 1300.0, "default"),
        (2024, round(1300 * 365 / 7, 2), "default"),
    ]
    assert [(x["activity_id"], x["cost"], x["cost_source"]) for x in rows(outside)] == [
        ("social_care:E08000026:3", 0.0, "outside_window")
    ]


@pytest.mark.parametrize(
    ("hcp", "mode", "pod", "cost"),
    [
        ("GP", "Face-to-Face", "GP_F2F", 45.0),
        ("GP", "Telephone", "GP_REMOTE", 18.63),
        ("GP", "Video Conference/Online", "GP_REMOTE", 18.63),
        ("GP", "Home Visit", "GP_HOME", 89.40),
        ("Other Practice staff", "Face-to-Face", "OPS_F2F", 11.75),
        ("Other Practice staff", "Telephone", "OPS_REMOTE", 9.08),
        ("Other Practice staff", "Home Visit", "OPS_HOME", 23.50),
        ("Unknown", "Face-to-Face", "GPAPPT", 42.0),
        ("GP", "Unknown", "GPAPPT", 42.0),
        (None, None, "GPAPPT", 42.0),
    ],
)
def test_gp_appointments_are_costed_by_staff_type_and_mode(c, hcp, mode, pod, cost):
    """PSSRU Unit Costs of Health and Social Care 2024 Manual, 2023/24 prices (setting_costs.csv)."""
    connection, _ = c
    gp = raw(
        connection, "gp_appointments", [gp_appointment(hcp_type=hcp, appointment_mode=mode)]
    )
    (row,) = rows(act.gp_rows(gp, WINDOW))
    assert (row["pod"], row["cost"], row["cost_source"]) == (pod, cost, "default")


def test_activity_is_restated_to_the_prices_of_its_year(c):
    """Reference costs move to the activity year's prices (GP defaults are 2023/24 prices, NCC
    2024/25); supplied costs do not; every row states its price basis."""
    connection, r = c
    gp = raw(
        connection,
        "gp_appointments",
        [
            gp_appointment(day, hcp_type="GP", appointment_mode="Face-to-Face")
            for day in ("2023-05-01", "2024-05-01")
        ],
    )
    ae = raw(
        connection,
        "ecds_attendances",
        [ae_attendance("1", hrg_code="VB09Z"), ae_attendance("2", hrg_code="VB09Z", cost=100.0)],
    )
    out = rows(
        act.at_year_prices(act.gp_rows(gp, WINDOW).union(act.ecds_rows(ae, r, WINDOW)), WINDOW)
    )
    by = {(x["setting"], x["fy"], x["cost_source"]): x for x in out}
    assert by[("gp", 2023, "default")]["cost"] == 45.0
    assert by[("gp", 2024, "default")]["cost"] == pytest.approx(round(45.0 * 1.0402, 2))
    assert by[("ecds", 2023, "ncc_currency")]["cost"] == pytest.approx(
        round(ncc("AE", "VB09Z") * L2023, 2)
    )
    assert by[("ecds", 2023, "supplied")]["cost"] == 100.0
    assert all(x["price_basis"].startswith(f"{x['fy']}/") for x in out)
