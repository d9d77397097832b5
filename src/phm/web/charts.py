"""Plotly figures for the pages, built from the rows the API serves (already scoped and
disclosure-controlled). A withheld value ("*") is never drawn as zero or left as an unexplained
gap: it gets a visible ``*`` marker at the axis (a trace named :data:`WITHHELD`, so the legend
explains it), and heatmap cells show ``*``.

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


WITHHELD = "* suppressed (numbers too small to show)"


def withheld(v) -> bool:
    return v == "*"


def _marks(cats: list, flags: list[bool], *, horizontal: bool = False, hover: list[str] | None = None,
           at: float = 0) -> list:
    """A trace of ``*`` markers at the value axis for the withheld categories (none if none)."""
    idx = [i for i, f in enumerate(flags) if f]
    if not idx:
        return []
    where = [cats[i] for i in idx]
    zero = [at] * len(idx)
    text = [hover[i] if hover else f"{cats[i]}: suppressed" for i in idx]
    return [go.Scatter(x=zero if horizontal else where, y=where if horizontal else zero, mode="markers+text",
                       text=["*"] * len(idx), textposition="middle right" if horizontal else "top center",
                       textfont={"size": 16, "color": NHS_DARK_BLUE}, name=WITHHELD, legendgroup="withheld",
                       marker={"symbol": "asterisk-open", "size": 14, "color": NHS_DARK_BLUE,
                               "line": {"width": 2, "color": NHS_DARK_BLUE}},
                       hovertext=text, hoverinfo="text", showlegend=True, cliponaxis=False)]


def _legend_only() -> go.Scatter:
    """A legend entry for charts whose withheld cells carry their own ``*`` (heatmaps)."""
    return go.Scatter(x=[None], y=[None], mode="markers", name=WITHHELD, showlegend=True,
                      marker={"symbol": "asterisk-open", "size": 14, "color": NHS_DARK_BLUE})


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
    trace = go.Bar(y=xs, x=ys, orientation="h", marker_color=color, name=y_title or y, showlegend=False) \
        if horizontal else go.Bar(x=xs, y=ys, marker_color=color, name=y_title or y, showlegend=False)
    axis = {"title": {"text": y_title}}
    marks = _marks(xs, [withheld(r.get(y)) for r in rows], horizontal=horizontal)
    extra = {"yaxis": {"autorange": "reversed", "automargin": True}} if horizontal and marks else {}
    return _fig([trace, *marks], title, **({"xaxis": axis} if horizontal else {"yaxis": axis}), **extra,
                legend={"orientation": "h", "y": -0.2})


def grouped_bar(rows: list[dict], x: str, y: str, series: str, title: str, *, y_title: str = "",
                stacked: bool = False, y_format: str = "", horizontal: bool = False) -> dict:
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    xs = list(dict.fromkeys(str(r[x]) for r in rows))
    data = []
    for s in names:
        vals = {str(r[x]): num(r.get(y)) for r in rows if str(r[series]) == s}
        ys = [vals.get(v) for v in xs]
        data.append(go.Bar(name=s, y=xs, x=ys, orientation="h") if horizontal else go.Bar(name=s, x=xs, y=ys))
    held: dict[str, list[str]] = {}
    for r in rows:
        if withheld(r.get(y)):
            held.setdefault(str(r[x]), []).append(str(r[series]))
    data += _marks(xs, [v in held for v in xs], horizontal=horizontal,
                   hover=[f"{v}: suppressed for {', '.join(held.get(v, []))}" for v in xs])
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
    held: dict[str, list[str]] = {}
    for r in rows:
        if withheld(r["persons"]):
            held.setdefault(r["age_band"], []).append(SEX_NAMES.get(str(r["sex"]), str(r["sex"])))
    data += _marks(bands, [b in held for b in bands], horizontal=True,
                   hover=[f"{b}: suppressed ({', '.join(held.get(b, []))})" for b in bands])
    return _fig(data, title, barmode="relative", bargap=0.05, xaxis={"title": {"text": "Registered persons"}},
                legend={"orientation": "h", "y": -0.2})


def error_bars(rows: list[dict], x: str, y: str, lo: str, hi: str, title: str, y_title: str = "") -> dict:
    xs = [str(r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    up = [None if num(r.get(hi)) is None or v is None else num(r.get(hi)) - v for r, v in zip(rows, ys, strict=True)]
    down = [None if num(r.get(lo)) is None or v is None else v - num(r.get(lo)) for r, v in zip(rows, ys, strict=True)]
    trace = go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 11, "color": NHS_BLUE},
                       error_y={"type": "data", "array": up, "arrayminus": down, "color": NHS_DARK_BLUE})
    marks = _marks(xs, [withheld(r.get(y)) for r in rows])
    return _fig([trace, *marks], title, yaxis={"title": {"text": y_title}}, legend={"orientation": "h", "y": -0.25})


def heatmap(rows: list[dict], x: str, y: str, z: str, title: str) -> dict:
    xs = list(dict.fromkeys(str(r[x]) for r in rows))
    ys = list(dict.fromkeys(str(r[y]) for r in rows))
    cell = {(str(r[x]), str(r[y])): num(r.get(z)) for r in rows}
    held = {(str(r[x]), str(r[y])) for r in rows if withheld(r.get(z))}
    trace = go.Heatmap(x=xs, y=ys, z=[[cell.get((a, b)) for a in xs] for b in ys], colorscale="Blues",
                       hoverongaps=False, text=[["*" if (a, b) in held else "" for a in xs] for b in ys],
                       texttemplate="%{text}", textfont={"size": 16, "color": NHS_DARK_BLUE})
    data = [trace, _legend_only()] if held else [trace]
    return _fig(data, title, margin={"l": 200, "r": 20, "t": 50, "b": 80}, legend={"orientation": "h", "y": -0.3},
                xaxis={"showgrid": False}, yaxis={"showgrid": False})


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
    held = [r for r in rows if withheld(r.get("prevalence")) or withheld(r.get("denominator"))]
    placed = [r for r in held if num(r.get("denominator"))]  # a withheld list size cannot be placed
    data += _marks([r["denominator"] for r in placed], [True] * len(placed),
                   hover=[f"{names.get(r['area_code'], r['area_code'])}: suppressed" for r in placed])
    if held and not placed:
        data.append(_legend_only())
    return _fig(data, title, xaxis={"title": {"text": "Eligible list size"}},
                yaxis={"title": {"text": "Recorded prevalence"}, "tickformat": ".0%"},
                legend={"orientation": "h", "y": -0.25})
