"""Outpatients, A&E (ECDS), community (CSDS) and mental health (MHSDS) contacts."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pyarrow as pa

from phm.synth.context import SETTING_DEFAULT_COSTS, Chunk, Costs, Providers
from phm.synth.definitions import (
    choose_rows,
    community_services,
    condition_ids,
    group_weights,
    mental_health_teams,
    op_specialties,
)

FREQUENT_ATTENDER_SHARE = 0.004  # adults with a planted high A&E rate
FREQUENT_ATTENDER_RATE = (6.0, 24.0)  # uniform range of their attendances a year
AE_GAMMA_SHAPE = 0.6  # person-level heterogeneity (heavy tail) of A&E use


def _ids(prefix: str, ch: Chunk, n: int) -> pa.Array:
    seq = np.arange(n, dtype=np.int64) + ch.index * 10_000_000
    return pa.array(np.char.add(prefix, np.char.zfill(seq.astype(str), 11)))


def outpatients(ch: Chunk, rng, prov: Providers, costs: Costs) -> pa.Table:
    person, day = ch.events(rng, ch.rate("op"))
    specs = op_specialties()
    g = choose_rows(rng, group_weights(specs, ch.age0[person], ch.male[person], ch.cond[person]))
    keep = g >= 0
    person, day, g = person[keep], day[keep], g[keep]
    n = person.size
    first = rng.random(n) < np.array([s.daycase_share for s in specs])[g]
    status = rng.choice(np.array(["5", "6", "3", "2", "4"], dtype=object), n, p=[0.86, 0.02, 0.062, 0.033, 0.025])
    referral = np.where(first, rng.choice(np.array(["03", "01", "02", "04", "05"], dtype=object), n, p=[0.6, 0.2, 0.1, 0.05, 0.05]), "05")
    tfc = np.array([s.tfc for s in specs], dtype=object)[g]
    hrg = np.where(first, "WF01B", "WF01A")
    provider = prov.acute_for(rng, ch.lad, person)
    procedure = np.where((tfc == "330") & (rng.random(n) < 0.15), "S062", None)
    unit = np.where(first, OP_FIRST_COST, OP_FOLLOW_UP_COST)  # as setting_costs.csv OPFA/OPFUP (2023/24 prices)
    plics = np.isin(provider, list(prov.plics))
    cost = np.where(plics & (status != "3"), np.round(unit * rng.lognormal(0, 0.2, n), 2), np.nan)
    return pa.table({
        "attendance_id": _ids("O", ch, n),
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "provider_code": pa.array(provider, pa.string()),
        "appointment_date": ch.date(day),
        "treatment_function_code": pa.array(tfc, pa.string()),
        "first_attendance": pa.array(np.where(first, "1", "2"), pa.string()),
        "attendance_status": pa.array(status, pa.string()),
        "referral_source": pa.array(referral, pa.string()),
        "opertn_01": pa.array(procedure, pa.string()),
        "hrg_code": pa.array(hrg, pa.string()),
        "cost": pa.array(cost, pa.float64(), from_pandas=True),
        "practice_code": ch.practice_codes.take(pa.array(person)),
    })


def _ecds_diagnoses() -> tuple[np.ndarray, np.ndarray]:
    text = resources.files("phm.synth").joinpath("data", "ecds_diagnoses.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    w = np.array([float(r["weight"]) for r in rows])
    return np.array([r["snomed_code"] for r in rows], dtype=object), w / w.sum()


OP_FIRST_COST, OP_FOLLOW_UP_COST = 200.0, 120.0
MH_STAY_RATE = {"smi": 0.22, "dementia": 0.012, "depression": 0.003}  # admissions per person-year
MH_MEAN_LOS = 35.0
UTC_SHARE_NOT_ADMITTED = 0.6  # share of attendances not admitted that are at a major A&E (type 01)


def ae_rates(ch: Chunk, rng) -> tuple[np.ndarray, np.ndarray]:
    """Annual A&E rate per person-year, with a gamma heavy tail and planted frequent attenders."""
    lam = ch.rate("ae") * rng.gamma(AE_GAMMA_SHAPE, 1 / AE_GAMMA_SHAPE, ch.n)[:, None]
    frequent = (ch.age0 >= 18) & (rng.random(ch.n) < FREQUENT_ATTENDER_SHARE)
    lam[frequent] = rng.uniform(*FREQUENT_ATTENDER_RATE, int(frequent.sum()))[:, None]
    return lam, frequent


def emergency_department(ch: Chunk, rng, prov: Providers, costs: Costs, lam: np.ndarray,
                         admitted: tuple[np.ndarray, np.ndarray, np.ndarray]) -> pa.Table:
    """ECDS attendances: the A&E process plus one attendance for each admission via A&E."""
    person, day = ch.events(rng, lam)
    provider = prov.acute_for(rng, ch.lad, person)
    adm_person, adm_day, adm_provider = admitted
    n0 = person.size
    person = np.concatenate([person, adm_person])
    day = np.concatenate([day, adm_day])
    provider = np.concatenate([provider, adm_provider])
    n = person.size
    admitted_flag = np.arange(n) >= n0
    codes, w = _ecds_diagnoses()
    diagnosis = codes[np.searchsorted(np.cumsum(w), rng.random(n) * 0.999999)]
    dest = np.where(admitted_flag, "01", rng.choice(np.array(["02", "03", "07", "04"], dtype=object), n, p=[0.35, 0.5, 0.08, 0.07]))
    acuity = np.where(admitted_flag, rng.choice(np.array(["2", "3"], dtype=object), n), rng.choice(np.array(["1", "2", "3", "4", "5"], dtype=object), n, p=[0.01, 0.12, 0.45, 0.35, 0.07]))
    arrival = np.where(admitted_flag | (rng.random(n) < 0.2), "1", "2")
    dept = np.where(admitted_flag | (rng.random(n) < UTC_SHARE_NOT_ADMITTED), "01", "03")
    # HRG mix (investigation x treatment): admitted patients the heavier groups; urgent treatment
    # centres (type 03) mostly no significant treatment. Calibrated so that cost per head is near
    # NCC 2023/24 emergency care (docs/synthetic-icb.md, "Spend per head").
    major = rng.choice(np.array(["VB07Z", "VB08Z", "VB09Z", "VB11Z"], dtype=object), n, p=[0.10, 0.22, 0.33, 0.35])
    utc = rng.choice(np.array(["VB09Z", "VB11Z"], dtype=object), n, p=[0.2, 0.8])
    hrg = np.where(admitted_flag, rng.choice(np.array(["VB02Z", "VB03Z", "VB04Z"], dtype=object), n, p=[0.2, 0.5, 0.3]),
                   np.where(dept == "03", utc, major))
    epoch_s = (np.datetime64(ch.cfg.start, "s") - np.datetime64("1970-01-01T00:00:00", "s")).astype(np.int64)
    arrive_s = epoch_s + day * 86400 + rng.integers(0, 86400, n)
    stay_s = (rng.gamma(2.0, 2.2, n) * 3600).astype(np.int64) + 600
    unit = costs.unit_cost(np.full(n, "AE", dtype=object), hrg, SETTING_DEFAULT_COSTS["ecds"])
    plics = np.isin(provider, list(prov.plics))
    cost = np.where(plics, np.round(unit * rng.lognormal(0, 0.2, n), 2), np.nan)
    order = np.lexsort((day, person))
    t = pa.table({
        "attendance_id": _ids("A", ch, n),
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "provider_code": pa.array(provider, pa.string()),
        "arrival_time": pa.array(arrive_s, pa.timestamp("s")),
        "departure_time": pa.array(arrive_s + stay_s, pa.timestamp("s")),
        "department_type": pa.array(dept, pa.string()),
        "arrival_mode": pa.array(arrival, pa.string()),
        "acuity": pa.array(acuity, pa.string()),
        "diagnosis_snomed": pa.array(diagnosis, pa.string()),
        "discharge_destination": pa.array(dest, pa.string()),
        "hrg_code": pa.array(hrg, pa.string()),
        "cost": pa.array(cost, pa.float64(), from_pandas=True),
        "practice_code": ch.practice_codes.take(pa.array(person)),
    })
    return t.take(pa.array(order))


def _service_choice(rng, rows, ch: Chunk, person: np.ndarray, cond_key: str, weight_key: str | None):
    ids = condition_ids()
    age = ch.age0[person]
    w = np.zeros((person.size, len(rows)))
    for j, r in enumerate(rows):
        col = np.full(person.size, float(r["base_weight"]))
        if weight_key is None and r.get("age_slope"):
            col = col * (1 + float(r["age_slope"]) * np.clip((age - 40) / 40, 0, None))
        if r[cond_key]:
            boost = float(r[weight_key]) if weight_key else 2.0
            col = col + boost * ch.cond[person][:, ids.index(r[cond_key])]
        ok = (age >= int(r["min_age"])) & (age <= int(r["max_age"]))
        w[:, j] = np.where(ok, col, 0)
    return choose_rows(rng, w)


def community(ch: Chunk, rng, prov: Providers, costs: Costs) -> pa.Table:
    person, day = ch.events(rng, ch.rate("community"))
    rows = community_services()
    g = _service_choice(rng, rows, ch, person, "condition", None)
    keep = g >= 0
    person, day, g = person[keep], day[keep], g[keep]
    n = person.size
    currency = np.array([r["currency"] for r in rows], dtype=object)[g]
    provider = prov.home(ch.lad, prov.community)[person]
    mode = np.where(np.char.endswith(currency.astype(str), "AN"), "telephone", rng.choice(np.array(["face_to_face", "telephone", "video"], dtype=object), n, p=[0.85, 0.12, 0.03]))
    return pa.table({
        "contact_id": _ids("C", ch, n),
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "provider_code": pa.array(provider, pa.string()),
        "contact_date": ch.date(day),
        "service_type": pa.array(currency, pa.string()),
        "duration_minutes": pa.array(np.clip(rng.gamma(3, 12, n), 5, 240).astype(np.int16)),
        "contact_mode": pa.array(mode, pa.string()),
        "cost": pa.nulls(n, pa.float64()),
    })


def mental_health(ch: Chunk, rng, prov: Providers, costs: Costs) -> pa.Table:
    person, day = ch.events(rng, ch.rate("mh"))
    rows = mental_health_teams()
    g = _service_choice(rng, rows, ch, person, "condition", "condition_weight")
    keep = g >= 0
    person, day, g = person[keep], day[keep], g[keep]
    team = np.array([r["currency"] for r in rows], dtype=object)[g]
    # Inpatient stays, one row per bed day, on the NCC ward type (mental health provider spell
    # currency): severe mental illness most, then dementia (older adult wards) and depression.
    # Rates calibrated to NCC 2023/24 mental health bed days per head (docs/synthetic-icb.md).
    _, length = ch.exposure
    years = length.sum(axis=1) / 365.25
    rate = MH_STAY_RATE["smi"] * ch.cond_col("smi") + MH_STAY_RATE["dementia"] * ch.cond_col("dementia") \
        + MH_STAY_RATE["depression"] * ch.cond_col("depression")
    n_stays = rng.poisson(rate * years) * (length.sum(axis=1) > 60)
    stays = np.repeat(np.arange(ch.n), n_stays)
    los = np.minimum(7 + rng.geometric(1 / MH_MEAN_LOS, stays.size), 180)
    first = ch.t0[stays] + rng.integers(0, np.maximum(ch.t1[stays] - ch.t0[stays] - los, 1))
    los = np.minimum(los, np.maximum(ch.t1[stays] - first, 0))
    age = ch.age0[stays]
    ward = np.where(age < 18, "301MHPS", np.where(age >= 65, "201MHPS",
                    np.where(rng.random(stays.size) < 0.1, "202MHPS", "200MHPS")))
    bd_person = np.repeat(stays, los)
    bd_ward = np.repeat(ward, los)
    bd_day = np.repeat(first, los) + (np.arange(bd_person.size) - np.repeat(np.cumsum(los) - los, los))
    n1, n2 = person.size, bd_person.size
    all_person = np.concatenate([person, bd_person])
    all_day = np.concatenate([day, bd_day])
    order = np.lexsort((all_day, all_person))
    n = n1 + n2
    contact_type = np.concatenate([rng.choice(np.array(["face_to_face", "telephone", "video"], dtype=object), n1, p=[0.7, 0.25, 0.05]), np.full(n2, "bed_day", dtype=object)])
    return pa.table({
        "contact_id": _ids("M", ch, n),
        "nhs_number": ch.nhs_str.take(pa.array(all_person[order])),
        "provider_code": pa.array(np.full(n, prov.mental_health, dtype=object), pa.string()),
        "contact_date": ch.date(all_day[order]),
        "team_type": pa.array(np.concatenate([team, bd_ward])[order], pa.string()),
        "contact_type": pa.array(contact_type[order], pa.string()),
        "inpatient": pa.array(np.concatenate([np.zeros(n1, bool), np.ones(n2, bool)])[order]),
        "cost": pa.nulls(n, pa.float64()),
    })
