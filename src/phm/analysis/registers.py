"""Disease-register age floors: who counts in a condition's prevalence denominator.

QOF registers count only patients of a minimum age, and the list size they are divided by
is the practice list of that age. Source: NHS England, Quality and Outcomes Framework
guidance 2023/24, register age criteria (diabetes 17+, asthma 6+, CKD 3-5 18+, depression 18+,
epilepsy 18+, osteoporosis 50+, rheumatoid arthritis 16+); every other phm condition counts
all ages.
These are the same floors the synthetic ICB's calibration uses
(``phm.synth`` ``conditions_model.csv`` ``denominator_min_age``; a test keeps them equal).
Age is the person-year's age at the start of the financial year.
"""

from __future__ import annotations

REGISTER_MIN_AGE = {
    "diabetes": 17,
    "asthma": 6,
    "ckd": 18,
    "depression": 18,
    "epilepsy": 18,
    "osteoporosis": 50,
    "rheumatoid_arthritis": 16,
}


def min_age(condition: str) -> int:
    """The register's age floor (0 for a register of all ages)."""
    return REGISTER_MIN_AGE.get(condition, 0)


def conditions_in(t) -> list[str]:
    """phm conditions (``phm.refdata.conditions()`` order) that ``t`` has a ``cond_`` flag for."""
    from phm import refdata

    return [c.id for c in refdata.conditions() if f"cond_{c.id}" in t.columns]
