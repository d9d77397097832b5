"""QOF disease registers at each financial year end, from GP codes and GP prescribing.

A person is on a register at the achievement date (the financial year end, 31 March) when
the register's rule in ``definitions/qof_registers.csv`` holds on their GP record up to that
date (NHS England, *Quality and Outcomes Framework business rules v49, 2024/25*, section
3.2.2.1 of each domain document; each row says how far it is verified):

- a **diagnosis** code from the register's cluster, dated on or before the year end (and on
  or after ``diagnosed_from`` where the rule has one: cancer 1 April 2003, depression
  1 April 2006, palliative care 1 April 2008), tested on the *latest* such code;
- **not resolved**: no code of the register's resolved clusters (e.g. DMRES_COD; for CKD also
  a stage 1-2 code) dated after that latest diagnosis. A resolved code on the same day as the
  diagnosis does not remove the person (as the NCL ICB implementation; UNVERIFIED in v49);
- **age** in whole years on the year end at least ``min_age`` (applied by
  :func:`register_flags`, which sees the date of birth);
- **treatment**: ``required`` (asthma, epilepsy) needs a prescription of the register's BNF
  prefixes in the ``treatment_months`` up to the year end; ``or`` (severe mental illness)
  puts a person on the register on lithium in the last 6 months even without a diagnosis.

Only GP data counts. A condition coded in hospital but never on the GP record is a separate
case-finding flag (``hospital_only_<condition>`` in ``person_year``), not a register entry.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from importlib import resources

import ibis
import pyarrow as pa

from phm.model.common import age_on, clean_date

TREATMENT_MODES = ("", "required", "or")
# Prescriptions are dated by dispensing month (its first day). A month counts when it starts
# after the day this many days before the person's last day: with a 31 March year end,
# 12 months is April-March and 6 months October-March.
TREATMENT_DAYS = {12: 365, 6: 183}


@lru_cache(maxsize=1)
def register_definitions() -> tuple[dict, ...]:
    """The rows of ``definitions/qof_registers.csv`` (one per register), as dicts."""
    path = resources.files("phm.model").joinpath("definitions/qof_registers.csv")
    with path.open(encoding="utf-8", newline="") as f:
        rows = tuple(csv.DictReader(f))
    for r in rows:
        if r["treatment"] not in TREATMENT_MODES:
            raise ValueError(f"qof_registers.csv, {r['condition']}: treatment {r['treatment']!r}")
    return rows


def register_ids() -> list[str]:
    return [r["condition"] for r in register_definitions()]


def _clusters(field: str) -> list[tuple[str, str]]:
    return [(r["condition"], c) for r in register_definitions() for c in r[field].split(";") if c]


def reference_tables() -> dict[str, pa.Table]:
    """``ref_register`` (rule parameters), ``ref_register_code`` (SNOMED code -> register and
    role) and ``ref_register_bnf`` (BNF prefix -> register, with the first dispensing month
    that counts for each financial year)."""
    from phm.refdata._io import data_path

    defs = register_definitions()
    codes: set[tuple[str, str, str]] = set()
    for role, field in (("diagnosis", "diagnosis"), ("resolved", "resolved")):
        for reg, cluster in _clusters(field):
            with data_path(f"codelists/pcd_refsets/{cluster}.csv").open(encoding="utf-8-sig") as f:
                codes.update((reg, role, row["code"].strip()) for row in csv.DictReader(f))
    code_rows = sorted(codes)
    bnf = [
        (r["condition"], prefix, len(prefix), TREATMENT_DAYS[int(r["treatment_months"])])
        for r in defs if r["treatment"] for prefix in r["treatment_bnf"].split(";")
    ]
    return {
        "ref_register": pa.table({
            "register": [r["condition"] for r in defs],
            "min_age": pa.array([int(r["min_age"]) for r in defs], pa.int64()),
            "diagnosed_from": pa.array(
                [dt.date.fromisoformat(r["diagnosed_from"]) if r["diagnosed_from"] else None for r in defs],
                pa.date32()),
            "treatment": [r["treatment"] for r in defs],
        }),
        "ref_register_code": pa.table({
            "register": [c[0] for c in code_rows], "role": [c[1] for c in code_rows],
            "snomed_code": [c[2] for c in code_rows]}),
        "ref_register_bnf": pa.table({
            "register": [b[0] for b in bnf], "prefix": [b[1] for b in bnf],
            "prefix_length": pa.array([b[2] for b in bnf], pa.int64()),
            "treatment_days": pa.array([b[3] for b in bnf], pa.int64())}),
    }


def register_status(gp_events, prescriptions, refs, keys):
    """One row per (person_id, fy, register) with any register evidence by the year end:
    ``on_register`` before the age rule. ``keys``: (person_id, fy, fy_end, last_day), where
    ``last_day`` is the person's last registered day in the year (the year end, or the day
    they left or died): the treatment window ends there, so a person who died in the autumn
    is judged on the medicines of their last months, not on none."""
    g = gp_events.filter(gp_events.person_id.notnull())
    g = g.mutate(event_date=clean_date(g.event_date))
    codes = refs["ref_register_code"]
    ev = g.join(codes, g.snomed_code == codes.snomed_code).select(
        "person_id", "register", "role", date=g.event_date)
    ev = ev.filter(ev.date.notnull())
    k = keys.select("person_id", "fy", "fy_end", "last_day")
    j = ev.join(k, (ev.person_id == k.person_id) & (ev.date <= k.fy_end))
    coded = j.select(j.person_id, j.fy, j.register,
                     dx=ibis.ifelse(j.role == "diagnosis", j.date, ibis.null("date")),
                     resolved=ibis.ifelse(j.role == "resolved", j.date, ibis.null("date")),
                     treated=ibis.literal(False))
    rx = _treated(prescriptions, refs, k).select(
        "person_id", "fy", "register", dx=ibis.null("date"), resolved=ibis.null("date"), treated=ibis.literal(True))
    u = ibis.union(coded, rx, distinct=False)
    both = u.group_by(["person_id", "fy", "register"]).aggregate(
        last_dx=u.dx.max(), last_resolved=u.resolved.max(), treated=u.treated.any())
    r = refs["ref_register"]
    s = both.join(r, "register")
    diagnosed = (
        s.last_dx.notnull()
        & (s.last_resolved.isnull() | (s.last_dx >= s.last_resolved))
        & (s.diagnosed_from.isnull() | (s.last_dx >= s.diagnosed_from))
    )
    on = ibis.cases(
        (s.treatment == "required", diagnosed & s.treated),
        (s.treatment == "or", diagnosed | s.treated),
        else_=diagnosed,
    )
    return s.select("person_id", "fy", "register", "min_age", on_register=on)


def _treated(prescriptions, refs, keys):
    """(person_id, fy, register) with a prescription of the register's BNF prefixes
    dispensed in the ``treatment_days`` up to the person's last day in the year."""
    # One cheap pass over all prescriptions first: only BNF sections that hold a treatment
    # prefix (a few per cent of items) reach the prefix joins.
    prefixes = [prefix for r in register_definitions() if r["treatment"] for prefix in r["treatment_bnf"].split(";")]
    n = min((len(x) for x in prefixes), default=4)  # the shortest prefix: every one starts with a section
    sections = sorted({x[:n] for x in prefixes})
    p = prescriptions.filter(prescriptions.person_id.notnull()
                             & prescriptions.bnf_code.substr(0, n).isin(sections))
    p = p.mutate(month=clean_date(p.month))
    b = refs["ref_register_bnf"]
    parts = []
    for n in (4, 6, 9):
        ref = b.filter(b.prefix_length == n)
        parts.append(p.join(ref, p.bnf_code.substr(0, n) == ref.prefix).select(
            "person_id", "register", "treatment_days", month=p.month))
    rx = ibis.union(*parts, distinct=False)
    j = rx.join(keys, (rx.person_id == keys.person_id) & (rx.month <= keys.last_day))
    j = j.filter(j.month.delta(j.last_day, unit="day") > -j.treatment_days)
    return j.select(j.person_id, j.fy, j.register).distinct()


def register_flags(keys, status, register_ids):
    """(person_id, fy) -> ``reg_<register>`` booleans: on the register with the age rule
    applied (whole years on the year end at least ``min_age``). ``keys`` carries
    ``date_of_birth`` and ``fy_end``."""
    k = keys.select("person_id", "fy", "fy_end", "date_of_birth")
    j = status.join(k, (status.person_id == k.person_id) & (status.fy == k.fy))
    age_end = age_on(j.date_of_birth, j.fy_end)
    ok = j.on_register & (age_end >= j.min_age).coalesce(j.min_age == 0)
    return j.group_by([j.person_id, j.fy]).aggregate(
        **{f"reg_{r}": (ok & (j.register == r)).any() for r in register_ids}
    )
