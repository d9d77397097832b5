"""BNF codes as used by the NHS Business Services Authority (NHSBSA).

Definition: NHSBSA, *BNF Code Information* / *BNF SNOMED mapping* and the
English Prescribing Dataset documentation (NHSBSA Information Services
Portal). A BNF code is hierarchical; each level extends the one above:

=============  ======  ============================================  =================
level          length  characters                                    example
=============  ======  ============================================  =================
chapter        2       digits                                        ``02``
section        4       digits                                        ``0205``
paragraph      6       digits                                        ``020505``
subparagraph   7       digits                                        ``0205051``
chemical       9       + two letters or digits (chemical substance)  ``0205051R0``
product        11      + two letters or digits                       ``0205051R0AA``
presentation   15      + four letters or digits                      ``0205051R0AAAAAA``
=============  ======  ============================================  =================

Chapters 01–15 are drugs, 18 preparations used in diagnosis and 19 other
drugs and preparations; 20–23 are appliances (dressings, appliances,
incontinence appliances, stoma appliances). Chapters 16 and 17 are not used.
In the appliance chapters the codes are all digits and the presentation code
is the 11-character product code (e.g. ``20010000101``, *Absorbent cotton BP
1988*), so an 11-character code in chapters 20–23 has level ``presentation``.

Accepted input is trimmed and upper-cased. Whether a code exists in the
current BNF is a reference-data question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = ["BNF_LEVELS", "BNF_PATTERN", "BNFCode", "is_bnf_format", "parse_bnf"]

#: Level name for each code length, from the top of the hierarchy down.
BNF_LEVELS: dict[int, str] = {
    2: "chapter",
    4: "section",
    6: "paragraph",
    7: "subparagraph",
    9: "chemical",
    11: "product",
    15: "presentation",
}

_CHAPTER = r"(?:0[1-9]|1[0-589]|2[0-3])"
#: Regular expression (RE2- and ``re``-compatible, anchored) for a normalised code.
BNF_PATTERN = (
    rf"^{_CHAPTER}(?:[0-9]{{2}}(?:[0-9]{{2}}(?:[0-9]"
    r"(?:[0-9A-Z]{2}(?:[0-9A-Z]{2}(?:[0-9A-Z]{4})?)?)?)?)?)?$"
)
_APPLIANCE_CHAPTERS = frozenset({"20", "21", "22", "23"})
_SYSTEM = "BNF code"
_COMPILED = re.compile(BNF_PATTERN[1:-1])


@dataclass(frozen=True, slots=True)
class BNFCode:
    """A well-formed BNF code at any level of the hierarchy."""

    code: str

    @property
    def is_appliance(self) -> bool:
        """True for chapters 20–23 (appliances)."""
        return self.chapter in _APPLIANCE_CHAPTERS

    @property
    def level(self) -> str:
        """``'chapter'`` … ``'presentation'`` (see the module docstring)."""
        if len(self.code) == 11 and self.is_appliance:
            return "presentation"
        return BNF_LEVELS[len(self.code)]

    def _prefix(self, length: int) -> str | None:
        return self.code[:length] if len(self.code) >= length else None

    @property
    def chapter(self) -> str:
        """Two-digit chapter, e.g. ``'02'``."""
        return self.code[:2]

    @property
    def section(self) -> str | None:
        """Four-digit section, e.g. ``'0205'``, or ``None`` for a chapter code."""
        return self._prefix(4)

    @property
    def paragraph(self) -> str | None:
        """Six-digit paragraph, e.g. ``'020505'``, where available."""
        return self._prefix(6)

    @property
    def subparagraph(self) -> str | None:
        """Seven-digit sub-paragraph, e.g. ``'0205051'``, where available."""
        return self._prefix(7)

    @property
    def chemical(self) -> str | None:
        """Nine-character chemical substance, e.g. ``'0205051R0'``, where available."""
        return self._prefix(9)

    @property
    def product(self) -> str | None:
        """Eleven-character product, e.g. ``'0205051R0AA'``, where available."""
        return self._prefix(11)

    @property
    def presentation(self) -> str | None:
        """The presentation code (15 characters, or 11 for an appliance), where available."""
        if self.level == "presentation":
            return self.code
        return None

    def __str__(self) -> str:
        return self.code


def parse_bnf(s: str) -> BNFCode:
    """Parse a BNF code at any level; raise :class:`InvalidCode` saying what is wrong."""
    if not isinstance(s, str):
        raise TypeError(f"a BNF code must be a str, not {type(s).__name__}")
    code = clean(s)
    if not code:
        raise InvalidCode("BNF code is empty", system=_SYSTEM, rule="empty")
    if _COMPILED.fullmatch(code):
        return BNFCode(code)

    def fail(why: str, rule: str = "format") -> InvalidCode:
        return InvalidCode(f"BNF code {shown(code)} {why}", system=_SYSTEM, rule=rule)

    if len(code) not in BNF_LEVELS:
        raise fail(
            f"has {len(code)} characters; a BNF code has 2, 4, 6, 7, 9, 11 or 15 "
            "(chapter to presentation)",
            "length",
        )
    if not re.fullmatch(_CHAPTER, code[:2]):
        raise fail(f"has chapter '{code[:2]}'; BNF chapters are 01–15 and 18–23", "chapter")
    if not re.fullmatch(r"[0-9]+", code[:7]):
        raise fail("must have digits in its first seven characters (chapter to sub-paragraph)")
    raise fail("must have only letters A–Z and digits after the seventh character")


def is_bnf_format(s: object) -> bool:
    """True if ``s`` is a well-formed BNF code at any level."""
    return isinstance(s, str) and _COMPILED.fullmatch(clean(s)) is not None
