"""Progress on a terminal and off it (issue 16): rich bars on a terminal, a plain line per task
or step (with its seconds and rows) when the output is a pipe or a log."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from phm.cli import main
from phm.progress import PlainProgress, progress


def test_a_terminal_gets_bars_and_a_pipe_gets_lines():
    assert isinstance(progress(Console(file=io.StringIO(), force_terminal=True)), Progress)
    assert isinstance(progress(Console(file=io.StringIO(), force_terminal=False)), PlainProgress)


def test_plain_lines_for_tasks_steps_and_tenths():
    out = io.StringIO()
    with progress(Console(file=out, force_terminal=False, width=200), counts="rows") as bar:
        a = bar.add_task("patients: patients.parquet")
        bar.advance(a, 1200)
        bar.remove_task(a)
        b = bar.add_task("build: person", total=10)
        bar.update(b, description="build: activity", completed=5)
    lines = out.getvalue().splitlines()
    assert lines[0] == "patients: patients.parquet: started"
    assert lines[1].startswith("patients: patients.parquet: done in ") and lines[1].endswith("1,200 rows")
    assert "build: person: done in" in lines[3] and lines[4] == "build: activity: started"
    assert lines[5].startswith("build: activity: 50% (")
    assert lines[-1].startswith("build: activity: done in")


def test_synth_off_a_terminal_logs_its_progress(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "o"), "--persons", "300", "--years", "1"]) == 0
    err = capsys.readouterr().err
    assert "Generating activity: started" in err and "Generating activity: done in" in err
