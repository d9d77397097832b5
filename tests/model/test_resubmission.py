"""A refreshed APC extract on the default synthetic ICB: load order, not file name, picks the record."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq


def test_a_refreshed_extract_wins_by_load_order_not_by_name(icb10k, icb10k_built):
    refresh = sorted(p.name for p in icb10k.iterdir() if p.name.startswith("apc_episodes-"))
    assert refresh and refresh[0] < "apc_episodes.parquet"  # the name alone would pick the older file
    resub = pq.read_table(icb10k / "truth" / "resubmitted_episodes.parquet").to_pylist()
    assert len(resub) > 20
    with duckdb.connect(str(icb10k_built), read_only=True) as c:
        got = dict(((p, s), dis) for p, s, dis in c.sql(
            "SELECT provider_code, spell_id, discharge_date FROM provider_spells").fetchall())
    right = sum(got.get((r["provider_code"], r["spell_id"])) == r["true_discharge_date"] for r in resub)
    assert right == len(resub)
