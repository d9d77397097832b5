"""Plain-English names for the codes a person reads on a page or in a download.

Marts keep codes (``heart_failure``, ``frailty_dementia``, ``circulation``); pages show
these names beside or instead of them. Each name comes from the definition that owns the
code: conditions from :func:`phm.refdata.conditions`, segments and programmes of care from
:mod:`phm.model.definitions` tables.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def condition_names() -> dict[str, str]:
    """Condition id -> name (``'heart_failure'`` -> ``'Heart failure'``)."""
    from phm import refdata

    return {c.id: c.name for c in refdata.conditions()}
