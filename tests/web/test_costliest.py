"""Issue 16, item 2: "Costliest individuals" is an HTML page for ICB analysts (a table with the
year, money as £, names beside codes, CSV/JSON/XLSX downloads), not raw JSON; the same rows as
the mart ``spend_top_persons``; no NHS number anywhere; every other role is refused."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from phm.web.charts import fy_label
from phm.web.names import SEX_NAMES, segment_names

pytestmark = pytest.mark.xdist_group("ingest")

OTHERS = ("place", "pcn-a", "practice-a1", "provider", "admin")


def _mart(dashboard) -> list[dict]:
    return dashboard.mart(
        "spend_top_persons", dashboard.mart_count("spend_top_persons"), 0
    ).to_pylist()


def _cells(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def nhs_numbers(icb10k: Path) -> set[str]:
    """The synthetic ICB's NHS numbers, as ten digits."""
    raw = pq.read_table(icb10k / "patients.parquet", columns=["nhs_number"])[
        "nhs_number"
    ].to_pylist()
    return {d for d in (re.sub(r"\D", "", n) for n in raw if n) if len(d) == 10}


def test_the_spend_page_links_analysts_to_the_page_not_to_json(clients):
    page = clients["analyst"].get("/spend").text
    links = re.findall(r'<a href="([^"]*)">Costliest individuals', page)
    assert links and links[0].startswith("/spend/costliest?fy=")
    assert "/api/v1/marts/spend_top_persons" not in page
    for who in ("place", "pcn-a", "practice-a1"):
        assert "/spend/costliest" not in clients[who].get("/spend").text


def test_costliest_page_is_a_table_of_the_years_costliest_people(clients, dashboard):
    mart = _mart(dashboard)
    years = sorted({r["fy"] for r in mart})
    assert len(years) >= 2
    for fy in (None, years[0]):
        shown = fy or years[-1]
        r = clients["analyst"].get("/spend/costliest" + (f"?fy={fy}" if fy else ""))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        assert "<h1>Costliest individuals</h1>" in page
        assert f"financial year {fy_label(shown)}" in page
        assert re.search(rf'<option value="{shown}" selected>', page)  # the year menu
        expected = sorted((x for x in mart if x["fy"] == shown), key=lambda x: x["rank"])
        head = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', page)]
        rows = _cells(page, "costliest-table")
        assert len(rows) == len(expected) > 0
        col = {h: i for i, h in enumerate(head)}
        for got, want in zip(rows, expected, strict=True):
            assert got[col["Rank"]] == str(want["rank"])
            assert got[col["Person (pseudonymised)"]] == str(want["person_id"])
            assert got[col["Sex"]] == SEX_NAMES[want["sex"]]
            assert got[col["Segment"]] == segment_names()[want["segment"]]
            assert got[col["Practice code"]] == want["practice_code"]
            assert got[col["Practice"]] == dashboard.hierarchy.name(
                ("practice", want["practice_code"])
            )
            assert got[col["Total cost (£)"]].startswith("£")
            assert got[col["Admitted care (£)"]].startswith("£")
            assert got[col["Admitted care: contacts"]] == f"{want['n_apc']:,}"
        assert "Sex name" not in head and "Segment name" not in head  # codes are in the downloads
        for fmt in ("csv", "xlsx"):
            assert f'href="/api/v1/costliest?fy={shown}&amp;format={fmt}"' in page
        assert f'href="/api/v1/costliest?fy={shown}">JSON</a>' in page


def test_costliest_downloads_hold_the_marts_rows(clients, dashboard):
    mart = _mart(dashboard)
    fy = min(r["fy"] for r in mart)
    expected = sorted((x for x in mart if x["fy"] == fy), key=lambda x: x["rank"])
    j = clients["analyst"].get(f"/api/v1/costliest?fy={fy}").json()
    assert j["fy"] == fy and j["disclosure_controlled"] is False and j["provenance"]
    assert [r["person_id"] for r in j["rows"]] == [str(x["person_id"]) for x in expected]
    assert [r["cost_total"] for r in j["rows"]] == pytest.approx(
        [x["cost_total"] for x in expected]
    )
    assert all(r["segment_name"] == segment_names()[r["segment"]] for r in j["rows"])
    kinds = {c["name"]: c["kind"] for c in j["columns"]}
    assert kinds["cost_total"] == kinds["cost_apc"] == "money"
    text = (
        clients["analyst"].get(f"/api/v1/costliest?fy={fy}&format=csv").content.decode("utf-8-sig")
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(expected)
    assert [r["Person (pseudonymised)"].lstrip("'") for r in rows] == [
        str(x["person_id"]) for x in expected
    ]
    assert rows[0]["Segment name"] == segment_names()[expected[0]["segment"]]
    xlsx = clients["analyst"].get(f"/api/v1/costliest?fy={fy}&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert clients["analyst"].get("/api/v1/costliest?fy=1999").status_code == 404
    assert clients["analyst"].get("/spend/costliest?fy=1999").status_code == 404


def test_costliest_is_for_analysts_only(clients):
    for who in OTHERS:
        page = clients[who].get("/spend/costliest")
        assert page.status_code == 403 and "<table" not in page.text, who
        assert clients[who].get("/api/v1/costliest").status_code == 403, who
        assert clients[who].get("/api/v1/costliest?format=csv").status_code == 403, who


def test_costliest_shows_no_nhs_number(clients, icb10k):
    nhs = nhs_numbers(icb10k)
    assert len(nhs) > 1000
    for url in ("/spend/costliest", "/api/v1/costliest", "/api/v1/costliest?format=csv"):
        text = clients["analyst"].get(url).content.decode("utf-8-sig")
        assert not any(n in text for n in nhs), url
