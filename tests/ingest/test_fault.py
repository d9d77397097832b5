"""Fault test: ingest killed with SIGKILL at a random point, then re-run, always ends in the
same state as an uninterrupted run (governance.md, Reliability: loads are atomic)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from phm.warehouse import connect, table_checksum
from phm.warehouse.ledger import LEDGER_TABLE, VOLATILE
from phm_testing import TEST_KEY

pytestmark = pytest.mark.xdist_group("fault")

TRIALS = 10


def _cmd(src, wh) -> list[str]:
    return [sys.executable, "-m", "phm.cli_entry", "ingest", str(src), "--warehouse", str(wh)]


def _env() -> dict[str, str]:
    return {**os.environ, "PHM_PSEUDO_KEY": TEST_KEY}


def _state(wh_path) -> dict[str, str]:
    with connect(wh_path) as wh:
        return {t: table_checksum(wh, t, exclude=VOLATILE if t == LEDGER_TABLE else ()) for t in wh.list_tables()}


def test_sigkill_at_a_random_point_then_rerun_gives_the_uninterrupted_state(icb_small, tmp_path):
    base = tmp_path / "base.duckdb"
    t0 = time.monotonic()
    subprocess.run(_cmd(icb_small, base), env=_env(), check=True, capture_output=True)
    full = time.monotonic() - t0
    # the other test worker's load varies: time a second full run too, and spread the
    # kills over the first 60% of the faster estimate so that they land while ingest is running
    t0 = time.monotonic()
    subprocess.run(_cmd(icb_small, tmp_path / "timing.duckdb"), env=_env(), check=True, capture_output=True)
    full = min(full, time.monotonic() - t0)
    want = _state(base)
    assert {f"raw_{d}" for d in ("patients", "prescriptions", "deaths")} <= set(want)
    rng = np.random.default_rng(20261123)
    interrupted = 0
    for trial in range(TRIALS):
        wh = tmp_path / f"trial{trial}.duckdb"
        proc = subprocess.Popen(_cmd(icb_small, wh), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.6 * full * (trial + rng.random()) / TRIALS)  # spread the kills over the run
        if proc.poll() is None:
            interrupted += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rerun = subprocess.run(_cmd(icb_small, wh), env=_env(), capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert _state(wh) == want, f"trial {trial}: state differs after kill at {proc.returncode}"
    assert interrupted >= TRIALS - 2, f"only {interrupted} of {TRIALS} kills landed while ingest was running"
