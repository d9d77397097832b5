"""`phm demo` end to end: it generates, ingests and builds a small ICB, prints the demo
logins and serves the dashboard on 127.0.0.1, where the login page and the overview render
in headless Chromium (issue 5 acceptance, at a small size; `make demo` runs the same
command at 50,000 persons)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.web.conftest import CHROMIUM, launch_args

pytestmark = pytest.mark.xdist_group("demo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_phm_demo_serves_a_dashboard_that_renders(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "phm.cli_entry", "demo", "--persons", "2000", "--out",
                                 str(tmp_path / "demo"), "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "200"}, start_new_session=True)
    try:
        # a deadline for a hung demo, not a speed target (those are in bench/): on a slow 2-core
        # machine, beside the suite's other worker and Spark, the 2,000-person demo once took
        # over 300 s to get as far as serving
        deadline = time.time() + 900
        while "Dashboard: http://127.0.0.1" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert f"Dashboard: http://127.0.0.1:{port}/" in text, text[-3000:]
        logins = dict(re.findall(r"(demo-analyst)\s*│?\s*(\S+)", text))
        assert "demo-analyst" in logins, text[-3000:]
        for role in ("analyst", "place", "pcn", "practice", "provider", "admin"):
            assert f"demo-{role}" in text
        assert (tmp_path / "demo" / "warehouse.duckdb").exists()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch_args())
            page = browser.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            for _ in range(50):  # the server starts a moment after it prints its address
                try:
                    page.goto(f"http://127.0.0.1:{port}/login")
                    break
                except Exception:
                    time.sleep(0.2)
            assert page.locator("h1").inner_text() == "Sign in"
            page.fill("#username", "demo-analyst")
            page.fill("#password", logins["demo-analyst"])
            page.click("button[type=submit]")
            page.wait_for_url(f"http://127.0.0.1:{port}/")
            assert page.locator("h1").inner_text() == "Overview"
            charts = page.locator(".chart")
            assert charts.count() >= 4
            page.wait_for_selector(".chart:not([data-rendered=true])", state="detached", timeout=20_000)
            assert errors == []
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert Path(tmp_path / "demo" / "phm-web.sqlite").exists()
