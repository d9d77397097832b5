"""Indicator definitions as data, and matching ICD-10 / OPCS-4 codes against them.

Every file under ``phm/indicators/definitions/`` has ``source``, ``version`` and ``verified``
columns (``yes``: checked against the published specification; ``no``: UNVERIFIED, with a
``note`` saying what rests on it). Codes are held as prefixes in the HES form (no dot, ``J46``
matches ``J46X``); a list of prefixes is written ``A|B|C``.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import ibis
import pyarrow as pa

DEFINITIONS_DIR = Path(__file__).with_name("definitions")
DIAGNOSES = tuple(f"diag_{i:02d}" for i in range(1, 21))  # the 20 HES diagnosis positions
PROCEDURES = tuple(f"opertn_{i:02d}" for i in range(1, 25))  # the 24 HES procedure positions


@cache
def rows(name: str) -> tuple[dict, ...]:
    """The rows of ``definitions/<name>`` as dicts of text."""
    with (DEFINITIONS_DIR / name).open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def indicators() -> tuple[dict, ...]:
    """One row per indicator: ``id``, ``name``, ``unit``, ``numerator``, ``denominator``,
    ``exclusions``, ``standardisation``, ``confidence_interval``, ``reference``, ``source``,
    ``version``, ``verified`` (``yes``, ``partial``, ``no``) and ``unverified`` (what is not)."""
    return rows("indicators.csv")


def indicator(ident: str) -> dict:
    for r in indicators():
        if r["id"] == ident:
            return r
    raise KeyError(f"no indicator {ident!r} in indicators.csv")


def prefixes(text: str) -> list[str]:
    return [p.strip().upper().replace(".", "") for p in text.split("|") if p.strip()]


def normalised(code):
    """A code column as HES writes it: upper case, no dot or spaces."""
    return code.upper().replace(".", "").replace(" ", "")


def starts_with_any(code, codes: list[str]):
    """True when ``code`` begins with any of ``codes`` (prefixes of any length), as one
    ``isin`` per prefix length; null code -> False."""
    by_len: dict[int, list[str]] = {}
    for p in codes:
        by_len.setdefault(len(p), []).append(p)
    hit = ibis.literal(False)
    for n, ps in sorted(by_len.items()):
        hit = hit | code.substr(0, n).isin(sorted(set(ps)))
    return hit.coalesce(False)


def any_position(t, columns, codes: list[str]):
    """True when any of ``columns`` of ``t`` begins with one of ``codes``."""
    hit = ibis.literal(False)
    for c in columns:
        if c in t.columns:
            hit = hit | starts_with_any(normalised(t[c]), codes)
    return hit


def code_table(name: str, columns: tuple[str, ...]) -> pa.Table:
    """A definitions file with one row per prefix (``prefix`` split on ``|``), the columns
    named kept as text and ``n`` the prefix length, for joining codes by prefix."""
    out = {c: [] for c in (*columns, "prefix", "n")}
    for r in rows(name):
        for p in prefixes(r["prefix"]):
            for c in columns:
                out[c].append(r[c])
            out["prefix"].append(p)
            out["n"].append(len(p))
    return pa.table({k: pa.array(v, pa.int64() if k == "n" else pa.string()) for k, v in out.items()})


def long_codes(t, keys: list[str], columns, pos_name: str = "pos"):
    """``t`` unpivoted: one row per key and non-null code of ``columns`` (position 1, 2, ...)."""
    parts = [
        t.select(*keys, **{pos_name: ibis.literal(i, "int64"), "code": normalised(t[c])})
        for i, c in enumerate(columns, start=1)
        if c in t.columns
    ]
    u = ibis.union(*parts, distinct=False)
    return u.filter(u.code.notnull() & (u.code != ""))


def match_prefixes(codes, ref, lengths):
    """Rows of ``codes`` (with ``code``) joined to the prefix rows of ``ref`` (with ``prefix``
    and ``n``) whose prefix begins the code: one equality join per prefix length."""
    parts = []
    for n in sorted(lengths):
        r = ref.filter(ref.n == n)
        c = codes.mutate(_p=codes.code.substr(0, n))
        parts.append(c.join(r, c._p == r.prefix).drop("_p"))
    return ibis.union(*parts, distinct=False)


__all__ = [
    "DIAGNOSES",
    "PROCEDURES",
    "any_position",
    "code_table",
    "indicator",
    "indicators",
    "long_codes",
    "match_prefixes",
    "normalised",
    "prefixes",
    "rows",
    "starts_with_any",
]
