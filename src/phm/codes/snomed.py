"""SNOMED CT identifiers (SCTIDs): length, partition and Verhoeff check digit.

Definition: SNOMED International, *SNOMED CT Technical Implementation Guide*,
section "SCTID Data Type" and its "Verhoeff check digit" and "Partition
identifier" subsections (https://confluence.ihtsdotools.org/display/DOCTIG).
An SCTID is a positive integer written in decimal with 6 to 18 digits and no
leading zero. Read from the right:

* the last digit is a check digit computed with Verhoeff's dihedral-group
  algorithm (J. Verhoeff, *Error Detecting Decimal Codes*, 1969), which catches
  every single-digit error and every transposition of adjacent digits;
* the next two digits are the partition identifier, saying what kind of
  component the SCTID names and whether it carries a namespace
  (:data:`SCTID_PARTITIONS`);
* for a ``1x`` partition the seven digits before the partition identifier are
  the namespace identifier (UK extension: ``1000000``, e.g.
  ``1239331000000100``), so such an SCTID has at least 11 digits.

Whether an SCTID is active, or names a concept in a particular release, is a
reference-data question and is not answered here.
"""

from __future__ import annotations

import numbers
import re

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = [
    "SCTID_PARTITIONS",
    "is_valid_sctid",
    "parse_sctid",
    "sctid_partition",
    "verhoeff_check_digit",
]

#: Partition identifier → what the SCTID identifies (SNOMED CT TIG).
SCTID_PARTITIONS: dict[str, str] = {
    "00": "concept",
    "01": "description",
    "02": "relationship",
    "03": "subset (RF1)",
    "04": "cross-map set (RF1)",
    "05": "cross-map target (RF1)",
    "10": "concept in an extension",
    "11": "description in an extension",
    "12": "relationship in an extension",
    "13": "subset in an extension (RF1)",
    "14": "cross-map set in an extension (RF1)",
    "15": "cross-map target in an extension (RF1)",
}

_SYSTEM = "SNOMED CT identifier"


def _dihedral_product(j: int, k: int) -> int:
    """Multiply elements of the dihedral group D5, numbered 0–4 rotations, 5–9 reflections."""
    if j < 5:
        return (j + k) % 5 + (5 if k >= 5 else 0)
    return (j - k) % 5 + (0 if k >= 5 else 5)


# Verhoeff's tables, derived rather than transcribed: the D5 multiplication
# table, the powers of the position permutation (0 1 5 8 9 4 2 7)(3 6), and
# the group inverse of each element.
_MULT = tuple(tuple(_dihedral_product(j, k) for k in range(10)) for j in range(10))
_STEP = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)
_PERM: list[tuple[int, ...]] = [tuple(range(10))]
for _ in range(7):
    _PERM.append(tuple(_STEP[x] for x in _PERM[-1]))
_INVERSE = tuple(next(k for k in range(10) if _MULT[j][k] == 0) for j in range(10))


def _verhoeff_state(digits: str, offset: int) -> int:
    state = 0
    for i, ch in enumerate(reversed(digits)):
        state = _MULT[state][_PERM[(i + offset) % 8][ord(ch) - 48]]
    return state


def verhoeff_check_digit(digits: str) -> int:
    """The Verhoeff check digit to append to ``digits`` (a non-empty digit string)."""
    if not isinstance(digits, str) or not re.fullmatch(r"[0-9]+", digits):
        raise InvalidCode(
            f"Verhoeff check digit needs a string of digits, got {shown(str(digits))}",
            system=_SYSTEM,
            rule="non_digit",
        )
    return _INVERSE[_verhoeff_state(digits, 1)]


def _clean(s: str | int) -> str:
    if isinstance(s, bool) or not isinstance(s, str | numbers.Integral):
        raise TypeError(f"an SCTID must be a str or int, not {type(s).__name__}")
    return clean(s) if isinstance(s, str) else str(int(s))


def parse_sctid(s: str | int) -> str:
    """Return the SCTID as a digit string, or raise :class:`InvalidCode`.

    Rules, in order (``err.rule``): ``empty``, ``non_digit``, ``leading_zero``,
    ``length`` (6–18 digits), ``partition``, ``namespace`` (a ``1x`` partition
    needs a seven-digit namespace) and ``check_digit`` (Verhoeff).
    """
    code = _clean(s)
    if not code:
        raise InvalidCode("SNOMED CT identifier is empty", system=_SYSTEM, rule="empty")

    def fail(why: str, rule: str) -> InvalidCode:
        return InvalidCode(f"SNOMED CT identifier {shown(code)} {why}", system=_SYSTEM, rule=rule)

    if not re.fullmatch(r"[0-9]+", code):
        raise fail("must contain only digits", "non_digit")
    if code[0] == "0":
        raise fail("must not start with 0", "leading_zero")
    if not 6 <= len(code) <= 18:
        raise fail(f"has {len(code)} digits; an SCTID has 6 to 18", "length")
    partition = code[-3:-1]
    if partition not in SCTID_PARTITIONS:
        raise fail(
            f"has partition identifier '{partition}' (second and third digits from the "
            "right); expected one of " + ", ".join(SCTID_PARTITIONS),
            "partition",
        )
    if partition[0] == "1" and len(code) < 11:
        raise fail(
            f"has extension partition '{partition}' but is too short to hold a "
            "seven-digit namespace identifier (needs at least 11 digits)",
            "namespace",
        )
    expected = verhoeff_check_digit(code[:-1])
    if expected != int(code[-1]):
        raise fail(
            f"fails the Verhoeff check (expected check digit {expected}, got {code[-1]})",
            "check_digit",
        )
    return code


def is_valid_sctid(s: object) -> bool:
    """True if ``s`` is a well-formed SCTID (see :func:`parse_sctid`)."""
    try:
        parse_sctid(s)  # type: ignore[arg-type]
    except (InvalidCode, TypeError):
        return False
    return True


def sctid_partition(s: str | int) -> str:
    """The partition identifier of a valid SCTID, e.g. ``'00'`` for a core concept."""
    return parse_sctid(s)[-3:-1]
