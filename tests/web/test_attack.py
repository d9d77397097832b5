"""The attacker's test (issue 12, item 4; docs/governance.md, "Secondary disclosure").

As every non-analyst role with population data (place lead, PCN lead, GP practice), download
everything the role may see from the API — every dataset, every level the role has, every
area (level-wide requests), every financial year, as JSON, CSV and XLSX, and the practice
comparison view of every practice the role may see, and every population page's embedded
chart data for every area and year (each point must be the API's cell) — and solve for each withheld cell
(:mod:`tests.web.attack`): build the additive relations the published definitions imply,
keep those that hold on the analyst's exact data, turn each released value into the interval
the published rounding rule allows, and bound each withheld cell by linear programming.

Fails if a cell differs between views, if any withheld count is proved to be 1-7 (or pinned
to one value), or if any withheld £ value is pinned to within its rounding base. Runs on the
web tests' 10k ICB (one place) and on a 20,000-person ICB with five places (QH8).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from phm.web.app import Settings, create_app
from phm.web.data import Dashboard
from phm.web.datasets import DATASETS
from phm.web.roles import Role

from . import attack as atk
from .conftest import PASSWORD, login

pytestmark = pytest.mark.xdist_group("ingest")

FORMATS = ("json", "csv", "xlsx")


def download(client: TestClient, years: dict[str, list[int]], formats=FORMATS) -> atk.Views:
    """Every cell the signed-in role can download, from every format and view."""
    views = atk.Views()
    me = client.get("/api/v1/me").json()
    levels = sorted({a["level"] for a in me["areas"]})
    for name, d in DATASETS.items():
        for level in (x for x in levels if not d.levels or x in d.levels):
            for fy in [None] if d.all_years else years[name]:
                params = {"level": level, **({"fy": fy} if fy is not None else {})}
                for fmt in formats:
                    r = client.get(f"/api/v1/data/{name}", params={**params, "format": fmt})
                    assert r.status_code == 200, (name, params, fmt, r.status_code, r.text[:200])
                    where = f"{fmt} {name} {params}"
                    if fmt == "json":
                        views.add(where, atk.cells_from_payload(r.json()))
                    elif fmt == "csv":
                        views.add(where, atk.cells_from_csv(r.content, name))
                    else:
                        views.add(where, atk.cells_from_xlsx(r.content, name))
    for a in me["areas"]:
        if a["level"] == "practice":
            j = client.get(f"/api/v1/practice/{a['code']}")
            assert j.status_code == 200
            for tab, payload in j.json()["tables"].items():
                views.add(f"practice view {a['code']} {tab}", atk.cells_from_payload(payload))
    return views


PAGES = ("/", "/population", "/inequalities", "/spend", "/needs")


def check_pages(client: TestClient, views: atk.Views, years: list[int]) -> int:
    """Every chart point of every population page, for every area and year the role has, is
    the API's cell (or a gap where it is withheld): the pages release nothing the API does
    not, so attacking the API's cells covers them. Differences go to ``views.conflicts``.
    Returns the number of points checked."""
    from phm.web.names import SETTING_NAMES, SEX_NAMES

    me = client.get("/api/v1/me").json()
    names = {
        "setting": {v: k for k, v in SETTING_NAMES.items()},
        "sex": SEX_NAMES,
        "segment": {k[4][1]: k[4][0] for k in views.cells if k[0] == "segments"},
        "programme": {k[4][1]: k[4][0] for k in views.cells if k[0] == "programmes"},
        "cohort": {k[4][2]: k[4] for k in views.cells if k[0] == "top_cohort" and k[4][0] == "segment"},
        "practice": {a.get("name", a["code"]): a["code"] for a in me["areas"] if a["level"] == "practice"},
    }
    n = 0
    for a in me["areas"]:
        for page in PAGES:
            for fy in years:
                r = client.get(page, params={"area": f"{a['level']}:{a['code']}", "fy": fy})
                if r.status_code == 404 and "no financial year" in r.text and fy != years[-1]:
                    continue  # a page of a dataset built for the latest year only
                assert r.status_code == 200, (page, a, fy, r.status_code)
                for panel in atk.page_panels(r.text):
                    if panel.figure:
                        where = f"page {page} {a['level']}:{a['code']} {fy}"
                        n += atk.chart_cells(views, page, panel.figure, a["level"], a["code"], fy, where, names)
    return n


def signed_in(app, username: str) -> TestClient:
    """A client signed in as ``username``, from an address of its own (TEST-NET-2), so the
    suite's other sign-ins do not use up the per-address login limit."""
    address = f"198.51.100.{zlib.crc32(username.encode()) % 250 + 1}"
    c = TestClient(app, base_url="https://testserver", client=(address, 50000))
    assert login(c, username).status_code == 303
    return c


def run_attack(app, dashboard: Dashboard, usernames: list[str]) -> tuple[list[str], dict]:
    """Attack as each user; return the failures and per-user figures."""
    years = {n: s.years for n, s in dashboard.served.items()}
    truth = download(signed_in(app, "analyst"), years, formats=("json",)).cells
    parent = dict(dashboard.hierarchy.parent)
    relations, families = atk.verify_relations(atk.candidate_relations(truth, parent), truth)
    failures, figures = [], {}
    for user in usernames:
        client = signed_in(app, user)
        views = download(client, years)
        points = check_pages(client, views, years["summary"])
        money = [v for k, v in views.cells.items() if atk.is_money(k) and isinstance(v, int | float)]
        rounded = atk.looks_rounded(money)
        result = atk.attack(relations, views.cells, views.tables, truth, rounded)
        by = Counter((r.key[0], r.why) for r in result.recovered)
        figures[user] = {"cells": len(views.cells), "chart points": points, "withheld": result.withheld,
                         "in_relations": result.targets, "recovered": dict(by), "lps": result.lps}
        failures += [f"{user}: {atk.show(k)} shown as {a!r} in {w1} but {b!r} in {w2}"
                     for k, w1, a, w2, b in views.conflicts[:5]]
        failures += [f"{user}: {p}" for p in result.inconsistent[:5]]
        if result.recovered:
            examples = "; ".join(f"{atk.show(r.key)} in [{r.lo:g}, {r.hi:g}] (true {r.true:g}, {r.why})"
                                 for r in result.recovered[:6])
            failures.append(f"{user}: {len(result.recovered)} withheld cells recovered {dict(by)}: {examples}")
    return failures, {"users": figures, "relation families": len(families)}


# ---- the web tests' ICB (10k persons, one place) ---------------------------------------------


def test_differencing_attack_on_the_test_icb(web_app, dashboard):
    """Every practice account and both PCN leads: nothing withheld can be worked out."""
    users = ["practice-a1", "practice-a2", "practice-b1", "pcn-a", "pcn-b"]
    failures, figures = run_attack(web_app, dashboard, users)
    print(figures)
    assert not failures, "\n".join(failures)


@pytest.mark.xdist_group("attack-place")  # the suite's longest test: beside the ingest group, not in it
def test_differencing_attack_on_the_test_icb_as_the_place_lead(web_app, dashboard):
    """The place lead sees every practice and PCN of the ICB's one place: the largest
    system (about 100,000 cells; 5 minutes of linear programming)."""
    failures, figures = run_attack(web_app, dashboard, ["place"])
    print(figures)
    assert not failures, "\n".join(failures)


# ---- a 20,000-person ICB with five places ------------------------------------------------------


@pytest.fixture(scope="module")
def icb20k_places(tmp_path_factory):
    from phm.cli import main
    from phm_testing import ingest_with_key, synth

    src = synth(tmp_path_factory.mktemp("icb20k"), "--persons", "20000", "--seed", "12", "--icb", "QH8")
    wh = tmp_path_factory.mktemp("wh20k") / "warehouse.duckdb"
    assert not ingest_with_key(src, wh).failed
    assert main(["build", "--warehouse", str(wh)]) == 0
    d = Dashboard(wh)
    yield d
    d.close()


def _accounts_20k(d, tmp_path_factory):
    h = d.hierarchy
    places = h.areas("place")
    assert len(places) >= 2, places
    app = create_app(Settings.for_warehouse(d.path, auth=tmp_path_factory.mktemp("auth20k") / "a.sqlite",
                                            exports_per_minute=100_000), d)
    store = app.state.web.store
    store.add_user("analyst", PASSWORD, Role.ANALYST, h.areas("icb")[0][1])
    users: dict[str, list[str]] = {"place": [], "pcn": [], "practice": []}
    for i, p in enumerate(places):
        store.add_user(f"place{i}", PASSWORD, Role.PLACE, p[1])
        users["place"].append(f"place{i}")
    pcns = [next(a for a in h.areas("pcn") if h.parent.get(a) == p) for p in places[:2]]
    for i, pcn in enumerate(pcns):
        store.add_user(f"pcn{i}", PASSWORD, Role.PCN, pcn[1])
        users["pcn"].append(f"pcn{i}")
    practices = [a for a in h.areas("practice") if h.parent.get(a) in pcns][:3]
    for i, pr in enumerate(practices):
        store.add_user(f"practice{i}", PASSWORD, Role.PRACTICE, pr[1])
        users["practice"].append(f"practice{i}")
    return app, users


ICB20K = pytest.mark.xdist_group("icb20k")  # its own ICB: runs beside the 10k ICB's group


@ICB20K
def test_differencing_attack_on_an_icb_with_several_places(icb20k_places, tmp_path_factory):
    """PCN leads in two places and three of their practices, on a 20,000-person ICB."""
    app, users = _accounts_20k(icb20k_places, tmp_path_factory)
    failures, figures = run_attack(app, icb20k_places, users["pcn"] + users["practice"])
    print(figures)
    assert not failures, "\n".join(failures)


@ICB20K
def test_differencing_attack_on_an_icb_with_several_places_as_place_leads(icb20k_places, tmp_path_factory):
    """Every place lead of the five places (and the sixth, a place of a few practices)."""
    app, users = _accounts_20k(icb20k_places, tmp_path_factory)
    failures, figures = run_attack(app, icb20k_places, users["place"])
    print(figures)
    assert not failures, "\n".join(failures)


def test_the_attack_recovers_cells_from_unprotected_money():
    """The attacker is not toothless: released exactly, a practice's spend less its other
    settings gives the withheld setting to the penny (the issue's attack)."""
    truth = {("summary", "practice", "P", 2024, (), "spend"): 100_000.0}
    released = {("summary", "practice", "P", 2024, (), "spend"): 100_000.0}
    for s, v in (("gp", 60_000.0), ("apc", 39_000.0), ("social_care", 1_000.0)):
        k = ("settings", "practice", "P", 2024, (s,), "spend")
        truth[k] = v
        released[k] = "*" if s == "social_care" else v
    rels = [atk.Relation("summary.spend = sum settings.spend",
                         ((1.0, ("summary", "practice", "P", 2024, (), "spend")),
                          *((-1.0, k) for k in truth if k[0] == "settings")))]
    tables = {k[:4] for k in released}
    result = atk.attack(rels, released, tables, truth, rounded=False)
    assert [r.why for r in result.recovered] == ["money"]
    assert re.match(r"settings\[practice P 2024 social_care\]\.spend", atk.show(result.recovered[0].key))
