"""Fixtures for the model tests on a whole synthetic ICB."""

from __future__ import annotations

import pytest

from phm_testing import ingest_with_key, synth


@pytest.fixture(scope="session")
def icb20k_clean(tmp_path_factory):
    """A 20,000-person synthetic ICB without data defects (real HES quirks only), ingested and
    built: ``(synth directory, warehouse path)``. Use in xdist group "cips20k"."""
    from phm.cli import main

    d = synth(tmp_path_factory.mktemp("cips20k"), "--persons", "20000", "--seed", "7", "--defects", "none")
    wh = tmp_path_factory.mktemp("cips20k_wh") / "warehouse.duckdb"
    assert not ingest_with_key(d, wh).failed
    assert main(["build", "--warehouse", str(wh)]) == 0
    return d, wh
