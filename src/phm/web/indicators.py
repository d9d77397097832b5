"""The Indicators page (``/indicators``): the commissioning indicators of an area (issue 18,
``docs/indicators.md``) as tables, a funnel plot of the practices (PCNs for ACSC) around the
ICB's rate, the monthly SPC chart at place and ICB level and, for ICB-wide roles, the trusts'
indicators with the SHMI's funnel and, for a trust's indicator (the clinical coding audit, the
SHMI, readmissions by trust), each trust's monthly SPC chart. Everything is read through :func:`phm.web.service.dataset`, so each role sees its own
areas, disclosure-controlled, as the JSON API serves them.

Funnel limits (``phm.stats``, after Spiegelhalter 2005 and the Fingertips funnel method):
around the ICB's crude rate, the Wilson-based limits of :func:`phm.stats.proportion_limits`
for a proportion of people or index stays, exact Poisson limits (:func:`phm.stats.rate_limits`)
for a rate per person-year; drawn as curves over the range of denominators shown, so the
points a non-analyst sees (rounded denominators) are read against them without the limits
being computed at any exact denominator.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from phm.indicators.dashboard import NOT_BY_PRACTICE, RELEASE
from phm.web import charts, pages, service, spc
from phm.web.datasets import LEVEL_TEXT
from phm.web.roles import LEVELS

router = APIRouter(include_in_schema=False)

PROPORTIONS = ("readmission_30d", "frequent_ae_attenders", "high_intensity_users")  # of people or stays
SHOWN = ["indicator_name", "numerator", "denominator", "crude", "unit"]


def _limits(indicator: str, grid: np.ndarray, target: float, per: float, level: float):
    from phm.stats import proportion_limits, rate_limits

    if indicator in PROPORTIONS:
        lo, hi = proportion_limits(grid, min(max(target / per, 1e-9), 1 - 1e-9), level)
        return np.asarray(lo, float) * per, np.asarray(hi, float) * per
    lo, hi = rate_limits(grid, target, level, multiplier=per)
    return np.asarray(lo, float), np.asarray(hi, float)


def funnel(rows: list[dict], title: str, names: dict[str, str], highlight: str | None) -> dict:
    """Areas' crude rates against their denominators, with 95% and 99.8% limits around the ICB's
    rate (``target``); a withheld point is marked, not placed."""
    pts = sorted((r for r in rows if charts.num(r.get("denominator")) and charts.num(r.get("crude")) is not None),
                 key=lambda r: r["denominator"])
    target = next((charts.num(r.get("target")) for r in rows if charts.num(r.get("target")) is not None), None)
    per = next((charts.num(r.get("per")) for r in rows if charts.num(r.get("per"))), 1.0)
    indicator = rows[0]["indicator"] if rows else ""
    data = []
    if pts and target:
        grid = np.unique(np.geomspace(max(pts[0]["denominator"] / 2, 1), max(pts[-1]["denominator"] * 1.5, 2), 80))
        for level, label, dash in ((0.95, "95% limits", "dash"), (0.998, "99.8% limits", "dot")):
            lower, upper = _limits(indicator, grid, target, per, level)
            for ys, show in ((lower, True), (upper, False)):
                data.append(charts.trace("scatter", x=grid.tolist(), y=ys.tolist(), mode="lines", name=label,
                                         line={"color": charts.NHS_GREY, "dash": dash}, showlegend=show,
                                         legendgroup=label, hoverinfo="skip"))
        data.append(charts.trace("scatter", x=[float(grid[0]), float(grid[-1])], y=[target] * 2, mode="lines",
                                 name="ICB rate", line={"color": charts.NHS_DARK_BLUE}))
    for chosen in (False, True):
        group = [r for r in pts if (r["area_code"] == highlight) == chosen]
        if group:
            data.append(charts.trace(
                "scatter", x=[r["denominator"] for r in group], y=[r["crude"] for r in group],
                mode="markers+text" if chosen else "markers",
                name=names.get(highlight, highlight) if chosen else "Area",
                marker={"color": "#DA291C" if chosen else charts.NHS_BLUE, "size": 12 if chosen else 8},
                text=[names.get(r["area_code"], r["area_code"]) for r in group], textposition="top center",
                hovertemplate="%{text}<br>denominator %{x:,}<br>%{y:,.2f}<extra></extra>"))
    held = [r for r in rows if charts.withheld(r.get("crude")) or charts.withheld(r.get("denominator"))]
    note = f"{len(held)} area{'s' if len(held) != 1 else ''} suppressed (small numbers): not plotted." if held else ""
    unit = rows[0].get("unit", "") if rows else ""
    fig = charts.figure(data, {"title": {"text": title}, "height": 420, "legend": {"orientation": "h", "y": -0.25},
                               "xaxis": {"title": {"text": "Denominator"}, "type": "log"},
                               "yaxis": {"title": {"text": unit}, "rangemode": "tozero"}})
    if note:
        fig["layout"]["annotations"] = [{"text": note, "xref": "paper", "yref": "paper", "x": 1, "y": 1.02,
                                         "xanchor": "right", "yanchor": "bottom", "showarrow": False}]
    return fig


def shmi_funnel(rows: list[dict], title: str) -> dict:
    """Each trust's SHMI against its expected deaths, with its own 95% limits (``ind_shmi``)."""
    pts = [r for r in rows if r["indicator"] == "shmi" and charts.num(r.get("crude")) is not None
           and charts.num(r.get("denominator"))]
    data = [charts.trace("scatter", x=[r["denominator"] for r in pts], y=[r["crude"] for r in pts],
                         mode="markers+text", text=[r["provider_code"] for r in pts], textposition="top center",
                         name="Trust", marker={"color": charts.NHS_BLUE, "size": 10},
                         hovertemplate="%{text}<br>expected %{x:,}<br>SHMI %{y:.3f}<extra></extra>")]
    for r in pts:
        if charts.num(r.get("funnel_lower")) is not None:
            data.append(charts.trace("scatter", x=[r["denominator"]] * 2, y=[r["funnel_lower"], r["funnel_upper"]],
                                     mode="lines", line={"color": charts.NHS_GREY}, showlegend=r is pts[0],
                                     name="95% limits (overdispersed)", hoverinfo="skip"))
    if pts:
        xs = [r["denominator"] for r in pts]
        data.append(charts.trace("scatter", x=[min(xs) * 0.8, max(xs) * 1.2], y=[1, 1], mode="lines",
                                 name="Expected (1)", line={"color": charts.NHS_DARK_BLUE}))
    return charts.figure(data, {"title": {"text": title}, "height": 400, "legend": {"orientation": "h", "y": -0.25},
                                "xaxis": {"title": {"text": "Expected deaths"}},
                                "yaxis": {"title": {"text": "SHMI (observed / expected)"}, "rangemode": "tozero"}})


def _panels(request: Request, s, level: str, code: str, fy, indicator: str | None, q: dict):
    data = service.web(request).data
    here = service.dataset(data, s, "indicators", level, code, fy=fy)
    ids = list(dict.fromkeys(r["indicator"] for r in here.rows))
    names = {r["indicator"]: r["indicator_name"] for r in here.rows}
    prov = service.dataset(data, s, "provider_indicators", level, code, fy=fy) if level == "icb" else None
    for r in prov.rows if prov else []:  # the trusts' own indicators (the coding audit, the SHMI) too
        if r["indicator"] not in names:
            ids.append(r["indicator"])
            names[r["indicator"]] = r["indicator_name"]
    indicator = indicator if indicator in ids else (ids[0] if ids else None)
    panels = [pages.panel(here, None, q, columns=SHOWN, note="Crude rates, in each indicator's unit, from the "
                          "figures shown. The definitions are in docs/indicators.md.")]
    std = service.dataset(data, s, "indicators_standardised", level, code, fy=fy)
    panels.append(pages.panel(std, None, q, columns=["indicator_name", "numerator", "value", "ratio", "reference"],
                              note="Readmissions are indirectly standardised (ratio to expected from the "
                                   "reference's rates), ACSC admissions directly (ESP2013)."))
    if indicator is None:
        return panels, ids, names, indicator, here
    if any(r["indicator"] == indicator for r in here.rows):
        panels += _area_panels(data, s, level, code, fy, indicator, names, q)
    if prov is not None:
        panels.append(pages.panel(prov, shmi_funnel(prov.rows, "SHMI by trust"), q,
                                  columns=["provider_code", "indicator_name", "numerator", "denominator", "crude",
                                           "funnel_lower", "funnel_upper", "band", "unit"],
                                  note="Trusts' figures cover everyone they treat. The SHMI's denominator is its "
                                       "expected deaths (the warehouse's case-mix model; UNVERIFIED diagnosis "
                                       "groups, docs/indicators.md), so its rate is the SHMI."))
        if any(r["indicator"] == indicator for r in prov.rows):
            panels += _provider_spc(data, s, level, code, indicator, names[indicator], q)
    return panels, ids, names, indicator, here


def _area_panels(data, s, level: str, code: str, fy, indicator: str, names: dict, q: dict) -> list:
    """The funnel of the practices (PCNs for ACSC) and, at place and ICB level, the monthly SPC."""
    h = data.hierarchy
    panels = []
    # the funnel's points: practices (ACSC: PCNs, NOT_BY_PRACTICE), within the area, or for an
    # area at or below the points' level, within its parent at the level above them
    points = "pcn" if indicator in NOT_BY_PRACTICE else "practice"
    parent = (level, code)
    while LEVELS.index(parent[0]) >= LEVELS.index(points):
        parent = h.parent[parent]
    within = f"{parent[0]}:{parent[1]}"
    try:
        areas = service.dataset(data, s, "indicators", points, None, within=within, fy=fy)
        rows = [r for r in areas.rows if r["indicator"] == indicator]
        where = f" in {h.name(parent)}" if parent != (level, code) else ""
        area_names = {a["code"]: a["name"] for a in areas.areas}
        panels.append(pages.panel(areas, funnel(rows, f"Funnel plot: {names[indicator]} by {LEVEL_TEXT[points]}{where}",
                                                area_names, code if level == points else None),
                                  {"level": points, "within": within, "fy": fy}, rows=rows, columns=
                                  ["area_code", "area_name", "numerator", "denominator", "crude", "target",
                                   *(RELEASE if indicator.startswith("ebi_") else ())]))
    except HTTPException:
        pass
    if level in ("place", "icb"):
        monthly = service.dataset(data, s, "indicators_monthly", level, code)
        rows = [r for r in monthly.rows if r["indicator"] == indicator]
        panels.append(_spc_panel(monthly, rows, "numerator", f"{names[indicator]}: numerator by month", code, q,
                                 ["month", "month_days", "indicator_name", "numerator", "denominator"],
                                 "No direction of improvement is set for the monthly counts."))
    return panels


def _provider_spc(data, s, level: str, code: str, indicator: str, name: str, q: dict) -> list:
    """One SPC chart per trust of the indicator's monthly rate (Making Data Count XmR chart of
    the rate shown, from the rounded counts): the coding audit's changes month on month."""
    monthly = service.dataset(data, s, "provider_indicators_monthly", level, code)
    rows = [r for r in monthly.rows if r["indicator"] == indicator]
    panels = []
    for provider in sorted({r["provider_code"] for r in rows}):
        mine = [r for r in rows if r["provider_code"] == provider]
        panels.append(_spc_panel(monthly, mine, "crude", f"{name} ({mine[0].get('unit', '')}): {provider} by month",
                                 provider, q, ["month", "month_days", "provider_code", "numerator", "denominator",
                                               "crude"],
                                 "No direction of improvement is set: a change in coding is for the coding "
                                 "review to explain."))
    return panels


def _spc_panel(result, rows: list[dict], measure: str, title: str, area: str, q: dict, columns: list[str],
               note: str) -> dict:
    """A panel of the SPC chart of ``measure`` over ``rows`` (all years), its icons and notes."""
    v = spc.view(rows, measure, title, area=area)
    p = pages.panel(result, v.figure, {**q, "fy": None}, rows=rows, columns=columns, note=" ".join([note, *v.notes]))
    p.update(icons=v.icons)
    return p


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(request: Request, area: str | None = None, fy: int | None = None, indicator: str | None = None):
    s = pages._session(request, *pages.POPULATION_ROLES)
    level, code, q = pages._q(request, s, area, fy)
    panels, ids, names, indicator, here = _panels(request, s, level, code, fy, indicator, q)
    return pages._area_page(request, s, "Commissioning indicators", level, code, here.fy, panels=panels,
                            note=here.note, indicators=ids, indicator=indicator, indicator_names=names)
