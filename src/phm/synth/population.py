"""Who the people are: residence, practice, age, sex, ethnicity, conditions, death.

Built once for the whole ICB (a million persons is ~300 MB of arrays); activity is
then generated chunk by chunk from these arrays.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from phm.codes import nhs_check_digits_array
from phm.synth import model
from phm.synth.config import SynthConfig
from phm.synth.definitions import activity_targets, choose_rows, conditions

# England ethnic mix, Census 2021 (ONS, TS021), by NHS ethnic category code.
ETHNIC_MIX = {
    "A": 0.735, "B": 0.009, "C": 0.064, "D": 0.009, "E": 0.005, "F": 0.009, "G": 0.007,
    "H": 0.033, "J": 0.027, "K": 0.011, "L": 0.016, "M": 0.011, "N": 0.025, "P": 0.005,
    "R": 0.008, "S": 0.026,
}
# Odds of a minority ethnic group in the most deprived decile against the least
# (minority groups are concentrated in deprived urban areas): an assumption.
MINORITY_DEPRIVATION_RATIO = 2.5
ETHNICITY_NOT_STATED = 0.045  # recorded as Z (not stated)
ETHNICITY_NOT_KNOWN = 0.025  # recorded as 99 (not known)
JOINERS = 0.08  # share registering during the window
LEAVERS_PER_YEAR = 0.03  # share of registrations ending each year (moved away)


@dataclass
class Population:
    """Column arrays, one row per registered person (index = person id)."""

    nhs: np.ndarray  # int64, valid test-range numbers
    unregistered_pool: np.ndarray  # int64 valid numbers not on any list
    dob_day: np.ndarray  # days from window start (negative)
    age0: np.ndarray  # age in whole years at window start
    male: np.ndarray
    lsoa: np.ndarray  # index into lsoa table
    practice: np.ndarray  # index into practice table
    decile: np.ndarray  # IMD 2025 decile of the LSOA
    ethnic: np.ndarray  # str codes
    latent: np.ndarray  # (n, 3) general, cardiometabolic, mental
    frailty: np.ndarray  # mean-1 log-normal multiplier
    cond: np.ndarray  # (n, C) bool
    cond_prob: np.ndarray  # (n, C) probability used for the draw
    onset_day: np.ndarray  # (n, C) int32 days from start (<=0), -999999 if none
    reg_start: np.ndarray  # day registered (<=0 if before the window)
    reg_end: np.ndarray  # day registration ended (window_days if still registered)
    death_day: np.ndarray  # day of death (-1 if alive at window end)
    death_place: np.ndarray  # str: hospital, home, care_home, hospice, other ('' alive)
    t0: np.ndarray  # exposure start (day)
    t1: np.ndarray  # exposure end, exclusive (day)
    lsoa_codes: pa.Table = field(repr=False)
    practices: pa.Table = field(repr=False)
    base: dict[str, float] = field(default_factory=dict)
    death_base: float = 0.0

    @property
    def n(self) -> int:
        return int(self.nhs.shape[0])

    @property
    def n_ltc(self) -> np.ndarray:
        return self.cond.sum(axis=1)


def valid_test_numbers() -> np.ndarray:
    """Every valid NHS number in the test range 999 000 0000 - 999 999 9999, ascending."""
    first9 = np.arange(999_000_000, 1_000_000_000, dtype=np.int64)
    check = nhs_check_digits_array(first9)
    ok = check >= 0
    numbers = first9[ok] * 10 + check[ok]
    return numbers[numbers != 9_999_999_999]  # repeated digits are not valid


UNREGISTERED_POOL = 9_000  # people who appear in activity but are not on the patients list
# Not a secret: it stands for the salt a data service for commissioners keeps to itself.
_SUPPLIER_SALT = b"phm synthetic supplier pseudonymisation salt v1"


def identifiers(cfg: SynthConfig, numbers: np.ndarray) -> pa.Array:
    """What a feed carries for these people: the NHS number, or (``--identity pseudonymised``)
    the supplier's pseudonym, 64 upper-case hexadecimal characters of HMAC-SHA256 as Open
    Pseudonymiser writes them, the same in every dataset."""
    if cfg.identity != "pseudonymised":
        return pa.array(numbers, pa.int64()).cast(pa.string())
    salt = hmac.new(_SUPPLIER_SALT, str(cfg.seed).encode(), "sha256").digest()
    return pa.array([hmac.new(salt, b"%d" % x, "sha256").hexdigest().upper() for x in numbers.tolist()],
                    pa.string())


def _weighted_choice(rng, n: int, weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(weights) - 1)


def person_numbers(cfg: SynthConfig, rng: np.random.Generator, total: int) -> np.ndarray:
    """Distinct numbers for ``total`` people: test-range NHS numbers, or (pseudonymised) the
    supplier's record numbers, turned into tokens on output."""
    if cfg.identity == "pseudonymised":
        return rng.permutation(total).astype(np.int64) + 1
    return rng.permutation(valid_test_numbers())[:total]


def build_population(cfg: SynthConfig, rng: np.random.Generator,
                     numbers: tuple[np.ndarray, np.ndarray] | None = None) -> Population:
    """The people of ``cfg.icb``; ``numbers`` (theirs, and the unregistered pool's) are given
    when several ICBs share one extract and so one number space."""
    from phm.refdata import icb_lsoas, icb_practices

    lsoas = icb_lsoas(cfg.icb)
    practices = icb_practices(cfg.icb)
    practices = practices.filter(pa.compute.greater(practices["registered_population"], 0))
    n = cfg.persons

    if numbers is None:
        numbers = person_numbers(cfg, rng, n + UNREGISTERED_POOL)
        nhs, unregistered_pool = numbers[:n], numbers[n : n + UNREGISTERED_POOL]
    else:
        nhs, unregistered_pool = numbers

    # Practice in proportion to its registered list; home LSOA in the practice's LA.
    practice = _weighted_choice(rng, n, practices["registered_population"].to_numpy())
    p_lad = np.asarray(practices["lad_code"].to_pylist(), dtype=object)
    l_lad = np.asarray(lsoas["ltla24_code"].to_pylist(), dtype=object)
    l_pop = np.nan_to_num(lsoas["population"].to_numpy(zero_copy_only=False).astype(float), nan=1500.0)
    lsoa = np.empty(n, dtype=np.int64)
    for lad in np.unique(p_lad[practice]):
        who = np.flatnonzero(p_lad[practice] == lad)
        cand = np.flatnonzero(l_lad == lad)
        if cand.size == 0:  # a practice just over the boundary: any LSOA of the ICB
            cand = np.arange(len(l_lad))
        lsoa[who] = cand[_weighted_choice(rng, who.size, l_pop[cand])]
    decile = lsoas["imd_decile"].to_numpy(zero_copy_only=False).astype(np.int16)[lsoa]

    # Age and sex: England's pyramid.
    ages, persons = model.england_structure()
    age0 = _weighted_choice(rng, n, persons).astype(np.int16)
    male = rng.random(n) < model.male_share(age0)
    dob_day = -(age0.astype(np.int64) * 365 + rng.integers(0, 365, n)) - (age0 // 4)

    # Ethnicity: England's mix, tilted towards minority groups in deprived areas.
    codes = np.array(list(ETHNIC_MIX), dtype=object)
    base = np.array(list(ETHNIC_MIX.values()))
    tilt = model.dep_factor(MINORITY_DEPRIVATION_RATIO, decile)
    w = np.where(codes == "A", 1.0, 1.0)[None, :] * base[None, :]
    w = np.where((codes != "A")[None, :], w * tilt[:, None], w)
    ethnic = codes[choose_rows(rng, w)]
    u = rng.random(n)
    ethnic = np.where(u < ETHNICITY_NOT_STATED, "Z", ethnic)
    ethnic = np.where((u >= ETHNICITY_NOT_STATED) & (u < ETHNICITY_NOT_STATED + ETHNICITY_NOT_KNOWN), "99", ethnic)

    # Conditions: calibrated logistic model with shared latent factors.
    latent = rng.standard_normal((n, 3))
    cond_prob = model.condition_probabilities(age0, male, decile, latent)
    cond = rng.random(cond_prob.shape) < cond_prob
    frailty = np.exp(model.FRAILTY_SD * latent[:, 0] - model.FRAILTY_SD**2 / 2)
    onset_day = np.full(cond.shape, -999_999, dtype=np.int32)
    for j, c in enumerate(conditions()):
        earliest = np.maximum(dob_day + c.onset_min_age * 365, -15 * 365)
        span = np.maximum(-earliest, 1)
        day = (earliest + rng.random(n) * span).astype(np.int32)
        onset_day[:, j] = np.where(cond[:, j], np.minimum(day, 0), -999_999)

    # Registration: most registered before the window; some join, some leave.
    W = cfg.window_days
    reg_start = -rng.integers(30, 20 * 365, n)
    reg_start = np.maximum(reg_start, dob_day)
    joiners = rng.random(n) < JOINERS
    reg_start = np.where(joiners, rng.integers(1, W, n), reg_start)
    leave = rng.random(n) < 1 - (1 - LEAVERS_PER_YEAR) ** cfg.years
    reg_end = np.where(leave, rng.integers(1, W + 1, n), W)
    reg_end = np.where(reg_end <= reg_start, W, reg_end)

    pop = Population(
        nhs=nhs, unregistered_pool=unregistered_pool, dob_day=dob_day, age0=age0, male=male,
        lsoa=lsoa, practice=practice, decile=decile, ethnic=ethnic, latent=latent,
        frailty=frailty, cond=cond, cond_prob=cond_prob, onset_day=onset_day,
        reg_start=reg_start, reg_end=reg_end, death_day=np.full(n, -1),
        death_place=np.full(n, "", dtype=object), t0=np.maximum(reg_start, 0), t1=reg_end,
        lsoa_codes=lsoas, practices=practices,
    )
    _calibrate(pop)
    _draw_deaths(cfg, pop, rng)
    return pop


def _calibrate(pop: Population) -> None:
    """Solve base rates so the England-weighted mean equals each national target."""
    t = activity_targets()
    wts = model.england_decile_weights(pop.decile)
    targets = {
        "emergency": t["emergency_admissions"], "elective": t["elective_daycase"] + t["elective_ordinary"],
        "op": t["op_appointments"], "ae": t["ae_attendances"] - 0.7 * t["emergency_admissions"],
        "gp": t["gp_appointments"], "community": t["community_contacts"], "mh": t["mh_contacts"],
        "social_care": t["social_care_long_term"],
    }
    for setting, target in targets.items():
        rel = model.relative_rate(setting, pop.age0, pop.male, pop.decile, pop.cond, pop.frailty)
        pop.base[setting] = target * wts.sum() / float((wts * rel).sum())
    h = model.death_relative_hazard(pop.age0, pop.decile, pop.cond)
    target = t["deaths"]
    pop.death_base = brent_death(h, wts, target)


def brent_death(h, wts, target) -> float:
    from scipy.optimize import brentq

    def gap(log_b: float) -> float:
        return float((wts * (1 - np.exp(-np.exp(log_b) * h))).sum() / wts.sum()) - target

    return float(np.exp(brentq(gap, -30, 5, xtol=1e-12)))


def _draw_deaths(cfg: SynthConfig, pop: Population, rng) -> None:
    """Exponential time to death from the person's hazard; place of death by published shares."""
    t = activity_targets()
    h = pop.death_base * model.death_relative_hazard(pop.age0, pop.decile, pop.cond)
    days = rng.exponential(365.25 / h)
    death = pop.t0 + days
    dies = (death < pop.t1) & (pop.t1 > pop.t0)
    pop.death_day = np.where(dies, death.astype(np.int64), -1)
    pop.t1 = np.where(dies, pop.death_day, pop.t1)
    pop.reg_end = np.where(dies, pop.death_day, pop.reg_end)
    places = np.array(["hospital", "home", "care_home", "hospice", "other"], dtype=object)
    shares = np.array([t["death_in_hospital"], t["death_at_home"], t["death_in_care_home"], t["death_in_hospice"]])
    shares = np.append(shares, 1 - shares.sum())
    place = places[_weighted_choice(rng, pop.n, shares)]
    pop.death_place = np.where(dies, place, "")


def dates_from_days(start: dt.date, days: np.ndarray) -> pa.Array:
    """Day offsets from ``start`` as an Arrow date32 array."""
    epoch = (start - dt.date(1970, 1, 1)).days
    return pa.array(np.asarray(days, dtype=np.int32) + epoch, type=pa.int32()).cast(pa.date32())

