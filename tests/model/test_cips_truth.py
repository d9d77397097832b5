"""The model against the planted truth on whole synthetic ICBs (issue 13).

The synthetic ICB plants real HES quirks (chained and nested transfers, regular attenders,
unfinished episodes, EPIORDER 99, private and NHS England-commissioned stays, a refreshed
extract); ``truth/cips.json`` holds the true number of continuous inpatient spells and their
bed days. On a 20,000-person ICB without data defects the model must recover them exactly.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.xdist_group("cips20k")


def test_cips_count_and_bed_days_equal_the_truth(icb20k_clean):
    d, wh = icb20k_clean
    truth = json.loads((d / "truth" / "cips.json").read_text())
    with duckdb.connect(str(wh), read_only=True) as c:
        n, closed, bed_days, transfers, regular = c.sql(
            "SELECT count(*), count(discharge_date), sum(los_days), count(*) FILTER (provider_spells > 1), "
            "count(*) FILTER (patient_classification IN ('3', '4')) FROM spells").fetchone()
    assert truth["with_transfers"] > 50 and truth["regular_attendances"] > 100 and truth["open_at_extract"] > 0
    assert (n, closed, bed_days) == (truth["continuous_inpatient_spells"], truth["closed"], truth["bed_days"])
    assert (transfers, regular) == (truth["with_transfers"], truth["regular_attendances"])


def test_the_synthetic_apc_carries_real_hes_quirks(icb20k_clean):
    d, _ = icb20k_clean
    apc = pq.read_table(d / "apc_episodes.parquet").to_pandas()
    assert {"2A", "2B", "2D", "81", "99"} <= set(apc.admission_method)
    assert {"3", "4", "5"} <= set(apc.patient_classification)
    assert (apc.episode_status == "1").sum() > 0 and (apc.episode_order == 99).sum() > 0
    assert (apc.administrative_category == "02").sum() > 0 and (apc.commissioner_code == "13R").sum() > 0
    assert apc.diag_20.notna().sum() + apc.diag_12.notna().sum() > 0 and apc.opertn_24.notna().sum() > 0


def test_private_and_nhs_england_activity_is_not_icb_spend(icb20k_clean):
    _, wh = icb20k_clean
    with duckdb.connect(str(wh), read_only=True) as c:
        by = dict(c.sql("SELECT funder, sum(cost) FROM activity GROUP BY funder").fetchall())
        py = c.sql("SELECT sum(cost_total), sum(cost_nhse), sum(cost_private) FROM person_year").fetchone()
    assert by["nhse"] > 0 and by["private"] > 0
    assert py == pytest.approx((by["icb"], by["nhse"], by["private"]), rel=1e-9)
