"""The data-quality report: workbook and web page, per-submitter feedback, provider filter,
formula neutralisation and no NHS numbers in any output."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from phm.cli import main
from phm.codes import is_valid_nhs_number
from phm.errors import UserError
from phm.quality import dq_is_current
from phm.quality.report import FEEDBACK_COLUMNS, neutralise, write_report
from phm.schema import contracts
from phm.warehouse import connect

SHEETS = [
    "Summary",
    "Rules",
    "Results",
    "Scores",
    "Items",
    "Linkage",
    "Ledger",
    "Quarantine summary",
]
NHS_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
UNKNOWN = "(unknown)"

# one worker builds the warehouse once (make test runs -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("quality_report")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A 2,000-person synthetic ICB as CSV (so some rows are quarantined), ingested."""
    from phm.ingest import ingest

    root = tmp_path_factory.mktemp("dqreport")
    src = root / "icb"
    assert (
        main(["synth", "--persons", "2000", "--seed", "5", "--format", "csv", "--out", str(src)])
        == 0
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHM_PSEUDO_KEY", "k" * 40)
        ingest(src, root / "wh.duckdb")
    return root / "wh.duckdb"


@pytest.fixture(scope="module")
def tables(warehouse) -> dict[str, pa.Table]:
    wh = connect(warehouse, read_only=True)
    try:
        return {
            n: wh.to_arrow(n)
            for n in ("dq_flags", "quarantine", "dq_results", "dq_rules", "dq_scores")
        }
    finally:
        wh.close()


@pytest.fixture(scope="module")
def reports(warehouse, tmp_path_factory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("reports")
    wh = connect(warehouse, read_only=True)
    try:
        return {
            "xlsx": write_report(wh, out / "full" / "dq.xlsx"),
            "html": write_report(wh, out / "full-html" / "dq.html"),
            "rkb_html": write_report(wh, out / "rkb" / "rkb.html", provider="RKB"),
            "rkb_xlsx": write_report(wh, out / "rkb" / "rkb.xlsx", provider="RKB"),
        }
    finally:
        wh.close()


def _submitters(t: pa.Table) -> list[str]:
    return [UNKNOWN if s is None else s for s in t["submitter"].to_pylist()]


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _xlsx_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))}


def _sheet_names(path: Path) -> list[str]:
    return re.findall(r'<sheet name="([^"]+)"', _xlsx_texts(path)["xl/workbook.xml"])


def _other_codes(tables, keep: str) -> set[str]:
    """Submitter codes other than ``keep`` that no rule text mentions (so their absence means something)."""
    rules_text = " ".join(str(v) for col in tables["dq_rules"].columns for v in col.to_pylist())
    codes = set(_submitters(tables["dq_results"])) | set(_submitters(tables["dq_flags"]))
    codes |= set(_submitters(tables["quarantine"]))
    return {c for c in codes if c != keep and not re.search(rf"\b{re.escape(c)}\b", rules_text)}


# --- workbook and web page -----------------------------------------------------------------


def test_xlsx_has_every_sheet_and_no_formulas(reports):
    path = reports["xlsx"][0]
    assert path.suffix == ".xlsx" and path.is_file()
    assert _sheet_names(path) == SHEETS
    texts = _xlsx_texts(path)
    sheets = {n: t for n, t in texts.items() if n.startswith("xl/worksheets/")}
    assert len(sheets) == len(SHEETS)
    assert not any("<f>" in t or "<f " in t for t in sheets.values())
    assert "passed with no failures" in texts["xl/sharedStrings.xml"]


def test_html_is_self_contained_and_accessible(reports):
    path = reports["html"][0]
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<table>" in text and "<caption" in text and '<th scope="col">' in text
    assert "#005EB8" in text and '<html lang="en">' in text
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    for title in SHEETS:
        assert f">{title}</h2>" in text
    assert "passed with no failures" in text

    class Balance(HTMLParser):
        VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag not in self.VOID:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
            self.stack.pop()

    p = Balance()
    p.feed(text)
    p.close()
    assert p.stack == []


def test_bad_suffix_is_a_user_error(warehouse, tmp_path):
    wh = connect(warehouse, read_only=True)
    try:
        for name in ("dq.pdf", "dq.csv", "dq"):
            with pytest.raises(UserError, match=r"\.xlsx.*\.html"):
                write_report(wh, tmp_path / name)
    finally:
        wh.close()
    assert list(tmp_path.iterdir()) == []


# --- record-level feedback -----------------------------------------------------------------


def test_each_feedback_file_holds_only_its_submitters_rows(reports, tables):
    files = reports["xlsx"][1:]
    assert files and all(f.parent.name == "dq-xlsx-feedback" and f.suffix == ".csv" for f in files)
    flags = Counter(_submitters(tables["dq_flags"]))
    quarantined = Counter(_submitters(tables["quarantine"]))
    assert sum(quarantined.values()) > 0, "the CSV synth should quarantine some rows"
    seen = set()
    for f in files:
        rows = _read_csv(f)
        with f.open(encoding="utf-8-sig", newline="") as fh:
            assert next(csv.reader(fh)) == list(FEEDBACK_COLUMNS)
        subs = {r["submitter"] for r in rows}
        assert subs <= {f.stem}
        sub = f.stem
        seen.add(sub)
        outcome = Counter(r["outcome"] for r in rows)
        assert outcome["flagged"] == flags[sub]
        assert outcome["quarantined"] == quarantined[sub]
        assert all(r["source_file"] and r["line"].isdigit() for r in rows)
        # the submitter's own record identifier, where its dataset has one (patients and prescriptions do not)
        assert all(r["record_id"] for r in rows if contracts()[r["dataset"]].record_id)
    assert set(flags) | set(quarantined) <= seen
    assert not {"person_id", "nhs_number"} & set(FEEDBACK_COLUMNS)


def test_feedback_is_deterministic(warehouse, reports, tmp_path):
    wh = connect(warehouse, read_only=True)
    try:
        again = write_report(wh, tmp_path / "dq.xlsx")
    finally:
        wh.close()
    first = reports["xlsx"]
    assert [p.name for p in again] == [p.name for p in first]
    for a, b in zip(first[1:], again[1:], strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first[0].read_bytes() == again[0].read_bytes()


# --- provider filter -----------------------------------------------------------------------


def test_provider_filter_excludes_other_submitters(reports, tables):
    others = _other_codes(tables, "RKB")
    assert {"RJC", "RLT", "M84001"} <= others
    for key in ("rkb_html", "rkb_xlsx"):
        out, *feedback = reports[key]
        assert [f.name for f in feedback] == ["RKB.csv"]
        assert sorted(p.name for p in feedback[0].parent.iterdir()) == ["RKB.csv"]
        text = (
            out.read_text(encoding="utf-8")
            if out.suffix == ".html"
            else "\n".join(_xlsx_texts(out).values())
        )
        assert re.search(r"\bRKB\b", text)
        leaked = sorted(c for c in others if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text))
        assert leaked == []
    rows = _read_csv(reports["rkb_html"][1])
    assert {r["submitter"] for r in rows} == {"RKB"}
    want = (
        Counter(_submitters(tables["dq_flags"]))["RKB"]
        + Counter(_submitters(tables["quarantine"]))["RKB"]
    )
    assert len(rows) == want > 0


def test_provider_report_replaces_stale_feedback(warehouse, tmp_path):
    wh = connect(warehouse, read_only=True)
    try:
        full = write_report(wh, tmp_path / "dq.html")
        assert len(full) > 3
        only = write_report(
            wh, tmp_path / "dq.html", provider="rkb"
        )  # codes match case-insensitively
    finally:
        wh.close()
    assert [p.name for p in only] == ["dq.html", "RKB.csv"]
    assert sorted(p.name for p in (tmp_path / "dq-html-feedback").iterdir()) == ["RKB.csv"]


def test_a_report_never_deletes_another_reports_feedback(warehouse, tmp_path):
    """Issue 16: 'phm dq --out x.html' after 'phm dq --out x.xlsx' deleted the workbook's
    feedback files. Each report file has its own folder and replaces only its own files."""
    wh = str(warehouse)
    assert main(["dq", "--warehouse", wh, "--out", str(tmp_path / "x.xlsx")]) == 0
    workbook = tmp_path / "x-xlsx-feedback"
    before = {p.name: p.read_bytes() for p in workbook.iterdir()}
    assert len(before) > 3 and "RKB.csv" in before
    assert main(["dq", "--warehouse", wh, "--out", str(tmp_path / "x.html"), "--provider", "RKB"]) == 0
    assert main(["dq", "--warehouse", wh, "--out", str(tmp_path / "y.xlsx"), "--provider", "RJC"]) == 0
    assert {p.name: p.read_bytes() for p in workbook.iterdir()} == before
    assert [p.name for p in (tmp_path / "x-html-feedback").iterdir()] == ["RKB.csv"]
    assert [p.name for p in (tmp_path / "y-xlsx-feedback").iterdir()] == ["RJC.csv"]
    # writing a report again replaces only its own feedback files, never someone's own CSV
    (workbook / "my-notes.csv").write_text("practice,note\nM84001,called them\n")
    assert main(["dq", "--warehouse", wh, "--out", str(tmp_path / "x.xlsx"), "--provider", "RKB"]) == 0
    assert sorted(p.name for p in workbook.iterdir()) == ["RKB.csv", "my-notes.csv"]
    assert (workbook / "RKB.csv").read_bytes() == before["RKB.csv"]


_HOLD = ("import sys; from phm.warehouse import connect; "
         "wh = connect(sys.argv[1], read_only=sys.argv[2] == 'read'); print('open', flush=True); sys.stdin.read()")


@contextmanager
def _held(path: Path, how: str):
    """Another process with ``path`` open, to ``read`` (as the dashboard has it) or ``write``;
    yields its PID."""
    with subprocess.Popen([sys.executable, "-c", _HOLD, str(path), how], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline() == "open\n"
        yield proc.pid
        proc.stdin.close()  # it exits, closing the warehouse
        proc.wait(timeout=60)


def test_dq_shares_the_warehouse_with_readers_and_says_who_to_stop(warehouse, tmp_path, capsys):
    """Issue 16: 'phm dq' refused to run while the dashboard served the warehouse, telling the
    user to wait for something that never ends. It reads the warehouse read-only, so it runs
    beside other readers; only recomputing needs the warehouse to itself, and then it names the
    process to stop."""
    copy = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, copy)
    out = tmp_path / "dq.html"
    dq = ["dq", "--warehouse", str(copy), "--out", str(out)]

    def error() -> str:
        err = capsys.readouterr().err
        assert err.startswith("phm: error: ") and err.count("\n") == 1 and "wait" not in err, err
        return err

    with _held(copy, "read") as pid:
        assert main(dq) == 0 and out.is_file()
        assert "Data-quality report" in capsys.readouterr().err
        assert main([*dq, "--recompute"]) == 2
        err = error()
        assert f"needs warehouse {copy} to itself, but it is open to read in python" in err
        assert f"(PID {pid}) (the dashboard, 'phm serve', keeps it open until stopped): stop that process" in err
        assert "leave out --recompute" in err
    out.unlink()
    with duckdb.connect(str(copy)) as con:  # data loaded since the rules ran: the tables are stale
        con.execute("DELETE FROM dq_state")
    with _held(copy, "read") as pid:
        assert main(dq) == 2
        err = error()
        assert "the data-quality tables are out of date" in err and "must be recomputed" in err
        assert f"(PID {pid})" in err and "stop that process, then run phm dq again" in err
    assert not out.exists()
    with _held(copy, "write") as pid:
        assert main(dq) == 2
        assert f"warehouse {copy} is being written by python" in error()
    assert main(dq) == 0 and out.is_file()  # alone, it recomputes
    with connect(copy, read_only=True) as wh:
        assert dq_is_current(wh)


def test_unknown_provider_is_a_user_error_listing_known_ones(warehouse, tmp_path):
    wh = connect(warehouse, read_only=True)
    try:
        with pytest.raises(UserError, match=r"unknown provider 'ZZZ99'.*RKB"):
            write_report(wh, tmp_path / "dq.html", provider="ZZZ99")
    finally:
        wh.close()
    assert list(tmp_path.iterdir()) == []


# --- safety --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("RKB", "RKB"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=already", "'=already"),
        (" =1", " =1"),
    ],
)
def test_neutralise(value, safe):
    assert neutralise(value) == safe


class _Stub:
    """A warehouse holding given Arrow tables (enough for write_report without a provider)."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.tables = tables

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def to_arrow(self, name: str) -> pa.Table:
        return self.tables[name]


def test_hostile_cells_are_neutralised_and_nhs_numbers_masked(warehouse, tmp_path):
    wh = connect(warehouse, read_only=True)
    try:
        base = {
            n: wh.to_arrow(n)
            for n in ("dq_results", "dq_rules", "dq_flags", "quarantine", "load_ledger")
        }
    finally:
        wh.close()
    q = base["quarantine"]
    hostile = [
        {
            "dataset": "op_attendances",
            "_source": "=cmd|'/c calc'!A1.csv",
            "_line": 5,
            "column": "@col",
            "rule_id": "ING-CELL-01",
            "reason": "+bad value 943 476 5919",
            "value": '=HYPERLINK("x")',
            "problems": 1,
            "submitter": "RKB",
            "record_id": "-R1",
        },
        {
            "dataset": "op_attendances",
            "_source": "a.csv",
            "_line": 6,
            "column": "x",
            "rule_id": "ING-CELL-01",
            "reason": "\tr",
            "value": "9434765919",
            "problems": 1,
            "submitter": None,
            "record_id": "9434765919",
        },
    ]
    base["quarantine"] = pa.Table.from_pylist(hostile, schema=q.schema)
    stub = _Stub(base)
    csv_paths = write_report(stub, tmp_path / "x.xlsx")[1:]
    html_path = write_report(stub, tmp_path / "y.html")[0]
    rkb = _read_csv(tmp_path / "x-xlsx-feedback" / "RKB.csv")
    bad = [r for r in rkb if r["outcome"] == "quarantined"]
    assert len(bad) == 1
    assert bad[0]["source_file"].startswith("'=") and bad[0]["column"] == "'@col"
    assert bad[0]["record_id"] == "'-R1" and bad[0]["value"] == '\'=HYPERLINK("x")'
    assert bad[0]["description"].startswith("'+") and "*******919" in bad[0]["description"]
    unknown = [
        p
        for p in csv_paths
        if p.stem not in {"RKB"} and _read_csv(p) and _read_csv(p)[0]["submitter"] == UNKNOWN
    ]
    assert len(unknown) == 1 and unknown[0].name == "unknown.csv"
    row = _read_csv(unknown[0])[0]
    assert row["description"] == "'\tr" and row["value"] == row["record_id"] == "*******919"
    for text in [
        *_xlsx_texts(tmp_path / "x.xlsx").values(),
        html_path.read_text(encoding="utf-8"),
        *(p.read_text(encoding="utf-8-sig") for p in csv_paths),
    ]:
        assert "9434765919" not in text and "943 476 5919" not in text
    strings = _xlsx_texts(tmp_path / "x.xlsx")
    assert not any("<f>" in t for n, t in strings.items() if n.startswith("xl/worksheets/"))


def test_no_valid_nhs_number_in_any_output(reports):
    paths = [p for written in reports.values() for p in written]
    texts = []
    for p in paths:
        if p.suffix == ".xlsx":
            texts += [(f"{p.name}:{n}", t) for n, t in _xlsx_texts(p).items()]
        else:
            texts.append((p.name, p.read_text(encoding="utf-8-sig")))
    assert len(texts) > 10
    found = [
        (name, m.group())
        for name, t in texts
        for m in NHS_LIKE.finditer(t)
        if is_valid_nhs_number(m.group())
    ]
    assert found == []
