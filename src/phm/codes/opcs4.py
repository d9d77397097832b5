"""OPCS-4 procedure codes (OPCS Classification of Interventions and Procedures).

Definition: NHS England, *OPCS Classification of Interventions and Procedures,
version 4* (OPCS-4.10 in use from April 2023; published on the Delen
terminology browser), Volume I: Tabular List, and the NHS Data Dictionary *PRIMARY PROCEDURE (OPCS)* (format
``an4``; no full stop). A three-character category is a chapter letter and two
digits (``W37``, *Total prosthetic replacement of hip joint using cement*); a
four-character code adds one digit (``W37.1``, held as ``W371`` in HES
``OPERTN_nn`` and SUS).

Chapter letters are A–H and J–Z: there is no chapter I. ``O`` holds overflow
codes (e.g. ``O01``), ``Y`` the subsidiary classification of methods of
operation and ``Z`` the subsidiary classification of sites of operation.

Accepted input, after trimming whitespace and upper-casing: ``W37``, ``W37.1``
and ``W371``. HES placeholders such as ``-`` and ``&`` (no procedure) are not
codes and are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = ["OPCS4", "OPCS4_PATTERN", "is_opcs4_format", "parse_opcs4"]

#: Regular expression (RE2- and ``re``-compatible, anchored) for a normalised code.
OPCS4_PATTERN = r"^[A-HJ-Z][0-9]{2}(?:\.?[0-9])?$"

_SYSTEM = "OPCS-4"
_CODE = re.compile(r"([A-HJ-Z])([0-9]{2})(?:\.?([0-9]))?")


@dataclass(frozen=True, slots=True)
class OPCS4:
    """A well-formed OPCS-4 code: ``category`` ``'W37'``, ``subcode`` ``'1'`` or ``''``."""

    category: str
    subcode: str = ""

    @property
    def chapter(self) -> str:
        """The chapter letter, e.g. ``'W'``."""
        return self.category[0]

    @property
    def dotted(self) -> str:
        """``'W37.1'`` or ``'W37'``."""
        return f"{self.category}.{self.subcode}" if self.subcode else self.category

    @property
    def compact(self) -> str:
        """HES/SUS form without a full stop: ``'W371'`` or ``'W37'``."""
        return self.category + self.subcode

    def __str__(self) -> str:
        return self.dotted


def parse_opcs4(s: str) -> OPCS4:
    """Parse ``'W37.1'``, ``'W371'`` or ``'W37'``; raise :class:`InvalidCode` otherwise."""
    if not isinstance(s, str):
        raise TypeError(f"an OPCS-4 code must be a str, not {type(s).__name__}")
    code = clean(s)
    if not code:
        raise InvalidCode("OPCS-4 code is empty", system=_SYSTEM, rule="empty")
    m = _CODE.fullmatch(code)
    if m:
        return OPCS4(m[1] + m[2], m[3] or "")

    def fail(why: str) -> InvalidCode:
        return InvalidCode(f"OPCS-4 code {shown(code)} {why}", system=_SYSTEM, rule="format")

    if code[0] == "I":
        raise fail("starts with 'I', but OPCS-4 has no chapter I")
    if not ("A" <= code[0] <= "Z"):
        raise fail("must start with a chapter letter A–H or J–Z (e.g. 'W37.1')")
    if len(code) < 3 or not re.fullmatch(r"[0-9]{2}", code[1:3]):
        raise fail("must have two digits after the chapter letter (e.g. 'W37')")
    raise fail("is not in a recognised form: expected 'W37', 'W37.1' or 'W371'")


def is_opcs4_format(s: object) -> bool:
    """True if ``s`` is a well-formed OPCS-4 code (``'W37'``, ``'W37.1'``, ``'W371'``)."""
    return isinstance(s, str) and _CODE.fullmatch(clean(s)) is not None
