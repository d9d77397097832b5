"""Plain-English names for the codes a person reads on a page or in a download.

Marts keep codes (``heart_failure``, ``frailty_dementia``, ``apc``); the served datasets carry
a ``<code>_name`` column beside each code a person reads (:data:`NAMED`), filled when the
dashboard loads (:func:`fill`), so pages, the JSON API and CSV/XLSX downloads show the same
names. Each name comes from the definition that owns the code: conditions from
:func:`phm.refdata.conditions`, segments and programmes from :mod:`phm.model.definitions`,
settings and sex below, areas from the area hierarchy.
"""

from __future__ import annotations

from functools import lru_cache

SETTING_NAMES = {
    "apc": "Admitted care",
    "op": "Outpatients",
    "ecds": "A&E",
    "community": "Community",
    "mh": "Mental health",
    "gp": "GP appointments",
    "prescribing": "Prescribing",
    "social_care": "Adult social care",
}
SEX_NAMES = {
    "1": "Male",
    "2": "Female",
    "M": "Male",
    "F": "Female",
    "9": "Not specified",
    "0": "Not known",
}
DIMENSION_NAMES = {
    "segment": "Segment",
    "setting": "Setting",
    "age_band_broad": "Age band",
    "ltc_count": "Long-term conditions",
    "imd2019_quintile": "IMD 2019 quintile",
    "ethnic_group": "Ethnic group",
    "core20": "Core20",
}


@lru_cache(maxsize=1)
def condition_names() -> dict[str, str]:
    """Condition id -> name (``'heart_failure'`` -> ``'Heart failure'``)."""
    from phm import refdata

    return {c.id: c.name for c in refdata.conditions()}


@lru_cache(maxsize=1)
def segment_names() -> dict[str, str]:
    """Bridges to Health segment id -> name (``'frailty_dementia'`` -> ``'Frailty and dementia'``)."""
    from phm.model.segments import segment_definitions

    return {r["segment"]: r["name"] for r in segment_definitions().to_pylist()}


def _group_name(row: dict) -> str | None:
    """The top-cost cohort's group in words: a segment or setting by name, a count of
    long-term conditions with its unit; age bands as they are."""
    g, dim = row.get("group"), row.get("dimension")
    if g is None:
        return None
    if dim == "segment":
        return segment_names().get(g, g)
    if dim == "setting":
        return SETTING_NAMES.get(g, g)
    if dim == "ltc_count":
        return f"{g} long-term condition{'' if g == '1' else 's'}"
    return g


def _setting(row: dict) -> str:
    return SETTING_NAMES.get(row["setting"], row["setting"])


def _sex(row: dict) -> str:
    return SEX_NAMES.get(row["sex"], row["sex"])


def _condition(row: dict) -> str:
    return condition_names().get(row["condition"], row["condition"])


# dataset -> (code column, name column, how to name a row)
NAMED = {
    "pyramid": [("sex", "sex_name", _sex)],
    "settings": [("setting", "setting_name", _setting)],
    "programmes": [("setting", "setting_name", _setting)],
    "rcm": [("setting", "setting_name", _setting)],
    "top_cohort": [("group", "group_name", _group_name)],
    "prevalence": [("condition", "condition_name", _condition)],
}


def fill(dataset: str, rows: list[dict], area_name) -> None:
    """Set each row's name columns: ``area_name`` (``area_name((level, code))``) and the
    dataset's :data:`NAMED` columns."""
    named = NAMED.get(dataset, ())
    for r in rows:
        r["area_name"] = (
            area_name((r["level"], r["area_code"])) if r.get("area_code") is not None else None
        )
        for code, name, how in named:
            r[name] = how(r) if r.get(code) is not None else None
