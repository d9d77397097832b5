"""A corpus of malformed input files, built byte by byte, and what ``phm ingest`` must do
with each: load it, quarantine the bad rows with a rule ID and line, or fail the file with
a one-line message that names it (and the line). ``ingest`` never raises for a bad file,
rows in always equals rows loaded plus rows quarantined, and no NHS number reaches an
error message or the quarantine table.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from phm.codes import is_valid_nhs_number
from phm.ingest import ingest
from phm.warehouse import connect

# ibis's DuckDB backend calls duckdb's deprecated fetch_arrow_table(); not ours to fix here
pytestmark = pytest.mark.filterwarnings(
    r"ignore:fetch_arrow_table\(\) is deprecated:DeprecationWarning"
)

KEY = "bad-file-corpus-test-key-0123456789abcdef"
NHS = ("9434765919", "9434765870", "9990000026")  # valid test NHS numbers

DEATHS = "death_registration_id,nhs_number,date_of_death,underlying_cause,place_of_death"
R1 = "D1,9434765919,2023-01-05,I219,Home"
R2 = "D2,9434765870,2023-02-10,C349,Hospital"
R3 = "D3,9990000026,2023-03-15,J189,Care home"

SOCIAL = "service_id,nhs_number,la_code,service_type,start_date,end_date,weekly_cost"
S1 = "S1,9434765919,E08000025,home care,2023-01-05,,250.00"
S3 = "S3,9990000026,E08000025,residential,2023-03-01,2023-06-30,910.5"

OP = "attendance_id,nhs_number,provider_code,appointment_date,referral_source"


def text(*lines: str, eol: str = "\n", encoding: str = "utf-8") -> bytes:
    return (eol.join(lines) + eol).encode(encoding)


def parquet_bytes(table: pa.Table, **kw) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kw)
    return buf.getvalue()


DEATHS_TABLE = pa.table(
    {
        "death_registration_id": ["D1", "D2", "D3"],
        "nhs_number": list(NHS),
        "date_of_death": ["2023-01-05", "2023-02-10", "2023-03-15"],
        "underlying_cause": ["I219", "C349", "J189"],
        "place_of_death": ["Home" * 40, "Hospital" * 20, "Care home" * 20],
    }
)


def big_gzip_truncated() -> bytes:
    """A gzip whose damage lies past the 64 KB the reader samples: found mid-stream."""
    rows = [f"D{i},9434765919,2023-01-05,I219,Home" for i in range(6000)]
    whole = gzip.compress(text(DEATHS, *rows), mtime=0)
    return whole[: len(whole) * 3 // 4]


def corrupt_gzip_crc() -> bytes:
    z = bytearray(gzip.compress(text(DEATHS, R1, R2), mtime=0))
    z[-8] ^= 0xFF  # the CRC-32 in the trailer
    return bytes(z)


def corrupt_parquet_page() -> bytes:
    b = bytearray(parquet_bytes(DEATHS_TABLE, compression="snappy", use_dictionary=False))
    for i in range(120, 136):  # inside the first column chunk; the footer is intact
        b[i] ^= 0xFF
    return bytes(b)


@dataclass
class Outcome:
    report: object
    result: object
    quarantine: list[dict]
    raw: list[dict]
    dq: list[dict]


@dataclass
class Case:
    id: str
    files: dict[str, bytes | Callable[[], bytes]]
    status: str = "loaded"
    rows: tuple[int, int, int] | None = None  # rows_in, rows_loaded, rows_quarantined
    rules: list[tuple[str, int, str | None]] = field(
        default_factory=list
    )  # (rule_id, _line, column)
    error: list[str] = field(
        default_factory=list
    )  # words the error must contain (case-insensitive)
    notes: list[str] = field(default_factory=list)  # words some note must contain
    dataset: str | None = "deaths"  # None: ingest the folder, names decide
    kwargs: dict = field(default_factory=dict)
    profile: str | None = None  # YAML text of a profile file
    run_dq: bool = False
    check: Callable[[Outcome], None] | None = None

    def __str__(self) -> str:
        return self.id


def _raw_col(col: str):
    def get(o: Outcome) -> list:
        return [r[col] for r in sorted(o.raw, key=lambda r: r["_line"])]

    return get


def expect_raw(col: str, values: list) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        assert _raw_col(col)(o) == values

    return check


def all_of(*checks: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        for c in checks:
            c(o)

    return check


def nothing_loaded(o: Outcome) -> None:
    assert o.raw == [] and o.quarantine == []


def masked_value(o: Outcome) -> None:
    (q,) = o.quarantine
    assert q["value"] is not None and q["value"].endswith("919") and "*" in q["value"]


def value_short(o: Outcome) -> None:
    (q,) = o.quarantine
    assert len(q["value"]) <= 60


def dq_val01(o: Outcome) -> None:
    fails = sum(
        r["failures"]
        for r in o.dq
        if r["dataset"] == "op_attendances" and r["rule_id"] == "DQ-VAL-01"
    )
    assert fails == 1


def skipped(o: Outcome) -> None:
    assert any(
        s.startswith("mystery_extract.csv") and "matches no dataset" in s for s in o.report.skipped
    )
    assert any(s.startswith("notes.docx") and "not CSV or parquet" in s for s in o.report.skipped)
    assert [r.name for r in o.report.results] == ["deaths.csv"]


FAILED = {"status": "failed", "rows": (0, 0, 0)}

CASES: list[Case] = [
    # -- encodings -------------------------------------------------------------------------------
    Case(
        "utf8-bom",
        {"deaths.csv": b"\xef\xbb\xbf" + text(DEATHS, R1, R2)},
        rows=(2, 2, 0),
        check=expect_raw("death_registration_id", ["D1", "D2"]),
    ),
    Case(
        "utf8-multibyte",
        {"deaths.csv": text(DEATHS, R1 + " of Zoë Ørsted", R2)},
        rows=(2, 2, 0),
        check=expect_raw("place_of_death", ["Home of Zoë Ørsted", "Hospital"]),
    ),
    Case(
        "cp1252-accent-pound",
        {"deaths.csv": text(DEATHS, R1.replace("Home", "Café £5 ward"), R2, encoding="cp1252")},
        rows=(2, 2, 0),
        check=expect_raw("place_of_death", ["Café £5 ward", "Hospital"]),
    ),
    Case(
        "cp1252-smart-quote",
        {"deaths.csv": text(DEATHS, R1.replace("Home", "St John’s Hospice"), encoding="cp1252")},
        rows=(1, 1, 0),
        check=expect_raw("place_of_death", ["St John’s Hospice"]),
    ),
    Case(
        "latin1-accent",
        {"deaths.csv": text(DEATHS, R1.replace("Home", "Hôpital Sainte-Anne"), encoding="latin-1")},
        rows=(1, 1, 0),
        check=expect_raw("place_of_death", ["Hôpital Sainte-Anne"]),
    ),
    Case(
        "invalid-utf8-stated",
        {"deaths.csv": text(DEATHS, R1, R2).replace(b"Hospital", b"Hosp\xff\xfeital")},
        kwargs={"encoding": "utf-8"},
        rows=(2, 1, 1),
        rules=[("ING-ENC-01", 3, "place_of_death")],
    ),
    Case(
        "invalid-utf8-sniffed",
        {
            "deaths.csv": text(DEATHS, R1.replace("Home", "Zoë’s home"), R2, R3).replace(
                b"Hospital", b"Hosp\xffital"
            )
        },
        rows=(3, 2, 1),
        rules=[("ING-ENC-01", 3, "place_of_death")],
        check=expect_raw("place_of_death", ["Zoë’s home", "Care home"]),
    ),
    Case(
        "utf16-le-bom",
        {"deaths.csv": text(DEATHS, R1, R2, encoding="utf-16")},
        rows=(2, 2, 0),
        check=expect_raw("place_of_death", ["Home", "Hospital"]),
    ),
    Case(
        "utf16-be-bom",
        {"deaths.csv": b"\xfe\xff" + text(DEATHS, R1, R2, encoding="utf-16-be")},
        rows=(2, 2, 0),
        check=expect_raw("death_registration_id", ["D1", "D2"]),
    ),
    Case(
        "utf16-no-bom",
        {"deaths.csv": text(DEATHS, R1, encoding="utf-16-le")},
        **FAILED,
        error=["deaths.csv, line 1", "NUL", "UTF-16"],
    ),
    # -- delimiters and line endings -------------------------------------------------------------
    Case("semicolon", {"deaths.csv": text(DEATHS, R1, R2).replace(b",", b";")}, rows=(2, 2, 0)),
    Case("tab", {"deaths.tsv": text(DEATHS, R1, R2).replace(b",", b"\t")}, rows=(2, 2, 0)),
    Case("pipe", {"deaths.psv": text(DEATHS, R1, R2).replace(b",", b"|")}, rows=(2, 2, 0)),
    Case(
        "semicolon-decimal-comma",
        {
            "social_care.csv": text(
                SOCIAL.replace(",", ";"),
                S1.replace(",", ";"),
                "S2;9434765870;E08000025;home care;2023-02-01;;250,50",
            )
        },
        dataset="social_care",
        rows=(2, 1, 1),
        rules=[("ING-NUM-01", 3, "weekly_cost")],
    ),
    Case(
        "stated-delimiter-mismatch",
        {"deaths.csv": text(DEATHS, R1).replace(b",", b";")},
        kwargs={"delimiter": ","},
        **FAILED,
        error=["deaths.csv, line 1", "not comma-separated", "semicolon"],
    ),
    Case(
        "crlf",
        {"deaths.csv": text(DEATHS, R1, R2, eol="\r\n")},
        rows=(2, 2, 0),
        check=expect_raw("place_of_death", ["Home", "Hospital"]),
    ),
    Case(
        "cr-only",
        {"deaths.csv": text(DEATHS, R1, R2, eol="\r")},
        rows=(2, 2, 0),
        check=expect_raw("place_of_death", ["Home", "Hospital"]),
    ),
    Case(
        "blank-lines",
        {"deaths.csv": text(DEATHS, "", R1, "", R2)},
        rows=(2, 2, 0),
        check=expect_raw("_line", [3, 5]),
    ),
    # -- quoting and row shape -------------------------------------------------------------------
    Case(
        "embedded-newline",
        {
            "deaths.csv": text(
                DEATHS,
                R1,
                'D2,9434765870,2023-02-10,C349,"Ward 7\nBed 3"',
                "D3,9990000026,,J189,Home",
            )
        },
        rows=(3, 2, 1),
        rules=[("ING-REQ-01", 5, "date_of_death")],
        check=all_of(
            expect_raw("_line", [2, 3]), expect_raw("place_of_death", ["Home", "Ward 7\nBed 3"])
        ),
    ),
    Case(
        "embedded-crlf-in-crlf-file",
        {
            "deaths.csv": text(
                DEATHS,
                'D1,9434765919,2023-01-05,I219,"a\r\nb\r\nc"',
                "D2,9434765870,2023-02-10,C349,=cmd",
                eol="\r\n",
            )
        },
        rows=(2, 1, 1),
        rules=[("ING-CELL-01", 5, "place_of_death")],
        check=expect_raw("place_of_death", ["a\r\nb\r\nc"]),
    ),
    Case(
        "unclosed-quote",
        {"deaths.csv": text(DEATHS, R1, 'D2,9434765870,2023-02-10,"C349,Hospital', R3)},
        **FAILED,
        error=["deaths.csv, line 3", "never closed"],
        check=nothing_loaded,
    ),
    Case(
        "stray-quote",
        {"deaths.csv": text(DEATHS, R1, 'D2,9434765870,2023-02-10,"C34"9,Hospital', R3)},
        **FAILED,
        error=["deaths.csv, line 3", "cannot split"],
    ),
    Case(
        "ragged-too-many",
        {"deaths.csv": text(DEATHS, R1, R2 + ",extra", R3)},
        rows=(3, 2, 1),
        rules=[("ING-ROW-01", 3, None)],
    ),
    Case(
        "ragged-too-few",
        {"deaths.csv": text(DEATHS, R1, "D2,9434765870,2023-02-10", R3)},
        rows=(3, 2, 1),
        rules=[("ING-ROW-01", 3, None)],
    ),
    Case(
        "unquoted-delimiter-in-value",
        {"deaths.csv": text(DEATHS, R1.replace("Home", "Home, garden"), R2)},
        rows=(2, 1, 1),
        rules=[("ING-ROW-01", 2, None)],
    ),
    Case(
        "all-empty-row",
        {"deaths.csv": text(DEATHS, R1, ",,,,")},
        rows=(2, 1, 1),
        rules=[("ING-REQ-01", 3, "death_registration_id")],
    ),
    # -- empty and truncated ---------------------------------------------------------------------
    Case("header-only", {"deaths.csv": text(DEATHS)}, rows=(0, 0, 0)),
    Case("header-only-no-newline", {"deaths.csv": DEATHS.encode()}, rows=(0, 0, 0)),
    Case("empty-0-bytes", {"deaths.csv": b""}, **FAILED, error=["deaths.csv", "empty"]),
    Case(
        "whitespace-only",
        {"deaths.csv": b"  \n\t\r\n\n   "},
        **FAILED,
        error=["deaths.csv", "empty"],
    ),
    Case(
        "truncated-last-line",
        {"deaths.csv": text(DEATHS, R1, R2) + b"D3,9990000026,2023-0"},
        rows=(3, 2, 1),
        rules=[("ING-ROW-01", 4, None)],
    ),
    Case(
        "truncated-inside-quotes",
        {"deaths.csv": text(DEATHS, R1, R2) + b'D3,9990000026,2023-03-15,J189,"Care h'},
        **FAILED,
        error=["deaths.csv, line 4", "never closed", "truncated"],
    ),
    # -- gzip ------------------------------------------------------------------------------------
    Case(
        "gzip-good", {"deaths.csv.gz": gzip.compress(text(DEATHS, R1, R2), mtime=0)}, rows=(2, 2, 0)
    ),
    Case(
        "gzip-truncated",
        {"deaths.csv.gz": gzip.compress(text(DEATHS, R1, R2, R3), mtime=0)[:40]},
        **FAILED,
        error=["deaths.csv.gz", "damaged or truncated"],
        check=nothing_loaded,
    ),
    Case(
        "gzip-truncated-mid-stream",
        {"deaths.csv.gz": big_gzip_truncated},
        **FAILED,
        error=["deaths.csv.gz", "damaged or truncated", "nothing from this file was loaded"],
        check=nothing_loaded,
    ),
    Case(
        "gzip-bad-crc",
        {"deaths.csv.gz": corrupt_gzip_crc},
        **FAILED,
        error=["deaths.csv.gz", "damaged or truncated"],
        check=nothing_loaded,
    ),
    Case(
        "gzip-empty-payload",
        {"deaths.csv.gz": gzip.compress(b"", mtime=0)},
        **FAILED,
        error=["empty"],
    ),
    Case(
        "gz-name-not-gzip",
        {"deaths.csv.gz": text(DEATHS, R1)},
        **FAILED,
        error=["deaths.csv.gz", "not gzip-compressed"],
    ),
    # -- header ----------------------------------------------------------------------------------
    Case(
        "renamed-required-column",
        {"deaths.csv": text(DEATHS.replace("date_of_death", "date_of_deth"), R1)},
        **FAILED,
        error=[
            "deaths.csv, line 1",
            "missing required column 'date_of_death'",
            "did you mean 'date_of_deth'",
        ],
    ),
    Case(
        "missing-required-column",
        {"deaths.csv": text(DEATHS.split(",", 1)[1], R1.split(",", 1)[1])},
        **FAILED,
        error=["line 1", "missing required column 'death_registration_id'"],
    ),
    Case(
        "missing-nhs-number-column",
        {"deaths.csv": text("death_registration_id,date_of_death", "D1,2023-01-05")},
        **FAILED,
        error=["missing required column 'nhs_number'"],
    ),
    Case(
        "missing-optional-column",
        {"deaths.csv": text(DEATHS.rsplit(",", 1)[0], R1.rsplit(",", 1)[0])},
        rows=(1, 1, 0),
        notes=["loaded as empty", "place_of_death"],
        check=expect_raw("place_of_death", [None]),
    ),
    Case(
        "extra-columns",
        {"deaths.csv": text(DEATHS + ",ward,comment", R1 + ",W1,ok", R2 + ",W2,")},
        rows=(2, 2, 0),
        notes=["ignored", "ward, comment"],
    ),
    Case(
        "duplicate-header",
        {"deaths.csv": text(DEATHS + ",place_of_death", R1 + ",Home")},
        **FAILED,
        error=["deaths.csv, line 1", "'place_of_death' appears twice", "columns 5 and 6"],
    ),
    Case(
        "header-case-and-spaces",
        {
            "deaths.csv": text(
                " Death_Registration_ID , NHS_Number ,DATE_OF_DEATH,"
                '"underlying_cause",place_of_death',
                R1,
            )
        },
        rows=(1, 1, 0),
    ),
    Case(
        "headerless-file",
        {"deaths.csv": text(R1, R2)},
        **FAILED,
        error=["line 1", "missing required columns", "*******919"],
    ),
    Case(
        "xlsx-renamed-csv",
        {
            "deaths.csv": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"
            b"\xec\x97\xcbn\xdb0\x10E\xf7\x05\xfa\x0f\x02\xb7\x06"
        },
        **FAILED,
        error=["deaths.csv, line 1", "binary"],
    ),
    # -- Excel damage ----------------------------------------------------------------------------
    Case(
        "excel-nhs-scientific",
        {"deaths.csv": text(DEATHS, R1.replace("9434765919", "9.43477E+09"), R2)},
        rows=(2, 2, 0),
        check=all_of(
            expect_raw("nhs_number_status", ["scientific_notation", "valid"]),
            lambda o: _raw_col("person_id")(o)[0] is None,
        ),
    ),
    Case(
        "excel-leading-zero-lost",
        {
            "op_attendances.csv": text(
                OP, "A1,9434765919,RX1,2023-01-05,3", "A2,9434765870,RX1,2023-01-06,03"
            )
        },
        dataset="op_attendances",
        rows=(2, 2, 0),
        run_dq=True,
        check=all_of(expect_raw("referral_source", ["3", "03"]), dq_val01),
    ),
    Case(
        "excel-date-serial",
        {"deaths.csv": text(DEATHS, R1, R2.replace("2023-02-10", "44927"))},
        rows=(2, 1, 1),
        rules=[("ING-DATE-03", 3, "date_of_death")],
    ),
    Case(
        "ddmmyyyy",
        {
            "deaths.csv": text(
                DEATHS,
                R1.replace("2023-01-05", "05/01/2023"),
                R2.replace("2023-02-10", "10/02/2023"),
            )
        },
        rows=(2, 0, 2),
        rules=[("ING-DATE-02", 2, "date_of_death"), ("ING-DATE-02", 3, "date_of_death")],
    ),
    Case(
        "ddmmyyyy-with-profile",
        {
            "deaths.csv": text(
                DEATHS,
                R1.replace("2023-01-05", "05/01/2023"),
                R2.replace("2023-02-10", "10/02/2023"),
            )
        },
        profile="name: trust_x\ndate_format: '%d/%m/%Y'\n",
        rows=(2, 2, 0),
        check=expect_raw("date_of_death", [dt.date(2023, 1, 5), dt.date(2023, 2, 10)]),
    ),
    Case(
        "ddmmyyyy-profile-impossible-date",
        {
            "deaths.csv": text(
                DEATHS, R1.replace("2023-01-05", "5/1/2023"), R2.replace("2023-02-10", "30/02/2023")
            )
        },
        profile="name: trust_x\ndate_format: '%d/%m/%Y'\n",
        rows=(2, 1, 1),
        rules=[("ING-DATE-01", 3, "date_of_death")],
        check=expect_raw("date_of_death", [dt.date(2023, 1, 5)]),
    ),
    # -- dangerous or damaged cells --------------------------------------------------------------
    Case(
        "formula-injection",
        {
            "deaths.csv": text(
                DEATHS,
                R1,
                'D2,9434765870,2023-02-10,C349,"=HYPERLINK(""http://evil.example"",""click"")"',
                "D3,9990000026,2023-03-15,J189,+cmd|' /C calc'!A0",
                "D4,9434765919,2023-03-16,J189,@SUM(A1:A9)",
                "D5,9434765870,2023-03-17,-2+3,Home",
            )
        },
        rows=(5, 1, 4),
        rules=[
            ("ING-CELL-01", 3, "place_of_death"),
            ("ING-CELL-01", 4, "place_of_death"),
            ("ING-CELL-01", 5, "place_of_death"),
            ("ING-CELL-01", 6, "underlying_cause"),
        ],
    ),
    Case(
        "nul-byte-in-cell",
        {"deaths.csv": text(DEATHS, R1, R2.replace("Hospital", "Hosp\x00ital"))},
        rows=(2, 1, 1),
        rules=[("ING-CELL-02", 3, "place_of_death")],
        check=lambda o: o.quarantine[0]["value"] == "Hosp\\0ital",
    ),
    Case(
        "huge-field",
        {"deaths.csv": text(DEATHS, R1, R2.replace("Hospital", "x" * 10_001))},
        rows=(2, 1, 1),
        rules=[("ING-CELL-03", 3, "place_of_death")],
        check=value_short,
    ),
    Case(
        "non-numeric-number",
        {"social_care.csv": text(SOCIAL, S1, S1.replace("S1", "S2").replace("250.00", "abc"))},
        dataset="social_care",
        rows=(2, 1, 1),
        rules=[("ING-NUM-01", 3, "weekly_cost")],
    ),
    Case(
        "thousands-separator",
        {"social_care.csv": text(SOCIAL, S1, S3.replace("910.5", '"1,234.50"'))},
        dataset="social_care",
        rows=(2, 1, 1),
        rules=[("ING-NUM-01", 3, "weekly_cost")],
        check=lambda o: "thousands separator" in o.quarantine[0]["reason"],
    ),
    Case(
        "invalid-calendar-date",
        {
            "deaths.csv": text(
                DEATHS,
                R1,
                R2.replace("2023-02-10", "2023-02-30"),
                R3.replace("2023-03-15", "2024-02-29"),
            )
        },
        rows=(3, 2, 1),
        rules=[("ING-DATE-01", 3, "date_of_death")],
    ),
    Case(
        "missing-required-value",
        {"deaths.csv": text(DEATHS, R1, R2.replace("2023-02-10", ""))},
        rows=(2, 1, 1),
        rules=[("ING-REQ-01", 3, "date_of_death")],
    ),
    Case(
        "nhs-number-in-date-column",
        {"deaths.csv": text(DEATHS, R1, "D2,,9434765919,C349,Hospital")},
        rows=(2, 1, 1),
        rules=[("ING-DATE-01", 3, "date_of_death")],
        check=masked_value,
    ),
    Case(
        "nhs-number-spaced-in-cost",
        {"social_care.csv": text(SOCIAL, S1.replace("250.00", "943 476 5919"))},
        dataset="social_care",
        rows=(1, 0, 1),
        rules=[("ING-NUM-01", 2, "weekly_cost")],
        check=masked_value,
    ),
    Case(  # a local identifier that is the NHS number: refused (ING-NHS-01), shown masked
        "nhs-number-as-record-id",
        {"deaths.csv": text(DEATHS, "9434765919,9434765919,2023-13-01,I219,Home")},
        rows=(1, 0, 1),
        rules=[("ING-NHS-01", 2, "death_registration_id")],
        check=lambda o: o.quarantine[0]["record_id"] == "*******919" and o.quarantine[0]["problems"] == 2,
    ),
    Case(  # an NHS number in free text of a valid row: refused rather than stored
        "nhs-number-in-free-text",
        {"deaths.csv": text(DEATHS, "D1,9434765919,2023-01-01,I219,NHS 943 476 5919 at home")},
        rows=(1, 0, 1),
        rules=[("ING-NHS-01", 2, "place_of_death")],
        check=lambda o: o.quarantine[0]["value"] == "NHS *********919 at home",
    ),
    # -- parquet ---------------------------------------------------------------------------------
    Case(
        "not-a-parquet",
        {"deaths.parquet": text(DEATHS, R1)},
        **FAILED,
        error=["deaths.parquet", "not a readable parquet file"],
    ),
    Case(
        "truncated-parquet",
        {"deaths.parquet": lambda: parquet_bytes(DEATHS_TABLE)[:300]},
        **FAILED,
        error=["deaths.parquet", "not a readable parquet file"],
    ),
    Case(
        "parquet-damaged-page",
        {"deaths.parquet": corrupt_parquet_page},
        **FAILED,
        error=["deaths.parquet", "damaged", "nothing from this file was loaded"],
        check=nothing_loaded,
    ),
    Case(
        "parquet-zero-rows",
        {"deaths.parquet": lambda: parquet_bytes(DEATHS_TABLE.slice(0, 0))},
        rows=(0, 0, 0),
    ),
    Case(
        "parquet-impossible-date-text",
        {
            "deaths.parquet": lambda: parquet_bytes(
                DEATHS_TABLE.set_column(
                    2, "date_of_death", pa.array(["2023-01-05", "2023-02-30", "2023-03-15"])
                )
            )
        },
        rows=(3, 2, 1),
        rules=[("ING-DATE-01", 2, "date_of_death")],
    ),
    Case(
        "parquet-binary-not-utf8",
        {
            "deaths.parquet": lambda: parquet_bytes(
                DEATHS_TABLE.set_column(
                    4, "place_of_death", pa.array([b"Home", b"Hosp\xffital", None], pa.binary())
                )
            )
        },
        rows=(3, 2, 1),
        rules=[("ING-ENC-01", 2, "place_of_death")],
    ),
    Case(
        "parquet-nested-column",
        {
            "deaths.parquet": lambda: parquet_bytes(
                DEATHS_TABLE.set_column(4, "place_of_death", pa.array([["Home"], ["Hospital"], []]))
            )
        },
        **FAILED,
        error=["deaths.parquet", "'place_of_death'", "nested"],
    ),
    # -- folders ---------------------------------------------------------------------------------
    Case(
        "name-matches-no-dataset",
        {
            "deaths.csv": text(DEATHS, R1),
            "mystery_extract.csv": text(DEATHS, R2),
            "notes.docx": b"PK\x03\x04",
        },
        dataset=None,
        rows=(1, 1, 0),
        check=skipped,
    ),
]

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS) >= 32


def build(case: Case, tmp_path: Path) -> tuple[Path, dict]:
    src = tmp_path / "in"
    src.mkdir()
    for name, content in case.files.items():
        (src / name).write_bytes(content() if callable(content) else content)
    kwargs = dict(case.kwargs)
    if case.profile is not None:
        prof = tmp_path / "profile.yaml"
        prof.write_text(case.profile)
        kwargs["profile"] = prof
    if case.dataset is not None:
        (only,) = case.files
        return src / only, {**kwargs, "dataset": case.dataset}
    return src, kwargs


def run(case: Case, tmp_path: Path, *, run_dq: bool) -> Outcome:
    source, kwargs = build(case, tmp_path)
    wh_path = tmp_path / "wh.duckdb"
    report = ingest(str(source), str(wh_path), run_dq=run_dq, **kwargs)  # must never raise
    assert len(report.results) == 1, report.results
    result = report.results[0]
    wh = connect(wh_path)
    try:
        tables = set(wh.list_tables())
        quarantine = wh.to_arrow("quarantine").to_pylist() if "quarantine" in tables else []
        raw_name = f"raw_{result.dataset}"
        raw = wh.to_arrow(raw_name).to_pylist() if raw_name in tables else []
        dq = wh.to_arrow("dq_results").to_pylist() if run_dq and "dq_results" in tables else []
    finally:
        wh.close()
    return Outcome(report, result, quarantine, raw, dq)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("PHM_PSEUDO_KEY", KEY)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_file(case: Case, tmp_path):
    o = run(case, tmp_path, run_dq=case.run_dq)
    r = o.result
    assert r.status == case.status, r
    if case.rows is not None:
        assert (r.rows_in, r.rows_loaded, r.rows_quarantined) == case.rows, r
        assert len(o.raw) == r.rows_loaded and len(o.quarantine) == r.rows_quarantined
    if case.status == "failed":
        assert r.error and "\n" not in r.error and "Traceback" not in r.error
        assert r.error.startswith(r.name), r.error
        for word in case.error:
            assert word.lower() in r.error.lower(), (word, r.error)
    else:
        assert r.error is None
    got = sorted((q["rule_id"], q["_line"], q["column"]) for q in o.quarantine)
    assert got == sorted(case.rules), got
    for q in o.quarantine:
        assert q["dataset"] == r.dataset and q["_source"] == r.name and q["reason"]
    for word in case.notes:
        assert any(word in n for n in r.notes), (word, r.notes)
    if case.check is not None:
        # checks either assert (and return None) or return a bool; a False must fail the test
        assert case.check(o) is not False, f"{case.id}: check failed"


_RUN = re.compile(r"\d[\d -]{8,}\d")


def nhs_numbers_in(text: str) -> list[str]:
    """Valid NHS numbers written in ``text``, bare, spaced or hyphenated."""
    found = [
        n
        for n in NHS
        if n in text or f"{n[:3]} {n[3:6]} {n[6:]}" in text or f"{n[:3]}-{n[3:6]}-{n[6:]}" in text
    ]
    for m in _RUN.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        found += [
            digits[i : i + 10]
            for i in range(len(digits) - 9)
            if is_valid_nhs_number(digits[i : i + 10])
        ]
    return found


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_corpus_invariants(case: Case, tmp_path):
    """Every corpus file, with the data-quality step on: no exception, rows add up, no NHS number leaks."""
    o = run(case, tmp_path, run_dq=True)
    r = o.result
    assert r.status in ("loaded", "replaced", "unchanged", "failed")
    if r.status == "failed":
        assert (r.rows_loaded, r.rows_quarantined) == (0, 0) and o.raw == [] and o.quarantine == []
        assert nhs_numbers_in(r.error) == [], r.error
    else:
        assert r.rows_in == r.rows_loaded + r.rows_quarantined
        assert r.error is None
    for q in o.quarantine:
        for col in ("reason", "value", "submitter", "record_id", "column"):
            assert nhs_numbers_in(q[col] or "") == [], (col, q[col])
    for n in r.notes:
        assert nhs_numbers_in(n) == [], n
    assert o.report.dq_computed
