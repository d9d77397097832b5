"""The Data quality page (``/quality``): every submission's DQMI-style score and every rule
result with a failing record, each rule in words beside its code with whether it passed, in
tables a reader can filter (``static/app.js``); read through :func:`phm.web.service.dq`, as the
JSON API is, so providers and practices see only their own submissions, disclosure-controlled.

A chart never drops rows silently: when there are more submissions than a chart can show, it
draws the lowest scores, its title and note say how many of how many, and it links to the full
table below it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from phm.web import charts, pages, service
from phm.web.roles import Role

router = APIRouter(include_in_schema=False)

CHART_MAX = 30  # bars in one score chart; more submissions are all in the table
ALL_SCORES_ID = "dq-scores"


def _score(r: dict) -> float:
    """Sort key: the lowest score first; a withheld or missing score last."""
    v = charts.num(r.get("score"))
    return float("inf") if v is None else v


def score_panels(scores: service.Result, query: dict, submitter: str | None) -> list[dict]:
    """The score chart with its table; when it cannot show every submission, the lowest
    :data:`CHART_MAX` with "showing N of M", and a second panel: every submission, filterable."""
    rows = [dict(r, submission=f"{r.get('submitter_name') or r['submitter']}: {r['dataset']}") for r in scores.rows]
    x = "dataset" if submitter else "submission"
    if len(rows) <= CHART_MAX:
        figure = charts.bar(rows, x, "score", "Data-quality score by submission", y_title="score")
        return [_with_table_tools(pages.panel(scores, figure, query, rows=rows))]
    lowest = sorted(rows, key=_score)[:CHART_MAX]
    shown = f"Showing {len(lowest)} of {len(rows)} submissions"
    figure = charts.bar(
        lowest,
        x,
        "score",
        f"The {len(lowest)} lowest data-quality scores, of {len(rows)} submissions",
        y_title="DQMI-style score (%)",
        horizontal=True,
    )
    # one readable row per bar, the lowest at the top
    figure["layout"]["height"] = 140 + 22 * len(lowest)
    figure["layout"].setdefault("yaxis", {})["autorange"] = "reversed"
    chart = pages.panel(scores, figure, query, rows=lowest, note=f"{shown}: the lowest scores.")
    chart.update(
        link=f"#{ALL_SCORES_ID}-h",
        link_text=f"Every submission ({len(rows)}) is in the table below",
    )
    full = _with_table_tools(pages.panel(scores, None, query))
    full.update(id=ALL_SCORES_ID, title=f"Every submission: data-quality scores ({len(rows)})")
    return [chart, full]


def _share(v):
    """A threshold (a share of records) as a page shows it: 0.001 -> 0.1%."""
    return f"{v * 100:g}%" if isinstance(v, int | float) and not isinstance(v, bool) else v


def _with_table_tools(p: dict) -> dict:
    """A filter box over the table, and each submitter linked to its own view."""
    return {**p, "filter": True, "links": {"submitter": "/quality?submitter="}}


@router.get("/quality", response_class=HTMLResponse)
def quality(request: Request, submitter: str | None = None):
    s = pages._session(request)
    data = service.web(request).data
    subs = service.dq_submitters(data, s)
    if s.user.role is not Role.ANALYST and submitter is None and subs:
        submitter = subs[0]
    scores = service.dq(data, s, "scores", submitter)
    results = service.dq(data, s, "results", submitter)
    clean = service.dq_passed_clean(data, s, submitter)
    q = {"submitter": submitter}
    listed = pages.panel(
        results,
        None,
        q,
        rows=[dict(r, threshold=_share(r.get("threshold"))) for r in results.rows],
        note=(
            "Each rule with at least one failing record, with what it checks: 'fail' when the share of "
            "records failing was above the rule's threshold in at least one month, 'pass' when it never "
            f"was. The other {clean:,} rule results (dataset x rule x submitter) had no failing record "
            "and passed."
        ),
    )
    return pages._render(
        request,
        s,
        "quality.html",
        title="Data quality",
        panels=[*score_panels(scores, q, submitter), _with_table_tools(listed)],
        submitters=subs,
        submitter_names={c: service.submitter_name(data, c) for c in subs},
        submitter=submitter,
        note=scores.note,
    )
