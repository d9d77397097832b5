"""Every dataset serves every financial year of the build's window (issue 16).

The list of datasets comes from the API's own OpenAPI schema and the window from the build
metadata the API returns, not from docs/web.md, so a dataset added later is covered too.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("ingest")


def _datasets(client) -> list[str]:
    spec = client.get("/api/openapi.json").json()
    params = spec["paths"]["/api/v1/data/{dataset}"]["get"]["parameters"]
    ref = next(p for p in params if p["name"] == "dataset")["schema"]["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][ref]["enum"]


@pytest.mark.parametrize("role", ["analyst", "place"])
def test_every_dataset_serves_every_year_of_the_window(clients, role):
    c = clients[role]
    names = _datasets(c)
    assert len(names) >= 10
    first = c.get(f"/api/v1/data/{names[0]}").json()["provenance"]
    years = list(range(int(first["window_first_fy"]), int(first["window_last_fy"]) + 1))
    assert len(years) == 3
    for name in names:
        r = c.get(f"/api/v1/data/{name}")
        if r.status_code == 404 and "level only" in r.json()["detail"]:
            continue  # served at other levels than the role's own (e.g. trusts: ICB level)
        default = r.json()
        if default["fy"] is None:  # a dataset of every year at once
            assert {r["fy"] for r in default["rows"]} == set(years), name
            continue
        assert default["fy"] == years[-1], name
        for fy in years:
            r = c.get(f"/api/v1/data/{name}", params={"fy": fy})
            assert r.status_code == 200, (name, fy, r.text)
            body = r.json()
            assert body["fy"] == fy and body["rows"], (name, fy)
            assert {row["fy"] for row in body["rows"]} == {fy}, name


def test_a_year_outside_the_window_is_a_404_that_lists_the_years(clients):
    r = clients["analyst"].get("/api/v1/data/programmes", params={"fy": 2001})
    assert r.status_code == 404
    assert "no financial year 2001" in r.json()["detail"] and "2024" in r.json()["detail"]


def test_earlier_years_differ_from_the_latest(clients):
    """The earlier years are that year's figures, not the latest year's copied."""
    c = clients["analyst"]
    by_year = {fy: c.get("/api/v1/data/programmes", params={"fy": fy}).json()["rows"] for fy in (2022, 2024)}
    spend = {fy: sum(r["spend"] or 0 for r in rows if r["level"] == "icb") for fy, rows in by_year.items()}
    assert spend[2022] > 0 and spend[2024] > 0 and spend[2022] != spend[2024]
