"""ICD-10 diagnosis codes in the WHO dotted form and the HES/SUS compact form.

Definitions:

* WHO, *International Statistical Classification of Diseases and Related Health
  Problems, 10th Revision* (ICD-10), Volume 1: a three-character category is a
  letter and two digits (``J44``); a four-character subcategory adds one digit
  after a full stop (``J44.1``). The UK 5th Edition also uses a fifth character
  in some chapters (e.g. ``M23.07``, site of a musculoskeletal disorder). WHO
  reserves chapter letter ``U`` for provisional and emergency use (``U07.1``
  COVID-19); it is accepted here as a well-formed code.
* NHS Data Dictionary, *Diagnostic coding* / *ICD-10 code* (format ``an6``, as
  held in HES ``DIAG_nn`` fields): no full stop; an undivided three-character
  category has ``X`` as its fourth character (``I10X``); the fifth character is
  used where the classification has one and is otherwise filled with ``-``; the
  sixth character marks an asterisk (``A``) or dagger (``D``) code.

Accepted input, after trimming whitespace and upper-casing:

==============  =========================================================
``I10``         category only (either form)
``J44.1``       dotted, one or two digits after the stop (``M23.07``)
``J441``        compact, fourth character a digit or ``X`` filler (``I10X``)
``M2307``       compact with a fifth character digit, or ``-`` filler
``A170-D``      compact with an asterisk/dagger marker ``A``/``D`` last;
                the ``-`` filler may be omitted (``A170D``, ``G01XA``)
==============  =========================================================

Not accepted: a ``X`` filler followed by a digit (``I10X1``), a trailing full
stop (``J44.``), WHO typographic markers (``G01*``, ``A17.0†``) and ranges
(``A15-A19``). Whether a code exists in a given ICD-10 edition is a membership
question for reference data, not a format question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = [
    "ICD10",
    "ICD10_PATTERN",
    "icd10_to_dotted",
    "icd10_to_hes",
    "is_icd10_format",
    "parse_icd10",
]

#: Regular expression (RE2- and ``re``-compatible, anchored) for a normalised code.
ICD10_PATTERN = r"^[A-Z][0-9]{2}(?:\.[0-9]{1,2}|(?:[0-9][0-9-]?|X-?)[AD]?)?$"

_SYSTEM = "ICD-10"
_DOTTED = re.compile(r"([A-Z][0-9]{2})(?:\.([0-9]{1,2}))?")
_COMPACT = re.compile(r"([A-Z][0-9]{2})(?:([0-9])([0-9-])?|X(-)?)([AD])?")
_FORMAT = re.compile(ICD10_PATTERN[1:-1])
_MARKERS = {"A": "asterisk", "D": "dagger"}


@dataclass(frozen=True, slots=True)
class ICD10:
    """A well-formed ICD-10 code.

    ``category`` is the three-character category (``'J44'``); ``subcode`` the
    digits after the full stop (``'1'``, ``'07'`` or ``''``); ``marker`` is
    ``'A'`` (asterisk), ``'D'`` (dagger) or ``''``.
    """

    category: str
    subcode: str = ""
    marker: str = ""

    @property
    def dotted(self) -> str:
        """WHO form: ``'J44.1'``, ``'I10'``, ``'M23.07'`` (marker dropped)."""
        return f"{self.category}.{self.subcode}" if self.subcode else self.category

    @property
    def hes(self) -> str:
        """Four-character HES form (``DIAG_4_nn``): ``'J441'``, ``'I10X'``."""
        return self.category + (self.subcode[:1] or "X")

    @property
    def hes_full(self) -> str:
        """Full HES form (``DIAG_nn``), keeping a fifth character and marker.

        ``'J441'``, ``'I10X'``, ``'M2307'``, ``'A170-D'``, ``'G01X-A'``.
        """
        fifth = self.subcode[1:2] or ("-" if self.marker else "")
        return self.hes + fifth + self.marker

    @property
    def marker_name(self) -> str:
        """``'asterisk'``, ``'dagger'`` or ``''``."""
        return _MARKERS.get(self.marker, "")

    def __str__(self) -> str:
        return self.dotted


def _fail(s: str, why: str, rule: str = "format") -> InvalidCode:
    return InvalidCode(f"ICD-10 code {shown(s)} {why}", system=_SYSTEM, rule=rule)


def parse_icd10(s: str) -> ICD10:
    """Parse a dotted or HES-form ICD-10 code (see the module docstring).

    Raises :class:`InvalidCode` naming the broken rule.
    """
    if not isinstance(s, str):
        raise TypeError(f"an ICD-10 code must be a str, not {type(s).__name__}")
    code = clean(s)
    if not code:
        raise InvalidCode("ICD-10 code is empty", system=_SYSTEM, rule="empty")
    m = _DOTTED.fullmatch(code)
    if m:
        return ICD10(m[1], m[2] or "")
    m = _COMPACT.fullmatch(code)
    if m:
        category, fourth, fifth, _filler, marker = m.groups()
        subcode = (fourth or "") + (fifth if fifth and fifth != "-" else "")
        return ICD10(category, subcode, marker or "")
    if not code[0].isascii() or not code[0].isalpha():
        raise _fail(code, "must start with a letter A–Z (e.g. 'J44.1')")
    if len(code) < 3 or not code[1:3].isascii() or not code[1:3].isdigit():
        raise _fail(code, "must start with a letter and two digits (e.g. 'J44', 'I10')")
    rest = code[3:]
    if rest.startswith("."):
        raise _fail(code, "must have one or two digits after the full stop (e.g. 'J44.1')")
    if rest.startswith("X") and len(rest) > 1 and rest[1].isdigit():
        raise _fail(
            code, "has a digit after the 'X' filler, which marks a code with no subdivision"
        )
    raise _fail(
        code,
        "is not in a recognised form: expected 'J44', 'J44.1', 'M23.07' or the HES "
        "form 'J441', 'I10X', 'M2307', 'A170-D'",
    )


def is_icd10_format(s: object) -> bool:
    """True if ``s`` is a well-formed ICD-10 code in any accepted form."""
    return isinstance(s, str) and _FORMAT.fullmatch(clean(s)) is not None


def icd10_to_hes(s: str) -> str:
    """Four-character HES form, e.g. ``'J44.1'`` → ``'J441'``, ``'I10'`` → ``'I10X'``.

    A fifth character and any asterisk/dagger marker are dropped; use
    ``parse_icd10(s).hes_full`` to keep them.
    """
    return parse_icd10(s).hes


def icd10_to_dotted(s: str) -> str:
    """WHO dotted form, e.g. ``'J441'`` → ``'J44.1'``, ``'I10X'`` → ``'I10'``."""
    return parse_icd10(s).dotted
