"""The polars script an analyst would write for phm's core outputs (a benchmark peer).

``python bench/peers/polars_peer.py SRC OUT``: the same outputs, rules and inputs as
:mod:`pandas_peer` (see its docstring), written with polars expressions and lazy frames.
"""

import datetime as dt
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from polars_base import EMERGENCY, TRANSFER_DEST, c, coded, fy_of, r2
from polars_settings import Settings
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


class Peer(Settings):
    """The spine, spells, person-years and prevalence, and the whole run."""

    # ---- the person spine ---------------------------------------------------------------
    def person(self) -> pl.DataFrame:
        p = self.read("patients", *READS["patients"])
        p = p.with_columns(date_of_death=pl.when(c.date_of_death <= self.extract).then(c.date_of_death))
        p = (
            p.filter(c.person_id.is_not_null())
            .sort("registration_start", descending=True, nulls_last=True, maintain_order=True)
            .unique("person_id", keep="first", maintain_order=True)
        )
        d = self.read("deaths", *READS["deaths"])
        d = d.filter(c.person_id.is_not_null()).group_by("person_id").agg(ons=c.date_of_death.min())
        p = p.join(d, on="person_id", how="left").with_columns(date_of_death=c.ons.fill_null(c.date_of_death))
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
        ok = c.discharge_date.is_not_null() & c.admission_date.is_not_null() & (c.discharge_date >= c.admission_date)
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
        s = s.with_columns(_level=coded(c.fy, {y: self.inp.year_level(y) for y in self.w.years}, None, pl.Float64))
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
        base = coded(year, {y: lv for y, lv in self.inp.level.items() if lv is not None}, None, pl.Float64)
        ec = ec.with_columns(_c=cost, _y=year, _sup=supplied).with_columns(
            _c=pl.when(c._y.is_null()).then(c._c).otherwise(r2(c._c * (c._level / base).fill_null(1.0)))
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
        s = s.with_columns(_excess=r2(days * (c.per_day_cost.fill_null(0.0) * c._level.fill_null(1.0))))
        return s.with_columns(
            cost=r2(c.episode_cost + c._excess),
            emergency=c.admission_method.is_in(EMERGENCY),
            activity_date=c.discharge_date.fill_null(c.admission_date),
        )

    def continuous_spells(self, s: pl.DataFrame) -> pl.DataFrame:
        order = ["admission_date", "discharge_date", "provider_code", "spell_id"]
        t = s.with_columns(
            _solo=c.patient_classification.is_in(["3", "4"]).fill_null(False) | c.person_id.is_null()
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
        solo = t.filter(c._solo).with_columns(_cips=pl.concat_str(c.provider_code, pl.lit(":"), c.spell_id))
        allc = pl.concat([chain.drop("_tag", "_latest", "_seq"), solo], how="vertical").sort(order, nulls_last=True)
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
        x = code.str.to_uppercase().str.replace_all(".", "", literal=True).str.replace_all(" ", "", literal=True)
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
            & c._rule.is_in(["icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis"])
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

    # ---- person x financial year ------------------------------------------------------------
    def person_year(self, person: pl.DataFrame, totals: pl.DataFrame, cips: pl.DataFrame) -> pl.DataFrame:
        fy = self.ref["ref_fy"].select("fy", "fy_start", "fy_end")
        base = person.select("person_id", "registration_start", "registration_end", "date_of_death").join(
            fy, how="cross"
        )
        start = pl.max_horizontal(c.registration_start.fill_null(c.fy_start), c.fy_start)
        stop = pl.min_horizontal(c.registration_end.fill_null(c.fy_end), c.date_of_death.fill_null(c.fy_end), c.fy_end)
        base = base.select(
            "person_id",
            "fy",
            exposure_days=pl.max_horizontal((stop - start).dt.total_days() + 1, pl.lit(0)).cast(pl.Int64),
        )
        icb = c.funder == "icb"
        aggs = [c.n.filter(c.setting == s).sum().alias(f"n_{s}") for s in SETTINGS]
        aggs += [c.cost.filter(icb & (c.setting == s)).sum().alias(f"cost_{s}") for s in SETTINGS]
        aggs += [c.cost.filter(icb & (c.programme == p)).sum().alias(f"cost_prog_{p}") for p in self.inp.programmes]
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
        py = base.join(acts, on=["person_id", "fy"], how="left").filter((c.exposure_days > 0) | c._any.is_not_null())
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
        treated = rx.filter((c.month <= c.last_day) & ((c.month - c.last_day).dt.total_days() > -c.treatment_days))
        treated = treated.select("person_id", "register").unique().with_columns(treated=pl.lit(True))
        defs = self.inp.registers
        st = ev.join(treated, on=["person_id", "register"], how="full", coalesce=True).with_columns(
            treated=c.treated.fill_null(False)
        )
        mode = coded(c.register, {r: d["treatment"] for r, d in defs.items()}, None, pl.String)
        frm = coded(
            c.register,
            {r: dt.date.fromisoformat(d["diagnosed_from"]) if d["diagnosed_from"] else None for r, d in defs.items()},
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
            - ((dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day()) > fy_end.month * 100 + fy_end.day).cast(pl.Int32)
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
        apc = self.totals("apc", spells.lazy(), c.activity_date, c.cost, None, c.programme, c.funder, fy=c.fy)
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
        totals = pl.concat([t.select("person_id", "fy", "programme", "funder", "setting", "n", "cost") for t in parts])
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
