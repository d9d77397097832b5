"""Disease-register age floors: who counts in a condition's prevalence denominator.

QOF registers count only patients of a minimum age on the achievement date, and the list
size they are divided by is the practice list of that age. The floors are the ``min_age``
column of the QOF register rules, ``phm/model/definitions/qof_registers.csv`` (NHS England
QOF business rules v49 2024/25: diabetes 17+, asthma 6+, CKD 3-5 18+, depression 18+,
epilepsy 18+, osteoporosis 50+, rheumatoid arthritis 16+; all other registers all ages).
These are the same floors the synthetic ICB's calibration uses
(``phm.synth`` ``conditions_model.csv`` ``denominator_min_age``; a test keeps them equal).
Age is whole years on the financial year end (``person_year.age_year_end``), as in QOF.
"""

from __future__ import annotations


def _floors() -> dict[str, int]:
    from phm.model.registers import register_definitions

    return {r["condition"]: int(r["min_age"]) for r in register_definitions() if int(r["min_age"])}


REGISTER_MIN_AGE = _floors()


def min_age(condition: str) -> int:
    """The register's age floor (0 for a register of all ages)."""
    return REGISTER_MIN_AGE.get(condition, 0)


def conditions_in(t) -> list[str]:
    """phm conditions (``phm.refdata.conditions()`` order) that ``t`` has a ``cond_`` flag for."""
    from phm import refdata

    return [c.id for c in refdata.conditions() if f"cond_{c.id}" in t.columns]
