"""Helpers shared by test packages (tests/ is on sys.path through tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from phm.cli import main

TEST_KEY = "phm-test-key-0123456789abcdef0123456789abcdef"
OTHER_KEY = "phm-other-key-fedcba9876543210fedcba9876543210"


def synth(out: Path, *args: str) -> Path:
    assert main(["synth", "--out", str(out), *args]) == 0
    return out


def ingest_with_key(source, warehouse, key: str = TEST_KEY, **kw):
    """Ingest with ``key`` set in the environment only for the call."""
    from phm.ingest import ingest

    old = os.environ.get("PHM_PSEUDO_KEY")
    os.environ["PHM_PSEUDO_KEY"] = key
    try:
        return ingest(source, warehouse, **kw)
    finally:
        if old is None:
            os.environ.pop("PHM_PSEUDO_KEY", None)
        else:
            os.environ["PHM_PSEUDO_KEY"] = old
