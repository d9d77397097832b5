"""Fixtures for the web tests: the built 10k ICB served in-process, with one user per role
and organisation the matrix needs (two practices in one PCN, a practice in another PCN, a PCN
lead, a place lead, a provider, an administrator and an analyst)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from phm.web.app import Settings, create_app
from phm.web.data import Dashboard
from phm.web.roles import Role

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    organisation: str


@pytest.fixture(scope="session")
def dashboard(icb10k_built) -> Dashboard:
    d = Dashboard(icb10k_built)
    yield d
    d.close()


@pytest.fixture(scope="session")
def accounts(dashboard) -> dict[str, Account]:
    h = dashboard.hierarchy
    practices = h.areas("practice")
    by_pcn: dict = {}
    for p in practices:
        by_pcn.setdefault(h.parent[p], []).append(p)
    pcn_a, pcn_b = sorted(k for k, v in by_pcn.items() if len(v) >= 2)[:2]
    icb = h.areas("icb")[0][1]
    submitters = sorted({r["submitter"] for r in dashboard.dq["dq_scores"] if r["submitter"]}
                        - {p[1] for p in practices})
    return {a.username: a for a in (
        Account("analyst", Role.ANALYST, icb),
        Account("place", Role.PLACE, h.parent[pcn_a][1]),
        Account("pcn-a", Role.PCN, pcn_a[1]),
        Account("pcn-b", Role.PCN, pcn_b[1]),
        Account("practice-a1", Role.PRACTICE, by_pcn[pcn_a][0][1]),
        Account("practice-a2", Role.PRACTICE, by_pcn[pcn_a][1][1]),
        Account("practice-b1", Role.PRACTICE, by_pcn[pcn_b][0][1]),
        Account("provider", Role.PROVIDER, submitters[0]),
        Account("provider-2", Role.PROVIDER, submitters[1]),
        Account("admin", Role.ADMIN, icb),
    )}


@pytest.fixture(scope="session")
def web_app(dashboard, accounts, tmp_path_factory):
    auth = tmp_path_factory.mktemp("web") / "phm-web.sqlite"
    app = create_app(Settings.for_warehouse(dashboard.path, auth=auth, login_failures_per_account=5,
                                            exports_per_minute=10_000), dashboard)
    store = app.state.web.store
    for a in accounts.values():
        store.add_user(a.username, PASSWORD, a.role, a.organisation)
    return app


def login(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)


@pytest.fixture(scope="session")
def clients(web_app, accounts) -> dict[str, TestClient]:
    """A signed-in client per account (https, so the Secure cookie is sent back)."""
    out = {}
    for name in accounts:
        c = TestClient(web_app, base_url="https://testserver")
        r = login(c, name)
        assert r.status_code == 303, r.text
        out[name] = c
    yield out
    for c in out.values():
        c.close()


@pytest.fixture
def anonymous(web_app):
    with TestClient(web_app, base_url="https://testserver") as c:
        yield c


def audit_rows(web_app, username: str | None = None) -> list[dict]:
    return web_app.state.web.store.audit_rows(1000, 0, username)


ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts"

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download cannot work here


def launch_args() -> list[str]:
    return ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-dev-shm-usage"]
