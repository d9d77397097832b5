"""Where the time goes: seconds, rows and peak memory per step of ``phm ingest`` and ``phm build``.

``phm build --profile`` and ``phm ingest --timings`` print a :class:`Timings` after the run; the
benchmark (``make bench``) records it per stage, so every change shows its cost. A step's
``peak_gb`` is the largest resident set size of this process seen while the step ran, sampled
every 20 ms by a daemon thread (``/proc/self/statm``; where that file does not exist, the
process's peak so far from ``getrusage``). DuckDB runs in this process, so its memory counts;
a Spark build's executors run in the JVM and do not.

A step may be entered many times (``ingest`` times each batch's read, validation,
pseudonymisation and wait for the writer under the dataset's name): seconds and rows add up,
the peak is the largest. Steps nest: a name ``"outer · inner"`` is a part of step ``outer``
and the total counts only the outer steps.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"


def rss_bytes() -> int:
    """This process's resident set size now (its peak so far where /proc is not available)."""
    try:
        with open(_STATM, "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    rows: int | None = None
    peak_gb: float = 0.0


class Timings:
    """Named steps in the order first entered. Use :meth:`step` as a context manager."""

    PART = " · "

    def __init__(self, interval: float = 0.02) -> None:
        self.steps: dict[str, Step] = {}
        self._interval = interval
        self._active: dict[int, int] = {}  # id of an open block -> its peak RSS so far
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="phm-timings", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            now = rss_bytes()
            with self._lock:
                for k, v in self._active.items():
                    self._active[k] = max(v, now)

    @contextmanager
    def step(self, name: str):
        """Time the block as (part of) step ``name``; set ``.rows`` on the yielded step."""
        s = self.steps.setdefault(name, Step(name))
        token = object()
        with self._lock:
            self._active[id(token)] = rss_bytes()
        t0 = time.perf_counter()
        try:
            yield s
        finally:
            s.seconds += time.perf_counter() - t0
            with self._lock:
                peak = max(self._active.pop(id(token)), rss_bytes())
            s.peak_gb = max(s.peak_gb, peak / 1e9)

    def add_rows(self, name: str, rows: int) -> None:
        s = self.steps.setdefault(name, Step(name))
        s.rows = (s.rows or 0) + rows

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def _outer(self) -> list[Step]:
        return [s for s in self.steps.values() if self.PART not in s.name]

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self._outer())

    def as_dicts(self) -> list[dict]:
        return [
            {
                "step": s.name,
                "seconds": round(s.seconds, 3),
                "rows": s.rows,
                "peak_gb": round(s.peak_gb, 3),
            }
            for s in self.steps.values()
        ]

    def table(self, title: str):
        """A rich table: step, seconds, share of the time, rows, peak GB."""
        from rich.table import Table

        t = Table(title=title)
        for col in ("step", "seconds", "share", "rows", "peak GB"):
            t.add_column(col, justify="left" if col == "step" else "right")
        total = self.total_seconds or 1.0
        for s in self.steps.values():
            t.add_row(
                ("  " + s.name.split(self.PART)[-1]) if self.PART in s.name else s.name,
                f"{s.seconds:.2f}",
                f"{100 * s.seconds / total:.0f}%",
                "" if s.rows is None else f"{s.rows:,}",
                f"{s.peak_gb:.2f}",
            )
        peak = max((s.peak_gb for s in self.steps.values()), default=0.0)
        t.add_row("total", f"{self.total_seconds:.2f}", "100%", "", f"{peak:.2f}")
        return t
