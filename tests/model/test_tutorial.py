"""docs/tutorial.md runs: every Python block, in order, against a built 10k-person warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("ingest")

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial.md"


def test_tutorial_code_runs(icb10k_built):
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL.read_text(), flags=re.S)
    assert len(blocks) >= 3
    code = "\n".join(blocks).replace('"demo-data/warehouse.duckdb"', repr(str(icb10k_built)))
    ns: dict = {}
    exec(compile(code, str(TUTORIAL), "exec"), ns)
    seg = ns["by_segment"].to_pyarrow()
    assert seg.num_rows >= 5 and sum(seg["people"].to_pylist()) > 9_000
    assert ns["top"].to_pyarrow().num_rows == 10
    assert ns["rates"].to_pyarrow().num_rows >= 5
    assert ns["diabetes_spend"].to_pyarrow().num_rows >= 5
    ns["icb"].close()
