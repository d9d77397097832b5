"""Provenance of every shipped reference-data file (``data/provenance.csv``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import lru_cache

from phm.refdata._io import DATA_DIR

PROVENANCE_FILE = "provenance.csv"


@dataclass(frozen=True)
class Provenance:
    """Where one shipped data file came from and what was done to it."""

    file: str  # path under phm/refdata/data/
    dataset: str
    source: str  # repository@commit:path
    publisher: str
    licence: str
    vintage: str
    notes: str  # conversions, dropped columns or rows


@lru_cache(maxsize=1)
def _provenance() -> tuple[Provenance, ...]:
    names = [f.name for f in fields(Provenance)]
    with (DATA_DIR / PROVENANCE_FILE).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != names:
            raise RuntimeError(f"{PROVENANCE_FILE}: columns {reader.fieldnames}, expected {names}")
        return tuple(Provenance(**row) for row in reader)


def provenance() -> list[Provenance]:
    """One row per shipped data file: dataset, source repo@commit, publisher, licence,
    vintage and conversion notes. Read from ``phm/refdata/data/provenance.csv``."""
    return list(_provenance())


def shipped_files() -> list[str]:
    """Every data file under ``data/`` (relative paths), except ``provenance.csv``."""
    return sorted(
        p.relative_to(DATA_DIR).as_posix()
        for p in DATA_DIR.rglob("*")
        if p.is_file() and p.name != PROVENANCE_FILE and "__pycache__" not in p.parts
    )
