"""The Costliest individuals page (``/spend/costliest``, linked from the Spend page): the
people with the highest cost in one financial year across the ICB, one pseudonymised row each,
for ICB analysts only; the table of :func:`phm.web.service.costliest`, which the JSON API serves
at ``/api/v1/costliest`` (JSON, CSV, XLSX).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from phm.web import pages, service
from phm.web.roles import Role

router = APIRouter(include_in_schema=False)

PAGE_LABELS = {
    "rank": "Rank",
    "sex_name": "Sex",
    "segment_name": "Segment",
    "practice_code": "Practice code",
    "practice_name": "Practice",
}

API = "/api/v1/costliest"
ABOUT = (
    "The people with the highest cost in the year across the ICB, ranked by cost (ties by "
    "pseudonym): the head of NHS England's High Resource Individuals ranking. A person is the "
    "person spine's pseudonymised key; no NHS number or other identifier is held."
)


@router.get("/spend/costliest", response_class=HTMLResponse)
def costliest(request: Request, fy: int | None = None):
    s = pages._session(request, Role.ANALYST)
    data = service.web(request).data
    result = service.costliest(data, s, fy)
    # the page shows sex and segment by name only (the downloads keep the codes too)
    table = pages.panel(
        result,
        None,
        {},
        columns=[c["name"] for c in result.columns if c["name"] not in ("sex", "segment")],
    )
    table["columns"] = [
        dict(c, label=PAGE_LABELS.get(c["name"], c["label"])) for c in table["columns"]
    ]
    query = {} if result.fy is None else {"fy": result.fy}
    table.update(
        id="costliest",
        csv=f"{API}?{urlencode({**query, 'format': 'csv'})}",
        xlsx=f"{API}?{urlencode({**query, 'format': 'xlsx'})}",
        json=f"{API}?{urlencode(query)}" if query else API,
    )
    icb = data.hierarchy.areas("icb")
    return pages._render(
        request,
        s,
        "costliest.html",
        title="Costliest individuals",
        fy=result.fy,
        years=pages.window_years(data),
        area_name=data.hierarchy.name(icb[0]) if icb else "",
        panels=[table],
        note=" ".join([ABOUT, pages.SPEND_BASIS, result.note]),
    )
