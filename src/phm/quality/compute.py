"""Evaluate the rule catalogue on the warehouse: record-level flags in the engine, then the
small aggregate tables (results, scores, linkage) assembled from engine-side counts."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

import ibis
import pyarrow as pa

from phm.quality.catalogue import Rule, dqmi_items, rules
from phm.schema import Contract, contracts
from phm.warehouse import fetch

FLAGS_TABLE = "dq_flags"
SENTINELS = (dt.date(1800, 1, 1), dt.date(1801, 1, 1))
PRACTICE_DEFAULTS = ("V81997", "V81998", "V81999")
UNKNOWN = "(unknown)"         # quarantined rows whose submitter could not be read

RESULTS_SCHEMA = pa.schema([
    pa.field("dataset", pa.string()), pa.field("rule_id", pa.string()), pa.field("stage", pa.string()),
    pa.field("category", pa.string()), pa.field("submitter", pa.string()), pa.field("period", pa.date32()),
    pa.field("records", pa.int64()), pa.field("failures", pa.int64()), pa.field("rate", pa.float64()),
    pa.field("threshold", pa.float64()), pa.field("passed", pa.bool_()),
])
SCORES_SCHEMA = pa.schema([
    pa.field("dataset", pa.string()), pa.field("submitter", pa.string()), pa.field("records", pa.int64()),
    pa.field("items", pa.int64()), pa.field("score", pa.float64()),
])
ITEM_SCHEMA = pa.schema([
    pa.field("dataset", pa.string()), pa.field("submitter", pa.string()), pa.field("column", pa.string()),
    pa.field("records", pa.int64()), pa.field("valid_complete", pa.int64()), pa.field("defaults", pa.int64()),
    pa.field("defaults_in_excess", pa.float64()), pa.field("score", pa.float64()),
])
LINKAGE_SCHEMA = pa.schema([
    pa.field("dataset", pa.string()), pa.field("submitter", pa.string()), pa.field("records", pa.int64()),
    pa.field("valid_nhs_number", pa.int64()), pa.field("linked", pa.int64()), pa.field("linkage_rate", pa.float64()),
])


def _date(col, typ):
    return col.date() if typ == "timestamp" else col


def _rules_sha() -> str:
    import hashlib
    from importlib import resources

    h = hashlib.sha256()
    for name in ("rules.csv", "dqmi_items.csv"):
        h.update(resources.files("phm.quality").joinpath(name).read_bytes())
    return h.hexdigest()


def dq_is_current(wh) -> bool:
    """True when the dq_* tables were computed from what is loaded now, with today's rules."""
    from phm.warehouse.ledger import fingerprint, read_ledger

    if not wh.has_table("dq_state"):
        return False
    state = wh.to_arrow("dq_state").to_pylist()
    return bool(state) and state[0] == {"ledger_fingerprint": fingerprint(read_ledger(wh)), "rules_sha256": _rules_sha()}


class _Context:
    def __init__(self, wh) -> None:
        from phm.warehouse.ledger import current, fingerprint, read_ledger

        self.wh = wh
        self.present = [d for d in contracts() if wh.has_table(f"raw_{d}")]
        ledger = read_ledger(wh)
        self.fingerprint = fingerprint(ledger)
        cur = current(ledger)
        self.extract = {s: r["extract_date"] for s, r in cur.items()}
        self.registered = None
        if "patients" in self.present:
            p = wh.table("raw_patients")
            self.registered = p.filter(p.person_id.notnull()).select("person_id").distinct().mutate(_reg=ibis.literal(True))
        self.deaths = None
        if "deaths" in self.present:
            d = wh.table("raw_deaths")
            real = d.person_id.notnull() & ~d.date_of_death.isin([ibis.literal(x) for x in SENTINELS])
            self.deaths = (d.filter(real).group_by("person_id")
                           .agg(_dod=d.date_of_death.min()))

    def by_source(self, t, values: dict[str, object], default):
        """A CASE on _source: the per-source value (extract date and derived dates)."""
        if not values:
            return ibis.literal(default)
        return ibis.cases(*[(t._source == s, ibis.literal(v)) for s, v in sorted(values.items())],
                          else_=ibis.literal(default))


def _prepare(ctx: _Context, ds: str, c: Contract):
    t = ctx.wh.table(f"raw_{ds}")
    today = dt.datetime.now(dt.UTC).date()
    extract = ctx.by_source(t, ctx.extract, today)
    when = extract if ds == "patients" else _date(t[c.activity_date], c.columns[c.activity_date].type)
    period = ibis.date(when.year(), when.month(), 1)  # not truncate(): DuckDB returns a timestamp
    return t.mutate(
        _submitter=t[c.submitter] if c.submitter else ibis.literal(c.default_submitter or UNKNOWN),
        _period=period,
        _record=t[c.record_id].cast("string") if c.record_id else ibis.null().cast("string"),
        _extract=extract,
    )


def _flag(base, ds: str, rule_id: str, column: str | None):
    return base.select(
        dataset=ibis.literal(ds), rule_id=ibis.literal(rule_id),
        column=ibis.literal(column) if column else ibis.null().cast("string"),
        submitter=base._submitter, period=base._period,
        _source=base._source, _line=base._line, record_id=base._record,
    )


def _distinct_values(base, cols: list[str]) -> dict[str, list[str]]:
    if not cols:
        return {}
    parts = [base.select(column=ibis.literal(c), value=base[c].cast("string")).distinct() for c in cols]
    t = fetch(ibis.union(*parts, distinct=True))
    out: dict[str, list[str]] = defaultdict(list)
    for c, v in zip(t["column"].to_pylist(), t["value"].to_pylist(), strict=True):
        if v is not None:
            out[c].append(v)
    return out


def _refset_members(name: str):
    from phm import refdata

    if name == "icd10":
        return set(refdata.icd10()["code_hes"].to_pylist())
    if name == "opcs4":
        return set(refdata.opcs4()["code_compact"].to_pylist())
    if name == "bnf":
        return set(refdata.bnf()["presentation_code"].to_pylist())
    if name == "lsoa21":
        return set(refdata.lsoa21_icb()["lsoa21_code"].to_pylist())
    return None  # snomed: checked by format and Verhoeff digit


def _bad_values(col, values: list[str], check: str) -> list[str]:
    if check == "codes":
        allowed = set(col.codes or ())
        return sorted(v for v in values if v not in allowed)
    if check == "pattern":
        rx = re.compile(col.pattern)
        return sorted(v for v in values if not rx.fullmatch(v))
    members = _refset_members(col.refset)
    if members is None:
        from phm.codes import is_valid_sctid

        return sorted(v for v in values if not is_valid_sctid(v))
    return sorted(v for v in values if v not in members)


def _column_checks(c: Contract, check: str, param: str) -> list:
    cols = c.columns.values()
    if check == "codes":
        return [col for col in cols if col.codes]
    if check == "pattern":
        return [col for col in cols if col.pattern]
    return [col for col in cols if col.refset == param]


def _date_bounds(base, c: Contract) -> dict[str, tuple]:
    """(earliest, latest) of each date column: rules that cannot fire are not run at all."""
    cols = [col for col in c.columns.values() if col.type in ("date", "timestamp")]
    if not cols:
        return {}
    aggs = {}
    for col in cols:
        d = _date(base[col.name], col.type)
        aggs[f"lo_{col.name}"], aggs[f"hi_{col.name}"] = d.min(), d.max()
    row = fetch(base.aggregate(**aggs)).to_pylist()[0]
    return {col.name: (row[f"lo_{col.name}"], row[f"hi_{col.name}"]) for col in cols}


def _may(bounds: dict, column: str, test) -> bool:
    lo, hi = bounds.get(column, (None, None))
    return lo is not None and test(lo, hi)


def _flags_for(ctx: _Context, ds: str, c: Contract, base, r: Rule, distinct: dict) -> list:
    check, p = r.check, r.params
    names = c.columns
    bounds = distinct.get("_date_bounds", {})
    earliest_extract = min(ctx.extract.values(), default=dt.datetime.now(dt.UTC).date())
    out = []
    if check == "nhs_status":
        if c.has_nhs_number and p in distinct.get("nhs_number_status", [p]):
            out.append(_flag(base.filter(base.nhs_number_status == p), ds, r.rule_id, "nhs_number"))
    elif check == "unlinked":
        if c.has_nhs_number and ctx.registered is not None:
            j = base.left_join(ctx.registered, "person_id")
            out.append(_flag(j.filter((j.nhs_number_status == "valid") & j._reg.isnull()), ds, r.rule_id, "nhs_number"))
    elif check == "column_null":
        if p in names:
            out.append(_flag(base.filter(base[p].isnull()), ds, r.rule_id, p))
    elif check in ("codes", "pattern", "refset"):
        for col in _column_checks(c, check, p):
            bad = _bad_values(col, distinct.get(col.name, []), check)
            if bad:
                out.append(_flag(base.filter(base[col.name].isin(bad)), ds, r.rule_id, col.name))
    elif check == "equals":
        col, val = p.split("=", 1)
        if col in names:
            out.append(_flag(base.filter(base[col] == val), ds, r.rule_id, col))
    elif check == "future_date":
        for col in names.values():
            if col.not_future and _may(bounds, col.name, lambda lo, hi: _as_day(hi) > earliest_extract):
                out.append(_flag(base.filter(_date(base[col.name], col.type) > base._extract), ds, r.rule_id, col.name))
    elif check == "sentinel":
        day = dt.date.fromisoformat(p)
        for col in names.values():
            if col.type in ("date", "timestamp") and _may(bounds, col.name, lambda lo, hi: _as_day(lo) <= day):
                out.append(_flag(base.filter(_date(base[col.name], col.type) == ibis.literal(day)), ds, r.rule_id, col.name))
    elif check == "date_before":
        a, b = p.split("<")
        if a in names and b in names:
            sentinel = base[a].isin([ibis.literal(s) for s in SENTINELS])
            out.append(_flag(base.filter(base[a].notnull() & ~sentinel & (base[a] < base[b])), ds, r.rule_id, a))
    elif check == "after_death":
        if c.has_nhs_number and ctx.deaths is not None:
            j = base.inner_join(ctx.deaths, "person_id")
            when = _date(j[c.activity_date], names[c.activity_date].type)
            out.append(_flag(j.filter(when > j._dod), ds, r.rule_id, c.activity_date))
    elif check == "age_range":
        if "date_of_birth" in names:
            cutoff = ctx.by_source(base, {s: _years_before(d, 116) for s, d in ctx.extract.items()},
                                   _years_before(dt.datetime.now(dt.UTC).date(), 116))
            dob = base.date_of_birth
            bad = (dob < ibis.literal(dt.date(1880, 1, 1))) | (dob > base._extract) | (dob <= cutoff)
            out.append(_flag(base.filter(bad), ds, r.rule_id, "date_of_birth"))
    elif check == "practice_default":
        if "practice_code" in names and set(PRACTICE_DEFAULTS) & set(distinct.get("practice_code", [])):
            out.append(_flag(base.filter(base.practice_code.isin(list(PRACTICE_DEFAULTS))), ds, r.rule_id, "practice_code"))
    elif check in ("exact_duplicate", "near_duplicate") and c.natural_key:
        out.append(_duplicates(base, ds, c, r, exact=check == "exact_duplicate"))
    return out


def _as_day(v) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def _years_before(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _duplicates(base, ds: str, c: Contract, r: Rule, *, exact: bool):
    """Exact: a row equal to an earlier one in every submitted value. Near: the first row of
    its content, but not the first content of its natural key ("earlier" = by source, line)."""
    key = [c.raw_column(k) for k in c.natural_key]
    content = [c.raw_column(k) for k in c.columns] + ["nhs_number_status"]
    t = base.filter(ibis.and_(*[base[k].notnull() for k in key])) if key else base
    # Either kind of duplicate shares its natural key with another row (the content holds the
    # key), so the windows below need only the rows of keys seen twice: one cheap grouping
    # instead of sorting every row by its whole content.
    if key:
        seen = t.group_by(key).aggregate(_n=t.count())
        t = t.semi_join(seen.filter(seen._n > 1).select(*key), key)
    order = [t._source, t._line]
    t = t.mutate(_rn_content=ibis.row_number().over(group_by=[t[k] for k in content], order_by=order))
    if exact:
        return _flag(t.filter(t._rn_content > 0), ds, r.rule_id, None)
    firsts = t.filter(t._rn_content == 0)
    firsts = firsts.mutate(_rn_key=ibis.row_number().over(group_by=[firsts[k] for k in key],
                                                         order_by=[firsts._source, firsts._line]))
    return _flag(firsts.filter(firsts._rn_key > 0), ds, r.rule_id, None)


def flag_expression(wh):
    """The Ibis expression of every warehouse-stage rule's failing records, or None."""
    ctx = _Context(wh)
    parts = []
    bases = {}
    for ds in ctx.present:
        c = contracts()[ds]
        base = _prepare(ctx, ds, c)
        bases[ds] = base
        checked = {col.name for col in c.columns.values() if col.codes or col.pattern or col.refset}
        checked |= {x for x in ("nhs_number_status", "practice_code") if x in base.columns}
        distinct = _distinct_values(base, sorted(checked))
        distinct["_date_bounds"] = _date_bounds(base, c)
        for r in rules():
            if r.stage == "warehouse" and r.applies_to(ds):
                parts.extend(_flags_for(ctx, ds, c, base, r, distinct))
    return ctx, bases, (ibis.union(*parts) if parts else None)


def compute_quality(wh) -> dict[str, int]:
    """Recompute every dq_* table in one transaction; returns row counts per table."""
    ctx, bases, flags = flag_expression(wh)
    catalogue = rules()
    tx = wh.transaction()
    try:
        if flags is None:
            flag_counts = pa.table({"dataset": [], "rule_id": [], "column": [], "submitter": [], "period": [], "n": []})
            row_counts = flag_counts.drop(["column"])
            n_flags = 0
            tx.replace_table(FLAGS_TABLE, _empty_flags())
        else:
            f = tx.materialize(FLAGS_TABLE, flags)
            # n counts cells (one rule can flag several columns of a row); rows counts records
            flag_counts = fetch(f.group_by(["dataset", "rule_id", "column", "submitter", "period"])
                                .agg(n=f.count()))
            row_counts = fetch(f.group_by(["dataset", "rule_id", "submitter", "period"])
                               .agg(n=f._source.concat("#", f._line.cast("string")).nunique()))
            n_flags = int(sum(flag_counts["n"].to_pylist()))
        denoms = _denominators(bases)
        quarantine = _quarantine_counts(wh)
        results = _results(catalogue, denoms, row_counts, quarantine)
        items, scores = _scores(bases, flag_counts)
        linkage = _linkage(ctx, bases)
        tx.replace_table("dq_results", results)
        tx.replace_table("dq_items", items)
        tx.replace_table("dq_scores", scores)
        tx.replace_table("dq_linkage", linkage)
        tx.replace_table("dq_rules", _rules_table(catalogue))
        tx.replace_table("dq_state", pa.table({"ledger_fingerprint": [ctx.fingerprint], "rules_sha256": [_rules_sha()]}))
        tx.commit()
    except BaseException:
        tx.rollback()
        raise
    return {"dq_flags": n_flags, "dq_results": results.num_rows, "dq_scores": scores.num_rows}


def _empty_flags() -> pa.Table:
    return pa.schema([
        pa.field("dataset", pa.string()), pa.field("rule_id", pa.string()), pa.field("column", pa.string()),
        pa.field("submitter", pa.string()), pa.field("period", pa.date32()), pa.field("_source", pa.string()),
        pa.field("_line", pa.int64()), pa.field("record_id", pa.string())]).empty_table()


def _denominators(bases) -> dict[str, list[tuple[str | None, dt.date | None, int]]]:
    out = {}
    for ds, base in bases.items():
        t = fetch(base.group_by(["_submitter", "_period"]).agg(records=base.count()))
        rows = sorted(zip(t["_submitter"].to_pylist(), t["_period"].to_pylist(), t["records"].to_pylist(), strict=True),
                      key=lambda x: (x[0] or "", x[1] or dt.date.min))
        out[ds] = rows
    return out


def _quarantine_counts(wh) -> dict[tuple[str, str, str], int]:
    if not wh.has_table("quarantine"):
        return {}
    q = wh.table("quarantine")
    t = fetch(q.group_by(["dataset", "rule_id", "submitter"]).agg(n=q.count()))
    return {(d, r, s or UNKNOWN): n for d, r, s, n in zip(t["dataset"].to_pylist(), t["rule_id"].to_pylist(),
                                                         t["submitter"].to_pylist(), t["n"].to_pylist(), strict=True)}


def _results(catalogue, denoms, flag_counts, quarantine) -> pa.Table:
    """Failures are records (a record failing in two columns counts once), so rates stay in 0..1."""
    fc: dict[tuple, int] = defaultdict(int)
    for d, r, s, p, n in zip(flag_counts["dataset"].to_pylist(), flag_counts["rule_id"].to_pylist(),
                             flag_counts["submitter"].to_pylist(), flag_counts["period"].to_pylist(),
                             flag_counts["n"].to_pylist(), strict=True):
        fc[(d, r, s, p)] += n
    rows = []
    for ds, groups in denoms.items():
        loaded_by_sub: dict[str | None, int] = defaultdict(int)
        for s, _p, n in groups:
            loaded_by_sub[s] += n
        q_by_sub: dict[str, int] = defaultdict(int)
        for (d, _r, s), n in quarantine.items():
            if d == ds:
                q_by_sub[s] += n
        for r in catalogue:
            if not r.applies_to(ds):
                continue
            if r.stage == "warehouse":
                for s, p, n in groups:
                    fails = fc.get((ds, r.rule_id, s, p), 0)
                    rows.append(_result_row(ds, r, s, p, n, fails))
            else:
                for s in sorted(set(loaded_by_sub) | set(q_by_sub), key=lambda x: x or ""):
                    fails = quarantine.get((ds, r.rule_id, s or UNKNOWN), 0)
                    rows.append(_result_row(ds, r, s, None, loaded_by_sub.get(s, 0) + q_by_sub.get(s, 0), fails))
    return pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA)


def _result_row(ds, r: Rule, s, p, records, fails) -> dict:
    rate = fails / records if records else (1.0 if fails else 0.0)
    return {"dataset": ds, "rule_id": r.rule_id, "stage": r.stage, "category": r.category, "submitter": s,
            "period": p, "records": records, "failures": fails, "rate": rate, "threshold": r.threshold,
            "passed": rate <= r.threshold}


def _scores(bases, flag_counts) -> tuple[pa.Table, pa.Table]:
    """DQMI-style: item score = (valid and complete − defaults in excess) / records × 100,
    dataset score = mean of its items (NHS England, Data Quality Maturity Index methodology)."""
    conformance_rules = {r.rule_id for r in rules() if r.check in ("codes", "pattern", "refset")}
    invalid: dict[tuple, int] = defaultdict(int)
    for d, r, col, s, n in zip(flag_counts["dataset"].to_pylist(), flag_counts["rule_id"].to_pylist(),
                               flag_counts["column"].to_pylist(), flag_counts["submitter"].to_pylist(),
                               flag_counts["n"].to_pylist(), strict=True):
        if r in conformance_rules:
            invalid[(d, col, s)] += n
    items_by_ds = defaultdict(list)
    for ds, col, defaults, allowed in dqmi_items():
        items_by_ds[ds].append((col, defaults, allowed))
    item_rows, score_rows = [], []
    for ds, base in bases.items():
        its = items_by_ds.get(ds, [])
        if not its:
            continue
        aggs = {"records": base.count()}
        for i, (col, defaults, _a) in enumerate(its):
            if col == "nhs_number":
                aggs[f"ok{i}"] = (base.nhs_number_status == "valid").sum()
            else:
                aggs[f"ok{i}"] = base[col].notnull().sum()
            aggs[f"def{i}"] = base[col].isin(list(defaults)).sum() if defaults and col != "nhs_number" else ibis.literal(0)
        t = fetch(base.group_by("_submitter").agg(**aggs)).to_pylist()
        for row in sorted(t, key=lambda x: x["_submitter"] or ""):
            s, n = row["_submitter"], row["records"]
            scores = []
            for i, (col, _d, allowed) in enumerate(its):
                ok = int(row[f"ok{i}"] or 0) - (invalid.get((ds, col, s), 0) if col != "nhs_number" else 0)
                defaults = int(row[f"def{i}"] or 0)
                excess = max(0.0, defaults - allowed * n)
                score = (ok - excess) / n * 100 if n else 0.0
                scores.append(score)
                item_rows.append({"dataset": ds, "submitter": s, "column": col, "records": n, "valid_complete": ok,
                                  "defaults": defaults, "defaults_in_excess": excess, "score": score})
            score_rows.append({"dataset": ds, "submitter": s, "records": n, "items": len(scores),
                               "score": sum(scores) / len(scores)})
    return pa.Table.from_pylist(item_rows, schema=ITEM_SCHEMA), pa.Table.from_pylist(score_rows, schema=SCORES_SCHEMA)


def _linkage(ctx: _Context, bases) -> pa.Table:
    rows = []
    for ds, base in bases.items():
        if ds == "patients" or ctx.registered is None or "person_id" not in base.columns:
            continue
        c = contracts()[ds]
        if not c.has_nhs_number:
            continue
        j = base.left_join(ctx.registered, "person_id")
        t = fetch(j.group_by("_submitter").agg(records=j.count(), valid=(j.nhs_number_status == "valid").sum(),
                                               linked=j._reg.notnull().sum())).to_pylist()
        for r in sorted(t, key=lambda x: x["_submitter"] or ""):
            rows.append({"dataset": ds, "submitter": r["_submitter"], "records": r["records"],
                         "valid_nhs_number": int(r["valid"] or 0), "linked": int(r["linked"] or 0),
                         "linkage_rate": (int(r["linked"] or 0) / r["records"]) if r["records"] else None})
    return pa.Table.from_pylist(rows, schema=LINKAGE_SCHEMA)


def _rules_table(catalogue) -> pa.Table:
    return pa.Table.from_pylist([
        {"rule_id": r.rule_id, "stage": r.stage, "category": r.category, "datasets": ",".join(r.datasets),
         "check": r.check, "threshold": r.threshold, "description": r.description, "source": r.source}
        for r in catalogue])
