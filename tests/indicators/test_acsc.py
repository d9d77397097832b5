"""Ambulatory care sensitive conditions, pinned with hand-built admissions against the code rules
of NHS Digital CCG OIS 2.6 v1.15 (chronic; I00757) and the 19-condition list (acute,
vaccine-preventable, broad)."""

from __future__ import annotations

import pytest
from spells_by_hand import ep, marts

from phm.indicators.acsc import acsc_admissions, admission_episodes


def admissions(rows):
    _, episodes, _, person, refs = marts(rows)
    t = acsc_admissions(admission_episodes(episodes, person), refs["ref_acsc_codes"]).order_by("admission_date")
    return t.to_pyarrow().to_pylist()


def one(**kw):
    rows = admissions([ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", **kw)])
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(("kw", "chronic"), [
    (dict(diag="J459"), "asthma"),
    (dict(diag="J46X"), "asthma"),
    (dict(diag="I509"), "congestive_heart_failure"),
    (dict(diag="E119"), "diabetes"),
    (dict(diag="J440"), "copd"),
    (dict(diag="I209"), "angina"),
    (dict(diag="D509"), "iron_deficiency_anaemia"),
    (dict(diag="I10X"), "hypertension"),
    (dict(diag="I48X"), "af_epilepsy_dementia"),
    (dict(diag="B181"), "hepatitis_b"),
    (dict(diag="J200", diags=("J449",)), "copd_acute_bronchitis"),
])
def test_chronic_conditions_on_the_primary_diagnosis(kw, chronic):
    r = one(**kw)
    assert r["acsc_chronic"] is True and r["chronic_condition"] == chronic


@pytest.mark.parametrize("kw", [
    dict(diag="J189", diags=("J459",)),  # asthma only as a secondary diagnosis
    dict(diag="J200"),  # acute bronchitis without COPD coded
    dict(diag="I509", opertn="K571"),  # heart failure with a cardiac procedure
    dict(diag="I10X", procs=("K601",)),  # hypertension with a pacemaker in a later position
    dict(diag="I209", procs=("W381",)),  # angina with a procedure of chapter W
    dict(diag="B181", diags=("D571",)),  # hepatitis B with sickle-cell disorder
    dict(diag="I219"),  # myocardial infarction is not a chronic ACSC
])
def test_chronic_exclusions(kw):
    assert one(**kw)["acsc_chronic"] is False


def test_angina_with_only_imaging_or_x3_procedures_still_counts():
    assert one(diag="I209", opertn="U201", procs=("X341",))["acsc_chronic"] is True


def test_only_emergency_ordinary_first_episodes_not_transferred_in_are_counted():
    assert admissions([ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", diag="J459", method="11")]) == []
    assert admissions([ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", diag="J459", cls="2")]) == []
    assert admissions([ep(1, "RAA", "S1", "2023-05-01", "2023-05-04", diag="J459", source="51")]) == []
    # a two-episode spell counts once, by its first episode's diagnosis
    rows = admissions([
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-09", order=1, diag="R060"),
        ep(1, "RAA", "S1", "2023-05-01", "2023-05-09", order=2, diag="J459", start="2023-05-03"),
    ])
    assert len(rows) == 1 and rows[0]["acsc_chronic"] is False


def test_an_unfinished_first_episode_counts():
    r = one(diag="J459", status="1")
    assert r["acsc_chronic"] is True


@pytest.mark.parametrize(("kw", "lst", "condition"), [
    (dict(diag="L039"), "acute", "cellulitis"),
    (dict(diag="N390", diags=("R02X",)), "acute", "gangrene"),  # any position
    (dict(diag="K040"), "acute", "dental_conditions"),
    (dict(diag="A099", diags=("J181",)), "vaccine_preventable", "influenza_pneumonia"),  # any position
    (dict(diag="B069"), "vaccine_preventable", "other_vaccine_preventable"),
    (dict(diag="E43X"), "broad", "nutritional_deficiencies"),
    (dict(diag="E872", diags=("E105",)), "broad", "diabetes_complications"),  # any position, .0-.8
])
def test_the_19_condition_lists(kw, lst, condition):
    r = one(**kw)
    assert r[f"acsc_{lst}"] is True and r[f"{lst}_condition"] == condition


def test_19_condition_exclusions():
    assert one(diag="L039", opertn="S351")["acsc_acute"] is False  # cellulitis with a skin graft (S3)
    assert one(diag="L039", opertn="S471")["acsc_acute"] is True  # opening of skin (S47) does not exclude
    assert one(diag="J181", diags=("D571",))["acsc_vaccine_preventable"] is False
    assert one(diag="E109")["acsc_broad"] is False  # diabetes without complication (.9)
