"""The benchmark peers (``bench/peers``) compute phm's core outputs exactly as the marts hold
them, so the speed ratios ``make bench`` prints compare like with like (issue 15). Run on the
defect-free 20,000-person ICB; a change to a definition that the peers do not follow fails
here, not silently in the benchmark."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from phm_testing import TEST_KEY

pytestmark = pytest.mark.xdist_group("cips20k")
PEERS = Path(__file__).parents[2] / "bench" / "peers"


def _check_module():
    spec = importlib.util.spec_from_file_location("peer_check", PEERS / "check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def peer_outputs(icb20k_clean, tmp_path_factory):
    src, _ = icb20k_clean
    out = {}
    for peer in ("pandas_peer", "polars_peer"):
        d = tmp_path_factory.mktemp(peer)
        done = subprocess.run(
            [sys.executable, str(PEERS / f"{peer}.py"), str(src), str(d)],
            env={**os.environ, "PHM_PSEUDO_KEY": TEST_KEY},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        out[peer] = d
    return out


@pytest.mark.parametrize("peer", ["pandas_peer", "polars_peer"])
def test_a_peer_reproduces_the_core_marts_exactly(peer, peer_outputs, icb20k_clean):
    _, wh = icb20k_clean
    results = _check_module().check(peer_outputs[peer], wh)
    assert set(results) == {"person", "spells", "person_year", "prevalence"}
    for name, r in results.items():
        assert r["rows"] > 0, name
        assert r["differences"] == {}, (name, r)
    assert results["person"]["rows"] == 20_000


def test_the_check_finds_a_penny_and_a_missing_row(peer_outputs, icb20k_clean, tmp_path):
    _, wh = icb20k_clean
    src = peer_outputs["pandas_peer"]
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    py = pq.read_table(src / "person_year.parquet")
    cost = py["cost_op"].to_pylist()
    i = next(k for k, v in enumerate(cost) if v > 0)
    cost[i] = round(cost[i] + 0.01, 2)
    py = py.set_column(py.column_names.index("cost_op"), "cost_op", [cost])
    pq.write_table(py, tmp_path / "person_year.parquet")
    person = pq.read_table(src / "person.parquet")
    pq.write_table(
        person.filter(pc.invert(pc.equal(person["person_id"], person["person_id"][0]))),
        tmp_path / "person.parquet",
    )
    results = _check_module().check(tmp_path, wh)
    assert results["person_year"]["differences"] == {"cost_op": 1}
    assert results["person"]["differences"] == {"only_phm": 1}
    assert results["spells"]["differences"] == {}
