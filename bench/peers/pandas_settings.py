"""Every setting's contacts costed, placed in a programme and totalled per person and year, for
the pandas peer (:mod:`pandas_peer`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from pandas_base import DAY, Base, fy_of, r2
from reference import READS


class Settings(Base):
    """Each setting's rows, costed, placed and totalled per person, year, programme and funder."""

    # ---- every setting's costed rows, linked and totalled per person and year ---------------
    def priced(self, setting: str, tiers, default):
        """``tiers``: (condition, value, source) in precedence order (:mod:`phm.model.costing`).
        The cost to the penny and the price year it is stated in (none: a supplied cost)."""
        conds = [np.asarray(c, dtype=bool) for c, _, _ in tiers]
        cost = r2(np.select(conds, [np.asarray(v, dtype="float64") for _, v, _ in tiers], default))
        year_of = {
            "supplied": np.nan,
            "not_attended": np.nan,
            "ncc_currency": self.inp.ncc_year,
            "ncc_pod": self.inp.ncc_year,
        }
        year = np.select(conds, [year_of[src] for _, _, src in tiers], self.inp.default_year[setting])
        return cost, year

    def totals(self, setting, person_id, date, cost, year, programme, funder="icb", fy=None) -> pd.DataFrame:
        """Restate reference costs to the activity year's prices, keep the rows of spine persons
        dated in the window, and total them per person, year, programme and funder."""
        fy = np.asarray(fy_of(pd.Series(date)) if fy is None else fy, dtype="float64")
        cost = np.asarray(cost, dtype="float64")
        if year is not None:  # admitted care arrives restated
            level = pd.Series(fy).map({y: self.inp.year_level(y) for y in self.w.years}).to_numpy()
            base = pd.Series(year).map({y: self.inp.level.get(int(y)) for y in np.unique(year[~np.isnan(year)])})
            factor = np.nan_to_num(level / base.to_numpy(dtype="float64"), nan=1.0)
            cost = np.where(np.isnan(year), cost, r2(cost * factor))
        pid = np.asarray(person_id)
        keep = np.isin(pid, self.spine) & pd.notna(np.asarray(date)) & (fy >= self.w.first) & (fy <= self.w.last)

        def labels(x):  # a constant, an array or a categorical, as a categorical of the kept rows
            if isinstance(x, str):
                return pd.Categorical.from_codes(np.zeros(keep.sum(), "int8"), [x])
            return (
                pd.Categorical(x)[keep]
                if isinstance(x, pd.Categorical)
                else pd.Categorical(np.asarray(x, dtype=object)[keep])
            )

        df = pd.DataFrame(
            {
                "person_id": pid[keep],
                "fy": fy[keep],
                "cost": cost[keep],
                "programme": labels(programme),
                "funder": labels(funder),
            }
        )
        g = df.groupby(["person_id", "fy", "programme", "funder"], observed=True).cost.agg(["size", "sum"])
        return g.reset_index().assign(setting=setting)

    def op(self, mix: pd.DataFrame) -> pd.DataFrame:
        o = self.read("op_attendances", *READS["op_attendances"])
        att = o.attendance_status.isin(("5", "6"))
        unit = self.unit("OPPROC", o.hrg_code)
        u = self.apportion(o.person_id, o.appointment_date)
        t = self.split(
            o.treatment_function_code,
            u,
            self.ref["ref_pb_tfc"][["tfc", "pbc", "programme", "lo", "hi"]],
        )
        m = self.split(o.treatment_function_code, u, mix)
        generic = (t.pbc == self.inp.other_pbc) & m.pbc.notna()
        first = o.first_attendance.isin(("1", "3"))
        default = np.where(first, self.inp.default_cost[("op", "OPFA")], self.inp.default_cost[("op", "OPFUP")])
        cost, year = self.priced(
            "op",
            [
                (o.cost.notna() & (o.cost >= 0), o.cost, "supplied"),
                (~att, 0.0, "not_attended"),
                (unit.notna(), unit, "ncc_currency"),
            ],
            default,
        )
        prog = np.where(generic, m.programme, t.programme.fillna("other"))
        return self.totals("op", o.person_id, o.appointment_date, cost, year, prog)

    def simple(
        self,
        setting: str,
        t: pd.DataFrame,
        day: pd.Series,
        currency: str,
        pod: str,
        programme: pd.Series,
        other: str,
    ) -> pd.DataFrame:
        """A&E and community: the unit cost of the row's currency, else the point of delivery's
        average, else the setting default."""
        unit = self.unit(pod, t[currency])
        pod_cost = self.inp.pod_unit_cost.get(pod)
        cost, year = self.priced(
            setting,
            [
                (t.cost.notna() & (t.cost >= 0), t.cost, "supplied"),
                (unit.notna(), unit, "ncc_currency"),
                (np.full(len(t), pod_cost is not None), pod_cost, "ncc_pod"),
            ],
            self.inp.default_cost[(setting, pod)],
        )
        return self.totals(setting, t.person_id, day, cost, year, programme.astype(object).fillna(other))

    def ecds(self) -> pd.DataFrame:
        a = self.read("ecds_attendances", ["arrival_time", "diagnosis_snomed", "hrg_code", "cost"])
        day = a.arrival_time.dt.normalize()
        prog = a.diagnosis_snomed.map(self.ref["ref_pb_ecds"].set_index("snomed_code").programme)
        return self.simple("ecds", a, day.where(day <= self.extract), "hrg_code", "AE", prog, "other")

    def community(self) -> pd.DataFrame:
        c = self.read("community_contacts", ["contact_date", "service_type", "cost"], ("contact_date",))
        prog = c.service_type.map(self.ref["ref_programme_community"].set_index("currency").programme)
        return self.simple("community", c, c.contact_date, "service_type", "CHS", prog, "other")

    def mh(self) -> pd.DataFrame:
        c = self.read("mh_contacts", *READS["mh_contacts"])
        team = c.team_type.astype(object)
        bed = c.inpatient.fillna(False).astype(bool) | (c.contact_type == "bed_day")
        ward = team.where(team.str.fullmatch(r"[0-9]{3}MHPS").fillna(False).astype(bool), "999MHPS")
        pod = pd.Series(np.where(bed, "MHBD", "MHCC"), index=c.index)
        cur = pd.Series(np.where(bed, ward, team), index=c.index)
        unit = self.unit(pod, cur)
        prog = team.map(self.ref["ref_programme_mh"].set_index("team").programme)
        pod_cost = pod.map(self.inp.pod_unit_cost)
        default = np.where(bed, self.inp.default_cost[("mh", "MHBD")], self.inp.default_cost[("mh", "MHCC")])
        cost, year = self.priced(
            "mh",
            [
                (c.cost.notna() & (c.cost >= 0), c.cost, "supplied"),
                (unit.notna(), unit, "ncc_currency"),
                (pod_cost.notna(), pod_cost, "ncc_pod"),
            ],
            default,
        )
        return self.totals("mh", c.person_id, c.contact_date, cost, year, prog.fillna("mental_health"))

    def gp(self) -> pd.DataFrame:
        g = self.read("gp_appointments", *READS["gp_appointments"])
        att = g.appointment_status != "DNA"  # a missing status counts as attended
        costs = {p: c for (s, p), c in self.inp.default_cost.items() if s == "gp"}

        def unit(hcp, mode):  # staff type x mode; the catch-all GPAPPT when either is unknown
            staff = "GP" if hcp.upper() == "GP" else "OPS" if hcp.lower() in ("other practice staff", "other") else ""
            how = {
                "face-to-face": "F2F",
                "telephone": "REMOTE",
                "video": "REMOTE",
                "video conference/online": "REMOTE",
                "home visit": "HOME",
            }.get(mode.lower(), "")
            return costs.get(f"{staff}_{how}", costs["GPAPPT"]) if staff and how else costs["GPAPPT"]

        pairs = g[["hcp_type", "appointment_mode"]].astype(object).fillna("").drop_duplicates()
        pairs["unit"] = [unit(h, m) for h, m in zip(pairs.hcp_type, pairs.appointment_mode, strict=True)]
        u = g[["hcp_type", "appointment_mode"]].astype(object).fillna("").merge(pairs, how="left").unit.to_numpy()
        cost, year = self.priced("gp", [(~att, 0.0, "not_attended")], u)
        return self.totals("gp", g.person_id, g.appointment_date, cost, year, "other")

    def prescribing(self) -> pd.DataFrame:
        p = self.read("prescriptions", *READS["prescriptions"])
        u = self.apportion(p.person_id, p.month)
        # the chemical substance (first 9 characters) and chapter, worked out once per distinct code
        codes = p.bnf_code.cat.codes.to_numpy()
        cats = pd.Series(p.bnf_code.cat.categories)
        chems, inv = np.unique(cats.str[:9].to_numpy(dtype=object), return_inverse=True)
        key = pd.Series(pd.Categorical.from_codes(np.where(codes >= 0, inv[codes], -1), categories=chems))
        s = self.split(key, u, self.ref["ref_pb_bnf"][["bnf_prefix", "pbc", "programme", "lo", "hi"]])
        # no slice: the chapter's programme, else other (as category codes: no string per row)
        chapter = cats.str[:2].map(self.ref["ref_pb_bnf_chapter"].set_index("bnf_prefix").programme)
        names = np.array(sorted({*s.programme.cat.categories, *chapter.dropna(), "other"}), dtype=object)
        pos = {n: i for i, n in enumerate(names)}
        code = np.array([pos[c] for c in s.programme.cat.categories] + [-1])[s.programme.cat.codes.to_numpy()]
        fallback = np.array([pos["other" if pd.isna(c) else c] for c in chapter] + [pos["other"]])[codes]
        prog = pd.Categorical.from_codes(np.where(code >= 0, code, fallback), names)
        nic = p.net_ingredient_cost
        cost, year = self.priced(
            "prescribing",
            [(nic.notna() & (nic >= 0), nic, "supplied")],
            self.inp.default_cost[("prescribing", "RX")] * p["items"].to_numpy("float64"),
        )
        return self.totals("prescribing", p.person_id, p.month, cost, year, prog)

    def social_care(self) -> pd.DataFrame:
        s = self.read("social_care", *READS["social_care"])
        s = s.reset_index(drop=True)
        end_of = pd.Timestamp(self.w.end)
        start = s.start_date
        end = s.end_date.where(s.end_date.notna() & (s.end_date <= end_of), end_of)
        end = end.where(~(start.notna() & (end < start)), start)
        fy = pd.DataFrame(self.inp.refs["ref_fy"].to_pandas())
        fy["fy_start"], fy["fy_end"] = pd.to_datetime(fy.fy_start), pd.to_datetime(fy.fy_end)
        j = s.assign(_start=start, _end=end, _i=s.index).merge(fy, how="cross")
        j = j[(j._start <= j.fy_end) & (j._end >= j.fy_start)]
        days = ((np.minimum(j._end, j.fy_end) - np.maximum(j._start, j.fy_start)) / DAY + 1).astype("float64")
        weekly = j.service_type.astype(object).map(
            {p: c for (st, p), c in self.inp.default_cost.items() if st == "social_care"}
        )
        weekly = weekly.fillna(self.inp.default_cost[("social_care", "ASC")])
        ok = (j.weekly_cost.notna() & (j.weekly_cost >= 0)).to_numpy()
        cost = r2(np.where(ok, j.weekly_cost, weekly) * days / 7)
        year = np.where(ok, np.nan, self.inp.default_year["social_care"])
        inside = self.totals(
            "social_care",
            j.person_id,
            np.maximum(j._start, j.fy_start),
            cost,
            year,
            "social_care_needs",
            fy=j.fy.astype("float64"),
        )
        out = s[~s.index.isin(j._i)]  # services overlapping no year of the window: cost 0
        outside = self.totals(
            "social_care",
            out.person_id,
            start[out.index],
            np.zeros(len(out)),
            np.full(len(out), np.nan),
            "social_care_needs",
        )
        return pd.concat([inside, outside], ignore_index=True)
