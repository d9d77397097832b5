"""The commissioning indicators on the dashboard (issue 18, item 7): the Indicators page, its
funnel and SPC charts, the provider view, and that every point a non-analyst sees is the
disclosure-controlled cell the API serves."""

from __future__ import annotations

import calendar
import json
import re
from collections import defaultdict

import pytest

pytestmark = pytest.mark.xdist_group("ingest")

FIGURE = re.compile(r'<script type="application/json" class="figure" data-target="[^"]+">(.*?)</script>', re.S)


def figures(html: str) -> list[dict]:
    return [json.loads(f) for f in FIGURE.findall(html)]


def titles(html: str) -> list[str]:
    return [f["layout"]["title"]["text"] for f in figures(html)]


def test_analyst_sees_the_funnel_the_spc_chart_and_the_trusts(clients):
    r = clients["analyst"].get("/indicators", params={"indicator": "acsc_chronic"})
    assert r.status_code == 200
    t = titles(r.text)
    assert any(x.startswith("Funnel plot: Unplanned hospitalisation for chronic") for x in t), t
    assert any("numerator by month" in x for x in t) and "SHMI by trust" in t
    assert "Upper process limit" in r.text and "99.8% limits" in r.text
    # every indicator of the area is offered in the menu
    assert r.text.count('<option value="acsc_') == 4 and 'value="readmission_30d"' in r.text


def test_each_role_sees_its_own_charts(clients):
    place = clients["place"].get("/indicators").text
    assert "numerator by month" in place and "SHMI by trust" not in place  # trusts: ICB-wide roles
    pcn = clients["pcn-a"].get("/indicators").text
    assert "numerator by month" not in pcn and "Funnel plot" in pcn  # months at place and ICB level only
    assert clients["provider"].get("/indicators").status_code == 403


def test_funnel_points_are_the_apis_cells_for_a_non_analyst(clients):
    """The place lead's funnel: each point is a practice's denominator and crude rate exactly
    as the API serves them (rounded counts; the rate from the rounded counts), and a withheld
    practice is not placed."""
    c = clients["place"]
    every = c.get("/api/v1/data/indicators", params={"level": "practice"}).json()["rows"]
    shown = defaultdict(int)
    for r in every:
        shown[r["indicator"]] += isinstance(r["crude"], float)
    indicator = max(shown, key=shown.get)  # the one with the most practices shown
    withheld = sum(r["crude"] == "*" for r in every if r["indicator"] == indicator)
    html = c.get("/indicators", params={"indicator": indicator}).text
    (funnel,) = [f for f in figures(html) if f["layout"]["title"]["text"].startswith("Funnel plot")]
    placed = {(x, y) for tr in funnel["data"] if tr.get("mode", "").startswith("markers")
              for x, y in zip(tr["x"], tr["y"], strict=True)}
    rows = [r for r in every if r["indicator"] == indicator]
    per = rows[0]["per"]
    cells = {(r["denominator"], r["crude"]) for r in rows if isinstance(r["crude"], float)}
    assert len(placed) >= 5 and placed == cells, indicator
    assert all(x % 5 == 0 for x, _ in placed)  # rounded denominators
    for x, y in placed:
        assert round(y * x / per) % 5 == 0  # the rate of a rounded count
    if withheld:
        assert f"{withheld} area" in html


def test_indicator_months_add_up_to_the_year(clients):
    c = clients["analyst"]
    months = c.get("/api/v1/data/indicators_monthly", params={"level": "place"}).json()["rows"]
    years = c.get("/api/v1/data/indicators", params={"level": "place"}).json()["rows"]
    total = defaultdict(int)
    for r in months:
        total[(r["area_code"], r["fy"], r["indicator"])] += r["numerator"]
    for fy in {r["fy"] for r in months}:
        year = {(r["area_code"], r["indicator"]): r["numerator"]
                for r in c.get("/api/v1/data/indicators", params={"level": "place", "fy": fy}).json()["rows"]}
        for (area, f, ind), n in total.items():
            if f == fy:
                assert year[(area, ind)] == n, (area, fy, ind)
    assert years and months


def test_a_dataset_is_not_served_at_a_level_it_lacks(clients):
    r = clients["analyst"].get("/api/v1/data/indicators_monthly", params={"level": "practice"})
    assert r.status_code == 404 and "place level only" in r.json()["detail"]
    r = clients["place"].get("/api/v1/data/provider_indicators")
    assert r.status_code == 404 and "icb level only" in r.json()["detail"]


def test_each_trusts_coding_audit_has_its_monthly_spc_chart(clients):
    """A trust's indicator (here the share of sign-and-symptom primary diagnoses) is offered at
    ICB level and drawn as one SPC chart per trust, its points the monthly rates the API serves."""
    c = clients["analyst"]
    html = c.get("/indicators", params={"indicator": "coding_symptom_primary"}).text
    assert 'value="coding_symptom_primary" selected' in html and 'value="shmi"' in html
    months = c.get("/api/v1/data/provider_indicators_monthly").json()["rows"]
    rows = [r for r in months if r["indicator"] == "coding_symptom_primary"]
    trusts = sorted({r["provider_code"] for r in rows})
    charts = {f["layout"]["title"]["text"]: f for f in figures(html) if "by month" in f["layout"]["title"]["text"]}
    assert sorted(charts) == [f"Sign and symptom (R) codes as primary diagnosis (%): {p} by month" for p in trusts]
    assert not any(t.startswith("Funnel plot") for t in titles(html))  # a trust's indicator: no practice funnel
    for p in trusts:
        full = {r["month"]: r["crude"] for r in rows if r["provider_code"] == p
                and r["month_days"] == calendar.monthrange(int(r["month"][:4]), int(r["month"][5:]))[1]}
        title = f"Sign and symptom (R) codes as primary diagnosis (%): {p} by month"
        drawn = {x: y for tr in charts[title]["data"] if tr.get("name") == title  # the series' line
                 for x, y in zip(tr["x"], tr["y"], strict=True)}
        assert len(full) >= 20 and drawn == pytest.approx(full), p
    assert "Upper process limit" in html


def test_provider_months_add_up_to_the_trusts_year(clients):
    c = clients["analyst"]
    months = c.get("/api/v1/data/provider_indicators_monthly").json()["rows"]
    total = defaultdict(float)
    for r in months:
        total[(r["fy"], r["provider_code"], r["indicator"])] += r["denominator"]
    for fy in {r["fy"] for r in months}:
        for r in c.get("/api/v1/data/provider_indicators", params={"fy": fy}).json()["rows"]:
            assert total[(fy, r["provider_code"], r["indicator"])] == pytest.approx(r["denominator"]), r


def test_what_ebi_would_release_is_for_analysts_only(clients):
    """The EBI funnel's table: an ICB analyst sees what the lower quartile and similar practices'
    rate would release; the API never gives those columns to another role."""
    ebi = next(r["indicator"] for r in clients["analyst"].get("/api/v1/data/indicators").json()["rows"]
               if r["indicator"].startswith("ebi_"))
    html = clients["analyst"].get("/indicators", params={"indicator": ebi}).text
    assert "cost released at similar practices" in html and "lower-quartile practice rate" in html
    rows = clients["analyst"].get("/api/v1/data/indicators", params={"level": "practice"}).json()["rows"]
    released = [r["peer_released_spells"] for r in rows if r["indicator"].startswith("ebi_")]
    assert released and all(x >= 0 for x in released) and any(x > 0 for x in released)
    place = clients["place"].get("/api/v1/data/indicators", params={"level": "practice"}).json()["rows"]
    assert place and not any("released" in k or k == "peer_rate" for r in place for k in r)
    assert "similar practices" not in clients["place"].get("/indicators", params={"indicator": ebi}).text
