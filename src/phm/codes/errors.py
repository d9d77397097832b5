"""The one exception raised by :mod:`phm.codes` for a malformed code.

:class:`InvalidCode` is a :class:`ValueError`, so callers that already catch
``ValueError`` keep working. Its message is a complete sentence written for the
person who supplied the value: it names the code system, shows the value (masked
where the value identifies a person, such as an NHS number) and says which rule
it broke. ``system`` and ``rule`` carry the same facts for programs, e.g.
``system="NHS number"``, ``rule="check_digit"``.
"""

from __future__ import annotations

__all__ = ["InvalidCode"]


class InvalidCode(ValueError):
    """A value is not a well-formed code of the expected system.

    ``str(err)`` is the whole human-readable message. ``err.system`` names the
    code system (``"ICD-10"``, ``"NHS number"`` …) and ``err.rule`` is a short
    stable identifier of the rule that failed (``"empty"``, ``"length"``,
    ``"non_digit"``, ``"check_digit"``, ``"format"`` …).
    """

    def __init__(self, message: str, *, system: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.system = system
        self.rule = rule
