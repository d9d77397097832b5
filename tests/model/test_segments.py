"""Bridges to Health segments: each rule, and the priority order between them."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from phm.model import segments

BASE = {"died_in_year": False, "palliative_care_register": False, "cond_dementia": False,
        "cond_heart_failure": False, "cond_copd": False, "cond_ckd": False, "cond_learning_disability": False,
        "age": 40, "ltc_count": 0, "emergency_admissions": 0, "maternity_admissions": 0, "ae_attendances": 0,
        "hfrs": 0.0, **dict.fromkeys(segments.FLAGS, False)}


def segment_of(**person) -> str:
    row = BASE | person
    t = ibis.memtable(pa.table({k: [v] for k, v in row.items()}))
    return t.select(s=segments.segment_expr(t)).to_pyarrow()["s"][0].as_py()


@pytest.mark.parametrize(("person", "segment"), [
    ({}, "healthy"),
    ({"ae_attendances": 1}, "acutely_ill"),
    ({"ltc_count": 1, "ae_attendances": 2}, "chronic_conditions"),
    # maternal and infant: under 1 at the year start (or born in the year), pregnancy or delivery
    ({"age": 0, "ltc_count": 1}, "maternal_infant"),
    ({"maternity_admissions": 1, "ltc_count": 1}, "maternal_infant"),
    ({"pregnancy": True}, "maternal_infant"),
    ({"age": 25}, "healthy"),  # contraception or sexual health activity alone is not maternity
    # disability: learning disability, autism or a physical disability coded by the GP
    ({"cond_learning_disability": True, "ltc_count": 2, "maternity_admissions": 1}, "disability"),
    ({"disability_coded": True, "ltc_count": 1}, "disability"),
    # organ failure by severity, not any heart failure or COPD code
    ({"cond_copd": True, "cond_learning_disability": True, "ltc_count": 2}, "disability"),
    ({"cond_copd": True, "ltc_count": 1}, "chronic_conditions"),
    ({"cond_copd": True, "copd_emergency": True, "ltc_count": 1}, "organ_failure"),
    ({"cond_heart_failure": True, "ltc_count": 1, "emergency_admissions": 2}, "chronic_conditions"),
    ({"cond_heart_failure": True, "heart_failure_emergency": True, "ltc_count": 1}, "organ_failure"),
    ({"heart_failure_emergency": True, "emergency_admissions": 1}, "acutely_ill"),  # not on the register
    ({"ckd_stage4": True, "cond_ckd": True, "ltc_count": 1, "emergency_admissions": 3}, "chronic_conditions"),
    ({"ckd_stage4": True, "cond_ckd": True, "ltc_count": 1, "emergency_admissions": 4}, "organ_failure"),
    ({"cond_ckd": True, "ltc_count": 1, "emergency_admissions": 4}, "chronic_conditions"),  # stage 3: no
    ({"kidney_failure": True, "cond_ckd": True, "ltc_count": 1}, "organ_failure"),
    ({"liver_failure": True}, "organ_failure"),
    ({"cond_dementia": True, "cond_heart_failure": True, "ltc_count": 2}, "frailty_dementia"),
    ({"age": 70, "ltc_count": 1, "hfrs": 5.0}, "frailty_dementia"),  # HFRS 5+: intermediate or high risk
    ({"age": 70, "ltc_count": 1, "hfrs": 4.9}, "chronic_conditions"),
    ({"age": 64, "ltc_count": 1, "hfrs": 12.0}, "chronic_conditions"),  # the rule applies from 65
    ({"age": 80, "ltc_count": 3, "emergency_admissions": 6}, "chronic_conditions"),  # admissions alone: not frailty
    # end of life: the palliative care register, or (retrospectively) death in the year
    ({"died_in_year": True, "cond_dementia": True, "ltc_count": 1}, "end_of_life"),
    ({"palliative_care_register": True, "liver_failure": True}, "end_of_life"),
])
def test_first_matching_rule_in_priority_order_wins(person, segment):
    assert segment_of(**person) == segment


def test_every_segment_in_the_csv_has_one_rule_and_a_source():
    defs = segments.segment_definitions().to_pylist()
    t = ibis.memtable(pa.table({k: [v] for k, v in BASE.items()}))
    assert [d["segment"] for d in defs] == list(segments.rules(t))
    assert [d["priority"] for d in defs] == list(range(1, len(defs) + 1))
    assert all(d["source"] and d["rule"] and d["name"] for d in defs)
