"""NHS number: normalisation, modulus 11 validation and masking.

Definition: NHS Data Dictionary, data element *NHS NUMBER*
(https://www.datadictionary.nhs.uk/data_elements/nhs_number.html). An NHS number
is 10 digits; the 10th is a check digit computed from the first nine:

1. multiply digits 1–9 by the weights 10, 9, 8, 7, 6, 5, 4, 3 and 2;
2. sum the products and take the remainder on division by 11;
3. the check digit is 11 minus that remainder; 11 becomes 0, and 10 means
   the first nine digits can never form a valid NHS number.

The check detects every single-digit substitution. A number made of one digit
repeated ten times (``0000000000`` … ``9999999999``) passes it by construction,
but is never issued, so it is rejected here too. Numbers beginning ``999``
(:data:`NHS_TEST_RANGE`) are not issued to patients and are used for synthetic
and test data.

Spaces and hyphens are presentation only ("943 476 5919", "943-476-5919").
Integers are read as the digit string zero-padded to ten places, because
integer storage drops leading zeros.

Privacy: an NHS number identifies a person, so no message raised here ever
contains a whole one; values are shown masked by :func:`mask_nhs_number`
(e.g. ``'*******919'``).
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from phm.codes.errors import InvalidCode

__all__ = [
    "NHS_TEST_RANGE",
    "is_test_nhs_number",
    "is_valid_nhs_number",
    "mask_nhs_number",
    "nhs_check_digit",
    "nhs_check_digits_array",
    "normalise_nhs_number",
    "parse_nhs_number",
    "valid_nhs_number_array",
]

#: Inclusive range of the NHS numbers reserved for test data (first three digits 999).
NHS_TEST_RANGE: tuple[int, int] = (9990000000, 9999999999)

_SYSTEM = "NHS number"
_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_TEN_DIGITS = re.compile(r"[0-9]{10}")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_NON_DIGIT = re.compile(r"[^0-9]")
_REPDIGIT = 1111111111  # d repeated ten times == d * _REPDIGIT


def mask_nhs_number(value: str) -> str:
    """Mask all but the last three characters, e.g. ``'9434765919'`` → ``'*******919'``.

    Strings of three characters or fewer are masked completely. Safe for logs.
    """
    if len(value) <= 3:
        return "*" * len(value)
    return "*" * min(len(value) - 3, 20) + value[-3:]


def normalise_nhs_number(value: str | int | None) -> str | None:
    """Return ``value`` as a bare string of characters, or ``None`` if it is empty.

    Strings lose surrounding whitespace and any spaces or hyphens; integers are
    zero-padded to ten digits. Nothing is validated: use :func:`parse_nhs_number`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("an NHS number must be a str or int, not bool")
    if isinstance(value, numbers.Integral):
        number = int(value)
        return f"{number:010d}" if 0 <= number < 10**10 else str(number)
    if not isinstance(value, str):
        raise TypeError(f"an NHS number must be a str or int, not {type(value).__name__}")
    cleaned = value.strip().replace(" ", "").replace("-", "")
    return cleaned or None


def nhs_check_digit(first9: str) -> int | None:
    """Modulus 11 check digit for the first nine digits, or ``None`` if it would be 10.

    ``None`` means no valid NHS number starts with these nine digits.
    """
    if not isinstance(first9, str) or not _NINE_DIGITS.fullmatch(first9):
        shown = mask_nhs_number(str(first9))
        raise InvalidCode(
            f"NHS number check digit needs exactly nine digits, got '{shown}'",
            system=_SYSTEM,
            rule="format",
        )
    remainder = sum(int(d) * w for d, w in zip(first9, _WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        return 0
    return None if check == 10 else check


def parse_nhs_number(value: str | int | None) -> str:
    """Return the cleaned 10-digit NHS number, or raise :class:`InvalidCode`.

    Rules, in order (``err.rule``): ``empty``, ``non_digit``, ``length``,
    ``repeated_digits``, ``check_digit``. Messages mask the number.
    """
    s = normalise_nhs_number(value)
    if s is None:
        raise InvalidCode("NHS number is empty", system=_SYSTEM, rule="empty")
    masked = mask_nhs_number(s)
    bad = _NON_DIGIT.search(s)
    if bad is not None:
        raise InvalidCode(
            f"NHS number '{masked}' contains a character that is not a digit "
            f"(position {bad.start() + 1}); only digits, spaces and hyphens are allowed",
            system=_SYSTEM,
            rule="non_digit",
        )
    if not _TEN_DIGITS.fullmatch(s):
        raise InvalidCode(
            f"NHS number '{masked}' has {len(s)} digits; it must have exactly 10",
            system=_SYSTEM,
            rule="length",
        )
    if int(s) % _REPDIGIT == 0:
        raise InvalidCode(
            f"NHS number '{masked}' is one digit repeated ten times, which is never issued",
            system=_SYSTEM,
            rule="repeated_digits",
        )
    expected = nhs_check_digit(s[:9])
    if expected is None:
        raise InvalidCode(
            f"NHS number '{masked}' fails the modulus 11 check (its first nine digits "
            "give check digit 10, so no valid NHS number starts with them)",
            system=_SYSTEM,
            rule="check_digit",
        )
    if expected != int(s[9]):
        raise InvalidCode(
            f"NHS number '{masked}' fails the modulus 11 check "
            f"(expected check digit {expected}, got {s[9]})",
            system=_SYSTEM,
            rule="check_digit",
        )
    return s


def is_valid_nhs_number(value: object) -> bool:
    """True if ``value`` is a valid NHS number (see :func:`parse_nhs_number`)."""
    try:
        parse_nhs_number(value)  # type: ignore[arg-type]
    except (InvalidCode, TypeError):
        return False
    return True


def is_test_nhs_number(value: object) -> bool:
    """True if ``value`` is a valid NHS number inside :data:`NHS_TEST_RANGE`."""
    if not is_valid_nhs_number(value):
        return False
    number = int(parse_nhs_number(value))  # type: ignore[arg-type]
    return NHS_TEST_RANGE[0] <= number <= NHS_TEST_RANGE[1]


def _integer_array(values: object, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must be an integer array, not dtype {arr.dtype}")
    return arr


def _check_digits(first9: np.ndarray) -> np.ndarray:
    """Vectorised check digit of int64 values in [0, 10**9); -1 where it would be 10."""
    total = np.zeros(first9.shape, dtype=np.int64)
    rest = first9.copy()
    for weight in range(2, 11):  # the ninth digit has weight 2, the first weight 10
        total += (rest % 10) * weight
        rest //= 10
    check = (11 - total % 11).astype(np.int8)
    check[check == 11] = 0
    check[check == 10] = -1
    return check


def nhs_check_digits_array(first9: np.ndarray) -> np.ndarray:
    """Vectorised :func:`nhs_check_digit` over integers in 0 … 999 999 999.

    Returns an ``int8`` array of check digits, with ``-1`` where the check digit
    would be 10 (no valid NHS number). Raises :class:`InvalidCode` if any value
    is out of range (the message gives a count, never values).
    """
    arr = _integer_array(first9, "first9")
    bad = int(np.count_nonzero((arr < 0) | (arr >= 10**9)))
    if bad:
        raise InvalidCode(
            f"{bad} of {arr.size} values are not nine-digit numbers (0 to 999999999)",
            system=_SYSTEM,
            rule="range",
        )
    return _check_digits(arr.astype(np.int64, copy=False))


def valid_nhs_number_array(values: np.ndarray) -> np.ndarray:
    """Vectorised :func:`is_valid_nhs_number` over integers; returns a bool array.

    A value is valid when it lies in 0 … 9 999 999 999 (zero-padded to ten
    digits), its last digit is the modulus 11 check digit of the first nine, and
    it is not one digit repeated ten times. Out-of-range values are simply invalid.
    """
    arr = _integer_array(values, "values")
    in_range = (arr >= 0) & (arr < 10**10)
    safe = np.where(in_range, arr, 0).astype(np.int64)
    expected = _check_digits(safe // 10)
    return in_range & (expected == safe % 10) & (safe % _REPDIGIT != 0)


_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


def redact_nhs_numbers(text: str) -> str:
    """Mask every valid NHS number written anywhere in ``text`` (bare, spaced or hyphenated).

    For messages, logs and quarantine text: invalid ten-digit runs (record numbers, phone
    numbers) are left alone; valid NHS numbers become ``*******919``.
    """
    return _NHS_LIKE.sub(lambda m: mask_nhs_number(m.group(0)) if is_valid_nhs_number(m.group(0)) else m.group(0), text)
