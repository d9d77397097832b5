"""Readers: CSV (any common encoding, sniffed delimiter, plain or gzip), parquet and
database tables, each yielding batches of columns with the line every row came from.

A reader never guesses silently. What it cannot read at all raises :class:`BadFile`
naming the file, the line and what was expected; a row it can split but not shape
(too many or too few fields) is handed on as a structural problem, so it becomes a
quarantine row with a reason. Rows in = rows yielded + structural problems.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from phm.codes import redact_nhs_numbers
from phm.errors import InputError

BATCH_ROWS = 250_000
MAX_FIELD_CHARS = 10_000          # longer cells are quarantined (ING-CELL-03)
CSV_FIELD_LIMIT = 16 * 1024 * 1024  # longer cells make the file unreadable
DELIMITERS = (",", "\t", "|", ";")
_SNIFF_BYTES = 1 << 16


class BadFile(InputError):
    """A file phm cannot read at all. The message names the file and line; any NHS number
    it quotes (e.g. a headerless file's first row, shown as its header) is masked."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        message = redact_nhs_numbers(message)
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")
        self.source, self.line, self.detail = source, line, message


@dataclass
class Structural:
    """A row that could not be split into the header's columns."""

    line: int
    rule_id: str
    reason: str


@dataclass
class Batch:
    columns: dict[str, pa.Array]          # canonical column name -> values (strings for CSV)
    lines: np.ndarray                     # int64, one per row
    structural: list[Structural] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return len(self.lines)


@dataclass
class ReadInfo:
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    rows_in: int = 0


# -- column mapping -----------------------------------------------------------------------------


def map_header(source: str, header: list[str], wanted: dict[str, str], must_have: set[str],
               info: ReadInfo) -> dict[str, int]:
    """Positions of each canonical column in ``header``.

    ``wanted`` maps canonical name -> source name. Matching ignores case and surrounding
    spaces. A missing column that ``must_have`` lists is an error that suggests near names;
    other missing columns load as nulls, and extra columns are ignored, both noted."""
    norm = [h.strip().lstrip("\ufeff").strip('"').strip().lower() for h in header]
    seen: dict[str, int] = {}
    for i, h in enumerate(norm):
        if h in seen and h:
            raise BadFile(source, f"column {header[i].strip()!r} appears twice in the header (columns {seen[h] + 1} "
                          f"and {i + 1})", line=1)
        seen[h] = i
    pos: dict[str, int] = {}
    missing = []
    for canon, src in wanted.items():
        i = seen.get(src.strip().lower())
        if i is None:
            missing.append((canon, src))
        else:
            pos[canon] = i
    hard = [(c, s) for c, s in missing if c in must_have]
    if hard:
        found = [h.strip() for h in header]
        parts = []
        for _canon, src in hard:
            near = difflib.get_close_matches(src.lower(), norm, n=1, cutoff=0.6)
            hint = f" (did you mean {found[norm.index(near[0])]!r}?)" if near else ""
            parts.append(f"{src!r}{hint}")
        shown = ", ".join(repr(h) for h in found[:12]) + (" ..." if len(found) > 12 else "")
        raise BadFile(source, f"missing required column{'s' if len(hard) > 1 else ''} {', '.join(parts)}; "
                      f"the header has {len(found)} column{'s' if len(found) != 1 else ''}: {shown}", line=1)
    if missing:
        info.notes.append("columns not in the file, loaded as empty: " + ", ".join(s for _, s in missing))
    used = set(pos.values())
    extra = [header[i].strip() for i in range(len(header)) if i not in used]
    if extra:
        info.notes.append("columns ignored (not in the contract): " + ", ".join(extra[:20]))
    return pos


# -- CSV -----------------------------------------------------------------------------------------


def _open_bytes(path: Path, source: str):
    f = open(path, "rb")  # noqa: SIM115 - the caller owns and closes the handle
    magic = f.read(2)
    f.seek(0)
    if magic == b"\x1f\x8b":
        f.close()  # a GzipFile given a fileobj never closes it; one given the path does
        return gzip.GzipFile(path, mode="rb"), True
    if path.suffix == ".gz":
        f.close()
        raise BadFile(source, "the name ends .gz but the file is not gzip-compressed")
    return f, False


def _read_sample(path: Path, source: str) -> bytes:
    f, _ = _open_bytes(path, source)
    try:
        return f.read(_SNIFF_BYTES)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        raise BadFile(source, f"the gzip stream is damaged or truncated ({e})") from None
    finally:
        f.close()


def sniff_encoding(sample: bytes, stated: str | None) -> str:
    """utf-8-sig for a UTF-8 BOM; UTF-16 for its BOMs; utf-8 if the sample decodes; else
    cp1252 (Windows Excel), or latin-1 when bytes undefined in cp1252 appear."""
    if stated:
        try:
            codecs.lookup(stated)
        except LookupError:
            raise InputError(f"unknown encoding {stated!r}") from None
        return stated
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        dec.decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # UTF-8 text with a few damaged bytes: read as UTF-8 so the damaged cells are quarantined
    # (ING-ENC-01), rather than turning every accented letter into cp1252 mojibake.
    text = sample.decode("utf-8", errors="replace")
    if sum(1 for ch in text if ch > "\x7f" and ch != "\ufffd") > text.count("\ufffd"):
        return "utf-8"
    if any(b in sample for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)):
        return "latin-1"
    return "cp1252"


def _utf8_throughout(path: Path, source: str) -> bool:
    """True if the whole (decompressed) file is valid UTF-8."""
    f, _ = _open_bytes(path, source)
    dec = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in iter(lambda: f.read(1 << 22), b""):
            if not block.isascii():
                dec.decode(block, final=False)
        dec.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
        return True  # the damage is reported when the file is read
    finally:
        f.close()


def sniff_delimiter(source: str, header_line: str, wanted: set[str], stated: str | None) -> str:
    """The delimiter that splits the header into the most expected column names."""
    def score(d: str) -> tuple[int, int]:
        fields = next(csv.reader([header_line], delimiter=d), [])
        names = {f.strip().lstrip("\ufeff").lower() for f in fields}
        return len(names & wanted), len(fields)

    if stated:
        got, _ = score(stated)
        best = max(DELIMITERS, key=score)
        if got == 0 and score(best)[0] > 0:
            raise BadFile(source, f"the header is not {_name(stated)}-separated as stated; it looks "
                          f"{_name(best)}-separated", line=1)
        return stated
    best = max(DELIMITERS, key=score)
    return best


def _name(d: str) -> str:
    return {",": "comma", "\t": "tab", "|": "pipe", ";": "semicolon"}.get(d, repr(d))


def read_csv(path: Path, source: str, wanted: dict[str, str], must_have: set[str], info: ReadInfo, *,
             encoding: str | None = None, delimiter: str | None = None,
             batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    """Stream a CSV file as batches of canonical string columns."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise BadFile(source, "the file is empty: expected a header line naming the columns")
    sample = _read_sample(path, source)
    if not sample.strip(b"\r\n\t \x00"):
        raise BadFile(source, "the file is empty: expected a header line naming the columns")
    enc = sniff_encoding(sample, encoding)
    if encoding is None and enc == "utf-8" and sample.isascii() and not _utf8_throughout(path, source):
        # the first 64 KB were plain ASCII but later bytes are not UTF-8: a Windows (cp1252) export
        enc = "cp1252"
    info.encoding = enc
    raw, _gz = _open_bytes(path, source)
    text = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")
    csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        header_line = text.readline()
        if "\x00" in header_line:
            raise BadFile(source, "the header line contains NUL bytes; is this a binary or UTF-16 file?", line=1)
        wanted_names = {s.strip().lower() for s in wanted.values()}
        delim = sniff_delimiter(source, header_line.rstrip("\r\n"), wanted_names, delimiter)
        info.delimiter = delim
        header = next(csv.reader([header_line.rstrip("\r\n")], delimiter=delim))
        pos = map_header(source, header, wanted, must_have, info)
        ncols = len(header)
        reader = csv.reader(text, delimiter=delim, strict=True)
        canon = list(pos)
        idx = [pos[c] for c in canon]
        rows: list[list[str]] = []
        lines: list[int] = []
        structural: list[Structural] = []
        line_before = 1  # the header was line 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                msg = str(e)
                line = line_before + 1
                if "field larger than field limit" in msg:
                    raise BadFile(source, f"a field is longer than {CSV_FIELD_LIMIT:,} characters", line=line) from None
                if "unexpected end of data" in msg or "EOF" in msg:
                    raise BadFile(source, "a quoted field opened here is never closed (unbalanced \" quote); "
                                  "the file may be truncated", line=line) from None
                raise BadFile(source, f"cannot split this line into fields: {msg}", line=line) from None
            start = line_before + 1
            line_before = reader.line_num + 1
            if not row:  # a blank line
                continue
            info.rows_in += 1
            if len(row) != ncols:
                structural.append(Structural(start, "ING-ROW-01",
                                             f"has {len(row)} field{'s' if len(row) != 1 else ''}; the header has "
                                             f"{ncols} (a delimiter inside an unquoted value, or a cut-off line)"))
            else:
                rows.append(row)
                lines.append(start)
            if len(rows) >= batch_rows:
                yield _batch(rows, lines, canon, idx, structural)
                rows, lines, structural = [], [], []
        if rows or structural or info.rows_in == 0:
            yield _batch(rows, lines, canon, idx, structural)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise BadFile(source, f"the gzip stream is damaged or truncated after line {line_before} ({e}); "
                      "nothing from this file was loaded") from None
    except UnicodeError as e:
        raise BadFile(source, f"cannot decode the file as {enc}: {e}") from None
    finally:
        text.close()


def _batch(rows, lines, canon, idx, structural) -> Batch:
    if rows:
        cols = list(zip(*rows, strict=True))
        data = {c: pa.array(cols[i], pa.string()) for c, i in zip(canon, idx, strict=True)}
    else:
        data = {c: pa.array([], pa.string()) for c in canon}
    return Batch(data, np.asarray(lines, dtype=np.int64), structural)


# -- parquet ---------------------------------------------------------------------------------------


def read_parquet(path: Path, source: str, wanted: dict[str, str], must_have: set[str], info: ReadInfo, *,
                 batch_rows: int = BATCH_ROWS) -> Iterator[Batch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise BadFile(source, f"not a readable parquet file ({str(e).splitlines()[0]})") from None
    header = pf.schema_arrow.names
    pos = map_header(source, header, wanted, must_have, info)
    names = {c: header[i] for c, i in pos.items()}
    for s in names.values():
        t = pf.schema_arrow.field(s).type
        if pa.types.is_nested(t):
            raise BadFile(source, f"column {s!r} holds nested values ({t}); phm reads only flat columns "
                          "(text, numbers, dates)")
    start = 1
    try:
        for rb in pf.iter_batches(batch_size=batch_rows, columns=list(dict.fromkeys(names.values()))):
            n = rb.num_rows
            info.rows_in += n
            cols = {c: rb.column(rb.schema.get_field_index(s)) for c, s in names.items()}
            yield Batch(cols, np.arange(start, start + n, dtype=np.int64))
            start += n
    except (pa.ArrowInvalid, OSError) as e:
        raise BadFile(source, f"the parquet file is damaged after row {start - 1} ({str(e).splitlines()[0]}); "
                      "nothing from this file was loaded") from None
    if start == 1:
        yield Batch({c: pa.array([], pf.schema_arrow.field(s).type) for c, s in names.items()},
                    np.zeros(0, np.int64))


# -- database tables ---------------------------------------------------------------------------------


def read_table(table, source: str, wanted: dict[str, str], must_have: set[str], info: ReadInfo, *,
               batch_rows: int = BATCH_ROWS, hasher=None) -> Iterator[Batch]:
    """Rows of an Ibis table from another database, in the order the database returns them.

    ``hasher`` (a hashlib object) receives the Arrow IPC bytes of every batch, so a table's
    content has a sha256 like a file's."""
    header = list(table.columns)
    pos = map_header(source, header, wanted, must_have, info)
    names = {c: header[i] for c, i in pos.items()}
    start = 1
    cols = list(dict.fromkeys(names.values()))
    # Sorted by every column and cut into batches of exactly batch_rows here (databases return
    # batches of varying size): the same rows give the same lines and sha256 every time.
    reader = table.select(*cols).order_by(cols).to_pyarrow_batches(chunk_size=batch_rows)
    start = 1
    for chunk in _rechunk(reader, batch_rows):
        n = chunk.num_rows
        info.rows_in += n
        if hasher is not None:
            _hash_rows(hasher, chunk)
        data = {c: chunk.column(s).combine_chunks() for c, s in names.items()}
        yield Batch(data, np.arange(start, start + n, dtype=np.int64))
        start += n
    if start == 1:
        yield Batch({c: pa.array([], pa.string()) for c in names}, np.zeros(0, np.int64))


def _hash_rows(hasher, t: pa.Table) -> None:
    """Feed ``t``'s values to ``hasher`` canonically: each column as text with a NUL for null
    (raw Arrow buffers are not canonical: the bytes under a null are undefined)."""
    for name in t.column_names:
        col = t.column(name).combine_chunks()
        try:
            text = col.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.array([None if v is None else repr(v) for v in col.to_pylist()], pa.string())
        text = pc.fill_null(text, "\x00")
        hasher.update(name.encode() + b"\x00")
        hasher.update(b"\x1e".join(v.encode() for v in text.to_pylist()))


def _rechunk(reader, size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last may be shorter), each in one chunk."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for rb in reader:
        pending.append(rb)
        rows += rb.num_rows
        while rows >= size:
            t = pa.Table.from_batches(pending)
            yield t.slice(0, size).combine_chunks()
            rest = t.slice(size).combine_chunks()
            pending, rows = (rest.to_batches() if rest.num_rows else []), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending).combine_chunks()
