"""The patients (registration) list, adult social care and deaths."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from phm.synth.context import Chunk
from phm.synth.definitions import condition_ids

CAUSE_BY_CONDITION = {  # underlying cause of death (ICD-10, HES form) where the person has it
    "cancer": "C349", "dementia": "F03X", "heart_failure": "I500", "copd": "J449",
    "chd": "I251", "stroke_tia": "I64X", "ckd": "N185",
}
OTHER_CAUSES = np.array(["J189", "I219", "R54X", "I709", "K922", "A419"], dtype=object)
SOCIAL_CARE = {  # service type: (weekly cost £, share); ASC-FR 2023-24 unit costs, rounded (assumption)
    "residential_care": (1100.0, 0.25), "nursing_care": (1300.0, 0.12), "home_care": (380.0, 0.43),
    "direct_payment": (420.0, 0.12), "day_care": (160.0, 0.08),
}


def patients(ch: Chunk) -> pa.Table:
    def date_or_null(days: np.ndarray, present: np.ndarray) -> pa.Array:
        return pa.compute.if_else(pa.array(present), ch.date(np.where(present, days, 0)), pa.scalar(None, pa.date32()))

    W = ch.cfg.window_days
    return pa.table({
        "nhs_number": ch.nhs_str,
        "date_of_birth": ch.date(ch.dob_day),
        "sex": pa.array(np.where(ch.male, "1", "2"), pa.string()),
        "ethnic_category": pa.array(ch.ethnic, pa.string()),
        "lsoa": ch.lsoa_str,
        "practice_code": ch.practice_codes,
        "registration_start": ch.date(ch.reg_start),
        "registration_end": date_or_null(ch.reg_end, ch.reg_end < W),
        "date_of_death": date_or_null(ch.death_day, ch.death_day >= 0),
    })


def deaths(ch: Chunk, rng) -> pa.Table:
    who = np.flatnonzero(ch.death_day >= 0)
    ids = condition_ids()
    cause = OTHER_CAUSES[rng.integers(0, OTHER_CAUSES.size, who.size)]
    for cid, code in reversed(CAUSE_BY_CONDITION.items()):  # first listed wins
        has = ch.cond[who, ids.index(cid)] & (rng.random(who.size) < 0.7)
        cause = np.where(has, code, cause)
    place = ch.death_place[who]
    seq = np.arange(who.size, dtype=np.int64) + ch.index * 10_000_000
    return pa.table({
        "death_registration_id": pa.array(np.char.add("D", np.char.zfill(seq.astype(str), 11))),
        "nhs_number": ch.nhs_str.take(pa.array(who)),
        "date_of_death": ch.date(ch.death_day[who]),
        "underlying_cause": pa.array(cause, pa.string()),
        "place_of_death": pa.array(place, pa.string()),
    })


def social_care(ch: Chunk, rng) -> pa.Table:
    """Long-term support: people chosen in proportion to need; one or two service episodes."""
    start, length = ch.exposure
    rate = ch.rate("social_care")[:, 0]  # probability of long-term support
    who = np.flatnonzero((rng.random(ch.n) < np.clip(rate, 0, 0.95)) & (length.sum(axis=1) > 0))
    types = np.array(list(SOCIAL_CARE), dtype=object)
    shares = np.array([v[1] for v in SOCIAL_CARE.values()])
    kind = types[np.searchsorted(np.cumsum(shares), rng.random(who.size) * 0.999999)]
    kind = np.where(ch.age0[who] < 65, np.where(rng.random(who.size) < 0.5, "direct_payment", "day_care"), kind)
    begin = np.where(rng.random(who.size) < 0.6, ch.t0[who] - rng.integers(30, 1500, who.size),
                     ch.t0[who] + rng.integers(0, np.maximum(ch.t1[who] - ch.t0[who], 1)))
    stop_early = rng.random(who.size) < 0.3
    end = np.where(stop_early, np.minimum(begin + rng.integers(30, 700, who.size), ch.t1[who]), ch.t1[who])
    end = np.maximum(end, begin + 1)
    open_ended = end >= ch.cfg.window_days
    weekly = np.array([SOCIAL_CARE[k][0] for k in kind]) * rng.lognormal(0, 0.15, who.size)
    seq = np.arange(who.size, dtype=np.int64) + ch.index * 10_000_000
    la = ch.lad[who]
    return pa.table({
        "service_id": pa.array(np.char.add("L", np.char.zfill(seq.astype(str), 11))),
        "nhs_number": ch.nhs_str.take(pa.array(who)),
        "la_code": pa.array(la, pa.string()),
        "service_type": pa.array(kind, pa.string()),
        "start_date": ch.date(begin),
        "end_date": pa.compute.if_else(pa.array(open_ended), pa.scalar(None, pa.date32()), ch.date(np.where(open_ended, 0, end))),
        "weekly_cost": pa.array(np.round(weekly, 2)),
    })
