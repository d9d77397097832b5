"""Planted data defects at set rates, counted exactly in ``truth/defects.json``.

Each defect goes on a distinct, otherwise clean row, chosen so that no defect can
be mistaken for another (a future date is only planted for someone alive, so it is
never also activity after death; a sentinel discharge date is never compared with
admission). Detection rules a data-quality check should apply:

- nhs_invalid_check_digit: 10 digits, not all the same, failing modulus 11
- nhs_repeated_digits: ten identical digits (passes modulus 11, still invalid)
- nhs_missing: null
- unregistered_person: a valid NHS number that is not on the patients list
- lsoa_invalid / lsoa_missing: LSOA not an English LSOA 2021 code / null
- ethnicity_not_stated / ethnicity_not_known: ethnic category Z / 99
- discharge_before_admission: real discharge date earlier than admission date
- future_date: any date after the extract date (``manifest.json``)
- sentinel_date_null / sentinel_date_invalid: 1800-01-01 / 1801-01-01 (HES)
- activity_after_death: activity date later than the person's date of death
- unknown_icd10 / unknown_opcs4: a well-formed code that is not in the classification
- exact_duplicate: a row identical to another; near_duplicate: same natural key, other values differ
- excel_nhs_scientific, excel_leading_zero_lost, excel_date_ddmmyyyy (CSV only)

Feeds that arrive pseudonymised (``--identity pseudonymised``) carry a supplier pseudonym
instead, and its defects take the place of the NHS number's:

- pseudonym_malformed (for nhs_invalid_check_digit): a token cut short (fixed-width export)
- pseudonym_raw_nhs_number (for nhs_repeated_digits): a valid NHS number that the supplier
  failed to pseudonymise; ingest must catch it, link nobody and store nothing of it
- pseudonym_lowercase: a quirk, not a defect: the same token in lower case, which must link
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from phm.synth.config import SynthConfig
from phm.synth.population import Population, identifiers

NHS_DEFECTS = ("nhs_invalid_check_digit", "nhs_repeated_digits", "nhs_missing")
NATURAL_KEYS = {
    "apc_episodes": ("provider_code", "spell_id", "episode_order", "episode_start"),
    "op_attendances": ("provider_code", "attendance_id"),
    "ecds_attendances": ("provider_code", "attendance_id"),
    "community_contacts": ("provider_code", "contact_id"),
    "mh_contacts": ("provider_code", "contact_id"),
}
NEAR_DUPLICATE_CHANGE = {  # the non-key column a resubmitted record changes
    "apc_episodes": "episode_id", "op_attendances": "attendance_status",
    "ecds_attendances": "discharge_destination", "community_contacts": "contact_mode",
    "mh_contacts": "contact_type",
}
ACTIVITY_DATE = {  # the date that places a row in time (timestamps for ECDS)
    "apc_episodes": "discharge_date", "op_attendances": "appointment_date",
    "ecds_attendances": "arrival_time", "community_contacts": "contact_date",
    "mh_contacts": "contact_date", "gp_appointments": "appointment_date",
    "gp_events": "event_date", "prescriptions": "month",
}
# Rates per row (per person for patients). Chosen so that every kind appears in a 20k ICB.
RATES: dict[str, dict[str, float]] = {
    "patients": {"nhs_invalid_check_digit": 0.001, "nhs_repeated_digits": 0.0003, "nhs_missing": 0.001,
                 "lsoa_invalid": 0.002, "lsoa_missing": 0.002},
    "apc_episodes": {"nhs_invalid_check_digit": 0.001, "nhs_repeated_digits": 0.0003, "nhs_missing": 0.002,
                     "unregistered_person": 0.002, "discharge_before_admission": 0.001, "future_date": 0.0005,
                     "sentinel_date_null": 0.0005, "sentinel_date_invalid": 0.0005, "unknown_icd10": 0.001,
                     "unknown_opcs4": 0.001, "exact_duplicate": 0.001, "near_duplicate": 0.001},
    "op_attendances": {"nhs_invalid_check_digit": 0.001, "nhs_missing": 0.001, "unregistered_person": 0.002,
                       "activity_after_death": 0.001, "future_date": 0.0005, "exact_duplicate": 0.001,
                       "near_duplicate": 0.001, "excel_leading_zero_lost": 0.002, "excel_date_ddmmyyyy": 0.002},
    "ecds_attendances": {"nhs_invalid_check_digit": 0.001, "nhs_missing": 0.002, "unregistered_person": 0.002,
                         "activity_after_death": 0.001, "future_date": 0.0005, "exact_duplicate": 0.001,
                         "near_duplicate": 0.001, "excel_nhs_scientific": 0.002},
    "community_contacts": {"nhs_missing": 0.001, "unregistered_person": 0.001, "activity_after_death": 0.001,
                           "future_date": 0.0005, "exact_duplicate": 0.001, "near_duplicate": 0.001},
    "mh_contacts": {"nhs_missing": 0.001, "unregistered_person": 0.001, "activity_after_death": 0.001,
                    "future_date": 0.0005, "exact_duplicate": 0.001, "near_duplicate": 0.001},
    "gp_appointments": {"activity_after_death": 0.0005, "future_date": 0.0003},
    "gp_events": {"future_date": 0.0003},
    "prescriptions": {"nhs_missing": 0.001, "unregistered_person": 0.001, "activity_after_death": 0.0005},
    "social_care": {"nhs_missing": 0.02, "nhs_invalid_check_digit": 0.002},
}
PSEUDONYM_KINDS = {"nhs_invalid_check_digit": "pseudonym_malformed", "nhs_repeated_digits": "pseudonym_raw_nhs_number"}
PSEUDONYM_LOWERCASE = 0.002  # activity rows whose supplier wrote the token in lower case
CSV_ONLY = {"excel_leading_zero_lost", "excel_date_ddmmyyyy", "excel_nhs_scientific"}
EPOCH = dt.date(1970, 1, 1)
SENTINEL = {"sentinel_date_null": dt.date(1800, 1, 1), "sentinel_date_invalid": dt.date(1801, 1, 1)}


def _unknown_codes(table: pa.Table, column: str, candidates: list[str]) -> list[str]:
    known = set(table[column].to_pylist())
    return [c for c in candidates if c not in known]


class DefectPlanter:
    def __init__(self, cfg: SynthConfig, pop: Population) -> None:
        from phm.refdata import icd10, opcs4

        self.cfg, self.pop = cfg, pop
        self.counts: dict[str, Counter] = {}
        self.extract_day = (cfg.extract_date - EPOCH).days
        letters = "ABCDEFGHJKLMNPRSTVW"
        self.bad_icd10 = _unknown_codes(icd10(), "code_hes", [f"{a}99{d}" for a in letters for d in "789"])[:12]
        self.bad_opcs4 = _unknown_codes(opcs4(), "code_compact", [f"{a}99{d}" for a in letters for d in "789"])[:12]
        self.pseudonymised = cfg.identity == "pseudonymised"
        if self.pseudonymised:
            from phm.synth.population import valid_test_numbers

            self.leaked = valid_test_numbers()[::97].astype(str)  # NHS numbers a supplier let through

    def _label(self, kind: str) -> str:
        return PSEUDONYM_KINDS.get(kind, kind) if self.pseudonymised else kind

    def plant(self, index: int, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
        for name in tables:
            self.counts.setdefault(name, Counter())
        if self.cfg.defects == "none":
            return tables
        rng = np.random.default_rng([self.cfg.seed, 2, index])
        deaths = tables["deaths"]
        died = dict(zip(deaths["nhs_number"].to_pylist(),
                        deaths["date_of_death"].cast(pa.int32()).to_pylist(), strict=True))
        out = dict(tables)
        for name, rates in RATES.items():
            out[name] = self._plant_table(name, tables[name], rates, rng, died)
        p = out["patients"]["ethnic_category"]
        self.counts["patients"]["ethnicity_not_stated"] += int(pc.sum(pc.equal(p, "Z")).as_py() or 0)
        self.counts["patients"]["ethnicity_not_known"] += int(pc.sum(pc.equal(p, "99")).as_py() or 0)
        return out

    # -- one table -----------------------------------------------------------------
    def _plant_table(self, name, table, rates, rng, died) -> pa.Table:
        n = table.num_rows
        cols = {c: table[c].combine_chunks() for c in table.column_names}
        touched = np.zeros(n, bool)
        nhs = np.asarray(cols["nhs_number"].to_pylist(), dtype=object)
        death_day = np.array([died.get(x, -1) for x in nhs], dtype=np.int64)
        csv = self.cfg.fmt == "csv"
        extra_rows: list[pa.Table] = []
        counts = self.counts[name]

        def pick(kind: str, eligible: np.ndarray) -> np.ndarray:
            rate = PSEUDONYM_LOWERCASE if kind == "pseudonym_lowercase" else rates[kind]
            k = int(round(rate * n))
            cand = np.flatnonzero(eligible & ~touched)
            chosen = np.sort(rng.choice(cand, size=min(k, cand.size), replace=False)) if k else cand[:0]
            touched[chosen] = True
            counts[self._label(kind)] += int(chosen.size)
            return chosen

        if name == "patients":
            ghosts = []
            for kind in NHS_DEFECTS:
                k = int(round(rates[kind] * n))
                src = rng.integers(0, n, k)
                g = table.take(pa.array(src))
                vals = [self._bad_nhs(kind, x, rng) for x in g["nhs_number"].to_pylist()]
                ghosts.append(g.set_column(0, "nhs_number", pa.array(vals, pa.string())))
                counts[self._label(kind)] += k
            lsoa = np.asarray(cols["lsoa"].to_pylist(), dtype=object)
            i = pick("lsoa_invalid", np.ones(n, bool))
            lsoa[i] = np.where(rng.random(i.size) < 0.5, "E0100000", "E01099999")
            i = pick("lsoa_missing", np.ones(n, bool))
            lsoa[i] = None
            cols["lsoa"] = pa.array(lsoa, pa.string())
            base = pa.table(cols)
            # Ghosts copy a real patient's other fields; they must not change the ethnicity count
            # of real people, so they are counted with everyone after planting (see plant()).
            return pa.concat_tables([base, *ghosts])

        alive = death_day < 0
        for kind in NHS_DEFECTS:
            if kind in rates:
                i = pick(kind, np.ones(n, bool))
                nhs[i] = [self._bad_nhs(kind, x, rng) for x in nhs[i]]
        if "unregistered_person" in rates:
            i = pick("unregistered_person", np.ones(n, bool))
            pool = self.pop.unregistered_pool[rng.integers(0, self.pop.unregistered_pool.size, i.size)]
            nhs[i] = identifiers(self.cfg, pool).to_numpy(zero_copy_only=False)
            if self.pseudonymised:
                i = pick("pseudonym_lowercase", nhs != None)  # noqa: E711
                nhs[i] = [x.lower() for x in nhs[i]]
        date_col = ACTIVITY_DATE.get(name)
        if date_col:
            is_ts = pa.types.is_timestamp(cols[date_col].type)
            day = self._days(cols[date_col])
            has_date = ~np.isnan(day) if day.dtype.kind == "f" else np.ones(n, bool)
            day = np.nan_to_num(day, nan=0).astype(np.int64)
            if "activity_after_death" in rates:
                if name == "prescriptions":  # the first of a month after the month of death
                    nxt = np.array([self._next_month(d) if d >= 0 else 10**9 for d in death_day])
                    i = pick("activity_after_death", (nxt <= self.extract_day) & has_date)
                    new = nxt[i]
                else:
                    room = (death_day >= 0) & (death_day + 1 <= self.extract_day) & has_date
                    i = pick("activity_after_death", room)
                    span = np.minimum(90, self.extract_day - death_day[i])
                    new = death_day[i] + 1 + (rng.random(i.size) * span).astype(np.int64)
                self._shift(cols, name, date_col, i, new, day, is_ts)
            if "future_date" in rates:
                i = pick("future_date", alive & has_date)
                new = self.extract_day + 1 + rng.integers(0, 365, i.size)
                self._shift(cols, name, date_col, i, new, day, is_ts)
        if name == "apc_episodes":
            dis = self._days(cols["discharge_date"])
            final = ~np.isnan(dis)
            adm = self._days(cols["admission_date"]).astype(np.int64)
            dis_i = np.nan_to_num(dis, nan=0).astype(np.int64)
            i = pick("discharge_before_admission", final)
            dis_i[i] = adm[i] - rng.integers(1, 11, i.size)
            for kind, when in SENTINEL.items():
                j = pick(kind, final)
                dis_i[j] = (when - EPOCH).days
            cols["discharge_date"] = pc.if_else(pa.array(final), pa.array(dis_i.astype(np.int32)).cast(pa.date32()), pa.scalar(None, pa.date32()))
            diag = np.asarray(cols["diag_01"].to_pylist(), dtype=object)
            i = pick("unknown_icd10", np.ones(n, bool))
            diag[i] = np.asarray(self.bad_icd10, dtype=object)[rng.integers(0, len(self.bad_icd10), i.size)]
            cols["diag_01"] = pa.array(diag, pa.string())
            op = np.asarray(cols["opertn_01"].to_pylist(), dtype=object)
            i = pick("unknown_opcs4", op != None)  # noqa: E711
            op[i] = np.asarray(self.bad_opcs4, dtype=object)[rng.integers(0, len(self.bad_opcs4), i.size)]
            cols["opertn_01"] = pa.array(op, pa.string())
        if csv and name == "op_attendances":
            ref = np.asarray(cols["referral_source"].to_pylist(), dtype=object)
            i = pick("excel_leading_zero_lost", np.char.startswith(ref.astype(str), "0"))
            ref[i] = [r.lstrip("0") for r in ref[i]]
            cols["referral_source"] = pa.array(ref, pa.string())
            iso = np.asarray(cols["appointment_date"].cast(pa.string()).to_pylist(), dtype=object)
            i = pick("excel_date_ddmmyyyy", np.ones(n, bool))
            iso[i] = [f"{d[8:10]}/{d[5:7]}/{d[0:4]}" for d in iso[i]]
            cols["appointment_date"] = pa.array(iso, pa.string())
        if csv and name == "ecds_attendances":
            i = pick("excel_nhs_scientific", np.array([x is not None and len(x) == 10 for x in nhs]))
            nhs[i] = [f"{int(x):.2E}" for x in nhs[i]]
        cols["nhs_number"] = pa.array(nhs, pa.string())
        result = pa.table(cols)
        if "exact_duplicate" in rates:
            i = pick("exact_duplicate", np.ones(n, bool))
            extra_rows.append(result.take(pa.array(i)))
            j = pick("near_duplicate", np.ones(n, bool))
            near = result.take(pa.array(j))
            col = NEAR_DUPLICATE_CHANGE[name]
            vals = near[col].to_pylist()
            changed_vals = [self._changed(col, v) for v in vals]
            near = near.set_column(near.column_names.index(col), col, pa.array(changed_vals, near.schema.field(col).type))
            extra_rows.append(near)
        return pa.concat_tables([result, *extra_rows]) if extra_rows else result

    # -- helpers -----------------------------------------------------------------------
    def _bad_nhs(self, kind: str, valid: str, rng) -> str | None:
        if kind == "nhs_missing":
            return None
        if self.pseudonymised:
            if kind == "nhs_repeated_digits":
                return str(self.leaked[int(rng.integers(0, self.leaked.size))])
            return valid[:40]
        if kind == "nhs_repeated_digits":
            return "9999999999"
        check = int(valid[9])
        wrong = (check + 1 + int(rng.integers(0, 9))) % 10
        return valid[:9] + str(wrong)

    @staticmethod
    def _changed(col: str, v):
        if col == "episode_id":
            return "R" + v[1:]
        swaps = {"attendance_status": {"5": "6", "6": "5", "3": "2", "2": "3", "4": "5"},
                 "discharge_destination": {"01": "02", "02": "03", "03": "02", "07": "03", "04": "03"},
                 "contact_mode": {"face_to_face": "telephone", "telephone": "face_to_face", "video": "telephone"},
                 "contact_type": {"face_to_face": "telephone", "telephone": "face_to_face", "video": "telephone", "bed_day": "face_to_face"}}
        return swaps[col].get(v, v)

    @staticmethod
    def _days(arr: pa.Array) -> np.ndarray:
        if pa.types.is_timestamp(arr.type):
            return pc.divide(arr.cast(pa.int64()), 86400).to_numpy(zero_copy_only=False).astype(float)
        return arr.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(float)

    def _next_month(self, death_day: int) -> int:
        d = EPOCH + dt.timedelta(days=int(death_day))
        nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        return (nxt - EPOCH).days

    @staticmethod
    def _shift(cols, name, col, idx, new_day, day, is_ts) -> None:
        if idx.size == 0:
            return
        if is_ts:
            for c in ("arrival_time", "departure_time"):
                s = cols[c].cast(pa.int64()).to_numpy(zero_copy_only=False).copy()
                s[idx] = s[idx] + (new_day - day[idx]) * 86400
                cols[c] = pa.array(s, pa.timestamp("s"))
            return
        d = pc.fill_null(cols[col].cast(pa.int32()), 0).to_numpy(zero_copy_only=False).copy()
        d[idx] = new_day
        if name == "apc_episodes":  # a future discharge: only on the spell's final episode
            cols[col] = pc.if_else(pc.is_null(cols[col]), cols[col], pa.array(d).cast(pa.date32()))
        else:
            cols[col] = pa.array(d).cast(pa.date32())
