"""Plotly figures for the pages, built from the rows the API serves (already scoped and
disclosure-controlled). A withheld value ("*") is never drawn as zero or left as an unexplained
gap: a bar is a hatched stub of fixed length marked ``*`` in its own slot (a pyramid's side, a
grouped series' place, the end of a stack), a point is a ``*`` marker at the axis, a heatmap cell
shows ``*``, and a funnel point that cannot be placed (its list size withheld) is counted in a
note; every such trace is named :data:`WITHHELD`, so the legend explains it. Where rows carry
significance categories (:mod:`phm.web.significance`), :func:`error_bars` and
:func:`compared_bar` colour each value by it, Fingertips-style, and always say it in words.

Figures are plain Plotly JSON, written as dicts (:func:`trace`, :func:`figure`): the JSON
``go.Figure(...).to_plotly_json()`` gives, without building Plotly's validated objects, which
took most of a page's time (about 2.5 ms a figure against microseconds); a test checks every
figure the pages make against Plotly's own validation. They are embedded in the page
as a JSON data block and drawn by ``static/app.js`` with the plotly.js bundle served from
the installed ``plotly`` package: no CDN, no external request.
"""

from __future__ import annotations

import functools

from phm.web import significance
from phm.web.names import SEX_NAMES


def trace(kind: str, **props) -> dict:
    """A Plotly trace as plain JSON: what ``go.<Kind>(**props).to_plotly_json()`` gives
    (``marker_color`` is Plotly's shorthand for ``marker={"color": ...}``)."""
    if "marker_color" in props:
        props["marker"] = {**props.get("marker", {}), "color": props.pop("marker_color")}
    return {**props, "type": kind}


@functools.cache
def _template() -> dict:
    """Plotly's default template, which every ``go.Figure`` embeds (the charts' look)."""
    import plotly.graph_objects as go

    return go.Figure().to_plotly_json()["layout"]["template"]


def figure(data: list[dict], layout: dict) -> dict:
    """A figure as plain JSON: what ``go.Figure(data, layout).to_plotly_json()`` gives (which
    leaves out an empty list of annotations or shapes)."""
    kept = {k: v for k, v in layout.items() if not (k in ("annotations", "shapes") and not v)}
    return {"data": data, "layout": {**kept, "template": _template()}}

NHS_BLUE, NHS_DARK_BLUE, NHS_WARM_YELLOW, NHS_GREY = "#005EB8", "#003087", "#FFB81C", "#768692"
PALETTE = [
    "#005EB8",
    "#FFB81C",
    "#009639",
    "#DA291C",
    "#330072",
    "#00A9CE",
    "#ED8B00",
    "#768692",
    "#AE2573",
    "#006747",
    "#41B6E6",
    "#8A1538",
]
FONT = "Frutiger W01, Arial, sans-serif"


WITHHELD = "* suppressed (small numbers)"  # the legend entry of every withheld-value marker
HATCH = {"shape": "/", "fgcolor": NHS_DARK_BLUE, "bgcolor": "#FFFFFF", "size": 6, "solidity": 0.35}
WITHHELD_BAR = {
    "color": "#FFFFFF",
    "line": {"color": NHS_DARK_BLUE, "width": 1.5},
    "pattern": HATCH,
}


def withheld(v) -> bool:
    return v == "*"


def fy_label(year) -> str:
    """A financial year by its start year as the NHS writes it: 2024 -> '2024/25'."""
    return f"{int(year)}/{(int(year) + 1) % 100:02d}"


def text(column: str, value) -> str:
    """A category value as an axis shows it (financial years as 2024/25)."""
    return fy_label(value) if column == "fy" and value is not None else str(value)


def _stub(values: list) -> float:
    """The length of a withheld value's hatched bar: fixed, 3% of the largest value shown (1
    when none), so it reads as a marker, not a number."""
    shown = [abs(v) for v in values if v is not None]
    return 0.03 * max(shown) if shown and max(shown) > 0 else 1.0


def _held_bars(
    cats: list,
    flags: list[bool],
    size: float,
    *,
    horizontal: bool = False,
    hover: list[str] | None = None,
    sign: int = 1,
    offsetgroup: str | None = None,
    legend: bool = True,
) -> list:
    """A hatched bar of fixed length ``size`` marked ``*`` for each withheld category (none if
    none), named :data:`WITHHELD` so the legend explains it. ``offsetgroup`` puts it in the slot
    of its series in a grouped bar chart."""
    if not any(flags):
        return []
    vals = [sign * size if f else None for f in flags]
    tips = [
        (hover[i] if hover else f"{c}: suppressed (small numbers)") if f else ""
        for i, (c, f) in enumerate(zip(cats, flags, strict=True))
    ]
    kw = dict(
        name=WITHHELD,
        legendgroup="withheld",
        showlegend=legend,
        marker=WITHHELD_BAR,
        text=["*" if f else "" for f in flags],
        textposition="outside",
        textfont={"size": 16, "color": NHS_DARK_BLUE},
        hovertext=tips,
        hoverinfo="text",
        cliponaxis=False,
    )
    if offsetgroup is not None:
        kw["offsetgroup"] = offsetgroup
    return [
        trace("bar", y=cats, x=vals, orientation="h", **kw)
        if horizontal
        else trace("bar", x=cats, y=vals, **kw)
    ]


def _marks(
    cats: list,
    flags: list[bool],
    *,
    horizontal: bool = False,
    hover: list[str] | None = None,
    at: float = 0,
) -> list:
    """A trace of ``*`` markers at the value axis for the withheld points of a scatter chart
    (none if none), named :data:`WITHHELD` so the legend explains it."""
    idx = [i for i, f in enumerate(flags) if f]
    if not idx:
        return []
    where = [cats[i] for i in idx]
    zero = [at] * len(idx)
    text = [hover[i] if hover else f"{cats[i]}: suppressed (small numbers)" for i in idx]
    return [
        trace(
            "scatter",
            x=zero if horizontal else where,
            y=where if horizontal else zero,
            mode="markers+text",
            text=["*"] * len(idx),
            textposition="middle right" if horizontal else "top center",
            textfont={"size": 16, "color": NHS_DARK_BLUE},
            name=WITHHELD,
            legendgroup="withheld",
            marker={
                "symbol": "asterisk-open",
                "size": 14,
                "color": NHS_DARK_BLUE,
                "line": {"width": 2, "color": NHS_DARK_BLUE},
            },
            hovertext=text,
            hoverinfo="text",
            showlegend=True,
            cliponaxis=False,
        )
    ]


def _legend_only() -> dict:
    """A legend entry for charts whose withheld cells carry their own ``*`` (heatmaps) or
    cannot be placed (a funnel point whose list size is withheld)."""
    return trace(
        "scatter",
        x=[None],
        y=[None],
        mode="markers",
        name=WITHHELD,
        showlegend=True,
        legendgroup="withheld",
        marker={"symbol": "asterisk-open", "size": 14, "color": NHS_DARK_BLUE},
    )


def num(v):
    """A plottable number, or None for a withheld ("*") or missing value."""
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _layout(title: str, **kw) -> dict:
    base = dict(
        title={"text": title, "font": {"size": 16}},
        font={"family": FONT, "size": 13, "color": "#212B32"},
        colorway=PALETTE,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        paper_bgcolor="#FFFFFF",
        plot_bgcolor="#FFFFFF",
        hoverlabel={"font": {"family": FONT}},
    )
    return {**base, **kw}


SIZELESS = "No value here is large enough to show: the hatched bars mark suppressed values, not their size."


def _note(text: str) -> dict:
    """A line of text above the plot area."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0,
        "y": 1.0,
        "xanchor": "left",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"color": NHS_DARK_BLUE},
    }


def _fig(
    data: list,
    title: str,
    *,
    withheld: int,
    sizeless: str = "",
    missing: list | None = None,
    **layout,
) -> dict:
    """The figure as Plotly JSON; ``layout.meta.withheld`` counts the withheld ("*") values it
    was given, each of which it marks (the browser test checks the marks against it).
    ``sizeless`` names the value axis ("x" or "y") of a bar chart whose bars are all withheld
    stubs (or zero): its scale would mean nothing, so it is hidden and a note says why.
    ``missing`` lists the categories with no value that is not withheld either (e.g. a rate with
    no events), so that their absence from the chart is said, not left as a gap."""
    notes = [SIZELESS] if sizeless else []
    if missing:
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        notes.append(f"No value for: {', '.join(map(str, missing[:6]))}{more} (see the table).")
    if sizeless:
        axis = f"{sizeless}axis"
        layout[axis] = {**layout.get(axis, {}), "showticklabels": False, "showgrid": False}
    if notes:
        layout["annotations"] = [*layout.get("annotations", ()), _note("<br>".join(notes))]
        layout["margin"] = {
            **layout.get("margin", {"l": 60, "r": 20, "b": 60}),
            "t": 50 + 18 * len(notes),
        }
    return figure(data, _layout(title, meta={"withheld": withheld}, **layout))


def _missing(rows: list[dict], x: str, y: str) -> list:
    """The ``x`` of rows whose ``y`` is missing but not withheld."""
    return [r[x] for r in rows if num(r.get(y)) is None and not withheld(r.get(y))]


def _sizeless(values: list, n: int, axis: str) -> str:
    """``axis`` when a chart with withheld values shows no value above zero, else ''."""
    return axis if n and not any(v for v in values if v is not None) else ""


def bar(
    rows: list[dict],
    x: str,
    y: str,
    title: str,
    *,
    y_title: str = "",
    horizontal: bool = False,
    color: str = NHS_BLUE,
) -> dict:
    xs = [text(x, r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    kw = dict(marker_color=color, name=y_title or y, showlegend=False, offsetgroup="value")
    bars = trace("bar", y=xs, x=ys, orientation="h", **kw) if horizontal else trace("bar", x=xs, y=ys, **kw)
    held = _held_bars(
        xs,
        [withheld(r.get(y)) for r in rows],
        _stub(ys),
        horizontal=horizontal,
        offsetgroup="value",
    )
    axis = {"title": {"text": y_title}}
    n = sum(withheld(r.get(y)) for r in rows)
    return _fig(
        [bars, *held],
        title,
        withheld=n,
        missing=_missing(rows, x, y),
        sizeless=_sizeless(ys, n, "x" if horizontal else "y"),
        **({"xaxis": axis} if horizontal else {"yaxis": axis}),
        legend={"orientation": "h", "y": -0.2},
    )


def grouped_bar(
    rows: list[dict],
    x: str,
    y: str,
    series: str,
    title: str,
    *,
    y_title: str = "",
    stacked: bool = False,
    y_format: str = "",
    horizontal: bool = False,
) -> dict:
    """Bars of ``y`` by ``x``, one colour per ``series``, side by side or stacked. A withheld value
    is a hatched ``*`` bar in its series' slot (stacked: at the end of the stack)."""
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    xs = list(dict.fromkeys(text(x, r[x]) for r in rows))
    cell = {(str(r[series]), text(x, r[x])): r.get(y) for r in rows}
    size = _stub([num(v) for v in cell.values()])
    data, held = [], []
    for i, s in enumerate(names):
        ys = [num(cell.get((s, v))) for v in xs]
        group = {} if stacked else {"offsetgroup": s}
        colour = PALETTE[i % len(PALETTE)]
        data.append(
            trace("bar", name=s, y=xs, x=ys, orientation="h", marker_color=colour, **group)
            if horizontal
            else trace("bar", name=s, x=xs, y=ys, marker_color=colour, **group)
        )
        held += _held_bars(
            xs,
            [withheld(cell.get((s, v))) for v in xs],
            size,
            horizontal=horizontal,
            hover=[f"{v} ({s}): suppressed (small numbers)" for v in xs],
            offsetgroup=None if stacked else s,
            legend=not held,
        )
    data += held
    n = sum(withheld(v) for v in cell.values())
    value_axis = {"title": {"text": y_title}, "tickformat": y_format}
    layout = (
        {
            "xaxis": value_axis,
            "yaxis": {"autorange": "reversed", "automargin": True},
            "height": max(400, 28 * len(xs) + 160),
            "legend": {"orientation": "h", "y": -0.12},
            "margin": {"l": 20, "r": 20, "t": 50, "b": 40},
        }
        if horizontal
        else {"yaxis": value_axis, "legend": {"orientation": "h", "y": -0.25}}
    )
    return _fig(
        data,
        title,
        withheld=n,
        sizeless=_sizeless([num(v) for v in cell.values()], n, "x" if horizontal else "y"),
        barmode="stack" if stacked else "group",
        **layout,
    )


def pyramid(rows: list[dict], title: str) -> dict:
    bands = list(dict.fromkeys(r["age_band"] for r in rows))
    size = _stub([num(r["persons"]) for r in rows])
    data, held = [], []
    for sex, sign, colour in (("Male", -1, NHS_BLUE), ("Female", 1, NHS_WARM_YELLOW)):
        mine = [r for r in rows if SEX_NAMES.get(str(r["sex"])) == sex]
        vals = {r["age_band"]: num(r["persons"]) for r in mine}
        xs = [None if vals.get(b) is None else sign * vals[b] for b in bands]
        data.append(
            trace(
                "bar",
                name=sex,
                y=bands,
                x=xs,
                orientation="h",
                marker_color=colour,
                customdata=[vals.get(b) for b in bands],
                hovertemplate="%{y}: %{customdata:,}<extra>%{fullData.name}</extra>",
            )
        )
        out = {r["age_band"] for r in mine if withheld(r["persons"])}
        held += _held_bars(
            bands,
            [b in out for b in bands],
            size,
            horizontal=True,
            sign=sign,
            hover=[f"{b} ({sex}): suppressed (small numbers)" for b in bands],
            legend=not held,
        )
    n = sum(withheld(r["persons"]) for r in rows)
    return _fig(
        [*data, *held],
        title,
        withheld=n,
        sizeless=_sizeless([num(r["persons"]) for r in rows], n, "x"),
        barmode="relative",
        bargap=0.05,
        xaxis={"title": {"text": "Registered persons"}},
        legend={"orientation": "h", "y": -0.2},
    )


def _compared(rows: list[dict], compare: tuple[str, str | None, str] | None) -> list:
    """Each row's significance category against the ICB (for its colour) and the words for both
    comparators (for its label); ``compare`` is (vs-ICB column, vs-parent column or None when
    the parent is the ICB, the parent's name)."""
    if compare is None:
        return [(None, "") for _ in rows]
    icb, parent, parent_name = compare
    out = []
    for r in rows:
        words = [significance.text(r.get(icb), "ICB")]
        if parent is not None:
            words.append(significance.text(r.get(parent), parent_name))
        words = [w for w in words if w]
        out.append((r.get(icb), "<br>".join(words)))
    return out


def _by_category(cats: list) -> list:
    """The categories present, in legend order (higher, similar, lower, suppressed, not compared)."""
    present = set(cats)
    return [c for c in (*significance.CATEGORIES, None) if c in present]


def _category_name(c: str | None) -> str:
    return {
        significance.HIGHER: "higher than ICB",
        significance.SIMILAR: "similar to ICB",
        significance.LOWER: "lower than ICB",
        significance.WITHHELD: "vs ICB: suppressed",
    }.get(c or "", "not compared")


def _groups(sig: list, shown: list[int]) -> tuple[bool, list[tuple[str | None, list[int]]]]:
    """Whether any shown point has a category, and the shown points by category."""
    cats = [sig[i][0] for i in shown]
    if not any(cats):
        return False, [(None, shown)]
    return True, [(c, [i for i in shown if sig[i][0] == c]) for c in _by_category(cats)]


def error_bars(
    rows: list[dict],
    x: str,
    y: str,
    lo: str,
    hi: str,
    title: str,
    y_title: str = "",
    compare: tuple[str, str | None, str] | None = None,
) -> dict:
    """Points with their 95% limits (analysts only: other roles have no limits). With
    ``compare``, each point is coloured by its significance against the ICB (Fingertips'
    blue-orange-blue) and labelled in words against the ICB and the parent area."""
    xs = [str(r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    up = [
        None if num(r.get(hi)) is None or v is None else num(r.get(hi)) - v
        for r, v in zip(rows, ys, strict=True)
    ]
    down = [
        None if num(r.get(lo)) is None or v is None else v - num(r.get(lo))
        for r, v in zip(rows, ys, strict=True)
    ]
    sig = _compared(rows, compare)
    coloured, groups = _groups(sig, [i for i, v in enumerate(ys) if v is not None])
    data = [
        trace(
            "scatter",
            x=[xs[i] for i in idx],
            y=[ys[i] for i in idx],
            mode="markers+text" if coloured else "markers",
            name=_category_name(c) if coloured else y_title or y,
            showlegend=coloured,
            marker={
                "size": 13,
                "color": significance.COLOURS[c] if coloured else NHS_BLUE,
                "line": {"width": 1.5, "color": NHS_DARK_BLUE},
            },
            text=[sig[i][1] for i in idx],
            textposition="middle right",
            textfont={"size": 11},
            error_y={
                "type": "data",
                "array": [up[i] for i in idx],
                "arrayminus": [down[i] for i in idx],
                "color": NHS_DARK_BLUE,
            },
            cliponaxis=False,
        )
        for c, idx in groups
    ]
    marks = _marks(xs, [withheld(r.get(y)) for r in rows])
    empty = {} if any(v is not None for v in ys) or marks else {"visible": False}  # nothing to draw
    return _fig(
        [*data, *marks],
        title,
        withheld=sum(withheld(r.get(y)) for r in rows),
        missing=_missing(rows, x, y),
        yaxis={"title": {"text": y_title}, "rangemode": "tozero", **empty},
        xaxis={"categoryorder": "array", "categoryarray": xs, **empty},
        legend={"orientation": "h", "y": -0.25},
    )


def compared_bar(
    rows: list[dict],
    x: str,
    y: str,
    title: str,
    *,
    compare: tuple[str, str | None, str],
    y_title: str = "",
    y_format: str = "",
) -> dict:
    """Horizontal bars of ``y`` by ``x`` as Fingertips compares areas: each bar coloured by its
    significance against the ICB (blue-orange-blue; grey = not compared) and labelled in words
    against the ICB and the parent area; a withheld value is a hatched ``*`` bar."""
    xs = [str(r[x]) for r in rows]
    ys = [num(r.get(y)) for r in rows]
    sig = _compared(rows, compare)
    shown = [i for i, v in enumerate(ys) if v is not None]
    coloured, groups = _groups(sig, shown)
    fmt = f":{y_format}" if y_format else ""
    data = [
        trace(
            "bar",
            y=[xs[i] for i in idx],
            x=[ys[i] for i in idx],
            orientation="h",
            offsetgroup="value",
            name=_category_name(c) if coloured else y_title or y,
            showlegend=coloured,
            marker={
                "color": significance.COLOURS[c] if coloured else NHS_BLUE,
                "line": {"width": 1, "color": NHS_DARK_BLUE},
            },
            text=[sig[i][1].replace("<br>", "; ") for i in idx],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x" + fmt + "}<br>%{text}<extra></extra>",
        )
        for c, idx in groups
    ]
    data += _held_bars(
        xs, [withheld(r.get(y)) for r in rows], _stub(ys), horizontal=True, offsetgroup="value"
    )
    n = sum(withheld(r.get(y)) for r in rows)
    label = max((len(sig[i][1]) for i in shown), default=0)  # room for the words by the bars
    return _fig(
        data,
        title,
        withheld=n,
        sizeless=_sizeless(ys, n, "x"),
        missing=_missing(rows, x, y),
        barmode="group",
        height=max(400, 34 * len(xs) + 180),
        xaxis={"title": {"text": y_title}, "tickformat": y_format},
        yaxis={
            "categoryorder": "array",
            "categoryarray": xs,
            "autorange": "reversed",
            "automargin": True,
        },
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 20, "r": min(320, 40 + 7 * label), "t": 50, "b": 40},
    )


@functools.cache
def _blues() -> list:
    """The "Blues" colour scale as Plotly writes a named scale out."""
    from plotly.colors import get_colorscale

    return get_colorscale("Blues")


def heatmap(rows: list[dict], x: str, y: str, z: str, title: str) -> dict:
    xs = list(dict.fromkeys(str(r[x]) for r in rows))
    ys = list(dict.fromkeys(str(r[y]) for r in rows))
    cell = {(str(r[x]), str(r[y])): num(r.get(z)) for r in rows}
    held = {(str(r[x]), str(r[y])) for r in rows if withheld(r.get(z))}
    cells = trace(
        "heatmap",
        x=xs,
        y=ys,
        z=[[cell.get((a, b)) for a in xs] for b in ys],
        colorscale=_blues(),
        hoverongaps=False,
        text=[["*" if (a, b) in held else "" for a in xs] for b in ys],
        texttemplate="%{text}",
        textfont={"size": 16, "color": NHS_DARK_BLUE},
    )
    data = [cells, _legend_only()] if held else [cells]
    return _fig(
        data,
        title,
        withheld=len(held),
        margin={"l": 200, "r": 20, "t": 50, "b": 80},
        legend={"orientation": "h", "y": -0.3},
        xaxis={"showgrid": False},
        yaxis={"showgrid": False},
    )


def funnel(rows: list[dict], title: str, names: dict[str, str], highlight: str | None = None) -> dict:
    """Practices' recorded prevalence against list size with 95% and 99.8% limits around the
    ICB average, drawn as curves over the whole range of list sizes (so one practice alone is
    still read against them); ``highlight``: a practice code drawn apart and named."""
    import numpy as np

    from phm.stats import proportion_limits

    pts = sorted(
        (r for r in rows if num(r.get("denominator")) and num(r.get("prevalence")) is not None),
        key=lambda r: r["denominator"],
    )
    data = []
    target = next((num(r.get("icb_prevalence")) for r in rows if num(r.get("icb_prevalence")) is not None), None)
    sizes = sorted(r["denominator"] for r in rows if num(r.get("denominator")))  # withheld prevalence too
    if sizes and target is not None and 0 < target < 1:
        lo_n, hi_n = sizes[0], sizes[-1]
        grid = np.unique(np.geomspace(max(lo_n / 2, 10), max(hi_n * 1.5, 20), 80).round())
        for level, label, dash in ((0.95, "95% limits", "dash"), (0.998, "99.8% limits", "dot")):
            lower, upper = proportion_limits(grid, target, level)
            for ys, show in ((lower, True), (upper, False)):
                data.append(trace("scatter", x=grid.tolist(), y=np.asarray(ys, dtype=float).tolist(),
                                  mode="lines", line={"color": NHS_GREY, "dash": dash}, name=label,
                                  showlegend=show, legendgroup=label, hoverinfo="skip"))
        data.append(trace("scatter", x=[grid[0], grid[-1]], y=[target] * 2, mode="lines", name="ICB average",
                          line={"color": NHS_DARK_BLUE}))
    for chosen in (False, True):
        group = [r for r in pts if (r["area_code"] == highlight) == chosen]
        if not group:
            continue
        data.append(
            trace(
                "scatter",
                x=[r["denominator"] for r in group],
                y=[r["prevalence"] for r in group],
                mode="markers+text" if chosen else "markers",
                name=names.get(highlight, highlight) if chosen else "Practice",
                marker={"color": "#DA291C" if chosen else NHS_BLUE, "size": 12 if chosen else 8,
                        "symbol": "diamond" if chosen else "circle"},
                text=[names.get(r["area_code"], r["area_code"]) for r in group],
                textposition="top center",
                hovertemplate="%{text}<br>list %{x:,}<br>prevalence %{y:.1%}<extra></extra>",
            )
        )
    held = [r for r in rows if withheld(r.get("prevalence")) or withheld(r.get("denominator"))]
    placed = [r for r in held if num(r.get("denominator"))]  # a withheld list size cannot be placed
    data += _marks(
        [r["denominator"] for r in placed],
        [True] * len(placed),
        hover=[
            f"{names.get(r['area_code'], r['area_code'])}: suppressed (small numbers)"
            for r in placed
        ],
    )
    unplaced = len(held) - len(placed)
    if unplaced and not placed:
        data.append(_legend_only())
    notes = (
        [
            {
                "text": f"* {unplaced} practice{'s' if unplaced > 1 else ''} suppressed (small list size): "
                "not plotted",
                "xref": "paper",
                "yref": "paper",
                "x": 1,
                "y": 1.02,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": NHS_DARK_BLUE},
            }
        ]
        if unplaced
        else []
    )
    return _fig(
        data,
        title,
        withheld=len(held),
        xaxis={"title": {"text": "Eligible list size"}},
        yaxis={"title": {"text": "Recorded prevalence"}, "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25},
        annotations=notes,
    )
