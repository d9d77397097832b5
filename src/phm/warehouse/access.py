"""Opening a DuckDB warehouse file: refuse a file that is not one, and say who holds a locked one.

DuckDB opens some files that are not databases without complaint (an existing Parquet file
becomes a read-only in-memory view, so every write is silently lost), so an existing file
must carry DuckDB's header magic (``DUCK`` at byte 8) before phm opens it.

DuckDB locks the file per process: any number of processes may read it together (read-only
connections, as the dashboard and ``phm.connect()`` use), but a process that writes needs
it to itself. When the lock is refused, :class:`WarehouseInUse` names the process holding
it (from DuckDB's message and, on Linux, its command line) and whether that process reads
or writes, so the message can say what to do.
"""

from __future__ import annotations

import re
from pathlib import Path

from phm.errors import InputError, UserError

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_KINDS = (
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PK\x03\x04", "a zip file (an Excel workbook?)"),
)


def check_duckdb_file(path: Path) -> None:
    """Raise :class:`~phm.errors.InputError` if ``path`` exists and is not a DuckDB database."""
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"warehouse {path} is a folder without catalog.json, so neither a DuckDB warehouse file "
            "nor a Spark warehouse; give a .duckdb file (phm ingest creates it) or a Spark warehouse folder"
        )
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(f"cannot read warehouse {path}: {e.strerror or e}") from None
    if head[8:12] == DUCKDB_MAGIC:
        return
    kind = (
        "empty"
        if not head
        else next((k for magic, k in _KINDS if head.startswith(magic)), "not a DuckDB file")
    )
    raise InputError(
        f"warehouse {path} is {kind}, not a DuckDB warehouse, so phm will not open it (nothing was "
        "read or written); give a .duckdb warehouse file, or a new path for phm ingest to create one"
    )


class WarehouseInUse(UserError):
    """Another process holds the DuckDB lock on the warehouse file. ``held_by`` names it (and,
    for a reader that may be the dashboard, says that it never lets go by itself)."""

    def __init__(self, message: str, *, path: Path, held_by: str, holder_reads: bool) -> None:
        super().__init__(message)
        self.path, self.held_by, self.holder_reads = path, held_by, holder_reads

    @classmethod
    def from_duckdb(cls, path: Path, message: str, *, read_only: bool) -> WarehouseInUse:
        """From DuckDB's lock error ``message`` on opening ``path`` (``read_only`` as asked).
        A read-only open is refused only by a writer; a read-write open says when the holder
        only reads ("you would be able to open this database in read-only mode")."""
        m = re.search(r"lock is held in (.+?) \(PID (\d+)\)", message)
        holder = describe_process(int(m.group(2)), m.group(1)) if m else "another process"
        if not read_only and "read-only mode" in message:
            if not holder.startswith("the dashboard"):
                holder += " (the dashboard, 'phm serve', keeps it open until stopped)"
            text = (
                f"warehouse {path} is open to read in {holder}; writing to it needs it to itself: stop that "
                "process, then run this again"
            )
            return cls(text, path=Path(path), held_by=holder, holder_reads=True)
        text = (
            f"warehouse {path} is being written by {holder}; run this again once that has finished "
            "(phm ingest and phm build end by themselves) or been stopped"
        )
        return cls(text, path=Path(path), held_by=holder, holder_reads=False)


def describe_process(pid: int, program: str | None = None) -> str:
    """``the dashboard ('phm serve', PID 123)``, ``'phm build' (PID 123)`` for a phm command
    (read from ``/proc`` where there is one), else the program's name and PID."""
    try:
        args = [
            a.decode(errors="replace")
            for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if a
        ]
    except OSError:
        args = []
    for i, a in enumerate(args):
        if Path(a).name == "phm" or a == "phm.cli_entry":
            command = next((x for x in args[i + 1 :] if not x.startswith("-")), None)
            if command == "serve":
                return f"the dashboard ('phm serve', PID {pid})"
            return f"'phm {command}' (PID {pid})" if command else f"phm (PID {pid})"
    name = Path(args[0]).name if args else Path(program).name if program else "a process"
    return f"{name} (PID {pid})"
