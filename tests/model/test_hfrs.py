"""Hospital Frailty Risk Score: the published points and the scoring rule, on hand-built people.

Source: Gilbert T et al. Development and validation of a Hospital Frailty Risk Score focusing on
older people in acute care settings using electronic hospital records: an observational study.
Lancet 2018;391:1775-82, supplementary appendix (109 ICD-10 codes with points; under 5 low,
5-15 intermediate, over 15 high risk).
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from tiny import WINDOW, con, d, raw, refs

from phm.model import comorbidity, definitions
from phm.model.common import Window


def test_the_published_points_table():
    t = definitions.hfrs_points().to_pylist()
    pts = {r["icd10_3"]: r["points"] for r in t}
    assert len(t) == len(pts) == 109
    assert round(sum(pts.values()), 1) == 173.2  # the 109 published points, added up
    # the heaviest and lightest codes, and some in between, as published
    assert (pts["F00"], pts["G81"], pts["G30"], pts["W19"], pts["J18"], pts["R50"]) == (7.1, 4.4, 4.0, 3.2, 1.1, 0.1)
    assert all(r["source"].startswith("Gilbert T et al.") for r in t)


def score(episodes: list[dict], window: Window = WINDOW) -> dict[tuple[int, int], float]:
    c = con()
    r = refs(c, window)
    e = raw(c, "apc_episodes", [{"provider_code": "RAA", "spell_id": f"S{i}", "episode_order": 1, "episode_id": f"E{i}",
                                 "episode_status": "3", **x} for i, x in enumerate(episodes)])
    fy = r["ref_fy"]
    keys = c.create_table("keys", pa.table({"person_id": [1, 1, 1], "fy": window.years}), overwrite=True)
    keys = keys.join(fy, "fy").select("person_id", "fy", "fy_end")
    out = comorbidity.hfrs(keys, e.mutate(admission_date=e.admission_date), r).to_pyarrow().to_pylist()
    return {(x["person_id"], x["fy"]): x["hfrs"] for x in out}


def test_points_of_distinct_codes_in_two_years_add_up():
    """Two admissions: Alzheimer's dementia (F00, 7.1) and an unspecified fall (W19, 3.2): 10.3,
    intermediate risk; the fall coded again, and pneumonia in a secondary position (J18, 1.1)."""
    got = score([
        {"person_id": 1, "admission_date": d("2023-06-01"), "diag_01": "F001"},
        {"person_id": 1, "admission_date": d("2024-01-10"), "diag_01": "S720", "diag_02": "W190", "diag_07": "J189"},
        {"person_id": 1, "admission_date": d("2024-02-10"), "diag_01": "W19X"},  # the same code again: once
    ])
    assert got[(1, 2023)] == pytest.approx(7.1 + 1.4 + 3.2 + 1.1)  # F00, S72, W19, J18 by 31 March 2024
    assert got[(1, 2024)] == pytest.approx(7.1 + 1.4 + 3.2 + 1.1)  # all within two years of 31 March 2025
    assert (1, 2022) not in got  # nothing before 31 March 2023


def test_admissions_older_than_two_years_drop_out():
    got = score([{"person_id": 1, "admission_date": d("2022-05-01"), "diag_01": "F001"}])
    assert got[(1, 2022)] == 7.1 and got[(1, 2023)] == 7.1  # 2022-05-01 is within two years of 2024-03-31
    assert (1, 2024) not in got  # but not of 2025-03-31


def test_codes_outside_the_list_score_nothing():
    got = score([{"person_id": 1, "admission_date": d("2024-05-01"), "diag_01": "I10X", "diag_02": "E119"}])
    assert got == {}
