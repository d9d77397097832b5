"""Charts never draw a withheld value ("*") as zero or as an unexplained gap (issue 12 item 3):
every chart kind the pages use marks it, in its own place, with a trace named
``charts.WITHHELD`` (the legend entry "* suppressed (small numbers)"), and counts it in
``layout.meta.withheld``; significance categories colour values and are said in words."""

from __future__ import annotations

import re

import pytest

from phm.web import charts
from phm.web import significance as sig

W = charts.WITHHELD


def traces(fig: dict, name: str | None = None) -> list[dict]:
    return [t for t in fig["data"] if name is None or t.get("name") == name]


def held(fig: dict) -> list[dict]:
    return traces(fig, W)


def marked(t: dict, horizontal: bool) -> list:
    """The categories a withheld trace marks (non-null values)."""
    cats, vals = (t["y"], t["x"]) if horizontal else (t["x"], t["y"])
    return [c for c, v in zip(cats, vals, strict=True) if v is not None]


def test_legend_text():
    assert W == "* suppressed (small numbers)"


@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_draws_a_hatched_stub_not_zero(horizontal):
    rows = [{"k": "a", "v": 100}, {"k": "b", "v": "*"}, {"k": "c", "v": 50}]
    fig = charts.bar(rows, "k", "v", "t", horizontal=horizontal)
    value = traces(fig)[0]
    assert list(value["x" if horizontal else "y"]) == [100, None, 50]  # never 0
    [h] = held(fig)
    assert marked(h, horizontal) == ["b"]
    stub = next(v for v in h["x" if horizontal else "y"] if v is not None)
    assert stub == pytest.approx(3.0)  # 3% of the largest value shown
    assert h["marker"]["pattern"]["shape"] == "/" and h["showlegend"] is True
    assert list(h["text"]) == ["", "*", ""]
    assert h["offsetgroup"] == value["offsetgroup"]  # the same slot, not beside it
    assert fig["layout"]["meta"]["withheld"] == 1


def test_bar_without_withheld_values_has_no_marker():
    fig = charts.bar([{"k": "a", "v": 1}], "k", "v", "t")
    assert not held(fig) and fig["layout"]["meta"]["withheld"] == 0


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("horizontal", [False, True])
def test_grouped_and_stacked_bars_mark_each_series(stacked, horizontal):
    rows = [
        {"k": "a", "s": "one", "v": 10},
        {"k": "a", "s": "two", "v": "*"},
        {"k": "b", "s": "one", "v": "*"},
        {"k": "b", "s": "two", "v": 20},
    ]
    fig = charts.grouped_bar(rows, "k", "v", "s", "t", stacked=stacked, horizontal=horizontal)
    hs = held(fig)
    assert len(hs) == 2  # one per series with a withheld value
    assert sum(t["showlegend"] for t in hs) == 1  # one legend entry
    got = {(t.get("offsetgroup"), tuple(marked(t, horizontal))) for t in hs}
    if stacked:  # at the end of the stack
        assert got == {(None, ("a",)), (None, ("b",))}
        assert fig["layout"]["barmode"] == "stack"
    else:  # in the slot of its own series
        assert got == {("one", ("b",)), ("two", ("a",))}
    assert fig["layout"]["meta"]["withheld"] == 2


def test_pyramid_marks_the_withheld_side():
    rows = [
        {"age_band": "0-4", "sex": "1", "persons": 40},
        {"age_band": "0-4", "sex": "2", "persons": "*"},
        {"age_band": "5-9", "sex": "1", "persons": "*"},
        {"age_band": "5-9", "sex": "2", "persons": 30},
    ]
    fig = charts.pyramid(rows, "t")
    hs = held(fig)
    side = {marked(t, True)[0]: next(v for v in t["x"] if v is not None) for t in hs}
    assert side["0-4"] > 0 and side["5-9"] < 0  # female to the right, male to the left
    assert fig["layout"]["meta"]["withheld"] == 2


def test_error_bars_mark_withheld_points_and_colour_categories():
    rows = [
        {"g": "1", "v": 500.0, "lo": None, "hi": None, "c": "higher", "p": "similar"},
        {"g": "2", "v": "*", "lo": None, "hi": None, "c": "suppressed", "p": "suppressed"},
        {"g": "3", "v": 300.0, "lo": None, "hi": None, "c": "lower", "p": None},
    ]
    fig = charts.error_bars(rows, "g", "v", "lo", "hi", "t", compare=("c", "p", "PCN"))
    [h] = held(fig)
    assert list(h["x"]) == ["2"] and list(h["text"]) == ["*"]
    by_name = {t["name"]: t for t in traces(fig) if t["name"] != W}
    assert set(by_name) == {"higher than ICB", "lower than ICB"}
    assert by_name["higher than ICB"]["marker"]["color"] == sig.COLOURS["higher"]
    assert list(by_name["higher than ICB"]["text"]) == ["higher than ICB<br>similar to PCN"]
    assert list(by_name["lower than ICB"]["text"]) == ["lower than ICB"]
    assert fig["layout"]["meta"]["withheld"] == 1


def test_error_bars_without_categories_are_plain():
    rows = [{"g": "1", "v": 1.0, "lo": 0.5, "hi": 1.5}]
    fig = charts.error_bars(rows, "g", "v", "lo", "hi", "t")
    [t] = traces(fig)
    assert t["showlegend"] is False and t["marker"]["color"] == charts.NHS_BLUE
    assert list(t["error_y"]["array"]) == [0.5]


def test_compared_bar_colours_by_category_and_says_it():
    rows = [
        {"c": "asthma", "v": 0.07, "i": "higher", "p": "similar"},
        {"c": "copd", "v": "*", "i": "suppressed", "p": "suppressed"},
        {"c": "diabetes", "v": 0.05, "i": "similar", "p": "suppressed"},
    ]
    fig = charts.compared_bar(rows, "c", "v", "t", compare=("i", "p", "PCN"), y_format=".1%")
    by_name = {t["name"]: t for t in traces(fig)}
    assert by_name["higher than ICB"]["marker"]["color"] == "#C2CCFF"
    assert by_name["similar to ICB"]["marker"]["color"] == "#FFC000"
    assert list(by_name["similar to ICB"]["text"]) == ["similar to ICB; vs PCN: suppressed"]
    assert marked(by_name[W], True) == ["copd"]
    assert fig["layout"]["meta"]["withheld"] == 1


def test_compared_bar_for_the_icb_itself_is_plain():
    rows = [{"c": "asthma", "v": 0.07, "i": None, "p": None}]
    fig = charts.compared_bar(rows, "c", "v", "t", compare=("i", None, ""))
    [t] = traces(fig)
    assert t["showlegend"] is False and t["marker"]["color"] == charts.NHS_BLUE


def test_heatmap_cells_show_a_star_and_the_legend_explains():
    rows = [{"x": "a", "y": "s", "z": 5.0}, {"x": "b", "y": "s", "z": "*"}]
    fig = charts.heatmap(rows, "x", "y", "z", "t")
    hm = fig["data"][0]
    assert hm["z"] == [[5.0, None]] and hm["text"] == [["", "*"]]
    assert len(held(fig)) == 1 and fig["layout"]["meta"]["withheld"] == 1


def funnel_row(code, den, prev):
    return {
        "area_code": code,
        "denominator": den,
        "prevalence": prev,
        "icb_prevalence": 0.06,
        "funnel_lower_95": 0.04,
        "funnel_upper_95": 0.08,
        "funnel_lower_998": 0.03,
        "funnel_upper_998": 0.09,
    }


def test_funnel_marks_placeable_points_and_counts_the_rest():
    rows = [
        funnel_row("A", 1000, 0.05),
        funnel_row("B", 500, "*"),  # list size shown: marked at it
        funnel_row("C", "*", "*"),  # list size withheld: cannot be placed, counted in a note
    ]
    fig = charts.funnel(rows, "t", {})
    [h] = held(fig)
    assert list(h["x"]) == [500]
    notes = fig["layout"]["annotations"]
    assert len(notes) == 1 and notes[0]["text"].startswith("* 1 practice suppressed")
    assert fig["layout"]["meta"]["withheld"] == 2


def test_funnel_with_only_unplaceable_points_still_has_the_legend_entry():
    fig = charts.funnel([funnel_row("A", 1000, 0.05), funnel_row("C", "*", "*")], "t", {})
    assert len(held(fig)) == 1 and fig["layout"]["annotations"]


def test_a_chart_of_only_withheld_stubs_hides_its_meaningless_scale():
    rows = [{"k": "a", "v": "*"}, {"k": "b", "v": 0}]
    fig = charts.bar(rows, "k", "v", "t")
    assert fig["layout"]["yaxis"]["showticklabels"] is False
    assert any(charts.SIZELESS in a["text"] for a in fig["layout"]["annotations"])
    shown = charts.bar([{"k": "a", "v": "*"}, {"k": "b", "v": 5}], "k", "v", "t")
    assert "annotations" not in shown["layout"] or not shown["layout"]["annotations"]


def test_values_that_are_missing_but_not_withheld_are_named_in_a_note():
    rows = [{"g": "1", "v": 5.0}, {"g": "2", "v": None}, {"g": "3", "v": "*"}]
    fig = charts.error_bars(rows, "g", "v", "lo", "hi", "t")
    [note] = fig["layout"]["annotations"]
    assert note["text"] == "No value for: 2 (see the table)."
    assert [list(t["x"]) for t in held(fig)] == [["3"]]


def test_a_point_chart_with_nothing_to_draw_says_so_instead_of_empty_axes():
    rows = [{"g": "1", "v": None}, {"g": "2", "v": None}]
    fig = charts.error_bars(rows, "g", "v", "lo", "hi", "t")
    assert fig["layout"]["xaxis"]["visible"] is False and fig["layout"]["yaxis"]["visible"] is False
    assert fig["layout"]["annotations"][0]["text"] == "No value for: 1, 2 (see the table)."


def test_a_funnel_of_one_practice_still_draws_its_limits_and_names_it():
    """Issue 16: the practice-level funnel showed one point and no limits."""
    fig = charts.funnel([funnel_row("A", 1000, 0.05)], "t", {"A": "Red Roofs"}, highlight="A")
    limits = [t for t in fig["data"] if t["name"] in ("95% limits", "99.8% limits")]
    assert len(limits) == 4 and all(len(t["x"]) > 20 for t in limits)
    lo95 = next(t for t in limits if t["name"] == "95% limits")
    assert lo95["x"][0] < 1000 < lo95["x"][-1] and max(lo95["y"]) < 0.06
    [me] = [t for t in fig["data"] if t["name"] == "Red Roofs"]
    assert list(me["x"]) == [1000] and me["marker"]["symbol"] == "diamond"


@pytest.mark.xdist_group("ingest")
def test_a_practice_is_read_against_the_practices_of_its_pcn(clients, accounts, dashboard):
    from html import unescape

    code = accounts["practice-a1"].organisation
    html = unescape(clients["analyst"].get("/needs", params={"area": f"practice:{code}"}).text)
    pcn = dashboard.hierarchy.name(dashboard.hierarchy.parent[("practice", code)])
    assert f"prevalence by practice in {pcn}" in html
    own = unescape(clients["practice-a1"].get("/needs").text)  # a practice lead sees no other practice's figures
    assert f"prevalence by practice in {pcn}" in own, re.findall(r'<h2 id="p[0-9a-f]+-h">(.*?)</h2>', own)
    mine = [r for r in clients["practice-a1"].get("/api/v1/data/prevalence", params={"level": "practice"}).json()["rows"]
            if r["condition"] == "hypertension"]
    assert len(mine) == 1  # the practice's own row only
    assert ("95% limits" in own) == isinstance(mine[0]["denominator"], int), mine  # limits wherever it can be placed


@pytest.mark.xdist_group("ingest")
def test_every_figure_on_the_pages_is_what_plotly_would_write(clients, accounts):
    """Figures are written as plain dicts (:func:`charts.figure`), not through Plotly's
    objects, which took most of a page's time: every figure the pages embed, for the analyst
    and for a practice, comes back unchanged through Plotly's validation, so a misspelt
    property or a value Plotly would rewrite fails here."""
    import json

    import plotly.graph_objects as go
    from plotly.utils import PlotlyJSONEncoder

    from .attack import page_panels

    code = accounts["practice-a1"].organisation
    checked = 0
    for user, area in (("analyst", None), ("practice-a1", f"practice:{code}")):
        for page in ("/", "/population", "/inequalities", "/spend", "/needs", "/practice", "/trends"):
            r = clients[user].get(page, params={"area": area} if area else {})
            assert r.status_code == 200, (user, page, r.status_code)
            for panel in page_panels(r.text):
                if panel.figure:
                    validated = json.loads(json.dumps(go.Figure(panel.figure).to_plotly_json(), cls=PlotlyJSONEncoder))
                    assert validated == panel.figure, (user, page, panel.title)
                    checked += 1
    assert checked >= 40, checked
