"""Do a peer's outputs equal phm's marts? ``python bench/peers/check.py PEER_OUT WAREHOUSE``.

Each output of :data:`reference.OUTPUTS` is matched row for row with the phm table it
reproduces, on its key (a full outer join: a row on one side only counts as ``only_phm`` or
``only_peer``, and the values of matched rows are compared column by column):

- ``person`` with the ``person`` mart, on ``person_id``;
- ``spells`` with the ``spells`` mart (continuous inpatient spells), on ``cips_id``;
- ``person_year`` with the ``person_year`` mart, on ``person_id`` and ``fy``;
- ``prevalence`` with ``hna_prevalence`` at practice level (the last year), on practice and
  condition.

Money (``cost*``) must agree to the penny (|difference| < half a penny: sums of the same
pennies in another order differ only in the last bits); other doubles to 1e-9 relative;
everything else exactly. Prints one line per output and exits 1 if any differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from reference import OUTPUTS, person_year_columns

PHM = {
    "person": ("person", ["person_id"]),
    "spells": ("spells", ["cips_id"]),
    "person_year": ("person_year", ["person_id", "fy"]),
    "prevalence": (
        "(SELECT area_code AS practice_code, condition, register, denominator, prevalence, "
        "prevalence_lower AS lower, prevalence_upper AS upper FROM hna_prevalence "
        "WHERE level = 'practice' AND fy = (SELECT max(fy) FROM hna_prevalence))",
        ["practice_code", "condition"],
    ),
}


def compare(con, name: str, peer: Path) -> dict:
    table, key = PHM[name]
    cols = OUTPUTS[name] or person_year_columns()
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{peer}')").fetchall()}
    on = " AND ".join(f"p.{k} = q.{k}" for k in key)
    diffs = []
    for c in cols:
        if c in key:
            continue
        if c.startswith("cost"):
            diffs.append(
                f"count(*) FILTER (WHERE NOT coalesce(abs(p.{c} - q.{c}) < 0.005, "
                f"p.{c} IS NULL AND q.{c} IS NULL)) AS {c}"
            )
        elif types.get(c) == "DOUBLE":
            diffs.append(
                f"count(*) FILTER (WHERE NOT coalesce(abs(p.{c} - q.{c}) <= 1e-9 * greatest(abs(p.{c}), "
                f"1e-300), p.{c} IS NULL AND q.{c} IS NULL)) AS {c}"
            )
        else:
            peer_c = f"q.{c}::DATE" if types.get(c, "").startswith("TIMESTAMP") else f"q.{c}"  # pandas: no dates
            diffs.append(f"count(*) FILTER (WHERE p.{c}::VARCHAR IS DISTINCT FROM {peer_c}::VARCHAR) AS {c}")
    only = [
        f"count(*) FILTER (WHERE q.{key[0]} IS NULL) AS only_phm",
        f"count(*) FILTER (WHERE p.{key[0]} IS NULL) AS only_peer",
        "count(*) AS rows",
    ]
    both = f"p.{key[0]} IS NOT NULL AND q.{key[0]} IS NOT NULL"  # values compared on matched rows
    diffs = [d.replace("FILTER (WHERE ", f"FILTER (WHERE {both} AND ", 1) for d in diffs]
    sql = f"SELECT {', '.join(only + diffs)} FROM {table} p FULL OUTER JOIN read_parquet('{peer}') q ON {on}"
    row = con.execute(sql).fetchone()
    names = [d[0] for d in con.description]
    res = dict(zip(names, row, strict=True))
    bad = {k: v for k, v in res.items() if k != "rows" and v}
    return {"rows": res["rows"], "differences": bad}


def check(peer_out: Path, warehouse: Path) -> dict[str, dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {name: compare(con, name, peer_out / f"{name}.parquet") for name in OUTPUTS}
    finally:
        con.close()


def main() -> None:
    results = check(Path(sys.argv[1]), Path(sys.argv[2]))
    for name, r in results.items():
        verdict = "equal" if not r["differences"] else f"DIFFER {r['differences']}"
        print(f"{name:<12}{r['rows']:>12,} rows  {verdict}")
    sys.exit(0 if all(not r["differences"] for r in results.values()) else 1)


if __name__ == "__main__":
    main()
