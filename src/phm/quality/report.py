"""The data-quality report: one workbook or web page for the ICB, and record-level feedback
for each submitter.

:func:`write_report` reads the tables that :func:`phm.quality.compute_quality` and ingest
leave in the warehouse and writes:

- ``out`` itself: an Excel workbook (``.xlsx``) or a self-contained web page (``.html``)
  with the same sections: Summary, Rules, Results, Scores, Items, Linkage, Ledger and
  Quarantine summary. Only rule results with failures are listed; a note says how many
  other rule x submitter x month combinations passed.
- ``<out stem>-<format>-feedback/<submitter>.csv`` (``dq.xlsx`` -> ``dq-xlsx-feedback/``): for
  each submitter, only its own failing records (from ``dq_flags``) and quarantined rows (from
  ``quarantine``), identified by the submitter's own record identifier, source file and line;
  never by person_id or NHS number. The folder belongs to this one report file: a report
  written again to the same file replaces the feedback files it wrote before (those no longer
  wanted are removed, and only files that are feedback files), and a report written to another
  file (``dq.html`` beside ``dq.xlsx``, or another name) never touches them.

With ``provider`` set, every section and the feedback are limited to that submitter; the
ledger then shows only the files holding its rows, with its own row counts.

Safety: every text cell written to CSV or XLSX that starts with ``= + - @``, a tab or a
carriage return gets a leading apostrophe, and XLSX text is written with ``write_string``,
so no cell runs as a formula. Any ten-digit run that is a valid NHS number is masked in
every output. The same warehouse gives the same bytes (there is no generation timestamp).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import math
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from phm.codes import redact_nhs_numbers
from phm.errors import OutputError, UserError
from phm.quality.compute import UNKNOWN
from phm.warehouse import fetch

__all__ = ["FEEDBACK_COLUMNS", "SUFFIXES", "feedback_csv", "feedback_folder", "neutralise", "write_report"]

SUFFIXES = (".xlsx", ".html")
NHS_BLUE = "#005EB8"

FEEDBACK_COLUMNS = (
    "submitter",
    "dataset",
    "outcome",
    "rule_id",
    "description",
    "column",
    "period",
    "source_file",
    "line",
    "record_id",
    "value",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """``value`` made safe for a spreadsheet cell: a leading apostrophe if it starts with
    ``= + - @``, a tab or a carriage return (OWASP CSV injection), else unchanged."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _safe_text(value: str) -> str:
    return neutralise(redact_nhs_numbers(value))


# ---------------------------------------------------------------------------------------------
# Sections: one model, rendered to XLSX or HTML
# ---------------------------------------------------------------------------------------------


# Column kinds: text, int, pct (a fraction shown as a percentage), score (0-100), date, bool
@dataclass(frozen=True)
class Col:
    name: str
    header: str
    kind: str = "text"


@dataclass
class Section:
    key: str  # html id
    title: str  # sheet name and heading (31 characters at most)
    caption: str
    columns: Sequence[Col]
    rows: list[tuple]
    notes: list[str] = field(default_factory=list)


def _sort_key(row: Iterable) -> tuple:
    return tuple((v is None, v if v is not None else 0) for v in row)


def _pct_text(v: float) -> str:
    return f"{v * 100:.2f}%"


def _display(v: object, kind: str) -> str:
    """A cell as text (HTML)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if kind == "pct":
        return _pct_text(float(v))
    if kind == "score":
        return f"{float(v):.1f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "bool":
        return "yes" if v else "no"
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return redact_nhs_numbers(str(v))


# ---------------------------------------------------------------------------------------------
# Reading the warehouse
# ---------------------------------------------------------------------------------------------


def _arrow(wh, name: str) -> pa.Table | None:
    return wh.to_arrow(name) if wh.has_table(name) else None


def _rows(t: pa.Table | None, provider: str | None, unknown_null: bool = False) -> list[dict]:
    """Rows of ``t`` (limited to ``provider`` if given); a null submitter reads as UNKNOWN."""
    if t is None or t.num_rows == 0:
        return []
    if unknown_null and "submitter" in t.column_names:
        i = t.schema.get_field_index("submitter")
        t = t.set_column(i, "submitter", pc.fill_null(t["submitter"], UNKNOWN))
    if provider is not None:
        t = t.filter(pc.equal(t["submitter"], provider))
    return t.to_pylist()


def _known_submitters(tables: dict[str, pa.Table | None]) -> set[str]:
    known: set[str] = set()
    for name in ("dq_scores", "dq_results", "dq_linkage", "dq_flags", "quarantine"):
        t = tables.get(name)
        if t is not None and t.num_rows and "submitter" in t.column_names:
            for s in pc.unique(t["submitter"]).to_pylist():
                known.add(UNKNOWN if s is None else s)
    return known


def _resolve_provider(provider: str | None, known: set[str]) -> str | None:
    if provider is None:
        return None
    p = provider.strip()
    if p in known:
        return p
    folded = [k for k in known if k.casefold() == p.casefold()]
    if len(folded) == 1:
        return folded[0]
    few = sorted(known, key=lambda s: (len(s), s))[:8]
    listed = ", ".join(few) + (f", ... ({len(known)} in all)" if len(known) > len(few) else "")
    raise UserError(
        f"unknown provider {provider!r}: no submitter with that code in the warehouse"
        + (f"; known submitters include {listed}" if known else "; the warehouse has no submitters")
    )


def _provider_ledger(wh, ledger: list[dict], provider: str, quarantine: list[dict]) -> list[dict]:
    """Current ledger rows for the files holding ``provider``'s rows, with its own counts."""
    from phm.schema import contracts

    cons = contracts()
    loaded: Counter = Counter()
    for ds in sorted({r["dataset"] for r in ledger}):
        c = cons.get(ds)
        if c is None or not wh.has_table(f"raw_{ds}"):
            continue
        t = wh.table(f"raw_{ds}")
        if "_source" not in t.columns:
            continue
        if c.submitter:
            t = t.filter(t[c.submitter] == provider)
        elif provider != c.default_submitter:
            continue
        got = fetch(t.group_by("_source").agg(n=t.count()))
        for s, n in zip(got["_source"].to_pylist(), got["n"].to_pylist(), strict=True):
            loaded[(ds, s)] += int(n)
    quarantined = Counter((q["dataset"], q["_source"]) for q in quarantine)
    out = []
    for r in ledger:
        k = (r["dataset"], r["source"])
        if loaded[k] or quarantined[k]:
            out.append(
                dict(
                    r,
                    rows_loaded=loaded[k],
                    rows_quarantined=quarantined[k],
                    rows_in=loaded[k] + quarantined[k],
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Building the sections
# ---------------------------------------------------------------------------------------------


def _project(rows: list[dict], cols: Sequence[Col], sort: bool = True) -> list[tuple]:
    out = [tuple(r.get(c.name) for c in cols) for r in rows]
    return sorted(out, key=_sort_key) if sort else out


def _sections(wh, tables: dict, provider: str | None) -> tuple[list[Section], dict]:
    rules = _rows(tables["dq_rules"], None)
    describe = {r["rule_id"]: r["description"] for r in rules}

    res_t = tables["dq_results"]
    if provider is not None and res_t.num_rows:
        res_t = res_t.filter(pc.equal(res_t["submitter"], provider))
    evaluated = res_t.num_rows
    if evaluated:
        bad = pc.or_(
            pc.greater(res_t["failures"], 0), pc.invert(pc.fill_null(res_t["passed"], False))
        )
        res_t = res_t.filter(bad)
    results = res_t.to_pylist()
    for r in results:
        r["result"] = "pass" if r["passed"] else "FAIL"

    scores = _rows(tables["dq_scores"], provider)
    items = _rows(tables["dq_items"], provider)
    linkage = _rows(tables["dq_linkage"], provider)
    quarantine = _rows(tables["quarantine"], provider, unknown_null=True)
    flags = _rows(tables["dq_flags"], provider, unknown_null=True)
    ledger_all = [r for r in _rows(tables["load_ledger"], None) if r.get("status") == "current"]
    ledger = (
        ledger_all if provider is None else _provider_ledger(wh, ledger_all, provider, quarantine)
    )

    # Summary: one row per dataset x submitter seen anywhere
    summary: dict[tuple, dict] = defaultdict(dict)
    for r in scores:
        summary[(r["dataset"], r["submitter"])].update(records=r["records"], score=r["score"])
    for r in linkage:
        summary[(r["dataset"], r["submitter"])]["linkage_rate"] = r["linkage_rate"]
    failing: dict[tuple, set] = defaultdict(set)
    for r in results:
        summary.setdefault((r["dataset"], r["submitter"]), {})
        if not r["passed"]:
            failing[(r["dataset"], r["submitter"])].add(r["rule_id"])
    q_counts: Counter = Counter()
    q_by_rule: Counter = Counter()
    for q in quarantine:
        q_counts[(q["dataset"], q["submitter"])] += 1
        q_by_rule[(q["dataset"], q["rule_id"], q["submitter"])] += 1
    for k in q_counts:
        summary.setdefault(k, {})
    summary_rows = [
        dict(
            v, dataset=k[0], submitter=k[1], failing_rules=len(failing[k]), quarantined=q_counts[k]
        )
        for k, v in summary.items()
    ]

    extracts = sorted({r["extract_date"] for r in ledger if r.get("extract_date") is not None})
    n_fail = sum(1 for r in results if not r["passed"])
    scope = f"submitter {provider} only" if provider else "all submitters"
    summary_notes = [
        f"Scope: {scope}.",
        "Extract date: "
        + (", ".join(d.isoformat() for d in extracts) if extracts else "not recorded")
        + ".",
        f"{evaluated:,} rule x submitter x month results evaluated; {n_fail:,} failed their threshold and "
        f"{len(results) - n_fail:,} passed with some failing records; {evaluated - len(results):,} passed with none.",
        "Records are rows loaded; the score is DQMI-style (0-100, valid and complete items); the linkage rate "
        "is the share of records whose NHS number links to the registered population; failing rules counts "
        "the rules that failed their threshold in any month; quarantined counts rows not loaded.",
    ]
    if provider is None:
        summary_notes.append(
            "Record-level feedback for each submitter is in the feedback folder beside this report."
        )

    sections = [
        Section(
            "summary",
            "Summary",
            "Data quality by dataset and submitter",
            [
                Col("dataset", "Dataset"),
                Col("submitter", "Submitter"),
                Col("records", "Records", "int"),
                Col("score", "DQMI-style score", "score"),
                Col("linkage_rate", "Linkage rate", "pct"),
                Col("failing_rules", "Failing rules", "int"),
                Col("quarantined", "Quarantined rows", "int"),
            ],
            [],
            summary_notes,
        ),
        Section(
            "rules",
            "Rules",
            "The rule catalogue",
            [
                Col("rule_id", "Rule"),
                Col("stage", "Stage"),
                Col("category", "Category"),
                Col("datasets", "Datasets"),
                Col("check", "Check"),
                Col("threshold", "Threshold", "pct"),
                Col("description", "Description"),
                Col("source", "Source"),
            ],
            [],
            ["Threshold is the highest acceptable failure rate."],
        ),
        Section(
            "results",
            "Results",
            "Rule results with failing records",
            [
                Col("dataset", "Dataset"),
                Col("submitter", "Submitter"),
                Col("rule_id", "Rule"),
                Col("stage", "Stage"),
                Col("category", "Category"),
                Col("period", "Month", "date"),
                Col("records", "Records", "int"),
                Col("failures", "Failures", "int"),
                Col("rate", "Failure rate", "pct"),
                Col("threshold", "Threshold", "pct"),
                Col("result", "Result"),
            ],
            [],
            [
                f"Only results with at least one failing record, or that failed their threshold, are listed "
                f"({len(results):,} of {evaluated:,}). All other {evaluated - len(results):,} rule x submitter "
                f"x month combinations passed with no failures.",
                "Month is blank for ingest rules, which are counted over the whole file.",
            ],
        ),
        Section(
            "scores",
            "Scores",
            "DQMI-style scores by dataset and submitter",
            [
                Col("dataset", "Dataset"),
                Col("submitter", "Submitter"),
                Col("records", "Records", "int"),
                Col("items", "Data items", "int"),
                Col("score", "Score", "score"),
            ],
            [],
        ),
        Section(
            "items",
            "Items",
            "DQMI-style scores by data item",
            [
                Col("dataset", "Dataset"),
                Col("submitter", "Submitter"),
                Col("column", "Data item"),
                Col("records", "Records", "int"),
                Col("valid_complete", "Valid and complete", "int"),
                Col("defaults", "Defaults", "int"),
                Col("defaults_in_excess", "Defaults in excess", "score"),
                Col("score", "Score", "score"),
            ],
            [],
        ),
        Section(
            "linkage",
            "Linkage",
            "Linkage to the registered population",
            [
                Col("dataset", "Dataset"),
                Col("submitter", "Submitter"),
                Col("records", "Records", "int"),
                Col("valid_nhs_number", "Valid NHS number", "int"),
                Col("linked", "Linked", "int"),
                Col("linkage_rate", "Linkage rate", "pct"),
            ],
            [],
        ),
        Section(
            "ledger",
            "Ledger",
            "Current loads",
            [
                Col("source", "Source file"),
                Col("dataset", "Dataset"),
                Col("rows_in", "Rows in", "int"),
                Col("rows_loaded", "Rows loaded", "int"),
                Col("rows_quarantined", "Rows quarantined", "int"),
                Col("sha256", "SHA-256"),
                Col("extract_date", "Extract date", "date"),
                Col("loaded_at", "Loaded at (UTC)", "date"),
            ],
            [],
            [
                f"Row counts are submitter {provider}'s rows in each file."
                if provider
                else "One row per source file as currently loaded."
            ],
        ),
        Section(
            "quarantine",
            "Quarantine summary",
            "Quarantined rows by dataset, rule and submitter",
            [
                Col("dataset", "Dataset"),
                Col("rule_id", "Rule"),
                Col("submitter", "Submitter"),
                Col("rows", "Rows", "int"),
                Col("description", "Rule description"),
            ],
            [],
            ["Counts only; the rows themselves are in each submitter's feedback file."],
        ),
    ]
    data = {
        "summary": summary_rows,
        "rules": rules,
        "results": results,
        "scores": scores,
        "items": items,
        "linkage": linkage,
        "ledger": ledger,
        "quarantine": [
            {"dataset": d, "rule_id": r, "submitter": s, "rows": n, "description": describe.get(r)}
            for (d, r, s), n in q_by_rule.items()
        ],
    }
    for s in sections:
        s.rows = _project(data[s.key], s.columns)
    feedback_input = {"flags": flags, "quarantine": quarantine, "describe": describe}
    return sections, feedback_input


# ---------------------------------------------------------------------------------------------
# Feedback CSVs
# ---------------------------------------------------------------------------------------------


def _feedback_rows(
    flags: list[dict], quarantine: list[dict], describe: dict[str, str]
) -> dict[str, list[tuple]]:
    by: dict[str, list[tuple]] = defaultdict(list)
    for f in flags:
        by[f["submitter"]].append(
            (
                f["submitter"],
                f["dataset"],
                "flagged",
                f["rule_id"],
                describe.get(f["rule_id"]),
                f["column"],
                f["period"],
                f["_source"],
                f["_line"],
                f["record_id"],
                None,
            )
        )
    for q in quarantine:
        by[q["submitter"]].append(
            (
                q["submitter"],
                q["dataset"],
                "quarantined",
                q["rule_id"],
                q["reason"],
                q["column"],
                None,
                q["_source"],
                q["_line"],
                q["record_id"],
                q["value"],
            )
        )
    order = [
        FEEDBACK_COLUMNS.index(c)
        for c in (
            "dataset",
            "source_file",
            "line",
            "outcome",
            "rule_id",
            "column",
            "record_id",
            "period",
            "description",
            "value",
        )
    ]
    return {s: sorted(rows, key=lambda r: _sort_key(r[i] for i in order)) for s, rows in by.items()}


def _csv_cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return _safe_text(str(v))


def _csv_bytes(rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(FEEDBACK_COLUMNS)
    for r in rows:
        w.writerow([_csv_cell(v) for v in r])
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets Excel read UTF-8


def _file_names(submitters: Iterable[str]) -> dict[str, str]:
    """A safe, unique file name for each submitter code."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for s in sorted(submitters):
        stem = (
            s
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", s)
            else (re.sub(r"[^A-Za-z0-9_-]+", "_", s).strip("_") or "submitter")
        )
        name, n = stem, 1
        while name.casefold() in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name.casefold())
        names[s] = name + ".csv"
    return names


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_xlsx(path: Path, sections: list[Section], title: str, created: dt.datetime) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "nan_inf_to_errors": False,
        },
    )
    try:
        wb.set_properties({"title": title, "author": "phm", "created": created})
        bold = wb.add_format({"bold": True, "font_size": 14, "font_color": NHS_BLUE})
        note = wb.add_format({"italic": True})
        head = wb.add_format(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": NHS_BLUE,
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        fmts = {
            "int": wb.add_format({"num_format": "#,##0"}),
            "pct": wb.add_format({"num_format": "0.00%"}),
            "score": wb.add_format({"num_format": "0.0"}),
        }
        for s in sections:
            ws = wb.add_worksheet(s.title)
            ws.write_string(0, 0, _safe_text(s.caption), bold)
            r = 1
            for n in s.notes:
                ws.write_string(r, 0, _safe_text(n), note)
                r += 1
            r += 1
            for c, col in enumerate(s.columns):
                ws.write_string(r, c, _safe_text(col.header), head)
            header_row = r
            widths = [max(10, len(col.header) + 2) for col in s.columns]
            for row in s.rows:
                r += 1
                for c, (v, col) in enumerate(zip(row, s.columns, strict=True)):
                    if v is None or (isinstance(v, float) and not math.isfinite(v)):
                        continue
                    if isinstance(v, bool):
                        text = "yes" if v else "no"
                        ws.write_string(r, c, text)
                    elif isinstance(v, (int, float)) and col.kind in fmts:
                        num = (
                            round(float(v), 6)
                            if col.kind == "pct"
                            else (round(float(v), 2) if col.kind == "score" else v)
                        )
                        ws.write_number(r, c, num, fmts[col.kind])
                        text = _display(v, col.kind)
                    elif isinstance(v, (int, float)):
                        ws.write_number(r, c, v)
                        text = str(v)
                    else:
                        text = _safe_text(_display(v, col.kind))
                        ws.write_string(r, c, text)
                    widths[c] = max(widths[c], min(len(text) + 2, 60))
            for c, w in enumerate(widths):
                ws.set_column(c, c, w)
            ws.freeze_panes(header_row + 1, 0)
            ws.autofilter(header_row, 0, max(header_row, r), len(s.columns) - 1)
    finally:
        wb.close()


_CSS = f"""
body{{font-family:Arial,Helvetica,sans-serif;color:#212B32;margin:0;line-height:1.4}}
header{{background:{NHS_BLUE};color:#fff;padding:1rem 1.5rem}}
header h1{{margin:0;font-size:1.6rem}}
nav{{padding:.5rem 1.5rem;background:#E8EDEE}}
nav a{{color:{NHS_BLUE};margin-right:1rem}}
a:focus,.scroll:focus{{outline:3px solid #FFEB3B;outline-offset:0}}
main{{padding:0 1.5rem 2rem}}
h2{{color:{NHS_BLUE};margin-top:2rem}}
.scroll{{overflow-x:auto;max-width:100%}}
table{{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}}
caption{{text-align:left;font-weight:bold;padding:.25rem 0}}
th,td{{border:1px solid #D8DDE0;padding:.25rem .5rem;vertical-align:top;text-align:left}}
thead th{{background:{NHS_BLUE};color:#fff}}
tbody tr:nth-child(even){{background:#F0F4F5}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}}
td.fail{{color:#D5281B;font-weight:bold}}
p.note{{margin:.25rem 0;max-width:60rem}}
"""


def _html(sections: list[Section], title: str) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{e(title)}</h1></header>",
        '<nav aria-label="Sections">'
        + "".join(f'<a href="#{s.key}">{e(s.title)}</a>' for s in sections)
        + "</nav>",
        "<main>",
    ]
    for s in sections:
        out.append(f'<section id="{s.key}" aria-labelledby="{s.key}-h">')
        out.append(f'<h2 id="{s.key}-h">{e(s.title)}</h2>')
        out.extend(f'<p class="note">{e(redact_nhs_numbers(n))}</p>' for n in s.notes)
        out.append(f'<div class="scroll" role="region" aria-labelledby="{s.key}-c" tabindex="0">')
        out.append(
            f'<table><caption id="{s.key}-c">{e(s.caption)} ({len(s.rows):,} rows)</caption>'
        )
        out.append(
            "<thead><tr>"
            + "".join(f'<th scope="col">{e(c.header)}</th>' for c in s.columns)
            + "</tr></thead>"
        )
        out.append("<tbody>")
        for row in s.rows:
            cells = []
            for v, c in zip(row, s.columns, strict=True):
                text = e(_display(v, c.kind))
                cls = (
                    ' class="n"'
                    if c.kind in ("int", "pct", "score")
                    else (' class="fail"' if v == "FAIL" else "")
                )
                cells.append(f"<td{cls}>{text}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        if not s.rows:
            out.append(f'<tr><td colspan="{len(s.columns)}">None.</td></tr>')
        out.append("</tbody></table></div></section>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


REPORT_TABLES = (
    "dq_results",
    "dq_scores",
    "dq_items",
    "dq_linkage",
    "dq_rules",
    "dq_flags",
    "quarantine",
    "load_ledger",
)


def feedback_folder(out: Path) -> Path:
    """The feedback folder of report file ``out``: its own, named after its stem and format
    (``dq.xlsx`` -> ``dq-xlsx-feedback``), so two reports never share (or clear) one folder."""
    out = Path(out)
    return out.parent / f"{out.stem}-{out.suffix.lstrip('.')}-feedback"


def _is_feedback_file(path: Path) -> bool:
    """True if ``path`` is a file that starts as :func:`_csv_bytes` starts every feedback file."""
    head = _csv_bytes([])
    try:
        with path.open("rb") as f:
            return path.is_file() and f.read(len(head)) == head
    except OSError:
        return False


def feedback_csv(wh, submitter: str) -> bytes:
    """The record-level feedback CSV of one submitter: the same bytes :func:`write_report`
    writes to its file (for the web dashboard's download)."""
    tables = {n: _arrow(wh, n) for n in REPORT_TABLES}
    provider = _resolve_provider(submitter, _known_submitters(tables))
    _, fb = _sections(wh, tables, provider)
    feedback = _feedback_rows(fb["flags"], fb["quarantine"], fb["describe"])
    return _csv_bytes(feedback.get(provider, []))


def write_report(wh, out: Path, provider: str | None = None) -> list[Path]:
    """Write the data-quality report to ``out`` (``.xlsx`` or ``.html``) and one feedback CSV
    per submitter in :func:`feedback_folder`; return the paths written, report first.

    ``provider`` limits everything to one submitter code (e.g. ``"RKB"``); an unknown code
    or an unsupported suffix raises :class:`~phm.errors.UserError`.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(
            f"cannot write a report to {out.name!r}: the file name must end .xlsx (Excel workbook) "
            "or .html (web page)"
        )
    if out.is_dir():
        raise OutputError(f"{out} is a folder; give a file name ending {suffix}")
    if not wh.has_table("dq_results"):
        raise UserError(
            "the warehouse holds no data-quality results; run 'phm ingest' (with its data-quality "
            "rules) first"
        )
    tables = {n: _arrow(wh, n) for n in REPORT_TABLES}
    known = _known_submitters(tables)
    provider = _resolve_provider(provider, known)
    sections, fb = _sections(wh, tables, provider)

    feedback = _feedback_rows(fb["flags"], fb["quarantine"], fb["describe"])
    submitters = {provider} if provider is not None else (known | set(feedback))
    files = _file_names(submitters)

    ledger = _rows(tables["load_ledger"], None)
    stamps = [
        r["loaded_at"]
        for r in ledger
        if r.get("status") == "current" and r.get("loaded_at") is not None
    ]
    created = max(stamps) if stamps else dt.datetime(2000, 1, 1)
    title = "Data quality report" + (f": {provider}" if provider else "")

    folder = feedback_folder(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if suffix == ".xlsx":
            _atomic_write(out, lambda p: _write_xlsx(p, sections, title, created))
        else:
            text = _html(sections, title)
            _atomic_write(out, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))
        written = [out]
        for s in sorted(files):
            path = folder / files[s]
            data = _csv_bytes(feedback.get(s, []))
            _atomic_write(path, lambda p, data=data: p.write_bytes(data))
            written.append(path)
        for old in sorted(set(folder.glob("*.csv")) - set(written)):
            if _is_feedback_file(old):  # this report's earlier feedback for submitters it no longer has
                old.unlink()
    except OSError as err:
        raise OutputError(f"cannot write the report to {out}: {err.strerror or err}") from None
    return written
