"""The generative model: condition risk, death hazard and activity rates.

Each quantity is a log-linear (or logistic) function of age, sex, IMD decile,
conditions and latent health factors. Shapes (age curves, odds ratios) are
documented assumptions; levels are *calibrated* so that, on England's age/sex
structure with every IMD decile equally represented, the model reproduces the
published national figure (``synth/data/*.csv`` names each source). See
``docs/synthetic-icb.md``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from phm.synth.definitions import Condition, condition_ids, conditions

AGES = np.arange(0, 100)

# Shape assumptions: relative activity by age at these knots (linear between).
AGE_KNOTS = np.array([0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 99])
AGE_CURVES: dict[str, list[float]] = {
    "emergency": [1.0, 0.35, 0.35, 0.5, 0.55, 0.65, 0.85, 1.3, 2.3, 4.2, 5.5, 5.5],
    "elective": [0.15, 0.15, 0.2, 0.35, 0.5, 0.8, 1.2, 1.8, 2.2, 1.6, 0.9, 0.9],
    "op": [0.6, 0.5, 0.45, 0.6, 0.75, 0.9, 1.1, 1.5, 1.9, 1.8, 1.3, 1.3],
    "ae": [1.6, 0.9, 1.0, 1.2, 1.0, 0.9, 0.85, 0.9, 1.2, 1.9, 2.5, 2.5],
    "gp": [1.4, 0.6, 0.55, 0.75, 0.85, 0.95, 1.1, 1.4, 1.8, 2.1, 2.2, 2.2],
    "community": [0.6, 0.2, 0.15, 0.1, 0.12, 0.18, 0.3, 0.6, 1.6, 4.5, 8.0, 8.0],
    "mh": [0.1, 0.6, 1.4, 1.3, 1.1, 1.0, 0.8, 0.6, 0.7, 1.2, 1.4, 1.4],
    "social_care": [0.0, 0.0, 0.0, 0.2, 0.25, 0.3, 0.5, 1.0, 3.0, 10.0, 20.0, 20.0],
}
# Multiplier per condition: rate x (1 + m) when the person has the condition.
CONDITION_EFFECTS: dict[str, dict[str, float]] = {
    "emergency": {"heart_failure": 1.5, "copd": 1.2, "ckd": 0.5, "dementia": 0.8, "cancer": 0.8,
                  "diabetes": 0.3, "chd": 0.4, "atrial_fibrillation": 0.3, "stroke_tia": 0.4,
                  "smi": 0.5, "learning_disability": 0.5, "epilepsy": 0.6, "depression": 0.2,
                  "asthma": 0.3, "hypertension": 0.1, "osteoporosis": 0.2,
                  "rheumatoid_arthritis": 0.2, "pad": 0.4},
    "elective": {"cancer": 1.5, "diabetes": 0.2, "osteoporosis": 0.3, "rheumatoid_arthritis": 0.4},
    "op": {"cancer": 2.0, "diabetes": 0.4, "chd": 0.4, "heart_failure": 0.5, "ckd": 0.4,
           "rheumatoid_arthritis": 0.8, "epilepsy": 0.4, "copd": 0.3, "atrial_fibrillation": 0.3},
    "ae": {"smi": 1.0, "depression": 0.4, "copd": 0.4, "heart_failure": 0.4, "epilepsy": 0.6,
           "dementia": 0.4, "learning_disability": 0.3, "asthma": 0.2},
    "gp": {"depression": 0.4, "diabetes": 0.3, "copd": 0.3, "hypertension": 0.2, "asthma": 0.2,
           "heart_failure": 0.3, "cancer": 0.4, "ckd": 0.2, "smi": 0.3},
    "community": {"heart_failure": 1.0, "dementia": 1.0, "copd": 0.5, "diabetes": 0.3,
                  "stroke_tia": 0.6, "learning_disability": 0.5},
    "mh": {"smi": 8.0, "depression": 1.5, "dementia": 2.0, "learning_disability": 1.0},
    "social_care": {"dementia": 3.0, "learning_disability": 6.0, "stroke_tia": 0.5,
                    "heart_failure": 0.5},
}
# Rate ratio, most deprived decile (1) against least (10), *holding age, sex and
# conditions fixed*; conditions add their own deprivation gradient on top.
DEPRIVATION_RATIO = {"emergency": 1.5, "elective": 0.9, "op": 1.0, "ae": 1.6, "gp": 1.15,
                     "community": 1.2, "mh": 1.5, "social_care": 1.4, "death": 1.5}
# Exponent on the latent frailty for each setting (0 = no extra clustering).
FRAILTY_POWER = {"emergency": 1.0, "elective": 0.3, "op": 0.5, "ae": 1.0, "gp": 0.5,
                 "community": 1.0, "mh": 0.5, "social_care": 1.0}
FEMALE_RATIO = {"gp": 1.25, "op": 1.15}
DEATH_AGE_SLOPE = 0.095  # Gompertz slope per year of age
DEATH_HR = {"heart_failure": 2.5, "cancer": 2.5, "dementia": 3.0, "copd": 1.8, "ckd": 1.5,
            "chd": 1.3, "stroke_tia": 1.5, "diabetes": 1.3, "atrial_fibrillation": 1.3,
            "learning_disability": 2.0, "smi": 1.8}
FRAILTY_SD = 0.5  # log-sd of the latent frailty multiplier (mean 1)
READMISSION = {"intercept": -2.3, "age": 0.012, "ltc": 0.12}


def dep_factor(ratio: float, decile: np.ndarray) -> np.ndarray:
    """Multiplier for IMD decile d: ratio at d=1 relative to 1 at d=10, log-linear."""
    return np.power(ratio, (10 - np.asarray(decile, dtype=float)) / 9.0)


def male_share(age: np.ndarray) -> np.ndarray:
    """Share of males by single year of age (England pattern, ONS mid-year estimates)."""
    knots = [0, 20, 40, 60, 70, 80, 85, 90, 99]
    share = [0.512, 0.510, 0.495, 0.490, 0.478, 0.445, 0.410, 0.355, 0.270]
    return np.interp(age, knots, share)


@cache
def england_structure() -> tuple[np.ndarray, np.ndarray]:
    """Persons by single year of age 0-99 (England, ONS mid-2020; 90+ spread geometrically)."""
    from phm.refdata import england_population_by_age

    table = england_population_by_age()
    ages = table["age"].to_numpy()
    persons = table["persons"].to_numpy().astype(float)
    by_age = np.zeros(100)
    by_age[ages[ages < 90]] = persons[ages < 90]
    tail = 0.78 ** np.arange(10)
    by_age[90:] = persons[ages == 90].sum() * tail / tail.sum()
    return AGES.astype(float), by_age


def age_curve(setting: str, age: np.ndarray) -> np.ndarray:
    return np.interp(age, AGE_KNOTS, AGE_CURVES[setting])


def condition_logit_fixed(c: Condition, age: np.ndarray, male: np.ndarray, decile: np.ndarray) -> np.ndarray:
    s = (np.asarray(age, float) - 60.0) / 10.0
    return (c.age_b1 * s + c.age_b2 * s * s + np.log(c.male_or) * male
            + np.log(c.dep_or_d1_d10) * (10 - np.asarray(decile, float)) / 9.0)


@cache
def condition_intercepts() -> dict[str, float]:
    """Solve each condition's intercept so England's prevalence equals the published target.

    The target is recorded prevalence among people of the register's age band
    (QOF). Expectation is over England's age/sex structure, IMD deciles in equal
    shares, and the latent factors (Gauss-Hermite quadrature over their sum).
    """
    ages, persons = england_structure()
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(32)
    gh_w = gh_w / gh_w.sum()
    deciles = np.arange(1, 11)
    out = {}
    for c in conditions():
        sigma = float(np.sqrt(sum(v * v for v in c.latent)))
        a, sx, d = np.meshgrid(ages, [0.0, 1.0], deciles, indexing="ij")
        w = persons[:, None, None] * np.where(sx == 1, male_share(a), 1 - male_share(a)) / 10.0
        in_denom = a >= c.denominator_min_age
        can_have = a >= c.onset_min_age
        fixed = condition_logit_fixed(c, a, sx, d)

        def prevalence(alpha: float, fixed=fixed, w=w, sigma=sigma, in_denom=in_denom, can_have=can_have) -> float:
            p = np.zeros_like(fixed)
            for x, wx in zip(gh_x, gh_w, strict=True):
                p += wx * expit(alpha + fixed + sigma * x)
            p = np.where(can_have, p, 0.0)
            return float((p * w * in_denom).sum() / (w * in_denom).sum())

        out[c.id] = brentq(lambda al: prevalence(al) - c.target_prevalence, -30, 10, xtol=1e-12)
    return out


def model_national_prevalence(condition: str) -> float:
    """The calibrated model's England prevalence (equals the target; used by tests)."""
    ages, persons = england_structure()
    c = next(x for x in conditions() if x.id == condition)
    alpha = condition_intercepts()[condition]
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(32)
    gh_w = gh_w / gh_w.sum()
    sigma = float(np.sqrt(sum(v * v for v in c.latent)))
    num = den = 0.0
    for d in range(1, 11):
        for male in (0.0, 1.0):
            wa = persons * (male_share(ages) if male else 1 - male_share(ages)) / 10
            fixed = condition_logit_fixed(c, ages, np.full_like(ages, male), np.full_like(ages, d))
            p = sum(wx * expit(alpha + fixed + sigma * x) for x, wx in zip(gh_x, gh_w, strict=True))
            p = np.where(ages >= c.onset_min_age, p, 0.0)
            m = ages >= c.denominator_min_age
            num += float((p * wa * m).sum())
            den += float((wa * m).sum())
    return num / den


def condition_probabilities(age, male, decile, latent) -> np.ndarray:
    """P(condition) per person (rows) and condition (columns), given the latent factors."""
    cols = []
    icpt = condition_intercepts()
    for c in conditions():
        z = latent @ np.asarray(c.latent)
        p = expit(icpt[c.id] + condition_logit_fixed(c, age, male, decile) + z)
        cols.append(np.where(age >= c.onset_min_age, p, 0.0))
    return np.column_stack(cols)


def relative_rate(setting: str, age, male, decile, cond, frailty) -> np.ndarray:
    """Rate relative to the setting's calibrated base, before the base is applied."""
    ids = condition_ids()
    r = age_curve(setting, age) * dep_factor(DEPRIVATION_RATIO[setting], decile)
    for cid, m in CONDITION_EFFECTS.get(setting, {}).items():
        r = r * (1.0 + m * cond[:, ids.index(cid)])
    r = r * np.power(frailty, FRAILTY_POWER[setting])
    if setting in FEMALE_RATIO:
        r = r * np.where(male, 1.0, FEMALE_RATIO[setting])
    return r


def death_relative_hazard(age, decile, cond) -> np.ndarray:
    ids = condition_ids()
    h = np.exp(DEATH_AGE_SLOPE * (np.asarray(age, float) - 80.0)) * dep_factor(DEPRIVATION_RATIO["death"], decile)
    for cid, hr in DEATH_HR.items():
        h = h * np.where(cond[:, ids.index(cid)], hr, 1.0)
    return h


def readmission_probability(age, n_ltc) -> np.ndarray:
    """P(emergency readmission within 30 days of an emergency discharge)."""
    r = READMISSION
    return expit(r["intercept"] + r["age"] * (np.asarray(age, float) - 60) + r["ltc"] * n_ltc)


def with_odds_ratio(p: np.ndarray, odds_ratio: np.ndarray) -> np.ndarray:
    """Probabilities ``p`` with their odds multiplied by ``odds_ratio``."""
    odds = p / (1.0 - p) * odds_ratio
    return odds / (1.0 + odds)


def england_decile_weights(decile: np.ndarray) -> np.ndarray:
    """Weights that give each IMD decile present an equal share, as in England."""
    present, counts = np.unique(decile, return_counts=True)
    share = dict(zip(present.tolist(), (counts / counts.sum()).tolist(), strict=True))
    return np.array([1.0 / (len(present) * share[d]) for d in decile.tolist()]) if len(decile) else decile
