"""The commissioning indicators on the dashboard (issue 18, item 7): the Indicators page, its
funnel and SPC charts, the provider view, and that every point a non-analyst sees is the
disclosure-controlled cell the API serves."""

from __future__ import annotations

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
