"""Monthly series and the Trends (SPC) page (issue 16)."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from phm.web import spc

pytestmark = pytest.mark.xdist_group("ingest")


def test_monthly_series_sum_to_the_year_for_every_area(clients):
    """Twelve months of an area are its year in dash_summary (analyst: exact figures)."""
    c = clients["analyst"]
    months = c.get("/api/v1/data/monthly", params={"level": "pcn"}).json()["rows"]
    summary = c.get("/api/v1/data/summary", params={"level": "pcn"}).json()["rows"]
    by = defaultdict(lambda: defaultdict(float))
    for r in months:
        for m in ("emergency_admissions", "ae_attendances", "spend"):
            by[(r["area_code"], r["fy"])][m] += r[m]
    assert len(by) == len(summary) > 3
    for s in summary:
        got = by[(s["area_code"], s["fy"])]
        assert got["emergency_admissions"] == s["emergency_admissions"]
        assert got["ae_attendances"] == s["ae_attendances"]
        assert got["spend"] == pytest.approx(s["spend"], abs=0.01 * s["persons"])  # per-person-year pennies
    assert {r["month"][:4] for r in months} == {"2022", "2023", "2024", "2025"}
    assert len({r["month"] for r in months}) == 36
    keys = [(r["area_code"], r["month"]) for r in months]
    assert len(keys) == len(set(keys))  # one row per area and month: a month is in one year
    assert all(int(r["month"][:4]) - (int(r["month"][5:]) < 4) == r["fy"] for r in months)


def test_trends_page_draws_an_spc_chart_with_icons_for_every_measure(clients):
    r = clients["analyst"].get("/trends")
    assert r.status_code == 200
    html = r.text
    assert html.count('class="panel"') == 13
    icons = re.findall(r'data-kind="variation" data-icon="([a-z_]+)"', html)
    assert len(icons) == 13 and set(icons) <= set(spc.mdc.VARIATION_TEXT)
    assert "Lower is better" in html and "No direction of improvement" in html
    assert "Upper process limit" in html


def test_trends_for_a_practice_says_when_suppression_leaves_no_limits(clients):
    html = clients["practice-a1"].get("/trends").text
    assert "suppressed (small numbers), so no process limits are drawn" in html
    assert "Upper process limit" in html or "no process limits" in html


def test_a_partial_last_month_is_left_out_and_said():
    rows = [{"month": f"2024-{m:02d}", "month_days": 30 if m in (4, 6, 9, 11) else 31, "x": 10 + m % 3}
            for m in range(4, 13)] + [{"month": "2025-01", "month_days": 12, "x": 2}]
    v = spc.view(rows, "x", "X")
    assert any("2025-01 (12 days)" in n for n in v.notes)
    assert "2025-01" not in str(v.figure["data"][0]["x"])
    assert any("at least 13" in n for n in v.notes)  # 9 points: the under-13 warning


def test_a_documented_change_point_rebases_the_chart_and_says_why(monkeypatch):
    import pyarrow as pa

    from phm.model import definitions

    points = pa.table({"measure": ["x"], "area": ["*"], "month": ["2024-01"],
                       "reason": ["new frailty service"], "source": ["ICB board paper"], "version": ["1"]})
    monkeypatch.setattr(definitions, "change_points", lambda: points)
    rows = [{"month": f"{2022 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}", "month_days": 28, "x": 20 + m % 3}
            for m in range(1, 37)]
    for r in rows:
        r["month_days"] = spc._month_length(r["month"])
        if r["month"] >= "2024-01":
            r["x"] -= 10
    v = spc.view(rows, "x", "X")
    means = [t for t in v.figure["data"] if t["name"] == "Mean"]
    assert len(means) == 2 and means[0]["y"][0] > means[1]["y"][0] + 8
    assert any("Rebased from 2024-01: new frailty service (ICB board paper)" in n for n in v.notes)
    assert v.icons[0]["key"] == "common_cause"  # the step is the new process, not a special cause
