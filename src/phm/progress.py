"""Progress for the long commands (``phm synth``, ``ingest``, ``build``): rich progress bars on a
terminal, and plain log lines when the output is not a terminal (a CI log, a pipe, a file), so a
long run is never silent.

:func:`progress` returns a :class:`rich.progress.Progress` on a terminal and a
:class:`PlainProgress` otherwise; both take ``add_task``, ``update``, ``advance``,
``remove_task``, ``start``, ``stop`` and work as a context manager, so a command is written once.
A plain line is printed when a task (or, for a stepped task, a step) starts and when it ends,
with its elapsed seconds and rows; for a task with a total, also at every 10% of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress(console: Console, *, counts: str | None = None, steps: bool = False):
    """A progress display for ``console``: rich bars on a terminal, else :class:`PlainProgress`.
    ``counts``: label a task's completed count (e.g. ``"rows"``); ``steps``: show n/total."""
    if not console.is_terminal:
        return PlainProgress(console, counts)
    columns = [TextColumn("{task.description}"), BarColumn()]
    if steps:
        columns.append(MofNCompleteColumn())
    if counts:
        columns.append(TextColumn("{task.completed:,} " + counts))
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


@dataclass
class _Task:
    description: str
    total: float | None
    started: float = field(default_factory=time.perf_counter)
    completed: float = 0.0
    step_started: float = field(default_factory=time.perf_counter)
    reported: int = 0  # tenths of the total already reported


class PlainProgress:
    """Log lines in place of progress bars (see the module docstring)."""

    def __init__(self, console: Console, counts: str | None = None) -> None:
        self.console, self.counts = console, counts
        self.tasks: dict[int, _Task] = {}
        self._next = 0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        for task_id in list(self.tasks):
            self.remove_task(task_id)

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _done(self, t: _Task) -> str:
        rows = f", {int(t.completed):,} {self.counts}" if self.counts and t.completed else ""
        return f"{time.perf_counter() - t.step_started:.1f} s{rows}"

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        self._next += 1
        task_id = self._next
        self.tasks[task_id] = _Task(description, total)
        self._say(f"{description}: started")
        return task_id

    def update(self, task_id: int, *, description: str | None = None, completed: float | None = None,
               advance: float | None = None, total: float | None = None, **_) -> None:
        t = self.tasks.get(task_id)
        if t is None:
            return
        if total is not None:
            t.total = total
        if description is not None and description != t.description:
            self._say(f"{t.description}: done in {self._done(t)}")
            t.description, t.step_started = description, time.perf_counter()
            self._say(f"{description}: started")
        if completed is not None:
            t.completed = completed
        if advance:
            t.completed += advance
        self._tenths(t)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _tenths(self, t: _Task) -> None:
        if not t.total:
            return
        tenth = int(10 * t.completed / t.total)
        if tenth > t.reported and tenth < 10:
            t.reported = tenth
            self._say(f"{t.description}: {10 * tenth}% ({time.perf_counter() - t.started:.1f} s)")

    def remove_task(self, task_id: int) -> None:
        t = self.tasks.pop(task_id, None)
        if t is not None:
            self._say(f"{t.description}: done in {self._done(t)}")
