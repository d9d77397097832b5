"""The web commands from the command line (issue 16): ``phm serve`` on a port already in use,
``phm user add`` with an organisation the warehouse does not know, and what the other commands
do while a real ``phm serve`` is serving the warehouse (readers share it; writers are told
which process to stop, never to wait for one that never ends)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from phm.cli import main
from phm.warehouse import connect
from phm.web.store import Store
from phm_testing import TEST_KEY

pytestmark = pytest.mark.xdist_group("ingest")  # the worker that builds icb10k_built


@dataclass(frozen=True)
class Served:
    warehouse: Path
    port: int
    pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(icb10k_built, tmp_path_factory):
    """``phm serve`` in its own process on a copy of the built 10k warehouse."""
    root = tmp_path_factory.mktemp("served")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(icb10k_built, warehouse)
    port = _free_port()
    log = root / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phm.cli_entry",
                "serve",
                "--warehouse",
                str(warehouse),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.time() + 300
        while "Dashboard: http://" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=60) as r:
            assert r.status == 200
        yield Served(warehouse, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _one_line_error(err: str) -> str:
    assert err.startswith("phm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "wait for" not in err, err
    return err


# --- 1. phm serve on a busy port -----------------------------------------------------------------


def test_serve_on_a_port_in_use_is_one_line_naming_port_and_the_option(served):
    """Issue 16: a second 'phm serve' on the same port printed uvicorn's bind error (and, bound
    before the first listened, hung). It is refused at once, before the warehouse is loaded."""
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "phm.cli_entry",
            "serve",
            "--warehouse",
            str(served.warehouse),
            "--port",
            str(served.port),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == ""
    err = _one_line_error(run.stderr)
    assert f"port {served.port} is already in use on 127.0.0.1" in err
    assert "choose another port with --port, e.g. --port " in err
    assert time.monotonic() - started < 60  # the 10k dashboard was not loaded first
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/login", timeout=60) as r:
        assert r.status == 200  # the first server is untouched


def test_serve_refuses_a_bad_port_or_unbuilt_warehouse_in_one_line(tmp_path, capsys):
    wh = tmp_path / "empty.duckdb"
    with connect(wh, create=True):
        pass
    assert main(["serve", "--warehouse", str(wh), "--port", "0"]) == 2
    assert "run 'phm build --warehouse" in _one_line_error(capsys.readouterr().err)
    assert main(["serve", "--warehouse", str(wh), "--port", "70000"]) == 2
    assert "--port 70000 is not a port number" in _one_line_error(capsys.readouterr().err)


# --- 2. commands while the dashboard serves the warehouse -----------------------------------------


def test_dq_reports_while_the_dashboard_serves(served, tmp_path, capsys):
    """Issue 16: 'phm dq' said the warehouse was in use and to wait, while the dashboard (which
    never finishes) served it. Both read it: the report is written."""
    assert (
        main(["dq", "--warehouse", str(served.warehouse), "--out", str(tmp_path / "dq.html")]) == 0
    )
    assert (tmp_path / "dq.html").stat().st_size > 1000
    assert len(list((tmp_path / "dq-html-feedback").glob("*.csv"))) > 3
    assert "Data-quality report" in capsys.readouterr().err


def test_writers_are_told_to_stop_the_dashboard_not_to_wait(
    served, icb10k, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("PHM_PSEUDO_KEY", TEST_KEY)
    dashboard = f"the dashboard ('phm serve', PID {served.pid})"
    wh = str(served.warehouse)
    assert main(["dq", "--warehouse", wh, "--out", str(tmp_path / "dq.html"), "--recompute"]) == 2
    err = _one_line_error(capsys.readouterr().err)
    assert (
        f"--recompute re-runs the data-quality rules, which needs warehouse {wh} to itself" in err
    )
    assert (
        f"open to read in {dashboard}: stop that process" in err and "leave out --recompute" in err
    )
    assert not (tmp_path / "dq.html").exists()
    for command in (["build", "--force"], ["ingest", str(icb10k / "deaths.parquet")]):
        assert main([*command, "--warehouse", wh]) == 2
        err = _one_line_error(capsys.readouterr().err)
        assert (
            f"warehouse {wh} is open to read in {dashboard}; writing to it needs it to itself: stop that process"
            in err
        )


# --- 4. phm user add checks the organisation -------------------------------------------------------


def test_user_add_refuses_an_organisation_the_warehouse_does_not_know(
    served, tmp_path, capsys, monkeypatch
):
    """Issue 16: 'phm user add --org U12345' accepted an organisation that does not exist (the
    user could sign in and see nothing). It must be one of the warehouse's, of the role's kind;
    this works while the dashboard serves the warehouse (both only read it)."""
    monkeypatch.setenv("PHM_PASSWORD", "correct-horse-battery-staple")
    with connect(served.warehouse, read_only=True) as w:
        areas = w.to_arrow("dash_areas").to_pylist()
    pcns = {a["pcn_code"] for a in areas if a["pcn_code"]}
    practice = sorted(a["practice_code"] for a in areas)[0]
    pcn = sorted(pcns)[-1]
    auth = tmp_path / "auth.sqlite"
    wh = str(served.warehouse)

    def add(name: str, role: str, org: str) -> int:
        return main(
            [
                "user",
                "add",
                "--warehouse",
                wh,
                "--auth",
                str(auth),
                name,
                "--role",
                role,
                "--org",
                org,
            ]
        )

    assert "U12345" not in pcns
    assert add("bob", "pcn", "U12345") == 2
    err = _one_line_error(capsys.readouterr().err)
    assert f"organisation 'U12345' is not a PCN in warehouse {wh}" in err
    assert "dash_areas (written by phm build)" in err and "PCNs: " in err
    assert not auth.exists()  # refused before asking for a password or opening the auth store

    typo = next(pcn[:-1] + d for d in "0123456789" if pcn[:-1] + d not in pcns)
    assert add("bob", "pcn", typo) == 2  # one character wrong: the PCN is suggested
    assert pcn in _one_line_error(capsys.readouterr().err).partition("did you mean ")[2]
    assert add("bob", "pcn", practice) == 2
    assert f"'{practice}' is not a PCN" in _one_line_error(capsys.readouterr().err)
    assert add("bob", "provider", "NOPE1") == 2
    assert "not a data-quality submitter" in _one_line_error(capsys.readouterr().err)

    assert (
        add("bob", "pcn", pcn.lower()) == 0
    )  # known, in any case: stored as the warehouse spells it
    assert add("carol", "practice", practice) == 0
    assert {(u.username, u.role.value, u.organisation) for u in Store(auth).users()} == {
        ("bob", "pcn", pcn),
        ("carol", "practice", practice),
    }
