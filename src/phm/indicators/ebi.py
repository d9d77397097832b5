"""Evidence-Based Interventions (EBI): low-priority procedures, one row per spell that is one.

Definitions: ``definitions/ebi_interventions.csv``, one row per requirement: an intervention
is met by any of its ``rule``\\ s, a rule when all its ``procedure`` and ``diagnosis`` rows find a
code in their ``position`` (``primary``: position 1; ``secondary``: 2 onwards; ``any``), none of
its ``exclude_*`` rows does, and the person's age at admission and sex are within the rule's.
Every row names its source: the AoMRC EBI coding pages for the List 2 interventions read there
(verified), The Strategy Unit's ``nhp_data`` / ``nhp_sql`` implementations of the programme's
coding for List 1 (UNVERIFIED: the NHS England coding annex was not read); interventions with
no coding phm could find are ``not_coded`` rows and are not counted (:func:`not_coded`).

Every intervention (AoMRC, all coding pages): not an emergency admission (method 2x), and no
cancer or neoplasm of uncertain behaviour in any diagnosis position (C00-C99, D00-D09, D37-D48).
Unit: the first episode of each finished provider spell (its codes; AoMRC's SUS "spell dominant
procedure" is the first episode's first procedure in phm: UNVERIFIED equivalence), costed as
the provider spell.
"""

from __future__ import annotations

import ibis
import pyarrow as pa

from phm.indicators.codes import (
    DIAGNOSES,
    PROCEDURES,
    any_position,
    long_codes,
    match_prefixes,
    prefixes,
    rows,
)
from phm.model.common import age_on, drop_right
from phm.model.spells import _episode_order, _first

FILE = "ebi_interventions.csv"
CANCER = ["C", "D0", "D37", "D38", "D39", "D40", "D41", "D42", "D43", "D44", "D45", "D46", "D47", "D48"]
INCLUDE, EXCLUDE = ("procedure", "diagnosis"), ("exclude_procedure", "exclude_diagnosis")


def requirement_codes() -> pa.Table:
    """``refs['ref_ebi_codes']``: one row per (requirement, prefix): ``req`` (row number),
    ``intervention``, ``rule``, ``role``, ``position``, ``kind`` (procedure / diagnosis),
    ``prefix``, ``n``."""
    out = {c: [] for c in ("req", "intervention", "rule", "role", "position", "kind", "prefix", "n")}
    for i, r in enumerate(rows(FILE)):
        if r["role"] == "not_coded":
            continue
        for p in prefixes(r["codes"]):
            for c, v in (("req", i), ("intervention", r["intervention"]), ("rule", r["rule"]), ("role", r["role"]),
                         ("position", r["position"]), ("kind", "procedure" if "procedure" in r["role"] else "diagnosis"),
                         ("prefix", p), ("n", len(p))):
                out[c].append(v)
    types = {"req": pa.int64(), "n": pa.int64()}
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in out.items()})


def rule_table() -> pa.Table:
    """One row per (intervention, rule): the inclusion requirements it needs and its age and sex."""
    rules: dict[tuple[str, str], dict] = {}
    for r in rows(FILE):
        if r["role"] == "not_coded":
            continue
        x = rules.setdefault((r["intervention"], r["rule"]), {"needed": 0, "min_age": r["min_age"],
                                                              "max_age": r["max_age"], "sex": r["sex"]})
        x["needed"] += r["role"] in INCLUDE
    keys = sorted(rules)
    return pa.table({
        "intervention": [k[0] for k in keys], "rule": [k[1] for k in keys],
        "needed": pa.array([rules[k]["needed"] for k in keys], pa.int64()),
        "min_age": pa.array([int(rules[k]["min_age"] or 0) for k in keys], pa.int64()),
        "max_age": pa.array([int(rules[k]["max_age"] or 200) for k in keys], pa.int64()),
        "sex": [rules[k]["sex"] or "" for k in keys],
    })


def not_coded() -> list[str]:
    """Interventions of the lists that phm could not code (listed, not counted)."""
    return [r["intervention"] for r in rows(FILE) if r["role"] == "not_coded"]


def ebi_candidates(provider_spells, episodes, person):
    """The spells that could be an intervention: finished, not emergency, no cancer coded; with
    the first episode's 20 diagnoses and 24 procedures and the person's sex and date of birth
    (materialise it: :func:`ebi_spells` reads its code columns once each)."""
    key = ["provider_code", "spell_id"]
    s = provider_spells.filter(provider_spells.discharge_date.notnull()
                               & ~provider_spells.admission_method.coalesce("").startswith("2"))
    e = episodes.filter(episodes.episode_status == "3")
    first = _first(e, key, _episode_order(e)).select(*key, *DIAGNOSES, *PROCEDURES)
    first = first.filter(~any_position(first, DIAGNOSES, CANCER))
    p = person.select(person_id=person.person_id, _sex=person.sex, _dob=person.date_of_birth)
    sp = s.select(*key, "person_id", "fy", "admission_date", "cost")
    a = drop_right(sp.join(first, key))
    return drop_right(a.join(p, a.person_id == p.person_id))


def ebi_spells(candidates, ref_codes, ref_rules):
    """One row per (provider spell, intervention) met: ``provider_code``, ``spell_id``,
    ``person_id``, ``fy``, ``admission_date``, ``intervention``, ``cost``."""
    key = ["provider_code", "spell_id"]
    a = candidates
    dx = long_codes(a, key, DIAGNOSES)
    px = long_codes(a, key, PROCEDURES)
    lengths = {len(x) for r in rows(FILE) for x in prefixes(r["codes"])}
    ref = ref_codes
    m = ibis.union(
        match_prefixes(dx, ref.filter(ref.kind == "diagnosis"), lengths).select(*key, "req", "intervention", "rule",
                                                                                "role", "position", "pos"),
        match_prefixes(px, ref.filter(ref.kind == "procedure"), lengths).select(*key, "req", "intervention", "rule",
                                                                               "role", "position", "pos"),
        distinct=False,
    )
    in_place = ((m.position == "any") | ((m.position == "primary") & (m.pos == 1))
                | ((m.position == "secondary") & (m.pos > 1)))
    met = m.filter(in_place).select(*key, "req", "intervention", "rule", "role").distinct()
    per = met.group_by([*key, "intervention", "rule"]).aggregate(
        _inc=met.role.isin(INCLUDE).cast("int64").sum(), _exc=met.role.isin(EXCLUDE).any())
    rr = ref_rules
    j = per.join(rr, (per.intervention == rr.intervention) & (per.rule == rr.rule))
    j = j.join(a.select(*key, "person_id", "fy", "admission_date", "cost", "_sex", "_dob"), key)
    j = drop_right(j)
    age = age_on(j._dob, j.admission_date)
    ok = ((j._inc == j.needed) & ~j._exc & (age >= j.min_age) & (age <= j.max_age)
          & ((j.sex == "") | (j._sex == j.sex)))
    hit = j.filter(ok.coalesce(False)).select(*key, "person_id", "fy", "admission_date", "intervention", "cost")
    return hit.distinct()


EBI_TYPES = {
    "level": pa.string(), "area_code": pa.string(), "fy": pa.int64(), "intervention": pa.string(),
    "spells": pa.int64(), "cost": pa.float64(), "person_years": pa.float64(), "rate": pa.float64(),
    "rate_lower": pa.float64(), "rate_upper": pa.float64(), "lower_quartile_rate": pa.float64(),
    "released_spells": pa.float64(), "released_cost": pa.float64(), "peer_rate": pa.float64(),
    "peer_released_spells": pa.float64(), "peer_released_cost": pa.float64(),
}


def ebi_table(spells, person_year, peers: pa.Table | None = None) -> pa.Table:
    """``ind_ebi``: spells and cost of each intervention by provider, practice, PCN, place and ICB
    and year; for areas, the crude rate per 100,000 person-years (Byar's / exact Poisson limits,
    PHE Technical Guide *Confidence intervals*) and what would be released if every practice above
    the lower quartile of its ICB's practice rates came down to it (``lower_quartile_rate``,
    ``released_spells`` = spells above the quartile rate, ``released_cost`` at the practice's own
    cost per spell; a PCN, place or ICB releases what its practices do), and the same against
    each practice's similar practices (``peers``, ``dash_peers``: its 10 nearest in its ICB,
    :mod:`phm.analysis.peers`): ``peer_rate`` is their pooled rate (their spells over their
    person-years, RightCare's "similar 10" value), ``peer_released_spells`` and
    ``peer_released_cost`` what coming down to it would release."""
    import numpy as np

    from phm import stats
    from phm.analysis._common import DAYS_PER_YEAR, table
    from phm.indicators.values import AREA_LEVELS
    from phm.warehouse import fetch

    py = person_year.filter(person_year.exposure_days > 0)
    pop = fetch(py.group_by(["practice_code", "pcn_code", "place_code", "icb_code", "fy"]).aggregate(
        person_years=py.exposure_days.sum().cast("float64") / DAYS_PER_YEAR)).to_pylist()
    t = spells
    r = py.select(_pid="person_id", _fy="fy", practice_code="practice_code")
    j = t.left_join(r, (t.person_id == r._pid) & (t.fy == r._fy))
    counts = fetch(j.group_by(["provider_code", "practice_code", "fy", "intervention"]).aggregate(
        spells=j.count(), cost=j.cost.sum())).to_pylist()
    home = {x["practice_code"]: x for x in pop}
    popn = {(x["practice_code"], x["fy"]): x["person_years"] for x in pop}
    ivs = sorted({c["intervention"] for c in counts})
    by_prac: dict[tuple, list[float]] = {}
    by_prov: dict[tuple, list[float]] = {}
    for c in counts:
        by_prov.setdefault((c["provider_code"], c["fy"], c["intervention"]), [0, 0.0])
        by_prov[(c["provider_code"], c["fy"], c["intervention"])][0] += c["spells"]
        by_prov[(c["provider_code"], c["fy"], c["intervention"])][1] += c["cost"] or 0.0
        if c["practice_code"] in home:
            x = by_prac.setdefault((c["practice_code"], c["fy"], c["intervention"]), [0, 0.0])
            x[0] += c["spells"]
            x[1] += c["cost"] or 0.0
    # the lower quartile of practice rates within each ICB, year and intervention
    lq: dict[tuple, float] = {}
    for (icb, fy) in {(x["icb_code"], x["fy"]) for x in pop}:
        pracs = [x["practice_code"] for x in pop if x["icb_code"] == icb and x["fy"] == fy and x["person_years"] > 0]
        for iv in ivs:
            rates = [1e5 * by_prac.get((pc, fy, iv), [0, 0.0])[0] / popn[(pc, fy)] for pc in pracs]
            lq[(icb, fy, iv)] = float(np.percentile(rates, 25)) if rates else float("nan")
    similar = _similar(peers)
    rows_out: dict[tuple, dict] = {}
    for x in pop:
        for iv in ivs:
            n, cost = by_prac.get((x["practice_code"], x["fy"], iv), [0, 0.0])
            q = lq[(x["icb_code"], x["fy"], iv)]
            near = [p for p in similar.get(x["practice_code"], ()) if popn.get((p, x["fy"]), 0) > 0]
            peer = (1e5 * sum(by_prac.get((p, x["fy"], iv), [0, 0.0])[0] for p in near)
                    / sum(popn[(p, x["fy"])] for p in near)) if near else float("nan")
            released = {}
            for name, rate in (("released", q), ("peer_released", peer)):
                released[name] = max(0.0, n - rate * x["person_years"] / 1e5) if rate == rate else 0.0
            for level, column in AREA_LEVELS.items():
                k = (level, x[column], x["fy"], iv)
                own = level == "practice"
                o = rows_out.setdefault(k, {"spells": 0, "cost": 0.0, "person_years": 0.0, "released_spells": 0.0,
                                            "released_cost": 0.0, "peer_released_spells": 0.0,
                                            "peer_released_cost": 0.0, "lq": q if own else float("nan"),
                                            "peer": peer if own else float("nan")})
                o["spells"] += n
                o["cost"] += cost
                o["person_years"] += x["person_years"]
                for name, spells_freed in released.items():
                    o[f"{name}_spells"] += spells_freed
                    o[f"{name}_cost"] += spells_freed * (cost / n) if n else 0.0
    keys = sorted(rows_out, key=lambda k: (k[0], str(k[1]), k[2], k[3]))
    spells_n = np.array([rows_out[k]["spells"] for k in keys], float)
    pys = np.array([rows_out[k]["person_years"] for k in keys], float)
    lo, hi = stats.poisson_ci(spells_n) if keys else (np.array([]), np.array([]))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(pys > 0, 1e5 / pys, np.nan)
    area = table({
        "level": [k[0] for k in keys], "area_code": [k[1] for k in keys], "fy": [k[2] for k in keys],
        "intervention": [k[3] for k in keys], "spells": spells_n.astype(np.int64),
        "cost": [round(rows_out[k]["cost"], 2) for k in keys], "person_years": pys, "rate": spells_n * scale,
        "rate_lower": np.asarray(lo) * scale, "rate_upper": np.asarray(hi) * scale,
        "lower_quartile_rate": [rows_out[k]["lq"] for k in keys],
        "released_spells": [rows_out[k]["released_spells"] for k in keys],
        "released_cost": [round(rows_out[k]["released_cost"], 2) for k in keys],
        "peer_rate": [rows_out[k]["peer"] for k in keys],
        "peer_released_spells": [rows_out[k]["peer_released_spells"] for k in keys],
        "peer_released_cost": [round(rows_out[k]["peer_released_cost"], 2) for k in keys],
    }, EBI_TYPES)
    pk = sorted(by_prov)
    nan = [float("nan")] * len(pk)
    prov = table({
        "level": ["provider"] * len(pk), "area_code": [k[0] for k in pk], "fy": [k[1] for k in pk],
        "intervention": [k[2] for k in pk], "spells": [by_prov[k][0] for k in pk],
        "cost": [round(by_prov[k][1], 2) for k in pk], "person_years": nan, "rate": nan, "rate_lower": nan,
        "rate_upper": nan, "lower_quartile_rate": nan, "released_spells": nan, "released_cost": nan,
        "peer_rate": nan, "peer_released_spells": nan, "peer_released_cost": nan,
    }, EBI_TYPES)
    return pa.concat_tables([prov, area])


def _similar(peers: pa.Table | None) -> dict[str, list[str]]:
    """``{practice: [its similar practices]}`` from ``dash_peers`` (practices are compared within
    their own ICB, ``basis = 'icb'``)."""
    out: dict[str, list[str]] = {}
    if peers is None:
        return out
    import pyarrow.compute as pc

    p = peers.filter(pc.and_(pc.equal(peers["level"], "practice"), pc.equal(peers["basis"], "icb")))
    for r in p.select(["area_code", "peer_code"]).to_pylist():
        out.setdefault(r["area_code"], []).append(r["peer_code"])
    return out


__all__ = ["EBI_TYPES", "ebi_candidates", "ebi_spells", "ebi_table", "not_coded", "requirement_codes", "rule_table"]
