"""Population health analysis over the marts: needs, inequalities and spend.

Functions take Ibis tables (the marts ``person_year`` and ``activity``), aggregate in the
engine with portable Ibis (DuckDB and Spark alike; no SQL), fetch the small result with
:func:`phm.warehouse.fetch` and compute statistics with :mod:`phm.stats`. Each returns a
small :class:`pyarrow.Table` of plain column types (string, int64, float64, bool).

- :mod:`.needs`: recorded prevalence (ISR, funnels) and emergency admission DSRs by area;
- :mod:`.inequalities`: the same and cost per head by IMD, ethnicity and Core20; SII/RII;
  the deprivation gradient of emergency admissions;
- :mod:`.spend`: programme budgeting, resource consumption map, access x intensity, top
  spenders;
- :mod:`.dashboard`: the aggregates the web dashboard serves (areas, summary, pyramid, IMD,
  segments, top-cost cohort, inequalities and SII for every area), so that it never reads
  patient rows;
- :mod:`.monthly`: the monthly series per area behind the SPC charts (``dash_monthly``);
- :mod:`.magnitude`: the support columns beside every £ column the dashboard serves
  (``<M>_people``, ``<M>_top1``, ``<M>_top2``) for disclosure control of money.

:func:`analysis_tables` produces every output as named tables (see ``docs/analysis.md``).
"""

from __future__ import annotations

import pyarrow as pa

from phm.analysis import (
    dashboard,
    inequalities,
    magnitude,
    monthly,
    needs,
    opportunity,
    peers,
    spend,
)
from phm.analysis._common import LEVELS, resolve_fy

__all__ = [
    "ACROSS_YEARS",
    "LEVELS",
    "TABLES",
    "analysis_tables",
    "dashboard",
    "inequalities",
    "magnitude",
    "needs",
    "opportunity",
    "peers",
    "spend",
]

TABLES = (
    "hna_prevalence",
    "hna_emergency_dsr",
    "ineq_prevalence",
    "ineq_emergency_dsr",
    "ineq_cost_per_head",
    "ineq_sii",
    "ineq_deprivation_gradient",
    "spend_programme_budget",
    "spend_rcm",
    "spend_access_intensity",
    "spend_top_persons",
    *dashboard.TABLES,
    "dash_monthly",
    "dash_peers",
    "dash_peer_profile",
    "dash_opportunity",
)


# Tables that are not one financial year's: every year at once (dash_summary), or the areas
# as registered in the latest year (dash_areas, the menu of areas).
ACROSS_YEARS = ("dash_areas", "dash_summary", "dash_monthly", "dash_peers", "dash_peer_profile", "dash_opportunity")


def analysis_tables(marts: dict, fy: int | None = None, top_n: int = 20,
                    years: list[int] | None = None, extract_date=None, parts: int = 1) -> dict[str, pa.Table]:
    """Every analysis output for one financial year (default: the latest in ``person_year``),
    or, given ``years``, for each of them stacked (the ``fy`` column tells them apart;
    :data:`ACROSS_YEARS` are computed once, for the latest).

    ``marts`` maps mart names to Ibis tables; ``person_year`` and ``activity`` are used,
    ``ref_practice`` (optional) for the practice, PCN and place names of ``dash_areas``, and
    ``spells`` (optional; with ``extract_date``) for ``dash_monthly``, which is left out
    without it.
    Returns ``{name: table}`` for the names in :data:`TABLES`; area tables stack all four
    levels (``level`` column), inequality tables all dimensions (``dimension`` column).
    ``parts`` > 1: ``dash_monthly``, whose per-person-month stage is the largest, computes it in
    slices of the population (:mod:`phm.model.parts`).
    """
    missing = [m for m in ("person_year", "activity") if m not in marts]
    if missing:
        raise KeyError(f"analysis_tables needs the marts {', '.join(missing)}")
    if years:
        years = sorted(set(years))
        latest = _one_year(marts, years[-1], top_n, across=True, extract_date=extract_date, parts=parts)
        earlier = [_one_year(marts, f, top_n, across=False, parts=parts) for f in years[:-1]]
        return {name: latest[name] if name in ACROSS_YEARS
                else pa.concat_tables([*(e[name] for e in earlier), latest[name]], promote_options="default")
                for name in TABLES if name in latest}
    return _one_year(marts, fy, top_n, across=True, extract_date=extract_date, parts=parts)


def _one_year(marts: dict, fy: int | None, top_n: int, across: bool, extract_date=None,
              parts: int = 1) -> dict[str, pa.Table]:
    py, act = marts["person_year"], marts["activity"]
    f = resolve_fy(py, fy)
    levels = tuple(LEVELS)
    seg = dashboard.segment_strata(py, f)  # shared by dash_segments, dash_rcm, access x intensity
    ineq = {
        "ineq_prevalence": inequalities.prevalence(py, fy=f),
        "ineq_emergency_dsr": inequalities.emergency_admission_dsr(py, fy=f),
        "ineq_cost_per_head": inequalities.cost_per_head(py, fy=f),
    }
    out = {
        "hna_prevalence": needs.prevalence(py, levels, fy=f),
        "hna_emergency_dsr": needs.emergency_admission_dsr(py, levels, fy=f),
        **ineq,
        "ineq_sii": inequalities.sii_table(*ineq.values()),
        "ineq_deprivation_gradient": inequalities.deprivation_gradient(py, fy=f),
        "spend_programme_budget": spend.programme_budget(py, act, levels, fy=f),
        "spend_rcm": spend.resource_consumption_map(py, fy=f),
        "spend_access_intensity": spend.access_intensity(py, levels, fy=f, _strata=seg),
        "spend_top_persons": spend.top_costliest(py, top_n, fy=f),
        **dashboard.dashboard_tables(py, marts.get("ref_practice"), fy=f, _segment_strata=seg,
                                     across_years=across),
    }
    if across and "spells" in marts:
        out["dash_monthly"] = monthly.monthly(py, act, marts["spells"], extract_date, parts=parts)
    if across and "dash_summary" in out and "dash_areas" in out:
        out.update(peers.peer_tables(out["dash_summary"], out["dash_areas"]))
        out["dash_opportunity"] = opportunity.opportunity_table(
            out["spend_programme_budget"], out["dash_peers"], out["dash_areas"])
    return {name: out[name] for name in TABLES if name in out}
