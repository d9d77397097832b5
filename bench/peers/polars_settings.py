"""Every setting's contacts costed, placed in a programme and totalled per person and year, for
the polars peer (:mod:`polars_peer`)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from polars_base import Base, c, coded, fy_of, r2
from reference import READS


class Settings(Base):
    """Each setting's rows, costed, placed and totalled per person, year, programme and funder."""

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
            pl.when(first).then(self.inp.default_cost[("op", "OPFA")]).otherwise(self.inp.default_cost[("op", "OPFUP")])
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
        t = self.read(dataset, [*columns, "cost"], (date_col,) if date_col != "arrival_time" else ())
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
        pod_cost = pl.when(is_bed).then(self.inp.pod_unit_cost["MHBD"]).otherwise(self.inp.pod_unit_cost["MHCC"])
        default = (
            pl.when(is_bed).then(self.inp.default_cost[("mh", "MHBD")]).otherwise(self.inp.default_cost[("mh", "MHCC")])
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
        return self.totals("prescribing", p, c.month, cost, year, c._sprog.fill_null(c._cprog).fill_null("other"))

    def social_care(self) -> pl.DataFrame:
        s = self.read("social_care", *READS["social_care"])
        end_of = self.w.end
        s = s.with_columns(
            _end=pl.when(c.end_date.is_null() | (c.end_date > end_of)).then(pl.lit(end_of)).otherwise(c.end_date)
        ).with_row_index("_i")
        s = s.with_columns(
            _end=pl.when(c.start_date.is_not_null() & (c._end < c.start_date)).then(c.start_date).otherwise(c._end)
        )
        fy = self.ref["ref_fy"].select("fy", "fy_start", "fy_end").lazy()
        j = s.join(fy, how="cross").filter((c.start_date <= c.fy_end) & (c._end >= c.fy_start))
        days = (
            (pl.min_horizontal(c._end, c.fy_end) - pl.max_horizontal(c.start_date, c.fy_start)).dt.total_days() + 1
        ).cast(pl.Float64)
        weekly = coded(
            c.service_type,
            {p: v for (st, p), v in self.inp.default_cost.items() if st == "social_care"},
            self.inp.default_cost[("social_care", "ASC")],
            pl.Float64,
        )
        ok = c.weekly_cost.is_not_null() & (c.weekly_cost >= 0)
        cost = r2(pl.when(ok).then(c.weekly_cost).otherwise(weekly) * days / 7)
        year = pl.when(ok).then(None).otherwise(pl.lit(self.inp.default_year["social_care"], pl.Int64))
        inside = self.totals(
            "social_care",
            j,
            pl.max_horizontal(c.start_date, c.fy_start),
            cost,
            year,
            pl.lit("social_care_needs"),
            fy=c.fy,
        )
        outside = s.join(j.select("_i").unique(), on="_i", how="anti")  # overlapping no year: cost 0
        out = self.totals("social_care", outside, c.start_date, pl.lit(0.0), None, pl.lit("social_care_needs"))
        return pl.concat([inside, out])
