"""Plotly figures for the pages, built from the rows the API serves (already scoped and
disclosure-controlled). A withheld value ("*") is drawn as a gap, never as zero.

Figures are plain Plotly JSON (``go.Figure(...).to_plotly_json()``), embedded in the page
as a JSON data block and drawn by ``static/app.js`` with the plotly.js bundle served from
the installed ``plotly`` package: no CDN, no external request.
"""

from __future__ import annotations

import plotly.graph_objects as go

NHS_BLUE, NHS_DARK_BLUE, NHS_WARM_YELLOW, NHS_GREY = "#005EB8", "#003087", "#FFB81C", "#768692"
PALETTE = ["#005EB8", "#FFB81C", "#009639", "#DA291C", "#330072", "#00A9CE", "#ED8B00", "#768692", "#AE2573",
           "#006747", "#41B6E6", "#8A1538"]
SEX_NAMES = {"1": "Male", "2": "Female", "M": "Male", "F": "Female", "9": "Not specified", "0": "Not known"}
FONT = "Frutiger W01, Arial, sans-serif"


def num(v):
    """A plottable number, or None for a withheld ("*") or missing value."""
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _layout(title: str, **kw) -> dict:
    base = dict(title={"text": title, "font": {"size": 16}}, font={"family": FONT, "size": 13, "color": "#212B32"},
                colorway=PALETTE, margin={"l": 60, "r": 20, "t": 50, "b": 60}, paper_bgcolor="#FFFFFF",
                plot_bgcolor="#FFFFFF", hoverlabel={"font": {"family": FONT}})
    return {**base, **kw}


def _fig(data: list, title: str, **layout) -> dict:
    return go.Figure(data=data, layout=_layout(title, **layout)).to_plotly_json()


def bar(rows: list[dict], x: str, y: str, title: str, *, y_title: str = "", horizontal: bool = False,
        color: str = NHS_BLUE) -> dict:
    xs = [str(r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    trace = go.Bar(y=xs, x=ys, orientation="h", marker_color=color) if horizontal else go.Bar(
        x=xs, y=ys, marker_color=color)
    axis = {"title": {"text": y_title}}
    return _fig([trace], title, **({"xaxis": axis} if horizontal else {"yaxis": axis}))


def grouped_bar(rows: list[dict], x: str, y: str, series: str, title: str, *, y_title: str = "",
                stacked: bool = False, y_format: str = "", horizontal: bool = False) -> dict:
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    xs = list(dict.fromkeys(str(r[x]) for r in rows))
    data = []
    for s in names:
        vals = {str(r[x]): num(r.get(y)) for r in rows if str(r[series]) == s}
        ys = [vals.get(v) for v in xs]
        data.append(go.Bar(name=s, y=xs, x=ys, orientation="h") if horizontal else go.Bar(name=s, x=xs, y=ys))
    value_axis = {"title": {"text": y_title}, "tickformat": y_format}
    if horizontal:
        return _fig(data, title, barmode="stack" if stacked else "group", xaxis=value_axis,
                    yaxis={"autorange": "reversed", "automargin": True}, height=max(400, 28 * len(xs) + 160),
                    legend={"orientation": "h", "y": -0.12}, margin={"l": 20, "r": 20, "t": 50, "b": 40})
    return _fig(data, title, barmode="stack" if stacked else "group", yaxis=value_axis,
                legend={"orientation": "h", "y": -0.25})


def pyramid(rows: list[dict], title: str) -> dict:
    bands = list(dict.fromkeys(r["age_band"] for r in rows))
    data = []
    for sex, sign, colour in (("Male", -1, NHS_BLUE), ("Female", 1, NHS_WARM_YELLOW)):
        vals = {r["age_band"]: num(r["persons"]) for r in rows if SEX_NAMES.get(str(r["sex"])) == sex}
        xs = [None if vals.get(b) is None else sign * vals[b] for b in bands]
        data.append(go.Bar(name=sex, y=bands, x=xs, orientation="h",
                           marker_color=colour, customdata=[vals.get(b) for b in bands],
                           hovertemplate="%{y}: %{customdata:,}<extra>%{fullData.name}</extra>"))
    return _fig(data, title, barmode="relative", bargap=0.05, xaxis={"title": {"text": "Registered persons"}},
                legend={"orientation": "h", "y": -0.2})


def error_bars(rows: list[dict], x: str, y: str, lo: str, hi: str, title: str, y_title: str = "") -> dict:
    xs = [str(r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    up = [None if num(r.get(hi)) is None or v is None else num(r.get(hi)) - v for r, v in zip(rows, ys, strict=True)]
    down = [None if num(r.get(lo)) is None or v is None else v - num(r.get(lo)) for r, v in zip(rows, ys, strict=True)]
    trace = go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 11, "color": NHS_BLUE},
                       error_y={"type": "data", "array": up, "arrayminus": down, "color": NHS_DARK_BLUE})
    return _fig([trace], title, yaxis={"title": {"text": y_title}})


def heatmap(rows: list[dict], x: str, y: str, z: str, title: str) -> dict:
    xs = list(dict.fromkeys(str(r[x]) for r in rows))
    ys = list(dict.fromkeys(str(r[y]) for r in rows))
    cell = {(str(r[x]), str(r[y])): num(r.get(z)) for r in rows}
    trace = go.Heatmap(x=xs, y=ys, z=[[cell.get((a, b)) for a in xs] for b in ys], colorscale="Blues",
                       hoverongaps=False)
    return _fig([trace], title, margin={"l": 200, "r": 20, "t": 50, "b": 80})


def funnel(rows: list[dict], title: str, names: dict[str, str]) -> dict:
    """Practices' recorded prevalence against list size with 95% and 99.8% limits."""
    pts = sorted((r for r in rows if num(r.get("denominator")) and num(r.get("prevalence")) is not None),
                 key=lambda r: r["denominator"])
    data = []
    for lo, hi, label, dash in (("funnel_lower_95", "funnel_upper_95", "95% limits", "dash"),
                                ("funnel_lower_998", "funnel_upper_998", "99.8% limits", "dot")):
        for col, show in ((lo, True), (hi, False)):
            data.append(go.Scatter(x=[r["denominator"] for r in pts], y=[num(r.get(col)) for r in pts],
                                   mode="lines", line={"color": NHS_GREY, "dash": dash}, name=label,
                                   showlegend=show, legendgroup=label, hoverinfo="skip"))
    if pts:
        data.append(go.Scatter(x=[pts[0]["denominator"], pts[-1]["denominator"]],
                               y=[pts[0].get("icb_prevalence")] * 2, mode="lines", name="ICB average",
                               line={"color": NHS_DARK_BLUE}))
    data.append(go.Scatter(x=[r["denominator"] for r in pts], y=[r["prevalence"] for r in pts], mode="markers",
                           name="Practice", marker={"color": NHS_BLUE, "size": 8},
                           text=[names.get(r["area_code"], r["area_code"]) for r in pts],
                           hovertemplate="%{text}<br>list %{x:,}<br>prevalence %{y:.1%}<extra></extra>"))
    return _fig(data, title, xaxis={"title": {"text": "Eligible list size"}},
                yaxis={"title": {"text": "Recorded prevalence"}, "tickformat": ".0%"},
                legend={"orientation": "h", "y": -0.25})
