"""A refreshed APC extract: some episodes sent again, later, under another file name.

Real SUS/HES feeds are resubmitted: a provider corrects a record and the next extract carries
it again. Here a share of final, finished episodes is corrected in a refresh: the first file
(``apc_episodes.<fmt>``) holds a discharge date one day off, and
``apc_episodes-2025-04-refresh.<fmt>``, written after it and dated later, holds the true one.
The refresh's name sorts *before* the first file's, so only load order (the load ledger), not
the file name, picks the right record. Each resubmitted record is a near duplicate on the
natural key, counted in ``truth/defects.json``; ``truth/resubmitted_episodes.parquet`` lists
them with the wrong and the true discharge date. Planted only with ``--defects default``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REFRESH_STEM = "apc_episodes-2025-04-refresh"
SHARE = 0.01


def split(apc: pa.Table, rng: np.random.Generator, extract_day: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """``(first_file_rows, refresh_rows, truth)`` for one chunk of episodes."""
    dis = apc["discharge_date"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    adm = apc["admission_date"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    final = pc.and_(pc.is_valid(apc["discharge_date"]), pc.equal(apc["episode_status"], "3")).to_numpy(zero_copy_only=False)
    dis_i = np.nan_to_num(dis, nan=0).astype(np.int64)
    later_ok = dis_i + 1 <= extract_day
    earlier_ok = dis_i - 1 >= np.nan_to_num(adm, nan=0).astype(np.int64)
    cand = np.flatnonzero(final & (later_ok | earlier_ok))
    k = int(round(SHARE * apc.num_rows))
    chosen = np.sort(rng.choice(cand, size=min(k, cand.size), replace=False))
    wrong = np.where(later_ok[chosen], dis_i[chosen] + 1, dis_i[chosen] - 1)
    new_dis = dis_i.copy()
    new_dis[chosen] = wrong
    col = pc.if_else(pc.is_valid(apc["discharge_date"]), pa.array(new_dis.astype(np.int32)).cast(pa.date32()),
                     pa.scalar(None, pa.date32()))
    first = apc.set_column(apc.column_names.index("discharge_date"), "discharge_date", col)
    refresh = apc.take(pa.array(chosen))
    truth = pa.table({
        "episode_id": refresh["episode_id"], "provider_code": refresh["provider_code"], "spell_id": refresh["spell_id"],
        "wrong_discharge_date": pa.array(wrong.astype(np.int32)).cast(pa.date32()),
        "true_discharge_date": refresh["discharge_date"],
    })
    return first, refresh, truth
