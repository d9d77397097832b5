"""Lower Layer Super Output Area (LSOA) codes.

Definition: Office for National Statistics, *Code History Database* and the
Government Statistical Service (GSS) coding and naming policy: a GSS code is a
three-character entity code followed by six digits. LSOAs have entity code
``E01`` in England and ``W01`` in Wales (e.g. ``E01000001``, City of London
001A).

The 2011 and 2021 LSOA vintages share this format; 2021 reused most 2011
codes and added new ones for split or merged areas. The ``vintage`` argument
is therefore only checked to be 2011, 2021 or ``None`` and does not change
what is accepted: whether a code belongs to a vintage is a membership check for
the reference-data layer.
"""

from __future__ import annotations

import re

from phm.codes._text import clean, shown
from phm.codes.errors import InvalidCode

__all__ = ["LSOA_VINTAGES", "is_lsoa_code", "parse_lsoa"]

LSOA_VINTAGES = (2011, 2021)

_CODE = re.compile(r"[EW]01[0-9]{6}")
_SYSTEM = "LSOA code"


def _check_vintage(vintage: int | None) -> None:
    if vintage is not None and vintage not in LSOA_VINTAGES:
        raise ValueError(f"LSOA vintage must be 2011, 2021 or None, not {vintage!r}")


def parse_lsoa(s: str, vintage: int | None = None) -> str:
    """Return the normalised LSOA code (``'E01000001'``), or raise :class:`InvalidCode`."""
    _check_vintage(vintage)
    if not isinstance(s, str):
        raise TypeError(f"an LSOA code must be a str, not {type(s).__name__}")
    code = clean(s)
    if not code:
        raise InvalidCode("LSOA code is empty", system=_SYSTEM, rule="empty")
    if _CODE.fullmatch(code):
        return code
    if code[:3] not in ("E01", "W01"):
        raise InvalidCode(
            f"LSOA code {shown(code)} must start with 'E01' (England) or 'W01' (Wales)",
            system=_SYSTEM,
            rule="prefix",
        )
    raise InvalidCode(
        f"LSOA code {shown(code)} must be 'E01' or 'W01' followed by six digits, e.g. 'E01000001'",
        system=_SYSTEM,
        rule="format",
    )


def is_lsoa_code(s: object, vintage: int | None = None) -> bool:
    """True if ``s`` is a well-formed England or Wales LSOA code (any vintage)."""
    _check_vintage(vintage)
    return isinstance(s, str) and _CODE.fullmatch(clean(s)) is not None
