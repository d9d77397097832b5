"""SPC charts as Making Data Count draws them: the monthly points coloured by their point type,
the mean and process limits of each rebase group, and the variation (and, with a target,
assurance) icons beside the chart.

The reading of the series is :func:`phm.stats.mdc.chart`; this module only draws it. Colours
are NHSRplotthedots' ``ptd_spc_colours`` defaults (grey common cause, blue improvement,
orange concern, purple neither). The icons are phm's own drawings of the Making Data Count
icon set (a circle in the point type's colour with H or L for a special cause that is high
or low, a flat line for common cause; P, F or ? for assurance) with the guidance's wording as
their text, so they read without colour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from phm.analysis.monthly import days_covered
from phm.model import definitions
from phm.stats import mdc
from phm.web.charts import figure, trace

COLOUR = {
    "common_cause": "#a6a6a6",
    "special_cause_improvement": "#00b0f0",
    "special_cause_concern": "#e46c0a",
    "special_cause_neutral_high": "#490092",
    "special_cause_neutral_low": "#490092",
}
ICON_COLOUR = {"common": "#a6a6a6", "improvement": "#00b0f0", "concern": "#e46c0a", "neutral": "#490092"}
ASSURANCE_COLOUR = {"pass": "#00b0f0", "fail": "#e46c0a", "inconsistent": "#a6a6a6"}
POINT_TEXT = {
    "common_cause": "common cause",
    "special_cause_improvement": "special cause: improvement",
    "special_cause_concern": "special cause: concern",
    "special_cause_neutral_high": "special cause: higher",
    "special_cause_neutral_low": "special cause: lower",
}


@dataclass
class SPCView:
    """What a page shows for one measure: the Plotly figure (None when the series cannot be
    charted), the icons (``{"kind", "key", "text", "svg"}``) and notes."""

    figure: dict | None
    icons: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def measure_info() -> dict[str, dict]:
    """``{measure: {name, unit, improvement, rationale, source}}`` from ``definitions/measures.csv``."""
    return {r["measure"]: r for r in definitions.measures().to_pylist()}


def change_points(measure: str, area: str) -> list[dict]:
    """The documented change points of ``measure`` for ``area`` (or every area)."""
    return [r for r in definitions.change_points().to_pylist()
            if r["measure"] == measure and r["area"] in (area, "*")]


def _month_length(month: str) -> int:
    """Days in ``month`` (YYYY-MM)."""
    return days_covered(dt.date.fromisoformat(month + "-01"), None)


def view(rows: list[dict], measure: str, title: str, area: str = "*", target: float | None = None) -> SPCView:
    """The SPC chart of ``measure`` over ``rows`` (one area's ``monthly`` rows, any order).

    A month the extract covers only in part (``month_days`` short of the month) is left out,
    and said. A series with a withheld value (``*``) is drawn without limits: the limits would
    rest on numbers disclosure control withholds."""
    info = measure_info().get(measure, {"name": title, "improvement": "neutral", "unit": ""})
    rows = sorted((r for r in rows if r.get("month")), key=lambda r: r["month"])
    notes = []
    partial = [r for r in rows if r.get("month_days") is not None and r["month_days"] < _month_length(r["month"])]
    if partial:
        notes.append("Left out as partial (the extract covers only part of the month): "
                     + ", ".join(f"{r['month']} ({r['month_days']} days)" for r in partial) + ".")
        rows = [r for r in rows if r not in partial]
    months = [r["month"] for r in rows]
    values = [r.get(measure) for r in rows]
    if not rows:
        return SPCView(None, notes=[*notes, "No months to chart."])
    held = sum(1 for v in values if not isinstance(v, int | float))
    if held or len(rows) < 2:
        why = (f"{held} of {len(rows)} months are suppressed (small numbers), so no process limits are drawn"
               if held else "one month only: no process limits")
        shown = [v if isinstance(v, int | float) else None for v in values]
        fig = figure([trace("scatter", x=months, y=shown, mode="lines+markers", name=info["name"],
                            line={"color": COLOUR["common_cause"]}, connectgaps=False)], _layout(title, info))
        return SPCView(fig, notes=[*notes, _sentence(why)])
    starts = sorted({months.index(c["month"]) for c in change_points(measure, area) if c["month"] in months} - {0})
    reasons = [f"rebased from {c['month']}: {c['reason']} ({c['source']})" for c in change_points(measure, area)
               if c["month"] in months[1:]]
    chart = mdc.chart([float(v) for v in values], info["improvement"], rebase=starts, target=target)
    fig = _figure(months, chart, title, info, target)
    notes += [_sentence(r) for r in reasons]
    if chart.short:
        n = len(rows) - (starts[-1] if starts else 0)
        notes.append(f"Only {n} points since the {'last rebase' if starts else 'start'}: Making Data Count "
                     f"advises at least {mdc.SHORT_GROUP} before the limits are relied on.")
    icons = [_variation_icon(chart.variation)]
    if chart.assurance:
        icons.append(_assurance_icon(chart.assurance))
    return SPCView(fig, icons, notes)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _layout(title: str, info: dict) -> dict:
    return {"title": {"text": title}, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 380,
            "yaxis": {"title": {"text": "£" if info.get("unit") == "£" else info.get("unit", "")},
                      "rangemode": "tozero"},
            "xaxis": {"title": {"text": "Month"}, "type": "category"}, "showlegend": True,
            "legend": {"orientation": "h", "y": -0.42}}


def _figure(months: list[str], chart: mdc.Chart, title: str, info: dict, target: float | None) -> dict:
    traces = [trace("scatter", x=months, y=chart.values.tolist(), mode="lines", name=info["name"],
                    line={"color": COLOUR["common_cause"]}, hoverinfo="skip")]
    for kind in dict.fromkeys(chart.point_type):
        idx = [i for i, t in enumerate(chart.point_type) if t == kind]
        traces.append(trace(
            "scatter", x=[months[i] for i in idx], y=[chart.values[i] for i in idx], mode="markers", name=POINT_TEXT[kind],
            marker={"color": COLOUR[kind], "size": 8},
            customdata=[chart.special_cause[i] for i in idx],
            hovertemplate="%{x}: %{y:,}<br>%{customdata}<extra></extra>"))
    for g in sorted(set(chart.group.tolist())):
        idx = [i for i in range(len(months)) if chart.group[i] == g]
        xs = [months[idx[0]], months[idx[-1]]]
        first = g == 0
        for what, ys, dash, colour in (("Mean", chart.mean, "solid", "#000000"),
                                       ("Upper process limit", chart.upper, "dash", "#a6a6a6"),
                                       ("Lower process limit", chart.lower, "dash", "#a6a6a6")):
            traces.append(trace("scatter", x=xs, y=[ys[idx[0]]] * 2, mode="lines", name=what, legendgroup=what,
                                showlegend=first, line={"color": colour, "dash": dash, "width": 1.5},
                                hovertemplate=f"{what}: %{{y:,.1f}}<extra></extra>"))
    if target is not None:
        traces.append(trace("scatter", x=[months[0], months[-1]], y=[target] * 2, mode="lines", name="Target",
                            line={"color": "#de1b1b", "dash": "dot"}))
    return figure(traces, _layout(title, info))


def _badge(colour: str, inner: str, label: str) -> str:
    return (f'<svg viewBox="0 0 40 40" width="40" height="40" role="img" aria-label="{label}">'
            f'<circle cx="20" cy="20" r="18" fill="#fff" stroke="{colour}" stroke-width="3"/>{inner}</svg>')


def _letter(colour: str, text: str) -> str:
    return (f'<text x="20" y="26" text-anchor="middle" font-size="17" font-weight="700" '
            f'font-family="Arial, sans-serif" fill="{colour}">{text}</text>')


def _variation_icon(key: str) -> dict:
    text = mdc.VARIATION_TEXT[key]
    kind = key.split("_")[0]
    colour = ICON_COLOUR[kind]
    if key == "common_cause":
        inner = f'<path d="M8 20 h24" stroke="{colour}" stroke-width="3"/>'
    else:
        inner = _letter(colour, "H" if key.endswith("high") else "L")
    return {"kind": "variation", "key": key, "text": text, "svg": _badge(colour, inner, text)}


def _assurance_icon(key: str) -> dict:
    text = mdc.ASSURANCE_TEXT[key]
    colour = ASSURANCE_COLOUR[key]
    inner = _letter(colour, {"pass": "P", "fail": "F", "inconsistent": "?"}[key])
    return {"kind": "assurance", "key": key, "text": text, "svg": _badge(colour, inner, text)}
