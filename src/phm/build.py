"""``phm build``: materialise the marts from the warehouse's raw tables, in one transaction.

The transforms are pure Ibis expressions (:mod:`phm.model`, :mod:`phm.analysis`); this module
is the edge that reads the warehouse, writes the reference tables the joins use (``ref_*``)
and materialises each mart with :meth:`Transaction.materialize`, so DuckDB and Spark run the
same expressions. Either every mart lands or none does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import pyarrow as pa

from phm import refdata
from phm.analysis import analysis_tables
from phm.errors import UserError
from phm.indicators import MARTS as INDICATOR_MARTS
from phm.indicators import indicator_marts, indicator_notes, indicator_tables
from phm.indicators import reference_tables as indicator_reference_tables
from phm.indicators.dashboard import dashboard_tables as indicator_dashboard_tables
from phm.model import definitions
from phm.model.activity import (
    activity_by_setting,
    in_progress_rows,
    may_be_unlinked,
    split_linked,
    value_sets,
)
from phm.model.common import Window, load_order, with_contract_columns
from phm.model.parts import part_count
from phm.model.person import person as person_mart
from phm.model.person_year import condition_first_dates
from phm.model.person_year import person_year as person_year_mart
from phm.model.refs import reference_tables
from phm.model.spells import clean_episodes, continuous_spells, provider_spells
from phm.schema import dataset_names, raw_schema
from phm.timings import Timings
from phm.warehouse import fetch
from phm.warehouse.ledger import fingerprint, read_ledger

MARTS = (
    "person",
    "provider_spells",
    "spells",
    "activity",
    "activity_unlinked",
    "person_condition",
    "person_year",
    "ind_readmissions",
    "ind_acsc_admissions",
    "ind_coding_spells",
    "ind_ebi_spells",
    "ind_shmi_spells",
)
STEPS = ("reference tables", *MARTS, "analysis")


@dataclass
class BuildSummary:
    window: Window
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(
        default_factory=list
    )  # what rests on unverified inputs, what is set apart
    timings: Timings | None = None  # seconds, rows and peak memory per step
    up_to_date: bool = False  # nothing was rebuilt: the marts already reflect what is loaded


def condition_ids() -> list[str]:
    return [c.id for c in refdata.conditions()]


def programme_ids() -> list[str]:
    return definitions.programmes()["id"].to_pylist()


def analysis_window(wh, years: int = 3) -> Window:
    if not wh.has_table("load_ledger") or not wh.has_table("raw_patients"):
        raise UserError(f"warehouse {wh.path} has no loaded patients; run 'phm ingest' first")
    led = read_ledger(wh)
    current = led.filter(pa.compute.equal(led["status"], "current"))
    dates = [d for d in current["extract_date"].to_pylist() if d is not None]
    if not dates:
        raise UserError(
            f"warehouse {wh.path} records no extract date; re-run 'phm ingest' with --extract-date"
        )
    return Window.ending(max(dates), years)


@cache
def method_fingerprint() -> str:
    """Identifies phm's method: the version and every file of the package that the marts
    depend on (code, definitions, reference data, contracts); the web and synth layers are
    left out. A build is current while this and the load ledger's fingerprint are unchanged."""
    import hashlib
    from pathlib import Path

    import phm

    root = Path(phm.__file__).parent
    h = hashlib.sha256(phm.__version__.encode())
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root)
        if f.is_file() and rel.parts[0] not in ("web", "synth") and "__pycache__" not in rel.parts:
            h.update(rel.as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def current_build(wh, window: Window, ledger_fp: str) -> bool:
    """True when the warehouse's marts were built from what is loaded now, for this window,
    by this method (:func:`method_fingerprint`): rebuilding would give the same tables."""
    if not wh.has_table("build_meta") or not all(wh.has_table(m) for m in MARTS):
        return False
    meta = dict(zip(*wh.to_arrow("build_meta").to_pydict().values(), strict=True))
    return meta == {k: v for k, v in zip(*_meta(window, ledger_fp).to_pydict().values(), strict=True)}


def build(
    wh, years: int = 3, step: Callable[[str], None] | None = None, force: bool = False
) -> BuildSummary:
    """Build every mart. ``step(name)`` is called as each one starts (for progress bars);
    ``summary.timings`` holds the seconds, rows and peak memory of every step. Unless
    ``force``, a warehouse whose marts are current (:func:`current_build`) is left as it is
    and the summary says so (``up_to_date``)."""
    prof = Timings()
    try:
        if not force:
            with prof.step("check: marts current?"):
                window = analysis_window(wh, years)
                if current_build(wh, window, fingerprint(read_ledger(wh))):
                    return BuildSummary(window=window, timings=prof, up_to_date=True)
        return _build(wh, years, step or (lambda name: None), prof)
    finally:
        prof.close()


def _count(table) -> int:
    return int(fetch(table.count().as_table()).column(0)[0].as_py())


def _build(wh, years: int, say: Callable[[str], None], prof: Timings) -> BuildSummary:
    window = analysis_window(wh, years)
    summary = BuildSummary(window=window, timings=prof)
    ledger_fp = fingerprint(read_ledger(wh))
    with wh.transaction(staged=True) as tx:
        say("reference tables")
        with prof.step("reference tables") as s:
            ref_tables = {**reference_tables(window), **indicator_reference_tables()}
            for name, table in ref_tables.items():
                tx.replace_table(name, table)
            refs = {name: tx.table(name) for name in ref_tables}
            refs["load_order"] = load_order(tx.table("load_ledger"))
            raw = {}
            for ds in dataset_names():
                if not wh.has_table(f"raw_{ds}"):
                    tx.replace_table(f"raw_{ds}", raw_schema(ds).empty_table())
                raw[ds] = with_contract_columns(tx.table(f"raw_{ds}"), ds)
            s.rows = sum(t.num_rows for t in ref_tables.values())

        def mat(name, expr, categories=None):
            say(name)
            with prof.step(name):
                return tx.materialize(name, expr, categories)

        def mat_parts(name, exprs, categories=None):
            say(name)
            with prof.step(name):
                return tx.materialize_parts(name, exprs, categories)

        scratch = []

        def stage(name, expr):
            """A table several marts read, computed once (an expression would be recomputed
            at every use) and dropped before the commit."""
            table = "_scratch_" + name.replace(" ", "_")
            with prof.step(f"scratch: {name}") as s:
                out = tx.materialize(table, expr)
                scratch.append(table)
                s.rows = _count(out)
            return out

        person = mat("person", person_mart(raw["patients"], raw["deaths"], refs, window))
        # cleaned episodes: read by provider spells, in-progress rows, conditions, Charlson,
        # HFRS and the segment evidence
        episodes = stage("episodes", clean_episodes(raw["apc_episodes"], window, refs["load_order"]))
        pspells = mat("provider_spells", provider_spells(episodes, refs, window))
        spells = mat("spells", continuous_spells(pspells, window.extract_date))
        # one query per setting (activity_by_setting says why)
        linked = [split_linked(p, person, window)[0] for p in activity_by_setting(raw, pspells, refs, window)]
        # the rows set apart, from only the rows that may be (not every row costed again)
        few = activity_by_setting(raw, pspells, refs, window, keep=may_be_unlinked(person, window))
        unlinked = [split_linked(p, person, window)[1] for p in few] + [in_progress_rows(episodes)]
        labels = value_sets(window)
        activity = mat_parts("activity", linked, labels)
        mat_parts("activity_unlinked", unlinked, labels)
        conditions = mat(
            "person_condition", condition_first_dates(raw["gp_events"], episodes, refs, window)
        )
        py = mat(
            "person_year",
            person_year_mart(person, activity, spells, conditions, episodes, refs, condition_ids(),
                             programme_ids(), raw["gp_events"], raw["prescriptions"]),
        )
        for name, expr in indicator_marts(spells, person, episodes, refs, window.extract_date, stage,
                                           provider_spells=pspells).items():
            mat(name, expr)
        # dash_monthly's per-person-month stage in slices of a large population (phm.model.parts)
        parts = part_count(_count(person)) if wh.backend == "duckdb" else 1
        with prof.step("row counts and cost notes"):
            for name in MARTS:
                summary.rows[name] = _count(tx.table(name))
                prof.steps[name].rows = summary.rows[name]
            summary.notes = _cost_notes(tx) + indicator_notes(tx.table("ind_readmissions"),
                                                              tx.table("ind_acsc_admissions"),
                                                              tx.table("ind_shmi_spells"))
        say("analysis")
        with prof.step("analysis") as s:
            marts = {"person_year": py, "activity": activity, "spells": spells,
                     "ref_practice": refs["ref_practice"]}
            tables = analysis_tables(marts, years=list(window.years), extract_date=window.extract_date, parts=parts)
            tables.update(indicator_tables({"person_year": py, **{m: tx.table(m) for m in INDICATOR_MARTS}},
                                           tables.get("dash_peers")))
            tables.update(indicator_dashboard_tables(tables))
            for name, table in tables.items():
                tx.replace_table(name, table)
                summary.rows[name] = table.num_rows
            s.rows = sum(summary.rows[n] for n in summary.rows if n not in MARTS)
        with prof.step("build_meta and commit"):
            for name in scratch:
                tx.drop(name)
            tx.replace_table("build_meta", _meta(window, ledger_fp))
            tx.commit()  # timed here; leaving the block then has nothing left to commit
    return summary


def _cost_notes(tx) -> list[str]:
    """How much of the money rests on UNVERIFIED inputs or is not ICB spend (one small query)."""
    ps = tx.table("provider_spells")
    a = tx.table("activity")
    u = tx.table("activity_unlinked")
    row = fetch(ps.aggregate(c=ps.cost.sum(), x=ps.excess_bed_day_cost.sum())).to_pylist()[0]
    apc, excess = row["c"] or 0.0, row["x"] or 0.0
    by = {
        r["funder"]: r["c"] or 0.0
        for r in fetch(a.group_by("funder").aggregate(c=a.cost.sum())).to_pylist()
    }
    (open_spells,) = (
        fetch(u.filter(u.cost_source == "in_progress").count().as_table()).column(0).to_pylist()
    )
    total = sum(by.values()) or 1.0
    nhse, private = by.get("nhse", 0.0), by.get("private", 0.0)
    nhs = a.filter(a.setting != "social_care")
    acute = nhs.setting.isin(("apc", "op", "ecds"))
    pb = fetch(
        nhs.aggregate(
            c=nhs.cost.sum(),
            u=nhs.cost.sum(where=~nhs.programme_verified.coalesce(False)),
            a=nhs.cost.sum(where=acute),
            o=nhs.cost.sum(where=acute & (nhs.programme == "other")),
        )
    ).to_pylist()[0]
    nhs_total, unverified = pb["c"] or 0.0, pb["u"] or 0.0
    return [
        f"programme budgeting: £{unverified:,.0f} ({100 * unverified / (nhs_total or 1.0):.1f}% of NHS cost) is placed "
        "by a rule or map row not verified against the DH mapping (activity.programme_verified); 'other' holds "
        f"{100 * (pb['o'] or 0.0) / (pb['a'] or 1.0):.1f}% of admitted, outpatient and A&E cost",
        f"excess bed days: £{excess:,.0f} ({100 * excess / (apc or 1.0):.1f}% of admitted care cost) rest on trim "
        "points and per-day rates whose tariff year is UNVERIFIED (phm.model.costing.trim_points)",
        f"NHS England-commissioned £{nhse:,.0f} ({100 * nhse / total:.1f}%) and private patients £{private:,.0f} "
        f"({100 * private / total:.1f}%) are in activity, not in ICB spend",
        f"{open_spells:,} provider spells still in progress (no finished episode) are in activity_unlinked, not costed",
    ]


def _meta(window: Window, ledger_fp: str) -> pa.Table:
    from phm import __version__

    values = {
        "window_first_fy": str(window.first),
        "window_last_fy": str(window.last),
        "extract_date": window.extract_date.isoformat(),
        "ledger_fingerprint": ledger_fp,
        "method_fingerprint": method_fingerprint(),
        "phm_version": __version__,
    }
    keys = sorted(values)
    return pa.table({"key": keys, "value": [values[k] for k in keys]})


__all__ = ["MARTS", "BuildSummary", "analysis_window", "build"]
