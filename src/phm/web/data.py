"""What the web layer serves, held in memory: the dashboard's aggregate tables, each in two
versions, as the analyst sees it and after disclosure control for everyone else.

The tables are small aggregates written by ``phm build``; they are read once at start-up
from the warehouse (read-only). Disclosure control (:func:`phm.disclosure.protect`) is
applied once over every table and area together (:mod:`phm.web.links`), so a cell is
suppressed the same way whoever asks and wherever it is shown, and complementary suppression
sees every additive relation: child areas of one parent (practices of a PCN, PCNs of a place,
places of the ICB) for the same year and category, and the categories of one area that add
up to a total in the same or another table (:data:`phm.web.datasets.RELATIONS`). A request then only
selects rows: no patient rows are touched, and no request can change what is suppressed.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from phm.disclosure import Kind
from phm.errors import UserError
from phm.web import significance
from phm.web.datasets import AREA, DATASETS, Dataset
from phm.web.export import precise
from phm.web.links import protect_by_year
from phm.web.names import fill as fill_names
from phm.web.roles import Hierarchy, permitted_areas

JSON_CACHE_SIZE = 4096
DQ_TABLES = ("dq_scores", "dq_rules", "dq_linkage")
MART_NAMES = ("person", "person_year", "spells", "provider_spells", "activity", "activity_unlinked",
              "person_condition", "spend_top_persons")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _ratio(row: dict, c) -> float | None:
    num, den = row.get(c.numerator), row.get(c.denominator)
    scale = row.get(c.scale_by) if c.scale_by else 1.0
    if num is None or den in (None, 0) or scale is None:
        return None
    return num / den * c.scale * scale


@dataclass
class Served:
    """One dataset in memory: rows by (level, area) for each audience, and its years."""

    dataset: Dataset
    raw: dict[tuple[str, str], list[dict]]
    protected: dict[tuple[str, str], list[dict]]
    years: list[int]


class Dashboard:
    """The in-memory dashboard data of one built warehouse."""

    def __init__(self, warehouse: str | Path) -> None:
        from phm.warehouse import connect

        self.path = Path(warehouse)
        if not self.path.exists():
            raise UserError(f"no warehouse at {self.path}; run 'phm demo' or 'phm build' first")
        self._wh = connect(self.path, read_only=True)
        self._lock = threading.Lock()  # one query at a time on the shared read-only connection
        tables = set(self._wh.list_tables())
        missing = [d.table for d in DATASETS.values() if d.table not in tables] + (
            ["dash_areas"] if "dash_areas" not in tables else [])
        if missing:
            self._wh.close()
            raise UserError(f"warehouse {self.path} has no {', '.join(sorted(set(missing)))}; "
                            f"run 'phm build --warehouse {self.path}' first")
        self.hierarchy = Hierarchy.from_rows(self._wh.to_arrow("dash_areas").to_pylist(), _icb_names())
        self.build_info = dict(zip(*(self._wh.to_arrow("build_meta").to_pydict().values()), strict=True))
        self.served = self._load_all()
        for name, s in self.served.items():  # higher/similar/lower, from the exact rows (issue 12)
            significance.annotate(name, [r for k in s.raw for r in s.raw[k]],
                                  [r for k in s.raw for r in s.protected.get(k, ())], self.hierarchy.parent.get)
        self.dq = {t: self._wh.to_arrow(t).to_pylist() if t in tables else [] for t in DQ_TABLES}
        self.dq_results, self.dq_clean = self._dq_results() if "dq_results" in tables else ([], {})
        self.marts = [m for m in MART_NAMES if m in tables]
        # similar areas (phm.analysis.peers): small, and not about people
        self.peers = self._wh.to_arrow("dash_peers").to_pylist() if "dash_peers" in tables else []
        self.peer_profile = self._wh.to_arrow("dash_peer_profile").to_pylist() if "dash_peer_profile" in tables else []
        self.opportunity: dict[tuple[str, str], list[dict]] = {}  # phm.analysis.opportunity, by area
        for r in self._wh.to_arrow("dash_opportunity").to_pylist() if "dash_opportunity" in tables else []:
            self.opportunity.setdefault((r["level"], r["area_code"]), []).append(r)
        self._permitted: dict = {}
        self._json: OrderedDict[tuple, bytes] = OrderedDict()  # responses: the data never changes
        self._json_lock = threading.Lock()

    def permitted(self, role, organisation: str) -> frozenset:
        """The areas a role in an organisation may see (cached; the hierarchy never changes)."""
        key = (role, organisation)
        if key not in self._permitted:
            self._permitted[key] = frozenset(permitted_areas(role, organisation, self.hierarchy))
        return self._permitted[key]

    def cached_json(self, key: tuple, make) -> bytes:
        """The JSON bytes for ``key``, made once by ``make()`` (a dict) and then reused: the
        served data is fixed for the life of the process (least recently used of 4,096 dropped)."""
        with self._json_lock:
            body = self._json.get(key)
            if body is not None:
                self._json.move_to_end(key)
                return body
        body = json.dumps(make(), separators=(",", ":"), allow_nan=False, default=str).encode()
        with self._json_lock:
            self._json[key] = body
            if len(self._json) > JSON_CACHE_SIZE:
                self._json.popitem(last=False)
        return body

    def close(self) -> None:
        self._wh.close()

    # ---- loading --------------------------------------------------------------------

    def _read(self, d: Dataset) -> list[dict]:
        """The exact rows of one dataset, with its money support columns."""
        rows = [{k: _clean(v) for k, v in r.items()} for r in self._wh.to_arrow(d.table).to_pylist()]
        fill_names(d.name, rows, self.hierarchy.name)
        names = [c.name for c in (*AREA, *d.columns)] + list(d.support)
        for r in rows:  # ratio columns the analyst sees are computed the same way, unrounded
            for c in d.measures:
                if c.kind is Kind.RATIO and c.name not in r:
                    r[c.name] = _ratio(r, c)
        return [{n: r.get(n) for n in names} for r in rows]

    def _load_all(self) -> dict[str, Served]:
        """Every dataset, raw and protected: :func:`phm.web.links.protect_by_year` over all of them
        together, so a cell withheld in one cannot be recovered from the others."""
        # year by year, oldest first: the order protect_by_year gives the protected rows back in
        raw = {name: sorted(self._read(d), key=lambda r: (r["fy"] is None, r["fy"] or 0))
               for name, d in DATASETS.items()}
        protected, self.protection = protect_by_year(raw, self.hierarchy.parent.get)
        served = {}
        for name, d in DATASETS.items():
            rows = protected[name]
            if d.after_protect is not None:
                d.after_protect(rows)
            shown_names = [c.name for c in (*AREA, *d.columns)]
            analyst = [{n: r[n] for n in shown_names} for r in raw[name]]
            # every float at its precision, once, so pages, JSON, CSV and XLSX show one value
            kinds = {c.name: c.kind.value for c in d.columns}
            for r in (*analyst, *rows):
                for k, v in r.items():
                    if isinstance(v, float):
                        r[k] = precise(v, kinds.get(k, ""))
            years = sorted({r["fy"] for r in analyst if r["fy"] is not None})
            served[name] = Served(d, _index(analyst), _index(rows), years)
        return served

    def _dq_results(self) -> tuple[list[dict], dict[str | None, int]]:
        """Rule results summed over months: one row per dataset x rule x submitter with a failing
        record or a month over its threshold, its ``result`` "fail" when any month failed its
        threshold (as the DQ report counts failing rules) and "pass" otherwise; and, by
        submitter, how many other results there are (no failing record in any month: passed)."""
        t = self._wh.table("dq_results")
        agg = (t.group_by(["dataset", "rule_id", "category", "submitter"])
               .aggregate(records=t.records.sum(), failures=t.failures.sum(), threshold=t.threshold.max(),
                          failed_months=(~t.passed.fill_null(False)).cast("int64").sum()))
        listed = (agg.failures > 0) | (agg.failed_months > 0)
        clean = agg.filter(~listed).group_by("submitter").aggregate(results=lambda a: a.count())
        with self._lock:
            out = agg.filter(listed).to_pyarrow()
            passed = clean.to_pyarrow().to_pylist()
        rows = out.to_pylist()
        for r in rows:
            r["rate"] = r["failures"] / r["records"] if r["records"] else None
            r["result"] = "fail" if r.pop("failed_months") else "pass"
        rows.sort(key=lambda r: (r["submitter"] or "", r["dataset"], r["rule_id"]))
        return rows, {r["submitter"]: r["results"] for r in passed}

    # ---- queries --------------------------------------------------------------------

    def rows(self, name: str, areas: list[tuple[str, str]], fy: int | None, controlled: bool) -> tuple[list[dict], int | None]:
        """Rows of dataset ``name`` for ``areas`` and year ``fy`` (default: latest; None = all for
        a dataset with every year)."""
        s = self.served[name]
        if fy is not None and fy not in s.years:
            raise LookupError(f"no financial year {fy} in {name}; years: {', '.join(map(str, s.years))}")
        if fy is None and not s.dataset.all_years:
            fy = s.years[-1] if s.years else None
        index = s.protected if controlled else s.raw
        out = []
        for a in areas:
            out.extend(r for r in index.get(a, ()) if fy is None or r["fy"] == fy)
        return out, fy

    def feedback(self, submitter: str) -> bytes:
        from phm.quality.report import feedback_csv

        with self._lock:
            return feedback_csv(self._wh, submitter)

    def mart(self, name: str, limit: int, offset: int) -> pa.Table:
        t = self._wh.table(name)
        with self._lock:
            return t.limit(limit, offset=offset).to_pyarrow()

    def mart_count(self, name: str) -> int:
        t = self._wh.table(name)
        with self._lock:
            return int(t.count().to_pyarrow().as_py())


def _icb_names() -> dict[str, str]:
    from phm.refdata.icb import icbs

    t = icbs()
    return dict(zip(t["icb_code"].to_pylist(), t["icb_name"].to_pylist(), strict=True))


def _index(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        out[(r["level"], r["area_code"])].append(r)
    return dict(out)
