"""The pandas script an analyst would write for phm's core outputs (a benchmark peer).

``python bench/peers/pandas_peer.py SRC OUT`` reads the parquet extracts of a defect-free
synthetic ICB from SRC and writes :data:`reference.OUTPUTS` to OUT: the person spine,
continuous inpatient spells, every contact costed (same unit costs and precedence as
:mod:`phm.model.costing`) and placed in a programme of care, person x financial year counts
and costs by setting and programme, and practice prevalence with Wilson limits. The rules are
phm's (the module docstrings of :mod:`phm.model` cite their sources); the code is plain,
vectorised pandas. It needs ``PHM_PSEUDO_KEY`` (the apportioning of split programmes is keyed
on the pseudonym, as phm's is). Only :mod:`reference` (lookup tables) comes from phm.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from pandas_base import DAY, NULL, fy_of, r2
from pandas_settings import Settings
from reference import EPISODE_COLUMNS, EPISODE_DATES, OUTPUTS, READS, SPELL_HEAD, Z95, Inputs, person_year_columns


class Peer(Settings):
    """The spine, spells, person-years and prevalence, and the whole run."""

    # ---- the person spine ---------------------------------------------------------------
    def person(self) -> pd.DataFrame:
        p = self.read("patients", *READS["patients"])
        p["date_of_death"] = p.date_of_death.where(p.date_of_death <= self.extract)
        p = p[p.person_id != NULL].sort_values("registration_start", ascending=False, kind="stable")
        p = p.drop_duplicates("person_id")
        d = self.read("deaths", *READS["deaths"])
        d = d[(d.person_id != NULL) & d.date_of_death.notna()].groupby("person_id").date_of_death.min()
        p["date_of_death"] = p.person_id.map(d).fillna(p.date_of_death)
        return p.reset_index(drop=True)

    # ---- admitted care: provider spells, costs, continuous inpatient spells -------------
    def provider_spells(self) -> pd.DataFrame:
        e = self.read("apc_episodes", EPISODE_COLUMNS, EPISODE_DATES)
        e["episode_status"] = e.episode_status.replace("", None).fillna("3")
        e["administrative_category"] = e.administrative_category.str.zfill(2)
        e = e[e.episode_status == "3"]
        key = ["provider_code", "spell_id"]
        e = e.sort_values(
            [*key, "episode_start", "episode_order", "episode_end", "episode_id"],
            na_position="last",
            kind="stable",
        )
        e["_o"] = np.arange(len(e))  # the methodology's episode order within each spell
        g = e.groupby(key, sort=False)
        s = g.agg(
            person_id=("person_id", "max"),
            _adm=("admission_date", "min"),
            _start=("episode_start", "min"),
            discharge_date=("discharge_date", "max"),
            episodes=("episode_id", "size"),
        )
        s["admission_date"] = s._adm.fillna(s._start)
        head = g.head(1).set_index(key)
        for c in SPELL_HEAD:
            s[c] = head[c]
        s["primary_diagnosis"] = head.diag_01
        s["discharge_destination"] = g.tail(1).set_index(key).discharge_destination  # the last episode's
        s = s.reset_index()
        ok = s.discharge_date.notna() & s.admission_date.notna() & (s.discharge_date >= s.admission_date)
        s["discharge_date"] = s.discharge_date.where(ok)
        los = (s.discharge_date - s.admission_date) / DAY
        so_far = los.fillna((self.extract - s.admission_date) / DAY)
        el = s.admission_method.isin(("11", "12", "13"))
        s["los_days"] = los
        s["pod"] = np.select(
            [
                s.patient_classification.isin(("3", "4")),
                el & (s.patient_classification == "2"),
                el,
                s.admission_date.notna() & (so_far <= 1),
                s.admission_date.isna(),
            ],
            ["RDN", "DC", "EL", "NES", "NES"],
            "NEL",
        )
        s["funder"] = self.funder(s.administrative_category, s.commissioner_code)
        s["fy"] = fy_of(s.discharge_date.fillna(s.admission_date))
        s["_level"] = self.year_level(s.fy)
        # episode costs, at the spell's point of delivery and price level
        ec = e[[*key, "_o", "hrg_code", "cost"]].merge(s[[*key, "pod", "fy", "_level"]], on=key)
        unit = self.unit(ec.pod, ec.hrg_code)
        pod_cost = ec.pod.map({p: self.inp.pod_unit_cost.get(p) for p in ("EL", "DC", "RDN", "NES", "NEL")})
        supplied = ec.cost.notna() & (ec.cost >= 0)
        ec["source"] = np.select(
            [supplied, unit.notna(), pod_cost.notna()],
            ["supplied", "ncc_currency", "ncc_pod"],
            "default",
        )
        cost = r2(
            np.select(
                [supplied, unit.notna(), pod_cost.notna()],
                [ec.cost, unit, pod_cost],
                self.inp.default_cost[("apc", "APC")],
            )
        )
        year = ec.source.map(
            {
                "ncc_currency": self.inp.ncc_year,
                "ncc_pod": self.inp.ncc_year,
                "default": self.inp.default_year["apc"],
            }
        )
        fac = (ec._level / year.map(self.inp.level)).fillna(1.0)
        ec["c"] = np.where(year.isna(), cost, r2(cost * fac))
        top = ec.sort_values([*key, "c", "_o"], ascending=[True, True, False, True], kind="stable")
        top = top.drop_duplicates(key)[[*key, "hrg_code"]]
        cs = ec.groupby(key, sort=False).agg(episode_cost=("c", "sum"))
        cs["_supplied"] = (ec.source == "supplied").groupby([ec.provider_code, ec.spell_id], sort=False).any()
        s = s.merge(cs.reset_index(), on=key).merge(top, on=key)
        tp = self.ref["ref_trim_point"].set_index(["pod", "hrg_code"])
        idx = pd.MultiIndex.from_arrays([s.pod, s.hrg_code])
        trim = pd.Series(tp.trim_days.reindex(idx).to_numpy(), index=s.index)
        per_day = pd.Series(tp.per_day_cost.reindex(idx).to_numpy(), index=s.index).fillna(0.0)
        days = np.where(trim.notna() & s.los_days.notna() & ~s._supplied, np.maximum(s.los_days - trim, 0), 0)
        s["excess_bed_day_cost"] = r2(days * (per_day * s._level.fillna(1.0)))
        s["cost"] = r2(s.episode_cost + s.excess_bed_day_cost)
        s["emergency"] = s.admission_method.isin(("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"))
        s["activity_date"] = s.discharge_date.fillna(s.admission_date)
        return s

    def continuous_spells(self, s: pd.DataFrame) -> pd.DataFrame:
        ra = s.patient_classification.isin(("3", "4"))
        solo = ra | (s.person_id == NULL)
        t = s.assign(_solo=solo).sort_values(
            ["admission_date", "discharge_date", "provider_code", "spell_id"],
            na_position="last",
            kind="stable",
        )
        chain = t[~t._solo].copy()
        dis = chain.discharge_date.fillna(self.extract)
        dest = chain.discharge_destination.fillna("")
        transfer_dest = ("49", "50", "51", "52", "53", "84")
        # the latest discharge so far, a transfer out winning a tie: one sortable number
        dests = sorted(dest.unique())
        rank = dest.map({d: i for i, d in enumerate(dests)})
        tag = (
            ((dis - pd.Timestamp("1900-01-01")) / DAY).astype("int64") * (2 * len(dests))
            + dest.isin(transfer_dest) * len(dests)
            + rank
        )
        g = chain.person_id
        prev = tag.groupby(g).cummax().groupby(g).shift(1)
        has = prev.notna()
        prevv = prev.fillna(0).astype("int64")
        latest_dis = pd.Timestamp("1900-01-01") + pd.to_timedelta(prevv // (2 * len(dests)), unit="D")
        latest_dest = pd.Series(np.array(dests, dtype=object)[prevv % len(dests)], index=chain.index)
        src, meth = chain.admission_source, chain.admission_method
        not_transfer = (latest_dest == "19") & (src == "51") & (meth == "21")
        linked = (
            has
            & chain.admission_date.notna()
            & (chain.admission_date <= latest_dis + 2 * DAY)
            & (
                latest_dest.isin(transfer_dest)
                | src.isin(("49", "50", "51", "52", "53", "87"))
                | meth.isin(("2B", "81"))
            )
            & ~not_transfer
        )
        seq = (~linked).astype("int64").groupby(g).cumsum()
        t["_cips"] = t.provider_code + ":" + t.spell_id
        t.loc[chain.index, "_cips"] = chain.person_id.astype(str) + "#" + seq.astype(str)
        first = t.drop_duplicates("_cips").set_index("_cips")
        agg = (
            t.assign(_open=t.discharge_date.isna())
            .groupby("_cips")
            .agg(
                provider_spells=("spell_id", "size"),
                discharge_date=("discharge_date", "max"),
                open_spells=("_open", "sum"),
                cost=("cost", "sum"),
            )
        )
        out = first[["provider_code", "spell_id", "person_id", "admission_date", "emergency"]].join(agg)
        discharge = out.discharge_date.where(out.open_spells == 0)
        out = pd.DataFrame(
            {
                "cips_id": out.provider_code + ":" + out.spell_id,
                "person_id": out.person_id,
                "admission_date": out.admission_date,
                "discharge_date": discharge,
                "provider_spells": out.provider_spells,
                "emergency": out.emergency,
                "cost": r2(out.cost),
                "fy": fy_of(discharge.fillna(out.admission_date)),
            }
        )
        return out.reset_index(drop=True)

    # ---- programme of care (admitted care) -----------------------------------------------
    @staticmethod
    def hes_icd10(code: pd.Series) -> pd.Series:
        c = code.str.upper().str.replace(".", "", regex=False).str.replace(" ", "", regex=False).str[:4]
        return c.where(c.str.len() != 3, c + "X")

    def apc_programme(self, s: pd.DataFrame) -> pd.DataFrame:
        icd = self.ref["ref_pb_icd10"].set_index("icd10")
        cat = self.ref["ref_pb_icd3"].set_index("icd3")
        code = self.hes_icd10(s.primary_diagnosis)
        held = code.isin(icd.index)
        ppbc = code.map(icd.pbc).where(held, code.str[:3].map(cat.pbc))
        pprog = code.map(icd.programme).where(held, code.str[:3].map(cat.programme))
        by_category = ~held & code.str[:3].map(cat.programme).notna()
        # the first secondary diagnosis the sheet places
        placed = icd[icd.programme.notna()]
        spbc = pd.Series(None, index=s.index, dtype=object)
        sprog = pd.Series(None, index=s.index, dtype=object)
        for i in range(2, 21):
            c = self.hes_icd10(s[f"diag_{i:02d}"])
            todo = sprog.isna() & c.isin(placed.index)
            spbc[todo] = c[todo].map(placed.pbc)
            sprog[todo] = c[todo].map(placed.programme)
        tfc = self.ref["ref_pb_tfc"]
        tfc1 = tfc[tfc.lo == 0].set_index("tfc")
        tpbc = s.treatment_function_code.map(tfc1.pbc)
        tprog = s.treatment_function_code.map(tfc1.programme)
        primary, second = pprog.notna(), sprog.notna()
        by_tfc = tprog.notna() & (tpbc != self.inp.other_pbc)
        s = s.copy()
        s["pbc"] = np.select([primary, second, by_tfc], [ppbc, spbc, tpbc], self.inp.other_pbc)
        s["programme"] = np.select([primary, second, by_tfc], [pprog, sprog, tprog], "other")
        s["_rule"] = np.select(
            [primary & by_category, primary, second, by_tfc],
            [
                "icd10_category",
                "icd10_primary_diagnosis",
                "icd10_secondary_diagnosis",
                "treatment_function",
            ],
            "unclassified",
        )
        return s

    def inpatient_mix(self, s: pd.DataFrame) -> pd.DataFrame:
        a = s[
            s.programme.notna()
            & (s.programme != "other")
            & s.treatment_function_code.notna()
            & s._rule.isin(("icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis"))
        ]
        g = a.groupby(["treatment_function_code", "pbc", "programme"]).cost.sum().reset_index()
        g["c"] = g.cost.fillna(0.0) + 0.01
        g = g.sort_values(["treatment_function_code", "pbc"])
        cum = g.groupby("treatment_function_code").c.cumsum()
        tot = g.groupby("treatment_function_code").c.transform("sum")
        last = ~g.treatment_function_code.duplicated(keep="last")
        return pd.DataFrame(
            {
                "tfc": g.treatment_function_code,
                "pbc": g.pbc,
                "programme": g.programme,
                "lo": (cum - g.c) / tot,
                "hi": np.where(last, 2.0, cum / tot),
            }
        )

    # ---- person x financial year ------------------------------------------------------------
    def person_year(self, person: pd.DataFrame, totals: pd.DataFrame, cips: pd.DataFrame) -> pd.DataFrame:
        fy = self.inp.refs["ref_fy"].to_pandas()
        base = person[["person_id", "registration_start", "registration_end", "date_of_death"]].merge(
            fy[["fy", "fy_start", "fy_end"]], how="cross"
        )
        fs, fe = pd.to_datetime(base.fy_start), pd.to_datetime(base.fy_end)
        start = np.maximum(base.registration_start.fillna(fs), fs)
        stop = np.minimum(np.minimum(base.registration_end.fillna(fe), base.date_of_death.fillna(fe)), fe)
        base["exposure_days"] = np.maximum((stop - start) / DAY + 1, 0).astype("int64")
        base["fy"] = base.fy.astype("float64")
        t = totals
        icb = t[t.funder == "icb"]
        key = ["person_id", "fy"]
        n = t.groupby([*key, "setting"])["size"].sum().unstack(fill_value=0)
        n.columns = [f"n_{c}" for c in n.columns]
        cs = icb.groupby([*key, "setting"])["sum"].sum().unstack()
        cs.columns = [f"cost_{c}" for c in cs.columns]
        cp = icb.groupby([*key, "programme"], observed=True)["sum"].sum().unstack()
        cp.columns = [f"cost_prog_{c}" for c in cp.columns]
        by_funder = t.groupby([*key, "funder"], observed=True)["sum"].sum().unstack()
        acts = n.join([cs, cp], how="left")
        acts["cost_total"] = by_funder.get("icb")
        acts["cost_nhse"] = by_funder.get("nhse")
        acts["cost_private"] = by_funder.get("private")
        acts["_any"] = True
        em = cips[cips.person_id != NULL].groupby(key).emergency.sum().rename("emergency_admissions")
        py = base.merge(acts.reset_index(), on=key, how="left")
        py = py[(py.exposure_days > 0) | py._any.notna()]
        py = py.merge(em.reset_index(), on=key, how="left")
        for c in person_year_columns():
            if c not in py.columns:
                py[c] = np.nan
        money = [c for c in person_year_columns() if c.startswith("cost_")]
        py[money] = r2(py[money].fillna(0.0).to_numpy())
        counts = [c for c in person_year_columns() if c.startswith("n_")] + ["emergency_admissions"]
        py[counts] = py[counts].fillna(0).astype("int64")
        py["fy"] = py.fy.astype("int64")
        return py[person_year_columns()].reset_index(drop=True)

    # ---- registers and prevalence -----------------------------------------------------------
    def prevalence(self, person: pd.DataFrame, py: pd.DataFrame) -> pd.DataFrame:
        last = self.w.last
        fy_end = pd.Timestamp(self.inp.refs["ref_fy"].to_pandas().set_index("fy").fy_end[last])
        p = person.set_index("person_id")
        last_day = np.minimum(np.minimum(p.registration_end.fillna(fy_end), p.date_of_death.fillna(fy_end)), fy_end)
        codes = self.ref["ref_register_code"]
        ev = self.read("gp_events", ["event_date", "snomed_code"])
        ev = ev[(ev.person_id != NULL) & ev.event_date.notna() & (ev.event_date <= fy_end)]
        ev = ev.merge(codes, on="snomed_code")
        dx = ev[ev.role == "diagnosis"].groupby(["person_id", "register"]).event_date.max().rename("last_dx")
        res = ev[ev.role == "resolved"].groupby(["person_id", "register"]).event_date.max().rename("last_resolved")
        st = pd.concat([dx, res], axis=1)
        # treatment in the register's months up to the person's last day
        bnf = self.ref["ref_register_bnf"]
        rx = self.read("prescriptions", ["month", "bnf_code"])
        n = int(bnf.prefix_length.min())
        rx = rx[(rx.person_id != NULL) & rx.bnf_code.str[:n].isin(set(bnf.prefix.str[:n])) & rx.month.notna()]
        hits = []
        for length, ref in bnf.groupby("prefix_length"):
            hits.append(rx.assign(prefix=rx.bnf_code.str[:length]).merge(ref, on="prefix"))
        rx = pd.concat(hits)
        ld = rx.person_id.map(last_day)
        rx = rx[(rx.month <= ld) & ((rx.month - ld) / DAY > -rx.treatment_days)]
        treated = (
            rx[["person_id", "register"]]
            .drop_duplicates()
            .assign(treated=True)
            .set_index(["person_id", "register"])
            .treated
        )
        st = st.join(treated, how="outer").reset_index()
        st["treated"] = st.treated.fillna(False).astype(bool)
        defs = self.inp.registers
        st["mode"] = st.register.map({r: d["treatment"] for r, d in defs.items()})
        frm = st.register.map(
            {r: pd.Timestamp(d["diagnosed_from"]) if d["diagnosed_from"] else pd.NaT for r, d in defs.items()}
        )
        diagnosed = (
            st.last_dx.notna()
            & (st.last_resolved.isna() | (st.last_dx >= st.last_resolved))
            & (frm.isna() | (st.last_dx >= frm))
        )
        st["on"] = np.select(
            [st["mode"] == "required", st["mode"] == "or"],
            [diagnosed & st.treated, diagnosed | st.treated],
            diagnosed,
        )
        dob = p.date_of_birth
        age = fy_end.year - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > fy_end.month * 100 + fy_end.day)
        y = py[(py.fy == last) & (py.exposure_days > 0)][["person_id"]].copy()
        y["practice_code"] = y.person_id.map(p.practice_code)
        y["age"] = y.person_id.map(age)
        out = []
        for c in self.inp.conditions:
            floor = int(defs[c]["min_age"])
            on = set(st.person_id[(st.register == c) & st.on])
            eligible = y.age.notna() & (np.maximum(y.age, 0) >= floor)
            g = (
                pd.DataFrame(
                    {
                        "practice_code": y.practice_code,
                        "d": eligible,
                        "r": eligible & y.person_id.isin(on),
                    }
                )
                .groupby("practice_code")
                .sum()
            )
            g = g[g.d > 0]
            out.append(
                pd.DataFrame(
                    {
                        "practice_code": g.index,
                        "condition": c,
                        "register": g.r.to_numpy(),
                        "denominator": g.d.to_numpy(),
                    }
                )
            )
        prev = pd.concat(out, ignore_index=True)
        x, nn = prev.register.astype("float64"), prev.denominator.astype("float64")
        root = Z95 * np.sqrt(Z95 * Z95 + 4.0 * x * (1.0 - x / nn))
        prev["prevalence"] = x / nn
        prev["lower"] = (2.0 * x + Z95 * Z95 - root) / (2.0 * (nn + Z95 * Z95))
        prev["upper"] = (2.0 * x + Z95 * Z95 + root) / (2.0 * (nn + Z95 * Z95))
        return prev

    # ---- the whole run -------------------------------------------------------------------------
    def run(self, out: Path) -> None:
        person = self.person()
        spells = self.provider_spells()
        spells = self.apc_programme(spells)
        cips = self.continuous_spells(spells)
        self.spine = np.sort(person.person_id.to_numpy())
        parts = [
            self.totals(
                "apc",
                spells.person_id,
                spells.activity_date,
                spells.cost,
                None,
                spells.programme,
                spells.funder,
                fy=spells.fy,
            ),
            self.op(self.inpatient_mix(spells)),
            self.ecds(),
            self.community(),
            self.mh(),
            self.gp(),
            self.prescribing(),
            self.social_care(),
        ]
        py = self.person_year(person, pd.concat(parts, ignore_index=True), cips)
        prev = self.prevalence(person, py)
        out.mkdir(parents=True, exist_ok=True)
        cips = cips.assign(person_id=cips.person_id.where(cips.person_id != NULL))
        frames = {
            "person": person[OUTPUTS["person"]],
            "spells": cips[OUTPUTS["spells"]],
            "person_year": py,
            "prevalence": prev[OUTPUTS["prevalence"]],
        }
        for name, df in frames.items():
            df.to_parquet(out / f"{name}.parquet", index=False)


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    Peer(Inputs(src)).run(out)


if __name__ == "__main__":
    main()
