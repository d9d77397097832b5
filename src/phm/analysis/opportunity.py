"""Opportunity: what an area's activity and spend would be if it matched the better half of
its peers, by programme of care and by setting (NHS RightCare style).

Method (NHS England / NHS RightCare, *Commissioning for Value* "Where to look" packs and their
annex "Methodology used for calculating the headline opportunities for your CCG", 2016: each
CCG is compared with the average of the "Best 5" of its "Similar 10" CCGs, and the opportunity
is the change in spend or activity if it moved to that average; only where it is worse, so an
opportunity is never negative):

1. for each area, peer and category (one of the 23 programmes of care over every setting, or
   one setting over every programme), the **rate**: activity (contacts) per 1,000 weighted
   population, or ICB-commissioned spend (£) per head of weighted population, in the latest
   financial year (``spend_programme_budget``);
2. the **weighted population** is the registered population times the area's allocation need
   index (:func:`phm.analysis.peers.need_index`: NHS England 2025/26 weighted over registered
   population of its practices), so a needier population is expected to use more;
3. the **peers** are the area's similar areas (``dash_peers``: ICBs in this warehouse; places,
   PCNs and practices of its own ICB); the **better half** is the ``max(1, n // 2)`` peers
   with the lowest rates (ties by code): the "Best 5" of 10, and for fewer peers the lower
   half;
4. the **benchmark** is the plain mean of the better half's rates, and
   ``opportunity = max(0, rate - benchmark) * weighted population`` (per 1,000 for activity);
   ``difference`` keeps the sign.

Another ICB's figures enter only as released to it (:mod:`phm.disclosure`: counts rounded,
£ rounded and withheld where the sum's support fails the threshold or p% rule,
:func:`phm.disclosure.money_sum_sensitive`). As phm cannot tell whether a withheld figure
would be in the better half, a row with any withheld peer figure has no benchmark
(``peers_withheld`` says how many). Within an ICB the peers' exact figures are used: the page
shows those rows to the ICB analyst only.

UNVERIFIED: the annex's own text could not be read here, so two details are phm's choices:
lower rates count as "better" for every programme and setting alike, and rates are per
need-weighted population. ``opportunity_unweighted`` is the same opportunity on registered
population rates, so the page can say how much of an opportunity rests on the weighting.
Lower is not always better (a low rate may be unmet need); peers are matched on demography
and deprivation, not on how services are configured or coded.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from phm import disclosure
from phm.analysis._common import F64, I64, S, empty_like, table
from phm.analysis.peers import comparable_basis, need_index
from phm.analysis.spend import _programme_names

PER_1000 = 1000.0
MEASURES = ("activity", "spend")
TYPES = {
    "level": S, "area_code": S, "fy": I64, "dimension": S, "category": S, "category_name": S,
    "measure": S, "value": F64, "population": I64, "need_index": F64, "weighted_population": F64,
    "rate": F64, "peers": I64, "better_half": I64, "peers_withheld": I64, "benchmark": F64,
    "difference": F64, "opportunity": F64, "opportunity_unweighted": F64,
}


def _cells(budget: pa.Table, fy: int) -> tuple[dict, dict, dict]:
    """``(values, support, population)`` from ``spend_programme_budget`` rows of ``fy``:
    ``values[(level, area, dimension, category)] = (contacts, spend)``, the £ support cells
    behind each sum, and each area's registered population."""
    values: dict[tuple, list[float]] = {}
    support: dict[tuple, list[tuple]] = {}
    pop: dict[tuple[str, str], int] = {}
    for r in budget.to_pylist():
        if r["fy"] != fy:
            continue
        pop[(r["level"], r["area_code"])] = int(r["population"] or 0)
        for dim, cat in (("programme", r["programme"]), ("setting", r["setting"])):
            key = (r["level"], r["area_code"], dim, cat)
            v = values.setdefault(key, [0.0, 0.0])
            v[0] += r["contacts"] or 0
            v[1] += r["spend"] or 0.0
            support.setdefault(key, []).append(
                (r["spend"], r["spend_people"], r["spend_top1"], r["spend_top2"]))
    return values, support, pop


def _released(contacts: float, spend: float, cells: list[tuple], population: int) -> tuple:
    """A peer ICB's ``(contacts, spend, population)`` as released to another organisation;
    ``None`` for a withheld figure."""
    c = disclosure.round_count(contacts)
    s = None if disclosure.money_sum_sensitive(cells) else disclosure.round_money(spend)
    p = disclosure.round_count(population)
    return (None if c == disclosure.SUPPRESSED else c, s, None if p == disclosure.SUPPRESSED else p)


def _peer_rates(level, peer_codes, dim, cat, m, scale, values, support, pop, need) -> tuple[dict, dict, set]:
    """The peers' rates of measure ``m`` in the category: per weighted population (peers with a
    need index) and per registered population, and the peers whose figure is withheld."""
    rates, raw_rates, withheld = {}, {}, set()
    for p in peer_codes:
        p_pop, p_need = pop.get((level, p), 0), need.get(p)
        if not p_pop:
            continue
        v = values.get((level, p, dim, cat), [0.0, 0.0])
        val = v[m]
        if level == "icb":  # another ICB: only its released figures
            rel = _released(v[0], v[1], support.get((level, p, dim, cat), []), p_pop)
            val, p_pop = rel[m], rel[2]
            if val is None or not p_pop:
                withheld.add(p)
                continue
        raw_rates[p] = scale * val / p_pop
        if p_need is not None:
            rates[p] = scale * val / (p_pop * p_need)
    return rates, raw_rates, withheld


def better_half(rates: dict[str, float]) -> list[str]:
    """The peers with the lowest rates, ``max(1, n // 2)`` of them, ties broken by code."""
    order = sorted(rates, key=lambda c: (rates[c], c))
    return order[: max(1, len(order) // 2)] if order else []


def opportunity_table(budget: pa.Table, peers: pa.Table, areas: pa.Table, fy: int | None = None,
                      need: dict[str, dict[str, float]] | None = None) -> pa.Table:
    """``dash_opportunity``: one row per area (ICB, place, PCN, practice) with peers, dimension,
    category and measure (see the module). ``budget`` is ``spend_programme_budget`` (its
    latest year unless ``fy``), ``peers`` is ``dash_peers``, ``areas`` is ``dash_areas``;
    ``need`` (level -> area -> need index) defaults to :func:`need_index` of ``areas``."""
    years = budget["fy"].to_pylist()
    if not years or peers.num_rows == 0:
        return empty_like(TYPES)
    fy = max(years) if fy is None else fy
    values, support, pop = _cells(budget, fy)
    names = _programme_names()
    cats = sorted({k[2:] for k in values})
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for r in peers.to_pylist():
        if r["basis"] == comparable_basis(r["level"]):
            groups.setdefault((r["level"], r["area_code"]), []).append((r["rank"], r["peer_code"]))
    if need is None:
        need = {lv: need_index(areas, lv) for lv in ("icb", "place", "pcn", "practice")}
    out: dict[str, list] = {k: [] for k in TYPES}
    for (level, code), ranked in sorted(groups.items()):
        own_pop, own_need = pop.get((level, code), 0), need.get(level, {}).get(code)
        if not own_pop:
            continue
        peer_codes = [p for _, p in sorted(ranked)]
        for dim, cat in cats:
            own = values.get((level, code, dim, cat), [0.0, 0.0])
            for m, measure in enumerate(MEASURES):
                scale = PER_1000 if measure == "activity" else 1.0
                rates, raw_rates, withheld = _peer_rates(level, peer_codes, dim, cat, m, scale, values, support,
                                                         pop, need.get(level, {}))
                half = better_half(rates) if not withheld else []
                wpop = own_pop * own_need if own_need is not None else np.nan
                rate = scale * own[m] / wpop
                bench = float(np.mean([rates[p] for p in half])) if half else np.nan
                raw_half = better_half(raw_rates) if not withheld else []
                bench_raw = float(np.mean([raw_rates[p] for p in raw_half])) if raw_half else np.nan
                diff = (rate - bench) * wpop / scale
                diff_raw = own[m] - bench_raw * own_pop / scale
                row = {
                    "level": level, "area_code": code, "fy": fy, "dimension": dim, "category": cat,
                    "category_name": names.get(cat, cat) if dim == "programme" else cat, "measure": measure,
                    "value": float(own[m]), "population": int(own_pop),
                    "need_index": np.nan if own_need is None else float(own_need),
                    "weighted_population": float(wpop), "rate": rate, "peers": len(raw_rates) + len(withheld),
                    "better_half": len(half), "peers_withheld": len(withheld),
                    "benchmark": bench, "difference": diff,
                    "opportunity": max(0.0, diff) if diff == diff else np.nan,
                    "opportunity_unweighted": max(0.0, diff_raw) if diff_raw == diff_raw else np.nan,
                }
                for k, v in row.items():
                    out[k].append(v)
    return table(out, TYPES)
