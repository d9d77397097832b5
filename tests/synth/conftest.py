import json
from pathlib import Path

import pytest

from phm_testing import synth as _synth


@pytest.fixture(scope="session")
def icb20k(tmp_path_factory) -> Path:
    """A 20,000-person synthetic ICB (parquet, default defects), shared by the synth tests."""
    return _synth(tmp_path_factory.mktemp("icb20k"), "--persons", "20000", "--seed", "7")


@pytest.fixture(scope="session")
def icb_csv(tmp_path_factory) -> Path:
    return _synth(tmp_path_factory.mktemp("icbcsv"), "--persons", "6000", "--seed", "3", "--format", "csv")


def read_json(path: Path):
    return json.loads(path.read_text())
