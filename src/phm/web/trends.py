"""The Trends page: every monthly measure of an area as a Making Data Count SPC chart
(:mod:`phm.web.spc`), from the ``monthly`` dataset (disclosure-controlled for every role but
the ICB analyst, like every other page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from phm.web import pages, service, spc

router = APIRouter(include_in_schema=False)

# the measures in the order a reader wants them: demand first, then the money
ORDER = ("emergency_admissions", "ae_attendances", "elective_admissions", "op_attendances", "spend",
         "spend_apc", "spend_op", "spend_ecds", "spend_community", "spend_mh", "spend_gp",
         "spend_prescribing", "spend_social_care")


def spc_panel(result: service.Result, measure: str, query: dict, area: str) -> dict:
    """A page panel: the SPC chart of ``measure`` with its icons, notes and the table of months."""
    info = spc.measure_info()[measure]
    v = spc.view(result.rows, measure, f"{info['name']}, by month", area=area)
    direction = {"increase": "higher is better", "decrease": "lower is better",
                 "neutral": "no direction of improvement"}[info["improvement"]]
    note = " ".join([f"{direction[:1].upper()}{direction[1:]} ({info['source']}).", *v.notes])
    p = pages.panel(result, v.figure, query, columns=["month", "month_days", measure], note=note)
    p.update(title=f"{info['name']} by month", icons=v.icons)
    return p


def trend_panels(result: service.Result, measures, query: dict, area: str) -> list[dict]:
    return [spc_panel(result, m, query, area) for m in measures]


@router.get("/trends", response_class=HTMLResponse)
def trends(request: Request, area: str | None = None):
    s = pages._session(request, *pages.POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = pages._q(request, s, area, None)
    monthly = service.dataset(data, s, "monthly", level, code)
    months = sorted({r["month"] for r in monthly.rows})
    span = f"{months[0]} to {months[-1]}" if months else "no months"
    note = (f"Monthly figures, {span}, as statistical process control (XmR) charts read the Making Data "
            "Count way: the icon says whether the latest month shows special-cause variation and whether "
            "that is an improvement or a concern. " + monthly.note)
    return pages._area_page(request, s, "Trends (SPC)", level, code, None,
                            panels=trend_panels(monthly, ORDER, q, code), note=note, years=None)
