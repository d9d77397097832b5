"""What the pandas peer (:mod:`pandas_peer`) builds on: reading the extracts with pseudonyms, and
the costing and programme-splitting helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from reference import (
    Inputs,
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


class Base:
    """The inputs, reading with pseudonyms, and the costing helpers."""

    def __init__(self, inp: Inputs) -> None:
        self.inp = inp
        self.w = inp.window
        self.extract = pd.Timestamp(self.w.extract_date)
        self.ids: dict[str, int] = {}
        self.ref = {k: v.to_pandas() for k, v in inp.refs.items()}

    # ---- reading ----------------------------------------------------------------------
    def read(self, dataset: str, columns: list[str], activity_dates: tuple[str, ...] = ()) -> pd.DataFrame:
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
        return pd.Series(m.reindex(pd.MultiIndex.from_arrays([pod, currency])).to_numpy(), index=currency.index)

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
        r = ref.rename(columns={ref.columns[0]: "_k"}).sort_values(["_k", "lo"]).reset_index(drop=True)
        key = key if isinstance(key.dtype, pd.CategoricalDtype) else key.astype("category")
        codes = key.cat.codes.to_numpy()
        first = pd.Series(np.arange(len(r)), index=r._k).groupby(level=0).min()
        count = r.groupby("_k").size()
        cats = key.cat.categories
        start = np.append(cats.map(first).to_numpy(dtype="float64"), np.nan)[codes]  # code -1: no key
        n = np.nan_to_num(np.append(cats.map(count).to_numpy(dtype="float64"), np.nan)[codes]).astype("int64")
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
