"""Bridges to Health segments (Lynn et al., Milbank Q 2007), one per person-year.

Rules are data (``definitions/segments.csv``: priority, segment, name, rule in words, source);
this module holds the matching expression for each segment, and a person-year takes the
first segment, in priority order, whose rule it meets. The precedence is explicit in the CSV
and a test checks that every segment there has exactly one rule here and vice versa.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import ibis
import pyarrow as pa


@lru_cache(maxsize=1)
def segment_definitions() -> pa.Table:
    with resources.files("phm.model").joinpath("definitions/segments.csv").open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["priority"]))
    return pa.table({
        "priority": pa.array([int(r["priority"]) for r in rows], pa.int64()),
        "segment": [r["segment"] for r in rows], "name": [r["name"] for r in rows],
        "rule": [r["rule"] for r in rows], "source": [r["source"] for r in rows],
    })


FRAILTY_MIN_AGE = 65  # NHS England Bridges to Health segmentation applies the HFRS from 65
HFRS_FRAIL = 5.0  # Gilbert et al. 2018: 5 or more is intermediate or high frailty risk


def rules(t) -> dict:
    """Segment -> boolean expression over a person_year-shaped table."""
    return {
        "end_of_life": t.died_in_year,
        "frailty_dementia": t.cond_dementia | ((t.age >= FRAILTY_MIN_AGE) & (t.hfrs >= HFRS_FRAIL)),
        "organ_failure": t.cond_heart_failure | t.cond_copd | (t.cond_ckd & (t.emergency_admissions >= 4)),
        "disability": t.cond_learning_disability,
        "maternal_infant": (t.maternity_admissions > 0) | t.maternity_activity | (t.age < 1),
        "chronic_conditions": t.ltc_count >= 1,
        "acutely_ill": (t.emergency_admissions > 0) | (t.ae_attendances > 0),
        "healthy": ibis.literal(True),
    }


def segment_expr(t):
    r = rules(t)
    order = segment_definitions()["segment"].to_pylist()
    return ibis.cases(*[(r[s].coalesce(False), s) for s in order], else_="healthy")
