"""Age in a financial year: a baby born during the year is 0, never -1 (issue 14)."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from phm.model.common import age_band, age_in_year


@pytest.mark.parametrize(("dob", "age", "band"), [
    ("2024-09-30", 0, "0-4"),   # born during 2024/25: 0, not -1
    ("2024-04-01", 0, "0-4"),
    ("2024-03-31", 0, "0-4"),
    ("2023-04-01", 1, "0-4"),
    ("1934-04-02", 89, "85-89"),
    ("1934-04-01", 90, "90+"),
])
def test_age_at_the_start_of_the_year(dob, age, band):
    t = ibis.memtable(pa.table({"dob": pa.array([dt.date.fromisoformat(dob)], pa.date32()),
                                "start": pa.array([dt.date(2024, 4, 1)], pa.date32())}))
    a = age_in_year(t.dob, t.start)
    got = t.select(a=a, b=age_band(a)).to_pyarrow().to_pylist()[0]
    assert (got["a"], got["b"]) == (age, band)
