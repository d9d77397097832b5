"""Ingest acceptance: planted defects found exactly, rows accounted for, no raw NHS numbers,
keyed pseudonyms, idempotent and restatable loads, profiles and database sources."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from phm.cli import main
from phm.codes import is_valid_nhs_number
from phm.errors import UserError
from phm.quality import rules
from phm.schema import contract, dataset_names
from phm.warehouse import connect, table_checksum
from phm_testing import OTHER_KEY, TEST_KEY, ingest_with_key

from .truth_map import KIND_TO_RULE, expected_totals, rule_totals

pytestmark = pytest.mark.xdist_group("ingest")

_TEN_DIGITS = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


def raw_nhs_numbers_in(text: str) -> list[str]:
    """Ten-digit runs (spaced or not) with a valid NHS number check digit. A whole 64-character
    hex digest (a SHA-256 or HMAC: the ledger's file hashes, pseudonyms) is left out: it is a hash,
    and by chance about one in twenty holds a ten-digit run that passes the check."""
    return [m for m in _TEN_DIGITS.findall(_DIGEST.sub(" ", text)) if is_valid_nhs_number(m)]


def _assert_counts_equal_truth(wh_path, synth_dir):
    defects = json.loads((synth_dir / "truth" / "defects.json").read_text())
    with connect(wh_path) as wh:
        got = rule_totals(wh)
    rule_ids = [r.rule_id for r in rules()]
    want = expected_totals(defects, dataset_names(), rule_ids)
    wrong = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) != v}
    assert not wrong, f"(dataset, rule): (found, planted) {wrong}"
    planted = {(d, k) for d, kinds in defects.items() for k, n in kinds.items() if n}
    return planted


def test_every_planted_defect_kind_has_a_rule():
    ids = {r.rule_id for r in rules()}
    assert set(KIND_TO_RULE.values()) - {None} <= ids


def test_planted_defects_found_exactly_parquet(icb10k, icb10k_duckdb):
    planted = _assert_counts_equal_truth(icb10k_duckdb, icb10k)
    assert len({k for _, k in planted}) >= 17  # every parquet-possible kind was planted and found


def test_planted_defects_found_exactly_csv(icb_small_csv, tmp_path):
    wh = tmp_path / "w.duckdb"
    report = ingest_with_key(icb_small_csv, wh)
    assert not report.failed
    planted = _assert_counts_equal_truth(wh, icb_small_csv)
    kinds = {k for _, k in planted}
    assert {"excel_nhs_scientific", "excel_leading_zero_lost", "excel_date_ddmmyyyy"} <= kinds


def test_rows_in_equal_loaded_plus_quarantined(icb10k, icb10k_duckdb):
    manifest = json.loads((icb10k / "manifest.json").read_text())
    with connect(icb10k_duckdb) as wh:
        led = wh.to_arrow("load_ledger").to_pylist()
        q = wh.to_arrow("quarantine")
        assert len(led) == 12  # one file per dataset, and the refreshed APC extract
        for row in led:
            assert row["rows_in"] == row["rows_loaded"] + row["rows_quarantined"], row["source"]
            assert row["rows_in"] == manifest["files"][row["source"]]["rows"]
            raw = wh.table(f"raw_{row['dataset']}")
            assert raw.filter(raw._source == row["source"]).count().to_pyarrow().as_py() == row["rows_loaded"]
            assert (pc.sum(pc.equal(q["_source"], row["source"])).as_py() or 0) == row["rows_quarantined"]


def test_no_raw_nhs_number_anywhere_in_the_warehouse_or_logs(icb_small_csv, tmp_path, capsys):
    wh = tmp_path / "w.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHM_PSEUDO_KEY", TEST_KEY)
        timings = tmp_path / "timings.json"
        assert main(["ingest", str(icb_small_csv), "--warehouse", str(wh), "--timings",
                     "--timings-json", str(timings)]) == 0
        assert main(["dq", "--warehouse", str(wh), "--out", str(tmp_path / "dq.html")]) == 0
    out = capsys.readouterr()
    assert raw_nhs_numbers_in(out.out + out.err) == []
    # --timings: every dataset's rows, time and memory, its parts, and the data-quality rules
    assert "phm ingest: where the time goes" in out.err
    assert re.search(r"patients: \S+: done in [0-9.]+ s, [0-9,]+ rows", out.err)  # progress off a terminal
    steps = {s["step"]: s for s in json.loads(timings.read_text())["steps"]}
    manifest = json.loads((icb_small_csv / "manifest.json").read_text())
    datasets = [s for name, s in steps.items() if " · " not in name and s["rows"] is not None]
    assert sum(s["rows"] for s in datasets) == sum(f["rows"] for f in manifest["files"].values())
    assert {"patients · read", "patients · validate", "patients · pseudonymise", "data-quality rules"} <= set(steps)
    assert all(s["seconds"] >= 0 and s["peak_gb"] > 0.05 for s in steps.values())
    # the source really does hold NHS numbers, so the scans below can find them
    source_numbers = set()
    for f in icb_small_csv.glob("*.csv"):
        source_numbers |= set(raw_nhs_numbers_in(f.read_text()))
    assert len(source_numbers) > 3000
    found = {}
    with connect(wh) as w:
        for name in w.list_tables():
            t = w.to_arrow(name)
            for col in t.column_names:
                typ = t.schema.field(col).type
                if pa.types.is_string(typ) or pa.types.is_integer(typ):
                    values = {str(v) for v in t[col].to_pylist() if v is not None}
                    hits = [v for v in values if raw_nhs_numbers_in(v)]
                    if hits:
                        found[f"{name}.{col}"] = len(hits)
    assert found == {}
    # the DuckDB file itself, byte for byte (catches anything the tables hide, e.g. freed pages);
    # DuckDB's own binary holds the digit run 0123456789, so look for the source's numbers
    data = (tmp_path / "w.duckdb").read_bytes().decode("latin-1")
    assert set(raw_nhs_numbers_in(data)) & source_numbers == set()
    for p in tmp_path.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".html"):
            assert raw_nhs_numbers_in(p.read_text(errors="replace")) == [], p


def _patient_ids(wh_path) -> set[int]:
    with connect(wh_path) as wh:
        t = wh.to_arrow("raw_patients")
    return {v for v in t["person_id"].to_pylist() if v is not None}


def test_pseudonyms_depend_on_the_key(icb_small, tmp_path):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    src = icb_small / "patients.parquet"
    ingest_with_key(src, a, run_dq=False)
    ingest_with_key(src, b, run_dq=False)
    ingest_with_key(src, c, key=OTHER_KEY, run_dq=False)
    ids_a, ids_b, ids_c = _patient_ids(a), _patient_ids(b), _patient_ids(c)
    assert len(ids_a) > 900
    assert ids_a == ids_b
    assert not ids_a & ids_c
    # invalid or missing numbers never get a pseudonym
    with connect(a) as wh:
        t = wh.to_arrow("raw_patients")
    status = t["nhs_number_status"].to_pylist()
    pid = t["person_id"].to_pylist()
    assert all((p is None) == (s != "valid") for p, s in zip(pid, status, strict=True))
    assert {"missing", "invalid_check_digit", "valid"} <= set(status)


def test_a_different_key_is_refused_by_an_existing_warehouse(icb_small, tmp_path):
    wh = tmp_path / "w.duckdb"
    ingest_with_key(icb_small / "deaths.parquet", wh, run_dq=False)
    with pytest.raises(UserError, match="pseudonymised with key"):
        ingest_with_key(icb_small / "patients.parquet", wh, key=OTHER_KEY, run_dq=False)


def test_no_key_is_a_clear_error(icb_small, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PHM_PSEUDO_KEY", raising=False)
    code = main(["ingest", str(icb_small), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no pseudonymisation key" in err and "Traceback" not in err
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize("kind", ["parquet", "text", "empty"])
def test_a_warehouse_that_is_not_a_duckdb_file_is_refused(icb_small, tmp_path, monkeypatch, capsys, kind):
    """Issue 16: 'phm ingest SRC --warehouse existing.parquet' reported rows loaded and saved
    nothing (DuckDB opened the Parquet file as a read-only view). Every command taking
    --warehouse refuses a file that is not a DuckDB database, in one line, touching nothing."""
    monkeypatch.setenv("PHM_PSEUDO_KEY", TEST_KEY)
    monkeypatch.setenv("PHM_PASSWORD", "correct-horse-battery")
    target = tmp_path / {"parquet": "existing.parquet", "text": "notes.duckdb", "empty": "empty.duckdb"}[kind]
    if kind == "parquet":
        shutil.copy(icb_small / "deaths.parquet", target)
    else:
        target.write_text("" if kind == "empty" else "not a warehouse\n")
    before = target.read_bytes()
    what = {"parquet": "is a Parquet file", "text": "is not a DuckDB file", "empty": "is empty"}[kind]
    for command in (["ingest", str(icb_small / "deaths.parquet")], ["build"], ["dq", "--out", str(tmp_path / "dq.html")],
                    ["serve", "--port", "0"], ["user", "add", "someone", "--role", "analyst", "--org", "QWU"]):
        code = main([*command, "--warehouse", str(target)])
        err = capsys.readouterr().err
        assert code == 3, (command, err)
        assert err.startswith(f"phm: error: warehouse {target} {what}, not a DuckDB warehouse") and err.count("\n") == 1
        assert "nothing was read or written" in err and "Traceback" not in err
    code = main(["ingest", str(icb_small / "deaths.parquet"), "--warehouse", str(target), "--backend", "spark"])
    assert code == 3 and "is a file, not a Spark warehouse folder" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no report, no auth store
    with pytest.raises(UserError, match=f"{what}, not a DuckDB warehouse"):  # phm.connect() and ingest() too
        connect(target, create=True)


def test_short_key_is_refused(icb_small, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHM_PSEUDO_KEY", "short")
    assert main(["ingest", str(icb_small), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert "too short" in capsys.readouterr().err


def test_key_file_and_demo_key_are_never_in_the_warehouse(icb_small, tmp_path, monkeypatch):
    monkeypatch.delenv("PHM_PSEUDO_KEY", raising=False)
    monkeypatch.setenv("PHM_DEMO_KEY_FILE", str(tmp_path / "keys" / "demo.key"))
    assert main(["ingest", str(icb_small / "deaths.parquet"), "--warehouse", str(tmp_path / "d.duckdb"),
                 "--demo", "--no-dq"]) == 0
    key = (tmp_path / "keys" / "demo.key").read_text().strip()
    assert len(key) >= 32
    assert key.encode() not in (tmp_path / "d.duckdb").read_bytes()
    kf = tmp_path / "controller.key"
    kf.write_text(TEST_KEY)
    assert main(["ingest", str(icb_small / "deaths.parquet"), "--warehouse", str(tmp_path / "k.duckdb"),
                 "--key-file", str(kf), "--no-dq"]) == 0
    assert TEST_KEY.encode() not in (tmp_path / "k.duckdb").read_bytes()


def _checksums(wh_path) -> dict[str, str]:
    with connect(wh_path) as wh:
        return {t: table_checksum(wh, t) for t in wh.list_tables()}


def test_second_ingest_changes_nothing(icb_small, tmp_path):
    wh = tmp_path / "w.duckdb"
    first = ingest_with_key(icb_small, wh)
    before = _checksums(wh)
    second = ingest_with_key(icb_small, wh)
    assert {r.status for r in first.results} == {"loaded"}
    assert {r.status for r in second.results} == {"unchanged"}
    assert _checksums(wh) == before  # the ledger's load times included


def test_restated_file_replaces_its_predecessor(icb_small, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(icb_small, src)
    wh = tmp_path / "w.duckdb"
    ingest_with_key(src, wh)
    t = pq.read_table(src / "op_attendances.parquet")
    restated = t.slice(0, t.num_rows - 100)
    pq.write_table(restated, src / "op_attendances.parquet")
    report = ingest_with_key(src, wh)
    status = {r.name: r.status for r in report.results}
    assert status["op_attendances.parquet"] == "replaced"
    assert {s for n, s in status.items() if n != "op_attendances.parquet"} == {"unchanged"}
    with connect(wh) as w:
        assert w.table("raw_op_attendances").count().to_pyarrow().as_py() == restated.num_rows
        led = [r for r in w.to_arrow("load_ledger").to_pylist() if r["source"] == "op_attendances.parquet"]
    assert [r["status"] for r in led] == ["superseded", "current"]
    assert led[1]["rows_in"] == restated.num_rows
    # the same content as a fresh load of the restated files
    fresh = tmp_path / "fresh.duckdb"
    ingest_with_key(src, fresh)
    a, b = _checksums(wh), _checksums(fresh)
    for name in a:
        if name not in ("load_ledger", "dq_state"):  # these record the load history, which differs
            assert a[name] == b[name], name


def test_hes_profile_maps_hes_columns(icb_small, tmp_path):
    apc = pq.read_table(icb_small / "apc_episodes.parquet")
    hes = {"episode_id": "EPIKEY", "nhs_number": "NEWNHSNO", "provider_code": "PROCODE3", "spell_id": "SUSSPELLID",
           "episode_order": "EPIORDER", "admission_date": "ADMIDATE", "discharge_date": "DISDATE",
           "episode_start": "EPISTART", "episode_end": "EPIEND", "admission_method": "ADMIMETH",
           "admission_source": "ADMISORC", "discharge_method": "DISMETH", "discharge_destination": "DISDEST",
           "patient_classification": "CLASSPAT", "treatment_function_code": "TRETSPEF", "hrg_code": "SUSHRG",
           "practice_code": "GPPRAC", "lsoa": "LSOA11", "episode_status": "EPISTAT", "episode_type": "EPITYPE",
           "administrative_category": "ADMINCAT", "commissioner_code": "PURCODE"}
    hes |= {f"diag_{i:02d}": f"DIAG_4_{i:02d}" for i in range(1, 21)}  # all 20 positions
    hes |= {f"opertn_{i:02d}": f"OPERTN_4_{i:02d}" for i in range(1, 25)}  # all 24 positions
    renamed = apc.rename_columns([hes.get(c, c) for c in apc.column_names]).drop(["cost"])
    (tmp_path / "hes").mkdir()
    import pyarrow.csv as pacsv

    pacsv.write_csv(renamed, tmp_path / "hes" / "hes_apc_2324.csv")
    report = ingest_with_key(tmp_path / "hes", tmp_path / "h.duckdb", profile="hes", run_dq=False)
    (r,) = report.results
    assert (r.dataset, r.status, r.rows_loaded) == ("apc_episodes", "loaded", apc.num_rows)
    assert any("cost" in n for n in r.notes)  # the missing optional column is noted, loaded as empty
    ingest_with_key(icb_small / "apc_episodes.parquet", tmp_path / "c.duckdb", run_dq=False)
    with connect(tmp_path / "h.duckdb") as a, connect(tmp_path / "c.duckdb") as b:
        ta = a.to_arrow("raw_apc_episodes").drop(["_source", "cost"]).sort_by("_line")
        tb = b.to_arrow("raw_apc_episodes").drop(["_source", "cost"]).sort_by("_line")
    # CSV line numbers are one more than parquet row numbers (the header is line 1)
    ta = ta.set_column(ta.column_names.index("_line"), "_line", pc.subtract(ta["_line"], 1))
    assert ta.equals(tb)


def test_user_profile_yaml(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "DEATHS_EXTRACT.txt").write_text(
        "REG_ID|PATIENT_NHS|DOD|CAUSE|PLACE\nD1|943 476 5919|05/03/2023|I219|home\nD2||31/12/2022|C349|hospital\n",
        encoding="cp1252")
    (tmp_path / "p.yaml").write_text(
        "name: registry\nencoding: cp1252\ndelimiter: '|'\ndate_format: '%d/%m/%Y'\n"
        "datasets:\n  deaths:\n    files: ['DEATHS_*']\n    columns:\n      death_registration_id: REG_ID\n"
        "      nhs_number: PATIENT_NHS\n      date_of_death: DOD\n      underlying_cause: CAUSE\n"
        "      place_of_death: PLACE\n")
    report = ingest_with_key(tmp_path / "in", tmp_path / "w.duckdb", profile=tmp_path / "p.yaml", run_dq=False)
    (r,) = report.results
    assert (r.dataset, r.rows_loaded, r.rows_quarantined) == ("deaths", 2, 0)
    with connect(tmp_path / "w.duckdb") as wh:
        t = wh.to_arrow("raw_deaths").sort_by("_line").to_pylist()
    assert [str(x["date_of_death"]) for x in t] == ["2023-03-05", "2022-12-31"]
    assert [x["nhs_number_status"] for x in t] == ["valid", "missing"]


@pytest.mark.parametrize("text, message", [
    ("name: x\ndatasets:\n  nonsense: {}\n", "not a phm dataset"),
    ("name: x\ndatasets:\n  deaths:\n    columns: {colour: C}\n", "not a column of the contract"),
    ("name: [unclosed\n", "not valid YAML"),
    ("just a string\n", "must be a mapping"),
    ("name: x\ndelimiter: ';;'\n", "one character"),
])
def test_bad_profile_is_a_one_line_error(tmp_path, text, message, capsys, monkeypatch):
    monkeypatch.setenv("PHM_PSEUDO_KEY", TEST_KEY)
    (tmp_path / "p.yaml").write_text(text)
    (tmp_path / "deaths.csv").write_text("death_registration_id,nhs_number,date_of_death\n")
    code = main(["ingest", str(tmp_path / "deaths.csv"), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--profile", str(tmp_path / "p.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_database_source_gives_the_same_rows_as_files(icb_small, tmp_path):
    db = tmp_path / "source.duckdb"
    con = duckdb.connect(str(db))
    for name in ("patients", "deaths", "apc_episodes"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{icb_small / (name + '.parquet')}')")
    con.close()
    url = f"duckdb://{db}"
    first = ingest_with_key(url, tmp_path / "a.duckdb", run_dq=False)
    assert {r.dataset for r in first.results} == {"patients", "deaths", "apc_episodes"}
    again = ingest_with_key(url, tmp_path / "a.duckdb", run_dq=False)
    assert {r.status for r in again.results} == {"unchanged"}
    for name in ("patients", "deaths", "apc_episodes"):
        ingest_with_key(icb_small / f"{name}.parquet", tmp_path / "b.duckdb", run_dq=False)
    with connect(tmp_path / "a.duckdb") as a, connect(tmp_path / "b.duckdb") as b:
        for name in ("patients", "deaths", "apc_episodes"):
            cols = [c for c in a.to_arrow(f"raw_{name}").column_names if c not in ("_source", "_line")]
            ta = a.to_arrow(f"raw_{name}").select(cols)
            tb = b.to_arrow(f"raw_{name}").select(cols)
            key = [(c, "ascending") for c in cols if c != "inpatient"]
            assert ta.sort_by(key).equals(tb.sort_by(key)), name


def test_unreachable_database_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PHM_PSEUDO_KEY", TEST_KEY)
    code = main(["ingest", "postgres://phm:secret@127.0.0.1:1/none", "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 3 and "cannot connect" in err and "secret" not in err and "Traceback" not in err


def test_ingest_cli_prints_a_summary_and_fails_on_a_bad_file(icb_small, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PHM_PSEUDO_KEY", TEST_KEY)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(icb_small / "deaths.parquet", src)
    (src / "social_care.csv").write_text("service_id,nhs_number,la_code,service_type,start_date,end_date,weekly_cost\n"
                                         '"S1,9434765919,E07000218,home_care,2023-01-01,,100\n')
    (src / "notes.docx").write_bytes(b"PK\x03\x04")
    code = main(["ingest", str(src), "--warehouse", str(tmp_path / "w.duckdb")])
    out = capsys.readouterr()
    assert code == 3
    assert "deaths.parquet" in out.err and "loaded" in out.err
    assert "social_care.csv, line 2" in out.err and "never closed" in out.err
    assert "skipped notes.docx" in out.err
    assert "Traceback" not in out.err
    with connect(tmp_path / "w.duckdb") as wh:
        assert not wh.has_table("raw_social_care") or wh.table("raw_social_care").count().to_pyarrow().as_py() == 0
        assert wh.table("raw_deaths").count().to_pyarrow().as_py() > 0


def test_contracts_cover_every_synth_dataset():
    from phm.synth.run import DATASETS

    assert set(DATASETS) == set(dataset_names())
    for name in DATASETS:
        c = contract(name)
        assert c.has_nhs_number
        assert c.activity_date in c.columns


def test_data_dictionary_page_is_up_to_date():
    from pathlib import Path

    from phm.schema import data_dictionary_markdown

    page = Path(__file__).parents[2] / "docs" / "data-dictionary.md"
    assert page.read_text(encoding="utf-8") == data_dictionary_markdown(), \
        "regenerate with: phm schema docs --out docs/data-dictionary.md"


def test_every_rule_is_documented():
    from pathlib import Path

    from phm.quality.catalogue import rules_markdown

    page = (Path(__file__).parents[2] / "docs" / "data-quality.md").read_text(encoding="utf-8")
    assert rules_markdown() in page, "paste phm.quality.catalogue.rules_markdown() into docs/data-quality.md"
    for r in rules():
        assert f"`{r.rule_id}`" in page, f"{r.rule_id} is not in docs/data-quality.md"
        assert r.description and r.source and 0 <= r.threshold <= 1
    ids = [r.rule_id for r in rules()]
    assert len(ids) == len(set(ids))
    assert sorted(set(re.findall(r"`((?:DQ|ING)-[A-Z]+-\d\d)`", page))) == sorted(ids)


def test_stale_data_quality_is_recomputed(icb_small, tmp_path):
    """A crash between a load's commit and the data-quality commit must not leave stale dq_* tables."""
    src = tmp_path / "src"
    shutil.copytree(icb_small, src)
    wh = tmp_path / "w.duckdb"
    ingest_with_key(src, wh)
    t = pq.read_table(src / "deaths.parquet")
    pq.write_table(t.slice(0, t.num_rows - 5), src / "deaths.parquet")
    ingest_with_key(src, wh, run_dq=False)  # the state a kill after the load's commit leaves
    report = ingest_with_key(src, wh)
    assert {r.status for r in report.results} == {"unchanged"}
    assert report.dq_computed
    with connect(wh) as w:
        from phm.quality import dq_is_current

        assert dq_is_current(w)
        res = w.to_arrow("dq_results")
    deaths_records = sum(r for d, r, rule in zip(res["dataset"].to_pylist(), res["records"].to_pylist(),
                                                 res["rule_id"].to_pylist(), strict=True)
                         if d == "deaths" and rule == "DQ-NHS-01")
    assert deaths_records == t.num_rows - 5


def test_a_changed_profile_reloads_an_unchanged_file(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "deaths.csv").write_text(
        "death_registration_id,nhs_number,date_of_death\nD1,9434765919,05/03/2023\n")
    first = ingest_with_key(tmp_path / "in", tmp_path / "w.duckdb", run_dq=False)
    assert (first.results[0].rows_loaded, first.results[0].rows_quarantined) == (0, 1)
    (tmp_path / "p.yaml").write_text("name: dmy\ndate_format: '%d/%m/%Y'\n")
    second = ingest_with_key(tmp_path / "in", tmp_path / "w.duckdb", profile=tmp_path / "p.yaml", run_dq=False)
    assert (second.results[0].status, second.results[0].rows_loaded) == ("replaced", 1)
    with connect(tmp_path / "w.duckdb") as wh:
        assert wh.to_arrow("quarantine").num_rows == 0


def test_a_source_that_changes_dataset_leaves_no_rows_behind(icb_small, tmp_path):
    f = tmp_path / "extract.parquet"
    shutil.copy(icb_small / "community_contacts.parquet", f)
    ingest_with_key(f, tmp_path / "w.duckdb", dataset="community_contacts", run_dq=False)
    t = pq.read_table(f).drop(["duration_minutes", "contact_mode", "service_type"])
    t = t.append_column("team_type", pa.array(["A02"] * t.num_rows)).append_column(
        "contact_type", pa.array(["face_to_face"] * t.num_rows)).append_column(
        "inpatient", pa.array([False] * t.num_rows))
    pq.write_table(t, f)
    ingest_with_key(f, tmp_path / "w.duckdb", dataset="mh_contacts", run_dq=False)
    with connect(tmp_path / "w.duckdb") as wh:
        assert wh.table("raw_community_contacts").count().to_pyarrow().as_py() == 0
        assert wh.table("raw_mh_contacts").count().to_pyarrow().as_py() == t.num_rows


def test_a_sentinel_death_date_does_not_make_activity_after_death(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "deaths.csv").write_text(
        "death_registration_id,nhs_number,date_of_death\nD1,9434765919,1800-01-01\n")
    (tmp_path / "in" / "prescriptions.csv").write_text(
        "nhs_number,month,bnf_code,items,practice_code\n9434765919,2023-01-01,0212000AAAAAAAA,1,M84001\n")
    ingest_with_key(tmp_path / "in", tmp_path / "w.duckdb", extract_date=dt.date(2024, 3, 31))
    with connect(tmp_path / "w.duckdb") as wh:
        got = rule_totals(wh)
    assert got[("deaths", "DQ-DATE-02")] == 1
    assert got[("prescriptions", "DQ-DATE-05")] == 0
