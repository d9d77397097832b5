"""Organisation Data Service (ODS) codes for NHS organisations.

Definition: NHS England, *Organisation Data Service* (ODS) code formats, and
the NHS Data Dictionary attributes *ORGANISATION IDENTIFIER (CODE OF
PROVIDER)*, *GENERAL MEDICAL PRACTICE CODE (PATIENT REGISTRATION)*,
*INTEGRATED CARE BOARD* and *PRIMARY CARE NETWORK*. Formats by ``kind``:

============  =============================================  ==================
kind          format                                         examples
============  =============================================  ==================
``practice``  letter + 5 digits                              ``M84001``
``trust``     ``R`` (NHS trust), ``T`` (care trust) or       ``RKB``, ``TAD``,
              ``N`` (independent provider) + 2 alphanumerics  ``NT4``
``site``      letter + 4 alphanumerics (provider + site)     ``RKB01``
``icb``       ``Q`` + 2 alphanumerics                        ``QWU``, ``QE1``
``sub_icb``   2 digits + letter (former CCG), or the         ``05A``, ``X2C4Y``
              newer 5-character letter-digit form
``pcn``       ``U`` + 5 digits                               ``U89141``
``region``    ``Y`` + 2 digits (NHS England region)          ``Y63``
============  =============================================  ==================

With ``kind=None`` any 3 to 6 letters or digits are accepted. The practice
default codes in :data:`PRACTICE_DEFAULT_CODES` are format-valid practice
codes. Input is trimmed and upper-cased; whether an organisation exists (or
was open on a date) is a reference-data question.
"""

from __future__ import annotations

import re

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = ["ODS_KINDS", "PRACTICE_DEFAULT_CODES", "is_ods_code", "parse_ods_code"]

#: Default GP practice codes (NHS Data Dictionary, GENERAL MEDICAL PRACTICE CODE).
PRACTICE_DEFAULT_CODES: dict[str, str] = {
    "V81997": "No registered GP practice",
    "V81998": "GP practice code not applicable",
    "V81999": "GP practice code not known",
}

# kind → (compiled pattern, human description of the format).
_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "practice": (re.compile(r"[A-Z][0-9]{5}"), "a letter and five digits, e.g. 'M84001'"),
    "trust": (
        re.compile(r"[RTN][A-Z0-9]{2}"),
        "'R', 'T' or 'N' and two letters or digits, e.g. 'RKB'",
    ),
    "site": (re.compile(r"[A-Z][A-Z0-9]{4}"), "a letter and four letters or digits, e.g. 'RKB01'"),
    "icb": (re.compile(r"Q[A-Z0-9]{2}"), "'Q' and two letters or digits, e.g. 'QWU'"),
    "sub_icb": (
        re.compile(r"[0-9]{2}[A-Z]|[A-Z][0-9][A-Z][0-9][A-Z]"),
        "two digits and a letter, e.g. '05A', or the five-character form, e.g. 'X2C4Y'",
    ),
    "pcn": (re.compile(r"U[0-9]{5}"), "'U' and five digits, e.g. 'U89141'"),
    "region": (re.compile(r"Y[0-9]{2}"), "'Y' and two digits, e.g. 'Y63'"),
}
_LABELS = {
    "practice": "GP practice",
    "trust": "trust",
    "site": "site",
    "icb": "ICB",
    "sub_icb": "sub-ICB",
    "pcn": "PCN",
    "region": "region",
}
#: The accepted values of ``kind``.
ODS_KINDS: tuple[str, ...] = tuple(_FORMATS)
_ANY = re.compile(r"[A-Z0-9]{3,6}")
_SYSTEM = "ODS code"


def _pattern(kind: str | None) -> tuple[re.Pattern[str], str]:
    if kind is None:
        return _ANY, "3 to 6 letters or digits"
    try:
        return _FORMATS[kind]
    except KeyError:
        raise ValueError(
            f"unknown ODS code kind {kind!r}; expected one of {', '.join(ODS_KINDS)} or None"
        ) from None


def parse_ods_code(s: str, kind: str | None = None) -> str:
    """Return the normalised ODS code, or raise :class:`InvalidCode`.

    ``kind`` is one of :data:`ODS_KINDS` or ``None``; an unknown kind raises
    :class:`ValueError`.
    """
    pattern, described = _pattern(kind)
    if not isinstance(s, str):
        raise TypeError(f"an ODS code must be a str, not {type(s).__name__}")
    code = clean(s)
    label = f"ODS {_LABELS[kind]} code" if kind else "ODS code"
    if not code:
        raise InvalidCode(f"{label} is empty", system=_SYSTEM, rule="empty")
    if not pattern.fullmatch(code):
        raise InvalidCode(
            f"{label} {shown(code)} is not in the expected format: {described}",
            system=_SYSTEM,
            rule="format",
        )
    return code


def is_ods_code(s: object, kind: str | None = None) -> bool:
    """True if ``s`` is a well-formed ODS code of ``kind`` (any kind if ``None``)."""
    pattern, _ = _pattern(kind)
    return isinstance(s, str) and pattern.fullmatch(clean(s)) is not None
