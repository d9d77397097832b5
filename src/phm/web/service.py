"""What a signed-in user may get, shared by the JSON API and the pages so both apply the same
scoping and the same disclosure control.

Every function takes the :class:`~phm.web.store.Session` and raises ``HTTPException`` 403
for anything outside the user's role and organisation, 404 for areas that do not exist.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from fastapi import HTTPException, Request

from phm.disclosure import Kind, protect
from phm.web import significance
from phm.web.data import Dashboard
from phm.web.datasets import AREA, DATASETS
from phm.web.roles import Hierarchy, Role, home_area, permitted_submitters, spans_warehouse
from phm.web.store import Session

DISCLOSURE_NOTE = ("Disclosure control: counts of 1-7 are shown as *, other counts are rounded to the nearest 5 "
                   "(NHS England HES rule); £ values need 8+ people and no dominant person (p% rule) and are "
                   "rounded to 3 significant figures (at least £1,000); other cells are withheld (*) where they "
                   "would let a withheld value be worked out; percentages and per-head values use the rounded "
                   "numbers.")
ANALYST_NOTE = "ICB analyst view: unrounded figures, for use inside the ICB's analytical team only."


def web(request: Request):
    return request.app.state.web


def current_session(request: Request) -> Session:
    s = web(request).session(request)
    if s is None:
        raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Cookie"})
    return s


async def session_or_401(request: Request) -> Session:
    """The API's dependency: async, so a request needs no thread hand-off (the lookup is one
    indexed SQLite read)."""
    return current_session(request)


def require(session: Session, *roles: Role) -> None:
    if session.user.role not in roles:
        raise HTTPException(403, f"the {session.user.role.label} role cannot see this")


def require_row_level(data: Dashboard, session: Session) -> None:
    """Row-level marts hold every person of the warehouse: ICB analysts only, and in a warehouse
    of several ICBs only a warehouse-wide analyst (an ICB's analyst would see other ICBs' people)."""
    require(session, Role.ANALYST)
    if not spans_warehouse(session.user.role, session.user.organisation, data.hierarchy):
        raise HTTPException(403, "this warehouse holds several ICBs and the row-level marts hold all of their "
                                 "people; they are for a warehouse-wide analyst account, not one ICB's")


def permitted(data: Dashboard, session: Session) -> frozenset:
    return data.permitted(session.user.role, session.user.organisation)


def default_area(data: Dashboard, session: Session) -> tuple[str, str]:
    u = session.user
    if u.role is Role.ANALYST:
        allowed = permitted(data, session)
        return next(a for a in data.hierarchy.areas("icb") if a in allowed)
    home = home_area(u.role, u.organisation)
    if home is None:
        raise HTTPException(403, f"the {u.role.label} role has no population pages")
    return home


def resolve_areas(data: Dashboard, session: Session, level: str | None, area: str | None,
                  within: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The areas a request asks for, after scoping. Raises 403/404."""
    if not session.user.role.sees_population:
        raise HTTPException(403, f"the {session.user.role.label} role has no population data")
    allowed = permitted(data, session)
    h = data.hierarchy
    if level is None:
        level = default_area(data, session)[0]
    if area is not None:
        a = (level, area)
        if a not in h.names:
            raise HTTPException(404, f"no {level} {area!r}")
        if a not in allowed:
            raise HTTPException(403, f"{level} {area} is outside your organisation")
        return level, [a]
    candidates = [a for a in h.areas(level) if a in allowed]
    if within is not None:
        lvl, _, code = within.partition(":")
        w = (lvl, code)
        if w not in h.names:
            raise HTTPException(404, f"no area {within!r} (write level:code, e.g. pcn:U12345)")
        if w not in allowed and not any(a in allowed for a in h.descendants(w)):
            raise HTTPException(403, f"{within} is outside your organisation")
        candidates = [a for a in candidates if w in h.ancestors(a) or a == w]
    if not candidates:
        raise HTTPException(403, f"you have no {level}-level data")
    return level, candidates


@dataclass
class Result:
    dataset: str
    title: str
    fy: int | None
    columns: list[dict]
    rows: list[dict]
    controlled: bool
    areas: list[dict]

    @property
    def note(self) -> str:
        return DISCLOSURE_NOTE if self.controlled else ANALYST_NOTE

    def as_json(self, build_info: dict) -> dict:
        return {
            "dataset": self.dataset, "title": self.title, "fy": self.fy, "areas": self.areas,
            "disclosure_controlled": self.controlled, "note": self.note,
            "columns": self.columns, "rows": self.rows, "provenance": provenance(build_info),
        }


def provenance(build_info: dict) -> dict:
    import phm

    return {"source": "phm build", "phm_version": phm.__version__, **{k: str(v) for k, v in build_info.items()}}


def columns_for(cols, controlled: bool) -> list[dict]:
    return [{"name": c.name, "label": c.label or c.name, "kind": c.kind.value}
            for c in cols if not (controlled and c.kind is Kind.ANALYST_ONLY)]


def dataset(data: Dashboard, session: Session, name: str, level: str | None = None, area: str | None = None,
            within: str | None = None, fy: int | None = None) -> Result:
    level, areas = resolve_areas(data, session, level, area, within)
    served_at(name, level)
    return dataset_for(data, name, areas, fy, session.user.role.disclosure_controlled)


def served_at(name: str, level: str) -> None:
    """404 for a dataset asked for at a level it is not served at (``Dataset.levels``)."""
    levels = DATASETS[name].levels
    if levels and level not in levels:
        raise HTTPException(404, f"{name} is served at {' and '.join(levels)} level only, not {level}")


def dataset_for(data: Dashboard, name: str, areas: list[tuple[str, str]], fy: int | None, controlled: bool) -> Result:
    """Dataset ``name`` for areas already checked against the user's organisation."""
    d = DATASETS[name]
    try:
        rows, fy = data.rows(name, areas, fy, controlled)
    except LookupError as e:
        raise HTTPException(404, str(e)) from None
    rows = [dict(r) for r in rows]  # callers may annotate rows; the served ones stay as they are
    cols = (*AREA, *d.columns, *significance.COLUMNS.get(name, ()))
    return Result(name, d.title, fy, columns_for(cols, controlled), rows, controlled,
                  [area_info(data.hierarchy, a) for a in areas])


def area_info(h: Hierarchy, a: tuple[str, str]) -> dict:
    return {"level": a[0], "code": a[1], "name": h.name(a)}


def practice_view(data: Dashboard, session: Session, code: str, fy: int | None) -> dict[str, Result]:
    """One practice with its PCN and the ICB as comparators (disclosure-controlled aggregates)."""
    _level, [practice] = resolve_areas(data, session, "practice", code)
    h = data.hierarchy
    areas = [practice, *h.ancestors(practice)]
    areas = [a for a in areas if a[0] in ("practice", "pcn", "icb")]
    controlled = session.user.role.disclosure_controlled
    out = {}
    for name in ("summary", "settings", "prevalence", "segments"):
        years = data.served[name].years
        out[name] = dataset_for(data, name, areas, fy if fy is not None else (years[-1] if years else None),
                                controlled)
    return out


# ---- data quality ---------------------------------------------------------------------

def _dq_columns():
    from phm.disclosure import Column

    scores = (Column("dataset", Kind.LABEL, label="Dataset"), Column("submitter", Kind.LABEL, label="Submitter"),
              Column("submitter_name", Kind.LABEL, label="Submitter name"),
              Column("records", Kind.COUNT, label="Records"), Column("items", Kind.LABEL, label="Items scored"),
              Column("score", Kind.STANDARDISED, basis="records", label="DQMI-style score (%)"),
              Column("failing_rules", Kind.LABEL, label="Rules failed"))
    results = (Column("submitter", Kind.LABEL, label="Submitter"),
               Column("submitter_name", Kind.LABEL, label="Submitter name"),
               Column("dataset", Kind.LABEL, label="Dataset"),
               Column("rule_id", Kind.LABEL, label="Rule"),
               Column("rule_name", Kind.LABEL, label="What the rule checks"),
               Column("result", Kind.LABEL, label="Result"),
               Column("category", Kind.LABEL, label="Category"),
               Column("records", Kind.COUNT, label="Records checked"),
               Column("failures", Kind.COUNT, label="Records failing"),
               Column("rate", Kind.RATIO, numerator="failures", denominator="records", scale=1.0,
                      label="Failure rate"),
               Column("threshold", Kind.LABEL, label="Threshold"))
    return {"scores": scores, "results": results}


@lru_cache(maxsize=1)
def _rule_names() -> dict[str, str]:
    from phm.quality.catalogue import rules

    return {r.rule_id: r.description for r in rules()}


def _dq_scope(session: Session, submitter: str | None):
    """The submitters a DQ request may see (None: all); 403 outside the user's organisation."""
    allowed = permitted_submitters(session.user.role, session.user.organisation)
    if allowed is not None and not allowed:
        raise HTTPException(403, f"the {session.user.role.label} role has no data-quality feedback")
    if submitter is not None and allowed is not None and submitter not in allowed:
        raise HTTPException(403, f"submitter {submitter} is not your organisation")
    return lambda s: (submitter is None or s == submitter) and (allowed is None or s in allowed)


def dq(data: Dashboard, session: Session, what: str, submitter: str | None) -> Result:
    """Data-quality ``scores`` (one row per submission: dataset x submitter, with the number of
    rules it failed) or rule ``results`` (each rule with a failing record, in words, passed or
    failed), for the submitters the user may see."""
    shown = _dq_scope(session, submitter)
    cols = _dq_columns()[what]
    source = data.dq["dq_scores"] if what == "scores" else data.dq_results
    rows = [{c.name: r.get(c.name) for c in cols} for r in source if shown(r["submitter"])]
    for r in rows:
        r["submitter_name"] = submitter_name(data, r["submitter"])
    if what == "scores":  # rules failed, as the DQ report's summary counts them
        failed = Counter((r["dataset"], r["submitter"]) for r in data.dq_results if r["result"] == "fail")
        for r in rows:
            r["failing_rules"] = failed[(r["dataset"], r["submitter"])]
        rows.sort(key=lambda r: (r["submitter"] or "", r["dataset"]))
    else:  # the rule in words beside its code (phm.quality.rules.csv)
        for r in rows:
            r["rule_name"] = _rule_names().get(r["rule_id"], r["rule_id"])
    controlled = session.user.role.disclosure_controlled
    if controlled:
        rows = protect(rows, cols)
    title = "Data-quality scores" if what == "scores" else "Data-quality rule results with failing records"
    return Result(f"dq_{what}", title, None, columns_for(cols, controlled), rows, controlled, [])


def submitter_name(data: Dashboard, code: str | None) -> str | None:
    """A submitter's name where phm knows it (a practice, PCN or place of the warehouse; the
    reference data holds no names for NHS trusts, so a provider keeps its code only)."""
    if code is None:
        return None
    for level in ("practice", "pcn", "place", "icb"):
        name = data.hierarchy.names.get((level, code))
        if name:
            return name
    return None


def dq_passed_clean(data: Dashboard, session: Session, submitter: str | None) -> int:
    """How many rule results (dataset x rule x submitter) of the submitters the user may see had
    no failing record: passed, and not listed by :func:`dq` ``results``."""
    shown = _dq_scope(session, submitter)
    return sum(n for s, n in data.dq_clean.items() if shown(s))


def dq_submitters(data: Dashboard, session: Session) -> list[str]:
    allowed = permitted_submitters(session.user.role, session.user.organisation)
    known = sorted({r["submitter"] for r in data.dq["dq_scores"] if r["submitter"]})
    return known if allowed is None else [s for s in known if s in allowed]


# ---- the costliest individuals (ICB analysts only) --------------------------------------

COSTLIEST = "spend_top_persons"


def costliest(data: Dashboard, session: Session, fy: int | None) -> Result:
    """The costliest people of financial year ``fy`` (default: the latest), one row each, from the
    pseudonymised mart ``spend_top_persons`` (docs/analysis.md), for ICB analysts only; names
    beside the codes (:mod:`phm.web.names`) and ``person_id`` as text (the pseudonym, which is
    wider than a JavaScript number)."""
    from phm.web.names import SETTING_NAMES, SEX_NAMES, segment_names

    require_row_level(data, session)
    if COSTLIEST not in data.marts:
        raise HTTPException(404, f"the warehouse has no {COSTLIEST}; run 'phm build' first")
    t = data.mart(COSTLIEST, data.mart_count(COSTLIEST), 0)
    years = sorted({y for y in t["fy"].to_pylist() if y is not None})
    if fy is None:
        fy = years[-1] if years else None
    elif fy not in years:
        raise HTTPException(404, f"no financial year {fy} in {COSTLIEST}; years: {', '.join(map(str, years))}")
    settings = [c[len("cost_"):] for c in t.column_names if c.startswith("cost_") and c != "cost_total"]
    contacts = [s for s in settings if f"n_{s}" in t.column_names]
    columns = [
        ("rank", "Rank (1 = costliest)", "label"), ("person_id", "Person (pseudonymised)", "label"),
        ("age_band", "Age band", "label"), ("sex", "Sex", "label"), ("sex_name", "Sex name", "label"),
        ("segment", "Segment", "label"), ("segment_name", "Segment name", "label"),
        ("practice_code", "Practice", "label"), ("practice_name", "Practice name", "label"),
        ("cost_total", "Total cost (£)", "money"),
        *((f"cost_{s}", f"{SETTING_NAMES.get(s, s)} (£)", "money") for s in settings),
        *((f"n_{s}", f"{SETTING_NAMES.get(s, s)}: contacts", "count") for s in contacts),
    ]
    rows = []
    for r in sorted((r for r in t.to_pylist() if r["fy"] == fy), key=lambda r: r["rank"]):
        sex, segment, practice = r.get("sex"), r.get("segment"), r.get("practice_code")
        rows.append({
            **{name: _finite(r.get(name)) for name, _label, _kind in columns},
            "person_id": None if r["person_id"] is None else str(r["person_id"]),
            "sex_name": SEX_NAMES.get(sex, sex) if sex is not None else None,
            "segment_name": segment_names().get(segment, segment) if segment is not None else None,
            "practice_name": data.hierarchy.name(("practice", practice)) if practice is not None else None,
        })
    icb = data.hierarchy.areas("icb")
    return Result(COSTLIEST, "Costliest individuals (pseudonymised)", fy,
                  [{"name": n, "label": label, "kind": kind} for n, label, kind in columns], rows, False,
                  [area_info(data.hierarchy, a) for a in icb[:1]])


def _finite(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v
