"""The "How we compare" page: an area's headline measures against its similar areas (peers,
:mod:`phm.analysis.peers`) and England, as a Fingertips-style spine chart and tables.

What each role sees (governance.md, Access and Disclosure control):

- an ICB (a page for the ICB's analyst; other roles see their own areas): its peer ICBs in
  the warehouse are shown only as disclosure-controlled aggregates (each peer ICB's protected
  key measures; the peer mean and range of those), never their exact figures;
- a place, PCN or practice: its peers are areas of its own ICB. Their figures are shown to the
  ICB analyst; for any other role only the peer group and the characteristics it was chosen
  on, because means over overlapping peer groups could be differenced into one practice's
  figures;
- England: only where phm ships a national value with provenance (share aged 65+, ONS mid-2020;
  share in Core20 areas, IMD 2019 with its population denominators). Other measures say that
  no national value is shipped, rather than show an unsourced one.
"""

from __future__ import annotations

import functools
import statistics

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from phm.analysis.peers import comparable_basis
from phm.web import charts, pages, service
from phm.web.data import _icb_names
from phm.web.roles import Role

router = APIRouter(include_in_schema=False)

MEASURES = (  # (dash_summary measure, label)
    ("spend_per_head", "Spend per head (£)"),
    ("emergency_per_1000", "Emergency admissions per 1,000"),
    ("ae_per_1000", "A&E attendances per 1,000"),
    ("ltc2plus_pct", "% with 2+ long-term conditions"),
    ("age65plus_pct", "% aged 65+"),
    ("core20_pct", "% in Core20 areas"),
)
CHARACTERISTICS = {
    "imd_score": "IMD 2025 average score",
    "imd_most_deprived_10pc": "Share of LSOAs in England's most deprived 10%",
    "share_0_15": "Share aged 0-15 (mid-2015)",
    "share_60_plus": "Share aged 60+ (mid-2015)",
    "need_index": "Need index (weighted / registered population, 2025/26)",
    "share_65_plus": "Share of registered people aged 65+",
    "share_core20": "Share of registered people in Core20 areas",
}


@functools.cache
def england_values() -> dict[str, tuple[float, str]]:
    """National reference values phm ships, with their source."""
    import numpy as np

    from phm.refdata import england_population_by_age, imd2019, iod2019_population

    age = england_population_by_age()
    a, n = age["age"].to_numpy(), age["persons"].to_numpy()
    imd = imd2019()
    pop = iod2019_population()
    dec = dict(zip(imd["lsoa11_code"].to_pylist(), imd["imd_decile"].to_pylist(), strict=True))
    p = pop["population"].to_numpy()
    core = np.array([(dec.get(c) or 99) <= 2 for c in pop["lsoa11_code"].to_pylist()])
    return {
        "age65plus_pct": (100 * n[a >= 65].sum() / n.sum(), "ONS mid-2020 population estimates, England"),
        "core20_pct": (100 * p[core].sum() / p.sum(),
                       "MHCLG IoD2019 deciles 1-2 with its mid-2015 population denominators, England"),
    }


def _latest(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: r["fy"] or 0) if rows else {}


def _number(v) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _peer_rows(data, session, level: str, code: str) -> tuple[list[tuple[str, str]], str]:
    basis = comparable_basis(level)
    peers = [r for r in data.peers if r["level"] == level and r["area_code"] == code and r["basis"] == basis]
    return [(level, r["peer_code"]) for r in sorted(peers, key=lambda r: r["rank"])], basis


def comparison(data, session, level: str, code: str) -> dict:
    """Rows for the page: the measures table, the characteristics table and the chart data."""
    controlled = session.user.role.disclosure_controlled
    served = data.served["summary"]
    own = _latest((served.protected if controlled else served.raw).get((level, code), []))
    peers, basis = _peer_rows(data, session, level, code)
    allowed = service.permitted(data, session)
    show_peers = level == "icb" or (session.user.role is Role.ANALYST and all(p in allowed for p in peers))
    peer_values: dict[str, list[float]] = {m: [] for m, _ in MEASURES}
    if show_peers:
        for p in peers:
            # another organisation's figures only ever as the disclosure-controlled ones
            raw = session.user.role is Role.ANALYST and p in allowed
            row = _latest((served.raw if raw else served.protected).get(p, []))
            for m, _ in MEASURES:
                v = _number(row.get(m))
                if v is not None:
                    peer_values[m].append(v)
    eng = england_values()
    measures = []
    for m, label in MEASURES:
        vals = peer_values[m]
        e = eng.get(m)
        measures.append({
            "measure": label, "value": own.get(m), "peers_shown": len(vals),
            "peer_mean": statistics.fmean(vals) if vals else None,
            "peer_min": min(vals) if vals else None, "peer_max": max(vals) if vals else None,
            "england": e[0] if e else None,
            "england_source": e[1] if e else "no national value shipped",
        })
    profile = {(r["level"], r["area_code"], r["variable"]): r["value"] for r in data.peer_profile}
    names = sorted({r["variable"] for r in data.peer_profile if r["level"] == level})
    eng_profile = {r["variable"]: r["value"] for r in data.peer_profile if r["level"] == "england"}
    chars = []
    for v in names:
        mine = profile.get((level, code, v))
        pv = [profile[(level, p[1], v)] for p in peers if (level, p[1], v) in profile]
        chars.append({"characteristic": CHARACTERISTICS.get(v, v), "value": mine,
                      "peer_mean": statistics.fmean(pv) if pv else None,
                      "england": eng_profile.get(v) if level == "icb" else None})
    peer_list = [{"rank": i + 1, "peer_code": p[1], "peer_name": data.hierarchy.name(p)} for i, p in enumerate(peers)]
    return {"measures": measures, "characteristics": chars, "peers": peer_list, "basis": basis,
            "show_peers": show_peers, "fy": own.get("fy")}


def spine(measures: list[dict], area_name: str) -> dict:
    """A Fingertips-style spine chart: each measure scaled so England (or, without it, the
    peer mean) sits in the middle; the bar is the peer range, the marks the peer mean, England
    and this area."""
    data_rows = []
    for r in measures:
        ref = r["england"] if r["england"] is not None else r["peer_mean"]
        vals = [x for x in (r["value"], r["peer_min"], r["peer_max"], ref) if isinstance(x, int | float)]
        if ref is None or not vals:
            continue
        spread = max(abs(x - ref) for x in vals) or 1.0
        data_rows.append((r, ref, spread))
    if not data_rows:
        return {}
    labels = [r["measure"] for r, _, _ in data_rows]

    def pos(x, ref, spread):
        return None if not isinstance(x, int | float) else 0.5 + 0.5 * (x - ref) / spread

    def marks(key: str) -> tuple[list, list]:
        """The measures that have this mark, and where it goes (a trace has no empty points:
        a peer figure withheld from this user is left out of the chart, as the note says)."""
        got = [(r["measure"], pos(r[key], ref, sp)) for r, ref, sp in data_rows if isinstance(r[key], int | float)]
        return [g[0] for g in got], [g[1] for g in got]

    ranged = [(r["measure"], pos(r["peer_min"], ref, sp), pos(r["peer_max"], ref, sp))
              for r, ref, sp in data_rows if isinstance(r["peer_min"], int | float)]
    traces = []
    if ranged:
        traces.append(charts.trace("bar", orientation="h", y=[m for m, _, _ in ranged], base=[lo for _, lo, _ in ranged],
                                   x=[hi - lo for _, lo, hi in ranged], name="Peer range", marker_color="#AEB7BD",
                                   hoverinfo="skip"))
    for key, name, marker in (
        ("peer_mean", "Peer mean", {"symbol": "line-ns-open", "size": 18, "color": charts.NHS_DARK_BLUE}),
        ("england", "England", {"symbol": "diamond", "size": 11, "color": charts.NHS_GREY}),
        ("value", area_name, {"symbol": "circle", "size": 12, "color": charts.NHS_WARM_YELLOW}),
    ):
        y, x = marks(key)
        if y:
            traces.append(charts.trace("scatter", mode="markers", y=y, x=x, name=name, marker=marker))
    layout = {"title": {"text": "How this area compares (England, or the peer mean, at the centre)"},
              "xaxis": {"range": [-0.05, 1.05], "showticklabels": False, "zeroline": False},
              "yaxis": {"autorange": "reversed", "categoryorder": "array", "categoryarray": labels}, "barmode": "overlay", "height": 120 + 48 * len(labels),
              "margin": {"l": 260}, "legend": {"orientation": "h"}}
    return charts.figure(traces, layout)


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, area: str | None = None):
    s = pages._session(request, *pages.POPULATION_ROLES)
    data = service.web(request).data
    level, code, _ = pages._q(request, s, area, None)
    c = comparison(data, s, level, code)
    name = data.hierarchy.name((level, code))
    basis = ("ICBs in this warehouse most similar to it (the similar 10 of England are listed too)"
             if c["basis"] == "warehouse" else "the most similar areas of the same level in its ICB")
    withheld = "" if c["show_peers"] else (
        " The peers' own figures are shown to the ICB analyst only: means over overlapping peer groups "
        "could be differenced into one area's figures.")
    note = (f"Peers: {basis}, by equally weighted distance on published and registered-population "
            f"characteristics (docs/analysis.md, Similar areas).{withheld}")
    measure_cols = [{"name": n, "label": lbl, "kind": k} for n, lbl, k in (
        ("measure", "Measure", "label"), ("value", name, "rate"), ("peers_shown", "Peers with a value", "count"),
        ("peer_mean", "Peer mean", "rate"), ("peer_min", "Peer lowest", "rate"), ("peer_max", "Peer highest", "rate"),
        ("england", "England", "rate"), ("england_source", "England: source", "label"))]
    char_cols = [{"name": n, "label": lbl, "kind": k} for n, lbl, k in (
        ("characteristic", "Characteristic", "label"), ("value", name, "rate"), ("peer_mean", "Peer mean", "rate"),
        ("england", "England", "rate"))]
    peer_cols = [{"name": n, "label": lbl, "kind": k} for n, lbl, k in (
        ("rank", "Rank", "count"), ("peer_code", "Code", "label"), ("peer_name", "Peer", "label"))]
    fig = spine(c["measures"], name)
    year = charts.fy_label(c["fy"]) if c["fy"] is not None else "the latest year"
    panels = [  # peers are chosen once, on the latest year's characteristics (dash_peers)
        _panel(f"Key measures against peers and England, {year}", fig, measure_cols, c["measures"], note),
        _panel(f"What the peers were chosen on, {year}", None, char_cols, c["characteristics"],
               "ICB characteristics are published figures of their own vintage (IoD2025; mid-2015 ages; "
               "2025/26 allocations); local ones are the registered population's in the year shown."),
        _panel(f"Peer group, {year}", None, peer_cols, c["peers"], ""),
    ]
    from phm.web import opportunity

    panels += opportunity.panels(data, s, level, code, name, year, _panel)
    if level == "icb":
        england = [r for r in data.peers if r["level"] == "icb" and r["area_code"] == code and r["basis"] == "england"]
        icb_names = _icb_names()
        rows = [{"rank": r["rank"], "peer_code": r["peer_code"], "peer_name": icb_names.get(r["peer_code"], r["peer_code"])}
                for r in sorted(england, key=lambda r: r["rank"])]
        panels.append(_panel(f"Similar 10 ICBs of England, {year}", None, peer_cols, rows,
                             "Most of these are not in this warehouse; their figures are not held."))
    return pages._area_page(request, s, "How we compare", level, code, c["fy"], panels=panels, years=None)


def _panel(title: str, figure: dict | None, columns: list[dict], rows: list[dict], note: str) -> dict:
    import json
    import secrets

    return {"withheld": any(v == "*" for r in rows for v in r.values()), "significance": False, "id": f"p{secrets.token_hex(4)}", "title": title,
            "figure": json.dumps(figure) if figure else None, "columns": columns, "rows": rows, "note": note,
            "csv": None, "xlsx": None}
