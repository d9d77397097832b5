"""GP codes that test the QOF register rules: resolved histories, re-diagnoses, coded but
untreated conditions and palliative care (issue 14).

The planted conditions (``Population.cond``) are the QOF registers the calibration targets, so
everything here is added *around* them and the truth stays "planted condition = on the
register" (for people old enough):

- **resolved histories**: people without the condition who had it coded once and later
  resolved (asthma in childhood, depression after an episode, hypertension after weight loss,
  CKD stage 3 later re-staged 1-2). The diagnosis and the resolved code both fall before the
  window, so the rules must keep them off the register.
- **re-diagnosed**: some people with asthma or depression had an earlier episode coded and
  resolved before the current diagnosis, so the latest code is a diagnosis again: on the register.
- **coded, untreated**: people with an asthma or epilepsy code and no asthma or anti-epileptic
  prescriptions: off the register (QOF requires treatment in the last 12 / 6 months).
- **palliative care**: a palliative care code (PALCARE_COD) in the last year of life of about
  half the people who die with a serious condition and a quarter of other deaths, and for a
  few living people with cancer, dementia or heart failure aged 65+; a few are later coded
  "palliative care not clinically indicated" (PALCARENI_COD).

Rates are phm assumptions (documented in docs/synthetic-icb.md), not published figures.
Draws use their own random stream, so the rest of the synthetic ICB is unchanged by them.
"""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa

from phm.synth.context import Chunk

YEAR = 365
# condition -> (share of eligible people without the condition with a resolved history,
#               minimum age at the window start, resolved cluster)
RESOLVED_HISTORY = {
    "asthma": (0.05, 8, "astres_cod"),
    "hypertension": (0.01, 30, "hypres_cod"),
    "diabetes": (0.002, 30, "dmres_cod"),
    "depression": (0.04, 20, "depres_cod"),
    "copd": (0.001, 40, "copdres_cod"),
    "heart_failure": (0.002, 50, "hfres_cod"),
    "epilepsy": (0.002, 20, "epilres_cod"),
    "ckd": (0.015, 40, "ckd1and2_cod"),
}
REDIAGNOSED = {"asthma": 0.10, "depression": 0.10}  # share of the register with an earlier resolved episode
UNTREATED = {"asthma": (0.01, 8), "epilepsy": (0.002, 20)}  # coded, never treated: share, minimum age
PALLIATIVE_DYING = (0.55, 0.25)  # with / without cancer, dementia, heart failure, COPD or CKD
PALLIATIVE_LIVING = 0.04  # people 65+ with cancer, dementia or heart failure
PALLIATIVE_WITHDRAWN = 0.05  # of living people on it: later "not clinically indicated"
# Autism and physical disabilities coded by the GP (Bridges to Health disability segment).
DISABILITY = {"autism": 0.012, "cerebral_palsy": 0.002, "multiple_sclerosis": 0.002, "motor_neurone_disease": 0.0001}


def cluster_codes(name: str) -> np.ndarray:
    from phm.refdata._io import data_path

    with data_path(f"codelists/pcd_refsets/{name}.csv").open(encoding="utf-8-sig") as f:
        return np.asarray(sorted(r["code"].strip() for r in csv.DictReader(f)), dtype=object)


def codes(ch: Chunk, rng, snomed_by_condition: dict[str, np.ndarray]) -> pa.Table:
    """The extra GP events (same columns as :func:`phm.synth.primary.events`)."""
    persons, days, out_codes = [], [], []

    def add(who, day, pool):
        persons.append(who)
        days.append(np.asarray(day, np.int64))
        out_codes.append(pool[rng.integers(0, pool.size, who.size)])

    age = ch.age0.astype(np.int64)
    dob = ch.dob_day.astype(np.int64)
    for cid, (share, min_age, resolved) in RESOLVED_HISTORY.items():
        who = np.flatnonzero(~ch.cond_col(cid) & (age >= min_age) & (rng.random(ch.n) < share))
        first = np.maximum(dob[who] + 5 * YEAR, -15 * YEAR)
        dx = first + (rng.random(who.size) * np.maximum(-YEAR - first, 1)).astype(np.int64)
        res = dx + 30 + (rng.random(who.size) * np.maximum(-1 - dx - 30, 1)).astype(np.int64)
        add(who, dx, snomed_by_condition[cid])
        add(who, np.minimum(res, -1), cluster_codes(resolved))
    for cid, share in REDIAGNOSED.items():
        j = ch.cond_col(cid)
        onset = ch.onset_day[:, _index(cid)].astype(np.int64)
        old = onset - 2 * YEAR - (rng.random(ch.n) * 4 * YEAR).astype(np.int64)
        who = np.flatnonzero(j & (rng.random(ch.n) < share) & (old > dob + 3 * YEAR))
        add(who, old[who], snomed_by_condition[cid])
        add(who, onset[who] - 60 - (rng.random(who.size) * 300).astype(np.int64), cluster_codes(RESOLVED_HISTORY[cid][2]))
    for cid, (share, min_age) in UNTREATED.items():
        who = np.flatnonzero(~ch.cond_col(cid) & (age >= min_age) & (rng.random(ch.n) < share))
        add(who, -(rng.random(who.size) * 10 * YEAR).astype(np.int64) - 1, snomed_by_condition[cid])
    _palliative(ch, rng, add)
    for refset, share in DISABILITY.items():
        who = np.flatnonzero(rng.random(ch.n) < share)
        add(who, np.maximum(dob[who] + 2 * YEAR, -20 * YEAR) + (rng.random(who.size) * YEAR).astype(np.int64),
            _gp_refset(refset))
    if not persons:
        return _empty()
    person = np.concatenate(persons)
    day = np.concatenate(days)
    code = np.concatenate(out_codes)
    return pa.table({
        "nhs_number": ch.nhs_str.take(pa.array(person)),
        "event_date": ch.date(day),
        "snomed_code": pa.array(code, pa.string()),
        "value": pa.array(np.full(person.size, np.nan), pa.float64(), from_pandas=True),
        "practice_code": ch.practice_codes.take(pa.array(person)),
    })


def _palliative(ch: Chunk, rng, add) -> None:
    pal = cluster_codes("palcare_cod")
    serious = ch.cond[:, [_index(c) for c in ("cancer", "dementia", "heart_failure", "copd", "ckd")]].any(axis=1)
    dies = ch.death_day >= 0
    p = np.where(serious, PALLIATIVE_DYING[0], PALLIATIVE_DYING[1])
    who = np.flatnonzero(dies & (rng.random(ch.n) < p))
    day = ch.death_day[who].astype(np.int64) - 14 - (rng.random(who.size) * 350).astype(np.int64)
    add(who, day, pal)
    living_pool = ch.cond[:, [_index(c) for c in ("cancer", "dementia", "heart_failure")]].any(axis=1)
    living = np.flatnonzero(~dies & living_pool & (ch.age0 >= 65) & (rng.random(ch.n) < PALLIATIVE_LIVING))
    lday = (rng.random(living.size) * ch.cfg.window_days).astype(np.int64) - YEAR
    add(living, lday, pal)
    gone = living[rng.random(living.size) < PALLIATIVE_WITHDRAWN]
    add(gone, np.full(gone.size, ch.cfg.window_days - 30, np.int64), cluster_codes("palcareni_cod"))


def _gp_refset(name: str) -> np.ndarray:
    from phm.refdata._io import data_path

    with data_path(f"codelists/gp_refsets/{name}.csv").open(encoding="utf-8-sig") as f:
        return np.asarray(sorted(r["CODE"].strip() for r in csv.DictReader(f)), dtype=object)


def _index(condition: str) -> int:
    from phm.synth.definitions import condition_ids

    return condition_ids().index(condition)


def _empty() -> pa.Table:
    return pa.table({"nhs_number": pa.array([], pa.string()), "event_date": pa.array([], pa.date32()),
                     "snomed_code": pa.array([], pa.string()), "value": pa.array([], pa.float64()),
                     "practice_code": pa.array([], pa.string())})
