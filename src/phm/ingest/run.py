"""``phm ingest``: read sources, validate, pseudonymise, quarantine, load atomically, ledger.

Each source is loaded in its own transaction: its rows (replacing any previous load of
the same source), its quarantine rows and its ledger row land together or not at all.
The data-quality step then recomputes the ``dq_*`` tables in one more transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console

import phm
from phm.codes import redact_nhs_numbers
from phm.digest import sha256_file
from phm.errors import InputError, UserError
from phm.ingest.pseudonym import Pseudonymiser, PseudonymKey, constant, load_key
from phm.ingest.readers import BadFile, ReadInfo, read_csv, read_parquet, read_table
from phm.ingest.validate import QUARANTINE_SCHEMA, validate
from phm.schema import SCHEMA_VERSION, Profile, contract, dataset_names, load_profile, raw_schema
from phm.timings import Timings
from phm.warehouse import Warehouse, connect
from phm.warehouse import ledger as ledger_mod
from phm.warehouse.base import fetch, meta_table

QUARANTINE_TABLE = "quarantine"
MIN_IDS_FOR_LINK_CHECK = 50  # fewer distinct people than this say nothing about a key mismatch
IGNORED_FILES = {"manifest.json", "README.md", "readme.txt"}


@dataclass
class SourceItem:
    name: str
    dataset: str
    fmt: str                      # csv | parquet | database
    path: Path | None = None
    table: object | None = None   # an Ibis table for database sources


@dataclass
class SourceResult:
    name: str
    dataset: str
    status: str                   # loaded | replaced | unchanged | failed
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    warehouse: Path
    results: list[SourceResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dq_computed: bool = False
    timings: Timings | None = None  # seconds, rows and peak memory per dataset and part

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if r.status == "failed"]


def _file_format(name: str) -> str | None:
    low = name.lower()
    if low.endswith(".parquet") or low.endswith(".pq"):
        return "parquet"
    if any(low.endswith(s) for s in (".csv", ".csv.gz", ".txt", ".txt.gz", ".tsv", ".tsv.gz", ".psv", ".gz")):
        return "csv"
    return None


_URL = re.compile(r"^[a-z][a-z0-9+]*://", re.I)


def _redact_url(url: str) -> str:
    """The URL without its password, whether in user:password@ or a query parameter."""
    url = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
    return re.sub(r"(?i)([?&][^=&]*(?:pass|pwd|secret|token|key)[^=&]*=)[^&]*", r"\1***", url)


def discover(source: str, profile: Profile, dataset: str | None) -> tuple[list[SourceItem], list[str]]:
    """The sources to load, and the names of files passed over (with why)."""
    items: list[SourceItem] = []
    skipped: list[str] = []
    if _URL.match(source) and not source.startswith("file://"):
        import ibis

        try:
            db = ibis.connect(source)
        except Exception as e:  # the driver's own error, summarised in one line
            raise InputError(f"cannot connect to {_redact_url(source)}: {str(e).splitlines()[0]}") from None
        tables = set(db.list_tables())
        wanted = [dataset] if dataset else dataset_names()
        for ds in wanted:
            dp = profile.datasets.get(ds)
            tname = (dp.table if dp and dp.table else ds)
            if tname in tables:
                items.append(SourceItem(f"{_redact_url(source)}#{tname}", ds, "database", table=db.table(tname)))
        if not items:
            raise InputError(f"{_redact_url(source)} has no table named after a phm dataset "
                             f"(looked for {', '.join(wanted)})")
        return items, skipped
    root = Path(source.removeprefix("file://"))
    if not root.exists():
        raise InputError(f"{root} does not exist")
    if root.is_file():
        files, base = [root], root.parent
    else:
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
        base = root
    for p in files:
        rel = p.relative_to(base).as_posix()
        fmt = _file_format(p.name)
        ds = dataset or profile.dataset_for_file(p.name)
        if p.name in IGNORED_FILES and root.is_dir():
            continue
        if fmt is None or ds is None:
            why = "not CSV or parquet" if fmt is None else "name matches no dataset (use --dataset or a profile)"
            if root.is_file():
                raise InputError(f"{rel}: {why}")
            skipped.append(f"{rel} ({why})")
            continue
        contract(ds)  # a clear error for an unknown --dataset
        items.append(SourceItem(rel, ds, fmt, path=p))
    # Within a dataset, files load oldest first (modification time, then name), so that the load
    # ledger's order is the order extracts arrived: a resubmission wins because it is loaded
    # later, whatever its name (see phm.model.common.deduplicate).
    order = {d: i for i, d in enumerate(dataset_names())}
    items.sort(key=lambda s: (order[s.dataset], s.path.stat().st_mtime_ns if s.path else 0, s.name))
    return items, skipped


def _manifest(source: str) -> dict:
    path = Path(source) / "manifest.json"
    if _URL.match(source) or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def profile_of(source: str, given: str | Path | None) -> str | Path:
    """The profile given, else the one a phm synth manifest's feeds need, else canonical."""
    if given is not None:
        return given
    config = _manifest(source).get("config")
    if isinstance(config, dict) and config.get("identity") == "pseudonymised":
        return "pseudonymised"
    return "canonical"


def extract_date_of(source: str, given: dt.date | None) -> dt.date:
    """The date the extract was taken: given, else a phm synth manifest's, else today (UTC)."""
    if given is not None:
        return given
    try:
        return dt.date.fromisoformat(_manifest(source)["extract_date"])
    except (KeyError, TypeError, ValueError):
        return dt.datetime.now(dt.UTC).date()


class Ingestor:
    def __init__(self, wh: Warehouse, key: PseudonymKey, profile: Profile, *, profile_label: str,
                 encoding: str | None, delimiter: str | None, extract_date: dt.date,
                 timings: Timings) -> None:
        self.wh, self.key, self.profile = wh, key, profile
        self.timings = timings
        self.profile_label = profile_label
        self.encoding = encoding or profile.encoding
        if delimiter in ("\\t", "tab"):
            delimiter = "\t"
        if delimiter is not None and len(delimiter) != 1:
            raise UserError(f"--delimiter must be one character (or \\t for tab), not {delimiter!r}")
        self.delimiter = delimiter or profile.delimiter
        # what else, besides the bytes, decides what a load produces
        self.options = json.dumps({"profile": hashlib.sha256(profile.model_dump_json().encode()).hexdigest()[:16],
                                   "encoding": self.encoding, "delimiter": self.delimiter}, sort_keys=True)
        self.extract_date = extract_date
        self.identity = profile.identity
        self.pseudo = Pseudonymiser(key, self.identity)
        self._registered = None  # distinct person_id on the patients list, read once a run
        meta = wh.meta()
        if meta.get("pseudonym_key_id") and meta["pseudonym_key_id"] != key.key_id:
            raise UserError(f"this warehouse was pseudonymised with key {meta['pseudonym_key_id']}, but the key "
                            f"given ({key.origin}) is {key.key_id}; use the same key, or a new warehouse "
                            "after a key rotation")
        # A warehouse holds people identified one way only: NHS numbers keyed here, or one
        # supplier pseudonym format. Mixing would split each person in two without a word.
        held = meta.get("identity_scheme") or ("nhs_number" if meta.get("pseudonym_key_id") else None)
        if held is not None and held != self.identity.label:
            raise UserError(f"this warehouse identifies people by {_scheme_words(held)}, but profile "
                            f"{profile.name!r} gives {_scheme_words(self.identity.label)}; one warehouse never "
                            "mixes the two (the same person would become two): use a new warehouse, or the "
                            "profile the warehouse was built with")
        self.meta = {"pseudonym_key_id": key.key_id, "identity_scheme": self.identity.label,
                     "schema_version": SCHEMA_VERSION, "backend": wh.backend,
                     "created_by": f"phm {phm.__version__}"}

    def registered(self):
        """Sorted distinct person_id of the patients list in the warehouse (None if not loaded)."""
        if self._registered is None and self.wh.has_table("raw_patients"):
            t = self.wh.table("raw_patients")
            ids = fetch(t.filter(t.person_id.notnull()).select("person_id").distinct())["person_id"]
            self._registered = np.sort(ids.to_numpy(zero_copy_only=False))
        return self._registered

    def check_pseudonyms_link(self, item: SourceItem, ids) -> None:
        """A file pseudonymised with another key or salt (each DSCRO recipient gets its own)
        matches almost nobody on the patients list; refuse it rather than load strangers."""
        reg = self.registered()
        ids = np.unique(np.concatenate(ids)) if ids else np.empty(0, np.int64)
        if reg is None or reg.size == 0 or ids.size < MIN_IDS_FOR_LINK_CHECK:
            return
        pos = np.minimum(np.searchsorted(reg, ids), reg.size - 1)
        share = float((reg[pos] == ids).mean())
        if share < self.identity.min_match:
            raise BadFile(item.name, f"only {share:.1%} of its {ids.size:,} distinct pseudonyms are on the "
                          f"patients list (at least {self.identity.min_match:.0%} expected); it looks "
                          "pseudonymised with a different key or salt from the patients file, so it is not "
                          "loaded; ask the supplier for the feed pseudonymised for this ICB")

    def _same(self, prev: dict, sha: str | None, item: SourceItem) -> bool:
        return (prev["sha256"] == sha and prev["dataset"] == item.dataset and prev["schema_version"] == SCHEMA_VERSION
                and prev["profile"] == self.profile_label and prev.get("options") == self.options
                and prev["pseudonym_key_id"] == self.key.key_id)

    def load(self, item: SourceItem, progress=None) -> SourceResult:
        with self.timings.step(item.dataset):
            result = self._load(item, progress)
        self.timings.add_rows(item.dataset, result.rows_in)
        return result

    def _load(self, item: SourceItem, progress=None) -> SourceResult:
        part = f"{item.dataset}{Timings.PART}"
        ledger = ledger_mod.read_ledger(self.wh)
        prev = ledger_mod.current(ledger).get(item.name)
        with self.timings.step(part + "sha256 of the file"):
            sha = sha256_file(item.path) if item.path is not None else None
        if prev is not None and self._same(prev, sha, item):
            return SourceResult(item.name, item.dataset, "unchanged", prev["rows_in"], prev["rows_loaded"],
                                prev["rows_quarantined"])
        c = contract(item.dataset)
        wanted = {col: self.profile.source_column(item.dataset, col) for col in c.columns}
        must = {n for n, col in c.columns.items() if col.required or col.type == "nhs_number"}
        info = ReadInfo()
        hasher = hashlib.sha256() if item.path is None else None
        if item.fmt == "csv":
            batches = read_csv(item.path, item.name, wanted, must, info, encoding=self.encoding,
                               delimiter=self.delimiter)
        elif item.fmt == "parquet":
            batches = read_parquet(item.path, item.name, wanted, must, info)
        else:
            batches = read_table(item.table, item.name, wanted, must, info, hasher=hasher)
        schema = raw_schema(item.dataset)
        nhs_col = next((n for n, col in c.columns.items() if col.type == "nhs_number"), None)
        loaded = quarantined = raw_nhs = 0
        check_link = self.identity.scheme == "pseudonym" and nhs_col is not None and item.dataset != "patients"
        seen_ids: list = []
        task = progress.add_task(f"{item.dataset}: {item.name}", total=None) if progress else None
        tx = self.wh.transaction()
        # Writes run on one background thread (the engine releases the GIL) while the next batch
        # is read and validated; at most two batches wait, which bounds memory.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phm-write")
        pending: deque = deque()

        def write(table: pa.Table, q: pa.Table) -> None:
            raw_w.write(table)
            q_w.write(q)

        try:
            if prev is not None and prev["dataset"] != item.dataset:  # the source now says it is another dataset
                tx.writer(f"raw_{prev['dataset']}", raw_schema(prev["dataset"]), item.name)
            raw_w = tx.writer(f"raw_{item.dataset}", schema, item.name)
            q_w = tx.writer(QUARANTINE_TABLE, QUARANTINE_SCHEMA, item.name)
            batches = iter(batches)
            while True:
                with self.timings.step(part + "read"):
                    batch = next(batches, None)
                if batch is None:
                    break
                with self.timings.step(part + "validate"):
                    typed, lines, q = validate(batch, c, item.dataset, item.name,
                                               date_format=self.profile.date_format_for(item.dataset),
                                               timestamp_format=self.profile.timestamp_format_for(item.dataset))
                cols = {}
                for f in schema:
                    if f.name in typed:
                        cols[f.name] = typed[f.name]
                if nhs_col is not None:
                    with self.timings.step(part + "pseudonymise"):
                        cols["person_id"], cols["nhs_number_status"] = self.pseudo.pseudonymise(typed[nhs_col])
                    if self.identity.scheme == "pseudonym":
                        leaked = pc.equal(cols["nhs_number_status"], "raw_nhs_number")
                        raw_nhs += int(pc.sum(leaked).as_py() or 0)
                    if check_link:
                        seen_ids.append(pc.unique(cols["person_id"].drop_null()).to_numpy())
                else:
                    cols["person_id"] = pa.nulls(len(lines), pa.int64())
                    cols["nhs_number_status"] = pa.nulls(len(lines), pa.string())
                cols["_source"] = constant(item.name, len(lines))
                cols["_line"] = pa.array(lines, pa.int64())
                table = pa.table([cols[f.name] for f in schema], schema=schema)
                with self.timings.step(part + "write (waiting for the writer)"):
                    pending.append(pool.submit(write, table, q))
                    while len(pending) > 2:
                        pending.popleft().result()
                loaded += table.num_rows
                quarantined += q.num_rows
                if progress:
                    progress.advance(task, table.num_rows + q.num_rows)
            with self.timings.step(part + "write (waiting for the writer)"):
                while pending:
                    pending.popleft().result()
            if loaded + quarantined != info.rows_in:
                raise RuntimeError(f"{item.name}: rows in {info.rows_in} != loaded {loaded} + quarantined "
                                   f"{quarantined}; this is a bug in phm")
            if check_link:
                with self.timings.step(part + "pseudonyms link to the patients list"):
                    self.check_pseudonyms_link(item, seen_ids)
            if raw_nhs:
                info.notes.append(f"{raw_nhs:,} rows carry a valid NHS number in the pseudonym column "
                                  f"{self.identity.column}: the supplier did not pseudonymise them; they are "
                                  "not linked and the number is not stored (DQ-PSN-02)")
            if hasher is not None:
                sha = hasher.hexdigest()
                if prev is not None and self._same(prev, sha, item):
                    tx.rollback()
                    return SourceResult(item.name, item.dataset, "unchanged", prev["rows_in"],
                                        prev["rows_loaded"], prev["rows_quarantined"])
            row = {
                "source": item.name, "dataset": item.dataset, "format": item.fmt, "sha256": sha,
                "size_bytes": item.path.stat().st_size if item.path is not None else None,
                "rows_in": info.rows_in, "rows_loaded": loaded, "rows_quarantined": quarantined,
                "schema_version": SCHEMA_VERSION, "profile": self.profile_label, "options": self.options,
                "encoding": info.encoding,
                "delimiter": info.delimiter, "extract_date": self.extract_date,
                "pseudonym_key_id": self.key.key_id, "phm_version": phm.__version__,
                "notes": "; ".join(info.notes) or None,
            }
            with self.timings.step(part + "ledger and commit"):
                tx.replace_table(ledger_mod.LEDGER_TABLE, ledger_mod.with_load(ledger, row))
                tx.replace_table("warehouse_meta", meta_table(self.meta))
                tx.commit()
        except BaseException:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)
            tx.rollback()
            raise
        finally:
            pool.shutdown(wait=True)
            if progress:
                progress.remove_task(task)
        if item.dataset == "patients":
            self._registered = None
        status = "replaced" if prev is not None else "loaded"
        return SourceResult(item.name, item.dataset, status, info.rows_in, loaded, quarantined, notes=info.notes)


def ingest(source: str | Path, warehouse: str | Path, *, profile: str | Path | None = None,
           key_file: Path | None = None, demo: bool = False, backend: str | None = None,
           dataset: str | None = None, encoding: str | None = None, delimiter: str | None = None,
           extract_date: dt.date | None = None, run_dq: bool = True, console: Console | None = None,
           progress: bool = False) -> IngestReport:
    """Load every source under ``source`` into ``warehouse``; see the module docstring."""
    source = str(source)
    key = load_key(key_file, demo=demo)
    profile = profile_of(source, profile)
    prof = load_profile(profile)
    label = prof.name if profile is None or str(profile) == prof.name else f"{prof.name} ({Path(str(profile)).name})"
    items, skipped = discover(source, prof, dataset)
    timings = Timings()
    report = IngestReport(Path(warehouse), skipped=skipped, timings=timings)
    wh = connect(warehouse, backend, create=True)
    try:
        ing = Ingestor(wh, key, prof, profile_label=label, encoding=encoding, delimiter=delimiter,
                       extract_date=extract_date_of(source, extract_date), timings=timings)
        bar = _progress(console) if progress else None
        if bar:
            bar.start()
        try:
            for item in items:
                try:
                    report.results.append(ing.load(item, bar))
                except BadFile as e:
                    report.results.append(SourceResult(item.name, item.dataset, "failed", error=str(e)))
                except UserError:
                    raise
                except Exception as e:  # a bug; this source is not loaded, the others still are
                    msg = redact_nhs_numbers(str(e).splitlines()[0] if str(e) else "")
                    report.results.append(SourceResult(
                        item.name, item.dataset, "failed",
                        error=f"{item.name}: not loaded: internal error ({type(e).__name__}: {msg}); this is a bug "
                              "in phm, set PHM_DEBUG=1 to see where"))
                    if os.environ.get("PHM_DEBUG"):
                        raise
            from phm.quality import compute_quality, dq_is_current

            changed = any(r.status in ("loaded", "replaced") for r in report.results)
            if run_dq and (changed or not dq_is_current(wh)):
                if bar:
                    t = bar.add_task("data-quality rules", total=None)
                with timings.step("data-quality rules"):
                    compute_quality(wh)
                if bar:
                    bar.remove_task(t)
                report.dq_computed = True
        finally:
            if bar:
                bar.stop()
    finally:
        wh.close()
        timings.close()
    return report


def _scheme_words(label: str) -> str:
    if label == "nhs_number":
        return "NHS number (pseudonymised by phm)"
    return "supplier pseudonym (" + label.removeprefix("pseudonym:") + ")"


def _progress(console: Console | None):
    from phm.progress import progress

    return progress(console or Console(stderr=True), counts="rows")
