"""GP appointments, coded GP events and community prescribing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from phm.synth.context import Chunk
from phm.synth.definitions import activity_targets, condition_ids, drugs

# SNOMED CT observable entities recorded in GP systems (UK edition concept IDs).
OBSERVABLES = {
    "systolic_bp": "271649006", "diastolic_bp": "271650006", "bmi": "60621009",
    "hba1c": "999791000000106", "medication_review": "182836005",
}
REPEAT_DISPENSING = 0.9  # chance a repeat medicine is dispensed in a given month


def appointments(ch: Chunk, rng) -> pa.Table:
    person, day = ch.events(rng, ch.rate("gp"))
    n = person.size
    status = np.where(rng.random(n) < 0.045, "DNA", "Attended")
    return pa.table({
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "appointment_date": ch.date(day),
        "practice_code": ch.practice_codes.take(pa.array(person)),
        "hcp_type": pa.array(rng.choice(np.array(["GP", "Other Practice staff"], dtype=object), n, p=[0.45, 0.55]), pa.string()),
        "appointment_mode": pa.array(rng.choice(np.array(["Face-to-Face", "Telephone", "Video Conference/Online", "Home Visit"], dtype=object), n, p=[0.66, 0.28, 0.04, 0.02]), pa.string()),
        "appointment_status": pa.array(status, pa.string()),
    })


def events(ch: Chunk, rng, snomed_by_condition: dict[str, np.ndarray]) -> pa.Table:
    """Diagnosis codes (at onset, which may precede the window) and monitoring during it."""
    ids = condition_ids()
    persons, days, codes, values = [], [], [], []
    for j, cid in enumerate(ids):
        who = np.flatnonzero(ch.cond[:, j] & (ch.onset_day[:, j] > -999_999))
        pool = snomed_by_condition[cid]
        persons.append(who)
        days.append(ch.onset_day[who, j].astype(np.int64))
        codes.append(pool[rng.integers(0, pool.size, who.size)])
        values.append(np.full(who.size, np.nan))
    cardio = ch.cond[:, [ids.index(c) for c in ("hypertension", "diabetes", "chd", "ckd", "stroke_tia", "heart_failure")]].any(axis=1)
    adult = ch.age0 >= 18
    bp_rate = np.where(cardio, 2.0, np.where(adult, 0.4, 0.0))[:, None] * np.ones((1, ch.cfg.years))
    p, d = ch.events(rng, bp_rate)
    sbp = np.round(rng.normal(135, 16, p.size))
    for code, val in ((OBSERVABLES["systolic_bp"], sbp), (OBSERVABLES["diastolic_bp"], np.round(sbp * 0.6 + rng.normal(0, 6, p.size)))):
        persons.append(p); days.append(d); codes.append(np.full(p.size, code, dtype=object)); values.append(val)
    dm = ch.cond_col("diabetes")
    p, d = ch.events(rng, np.where(dm, 2.0, 0.0)[:, None] * np.ones((1, ch.cfg.years)))
    persons.append(p); days.append(d); codes.append(np.full(p.size, OBSERVABLES["hba1c"], dtype=object)); values.append(np.round(rng.normal(58, 12, p.size)))
    p, d = ch.events(rng, np.where(adult, 0.3, 0.0)[:, None] * np.ones((1, ch.cfg.years)))
    persons.append(p); days.append(d); codes.append(np.full(p.size, OBSERVABLES["bmi"], dtype=object)); values.append(np.round(rng.normal(28, 5, p.size), 1))
    p, d = ch.events(rng, np.where(ch.cond.sum(axis=1) >= 2, 1.0, 0.0)[:, None] * np.ones((1, ch.cfg.years)))
    persons.append(p); days.append(d); codes.append(np.full(p.size, OBSERVABLES["medication_review"], dtype=object)); values.append(np.full(p.size, np.nan))
    person = np.concatenate(persons)
    day = np.concatenate(days)
    code = np.concatenate(codes)
    value = np.concatenate(values)
    order = np.lexsort((code.astype(str), day, person))
    person, day, code, value = person[order], day[order], code[order], value[order]
    # One observation per person, day and code (the natural key).
    keep = np.ones(person.size, bool)
    keep[1:] = (person[1:] != person[:-1]) | (day[1:] != day[:-1]) | (code[1:] != code[:-1])
    person, day, code, value = person[keep], day[keep], code[keep], value[keep]
    return pa.table({
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "event_date": ch.date(day),
        "snomed_code": pa.array(code, pa.string()),
        "value": pa.array(value, pa.float64(), from_pandas=True),
        "practice_code": ch.practice_codes.take(pa.array(person)),
    })


def prescriptions(ch: Chunk, rng, acute_rate: float) -> pa.Table:
    """One row per person, medicine (BNF presentation) and month dispensed."""
    table = drugs()
    codes = _codes(table)
    n = ch.n
    p_off = _p_not_on(table, codes, ch.cond, ch.age0, ch.male)
    on = rng.random((n, len(codes))) >= p_off
    _ensure_treated(table, codes, ch.cond, on)
    person, drug = np.nonzero(on)
    months = _months(ch)
    m_first, m_count = months
    rows_per = m_count[person]
    rp = np.repeat(person, rows_per)
    rd = np.repeat(drug, rows_per)
    rm = np.repeat(m_first[person], rows_per) + (np.arange(rp.size) - np.repeat(np.cumsum(rows_per) - rows_per, rows_per))
    keep = rng.random(rp.size) < REPEAT_DISPENSING
    rp, rd, rm = rp[keep], rd[keep], rm[keep]
    # Acute items: a Poisson number of one-off courses over the exposure.
    acute = [r for r in table if r["group"] == "acute"]
    aw = np.array([float(r["probability"]) for r in acute])
    a_codes = np.array([codes.index(r["bnf_code"]) for r in acute])
    a_p, a_day = ch.events(rng, np.full((n, ch.cfg.years), acute_rate) * ch.frailty[:, None])
    a_drug = a_codes[np.searchsorted(np.cumsum(aw / aw.sum()), rng.random(a_p.size) * 0.999999)]
    a_month = _month_index(ch, a_day)
    person = np.concatenate([rp, a_p])
    drug = np.concatenate([rd, a_drug])
    month = np.concatenate([rm, a_month])
    order = np.lexsort((drug, month, person))
    person, drug, month = person[order], drug[order], month[order]
    dup = np.zeros(person.size, bool)
    dup[1:] = (person[1:] == person[:-1]) & (drug[1:] == drug[:-1]) & (month[1:] == month[:-1])
    items = np.ones(person.size, np.int16)
    # Merge repeat+acute of the same medicine in the same month into one row of 2 items.
    np.add.at(items, np.flatnonzero(dup) - 1, 1)
    person, drug, month, items = person[~dup], drug[~dup], month[~dup], items[~dup]
    qty = np.array([float(next(r for r in table if r["bnf_code"] == c)["quantity"]) for c in codes])
    nic = np.array([float(next(r for r in table if r["bnf_code"] == c)["nic_per_item"]) for c in codes])
    month_days = np.asarray(_month_starts(ch))
    return pa.table({
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "month": ch.date(month_days[month]),
        "bnf_code": pa.array(np.asarray(codes, dtype=object)[drug], pa.string()),
        "items": pa.array(items),
        "quantity": pa.array(qty[drug] * items),
        "net_ingredient_cost": pa.array(np.round(nic[drug] * items, 2)),
        "practice_code": ch.practice_codes.take(pa.array(person)),
    })


# Registers that need treatment (QOF asthma: a drug in the last 12 months; epilepsy: the last
# 6 months). The planted conditions are those registers, so everyone planted with one is on at
# least one of its medicines (the first listed, if the independent draws gave none).
TREATED_REGISTERS = ("asthma", "epilepsy")


def _ensure_treated(table, codes: list[str], cond: np.ndarray, on: np.ndarray) -> None:
    ids = condition_ids()
    for g in TREATED_REGISTERS:
        cols = [codes.index(r["bnf_code"]) for r in table if r["group"] == g]
        none = cond[:, ids.index(g)] & ~on[:, cols].any(axis=1)
        on[none, cols[0]] = True


def _month_starts(ch: Chunk) -> list[int]:
    import datetime as dt

    out, d = [], ch.cfg.start
    while d < ch.cfg.end:
        out.append((d - ch.cfg.start).days)
        d = dt.date(d.year + (d.month // 12), d.month % 12 + 1, 1)
    return out


def _month_index(ch: Chunk, day: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(_month_starts(ch)), day, side="right") - 1


def _months(ch: Chunk) -> tuple[np.ndarray, np.ndarray]:
    """First month index and number of months whose first day falls in the exposure."""
    starts = np.asarray(_month_starts(ch))
    first = np.searchsorted(starts, ch.t0, side="left")
    last = np.searchsorted(starts, ch.t1, side="left")  # months starting before t1
    return first, np.clip(last - first, 0, None)


def _codes(table) -> list[str]:
    return sorted({r["bnf_code"] for r in table})


def _p_not_on(table, codes: list[str], cond: np.ndarray, age: np.ndarray, male: np.ndarray) -> np.ndarray:
    """P(not on each repeat medicine) per person, combining every group that prescribes it."""
    ids = condition_ids()
    p_off = np.ones((age.size, len(codes)))
    for r in table:
        g, prob, j = r["group"], float(r["probability"]), codes.index(r["bnf_code"])
        if g in ids:
            has = cond[:, ids.index(g)]
        elif g == "age65":
            has = (age >= 65) & (male if "Tamsulosin" in r["name"] else True)
        elif g == "adult":
            has = age >= 18
        else:
            continue
        p_off[:, j] *= np.where(has, 1 - prob, 1.0)
    return p_off


def repeat_items_per_head(pop_cond: np.ndarray, age: np.ndarray, male: np.ndarray) -> float:
    """Expected repeat items per person-year, used to set the acute rate to the national total."""
    table = drugs()
    p_off = _p_not_on(table, _codes(table), pop_cond, age, male)
    return float((1 - p_off).sum(axis=1).mean() * 12 * REPEAT_DISPENSING)


def acute_items_rate(pop) -> float:
    target = activity_targets()["prescription_items"]
    return max(target - repeat_items_per_head(pop.cond, pop.age0, pop.male), 0.5)
