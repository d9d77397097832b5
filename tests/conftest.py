"""Fixtures shared across test packages: synthetic ICBs and ingested warehouses."""

from __future__ import annotations

from pathlib import Path

import pytest

from phm_testing import ingest_with_key, synth


@pytest.fixture(scope="session")
def icb10k(tmp_path_factory) -> Path:
    """A 10,000-person synthetic ICB (parquet, default defects)."""
    return synth(tmp_path_factory.mktemp("icb10k"), "--persons", "10000", "--seed", "5")


@pytest.fixture(scope="session")
def icb10k_duckdb(icb10k, tmp_path_factory) -> Path:
    """``icb10k`` ingested into a DuckDB warehouse with TEST_KEY."""
    wh = tmp_path_factory.mktemp("wh10k") / "warehouse.duckdb"
    report = ingest_with_key(icb10k, wh)
    assert not report.failed
    return wh


@pytest.fixture(scope="session")
def icb10k_spark(icb10k, tmp_path_factory) -> Path:
    """``icb10k`` ingested into a Spark warehouse with TEST_KEY (use in xdist group "spark")."""
    path = tmp_path_factory.mktemp("spark10k") / "warehouse"
    report = ingest_with_key(icb10k, path, backend="spark")
    assert not report.failed
    return path


@pytest.fixture(scope="session")
def icb_small(tmp_path_factory) -> Path:
    """A 1,000-person ICB for tests that ingest many times."""
    return synth(tmp_path_factory.mktemp("icb1k"), "--persons", "1000", "--seed", "9")


@pytest.fixture(scope="session")
def icb_small_csv(tmp_path_factory) -> Path:
    """A 4,000-person ICB written as CSV, with the Excel defects only CSV can carry."""
    return synth(tmp_path_factory.mktemp("icb4kcsv"), "--persons", "4000", "--seed", "3", "--format", "csv")


@pytest.fixture(scope="session")
def icb10k_built(icb10k_duckdb, tmp_path_factory) -> Path:
    """A copy of ``icb10k_duckdb`` with the marts built (``phm build``)."""
    import shutil

    from phm.cli import main

    wh = tmp_path_factory.mktemp("built10k") / "warehouse.duckdb"
    shutil.copy(icb10k_duckdb, wh)
    assert main(["build", "--warehouse", str(wh)]) == 0
    return wh
