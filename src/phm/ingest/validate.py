"""Validate a batch against its dataset contract: type every column, quarantine what fails.

Rules applied here (the ``ING-*`` rules of the catalogue in ``phm/quality/rules.csv``):

- ING-ROW-01  the row has more or fewer fields than the header (from the reader)
- ING-CELL-01 a text cell starts with = + - @ (spreadsheet formula injection)
- ING-CELL-02 a cell contains a NUL byte
- ING-CELL-03 a cell is longer than 10,000 characters
- ING-ENC-01  a cell has bytes that are not valid in the file's encoding
- ING-REQ-01  a required value is missing
- ING-DATE-01 a date (or date-time) that cannot be read
- ING-DATE-02 a DD/MM/YYYY-style date: day and month order is ambiguous
- ING-DATE-03 an Excel date serial number instead of a date
- ING-NUM-01  a number or integer that cannot be read
- ING-BOOL-01 a true/false value that cannot be read
- ING-NHS-01  a valid NHS number in a column other than the NHS number

A row is quarantined once, with its first problem in column order; ``problems`` says
how many it had. Rows that pass are typed to the contract. Values shown in reasons are
truncated and any ten-digit run is masked, so no NHS number reaches the quarantine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from phm.codes import redact_nhs_numbers, valid_nhs_number_array
from phm.ingest.readers import MAX_FIELD_CHARS, Batch
from phm.schema import ColumnSpec, Contract

QUARANTINE_SCHEMA = pa.schema([
    pa.field("dataset", pa.string()), pa.field("_source", pa.string()), pa.field("_line", pa.int64()),
    pa.field("column", pa.string()), pa.field("rule_id", pa.string()), pa.field("reason", pa.string()),
    pa.field("value", pa.string()), pa.field("problems", pa.int64()),
    pa.field("submitter", pa.string()), pa.field("record_id", pa.string()),
])

_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_TS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?(Z|[+-]00:?00)?$"
_DMY = r"^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}$"
_SERIAL = r"^[0-9]{5}(\.[0-9]+)?$"
_INT = r"^[+-]?[0-9]+(\.0+)?$"
_NUM = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BOOL_TRUE = {"true", "t", "1", "y", "yes"}
_BOOL_FALSE = {"false", "f", "0", "n", "no"}
_FORMULA_START = r"^[=+\-@]"


def safe_value(v: object) -> str | None:
    """A value fit to show in quarantine or an error: cut to 60 characters, and any ten-digit
    run that is a valid NHS number (e.g. one shifted into the wrong column) masked."""
    if v is None:
        return None
    s = str(v)
    if len(s) > 60:
        s = s[:57] + "..."
    s = s.replace("\x00", "\\0")
    return redact_nhs_numbers(s)


@dataclass
class Problem:
    mask: np.ndarray      # bool per row
    rule_id: str
    reason: str           # may contain {value}


class Validated:
    def __init__(self, table: pa.Table, quarantine: pa.Table) -> None:
        self.table, self.quarantine = table, quarantine


def _np(mask) -> np.ndarray:
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _null_empty(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _as_text(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type) or pa.types.is_fixed_size_binary(arr.type):
        try:
            arr = arr.cast(pa.string())
        except pa.ArrowInvalid:  # bytes that are not UTF-8: shown as U+FFFD, so ING-ENC-01 quarantines them
            arr = pa.array([None if v is None else v.decode("utf-8", errors="replace") for v in arr.to_pylist()],
                           pa.string())
    return arr


class ColumnResult:
    def __init__(self, values: pa.Array, problems: list[Problem]) -> None:
        self.values, self.problems = values, problems


def _parse_date(col: ColumnSpec, s: pa.Array, fmt: str | None) -> ColumnResult:
    present = _np(pc.is_valid(s))
    problems: list[Problem] = []
    if fmt:
        parsed = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
    else:
        iso = pc.if_else(pc.match_substring_regex(s, _ISO_DATE), s, pa.scalar(None, pa.string()))
        parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    parsed = _no_rollover(s, parsed, fmt or "%Y-%m-%d")
    bad = present & ~_np(pc.is_valid(parsed))
    if bad.any():
        # with a stated date_format the order is known: a DMY-looking failure is just not a real date
        dmy = bad & _np(pc.match_substring_regex(s, _DMY)) if not fmt else np.zeros(len(bad), bool)
        serial = bad & _np(pc.match_substring_regex(s, _SERIAL))
        other = bad & ~dmy & ~serial
        if dmy.any():
            problems.append(Problem(dmy, "ING-DATE-02", f"{col.name} {{value}} is not in the form YYYY-MM-DD; "
                                    "day/month order is ambiguous (Excel may have reformatted it). If the whole "
                                    "file uses one order, set date_format in a profile"))
        if serial.any():
            problems.append(Problem(serial, "ING-DATE-03", f"{col.name} {{value}} looks like an Excel date serial "
                                    "number, not a date; export dates as YYYY-MM-DD"))
        if other.any():
            want = fmt or "YYYY-MM-DD"
            problems.append(Problem(other, "ING-DATE-01", f"{col.name} {{value}} is not a real date in the form {want}"))
    return ColumnResult(parsed.cast(pa.date32()), problems)


def _no_rollover(s: pa.Array, parsed: pa.Array, fmt: str) -> pa.Array:
    """``parsed`` with dates that do not exist set to null. Arrow's strptime rolls them over
    (2023-02-30 becomes 2023-03-02); a value that does not format back to its text is
    checked with Python's strptime, which refuses them."""
    ok = _np(pc.is_valid(parsed))
    if not ok.any():
        return parsed
    same = _np(pc.equal(pc.strftime(parsed, format=fmt), s))
    suspect = np.flatnonzero(ok & ~same)
    if not len(suspect):
        return parsed
    real = np.ones(len(s), bool)
    for i in suspect:
        try:
            dt.datetime.strptime(s[int(i)].as_py(), fmt)
        except ValueError:
            real[i] = False
    return pc.if_else(pa.array(real), parsed, pa.scalar(None, parsed.type))


def _parse_timestamp(col: ColumnSpec, s: pa.Array, fmt: str | None) -> ColumnResult:
    present = _np(pc.is_valid(s))
    if fmt:
        parsed = pc.strptime(s, format=fmt, unit="us", error_is_null=True)
    else:
        ok = _np(pc.match_substring_regex(s, _ISO_TS))
        txt = pc.if_else(pa.array(ok), s, pa.scalar(None, pa.string()))
        txt = pc.replace_substring_regex(txt, r"(Z|[+-]00:?00)$", "")
        txt = pc.replace_substring(txt, "T", " ")
        try:
            parsed = pc.cast(txt, pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = pa.array([_py_ts(v) for v in txt.to_pylist()], pa.timestamp("us"))
    bad = present & ~_np(pc.is_valid(parsed))
    problems = []
    if bad.any():
        dmy = bad & _np(pc.match_substring_regex(s, r"^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}"))
        if dmy.any():
            problems.append(Problem(dmy, "ING-DATE-02", f"{col.name} {{value}} is not in the form YYYY-MM-DD HH:MM:SS; "
                                    "day/month order is ambiguous. Set timestamp_format in a profile"))
        other = bad & ~dmy
        if other.any():
            problems.append(Problem(other, "ING-DATE-01",
                                    f"{col.name} {{value}} is not a real date-time in the form {fmt or 'YYYY-MM-DD HH:MM:SS'}"))
    return ColumnResult(parsed.cast(pa.timestamp("us")), problems)


def _py_ts(v: str | None):
    if v is None:
        return None
    try:
        return dt.datetime.fromisoformat(v)
    except ValueError:
        return None


def _parse_number(col: ColumnSpec, s: pa.Array, integer: bool) -> ColumnResult:
    present = _np(pc.is_valid(s))
    pattern = _INT if integer else _NUM
    ok = _np(pc.match_substring_regex(s, pattern))
    txt = pc.if_else(pa.array(ok), s, pa.scalar(None, pa.string()))
    values = pc.cast(txt, pa.float64())
    ok = ok & ~_np(pc.invert(pc.is_finite(values)))  # 1e999 reads as infinity: not a number to keep
    values = pc.if_else(pa.array(ok), values, pa.scalar(None, pa.float64()))
    if integer:
        f = values.to_numpy(zero_copy_only=False)
        too_big = ok & (np.abs(np.nan_to_num(f)) >= 2**53)
        ok = ok & ~too_big
        values = pc.cast(pc.if_else(pa.array(ok), values, pa.scalar(None, pa.float64())), pa.int64())
    bad = present & ~ok
    problems = []
    if bad.any():
        comma = bad & _np(pc.match_substring_regex(s, r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$"))
        if comma.any():
            problems.append(Problem(comma, "ING-NUM-01", f"{col.name} {{value}} has a thousands separator; "
                                    "export numbers without commas"))
        other = bad & ~comma
        if other.any():
            what = "a whole number" if integer else "a number"
            problems.append(Problem(other, "ING-NUM-01", f"{col.name} {{value}} is not {what}"))
    return ColumnResult(values, problems)


def _parse_bool(col: ColumnSpec, s: pa.Array) -> ColumnResult:
    low = pc.utf8_lower(s)
    t = _np(pc.is_in(low, value_set=pa.array(sorted(_BOOL_TRUE))))
    f = _np(pc.is_in(low, value_set=pa.array(sorted(_BOOL_FALSE))))
    present = _np(pc.is_valid(s))
    vals = pa.array(np.where(t, True, False), pa.bool_())
    vals = pc.if_else(pa.array(t | f), vals, pa.scalar(None, pa.bool_()))
    bad = present & ~(t | f)
    problems = [Problem(bad, "ING-BOOL-01", f"{col.name} {{value}} is not true/false (or 1/0, Y/N)")] if bad.any() else []
    return ColumnResult(vals, problems)


def _typed(col: ColumnSpec, arr: pa.Array, date_fmt: str | None, ts_fmt: str | None) -> ColumnResult:
    """Type one column. Typed (parquet, database) input is cast; text is parsed. A typed value
    that does not fit (an overflowing integer, say) is read through its text form, so it is
    quarantined with a reason rather than stopping the load."""
    t = arr.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        try:
            done = _cast_typed(col, arr)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            done = None
        if done is not None:
            return done
        # anything else is read through its text form (e.g. codes stored as integers)
        try:
            arr = _null_empty(arr.cast(pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arr = pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string())
    if col.type in ("string", "nhs_number"):
        return ColumnResult(arr, [])
    if col.type == "date":
        return _parse_date(col, arr, date_fmt)
    if col.type == "timestamp":
        return _parse_timestamp(col, arr, ts_fmt)
    if col.type in ("integer", "number"):
        return _parse_number(col, arr, col.type == "integer")
    return _parse_bool(col, arr)


def _cast_typed(col: ColumnSpec, arr: pa.Array) -> ColumnResult | None:
    t, target = arr.type, col.arrow_type
    if col.type == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return ColumnResult(arr.cast(pa.date32()), [])
    if col.type == "timestamp" and pa.types.is_timestamp(t):
        if t.tz is not None:
            arr = arr.cast(pa.timestamp(t.unit, "UTC")).cast(pa.timestamp(t.unit))
        return ColumnResult(arr.cast(target, safe=False), [])  # sub-microsecond digits are dropped
    if col.type == "timestamp" and pa.types.is_date(t):
        return ColumnResult(arr.cast(pa.timestamp("s")).cast(target), [])
    if col.type == "integer" and pa.types.is_integer(t):
        return ColumnResult(arr.cast(pa.int64()), [])
    if col.type == "number" and (pa.types.is_integer(t) or pa.types.is_decimal(t)):
        return ColumnResult(arr.cast(pa.float64(), safe=False), [])
    if col.type == "number" and pa.types.is_floating(t):
        values = arr.cast(pa.float64())
        bad = _np(pc.invert(pc.is_finite(values)))
        problems = [Problem(bad, "ING-NUM-01", f"{col.name} {{value}} is not a finite number")] if bad.any() else []
        return ColumnResult(values, problems)
    if col.type == "boolean" and pa.types.is_boolean(t):
        return ColumnResult(arr, [])
    if pa.types.is_null(t):
        return ColumnResult(pa.nulls(len(arr), target), [])
    return None


_FORMULA_CHARS = pa.array(["=", "+", "-", "@"])
_NHS_IN_TEXT = r"(^|[^0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}([^0-9]|$)"


def _nhs_elsewhere(col: ColumnSpec, values: pa.Array) -> list[Problem]:
    """A valid NHS number in a column that is not the NHS number (a local ID that is the NHS
    number, shifted columns, free text). Such rows are refused so the number is never stored."""
    if pa.types.is_integer(values.type):
        v = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)
        hit = (v >= 10**9) & (v < 10**10)
        if not hit.any():
            return []
        hit &= valid_nhs_number_array(np.where(hit, v, 0).astype(np.int64))
    elif pa.types.is_string(values.type):
        if (pc.max(pc.binary_length(values)).as_py() or 0) < 10:
            return []
        enc = pc.dictionary_encode(values)
        if len(enc.dictionary) * 4 < len(values):  # a code list: check each distinct value once
            bad = [w for w in enc.dictionary.to_pylist() if w is not None and redact_nhs_numbers(w) != w]
            if not bad:
                return []
            hit = _np(pc.is_in(values, value_set=pa.array(bad, pa.string())))
            return [Problem(hit, "ING-NHS-01", f"{col.name} holds a valid NHS number, but it is not the NHS "
                            "number column; the row is refused so the number is never stored")]
        cand = _np(pc.match_substring_regex(values, _NHS_IN_TEXT))
        if not cand.any():
            return []
        hit = np.zeros(len(values), bool)
        for i in np.flatnonzero(cand):
            text = values[int(i)].as_py()
            hit[i] = redact_nhs_numbers(text) != text
    else:
        return []
    if not hit.any():
        return []
    return [Problem(hit, "ING-NHS-01", f"{col.name} holds a valid NHS number, but it is not the NHS number "
                    "column; the row is refused so the number is never stored")]


def _text_checks(col: ColumnSpec, arr: pa.Array) -> tuple[pa.Array, list[Problem]]:
    """Trim and null-empty a text column and find its cell problems. A code column has few
    distinct values: the work is done once per distinct value and mapped back."""
    enc = pc.dictionary_encode(arr)
    if len(enc.dictionary) * 4 >= len(arr):
        clean = _null_empty(arr)
        return clean, _cell_problems(col, clean, from_text=True)
    words = _null_empty(enc.dictionary)
    clean = pc.take(words, enc.indices)
    problems = [Problem(_np(pc.take(pa.array(p.mask), enc.indices)), p.rule_id, p.reason)
                for p in _cell_problems(col, words, from_text=True)]
    return clean, problems


def _cell_problems(col: ColumnSpec, s: pa.Array, from_text: bool) -> list[Problem]:
    """Long cells, NUL bytes, undecodable bytes (text input) and formula starts. Each check is
    one cheap vectorised pass; masks are built only when something is found."""
    out = []
    if (pc.max(pc.binary_length(s)).as_py() or 0) > MAX_FIELD_CHARS:
        long = _np(pc.greater(pc.utf8_length(s), MAX_FIELD_CHARS))
        if long.any():
            out.append(Problem(long, "ING-CELL-03", f"{col.name} is longer than {MAX_FIELD_CHARS:,} characters"))
    if from_text and pc.any(pc.match_substring(s, "\ufffd")).as_py():
        enc = _np(pc.match_substring(s, "\ufffd"))
        out.append(Problem(enc, "ING-ENC-01", f"{col.name} has bytes that are not valid in the file's encoding"))
    if pc.any(pc.match_substring(s, "\x00")).as_py():
        nul = _np(pc.match_substring(s, "\x00"))
        out.append(Problem(nul, "ING-CELL-02", f"{col.name} contains a NUL byte"))
    if col.type == "string":
        formula = _np(pc.is_in(pc.utf8_slice_codeunits(s, 0, 1), value_set=_FORMULA_CHARS))
        if formula.any():
            out.append(Problem(formula, "ING-CELL-01", f"{col.name} {{value}} starts like a spreadsheet formula "
                               "(= + - @); refused so that it can never run in Excel"))
    return out


def validate(batch: Batch, contract: Contract, dataset: str, source: str, *, date_format: str | None = None,
             timestamp_format: str | None = None) -> tuple[dict[str, pa.Array], np.ndarray, pa.Table]:
    """Type the batch's columns; return (typed columns of passing rows, their lines, quarantine rows)."""
    n = batch.num_rows
    typed: dict[str, pa.Array] = {}
    text: dict[str, pa.Array] = {}
    per_row_first: list[tuple[np.ndarray, str, str, str]] = []   # (mask, column, rule, reason)
    for name, col in contract.columns.items():
        arr = batch.columns.get(name)
        if arr is None:
            typed[name] = pa.nulls(n, pa.string() if col.type == "nhs_number" else col.arrow_type)
            if col.required:
                per_row_first.append((np.ones(n, bool), name, "ING-REQ-01",
                                      f"{name} is required but the file has no such column"))
            continue
        arr = _as_text(arr)
        is_text = pa.types.is_string(arr.type)
        if is_text:
            arr, problems = _text_checks(col, arr)
            text[name] = arr
            for p in problems:
                per_row_first.append((p.mask, name, p.rule_id, p.reason))
        res = _typed(col, arr, date_format, timestamp_format)
        for p in res.problems:
            per_row_first.append((p.mask, name, p.rule_id, p.reason))
        if col.type != "nhs_number":
            for p in _nhs_elsewhere(col, arr if is_text else res.values):
                per_row_first.append((p.mask, name, p.rule_id, p.reason))
        if col.required:
            missing = ~_np(pc.is_valid(arr))
            if missing.any():
                per_row_first.append((missing, name, "ING-REQ-01", f"{name} is required but empty"))
        typed[name] = res.values
    order = {c: i for i, c in enumerate(contract.columns)}
    per_row_first.sort(key=lambda p: order[p[1]])  # stable: within a column, the order rules were found
    bad = np.zeros(n, bool)
    counts = np.zeros(n, np.int64)
    first: dict[int, tuple[str, str, str]] = {}
    for mask, column, rule, reason in per_row_first:
        counts += mask
        for i in np.flatnonzero(mask & ~bad):
            first[int(i)] = (column, rule, reason)
        bad |= mask
    q_rows = _quarantine_rows(batch, contract, dataset, source, first, counts, text)
    keep = ~bad
    if bad.any():
        idx = pa.array(np.flatnonzero(keep))
        typed = {k: v.take(idx) for k, v in typed.items()}
    return typed, batch.lines[keep], q_rows


def _quarantine_rows(batch, contract, dataset, source, first, counts, text) -> pa.Table:
    rows = []
    for s in batch.structural:
        rows.append({"dataset": dataset, "_source": source, "_line": s.line, "column": None, "rule_id": s.rule_id,
                     "reason": f"line {s.line} {s.reason}", "value": None, "problems": 1,
                     "submitter": None, "record_id": None})
    if first:
        sub_col, rec_col = contract.submitter, contract.record_id
        for i in sorted(first):
            column, rule, reason = first[i]
            raw = batch.columns.get(column)
            value = raw[i].as_py() if raw is not None else None
            shown = safe_value(value)
            rows.append({
                "dataset": dataset, "_source": source, "_line": int(batch.lines[i]), "column": column,
                "rule_id": rule, "reason": reason.replace("{value}", repr(shown) if shown is not None else "''"),
                "value": shown, "problems": int(counts[i]),
                "submitter": safe_value(_cell(batch, sub_col, i)) if sub_col else contract.default_submitter,
                "record_id": safe_value(_cell(batch, rec_col, i)),
            })
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def _cell(batch: Batch, column: str | None, i: int):
    if column is None or column not in batch.columns:
        return None
    v = batch.columns[column][i].as_py()
    return v.strip() if isinstance(v, str) else v
