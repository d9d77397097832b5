"""Independent detection of planted defects, from the published rules (not the planter's code)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa

from phm.codes import is_valid_nhs_number, nhs_check_digit
from phm.refdata import icd10, lsoa21_icb, opcs4

SENTINELS = {dt.date(1800, 1, 1): "sentinel_date_null", dt.date(1801, 1, 1): "sentinel_date_invalid"}
KEYS = {
    "apc_episodes": ("provider_code", "spell_id", "episode_order", "episode_start"),  # contract 1.1
    "op_attendances": ("provider_code", "attendance_id"),
    "ecds_attendances": ("provider_code", "attendance_id"),
    "community_contacts": ("provider_code", "contact_id"),
    "mh_contacts": ("provider_code", "contact_id"),
}
DATE = {"apc_episodes": "admission_date", "op_attendances": "appointment_date", "ecds_attendances": "arrival_time",
        "community_contacts": "contact_date", "mh_contacts": "contact_date", "gp_appointments": "appointment_date",
        "gp_events": "event_date", "prescriptions": "month"}


def nhs_kind(value) -> str | None:
    if value is None or value == "":
        return "nhs_missing"
    if "E+" in value:
        return "excel_nhs_scientific"
    if len(value) == 10 and value.isdigit() and len(set(value)) == 1:
        return "nhs_repeated_digits"
    if len(value) == 10 and value.isdigit() and nhs_check_digit(value[:9]) != int(value[9]):
        return "nhs_invalid_check_digit"
    return None


def _as_date(v):
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, str):
        return dt.date(int(v[6:10]), int(v[3:5]), int(v[0:2])) if "/" in v else dt.date.fromisoformat(v[:10])
    return v


def detect(tables: dict[str, pa.Table], extract: dt.date) -> dict[str, Counter]:
    out = {name: Counter() for name in tables}
    pat = tables["patients"]
    registered = {x for x in pat["nhs_number"].to_pylist() if x and is_valid_nhs_number(x)}
    death = {r["nhs_number"]: r["date_of_death"] for r in tables["deaths"].select(["nhs_number", "date_of_death"]).to_pylist()}
    lsoas = set(lsoa21_icb()["lsoa21_code"].to_pylist())
    icd = set(icd10()["code_hes"].to_pylist())
    opcs = set(opcs4()["code_compact"].to_pylist())
    for name, t in tables.items():
        c = out[name]
        rows = t.to_pylist()
        for r in rows:
            k = nhs_kind(r.get("nhs_number"))
            if k:
                c[k] += 1
            elif name not in ("patients", "deaths", "gp_events", "gp_appointments") and r["nhs_number"] not in registered:
                c["unregistered_person"] += 1
            for col, v in r.items():
                if isinstance(v, str) and "/" in v and col.endswith("date"):
                    c["excel_date_ddmmyyyy"] += 1
                d = _as_date(v) if ("date" in col or "time" in col or col == "month") else None
                if isinstance(d, dt.date):
                    if d in SENTINELS:
                        c[SENTINELS[d]] += 1
                    elif d > extract and col != "departure_time":
                        c["future_date"] += 1
            if name in DATE and r["nhs_number"] in death:
                d = _as_date(r[DATE[name]])
                if d is not None and d > death[r["nhs_number"]] and d <= extract:
                    c["activity_after_death"] += 1
        if name == "patients":
            for r in rows:
                if r["lsoa"] is None:
                    c["lsoa_missing"] += 1
                elif r["lsoa"] not in lsoas:
                    c["lsoa_invalid"] += 1
                c["ethnicity_not_stated"] += r["ethnic_category"] == "Z"
                c["ethnicity_not_known"] += r["ethnic_category"] == "99"
        if name == "apc_episodes":
            for r in rows:
                a, d = r["admission_date"], r["discharge_date"]
                if d is not None and d not in SENTINELS and d < a:
                    c["discharge_before_admission"] += 1
                c["unknown_icd10"] += r["diag_01"] not in icd
                c["unknown_opcs4"] += r["opertn_01"] is not None and r["opertn_01"] not in opcs
        if name == "op_attendances":
            c["excel_leading_zero_lost"] += sum(1 for r in rows if len(r["referral_source"]) == 1)
        if name in KEYS:
            seen: dict[tuple, list] = {}
            for r in rows:
                seen.setdefault(tuple(r[k] for k in KEYS[name]), []).append(tuple(sorted((k, str(v)) for k, v in r.items())))
            for group in seen.values():
                if len(group) > 1:
                    distinct = len(set(group))
                    c["exact_duplicate"] += len(group) - distinct
                    c["near_duplicate"] += distinct - 1
    return {k: Counter({kk: vv for kk, vv in v.items() if vv}) for k, v in out.items()}


def read(path, fmt: str) -> pa.Table:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"nhs_number": pa.string(), "referral_source": pa.string(), "appointment_date": pa.string(),
                      "lsoa": pa.string(), "ethnic_category": pa.string(), "episode_order": pa.int8()},
        strings_can_be_null=True))

