"""Role x organisation x endpoint: nobody sees another organisation's data, and every refusal
is audited (issue 5 acceptance). Expectations are written out here from the access rules in
governance.md, not taken from phm.web.roles."""

from __future__ import annotations

import pytest
from tests.web.conftest import audit_rows

from phm.web.datasets import DATASETS

pytestmark = pytest.mark.xdist_group("ingest")

POPULATION = ("analyst", "place", "pcn-a", "pcn-b", "practice-a1", "practice-a2", "practice-b1")


def expected_areas(acc, h) -> set:
    """The areas whose own figures the account may see."""
    if acc.role == "analyst":
        return set(h.names)
    if acc.role in ("provider", "admin"):
        return set()
    home = (acc.role, acc.organisation)
    return {a for a in h.names if a == home or home in h.ancestors(a)}


@pytest.fixture(scope="module")
def probes(dashboard, accounts):
    """Areas to ask for: the accounts' own practices and PCNs, their place and the ICB."""
    h = dashboard.hierarchy
    out = {("practice", accounts[n].organisation) for n in ("practice-a1", "practice-a2", "practice-b1")}
    out |= {("pcn", accounts[n].organisation) for n in ("pcn-a", "pcn-b")}
    out |= {("place", accounts["place"].organisation), h.areas("icb")[0]}
    return sorted(out)


def served_elsewhere(dataset: str, level: str) -> bool:
    """The dataset is served at some levels only, and not at ``level``."""
    levels = DATASETS[dataset].levels
    return bool(levels) and level not in levels


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_each_area_is_served_only_inside_the_organisation(dataset, clients, accounts, dashboard, probes):
    h = dashboard.hierarchy
    for name, acc in accounts.items():
        allowed = expected_areas(acc, h)
        c = clients[name]
        for level, code in probes:
            r = c.get(f"/api/v1/data/{dataset}", params={"level": level, "area": code})
            if (level, code) in allowed and not served_elsewhere(dataset, level):
                assert r.status_code == 200, (name, level, code, r.text)
                rows = r.json()["rows"]
                assert {(x["level"], x["area_code"]) for x in rows} <= {(level, code)}
            else:  # outside the organisation; inside it, a level the dataset is not served at
                assert r.status_code == (404 if (level, code) in allowed else 403), (name, level, code, r.status_code)
                assert "rows" not in r.json()


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_whole_levels_are_cut_to_the_organisation(dataset, clients, accounts, dashboard):
    h = dashboard.hierarchy
    for name, acc in accounts.items():
        allowed = expected_areas(acc, h)
        for level in ("icb", "place", "pcn", "practice", None):
            r = clients[name].get(f"/api/v1/data/{dataset}", params={"level": level} if level else {})
            default = level or ("icb" if acc.role == "analyst" else acc.role)  # the organisation's own level
            if served_elsewhere(dataset, default) and any(a[0] == default for a in allowed):
                assert r.status_code == 404, (name, level, r.status_code)
                continue
            if r.status_code == 200:
                got = {(x["level"], x["area_code"]) for x in r.json()["rows"]}
                assert got and got <= allowed, (name, level)
                if level:
                    # (a practice with no index discharge in the year has no standardised row)
                    assert got == {a for a in allowed if a[0] == level} or dataset in (
                        "top_cohort", "indicators_standardised")
            else:
                assert r.status_code == 403, (name, level, r.status_code)
                assert not (level and any(a[0] == level for a in allowed)) or not acc.role.sees_population


def test_practice_page_api_shows_only_comparators(clients, accounts, dashboard, probes):
    h = dashboard.hierarchy
    practices = [p for p in probes if p[0] == "practice"]
    for name, acc in accounts.items():
        allowed = expected_areas(acc, h)
        for p in practices:
            r = clients[name].get(f"/api/v1/practice/{p[1]}")
            if p in allowed:
                assert r.status_code == 200
                areas = {(t["level"], t["area_code"]) for tab in r.json()["tables"].values() for t in tab["rows"]}
                assert areas <= {p, h.parent[p], h.areas("icb")[0]}  # itself, its PCN and the ICB only
            else:
                assert r.status_code == 403, (name, p)


def test_a_practice_asking_for_another_practice_is_refused_and_audited(clients, accounts, web_app):
    other = accounts["practice-a2"].organisation
    c = clients["practice-a1"]
    for url in (f"/api/v1/data/summary?level=practice&area={other}", f"/api/v1/practice/{other}",
                f"/?area=practice:{other}", f"/practice?code={other}", "/api/v1/data/summary?level=pcn",
                f"/api/v1/data/prevalence?level=practice&within=pcn:{accounts['pcn-b'].organisation}"):
        r = c.get(url)
        assert r.status_code in (403, 404), url
        assert other not in r.text or (r.status_code == 403 and "rows" not in r.text)
        last = audit_rows(web_app, "practice-a1")[0]
        assert last["outcome"] in ("denied", "not found") and last["status"] == r.status_code
        assert last["target"].endswith(url.split("?", 1)[-1]) or last["target"].startswith("GET ")
        assert last["organisation"] == accounts["practice-a1"].organisation and last["role"] == "practice"


def test_data_quality_is_each_providers_own(clients, accounts):
    for name, acc in accounts.items():
        c = clients[name]
        r = c.get("/api/v1/dq/scores")
        if acc.role == "analyst":
            assert len({x["submitter"] for x in r.json()["rows"]}) > 2
        elif acc.role in ("provider", "practice"):
            assert r.status_code == 200
            assert {x["submitter"] for x in r.json()["rows"]} <= {acc.organisation}
            assert {x["submitter"] for x in c.get("/api/v1/dq/results").json()["rows"]} <= {acc.organisation}
            other = accounts["provider-2" if name != "provider-2" else "provider"].organisation
            assert c.get("/api/v1/dq/scores", params={"submitter": other}).status_code == 403
        else:
            assert r.status_code == 403


def test_admin_and_provider_see_no_population_and_only_admin_sees_audit(clients):
    for name in ("provider", "admin"):
        for url in ("/api/v1/data/summary", "/api/v1/practice/X", "/", "/spend"):
            r = clients[name].get(url, follow_redirects=False)
            assert r.status_code in (303, 403), (name, url)  # / redirects them to their own home page
    for name in (*POPULATION, "provider"):
        assert clients[name].get("/api/v1/audit").status_code == 403
        assert clients[name].get("/audit").status_code == 403
        assert clients[name].get("/api/v1/users").status_code == 403
    assert clients["admin"].get("/api/v1/audit").status_code == 200
