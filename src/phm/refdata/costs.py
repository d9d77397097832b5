"""NHS reference costs and HRG trim points."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

from phm.refdata._io import read_csv

S, F64 = pa.string(), pa.float64()


@lru_cache(maxsize=1)
def ncc_unit_costs() -> pa.Table:
    """National Cost Collection 2024/25, national schedule (13,362 rows).

    Columns: ``department_code`` (department or point of delivery as published, e.g.
    "Elective Inpatients", "Daycase", "Outpatient Procedures"), ``currency_code`` (HRG
    or other currency, e.g. ``FD01A``), ``currency_desc``, ``activity``, ``unit_cost``
    (GBP) and ``cost`` (GBP), all float64. Text is trimmed; suppressed values are null.

    Source: NHS England National Cost Collection, National Schedule 2024/25, via
    NICE-Data-and-Analytics/COSTmos (``ncc``).
    """
    return read_csv(
        "costs/ncc_2024_25.csv.gz",
        {
            "department_code": S,
            "currency_code": S,
            "currency_desc": S,
            "activity": F64,
            "unit_cost": F64,
            "cost": F64,
        },
    )


@lru_cache(maxsize=1)
def hrg_trimpoints() -> pa.Table:
    """HRG length-of-stay trim points in days (2,312 rows).

    Columns: ``hrg_code``, ``elective_trimpoint`` and ``emergency_trimpoint`` (int32
    days; null where the source has "-", no trim point). Bed days beyond the trim
    point are excess bed days.

    Source: NHS tariff / Payment Scheme trim points via The-Strategy-Unit/nhp_data
    (``hrg_trimpoints.csv``); the source does not state the tariff year.
    """
    return read_csv(
        "costs/hrg_trimpoints.csv",
        {"sushrg": S, "elective": pa.int32(), "emergency": pa.int32()},
        rename={
            "sushrg": "hrg_code",
            "elective": "elective_trimpoint",
            "emergency": "emergency_trimpoint",
        },
    )
