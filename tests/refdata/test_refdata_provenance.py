"""Every shipped data file has provenance, and every provenance row has its file."""

from __future__ import annotations

import dataclasses
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import phm.refdata as refdata
from phm.refdata._io import DATA_DIR
from phm.refdata._provenance import shipped_files

PROVENANCE_FIELDS = ["file", "dataset", "source", "publisher", "licence", "vintage", "notes"]
MAX_PLAIN_BYTES = 250_000  # CSVs over ~200 KB must be gzipped
MAX_TOTAL_BYTES = 25_000_000


def test_provenance_rows_are_frozen_dataclasses_with_the_documented_fields():
    rows = refdata.provenance()
    assert rows
    assert all(isinstance(r, refdata.Provenance) for r in rows)
    assert [f.name for f in dataclasses.fields(refdata.Provenance)] == PROVENANCE_FIELDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[0].file = "x"  # type: ignore[misc]


def test_every_shipped_file_has_a_provenance_row():
    documented = {r.file for r in refdata.provenance()}
    missing = [f for f in shipped_files() if f not in documented]
    assert not missing, f"data files without a provenance row: {missing}"


def test_every_provenance_row_names_a_shipped_file():
    shipped = set(shipped_files())
    ghosts = [r.file for r in refdata.provenance() if r.file not in shipped]
    assert not ghosts, f"provenance rows for missing files: {ghosts}"


def test_provenance_rows_are_unique_and_complete():
    rows = refdata.provenance()
    files = [r.file for r in rows]
    assert len(files) == len(set(files))
    for r in rows:
        for name in PROVENANCE_FIELDS:
            assert getattr(r, name).strip(), f"{r.file}: empty {name}"
        if r.file != "conditions.csv":  # a repository file, or figures published on the web
            assert "@" in r.source or "https://" in r.source, (
                f"{r.file}: source should be repo@commit:path or a URL"
            )


def test_files_are_packaged_and_small():
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["phm"]
    total = 0
    for rel in [*shipped_files(), "provenance.csv"]:
        path = DATA_DIR / rel
        assert any(fnmatch(path.name, p.removeprefix("**/")) for p in patterns), rel
        size = path.stat().st_size
        total += size
        if not rel.endswith(".gz"):
            assert size <= MAX_PLAIN_BYTES, f"{rel}: {size} bytes, should be gzipped"
    assert total < MAX_TOTAL_BYTES


def test_gzip_files_are_deterministic():
    # `gzip -n` writes no file name and a zero timestamp.
    for rel in shipped_files():
        if rel.endswith(".gz"):
            header = (DATA_DIR / rel).read_bytes()[:10]
            assert header[:2] == b"\x1f\x8b", rel
            assert header[3] & 0x08 == 0, f"{rel}: gzip header stores a file name"
            assert header[4:8] == b"\0\0\0\0", f"{rel}: gzip header stores a timestamp"
