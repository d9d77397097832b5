"""A warehouse of several ICBs (issue 17, parts 2-3): each ICB's users see their own ICB, peers
only through disclosure-controlled aggregates on the "How we compare" page; a user of one ICB
cannot read another ICB's practice-level data; row-level marts are for a warehouse-wide
analyst only. Expectations are written from governance.md, not taken from phm.web.roles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import PASSWORD, audit_rows, login

from phm.cli import main
from phm.web.app import Settings, create_app
from phm.web.data import Dashboard
from phm.web.datasets import DATASETS
from phm.web.roles import Role
from phm_testing import ingest_with_key, synth

pytestmark = pytest.mark.xdist_group("region")

ICBS = ("QSL", "QT6", "QOC")  # the three ICBs with the fewest practices: a quick start-up


@pytest.fixture(scope="module")
def region_dashboard(tmp_path_factory):
    d = tmp_path_factory.mktemp("region_web")
    synth(d / "synth", "--persons", "3000", "--years", "1", "--seed", "8", "--icb", ",".join(ICBS))
    wh = d / "warehouse.duckdb"
    assert not ingest_with_key(d / "synth", wh).failed
    assert main(["build", "--warehouse", str(wh)]) == 0
    dash = Dashboard(wh)
    yield dash
    dash.close()


@pytest.fixture(scope="module")
def region_clients(region_dashboard, tmp_path_factory):
    h = region_dashboard.hierarchy
    place_a = next(a for a in h.areas("place") if h.parent.get(a) == ("icb", ICBS[0]))
    practice_b = next(a for a in h.areas("practice") if ("icb", ICBS[1]) in h.ancestors(a))
    users = {"analyst-a": (Role.ANALYST, ICBS[0]), "analyst-b": (Role.ANALYST, ICBS[1]),
             "analyst-region": (Role.ANALYST, "Y58"), "place-a": (Role.PLACE, place_a[1]),
             "practice-b": (Role.PRACTICE, practice_b[1])}
    app = create_app(Settings.for_warehouse(region_dashboard.path, auth=tmp_path_factory.mktemp("auth") / "a.sqlite",
                                            login_failures_per_account=5, exports_per_minute=10_000), region_dashboard)
    for name, (role, org) in users.items():
        app.state.web.store.add_user(name, PASSWORD, role, org)
    out = {}
    for name in users:
        c = TestClient(app, base_url="https://testserver")
        assert login(c, name).status_code == 303
        out[name] = c
    yield app, out, users
    for c in out.values():
        c.close()


def _icb_of(h, area):
    return area[1] if area[0] == "icb" else next(a[1] for a in h.ancestors(area) if a[0] == "icb")


def test_the_warehouse_holds_three_icbs_with_their_peers(region_dashboard):
    h = region_dashboard.hierarchy
    assert [a[1] for a in h.areas("icb")] == sorted(ICBS)
    for icb in ICBS:
        mine = [r for r in region_dashboard.peers if r["level"] == "icb" and r["area_code"] == icb]
        assert sorted(r["peer_code"] for r in mine if r["basis"] == "warehouse") == sorted(set(ICBS) - {icb})
        assert len([r for r in mine if r["basis"] == "england"]) == 10
    # a practice's peers are practices of its own ICB
    for r in region_dashboard.peers:
        if r["level"] == "practice":
            assert _icb_of(h, ("practice", r["area_code"])) == _icb_of(h, ("practice", r["peer_code"]))


@pytest.mark.parametrize("dataset", ["summary", "pyramid", "programmes"])
def test_a_user_of_one_icb_cannot_read_another_icbs_practices(region_dashboard, region_clients, dataset):
    assert dataset in DATASETS
    h = region_dashboard.hierarchy
    _, clients, users = region_clients
    for name, (role, org) in users.items():
        home_icb = org if role is Role.ANALYST else _icb_of(h, (role.value, org))
        for icb in ICBS:
            practice = next(a for a in h.areas("practice") if ("icb", icb) in h.ancestors(a))
            r = clients[name].get(f"/api/v1/data/{dataset}", params={"level": "practice", "area": practice[1]})
            if name == "analyst-region" or (role is Role.ANALYST and icb == home_icb):
                assert r.status_code == 200, (name, icb)
            elif role is Role.PRACTICE and practice[1] == org:
                assert r.status_code == 200
            elif icb != home_icb:
                assert r.status_code == 403, (name, icb, r.status_code)
                assert "rows" not in r.json()
        whole = clients[name].get(f"/api/v1/data/{dataset}", params={"level": "practice"})
        if whole.status_code == 200 and name != "analyst-region":
            got = {_icb_of(h, ("practice", x["area_code"])) for x in whole.json()["rows"]}
            assert got <= {home_icb}, (name, got)
    refusals = [a for a in audit_rows(region_clients[0], "analyst-a") if a["outcome"] != "ok"]
    assert refusals  # every refusal is on the audit log


def test_row_level_marts_are_for_a_warehouse_wide_analyst_only(region_clients):
    _, clients, _ = region_clients
    assert clients["analyst-region"].get("/api/v1/marts").status_code == 200
    r = clients["analyst-a"].get("/api/v1/marts")
    assert r.status_code == 403 and "several ICBs" in r.json()["detail"]
    assert clients["analyst-a"].get("/api/v1/marts/person").status_code == 403


def test_each_icb_sees_its_peers_and_england_as_controlled_aggregates(region_dashboard, region_clients):
    _, clients, _ = region_clients
    a, b, c3 = ICBS
    page = clients["analyst-a"].get("/compare", params={"area": f"icb:{a}"})
    assert page.status_code == 200, page.text
    text = page.text
    assert "Key measures against peers and England" in text and "Similar 10 ICBs of England" in text
    assert "ONS mid-2020" in text and "no national value shipped" in text
    assert b in text and c3 in text
    # the peers' figures on the page are their disclosure-controlled ones, not the raw
    from phm.web.compare import comparison

    class _S:  # a session as the page has it
        class user:
            role = Role.ANALYST
            organisation = a
            username = "analyst-a"
    c = comparison(region_dashboard, _S, "icb", a)
    served = region_dashboard.served["summary"]
    latest = {p: max(served.protected[("icb", p)], key=lambda r: r["fy"]) for p in (b, c3)}
    from phm.web.compare import MEASURES

    for (name, _), row in zip(MEASURES, c["measures"], strict=True):
        shown = [latest[p][name] for p in (b, c3) if isinstance(latest[p][name], int | float)]
        assert row["peers_shown"] == len(shown), name  # a withheld peer value is left out, never replaced
        assert (row["peer_min"], row["peer_max"]) == ((min(shown), max(shown)) if shown else (None, None)), name
    # nobody of one ICB opens another ICB's page, the analyst included
    assert clients["analyst-a"].get("/compare", params={"area": f"icb:{b}"}).status_code == 403
    assert clients["place-a"].get("/compare", params={"area": f"icb:{b}"}).status_code == 403


def test_local_peers_figures_are_for_the_analyst_only(region_dashboard, region_clients):
    h = region_dashboard.hierarchy
    _, clients, users = region_clients
    practice = users["practice-b"][1]
    r = clients["practice-b"].get("/compare", params={"area": f"practice:{practice}"})
    assert r.status_code == 200
    assert "shown to the ICB analyst only" in r.text
    r = clients["analyst-b"].get("/compare", params={"area": f"practice:{practice}"})
    assert r.status_code == 200 and "shown to the ICB analyst only" not in r.text
    assert ("practice", practice) in h.names


def test_each_icb_sees_its_opportunity_against_the_better_half_of_its_peers(region_dashboard, region_clients):
    """Issue 17 part 4: activity and £ by programme and by setting, with the caveats; the page's
    totals are the dash_opportunity rows', and the ICB benchmark uses only released peer figures."""
    _, clients, users = region_clients
    a = ICBS[0]
    text = clients["analyst-a"].get("/compare", params={"area": f"icb:{a}"}).text
    assert "Opportunity by programme of care against the better half of peers" in text
    assert "Opportunity by setting against the better half of peers" in text
    assert "An opportunity is not a saving" in text and "Lower is not always better" in text
    assert "UNVERIFIED" in text
    rows = region_dashboard.opportunity[("icb", a)]
    assert {r["dimension"] for r in rows} == {"programme", "setting"}
    assert {r["peers"] for r in rows} == {2}  # the other two ICBs of the warehouse
    for dim in ("programme", "setting"):
        total = sum(r["opportunity"] for r in rows if r["dimension"] == dim and r["measure"] == "spend"
                    and r["opportunity"] == r["opportunity"])
        assert f"£{total:,.0f}" in text
    # the two cuts are the same money: setting and programme spend totals agree
    spend = {d: sum(r["value"] for r in rows if r["dimension"] == d and r["measure"] == "spend")
             for d in ("programme", "setting")}
    assert spend["programme"] == pytest.approx(spend["setting"])
    # a place lead gets the caveat and no figures
    place = users["place-a"][1]
    r = clients["place-a"].get("/compare", params={"area": f"place:{place}"})
    assert r.status_code == 200 and "Opportunity figures are shown to the ICB analyst only" in r.text
    assert "£ opportunity on registered population" not in r.text
