"""England recorded prevalence of the QOF disease registers (the national comparator)."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa

from phm.refdata._io import read_csv

S, I64, F64 = pa.string(), pa.int64(), pa.float64()


@lru_cache(maxsize=1)
def england_prevalence() -> pa.Table:
    """England's QOF register size, list size and recorded prevalence by phm condition.

    Columns: ``condition`` (phm condition id), ``qof_register`` (QOF register code, e.g.
    ``DM``), ``register`` and ``list_size`` (England totals, int64), ``prevalence`` (0-1,
    ``register / list_size``), ``min_age`` (the register's age floor; the list size is the
    list of that age), ``source``, ``version`` and ``verified`` (``yes`` when the numbers
    were read in the publication itself or a copy of its data; otherwise why not).

    Source: NHS England, *Quality and Outcomes Framework, 2022-23* (published 7 September
    2023): the practice-level data file ``PREVALENCE_2223.csv`` summed over England. 2022-23
    is the latest year whose full data file could be read here (2023-24 was found for
    diabetes and hypertension only); ``version`` says the year of every row.
    """
    return read_csv(
        "prevalence/qof_england_2022_23.csv",
        {"condition": S, "qof_register": S, "register": I64, "list_size": I64,
         "prevalence": F64, "min_age": I64, "source": S, "version": S, "verified": S},
    )
