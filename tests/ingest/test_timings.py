"""phm.timings: what ``--profile`` / ``--timings`` report (seconds, rows, peak memory per step)."""

from __future__ import annotations

import mmap
import time

from phm.timings import Timings


def test_a_step_entered_twice_adds_its_seconds_and_rows():
    t = Timings()
    try:
        for _ in range(2):
            with t.step("read") as s:
                time.sleep(0.03)
            t.add_rows("read", 5)
        assert s.rows == 10 and 0.06 <= t.steps["read"].seconds < 1.0
    finally:
        t.close()


def test_parts_are_shown_under_their_step_and_not_counted_twice():
    t = Timings()
    try:
        with t.step("patients"):
            with t.step("patients · read"):
                time.sleep(0.02)
            with t.step("patients · validate"):
                time.sleep(0.02)
        assert t.total_seconds == t.steps["patients"].seconds
        assert t.total_seconds >= t.steps["patients · read"].seconds + t.steps["patients · validate"].seconds
        rows = [r["step"] for r in t.as_dicts()]
        assert rows == ["patients", "patients · read", "patients · validate"]
    finally:
        t.close()


def test_the_peak_is_the_largest_memory_seen_while_the_step_ran():
    """50 MB mapped, touched and unmapped inside one step (an anonymous mmap: the memory goes
    back to the system at close, whatever the allocator does): that step's peak holds it,
    the steps before and after do not."""
    size = 50_000_000
    t = Timings(interval=0.005)
    try:
        with t.step("before"):
            time.sleep(0.02)
        with t.step("allocate"):
            m = mmap.mmap(-1, size)
            page = b"x" * 1_000_000
            for _ in range(size // len(page)):
                m.write(page)  # touched: resident
            time.sleep(0.05)
            m.close()
        with t.step("after"):
            time.sleep(0.02)
        assert t.steps["allocate"].peak_gb >= t.steps["before"].peak_gb + 0.04
        assert t.steps["after"].peak_gb <= t.steps["allocate"].peak_gb - 0.04
    finally:
        t.close()
