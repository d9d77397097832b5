"""Text helpers shared by the code modules: normalising input and quoting it in errors."""

from __future__ import annotations

_ASCII_WHITESPACE = " \t\n\r\f\v"


def clean(value: str) -> str:
    """Trim ASCII whitespace and upper-case ASCII letters; leave other characters alone.

    Matches ``pyarrow.compute.ascii_trim_whitespace`` followed by ``ascii_upper``,
    so scalar and vectorised checks agree. Non-ASCII characters are kept (and then
    fail every code pattern) rather than case-folded into ASCII look-alikes.
    """
    text = value.strip(_ASCII_WHITESPACE)
    return text.upper() if text.isascii() else text


def shown(value: str, limit: int = 40) -> str:
    """Quote a (non-identifying) code for an error message, truncating long input."""
    if len(value) > limit:
        return repr(value[:limit] + "…")
    return repr(value)
