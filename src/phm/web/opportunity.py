"""The "How we compare" page's opportunity panels (:mod:`phm.analysis.opportunity`): activity
and £ if the area matched the average of the better half of its peers, by programme of care
and by setting, with the caveats on the page.

Shown to the ICB analyst only. Another ICB's figures reach the benchmark only as released to
another organisation (the build applies :mod:`phm.disclosure`); within an ICB the benchmark is
a mean over the peers' exact figures, and means over overlapping peer groups could be
differenced into one practice's figures, so other roles get the caveat and no figures.
"""

from __future__ import annotations

from phm.web import charts
from phm.web.names import SETTING_NAMES
from phm.web.roles import Role

CAVEATS = (
    "An opportunity is not a saving: it is the activity and spend if this area matched the average of the "
    "better half (lowest rates) of its peers, and is shown only where the area is above that average.",
    "Lower is not always better: a low rate can be unmet need, and peers are matched on demography, "
    "deprivation and need, not on how services are configured, counted or coded.",
    "Rates are per head of need-weighted population (registered population times the NHS England 2025/26 "
    "allocation need index); that RightCare weighted exactly so is UNVERIFIED: the column 'on registered "
    "population' shows how much of each opportunity rests on it.",
    "Programme opportunities add up (each contact is in one programme), and so do setting opportunities; "
    "the two views are the same money cut two ways, so never add one to the other.",
    "ICB-commissioned activity and spend of the latest year only (docs/analysis.md, dash_opportunity).",
)
DIMENSIONS = (("programme", "programme of care", "Programme of care"), ("setting", "setting", "Setting"))


def _pivot(rows: list[dict], dimension: str) -> list[dict]:
    """One row per category: activity and spend side by side, largest £ opportunity first."""
    by: dict[str, dict] = {}
    for r in rows:
        if r["dimension"] != dimension:
            continue
        name = SETTING_NAMES.get(r["category"], r["category"]) if dimension == "setting" else r["category_name"]
        out = by.setdefault(r["category"], {"category": name or r["category"], "peers": r["peers"],
                                            "peers_withheld": r["peers_withheld"]})
        m = "activity" if r["measure"] == "activity" else "spend"
        out[f"{m}_rate"] = r["rate"]
        out[f"{m}_benchmark"] = _num(r["benchmark"])
        out[f"{m}_opportunity"] = _num(r["opportunity"])
        out[f"{m}_unweighted"] = _num(r["opportunity_unweighted"])
    return sorted(by.values(), key=lambda r: (-(r.get("spend_opportunity") or 0.0), r["category"]))


def _num(v):
    return None if v is None or v != v else v


def _columns(label: str) -> list[dict]:
    return [{"name": n, "label": lbl, "kind": k} for n, lbl, k in (
        ("category", label, "label"),
        ("activity_rate", "Contacts per 1,000 weighted", "rate"),
        ("activity_benchmark", "Better-half peers' average", "rate"),
        ("activity_opportunity", "Activity opportunity (contacts)", "rate"),
        ("spend_rate", "£ per weighted head", "rate"),
        ("spend_benchmark", "Better-half peers' average (£)", "rate"),
        ("spend_opportunity", "£ opportunity", "money"),
        ("spend_unweighted", "£ opportunity on registered population", "money"),
        ("peers", "Peers", "count"),
        ("peers_withheld", "Peer figures withheld", "count"))]


def panels(data, session, level: str, code: str, area_name: str, year: str, panel) -> list[dict]:
    """The opportunity panels for the area (``panel`` makes one, as the compare page does)."""
    rows = data.opportunity.get((level, code), [])
    if session.user.role is not Role.ANALYST:
        return [panel(f"Opportunity against the better half of peers, {year}", None, [], [],
                      "Opportunity figures are shown to the ICB analyst only: the benchmark is an average of "
                      "peers' own figures, and averages over overlapping peer groups could be differenced "
                      "into one area's figures. " + " ".join(CAVEATS[:2]))]
    if not rows:
        return [panel(f"Opportunity against the better half of peers, {year}", None, [], [],
                      "No opportunity for this area: it has no peers with figures in this warehouse (an ICB "
                      "needs other ICBs in the warehouse; a place, PCN or practice other areas of its level "
                      "in its ICB) or no need index.")]
    out = []
    for dim, noun, label in DIMENSIONS:
        table = _pivot(rows, dim)
        total = sum(r.get("spend_opportunity") or 0.0 for r in table)
        total_unw = sum(r.get("spend_unweighted") or 0.0 for r in table)
        contacts = sum(r.get("activity_opportunity") or 0.0 for r in table)
        held = sum(1 for r in table if r.get("spend_benchmark") is None)
        shown = [r for r in table if (r.get("spend_opportunity") or 0.0) > 0][:12]
        fig = charts.bar(shown, "category", "spend_opportunity",
                         f"£ opportunity by {noun}, {year}: the largest {len(shown)}", y_title="£", horizontal=True) if shown else None
        note = (f"If {area_name} matched the average of the better half of its peers in every {noun}: "
                f"£{total:,.0f} and {contacts:,.0f} contacts (on registered-population rates £{total_unw:,.0f}; "
                f"the difference rests on the need weighting). "
                + (f"{held} {noun}s have no benchmark because a peer figure is withheld. " if held else "")
                + " ".join(CAVEATS))
        out.append(panel(f"Opportunity by {noun} against the better half of peers, {year}", fig,
                         _columns(label), table, note))
    return out
