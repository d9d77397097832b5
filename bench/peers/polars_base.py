"""What the polars peer (:mod:`polars_peer`) builds on: reading the extracts with pseudonyms, and
the costing and programme-splitting helpers."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from reference import (
    Inputs,
)

SENTINELS = [dt.date(1800, 1, 1), dt.date(1801, 1, 1)]  # HES: no date
EMERGENCY = ["21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"]
TRANSFER_DEST = ["49", "50", "51", "52", "53", "84"]
c = pl.col


def r2(x: pl.Expr) -> pl.Expr:
    """Round half away from zero to the penny (as SQL ROUND does)."""
    y = x * 100
    return pl.when(y >= 0).then((y + 0.5).floor()).otherwise((y - 0.5).ceil()) / 100


def fy_of(d: pl.Expr) -> pl.Expr:
    return d.dt.year().cast(pl.Int64) - (d.dt.month() < 4).cast(pl.Int64)


def coded(expr: pl.Expr, mapping: dict, default=None, dtype=None) -> pl.Expr:
    return expr.replace_strict(mapping, default=default, return_dtype=dtype)


class Base:
    """The inputs, reading with pseudonyms, and the costing helpers."""

    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        self.w = inp.window
        self.extract = self.w.extract_date
        self.ref = {k: pl.from_arrow(v) for k, v in inp.refs.items()}
        self.ids: dict[str, int | None] = {}

    # ---- reading ----------------------------------------------------------------------
    def read(self, dataset: str, columns: list[str], activity_dates: tuple[str, ...] = ()) -> pl.LazyFrame:
        lf = pl.scan_parquet(self.inp.path(dataset)).select("nhs_number", *columns)
        numbers = pl.scan_parquet(self.inp.path(dataset)).select(c.nhs_number.unique()).collect()
        todo = [n for n in numbers["nhs_number"].to_list() if n is not None and n not in self.ids]
        for n in todo:
            self.ids[n] = self.inp.person_id(n)
        lookup = pl.DataFrame(
            {"nhs_number": list(self.ids), "person_id": list(self.ids.values())},
            schema={"nhs_number": pl.String, "person_id": pl.Int64},
        )
        lf = lf.join(lookup.lazy(), on="nhs_number", how="left").drop("nhs_number")
        schema = lf.collect_schema()
        fixes = {}
        for name, typ in schema.items():
            if typ == pl.Date:
                e = pl.when(c(name).is_in(SENTINELS)).then(None).otherwise(c(name))
                if name in activity_dates:
                    e = pl.when(e > self.extract).then(None).otherwise(e)
                fixes[name] = e
        return lf.with_columns(**fixes)

    # ---- costing helpers ----------------------------------------------------------------
    def unit_table(self, pod: str | None = None) -> pl.LazyFrame:
        u = self.ref["ref_unit_cost"]
        return (u.filter(c.pod == pod).drop("pod") if pod else u).lazy()

    def priced(self, setting: str, tiers, default) -> tuple[pl.Expr, pl.Expr]:
        """Cost (penny) and the price year it is stated in (null: supplied), by precedence."""
        year_of = {
            "supplied": None,
            "not_attended": None,
            "ncc_currency": self.inp.ncc_year,
            "ncc_pod": self.inp.ncc_year,
        }
        cost, year = None, None
        for cond, value, source in tiers:
            v = value if isinstance(value, pl.Expr) else pl.lit(value, pl.Float64)
            cost = pl.when(cond).then(v) if cost is None else cost.when(cond).then(v)
            year = (
                pl.when(cond).then(pl.lit(year_of[source], pl.Int64))
                if year is None
                else year.when(cond).then(pl.lit(year_of[source], pl.Int64))
            )
        d = default if isinstance(default, pl.Expr) else pl.lit(default, pl.Float64)
        return r2(cost.otherwise(d)), year.otherwise(pl.lit(self.inp.default_year[setting], pl.Int64))

    def restated(self, cost: pl.Expr, year: pl.Expr, fy: pl.Expr) -> pl.Expr:
        levels = {y: self.inp.year_level(y) for y in self.w.years}
        bases = {y: lv for y, lv in self.inp.level.items() if lv is not None}
        level = coded(fy, levels, None, pl.Float64)
        base = coded(year, bases, None, pl.Float64)
        return pl.when(year.is_null()).then(cost).otherwise(r2(cost * (level / base).fill_null(1.0)))

    def apportion(self, pid: pl.Expr, day: pl.Expr) -> pl.Expr:
        days = (day - pl.lit(dt.date(2000, 1, 1))).dt.total_days().cast(pl.Int64).fill_null(0)
        p = pid.fill_null(0)
        # SQL's % keeps the dividend's sign; polars' follows the divisor: take |a| % m instead
        x = ((p.abs() % 99991) * 7919 + (days.abs() % 10007) * 104729) % 10000
        return x.cast(pl.Float64) / 10000.0

    def split(self, lf: pl.LazyFrame, key: pl.Expr, u: pl.Expr, ref: pl.DataFrame, prefix: str) -> pl.LazyFrame:
        """Add ``<prefix>pbc`` and ``<prefix>prog``: the [lo, hi) slice of the split map holding
        ``u`` for the row's key (null without one)."""
        r = ref.rename({ref.columns[0]: "_k"}).select("_k", "pbc", "programme", "lo", "hi")
        # materialised before numbering the rows: a lazy plan with joins need not keep its row order
        lf = lf.with_columns(_k=key, _u=u).collect().with_row_index("_row").lazy()
        hit = (
            lf.select("_row", "_k", "_u")
            .join(r.lazy(), on="_k")
            .filter((c._u >= c.lo) & (c._u < c.hi))
            .select("_row", **{f"{prefix}pbc": c.pbc, f"{prefix}prog": c.programme})
        )
        return lf.join(hit, on="_row", how="left").drop("_row", "_k", "_u")

    def funder(self, admin: pl.Expr, commissioner: pl.Expr) -> pl.Expr:
        com = commissioner.str.to_uppercase()
        nhse = list(self.inp.nhse)
        return (
            pl.when((admin == "02") | (com == "VPP00"))
            .then(pl.lit("private"))
            .when(com.is_in(nhse) | (com.str.slice(0, 3).is_in(nhse) & (com.str.len_chars() == 5)))
            .then(pl.lit("nhse"))
            .otherwise(pl.lit("icb"))
        )
