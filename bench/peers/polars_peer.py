"""The polars script an analyst would write for phm's core outputs (a benchmark peer).

``python bench/peers/polars_peer.py SRC OUT``: the same outputs, rules and inputs as
:mod:`pandas_peer` (see its docstring), written with polars expressions and lazy frames.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from reference import (
    EPISODE_COLUMNS,
    EPISODE_DATES,
    OUTPUTS,
    READS,
    SETTINGS,
    SPELL_HEAD,
    Z95,
    Inputs,
    person_year_columns,
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


class Peer:
    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        self.w = inp.window
        self.extract = self.w.extract_date
        self.ref = {k: pl.from_arrow(v) for k, v in inp.refs.items()}
        self.ids: dict[str, int | None] = {}

    # ---- reading ----------------------------------------------------------------------
    def read(
        self, dataset: str, columns: list[str], activity_dates: tuple[str, ...] = ()
    ) -> pl.LazyFrame:
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
        return r2(cost.otherwise(d)), year.otherwise(
            pl.lit(self.inp.default_year[setting], pl.Int64)
        )

    def restated(self, cost: pl.Expr, year: pl.Expr, fy: pl.Expr) -> pl.Expr:
        levels = {y: self.inp.year_level(y) for y in self.w.years}
        bases = {y: lv for y, lv in self.inp.level.items() if lv is not None}
        level = coded(fy, levels, None, pl.Float64)
        base = coded(year, bases, None, pl.Float64)
        return (
            pl.when(year.is_null()).then(cost).otherwise(r2(cost * (level / base).fill_null(1.0)))
        )

    def apportion(self, pid: pl.Expr, day: pl.Expr) -> pl.Expr:
        days = (day - pl.lit(dt.date(2000, 1, 1))).dt.total_days().cast(pl.Int64).fill_null(0)
        p = pid.fill_null(0)
        # SQL's % keeps the dividend's sign; polars' follows the divisor: take |a| % m instead
        x = ((p.abs() % 99991) * 7919 + (days.abs() % 10007) * 104729) % 10000
        return x.cast(pl.Float64) / 10000.0

    def split(
        self, lf: pl.LazyFrame, key: pl.Expr, u: pl.Expr, ref: pl.DataFrame, prefix: str
    ) -> pl.LazyFrame:
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

    # ---- the person spine ---------------------------------------------------------------
    def person(self) -> pl.DataFrame:
        p = self.read("patients", *READS["patients"])
        p = p.with_columns(
            date_of_death=pl.when(c.date_of_death <= self.extract).then(c.date_of_death)
        )
        p = (
            p.filter(c.person_id.is_not_null())
            .sort("registration_start", descending=True, nulls_last=True, maintain_order=True)
            .unique("person_id", keep="first", maintain_order=True)
        )
        d = self.read("deaths", *READS["deaths"])
        d = d.filter(c.person_id.is_not_null()).group_by("person_id").agg(ons=c.date_of_death.min())
        p = p.join(d, on="person_id", how="left").with_columns(
            date_of_death=c.ons.fill_null(c.date_of_death)
        )
        return p.drop("ons").collect()

    # ---- admitted care --------------------------------------------------------------------
    def provider_spells(self) -> pl.DataFrame:
        e = self.read("apc_episodes", EPISODE_COLUMNS, EPISODE_DATES)
        key = ["provider_code", "spell_id"]
        e = (
            e.with_columns(
                episode_status=pl.when(c.episode_status.is_null() | (c.episode_status == ""))
                .then(pl.lit("3"))
                .otherwise(c.episode_status),
                administrative_category=c.administrative_category.str.zfill(2),
            )
            .filter(c.episode_status == "3")
            .sort(
                [*key, "episode_start", "episode_order", "episode_end", "episode_id"],
                nulls_last=True,
            )
            .with_row_index("_o")
        ).collect()
        heads = SPELL_HEAD
        s = e.group_by(key, maintain_order=True).agg(
            c.person_id.max(),
            *[c(h).first() for h in heads],
            admission_date=c.admission_date.min().fill_null(c.episode_start.min()),
            discharge_date=c.discharge_date.max(),
            discharge_destination=c.discharge_destination.last(),
        )
        ok = (
            c.discharge_date.is_not_null()
            & c.admission_date.is_not_null()
            & (c.discharge_date >= c.admission_date)
        )
        s = s.with_columns(discharge_date=pl.when(ok).then(c.discharge_date))
        los = (c.discharge_date - c.admission_date).dt.total_days()
        so_far = los.fill_null((pl.lit(self.extract) - c.admission_date).dt.total_days())
        el = c.admission_method.is_in(["11", "12", "13"])
        pod = (
            pl.when(c.patient_classification.is_in(["3", "4"]))
            .then(pl.lit("RDN"))
            .when(el & (c.patient_classification == "2"))
            .then(pl.lit("DC"))
            .when(el)
            .then(pl.lit("EL"))
            .when(c.admission_date.is_not_null() & (so_far <= 1))
            .then(pl.lit("NES"))
            .when(c.admission_date.is_null())
            .then(pl.lit("NES"))
            .otherwise(pl.lit("NEL"))
        )
        fy = fy_of(c.discharge_date.fill_null(c.admission_date))
        s = s.with_columns(
            los_days=los,
            pod=pod,
            funder=self.funder(c.administrative_category, c.commissioner_code),
            fy=fy,
        )
        s = s.with_columns(
            _level=coded(c.fy, {y: self.inp.year_level(y) for y in self.w.years}, None, pl.Float64)
        )
        # episode costs at the spell's point of delivery and price level
        ec = e.select(*key, "_o", "hrg_code", "cost").join(s.select(*key, "pod", "_level"), on=key)
        ec = ec.join(
            self.ref["ref_unit_cost"].rename({"currency_code": "hrg_code", "unit_cost": "_unit"}),
            on=["pod", "hrg_code"],
            how="left",
        )
        pod_cost = coded(
            c.pod,
            {p: self.inp.pod_unit_cost.get(p) for p in ("EL", "DC", "RDN", "NES", "NEL")},
            None,
            pl.Float64,
        )
        supplied = c.cost.is_not_null() & (c.cost >= 0)
        cost, year = self.priced(
            "apc",
            [
                (supplied, c.cost, "supplied"),
                (c._unit.is_not_null(), c._unit, "ncc_currency"),
                (pod_cost.is_not_null(), pod_cost, "ncc_pod"),
            ],
            self.inp.default_cost[("apc", "APC")],
        )
        base = coded(
            year, {y: lv for y, lv in self.inp.level.items() if lv is not None}, None, pl.Float64
        )
        ec = ec.with_columns(_c=cost, _y=year, _sup=supplied).with_columns(
            _c=pl.when(c._y.is_null())
            .then(c._c)
            .otherwise(r2(c._c * (c._level / base).fill_null(1.0)))
        )
        top = (
            ec.sort([*key, "_c", "_o"], descending=[False, False, True, False])
            .group_by(key)
            .agg(top_hrg=c.hrg_code.first())
        )
        cs = ec.group_by(key).agg(episode_cost=c._c.sum(), _supplied=c._sup.any())
        s = s.join(cs, on=key).join(top, on=key)
        tp = self.ref["ref_trim_point"].rename({"hrg_code": "top_hrg"})
        s = s.join(tp, on=["pod", "top_hrg"], how="left")
        days = (
            pl.when(c.trim_days.is_not_null() & c.los_days.is_not_null() & ~c._supplied)
            .then(pl.max_horizontal(c.los_days - c.trim_days, pl.lit(0)))
            .otherwise(0)
        )
        s = s.with_columns(
            _excess=r2(days * (c.per_day_cost.fill_null(0.0) * c._level.fill_null(1.0)))
        )
        return s.with_columns(
            cost=r2(c.episode_cost + c._excess),
            emergency=c.admission_method.is_in(EMERGENCY),
            activity_date=c.discharge_date.fill_null(c.admission_date),
        )

    def continuous_spells(self, s: pl.DataFrame) -> pl.DataFrame:
        order = ["admission_date", "discharge_date", "provider_code", "spell_id"]
        t = s.with_columns(
            _solo=c.patient_classification.is_in(["3", "4"]).fill_null(False)
            | c.person_id.is_null()
        ).sort(order, nulls_last=True)
        dis = c.discharge_date.fill_null(pl.lit(self.extract))
        dest = c.discharge_destination.fill_null("")
        tag = pl.concat_str(
            dis.dt.strftime("%Y%m%d"),
            pl.lit("|"),
            pl.when(dest.is_in(TRANSFER_DEST)).then(pl.lit("1")).otherwise(pl.lit("0")),
            pl.lit("|"),
            dest,
        )
        chain = t.filter(~c._solo).with_columns(_tag=tag)
        chain = chain.with_columns(_latest=c._tag.cum_max().shift(1).over("person_id"))
        latest_dis = c._latest.str.slice(0, 8).str.to_date("%Y%m%d")
        latest_dest = c._latest.str.slice(11)
        src, meth = c.admission_source, c.admission_method
        not_transfer = ((latest_dest == "19") & (src == "51") & (meth == "21")).fill_null(False)
        linked = (
            c._latest.is_not_null()
            & c.admission_date.is_not_null()
            & (c.admission_date <= latest_dis + pl.duration(days=2))
            & (
                latest_dest.is_in(TRANSFER_DEST)
                | src.is_in(["49", "50", "51", "52", "53", "87"]).fill_null(False)
                | meth.is_in(["2B", "81"]).fill_null(False)
            )
            & ~not_transfer
        ).fill_null(False)
        chain = chain.with_columns(_seq=(~linked).cast(pl.Int64).cum_sum().over("person_id"))
        chain = chain.with_columns(
            _cips=pl.concat_str(c.person_id.cast(pl.String), pl.lit("#"), c._seq.cast(pl.String))
        )
        solo = t.filter(c._solo).with_columns(
            _cips=pl.concat_str(c.provider_code, pl.lit(":"), c.spell_id)
        )
        allc = pl.concat([chain.drop("_tag", "_latest", "_seq"), solo], how="vertical").sort(
            order, nulls_last=True
        )
        out = allc.group_by("_cips").agg(
            first_provider=c.provider_code.first(),
            first_spell=c.spell_id.first(),
            person_id=c.person_id.first(),
            admission_date=c.admission_date.first(),
            emergency=c.emergency.first(),
            provider_spells=pl.len(),
            _dis=c.discharge_date.max(),
            _open=c.discharge_date.is_null().sum(),
            cost=c.cost.sum(),
        )
        discharge = pl.when(c._open == 0).then(c._dis)
        return out.select(
            cips_id=pl.concat_str(c.first_provider, pl.lit(":"), c.first_spell),
            person_id=c.person_id,
            admission_date=c.admission_date,
            discharge_date=discharge,
            provider_spells=c.provider_spells.cast(pl.Int64),
            emergency=c.emergency,
            cost=r2(c.cost),
            fy=fy_of(discharge.fill_null(c.admission_date)),
        )

    # ---- programme of care (admitted care) -----------------------------------------------
    @staticmethod
    def hes_icd10(code: pl.Expr) -> pl.Expr:
        x = (
            code.str.to_uppercase()
            .str.replace_all(".", "", literal=True)
            .str.replace_all(" ", "", literal=True)
        )
        x = x.str.slice(0, 4)
        return pl.when(x.str.len_chars() == 3).then(x + "X").otherwise(x)

    def apc_programme(self, s: pl.DataFrame) -> pl.DataFrame:
        icd = self.ref["ref_pb_icd10"]
        cat = self.ref["ref_pb_icd3"]
        s = s.with_columns(_code=self.hes_icd10(c.diag_01))
        s = s.join(
            icd.rename({"icd10": "_code", "pbc": "_xpbc", "programme": "_xprog"}),
            on="_code",
            how="left",
        )
        s = s.with_columns(_c3=c._code.str.slice(0, 3)).join(
            cat.rename({"icd3": "_c3", "pbc": "_cpbc", "programme": "_cprog"}), on="_c3", how="left"
        )
        held = c._xpbc.is_not_null()
        s = s.with_columns(
            _ppbc=pl.when(held).then(c._xpbc).otherwise(c._cpbc),
            _pprog=pl.when(held).then(c._xprog).otherwise(c._cprog),
            _bycat=~held & c._cprog.is_not_null(),
        )
        placed = icd.filter(c.programme.is_not_null())
        sec = pl.concat(
            [
                s.select(
                    "provider_code",
                    "spell_id",
                    _pos=pl.lit(i),
                    icd10=self.hes_icd10(c(f"diag_{i:02d}")),
                )
                for i in range(2, 21)
            ]
        )
        sec = (
            sec.join(placed, on="icd10")
            .sort("_pos")
            .group_by(["provider_code", "spell_id"])
            .agg(_spbc=c.pbc.first(), _sprog=c.programme.first())
        )
        s = s.join(sec, on=["provider_code", "spell_id"], how="left")
        tfc1 = (
            self.ref["ref_pb_tfc"]
            .filter(c.lo == 0)
            .select(treatment_function_code=c.tfc, _tpbc=c.pbc, _tprog=c.programme)
        )
        s = s.join(tfc1, on="treatment_function_code", how="left")
        primary, second = c._pprog.is_not_null(), c._sprog.is_not_null()
        by_tfc = c._tprog.is_not_null() & (c._tpbc != self.inp.other_pbc).fill_null(False)
        return s.with_columns(
            pbc=pl.when(primary)
            .then(c._ppbc)
            .when(second)
            .then(c._spbc)
            .when(by_tfc)
            .then(c._tpbc)
            .otherwise(pl.lit(self.inp.other_pbc)),
            programme=pl.when(primary)
            .then(c._pprog)
            .when(second)
            .then(c._sprog)
            .when(by_tfc)
            .then(c._tprog)
            .otherwise(pl.lit("other")),
            _rule=pl.when(primary & c._bycat)
            .then(pl.lit("icd10_category"))
            .when(primary)
            .then(pl.lit("icd10_primary_diagnosis"))
            .when(second)
            .then(pl.lit("icd10_secondary_diagnosis"))
            .when(by_tfc)
            .then(pl.lit("treatment_function"))
            .otherwise(pl.lit("unclassified")),
        )

    @staticmethod
    def inpatient_mix(s: pl.DataFrame) -> pl.DataFrame:
        a = s.filter(
            c.programme.is_not_null()
            & (c.programme != "other")
            & c.treatment_function_code.is_not_null()
            & c._rule.is_in(
                ["icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis"]
            )
        )
        g = (
            a.group_by(["treatment_function_code", "pbc", "programme"])
            .agg(_c=c.cost.sum())
            .with_columns(_c=c._c.fill_null(0.0) + 0.01)
            .sort(["treatment_function_code", "pbc"])
        )
        g = g.with_columns(
            _cum=c._c.cum_sum().over("treatment_function_code"),
            _tot=c._c.sum().over("treatment_function_code"),
            _last=c.pbc == c.pbc.last().over("treatment_function_code"),
        )
        return g.select(
            tfc=c.treatment_function_code,
            pbc=c.pbc,
            programme=c.programme,
            lo=(c._cum - c._c) / c._tot,
            hi=pl.when(c._last).then(2.0).otherwise(c._cum / c._tot),
        )

    # ---- every setting's costed rows, linked and totalled ----------------------------------
    def totals(
        self,
        setting: str,
        lf: pl.LazyFrame,
        date: pl.Expr,
        cost: pl.Expr,
        year: pl.Expr | None,
        programme: pl.Expr,
        funder: pl.Expr | None = None,
        fy: pl.Expr | None = None,
    ) -> pl.DataFrame:
        fy = fy_of(date) if fy is None else fy
        lf = lf.with_columns(_date=date, _fy=fy)
        lf = lf.with_columns(_cost=cost if year is None else self.restated(cost, year, c._fy))
        lf = lf.join(self.spine.lazy(), on="person_id", how="semi").filter(
            c._date.is_not_null() & (c._fy >= self.w.first) & (c._fy <= self.w.last)
        )
        return (
            lf.group_by(
                [
                    "person_id",
                    c._fy.alias("fy"),
                    programme.alias("programme"),
                    (funder if funder is not None else pl.lit("icb")).alias("funder"),
                ]
            )
            .agg(n=pl.len(), cost=c._cost.sum())
            .with_columns(setting=pl.lit(setting))
            .collect()
        )

    def op(self, mix: pl.DataFrame) -> pl.DataFrame:
        o = self.read("op_attendances", *READS["op_attendances"])
        o = o.join(
            self.unit_table("OPPROC").rename({"currency_code": "hrg_code", "unit_cost": "_unit"}),
            on="hrg_code",
            how="left",
        )
        u = self.apportion(c.person_id, c.appointment_date)
        o = self.split(o, c.treatment_function_code, u, self.ref["ref_pb_tfc"], "_t")
        o = self.split(o, c.treatment_function_code, u, mix, "_m")
        generic = (c._tpbc == self.inp.other_pbc).fill_null(False) & c._mpbc.is_not_null()
        first = c.first_attendance.is_in(["1", "3"]).fill_null(False)
        default = (
            pl.when(first)
            .then(self.inp.default_cost[("op", "OPFA")])
            .otherwise(self.inp.default_cost[("op", "OPFUP")])
        )
        att = c.attendance_status.is_in(["5", "6"]).fill_null(False)
        cost, year = self.priced(
            "op",
            [
                (c.cost.is_not_null() & (c.cost >= 0), c.cost, "supplied"),
                (~att, 0.0, "not_attended"),
                (c._unit.is_not_null(), c._unit, "ncc_currency"),
            ],
            default,
        )
        prog = pl.when(generic).then(c._mprog).otherwise(c._tprog.fill_null("other"))
        return self.totals("op", o, c.appointment_date, cost, year, prog)

    def simple(
        self,
        setting: str,
        dataset: str,
        date_col: str,
        currency: str,
        pod: str,
        prog_ref: str,
        prog_key: str,
        other: str,
        columns: list[str],
    ) -> pl.DataFrame:
        """ECDS and community: one unit cost by currency, the point of delivery's average, a default."""
        t = self.read(
            dataset, [*columns, "cost"], (date_col,) if date_col != "arrival_time" else ()
        )
        t = t.join(
            self.unit_table(pod).rename({"currency_code": currency, "unit_cost": "_unit"}),
            on=currency,
            how="left",
        )
        ref = self.ref[prog_ref]
        t = t.join(
            ref.select(c(ref.columns[0]).alias(prog_key), _prog=c.programme).lazy(),
            on=prog_key,
            how="left",
        )
        pod_cost = self.inp.pod_unit_cost.get(pod)
        tiers = [
            (c.cost.is_not_null() & (c.cost >= 0), c.cost, "supplied"),
            (c._unit.is_not_null(), c._unit, "ncc_currency"),
        ]
        if pod_cost is not None:
            tiers.append((pl.lit(True), pod_cost, "ncc_pod"))
        cost, year = self.priced(setting, tiers, self.inp.default_cost[(setting, pod)])
        date = c(date_col)
        if date_col == "arrival_time":
            date = c.arrival_time.dt.date()
            date = pl.when(date > self.extract).then(None).otherwise(date)
        return self.totals(setting, t, date, cost, year, c._prog.fill_null(other))

    def mh(self) -> pl.DataFrame:
        m = self.read("mh_contacts", *READS["mh_contacts"])
        bed = c.inpatient.fill_null(False) | (c.contact_type == "bed_day").fill_null(False)
        ward = (
            pl.when(c.team_type.str.contains(r"^[0-9]{3}MHPS$").fill_null(False))
            .then(c.team_type)
            .otherwise(pl.lit("999MHPS"))
        )
        m = m.with_columns(
            pod=pl.when(bed).then(pl.lit("MHBD")).otherwise(pl.lit("MHCC")),
            currency_code=pl.when(bed).then(ward).otherwise(c.team_type),
        )
        m = m.join(
            self.unit_table().rename({"unit_cost": "_unit"}),
            on=["pod", "currency_code"],
            how="left",
        )
        mh = self.ref["ref_programme_mh"].select(team_type=c.team, _prog=c.programme)
        m = m.join(mh.lazy(), on="team_type", how="left")
        is_bed = c.pod == "MHBD"
        pod_cost = (
            pl.when(is_bed)
            .then(self.inp.pod_unit_cost["MHBD"])
            .otherwise(self.inp.pod_unit_cost["MHCC"])
        )
        default = (
            pl.when(is_bed)
            .then(self.inp.default_cost[("mh", "MHBD")])
            .otherwise(self.inp.default_cost[("mh", "MHCC")])
        )
        cost, year = self.priced(
            "mh",
            [
                (c.cost.is_not_null() & (c.cost >= 0), c.cost, "supplied"),
                (c._unit.is_not_null(), c._unit, "ncc_currency"),
                (pod_cost.is_not_null(), pod_cost, "ncc_pod"),
            ],
            default,
        )
        return self.totals("mh", m, c.contact_date, cost, year, c._prog.fill_null("mental_health"))

    def gp(self) -> pl.DataFrame:
        g = self.read("gp_appointments", *READS["gp_appointments"])
        staff = (
            pl.when(c.hcp_type.str.to_uppercase() == "GP")
            .then(pl.lit("GP"))
            .when(c.hcp_type.str.to_lowercase().is_in(["other practice staff", "other"]))
            .then(pl.lit("OPS"))
        )
        how = coded(
            c.appointment_mode.str.to_lowercase(),
            {
                "face-to-face": "F2F",
                "telephone": "REMOTE",
                "video conference/online": "REMOTE",
                "video": "REMOTE",
                "home visit": "HOME",
            },
            None,
            pl.String,
        )
        units = {p: cost for (s, p), cost in self.inp.default_cost.items() if s == "gp"}
        unit = coded(pl.concat_str(staff, pl.lit("_"), how), units, units["GPAPPT"], pl.Float64)
        att = (c.appointment_status != "DNA").fill_null(True)
        cost, year = self.priced("gp", [(~att, 0.0, "not_attended")], unit)
        return self.totals("gp", g, c.appointment_date, cost, year, pl.lit("other"))

    def prescribing(self) -> pl.DataFrame:
        p = self.read("prescriptions", *READS["prescriptions"])
        p = self.split(
            p,
            c.bnf_code.str.slice(0, 9),
            self.apportion(c.person_id, c.month),
            self.ref["ref_pb_bnf"],
            "_s",
        )
        ch = self.ref["ref_pb_bnf_chapter"].select(_ch=c.bnf_prefix, _cprog=c.programme)
        p = p.with_columns(_ch=c.bnf_code.str.slice(0, 2)).join(ch.lazy(), on="_ch", how="left")
        nic = c.net_ingredient_cost
        cost, year = self.priced(
            "prescribing",
            [(nic.is_not_null() & (nic >= 0), nic, "supplied")],
            self.inp.default_cost[("prescribing", "RX")] * c("items").cast(pl.Float64),
        )
        return self.totals(
            "prescribing", p, c.month, cost, year, c._sprog.fill_null(c._cprog).fill_null("other")
        )

    def social_care(self) -> pl.DataFrame:
        s = self.read("social_care", *READS["social_care"])
        end_of = self.w.end
        s = s.with_columns(
            _end=pl.when(c.end_date.is_null() | (c.end_date > end_of))
            .then(pl.lit(end_of))
            .otherwise(c.end_date)
        ).with_row_index("_i")
        s = s.with_columns(
            _end=pl.when(c.start_date.is_not_null() & (c._end < c.start_date))
            .then(c.start_date)
            .otherwise(c._end)
        )
        fy = self.ref["ref_fy"].select("fy", "fy_start", "fy_end").lazy()
        j = s.join(fy, how="cross").filter((c.start_date <= c.fy_end) & (c._end >= c.fy_start))
        days = (
            (
                pl.min_horizontal(c._end, c.fy_end) - pl.max_horizontal(c.start_date, c.fy_start)
            ).dt.total_days()
            + 1
        ).cast(pl.Float64)
        weekly = coded(
            c.service_type,
            {p: v for (st, p), v in self.inp.default_cost.items() if st == "social_care"},
            self.inp.default_cost[("social_care", "ASC")],
            pl.Float64,
        )
        ok = c.weekly_cost.is_not_null() & (c.weekly_cost >= 0)
        cost = r2(pl.when(ok).then(c.weekly_cost).otherwise(weekly) * days / 7)
        year = (
            pl.when(ok).then(None).otherwise(pl.lit(self.inp.default_year["social_care"], pl.Int64))
        )
        inside = self.totals(
            "social_care",
            j,
            pl.max_horizontal(c.start_date, c.fy_start),
            cost,
            year,
            pl.lit("social_care_needs"),
            fy=c.fy,
        )
        outside = s.join(
            j.select("_i").unique(), on="_i", how="anti"
        )  # overlapping no year: cost 0
        out = self.totals(
            "social_care", outside, c.start_date, pl.lit(0.0), None, pl.lit("social_care_needs")
        )
        return pl.concat([inside, out])

    # ---- person x financial year ------------------------------------------------------------
    def person_year(
        self, person: pl.DataFrame, totals: pl.DataFrame, cips: pl.DataFrame
    ) -> pl.DataFrame:
        fy = self.ref["ref_fy"].select("fy", "fy_start", "fy_end")
        base = person.select(
            "person_id", "registration_start", "registration_end", "date_of_death"
        ).join(fy, how="cross")
        start = pl.max_horizontal(c.registration_start.fill_null(c.fy_start), c.fy_start)
        stop = pl.min_horizontal(
            c.registration_end.fill_null(c.fy_end), c.date_of_death.fill_null(c.fy_end), c.fy_end
        )
        base = base.select(
            "person_id",
            "fy",
            exposure_days=pl.max_horizontal((stop - start).dt.total_days() + 1, pl.lit(0)).cast(
                pl.Int64
            ),
        )
        icb = c.funder == "icb"
        aggs = [c.n.filter(c.setting == s).sum().alias(f"n_{s}") for s in SETTINGS]
        aggs += [c.cost.filter(icb & (c.setting == s)).sum().alias(f"cost_{s}") for s in SETTINGS]
        aggs += [
            c.cost.filter(icb & (c.programme == p)).sum().alias(f"cost_prog_{p}")
            for p in self.inp.programmes
        ]
        aggs += [
            c.cost.filter(icb).sum().alias("cost_total"),
            c.cost.filter(c.funder == "nhse").sum().alias("cost_nhse"),
            c.cost.filter(c.funder == "private").sum().alias("cost_private"),
            pl.lit(True).alias("_any"),
        ]
        acts = totals.group_by(["person_id", "fy"]).agg(aggs)
        em = (
            cips.filter(c.person_id.is_not_null())
            .group_by(["person_id", "fy"])
            .agg(emergency_admissions=c.emergency.sum().cast(pl.Int64))
        )
        py = base.join(acts, on=["person_id", "fy"], how="left").filter(
            (c.exposure_days > 0) | c._any.is_not_null()
        )
        py = py.join(em, on=["person_id", "fy"], how="left")
        cols = person_year_columns()
        return py.select(
            *[
                r2(c(x).fill_null(0.0))
                if x.startswith("cost_")
                else c(x).fill_null(0).cast(pl.Int64)
                if x.startswith("n_") or x == "emergency_admissions"
                else c(x)
                for x in cols
            ]
        )

    # ---- registers and prevalence -----------------------------------------------------------
    def prevalence(self, person: pl.DataFrame, py: pl.DataFrame) -> pl.DataFrame:
        last = self.w.last
        fy_end = self.ref["ref_fy"].filter(c.fy == last)["fy_end"][0]
        p = person.with_columns(
            last_day=pl.min_horizontal(
                c.registration_end.fill_null(fy_end),
                c.date_of_death.fill_null(fy_end),
                pl.lit(fy_end),
            )
        )
        codes = self.ref["ref_register_code"]
        ev = self.read("gp_events", ["event_date", "snomed_code"]).filter(
            c.person_id.is_not_null() & c.event_date.is_not_null() & (c.event_date <= fy_end)
        )
        ev = (
            ev.join(codes.lazy(), on="snomed_code")
            .group_by(["person_id", "register"])
            .agg(
                last_dx=c.event_date.filter(c.role == "diagnosis").max(),
                last_resolved=c.event_date.filter(c.role == "resolved").max(),
            )
            .collect()
        )
        bnf = self.ref["ref_register_bnf"]
        n = bnf["prefix_length"].min()
        rx = (
            self.read("prescriptions", ["month", "bnf_code"])
            .filter(
                c.person_id.is_not_null()
                & c.bnf_code.str.slice(0, n).is_in(bnf["prefix"].str.slice(0, n).unique().to_list())
                & c.month.is_not_null()
            )
            .collect()
        )
        hits = [
            rx.with_columns(prefix=c.bnf_code.str.slice(0, length)).join(ref, on="prefix")
            for (length,), ref in bnf.group_by(["prefix_length"])
        ]
        rx = pl.concat(hits).join(p.select("person_id", "last_day"), on="person_id")
        treated = rx.filter(
            (c.month <= c.last_day) & ((c.month - c.last_day).dt.total_days() > -c.treatment_days)
        )
        treated = (
            treated.select("person_id", "register").unique().with_columns(treated=pl.lit(True))
        )
        defs = self.inp.registers
        st = ev.join(treated, on=["person_id", "register"], how="full", coalesce=True).with_columns(
            treated=c.treated.fill_null(False)
        )
        mode = coded(c.register, {r: d["treatment"] for r, d in defs.items()}, None, pl.String)
        frm = coded(
            c.register,
            {
                r: dt.date.fromisoformat(d["diagnosed_from"]) if d["diagnosed_from"] else None
                for r, d in defs.items()
            },
            None,
            pl.Date,
        )
        diagnosed = (
            c.last_dx.is_not_null()
            & (c.last_resolved.is_null() | (c.last_dx >= c.last_resolved))
            & (frm.is_null() | (c.last_dx >= frm))
        )
        st = st.with_columns(
            on=pl.when(mode == "required")
            .then(diagnosed & c.treated)
            .when(mode == "or")
            .then(diagnosed | c.treated)
            .otherwise(diagnosed)
        )
        dob = c.date_of_birth
        age = (
            fy_end.year
            - dob.dt.year()
            - (
                (dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day())
                > fy_end.month * 100 + fy_end.day
            ).cast(pl.Int32)
        )
        y = (
            py.filter((c.fy == last) & (c.exposure_days > 0))
            .select("person_id")
            .join(person.select("person_id", "practice_code", age=age), on="person_id", how="left")
        )
        parts = []
        for cond in self.inp.conditions:
            floor = int(defs[cond]["min_age"])
            on = st.filter((c.register == cond) & c.on).select("person_id", _on=pl.lit(True))
            eligible = c.age.is_not_null() & (pl.max_horizontal(c.age, pl.lit(0)) >= floor)
            g = (
                y.join(on, on="person_id", how="left")
                .group_by("practice_code")
                .agg(
                    denominator=eligible.sum().cast(pl.Int64),
                    register=(eligible & c._on.fill_null(False)).sum().cast(pl.Int64),
                )
                .filter(c.denominator > 0)
                .with_columns(condition=pl.lit(cond))
            )
            parts.append(g)
        prev = pl.concat(parts)
        x, nn = c.register.cast(pl.Float64), c.denominator.cast(pl.Float64)
        root = Z95 * (Z95 * Z95 + 4.0 * x * (1.0 - x / nn)).sqrt()
        return prev.with_columns(
            prevalence=x / nn,
            lower=(2.0 * x + Z95 * Z95 - root) / (2.0 * (nn + Z95 * Z95)),
            upper=(2.0 * x + Z95 * Z95 + root) / (2.0 * (nn + Z95 * Z95)),
        )

    # ---- the whole run -------------------------------------------------------------------------
    def run(self, out: Path) -> None:
        person = self.person()
        self.spine = person.select("person_id")
        spells = self.apc_programme(self.provider_spells())
        cips = self.continuous_spells(spells)
        apc = self.totals(
            "apc", spells.lazy(), c.activity_date, c.cost, None, c.programme, c.funder, fy=c.fy
        )
        parts = [
            apc,
            self.op(self.inpatient_mix(spells)),
            self.simple(
                "ecds",
                "ecds_attendances",
                "arrival_time",
                "hrg_code",
                "AE",
                "ref_pb_ecds",
                "diagnosis_snomed",
                "other",
                ["arrival_time", "diagnosis_snomed", "hrg_code"],
            ),
            self.simple(
                "community",
                "community_contacts",
                "contact_date",
                "service_type",
                "CHS",
                "ref_programme_community",
                "service_type",
                "other",
                ["contact_date", "service_type"],
            ),
            self.mh(),
            self.gp(),
            self.prescribing(),
            self.social_care(),
        ]
        totals = pl.concat(
            [
                t.select("person_id", "fy", "programme", "funder", "setting", "n", "cost")
                for t in parts
            ]
        )
        py = self.person_year(person, totals, cips)
        prev = self.prevalence(person, py)
        out.mkdir(parents=True, exist_ok=True)
        frames = {
            "person": person.select(OUTPUTS["person"]),
            "spells": cips.select(OUTPUTS["spells"]),
            "person_year": py,
            "prevalence": prev.select(OUTPUTS["prevalence"]),
        }
        for name, df in frames.items():
            df.write_parquet(out / f"{name}.parquet")


def main() -> None:
    Peer(Inputs(Path(sys.argv[1]))).run(Path(sys.argv[2]))


if __name__ == "__main__":
    main()
