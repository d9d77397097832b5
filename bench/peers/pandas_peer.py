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

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from reference import (
    EPISODE_COLUMNS,
    EPISODE_DATES,
    OUTPUTS,
    READS,
    SPELL_HEAD,
    Z95,
    Inputs,
    person_year_columns,
)

NULL = np.iinfo(np.int64).min  # "no person_id" (an invalid or missing NHS number)
DAY = np.timedelta64(1, "D")
# columns of repeated codes, read as categoricals (each distinct code held once)
CODES = {
    "bnf_code",
    "practice_code",
    "hcp_type",
    "appointment_mode",
    "appointment_status",
    "snomed_code",
    "service_type",
    "team_type",
    "contact_type",
    "treatment_function_code",
    "first_attendance",
    "attendance_status",
    "hrg_code",
    "diagnosis_snomed",
}
SENTINELS = (pd.Timestamp("1800-01-01"), pd.Timestamp("1801-01-01"))  # HES: no date


def r2(x):
    """Round half away from zero to the penny (as SQL ROUND does)."""
    x = np.asarray(x, dtype="float64")
    return np.trunc(x * 100 + np.copysign(0.5, x)) / 100


def fy_of(d: pd.Series) -> pd.Series:
    return (d.dt.year - (d.dt.month < 4)).astype("float64")  # NaN for a missing date


class Peer:
    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        self.w = inp.window
        self.extract = pd.Timestamp(self.w.extract_date)
        self.ids: dict[str, int] = {}
        self.ref = {k: v.to_pandas() for k, v in inp.refs.items()}

    # ---- reading ----------------------------------------------------------------------
    def read(
        self, dataset: str, columns: list[str], activity_dates: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """The columns, with ``person_id`` for the NHS number and the HES sentinel dates read as
        missing; an ``activity_dates`` column after the extract date is not a real date either."""
        t = pq.read_table(
            self.inp.path(dataset),
            columns=["nhs_number", *columns],
            read_dictionary=["nhs_number", *[c for c in columns if c in CODES]],
        )
        df = t.to_pandas(date_as_object=False)
        cat = df.pop("nhs_number").cat
        ids = np.array([self._pid(c) for c in cat.categories] or [NULL], dtype="int64")
        codes = cat.codes.to_numpy()
        df["person_id"] = np.where(codes >= 0, ids[np.maximum(codes, 0)], NULL)
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]) and c not in (
                "arrival_time",
                "departure_time",
            ):
                df[c] = df[c].where(~df[c].isin(SENTINELS))
                if c in activity_dates:
                    df[c] = df[c].where(df[c] <= self.extract)
        return df

    def _pid(self, nhs: str) -> int:
        if nhs not in self.ids:
            pid = self.inp.person_id(nhs)
            self.ids[nhs] = NULL if pid is None else pid
        return self.ids[nhs]

    # ---- costing helpers ----------------------------------------------------------------
    def unit(self, pod, currency: pd.Series) -> pd.Series:
        u = self.ref["ref_unit_cost"]
        if isinstance(pod, str):
            m = u[u.pod == pod].set_index("currency_code").unit_cost
            return currency.map(m)
        key = pd.MultiIndex.from_frame(u[["pod", "currency_code"]])
        m = pd.Series(u.unit_cost.to_numpy(), index=key)
        return pd.Series(
            m.reindex(pd.MultiIndex.from_arrays([pod, currency])).to_numpy(), index=currency.index
        )

    def restate(self, cost: pd.Series, year: pd.Series, fy: pd.Series) -> pd.Series:
        """Reference costs (``year`` not null) restated to the activity year's prices."""
        pairs = pd.DataFrame({"y": year, "f": fy}).drop_duplicates().dropna(subset=["y"])
        factor = {
            (y, f): self.inp.restate_factor(int(y), None if np.isnan(f) else int(f))
            for y, f in zip(pairs.y, pairs.f, strict=True)
        }
        fac = pd.Series(
            [factor.get((y, f), 1.0) if y == y else np.nan for y, f in zip(year, fy, strict=True)],
            index=cost.index,
        )
        return pd.Series(np.where(year.isna(), cost, r2(cost * fac)), index=cost.index)

    def year_level(self, fy: pd.Series) -> pd.Series:
        levels = {y: self.inp.year_level(y) for y in self.w.years}
        return fy.map(levels).astype("float64")

    def apportion(self, pid: pd.Series, day: pd.Series) -> pd.Series:
        days = ((day - pd.Timestamp("2000-01-01")) / DAY).fillna(0).astype("int64").to_numpy()
        p = np.where(pid.to_numpy() == NULL, 0, pid.to_numpy())
        x = (np.abs(np.fmod(p, 99991)) * 7919 + np.abs(np.fmod(days, 10007)) * 104729) % 10000
        return pd.Series(x / 10000.0, index=pid.index)

    def split(self, key: pd.Series, u: pd.Series, ref: pd.DataFrame) -> pd.DataFrame:
        """``pbc`` and ``programme`` of the [lo, hi) slice of a split map (first column: the
        key) that holds ``u`` for each row's key; missing where the key has no slice. The
        slices of a key are contiguous, so the row's slice is the last one with lo <= u (as
        ``merge_asof`` would find), checked against its hi."""
        r = (
            ref.rename(columns={ref.columns[0]: "_k"})
            .sort_values(["_k", "lo"])
            .reset_index(drop=True)
        )
        key = key if isinstance(key.dtype, pd.CategoricalDtype) else key.astype("category")
        codes = key.cat.codes.to_numpy()
        first = pd.Series(np.arange(len(r)), index=r._k).groupby(level=0).min()
        count = r.groupby("_k").size()
        cats = key.cat.categories
        start = np.append(cats.map(first).to_numpy(dtype="float64"), np.nan)[
            codes
        ]  # code -1: no key
        n = np.nan_to_num(
            np.append(cats.map(count).to_numpy(dtype="float64"), np.nan)[codes]
        ).astype("int64")
        has = n > 0
        idx = np.where(has, start, 0).astype("int64")
        lo, hi = r.lo.to_numpy(), r.hi.to_numpy()
        uu = u.to_numpy()
        for j in range(1, int(n.max(initial=0))):
            nxt = np.minimum(idx + 1, len(r) - 1)
            step = (j < n) & (lo[nxt] <= uu)
            idx = np.where(step, nxt, idx)
        ok = has & (uu >= lo[idx]) & (uu < hi[idx])
        progs, pcode = np.unique(r.programme.to_numpy(dtype=str), return_inverse=True)
        return pd.DataFrame(
            {
                "pbc": np.where(ok, r.pbc.to_numpy(dtype=object)[idx], None),
                "programme": pd.Categorical.from_codes(np.where(ok, pcode[idx], -1), progs),
            },
            index=key.index,
        )

    def funder(self, admin: pd.Series, commissioner: pd.Series) -> pd.Series:
        com = commissioner.str.upper()
        nhse = com.isin(self.inp.nhse) | (com.str[:3].isin(self.inp.nhse) & (com.str.len() == 5))
        return pd.Series(
            np.select([(admin == "02") | (com == "VPP00"), nhse], ["private", "nhse"], "icb"),
            index=admin.index,
        )

    # ---- the person spine ---------------------------------------------------------------
    def person(self) -> pd.DataFrame:
        p = self.read("patients", *READS["patients"])
        p["date_of_death"] = p.date_of_death.where(p.date_of_death <= self.extract)
        p = p[p.person_id != NULL].sort_values("registration_start", ascending=False, kind="stable")
        p = p.drop_duplicates("person_id")
        d = self.read("deaths", *READS["deaths"])
        d = (
            d[(d.person_id != NULL) & d.date_of_death.notna()]
            .groupby("person_id")
            .date_of_death.min()
        )
        p["date_of_death"] = p.person_id.map(d).fillna(p.date_of_death)
        return p.reset_index(drop=True)

    # ---- admitted care: provider spells, costs, continuous inpatient spells -------------
    def provider_spells(self) -> tuple[pd.DataFrame, pd.DataFrame]:
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
        s["discharge_destination"] = (
            g.tail(1).set_index(key).discharge_destination
        )  # the last episode's
        s = s.reset_index()
        ok = (
            s.discharge_date.notna()
            & s.admission_date.notna()
            & (s.discharge_date >= s.admission_date)
        )
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
        pod_cost = ec.pod.map(
            {p: self.inp.pod_unit_cost.get(p) for p in ("EL", "DC", "RDN", "NES", "NEL")}
        )
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
        cs["_supplied"] = (
            (ec.source == "supplied").groupby([ec.provider_code, ec.spell_id], sort=False).any()
        )
        s = s.merge(cs.reset_index(), on=key).merge(top, on=key)
        tp = self.ref["ref_trim_point"].set_index(["pod", "hrg_code"])
        idx = pd.MultiIndex.from_arrays([s.pod, s.hrg_code])
        trim = pd.Series(tp.trim_days.reindex(idx).to_numpy(), index=s.index)
        per_day = pd.Series(tp.per_day_cost.reindex(idx).to_numpy(), index=s.index).fillna(0.0)
        days = np.where(
            trim.notna() & s.los_days.notna() & ~s._supplied, np.maximum(s.los_days - trim, 0), 0
        )
        s["excess_bed_day_cost"] = r2(days * (per_day * s._level.fillna(1.0)))
        s["cost"] = r2(s.episode_cost + s.excess_bed_day_cost)
        s["emergency"] = s.admission_method.isin(
            ("21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D")
        )
        s["activity_date"] = s.discharge_date.fillna(s.admission_date)
        return s, e

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
        latest_dis = pd.Timestamp("1900-01-01") + pd.to_timedelta(
            prevv // (2 * len(dests)), unit="D"
        )
        latest_dest = pd.Series(
            np.array(dests, dtype=object)[prevv % len(dests)], index=chain.index
        )
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
        out = first[["provider_code", "spell_id", "person_id", "admission_date", "emergency"]].join(
            agg
        )
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
        c = (
            code.str.upper()
            .str.replace(".", "", regex=False)
            .str.replace(" ", "", regex=False)
            .str[:4]
        )
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
            & s._rule.isin(
                ("icd10_primary_diagnosis", "icd10_category", "icd10_secondary_diagnosis")
            )
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
        year = np.select(
            conds, [year_of[src] for _, _, src in tiers], self.inp.default_year[setting]
        )
        return cost, year

    def totals(
        self, setting, person_id, date, cost, year, programme, funder="icb", fy=None
    ) -> pd.DataFrame:
        """Restate reference costs to the activity year's prices, keep the rows of spine persons
        dated in the window, and total them per person, year, programme and funder."""
        fy = np.asarray(fy_of(pd.Series(date)) if fy is None else fy, dtype="float64")
        cost = np.asarray(cost, dtype="float64")
        if year is not None:  # admitted care arrives restated
            level = pd.Series(fy).map({y: self.inp.year_level(y) for y in self.w.years}).to_numpy()
            base = pd.Series(year).map(
                {y: self.inp.level.get(int(y)) for y in np.unique(year[~np.isnan(year)])}
            )
            factor = np.nan_to_num(level / base.to_numpy(dtype="float64"), nan=1.0)
            cost = np.where(np.isnan(year), cost, r2(cost * factor))
        pid = np.asarray(person_id)
        keep = (
            np.isin(pid, self.spine)
            & pd.notna(np.asarray(date))
            & (fy >= self.w.first)
            & (fy <= self.w.last)
        )

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
        g = df.groupby(["person_id", "fy", "programme", "funder"], observed=True).cost.agg(
            ["size", "sum"]
        )
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
        default = np.where(
            first, self.inp.default_cost[("op", "OPFA")], self.inp.default_cost[("op", "OPFUP")]
        )
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
        return self.totals(
            setting, t.person_id, day, cost, year, programme.astype(object).fillna(other)
        )

    def ecds(self) -> pd.DataFrame:
        a = self.read("ecds_attendances", ["arrival_time", "diagnosis_snomed", "hrg_code", "cost"])
        day = a.arrival_time.dt.normalize()
        prog = a.diagnosis_snomed.map(self.ref["ref_pb_ecds"].set_index("snomed_code").programme)
        return self.simple(
            "ecds", a, day.where(day <= self.extract), "hrg_code", "AE", prog, "other"
        )

    def community(self) -> pd.DataFrame:
        c = self.read(
            "community_contacts", ["contact_date", "service_type", "cost"], ("contact_date",)
        )
        prog = c.service_type.map(
            self.ref["ref_programme_community"].set_index("currency").programme
        )
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
        default = np.where(
            bed, self.inp.default_cost[("mh", "MHBD")], self.inp.default_cost[("mh", "MHCC")]
        )
        cost, year = self.priced(
            "mh",
            [
                (c.cost.notna() & (c.cost >= 0), c.cost, "supplied"),
                (unit.notna(), unit, "ncc_currency"),
                (pod_cost.notna(), pod_cost, "ncc_pod"),
            ],
            default,
        )
        return self.totals(
            "mh", c.person_id, c.contact_date, cost, year, prog.fillna("mental_health")
        )

    def gp(self) -> pd.DataFrame:
        g = self.read("gp_appointments", *READS["gp_appointments"])
        att = g.appointment_status != "DNA"  # a missing status counts as attended
        costs = {p: c for (s, p), c in self.inp.default_cost.items() if s == "gp"}

        def unit(hcp, mode):  # staff type x mode; the catch-all GPAPPT when either is unknown
            staff = (
                "GP"
                if hcp.upper() == "GP"
                else "OPS"
                if hcp.lower() in ("other practice staff", "other")
                else ""
            )
            how = {
                "face-to-face": "F2F",
                "telephone": "REMOTE",
                "video": "REMOTE",
                "video conference/online": "REMOTE",
                "home visit": "HOME",
            }.get(mode.lower(), "")
            return (
                costs.get(f"{staff}_{how}", costs["GPAPPT"]) if staff and how else costs["GPAPPT"]
            )

        pairs = g[["hcp_type", "appointment_mode"]].astype(object).fillna("").drop_duplicates()
        pairs["unit"] = [
            unit(h, m) for h, m in zip(pairs.hcp_type, pairs.appointment_mode, strict=True)
        ]
        u = (
            g[["hcp_type", "appointment_mode"]]
            .astype(object)
            .fillna("")
            .merge(pairs, how="left")
            .unit.to_numpy()
        )
        cost, year = self.priced("gp", [(~att, 0.0, "not_attended")], u)
        return self.totals("gp", g.person_id, g.appointment_date, cost, year, "other")

    def prescribing(self) -> pd.DataFrame:
        p = self.read("prescriptions", *READS["prescriptions"])
        u = self.apportion(p.person_id, p.month)
        # the chemical substance (first 9 characters) and chapter, worked out once per distinct code
        codes = p.bnf_code.cat.codes.to_numpy()
        cats = pd.Series(p.bnf_code.cat.categories)
        chems, inv = np.unique(cats.str[:9].to_numpy(dtype=object), return_inverse=True)
        key = pd.Series(
            pd.Categorical.from_codes(np.where(codes >= 0, inv[codes], -1), categories=chems)
        )
        s = self.split(
            key, u, self.ref["ref_pb_bnf"][["bnf_prefix", "pbc", "programme", "lo", "hi"]]
        )
        # no slice: the chapter's programme, else other (as category codes: no string per row)
        chapter = cats.str[:2].map(self.ref["ref_pb_bnf_chapter"].set_index("bnf_prefix").programme)
        names = np.array(
            sorted({*s.programme.cat.categories, *chapter.dropna(), "other"}), dtype=object
        )
        pos = {n: i for i, n in enumerate(names)}
        code = np.array([pos[c] for c in s.programme.cat.categories] + [-1])[
            s.programme.cat.codes.to_numpy()
        ]
        fallback = np.array([pos["other" if pd.isna(c) else c] for c in chapter] + [pos["other"]])[
            codes
        ]
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
        days = ((np.minimum(j._end, j.fy_end) - np.maximum(j._start, j.fy_start)) / DAY + 1).astype(
            "float64"
        )
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

    # ---- person x financial year ------------------------------------------------------------
    def person_year(
        self, person: pd.DataFrame, totals: pd.DataFrame, cips: pd.DataFrame
    ) -> pd.DataFrame:
        fy = self.inp.refs["ref_fy"].to_pandas()
        base = person[
            ["person_id", "registration_start", "registration_end", "date_of_death"]
        ].merge(fy[["fy", "fy_start", "fy_end"]], how="cross")
        fs, fe = pd.to_datetime(base.fy_start), pd.to_datetime(base.fy_end)
        start = np.maximum(base.registration_start.fillna(fs), fs)
        stop = np.minimum(
            np.minimum(base.registration_end.fillna(fe), base.date_of_death.fillna(fe)), fe
        )
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
        em = (
            cips[cips.person_id != NULL].groupby(key).emergency.sum().rename("emergency_admissions")
        )
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
        last_day = np.minimum(
            np.minimum(p.registration_end.fillna(fy_end), p.date_of_death.fillna(fy_end)), fy_end
        )
        codes = self.ref["ref_register_code"]
        ev = self.read("gp_events", ["event_date", "snomed_code"])
        ev = ev[(ev.person_id != NULL) & ev.event_date.notna() & (ev.event_date <= fy_end)]
        ev = ev.merge(codes, on="snomed_code")
        dx = (
            ev[ev.role == "diagnosis"]
            .groupby(["person_id", "register"])
            .event_date.max()
            .rename("last_dx")
        )
        res = (
            ev[ev.role == "resolved"]
            .groupby(["person_id", "register"])
            .event_date.max()
            .rename("last_resolved")
        )
        st = pd.concat([dx, res], axis=1)
        # treatment in the register's months up to the person's last day
        bnf = self.ref["ref_register_bnf"]
        rx = self.read("prescriptions", ["month", "bnf_code"])
        n = int(bnf.prefix_length.min())
        rx = rx[
            (rx.person_id != NULL)
            & rx.bnf_code.str[:n].isin(set(bnf.prefix.str[:n]))
            & rx.month.notna()
        ]
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
            {
                r: pd.Timestamp(d["diagnosed_from"]) if d["diagnosed_from"] else pd.NaT
                for r, d in defs.items()
            }
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
        age = (
            fy_end.year
            - dob.dt.year
            - ((dob.dt.month * 100 + dob.dt.day) > fy_end.month * 100 + fy_end.day)
        )
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
        spells, _ = self.provider_spells()
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
