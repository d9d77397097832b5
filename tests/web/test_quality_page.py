"""Issue 16, item 3: the Data quality page lists every submitter in a table a reader can filter,
each rule result with what the rule checks and whether it passed beside its code, and a chart
that cannot show every submission says how many of how many it shows and links to the table."""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict

import pytest

from phm.quality.catalogue import rule
from phm.web.quality import CHART_MAX
from phm.web.roles import permitted_submitters

pytestmark = pytest.mark.xdist_group("ingest")

DQ_ROLES = ("analyst", "practice-a1", "provider")
RESULTS_TITLE = "Data-quality rule results with failing records"


def sections(page: str) -> dict[str, str]:
    """Each panel of a page by its heading."""
    out = {}
    for s in re.findall(r'<section class="panel".*?</section>', page, re.S):
        title = html.unescape(re.search(r"<h2[^>]*>(.*?)</h2>", s, re.S).group(1)).strip()
        out[title] = s
    return out


def table(section: str) -> tuple[list[str], list[list[str]]]:
    head = [html.unescape(h) for h in re.findall(r'<th scope="col">(.*?)</th>', section)]
    body = section.split("<tbody>", 1)[1]
    rows = [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    return head, rows


def bars(section: str) -> list:
    fig = json.loads(re.search(r'class="figure"[^>]*>(.*?)</script>', section, re.S).group(1))
    main = fig["data"][0]
    return main["y"] if main.get("orientation") == "h" else main["x"]


def expected_results(dashboard) -> tuple[dict[tuple, str], dict]:
    """From the warehouse's monthly dq_results: (dataset, rule, submitter) -> 'fail' if any month
    failed its threshold, else 'pass', for those with a failing record or a failed month; and by
    submitter how many others there are."""
    monthly = dashboard._wh.to_arrow("dq_results").to_pylist()
    failures, failed = defaultdict(int), defaultdict(bool)
    for r in monthly:
        k = (r["dataset"], r["rule_id"], r["submitter"])
        failures[k] += r["failures"]
        failed[k] |= not r["passed"]
    listed = {k: "fail" if failed[k] else "pass" for k in failures if failures[k] or failed[k]}
    clean: dict = defaultdict(int)
    for k in failures:
        if k not in listed:
            clean[k[2]] += 1
    return listed, clean


def test_rule_results_say_pass_or_fail_as_the_monthly_results_do(clients, dashboard):
    listed, clean = expected_results(dashboard)
    assert "pass" in listed.values() and "fail" in listed.values(), "the synthetic ICB plants both"
    j = clients["analyst"].get("/api/v1/dq/results").json()
    got = {(r["dataset"], r["rule_id"], r["submitter"]): r["result"] for r in j["rows"]}
    assert got == listed
    names = [c["name"] for c in j["columns"]]
    assert (
        names.index("rule_name") == names.index("rule_id") + 1
        and names.index("result") == names.index("rule_id") + 2
    )
    scores = clients["analyst"].get("/api/v1/dq/scores").json()["rows"]
    fails = defaultdict(int)
    for (d, _rule, s), res in listed.items():
        fails[(d, s)] += res == "fail"
    assert {(r["dataset"], r["submitter"]): r["failing_rules"] for r in scores} == {
        (r["dataset"], r["submitter"]): fails[(r["dataset"], r["submitter"])] for r in scores
    }
    page = clients["analyst"].get("/quality").text
    assert f"The other {sum(clean.values()):,} rule results" in page


def test_every_submitter_is_in_a_filterable_table(clients, dashboard):
    page = clients["analyst"].get("/quality").text
    panels = sections(page)
    scores = dashboard.dq["dq_scores"]
    full = next(s for t, s in panels.items() if t.startswith("Every submission"))
    head, rows = table(full)
    assert len(rows) == len(scores) > CHART_MAX
    sub = head.index("Submitter")
    assert {r[sub] for r in rows} == {r["submitter"] for r in scores}
    assert {(r[head.index("Dataset")], r[sub]) for r in rows} == {
        (r["dataset"], r["submitter"]) for r in scores
    }
    assert 'id="dq-scores-h"' in full and '<details class="table-view" open>' in full
    # the filter box (shown by static/app.js) names the table it filters
    target = re.search(r'<input type="search" id="[^"]+" data-filter="([^"]+)"', full).group(1)
    assert f'<table id="{target}">' in full
    assert '<a href="/quality?submitter=' in full  # each submitter opens its own view
    # rule results: every rule code with what it checks and pass/fail beside it, also filterable
    head, rows = table(panels[RESULTS_TITLE])
    assert rows and head[:2] == ["Submitter", "Submitter name"]  # the code beside its name
    i = head.index("Rule")
    assert head[i : i + 3] == ["Rule", "What the rule checks", "Result"]
    for r in rows:
        assert r[i + 1] == rule(r[i]).description and r[i + 2] in ("pass", "fail")
    assert "data-filter=" in panels[RESULTS_TITLE]


def test_no_chart_drops_submissions_without_saying_so(clients, dashboard, accounts):
    cases = [(who, "/quality") for who in DQ_ROLES]
    analyst_subs = submitters(dashboard, accounts["analyst"])
    cases.append(("analyst", f"/quality?submitter={analyst_subs[0]}"))
    truncated = 0
    for who, url in cases:
        page = clients[who].get(url).text
        charted = [(t, s) for t, s in sections(page).items() if 'class="figure"' in s]
        assert charted, (who, url)
        submitter = re.search(r"submitter=([^&]+)", url)
        subs = submitters(dashboard, accounts[who])
        shown = (
            {submitter.group(1)} if submitter else (set(subs) if who == "analyst" else {subs[0]})
        )
        total = sum(1 for r in dashboard.dq["dq_scores"] if r["submitter"] in shown)
        for title, s in charted:
            n = len(bars(s))
            assert n == len(table(s)[1]), (
                f"{who} {url} '{title}': the table view is not the chart's rows"
            )
            if n < total:
                truncated += 1
                assert (
                    f"Showing {n} of {total} submissions" in s
                    and f"of {total} submissions" in title
                )
                anchor = re.search(r'<a href="#([^"]+)">Every submission', s).group(1)
                assert f'id="{anchor}"' in page
            else:
                assert n == total, f"{who} {url} '{title}': {n} bars of {total} submissions"
    assert truncated == 1  # the analyst's view of every submitter


def test_providers_see_only_their_own_submissions(clients, accounts):
    mine = accounts["provider"].organisation
    page = clients["provider"].get("/quality").text
    for title, s in sections(page).items():
        head, rows = table(s)
        if "Submitter" in head:
            assert {r[head.index("Submitter")] for r in rows} <= {mine}, title
    j = clients["provider"].get("/api/v1/dq/results").json()
    assert j["disclosure_controlled"] and {r["submitter"] for r in j["rows"]} <= {mine}
    assert all(r["result"] in ("pass", "fail") for r in j["rows"])


def submitters(dashboard, account) -> list[str]:
    """The submitters ``account`` may see (phm.web.roles.permitted_submitters)."""
    allowed = permitted_submitters(account.role, account.organisation)
    known = sorted({r["submitter"] for r in dashboard.dq["dq_scores"] if r["submitter"]})
    return known if allowed is None else [s for s in known if s in allowed]
