"""QOF register business rules (phm.model.registers), on hand-built GP records.

Rules: NHS England QOF business rules v49 (2024/25), section 3.2.2.1 of each domain document,
as transcribed in definitions/qof_registers.csv (see its ``verified`` column). Achievement date:
the financial year end, 31 March 2025 (fy 2024).
"""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from phm.model import registers

D = dt.date
END = D(2025, 3, 31)
CODES = {  # one code of each cluster, from the shipped refsets
    "ast": "195967001", "astres": "162660004", "dm": "44054006", "dmres": "315051004",
    "hyp": "38341003", "hypres": "162659009", "depr": "35489007", "depres": "196381000000100",
    "epil": "84757009", "epilres": "162658001", "ckd3": "433144002", "ckd12": "431855005",
    "can": "363406005", "mh": "58214004", "pal": "1025611000000105", "palni": "1048611000000104",
}


def _refset(name: str) -> set[str]:
    import csv

    from phm.refdata._io import data_path

    with data_path(f"codelists/pcd_refsets/{name}.csv").open(encoding="utf-8-sig") as f:
        return {r["code"].strip() for r in csv.DictReader(f)}


def test_the_hand_built_codes_are_in_their_clusters():
    for key, cluster in [("ast", "ast_cod"), ("astres", "astres_cod"), ("dm", "dm_cod"), ("dmres", "dmres_cod"),
                         ("hyp", "hyp_cod"), ("hypres", "hypres_cod"), ("depr", "depr_cod"),
                         ("depres", "depres_cod"), ("epil", "epil_cod"), ("epilres", "epilres_cod"),
                         ("ckd3", "ckd_cod"), ("ckd12", "ckd1and2_cod"), ("can", "c19can_cod"),
                         ("mh", "mh_cod"), ("pal", "palcare_cod"), ("palni", "palcareni_cod")]:
        assert CODES[key] in _refset(cluster), (key, cluster)


BORN = D(1970, 1, 1)


def _run(events, rx=(), dob=BORN, last_day=END):
    """{register: on register} for person 1 at 31 March 2025 (age rule applied)."""
    con = ibis.duckdb.connect()
    ev = ibis.memtable(pa.table({"person_id": pa.array([1] * len(events), pa.int64()),
                                 "event_date": pa.array([d for _, d in events], pa.date32()),
                                 "snomed_code": pa.array([CODES[c] for c, _ in events], pa.string())}))
    pr = ibis.memtable(pa.table({"person_id": pa.array([1] * len(rx), pa.int64()),
                                 "month": pa.array([m for _, m in rx], pa.date32()),
                                 "bnf_code": pa.array([b for b, _ in rx], pa.string())}))
    refs = {k: ibis.memtable(v) for k, v in registers.reference_tables().items()}
    keys = ibis.memtable(pa.table({"person_id": pa.array([1], pa.int64()), "fy": pa.array([2024], pa.int64()),
                                   "fy_end": pa.array([END], pa.date32()),
                                   "last_day": pa.array([last_day], pa.date32()),
                                   "date_of_birth": pa.array([dob], pa.date32())}))
    status = registers.register_status(ev, pr, refs, keys.drop("date_of_birth"))
    flags = registers.register_flags(keys, status, registers.register_ids())
    rows = con.to_pyarrow(flags).to_pylist()
    return {r: bool(rows[0][f"reg_{r}"]) for r in registers.register_ids()} if rows else {}


def test_latest_diagnosis_followed_by_a_resolved_code_is_off_the_register():
    assert _run([("dm", D(2015, 1, 1)), ("dmres", D(2019, 1, 1))]).get("diabetes") is False
    assert _run([("hyp", D(2015, 1, 1)), ("hypres", D(2016, 1, 1))]).get("hypertension") is False


def test_a_diagnosis_after_the_resolved_code_puts_the_person_back():
    assert _run([("dm", D(2015, 1, 1)), ("dmres", D(2016, 1, 1)), ("dm", D(2020, 1, 1))])["diabetes"]


def test_a_resolved_code_on_the_day_of_the_diagnosis_does_not_remove():
    assert _run([("hyp", D(2020, 5, 1)), ("hypres", D(2020, 5, 1))])["hypertension"]


def test_codes_after_the_achievement_date_do_not_count():
    assert _run([("dm", D(2025, 4, 1))]).get("diabetes", False) is False
    assert _run([("dm", D(2015, 1, 1)), ("dmres", D(2025, 4, 2))])["diabetes"]


@pytest.mark.parametrize(("dob", "on"), [
    (D(2008, 3, 31), True),   # 17 on 31 March 2025
    (D(2008, 4, 1), False),   # still 16 on the achievement date
])
def test_diabetes_age_17_on_the_achievement_date(dob, on):
    assert _run([("dm", D(2020, 1, 1))], dob=dob)["diabetes"] is on


def test_asthma_needs_a_drug_in_the_12_months_and_age_6():
    coded = [("ast", D(2018, 1, 1))]
    assert _run(coded)["asthma"] is False  # never treated
    assert _run(coded, rx=[("0301011R0AAAPAP", D(2024, 4, 1))])["asthma"]  # April: in the 12 months
    assert _run(coded, rx=[("0301011R0AAAPAP", D(2024, 3, 1))])["asthma"] is False  # 13 months before
    assert _run(coded, rx=[("0302000C0AABFBF", D(2025, 1, 1))], dob=D(2019, 4, 1))["asthma"] is False  # 5
    assert _run([*coded, ("astres", D(2023, 1, 1))], rx=[("0301011R0AAAPAP", D(2025, 1, 1))])["asthma"] is False


def test_epilepsy_needs_a_drug_in_the_last_6_months_up_to_the_last_day():
    coded = [("epil", D(2010, 1, 1))]
    assert _run(coded, rx=[("0408010A0AAABAB", D(2024, 10, 1))])["epilepsy"]
    assert _run(coded, rx=[("0408010A0AAABAB", D(2024, 9, 1))])["epilepsy"] is False
    # died on 30 November: judged on the 6 months to then
    assert _run(coded, rx=[("0408010A0AAABAB", D(2024, 7, 1))], last_day=D(2024, 11, 30))["epilepsy"]
    assert _run([*coded, ("epilres", D(2020, 1, 1))], rx=[("0408010A0AAABAB", D(2025, 1, 1))])["epilepsy"] is False


def test_lithium_alone_puts_a_person_on_the_smi_register():
    assert _run([], rx=[("0402030K0AAAAAA", D(2025, 2, 1))])["smi"]
    assert _run([("mh", D(2001, 1, 1))])["smi"]
    assert _run([], rx=[("0402030K0AAAAAA", D(2024, 6, 1))]).get("smi", False) is False


def test_ckd_stage_1_2_after_stage_3_takes_the_person_off():
    assert _run([("ckd3", D(2019, 1, 1))])["ckd"]
    assert _run([("ckd3", D(2019, 1, 1)), ("ckd12", D(2021, 1, 1))])["ckd"] is False
    assert _run([("ckd3", D(2019, 1, 1))], dob=D(2007, 4, 1))["ckd"] is False  # 17


def test_depression_since_april_2006_and_cancer_since_april_2003():
    assert _run([("depr", D(2006, 3, 31))])["depression"] is False
    assert _run([("depr", D(2006, 4, 1))])["depression"]
    assert _run([("depr", D(2010, 1, 1)), ("depres", D(2012, 1, 1))])["depression"] is False
    assert _run([("can", D(2003, 3, 1))])["cancer"] is False
    assert _run([("can", D(2003, 4, 1))])["cancer"]


def test_palliative_care_not_clinically_indicated():
    assert _run([("pal", D(2024, 6, 1))])["palliative_care"]
    assert _run([("pal", D(2024, 6, 1)), ("palni", D(2024, 9, 1))])["palliative_care"] is False
    assert _run([("pal", D(2008, 3, 1))])["palliative_care"] is False


def test_every_condition_has_one_register_rule_with_its_diagnosis_refset():
    from phm import refdata

    defs = {r["condition"]: r for r in registers.register_definitions()}
    for c in refdata.conditions():
        assert defs[c.id]["diagnosis"].split(";") == list(c.snomed_refsets), c.id
    for r in defs.values():
        assert r["source"] and r["version"] and r["verified"], r["condition"]


def test_england_reference_uses_the_register_age_floors():
    from phm import refdata

    floors = {r["condition"]: int(r["min_age"]) for r in registers.register_definitions()}
    eng = refdata.england_prevalence().to_pylist()
    assert {r["condition"] for r in eng} == set(floors)
    for r in eng:
        assert r["min_age"] == floors[r["condition"]], r["condition"]
        assert r["prevalence"] == pytest.approx(r["register"] / r["list_size"])
    dm = next(r for r in eng if r["condition"] == "diabetes")
    # NHS England QOF 2022-23, equal to OHID Fingertips indicator 241 for England 2022/23
    assert (dm["register"], dm["list_size"]) == (3_774_801, 50_649_129)
