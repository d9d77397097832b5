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


@lru_cache(maxsize=1)
def pb_england_shares() -> pa.Table:
    """England's spend by programme of care, as far as it could be cited: ``programme`` (phm
    programme id), ``pb_code``, ``spend_gbp_m`` (float64, null when only a share is quoted),
    ``share`` (0-1 of total programme budgeting spend, null when not found), ``year``,
    ``basis``, ``source`` and ``verified`` (``yes``: both numbers quoted in the source;
    ``derived``: the share divides a quoted £ by the PCT total implied by the 2012-13 answer;
    ``quoted``: a share quoted by a secondary source).

    Sources: PCT programme budgeting returns 2012-13 as quoted in written parliamentary
    answers (PQ 205929, 218879, 7936) and the Public Accounts Committee (HC 502); English shares
    quoted in Scottish Government, *Programme Budgeting - Testing the Approach in Scotland*
    (2010), Table 4.1. The national aggregate file for 2003-04 to 2012-13 could not be read.
    """
    return read_csv(
        "costs/pb_england_shares.csv",
        {
            "programme": S,
            "pb_code": S,
            "spend_gbp_m": F64,
            "share": F64,
            "year": S,
            "basis": S,
            "source": S,
            "verified": S,
        },
    )
