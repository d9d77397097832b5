"""A differencing attacker, for ``test_attack.py`` (issue 12, item 4).

An attacker signs in as a non-analyst role, downloads everything the role may see and
turns it into *cells*: ``(dataset, level, area_code, fy, category keys, column)`` ->
released value (a number, ``"*"`` or None). From the published definitions (docs/web.md,
docs/analysis.md) they know additive *relations* between cells: child areas add up to their
parent, categories of an area add up to its total, and the same total appears in several
tables. Each released value is an interval of true values under the published rounding
rule; a withheld value is an unknown. Linear programming over all relations and intervals
then bounds every withheld cell: if a withheld count is provably 1-7, or a withheld sum of
money is pinned to within the rounding base, disclosure control has failed.

Everything here is plain data and numpy/scipy: parsing of JSON, CSV, XLSX and the pages'
embedded chart data (:func:`cells_from_payload`, :func:`cells_from_csv`,
:func:`cells_from_xlsx`, :func:`cells_from_page`), the relations
(:func:`candidate_relations`, checked on the analyst's unrounded cells by
:func:`verify_relations`), the interval rule (:func:`count_interval`,
:func:`money_interval`) and the solver (:func:`attack`).
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from phm.disclosure import SUPPRESSED as STAR
from phm.disclosure import Kind
from phm.web.datasets import AREA, DATASETS

LEVELS = ("practice", "pcn", "place", "icb")
CHILD_LEVEL = {"icb": "place", "place": "pcn", "pcn": "practice"}
NON_INTEGER_COUNTS = frozenset({"person_years"})  # every other count is a whole number
SMALL_MAX = 7  # counts 1-7 are what the HES rule hides
INF = math.inf

# A cell: (dataset, level, area_code, fy, category keys (strings), column)
Key = tuple[str, str, str, Any, tuple[str, ...], str]
Area = tuple[str, str]  # (level, code)


def kinds(dataset: str) -> dict[str, Kind]:
    return {c.name: c.kind for c in DATASETS[dataset].columns}


def is_count(key: Key) -> bool:
    return kinds(key[0]).get(key[5]) is Kind.COUNT


def is_money(key: Key) -> bool:
    return kinds(key[0]).get(key[5]) is Kind.MONEY


PER_PERSON_YEAR = ("acsc_", "ebi_")  # indicators whose denominator is person-years (docs/indicators.md)


def is_integer(key: Key) -> bool:
    if key[5] == "denominator" and key[0].startswith("indicators") and any(
            k.startswith(PER_PERSON_YEAR) for k in key[4]):
        return False
    return is_count(key) and key[5] not in NON_INTEGER_COUNTS


def show(key: Key) -> str:
    ds, level, area, fy, keys, col = key
    return f"{ds}[{level} {area} {fy} {'/'.join(keys) or '-'}].{col}"


# ---- parsing ----------------------------------------------------------------------------


def _key_text(v) -> str:
    """A category key as text, the same from JSON, CSV and XLSX."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _unneutralise(s: str) -> str:
    """Undo :func:`phm.quality.report.neutralise` (a leading apostrophe before = + - @ etc.)."""
    if s.startswith("'") and s[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return s[1:]
    return s


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _row_cells(dataset: str, row: dict[str, Any]) -> dict[Key, Any]:
    d = DATASETS[dataset]
    fy = row.get("fy")
    fy = int(fy) if isinstance(fy, int | float) else fy
    keys = tuple(_key_text(row.get(c.name)) for c in d.keys)
    head = (dataset, row["level"], _key_text(row["area_code"]), fy, keys)
    key_names = {c.name for c in (*AREA, *d.keys)}
    return {(*head, name): v for name, v in row.items() if name not in key_names}


def _add(out: dict[Key, Any], cells: dict[Key, Any], where: str) -> None:
    for k in cells:
        if k in out:
            raise AssertionError(f"{where}: cell {show(k)} appears twice in one table")
    out.update(cells)


def cells_from_payload(payload: dict) -> dict[Key, Any]:
    """Cells of one JSON table response (``/api/v1/data/...`` or a practice view's table)."""
    out: dict[Key, Any] = {}
    for row in payload["rows"]:
        _add(out, _row_cells(payload["dataset"], row), f"JSON {payload['dataset']}")
    return out


def _label_names(dataset: str) -> dict[str, str]:
    from phm.web.significance import COLUMNS

    cols = (*AREA, *DATASETS[dataset].columns, *COLUMNS.get(dataset, ()))
    names = {c.label: c.name for c in cols}
    assert len(names) == len(cols), f"{dataset}: column labels are not unique"
    return names


def _typed(dataset: str, name: str, v):
    """A downloaded value typed like JSON: '*' stays, '' is None, numbers are numbers."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        v = _unneutralise(v)
        if v == STAR:
            return STAR
        kind = kinds(dataset).get(name)
        if name == "fy" or (kind in (Kind.COUNT, Kind.MONEY, Kind.RATIO, Kind.STANDARDISED) and kind):
            return _number(v)
        if name in ("level", "area_code") or kind is Kind.LABEL:
            return _number(v) if name == "fy" else v
        return _number(v)
    return v


def _table_cells(dataset: str, header: list[str], rows: Iterable[list], where: str) -> dict[Key, Any]:
    names = _label_names(dataset)
    cols = [names[h] for h in header]
    out: dict[Key, Any] = {}
    for values in rows:
        row = {c: _typed(dataset, c, v) for c, v in zip(cols, values, strict=True)}
        _add(out, _row_cells(dataset, row), where)
    return out


def cells_from_csv(content: bytes, dataset: str) -> dict[Key, Any]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return _table_cells(dataset, rows[0], rows[1:], f"CSV {dataset}")


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_xlsx(content: bytes, sheet: int = 1) -> list[list]:
    """The cells of one worksheet as rows of values (str, float or None): a minimal reader
    of the OOXML that ``xlsxwriter`` writes (shared and inline strings, numbers, booleans)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
            for si in root.findall("m:si", _NS):
                shared.append("".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")))
        root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{sheet}.xml"))
    out: list[list] = []
    for row in root.iter(f"{{{_NS['m']}}}row"):
        i = int(row.get("r")) - 1
        while len(out) <= i:
            out.append([])
        values = out[i]
        for c in row.findall("m:c", _NS):
            ref = re.match(r"([A-Z]+)", c.get("r")).group(1)
            j = 0
            for ch in ref:
                j = j * 26 + ord(ch) - 64
            j -= 1
            t, v = c.get("t", "n"), c.find("m:v", _NS)
            if t == "s":
                val = shared[int(v.text)]
            elif t == "inlineStr":
                val = "".join(x.text or "" for x in c.iter(f"{{{_NS['m']}}}t"))
            elif t in ("str", "e"):
                val = v.text if v is not None else ""
            elif t == "b":
                val = v.text == "1"
            else:
                val = float(v.text) if v is not None and v.text is not None else None
            while len(values) <= j:
                values.append(None)
            values[j] = val
    return out


def cells_from_xlsx(content: bytes, dataset: str) -> dict[Key, Any]:
    rows = read_xlsx(content)
    header = rows[0]
    width = len(header)
    body = [(r + [None] * width)[:width] for r in rows[1:]]
    return _table_cells(dataset, header, body, f"XLSX {dataset}")


def same_value(a, b) -> bool:
    """Two shown values are the same cell value: both withheld, both empty, the same text or
    the same number (XLSX keeps 16 significant digits)."""
    a, b = (_number(v) if isinstance(v, str) and v != STAR else v for v in (a, b))  # CSV text
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-13, abs_tol=1e-9)


@dataclass
class Views:
    """Every cell a role saw, from every view, and the cells that differ between views."""

    cells: dict[Key, Any] = field(default_factory=dict)
    seen_in: dict[Key, str] = field(default_factory=dict)
    conflicts: list[tuple[Key, str, Any, str, Any]] = field(default_factory=list)
    tables: set[tuple[str, str, str, Any]] = field(default_factory=set)  # (ds, level, area, fy) seen
    views: int = 0
    _by_table: dict[tuple, list[Key]] = field(default_factory=dict)  # cells by k[:4], once read

    def add(self, view: str, cells: dict[Key, Any]) -> None:
        self.views += 1
        self._by_table.clear()
        for k, v in cells.items():
            self.tables.add(k[:4])
            if k not in self.cells:
                self.cells[k], self.seen_in[k] = v, view
            elif not same_value(self.cells[k], v):
                self.conflicts.append((k, self.seen_in[k], self.cells[k], view, v))

    def of_table(self, table: tuple) -> list[Key]:
        """The cells of one ``(dataset, level, area, fy)`` table."""
        if not self._by_table:
            for k in self.cells:
                self._by_table.setdefault(k[:4], []).append(k)
        return self._by_table.get(table, [])

    def check(self, key: Key, view: str, value) -> None:
        """A value shown outside a table (a chart point): it must equal the table's cell."""
        self.views += 1
        if key not in self.cells:
            self.conflicts.append((key, "no table", None, view, value))
        elif not same_value(self.cells[key], value):
            self.conflicts.append((key, self.seen_in[key], self.cells[key], view, value))


# ---- pages ------------------------------------------------------------------------------

_PANEL = re.compile(r'<section class="panel"[^>]*>(.*?)</section>', re.S)
_TITLE = re.compile(r"<h2[^>]*>(.*?)</h2>", re.S)
_FIGURE = re.compile(r'<script type="application/json" class="figure"[^>]*>(.*?)</script>', re.S)
_TH = re.compile(r"<th[^>]*>(.*?)</th>", re.S)
_TR = re.compile(r"<tr>(.*?)</tr>", re.S)
_TD = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


@dataclass
class Panel:
    title: str
    figure: dict | None
    header: list[str]
    rows: list[list[str]]


def page_panels(text: str) -> list[Panel]:
    out = []
    for m in _PANEL.finditer(text):
        body = m.group(1)
        title = html.unescape(_TITLE.search(body).group(1).strip())
        fig = _FIGURE.search(body)
        header, rows = [], []
        if "<table>" in body:
            table = body[body.index("<table>"):]
            head, _, tbody = table.partition("<tbody>")
            header = [html.unescape(h.strip()) for h in _TH.findall(head)]
            rows = [[html.unescape(c.strip()) for c in _TD.findall(tr)] for tr in _TR.findall(tbody)]
        out.append(Panel(title, json.loads(fig.group(1)) if fig else None, header, rows))
    return out


def _values(v) -> list:
    """A Plotly data array: a list, or a typed array ``{"dtype", "bdata"}``."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape(v["shape"]).tolist() if "shape" in v else arr.tolist()
    return list(v) if v is not None else []


def table_view_check(views: Views, panel: Panel, dataset: str, level: str, area_codes: Iterable[str],
                     fy, fmt, where: str) -> int:
    """Each cell of a page's table view is the API cell, formatted by the page's ``fmt``."""
    d = DATASETS[dataset]
    names = _label_names(dataset)
    cols = [names[h] for h in panel.header]
    key_cols = [c.name for c in d.keys]
    kind = kinds(dataset)
    by_label: dict[tuple, Key] = {}
    index = {}
    for code in area_codes:
        for k in [k for k in views.cells if k[:3] == (dataset, level, code) and (fy is None or k[3] == fy)]:
            index.setdefault(k[:5], {})[k[5]] = views.cells[k]
    for head, vals in index.items():
        row = {"level": head[1], "area_code": head[2], "fy": head[3], **dict(zip(key_cols, head[4], strict=True)),
               **vals}
        label = tuple(fmt(row.get(c), "label", c) for c in cols if c in ("level", "area_code", "fy", *key_cols)
                      and c != "min_age")
        by_label[label] = head
    n = 0
    for texts in panel.rows:
        row = dict(zip(cols, texts, strict=True))
        label = tuple(row[c] for c in cols if c in ("level", "area_code", "fy", *key_cols) and c != "min_age")
        head = by_label.get(label)
        if head is None:
            views.conflicts.append(((dataset, level, "?", fy, label, "?"), "no table", None, where, texts))
            continue
        for c in cols:
            if c in ("level", "area_code", "fy", *key_cols):
                continue
            k = (*head, c)
            want = fmt(views.cells.get(k), kind[c].value, c)
            n += 1
            if want != row[c]:
                views.conflicts.append((k, views.seen_in.get(k, "no table"), views.cells.get(k), where, row[c]))
    return n


def _num(v):
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _expect(views: Views, key: Key, shown, where: str) -> None:
    """A chart value: None where the cell is withheld or empty, else the cell's number."""
    cell = views.cells.get(key, "missing")
    if cell == "missing":
        views.conflicts.append((key, "no table", None, where, shown))
        return
    views.views += 1
    want = _num(cell)
    if (want is None) != (shown is None) or (want is not None and not same_value(want, shown)):
        views.conflicts.append((key, views.seen_in[key], cell, where, shown))


def _keys_by(views: Views, dataset: str, level: str, area: str, fy, pos: int) -> dict[str, tuple]:
    """Category keys of an area's table, by the text of key number ``pos``."""
    return {k[4][pos]: k[4] for k in views.of_table((dataset, level, area, fy))}


def chart_cells(views: Views, page: str, fig: dict, level: str, area: str, fy, where: str,
                names: dict[str, dict[str, str]]) -> int:
    """Check one chart of a population page against the table cells it draws: every point
    is the cell's value, or a gap where the cell is withheld. ``names``: display name ->
    key value for ``setting``, ``segment`` and ``programme``; ``sex`` name -> codes.
    Returns the number of points checked (0 for a chart this function does not map)."""
    title = fig["layout"]["title"]["text"]
    data = [tr for tr in fig["data"] if not str(tr.get("name", "")).startswith("*")]  # not the * markers
    n = 0

    def check(ds, keys, col, shown, fy_=fy, level_=level, area_=area):
        nonlocal n
        _expect(views, (ds, level_, area_, fy_, tuple(keys), col), _num(shown), f"{where}: {title}")
        n += 1

    def series(trace, horizontal=None):
        horizontal = trace.get("orientation") == "h" if horizontal is None else horizontal
        cats, vals = _values(trace.get("y" if horizontal else "x")), _values(trace.get("x" if horizontal else "y"))
        return list(zip(cats, vals, strict=True))

    setting, segment = names["setting"], names["segment"]
    if title.startswith("Registered population by age and sex"):
        for tr in data:
            codes = [s for s, nm in names["sex"].items() if nm == tr["name"]]
            sexes = {k[1] for k in _keys_by(views, "pyramid", level, area, fy, 0).values()}
            code = [c for c in codes if c in sexes]
            if len(code) != 1:
                continue
            for band, value in zip(_values(tr["y"]), _values(tr.get("customdata")), strict=True):
                if (band, code[0], tr["name"]) in _keys_by(views, "pyramid", level, area, fy, 0).values():
                    check("pyramid", (band, code[0], tr["name"]), "persons", value)
    elif title.startswith("People by IMD 2019 decile"):
        for cat, v in series(data[0]):
            check("imd", (cat,), "persons", v)
    elif title == "Spend by setting":
        for cat, v in series(data[0]):
            check("settings", (setting[cat], cat), "spend", v)
    elif title in ("Spend per head by financial year",
                   "Emergency admissions per 1,000 registered persons by financial year"):
        col = "spend_per_head" if title.startswith("Spend") else "emergency_per_1000"
        for tr in data:  # one series: the page's area, by name; years as 2024/25
            for cat, v in series(tr):
                check("summary", (), col, v, fy_=int(str(cat)[:4]))
    elif title in ("People by segment", "Spend by segment", "Spend per head by segment"):
        col = {"People": "persons", "Spend by": "spend", "Spend per": "spend_per_head"}
        c = next(v for k, v in col.items() if title.startswith(k))
        for cat, v in series(data[0]):
            check("segments", (segment[cat], cat), c, v)
    elif title.startswith(("Emergency admissions per 100,000 (DSR) by", "Spend per head by ")) and \
            page == "/inequalities":
        dim = next(d for d, label in (("imd2019_quintile", "IMD"), ("ethnic_group", "ethnic"), ("core20", "Core20"))
                   if label in title)
        col = "dsr" if title.startswith("Emergency") else "cost_per_head"
        for cat, v in series(data[0], horizontal=False):
            check("inequalities", (dim, cat), col, v)
    elif title.startswith("Programme budget"):
        by_name = _keys_by(views, "programmes", level, area, fy, 1)
        for tr in data:
            for cat, v in series(tr):
                keys = by_name.get(cat)
                keys = keys and (keys[0], keys[1], setting[tr["name"]], tr["name"])
                if keys and (("programmes", level, area, fy, keys, "spend") in views.cells):
                    check("programmes", keys, "spend", v)
                elif v is not None:
                    views.conflicts.append((("programmes", level, area, fy, (cat, tr["name"]), "spend"),
                                            "no table", None, where, v))
    elif title == "Spend per head by setting" and page == "/spend":
        for cat, v in series(data[0]):
            check("settings", (setting[cat], cat), "spend_per_head", v)
    elif title.startswith("Resource consumption map"):
        tr = data[0]
        for seg_name, zs in zip(_values(tr["y"]), _values(tr["z"]), strict=True):
            for set_name, v in zip(_values(tr["x"]), zs, strict=True):
                check("rcm", (segment[seg_name], seg_name, setting[set_name], set_name), "spend_per_person", v)
    elif title.startswith("Top-cost cohort"):
        for cat, v in series(data[0]):
            check("top_cohort", names["cohort"][cat], "share_of_cohort_spend", v)
    elif title.startswith("Recorded prevalence against expected"):
        by_cond = _keys_by(views, "prevalence", level, area, fy, 1)
        measure = "isr" if "ICB's age-sex rates" in title else "isr_england"
        for cat, v in series(data[0], horizontal=False):
            check("prevalence", by_cond[cat], measure, v)
    elif title.startswith("Funnel plot:"):
        condition = title.removeprefix("Funnel plot: ").removesuffix(" prevalence by practice")
        codes = names["practice"]
        for tr in data:
            if tr.get("name") != "Practice":
                continue
            for name, x, y in zip(_values(tr["text"]), _values(tr["x"]), _values(tr["y"]), strict=True):
                code = codes.get(name)
                if code is None:
                    continue
                keys = _keys_by(views, "prevalence", "practice", code, fy, 1)[condition]
                check("prevalence", keys, "denominator", x, level_="practice", area_=code)
                check("prevalence", keys, "prevalence", y, level_="practice", area_=code)
    return n


def practice_chart_cells(views: Views, fig: dict, areas: dict[str, Area], fy, where: str,
                         names: dict[str, dict[str, str]]) -> int:
    """The practice page's charts: series are areas (practice, PCN, ICB) by display name."""
    title = fig["layout"]["title"]["text"]
    n = 0
    for tr in fig["data"]:
        area = areas.get(tr.get("name"))
        if area is None:
            continue
        cats, vals = _values(tr["x"]), _values(tr["y"])
        for cat, v in zip(cats, vals, strict=True):
            if title == "Spend per head by setting":
                key = ("settings", *area, fy, (names["setting"][cat], cat), "spend_per_head")
            elif title == "Recorded prevalence":
                keys = _keys_by(views, "prevalence", *area, fy, 1).get(cat)
                if keys is None:
                    continue
                key = ("prevalence", *area, fy, keys, "prevalence")
            else:
                continue  # "Key measures against the ICB": indices derived from the summary
            _expect(views, key, _num(v), f"{where}: {title}")
            n += 1
    return n


# ---- relations --------------------------------------------------------------------------


@dataclass
class Relation:
    """``sum(coef * cell) == 0`` (sense "=") or ``<= 0`` (sense "<="). A cell missing from the
    published tables (no row for it) is 0."""

    family: str
    terms: tuple[tuple[float, Key], ...]
    sense: str = "="


def _index(truth: dict[Key, Any]) -> dict[tuple, dict[tuple, dict[str, Any]]]:
    """(dataset, level, area, fy) -> category keys -> column -> value."""
    out: dict[tuple, dict[tuple, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for k, v in truth.items():
        out[k[:4]][k[4]][k[5]] = v
    return out


def candidate_relations(truth: dict[Key, Any], parent: dict[Area, Area]) -> list[Relation]:
    """Every additive relation the published definitions imply, for the cells of ``truth``
    (the analyst's tables; only keys and which cells exist are used here). Each relation is
    written ``total - sum(parts)``; :func:`verify_relations` decides from the unrounded
    values which hold exactly, which only as an inequality and which not at all."""
    idx = _index(truth)
    rels: list[Relation] = []

    def add(family: str, total: Iterable[Key], parts: Iterable[Key]) -> None:
        terms = tuple([(1.0, k) for k in total] + [(-1.0, k) for k in parts])
        if len(terms) > 1:
            rels.append(Relation(family, terms))

    children: dict[Area, list[Area]] = defaultdict(list)
    for child, up in parent.items():
        children[up].append(child)

    # 1. Child areas add up to their parent, for the same year, category and column.
    for (ds, level, area, fy), by_keys in idx.items():
        d = DATASETS[ds]
        kids = children.get((level, area), [])
        if not d.hierarchical or not kids:
            continue
        cols = [c.name for c in d.measures if c.kind in (Kind.COUNT, Kind.MONEY)]
        for keys in by_keys:
            for col in cols:
                add(f"hierarchy {ds}.{col} {kids[0][0]}s -> {level}", [(ds, level, area, fy, keys, col)],
                    [(ds, *kid, fy, keys, col) for kid in kids])

    # 2. Categories of an area add up to its totals, and totals equal cells of other tables.
    for ds, level, area, fy in idx:
        if ds != "summary":
            continue
        head = (level, area, fy)

        def cells(dataset, col, where=lambda keys: True, head=head):
            rows = idx.get((dataset, *head), {})
            return [(dataset, *head, keys, col) for keys in rows if where(keys) and col in rows[keys]]

        def total(col, head=head):
            return [("summary", *head, (), col)]

        fam = f" ({level})"
        add("summary.persons = sum pyramid.persons" + fam, total("persons"), cells("pyramid", "persons"))
        add("summary.persons = sum imd.persons" + fam, total("persons"), cells("imd", "persons"))
        for col in ("persons", "person_years", "spend"):
            add(f"summary.{col} = sum segments.{col}" + fam, total(col), cells("segments", col))
        add("summary.spend = sum settings.spend" + fam, total("spend"), cells("settings", "spend"))
        add("summary.spend = sum programmes.spend" + fam, total("spend"), cells("programmes", "spend"))
        for k in cells("settings", "population"):
            add("summary.persons = settings.population" + fam, total("persons"), [k])
        for k in cells("programmes", "population"):
            add("summary.persons = programmes.population" + fam, total("persons"), [k])
        rows = idx.get(("inequalities", *head), {})
        for dim in sorted({keys[0] for keys in rows}):
            def in_dim(keys, dim=dim):
                return keys[0] == dim
            for col in ("persons", "person_years", "spend"):
                add(f"summary.{col} = sum inequalities.{col} per dimension" + fam, total(col),
                    cells("inequalities", col, in_dim))
            add("emergency.admissions = sum inequalities.admissions per dimension" + fam,
                [("emergency", *head, (), "admissions")] if ("emergency", *head) in idx else [],
                cells("inequalities", "admissions", in_dim))
        add("summary.core20 = inequalities[core20/Core20].persons" + fam, total("core20"),
            cells("inequalities", "persons", lambda keys: keys == ("core20", "Core20")))
        add("summary.core20 = imd.persons deciles 1, 2" + fam, total("core20"),
            cells("imd", "persons", lambda keys: keys[0] in ("1", "2")))
        add("summary.age65plus = sum pyramid.persons aged 65+" + fam, total("age65plus"),
            cells("pyramid", "persons", lambda keys: _band_low(keys[0]) >= 65))
        if ("emergency", *head) in idx:
            add("emergency.person_years = summary.person_years" + fam, total("person_years"),
                [("emergency", *head, (), "person_years")])
            add("summary.emergency_admissions = emergency.admissions" + fam, total("emergency_admissions"),
                [("emergency", *head, (), "admissions")])
        # IMD quintiles are pairs of deciles
        for q in range(1, 6):
            add("inequalities[imd quintile q].persons = imd.persons deciles 2q-1, 2q" + fam,
                cells("inequalities", "persons", lambda keys, q=q: keys == ("imd2019_quintile", str(q))),
                cells("imd", "persons", lambda keys, q=q: keys[0] in (str(2 * q - 1), str(2 * q))))
        add("inequalities[imd quintile Unknown].persons = imd[Unknown].persons" + fam,
            cells("inequalities", "persons", lambda keys: keys == ("imd2019_quintile", "Unknown")),
            cells("imd", "persons", lambda keys: keys[0] == "Unknown"))
        # segments, settings and the resource consumption map
        seg = idx.get(("segments", *head), {})
        rcm = idx.get(("rcm", *head), {})
        sett = idx.get(("settings", *head), {})
        for skeys in seg:
            mine = [k for k in rcm if k[:2] == skeys]
            for k in mine:
                add("rcm.persons = segments.persons" + fam, [("segments", *head, skeys, "persons")],
                    [("rcm", *head, k, "persons")])
            add("segments.spend = sum rcm.spend over settings" + fam, [("segments", *head, skeys, "spend")],
                [("rcm", *head, k, "spend") for k in mine])
            for k in mine:
                add("rcm.users <= rcm.persons" + fam, [("rcm", *head, k, "persons")], [("rcm", *head, k, "users")])
        for sk in sett:
            s = sk[0]
            mine = [k for k in rcm if k[2] == s]
            add("settings.spend = sum rcm.spend over segments" + fam, [("settings", *head, sk, "spend")],
                [("rcm", *head, k, "spend") for k in mine])
            add("settings.users = sum rcm.users over segments" + fam, [("settings", *head, sk, "users")],
                [("rcm", *head, k, "users") for k in mine])
            add("settings.spend = sum programmes.spend of the setting" + fam,
                [("settings", *head, sk, "spend")], cells("programmes", "spend", lambda keys, s=s: keys[2] == s))
            add("settings.users <= settings.population" + fam, [("settings", *head, sk, "population")],
                [("settings", *head, sk, "users")])
        # the top-cost cohort
        top = idx.get(("top_cohort", *head), {})
        if top:
            first = next(iter(top))
            for keys in top:
                if keys != first:
                    for col in ("area_persons", "area_spend"):
                        add(f"top_cohort.{col} is the same in every row" + fam, [("top_cohort", *head, first, col)],
                            [("top_cohort", *head, keys, col)])
            for dim in sorted({keys[0] for keys in top}):
                mine = [k for k in top if k[0] == dim]
                if dim != "setting":
                    add("top_cohort.area_persons = sum top_cohort.persons per dimension" + fam,
                        [("top_cohort", *head, first, "area_persons")], [("top_cohort", *head, k, "persons") for k in mine])
                    for k in mine:
                        add("top_cohort.persons <= top_cohort.area_persons" + fam,
                            [("top_cohort", *head, first, "area_persons")], [("top_cohort", *head, k, "persons")])
                add("top_cohort.area_spend = sum top_cohort.spend per dimension" + fam,
                    [("top_cohort", *head, first, "area_spend")], [("top_cohort", *head, k, "spend") for k in mine])
            add("top_cohort.area_persons <= summary.persons" + fam, total("persons"),
                [("top_cohort", *head, first, "area_persons")])
            add("top_cohort[ltc_count 2+].persons <= summary.ltc2plus" + fam, total("ltc2plus"),
                [("top_cohort", *head, k, "persons") for k in top if k[0] == "ltc_count" and k[1] in ("2", "3", "4+")])
            add("top_cohort[age 65+].persons <= summary.age65plus" + fam, total("age65plus"),
                [("top_cohort", *head, k, "persons") for k in top
                 if k[0] == "age_band_broad" and k[1] in ("65-74", "75-84", "85+")])
            for skeys in seg:
                k = next((k for k in top if k[:2] == ("segment", skeys[0])), None)
                if k is not None:
                    add("top_cohort[segment].persons <= segments.persons" + fam,
                        [("segments", *head, skeys, "persons")], [("top_cohort", *head, k, "persons")])
                    add("top_cohort[segment].spend <= segments.spend" + fam,
                        [("segments", *head, skeys, "spend")], [("top_cohort", *head, k, "spend")])
        # recorded prevalence: registers and denominators
        prev = idx.get(("prevalence", *head), {})
        by_age: dict[str, list[tuple]] = defaultdict(list)
        for keys in prev:
            by_age[keys[2]].append(keys)
            add("prevalence.register <= prevalence.denominator" + fam, [("prevalence", *head, keys, "denominator")],
                [("prevalence", *head, keys, "register")])
        ages = sorted(by_age, key=int)
        for age in ages:
            first = by_age[age][0]
            for keys in by_age[age][1:]:
                add("prevalence.denominator is the same for the same minimum age" + fam,
                    [("prevalence", *head, first, "denominator")], [("prevalence", *head, keys, "denominator")])
            den = [("prevalence", *head, first, "denominator")]
            a = int(age)
            fam_a = f" (min_age {a}, {level})"
            add("prevalence.denominator = summary.persons" + fam_a, total("persons"), den)
            add("prevalence.denominator = sum pyramid.persons of bands from min_age" + fam_a, den,
                cells("pyramid", "persons", lambda keys, a=a: _band_low(keys[0]) >= a))
            add("prevalence.denominator = sum pyramid.persons of bands reaching min_age" + fam_a,
                cells("pyramid", "persons", lambda keys, a=a: _band_high(keys[0]) >= a), den)
        for lo, hi in itertools.pairwise(ages):
            add("prevalence.denominator falls with the minimum age" + fam,
                [("prevalence", *head, by_age[lo][0], "denominator")], [("prevalence", *head, by_age[hi][0], "denominator")])
    return rels


def _band_low(band: str) -> int:
    m = re.match(r"(\d+)", band or "")
    return int(m.group(1)) if m else -1


def _band_high(band: str) -> int:
    m = re.match(r"(\d+)(?:-(\d+)|\+)", band or "")
    if not m:
        return -1
    return int(m.group(2)) if m.group(2) else 10**6


def _truth(truth: dict[Key, Any], k: Key) -> float:
    v = truth.get(k, 0)
    return 0.0 if v is None else float(v)


@dataclass
class FamilyCheck:
    instances: int = 0
    exact: int = 0
    below: int = 0  # total > sum of parts
    above: int = 0  # total < sum of parts
    example: str = ""
    verdict: str = ""


def verify_relations(cands: list[Relation], truth: dict[Key, Any]) -> tuple[list[Relation], dict[str, FamilyCheck]]:
    """Keep the relations that hold on the analyst's unrounded values: a family (same name)
    holding exactly in every instance is used as an equality; one whose total is never below
    the sum of its parts as ``parts <= total``; anything else is dropped (and reported)."""
    fams: dict[str, FamilyCheck] = defaultdict(FamilyCheck)
    residual = []
    for r in cands:
        vals = [c * _truth(truth, k) for c, k in r.terms]
        res = sum(vals)
        integer = all(is_integer(k) for _, k in r.terms)
        tol = 1e-9 if integer else 1e-6 * max(1.0, sum(abs(v) for v in vals))
        f = fams[r.family]
        f.instances += 1
        if abs(res) <= tol:
            f.exact += 1
        elif res > 0:
            f.below += 1
        else:
            f.above += 1
        if abs(res) > tol and not f.example:
            f.example = f"{show(r.terms[0][1])}: total {vals[0]:.6g} vs parts {-(res - vals[0]):.6g}"
        residual.append(res)
    for f in fams.values():
        f.verdict = "=" if f.exact == f.instances else "parts <= total" if f.above == 0 else \
            "total <= parts" if f.below == 0 else "does not hold"
    kept = []
    for r in cands:
        v = fams[r.family].verdict
        if v == "=":
            kept.append(r)
        elif v == "parts <= total":  # -(total - parts) <= 0
            kept.append(Relation(r.family, tuple((-c, k) for c, k in r.terms), "<="))
        elif v == "total <= parts":
            kept.append(Relation(r.family, r.terms, "<="))
    return kept, dict(fams)


# ---- the published rule as intervals ----------------------------------------------------


def count_interval(v, integer: bool) -> tuple[float, float]:
    """The true values a released count is consistent with (phm.disclosure, HES rule)."""
    if v == STAR:
        return (1.0, INF) if integer else (0.0, INF)
    if v == 0:
        return (0.0, 0.0)
    if integer:
        return (max(SMALL_MAX + 1.0, v - 2.0), v + 2.0)
    return (max(SMALL_MAX + 0.5, v - 2.5), v + 2.5)


def money_base(x: float) -> float:
    """The rounding base of a £ value: 3 significant figures, never finer than £1,000."""
    return 1000.0 if x <= 0 else max(1000.0, 10.0 ** (math.floor(math.log10(x)) - 2))


def looks_rounded(values: Iterable[float]) -> bool:
    """Every released (non-zero) £ value is a multiple of its base: money is rounded."""
    return all(v % money_base(v) == 0 for v in values if v)


def money_interval(v, rounded: bool) -> tuple[float, float]:
    if v == STAR:
        return (0.0, INF)
    if not rounded:
        eps = 0.005 + 1e-12 * abs(v)
        return (max(0.0, v - eps), v + eps)
    b = max(money_base(v), money_base(v - money_base(v) / 2))  # v = 10^k may come from either base
    return (max(0.0, v - b / 2), v + b / 2)


def money_width(true: float) -> float:
    """The width of the interval a released £ value leaves (pinned = narrower than this):
    the base, or half of it for values that round to 0."""
    b = money_base(true)
    return b if true >= b / 2 else b / 2


# ---- the attack -------------------------------------------------------------------------


@dataclass
class Recovered:
    key: Key
    lo: float
    hi: float
    true: float
    why: str  # "small" (count provably 1-7), "exact" (count pinned), "money" (pinned within base)


@dataclass
class AttackResult:
    recovered: list[Recovered]
    withheld: int  # withheld count/money cells the role saw
    targets: int  # ... of them in some relation
    lps: int = 0
    inconsistent: list[str] = field(default_factory=list)  # truth outside the attacker's bounds



class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        root = x
        while (up := self.parent.setdefault(root, root)) != root:
            root = up
        while x != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


UNBOUNDED = "unbounded"  # what an LP maximising a cell with no upper bound returns
FIXED_WIDTH = 0.02  # a released value this precise (exact money, a released 0) is a constant


def _visible(key: Key, released: dict[Key, Any], tables: set, truth: dict[Key, Any]) -> bool:
    """The role saw the cell, or saw its table and that the table has no such row."""
    return key in released or (key[:4] in tables and key not in truth)


def _bounds(key: Key, released: dict[Key, Any], tables: set, truth: dict[Key, Any],
            rounded: bool) -> tuple[float, float]:
    if key not in released:
        return (0.0, 0.0) if key[:4] in tables and key not in truth else (0.0, INF)
    v = released[key]
    if v is None:
        return (0.0, INF)
    if is_money(key):
        return money_interval(v, rounded)
    return count_interval(v, is_integer(key))


class System:
    """The attacker's linear system for one role.

    Variables are cells (cells that a relation ``x - y = 0`` makes equal share one);
    each row is a relation ``L <= sum(a x) <= U``. Simplifications, each exact or a
    relaxation (so bounds stay valid): relations the role sees no cell of are dropped; a
    value released (almost) exactly is moved into the rows as a constant; an unknown cell
    (not seen, no upper bound) in only one row is eliminated with that row's bound on
    its side. ``targets`` (the withheld cells) are never eliminated.
    """

    def __init__(self, relations: list[Relation], released: dict[Key, Any], tables: set,
                 truth: dict[Key, Any], rounded: bool, targets: set[Key]) -> None:
        vis: dict[Key, bool] = {}

        def visible(k: Key) -> bool:
            if k not in vis:
                vis[k] = _visible(k, released, tables, truth)
            return vis[k]

        rels = [r for r in relations if any(visible(k) for _, k in r.terms)]
        uf = _UnionFind()
        for r in rels:
            for _, k in r.terms:
                uf.find(k)
            if r.sense == "=" and len(r.terms) == 2 and r.terms[0][0] == -r.terms[1][0]:
                uf.union(r.terms[0][1], r.terms[1][1])
        self.var_of: dict[Key, int] = {}
        reps: dict[Key, int] = {}
        for k in uf.parent:
            self.var_of[k] = reps.setdefault(uf.find(k), len(reps))
        n = self.n = len(reps)
        lo, hi = np.zeros(n), np.full(n, INF)
        self.true = np.zeros(n)
        self.integer = np.ones(n, dtype=bool)
        self.money = np.zeros(n, dtype=bool)
        self.target = np.zeros(n, dtype=bool)
        for k, i in self.var_of.items():
            a, b = _bounds(k, released, tables, truth, rounded)
            lo[i], hi[i] = max(lo[i], a), min(hi[i], b)
            self.true[i] = _truth(truth, k)
            self.integer[i] &= is_integer(k)
            self.money[i] |= is_money(k)
            self.target[i] |= k in targets
        self.problems: list[str] = []
        bad = np.flatnonzero(lo > hi + 1e-9)
        self.problems += [f"{show(next(k for k, i in self.var_of.items() if i == v))}: released values "
                          f"disagree ([{lo[v]:.6g}, {hi[v]:.6g}])" for v in bad[:10]]
        hi = np.maximum(hi, lo)
        rows: list[dict[int, float]] = []
        L: list[float] = []
        U: list[float] = []
        for r in rels:
            acc: dict[int, float] = defaultdict(float)
            for c, k in r.terms:
                acc[self.var_of[k]] += c
            acc = {i: c for i, c in acc.items() if c != 0}
            if acc:
                rows.append(acc)
                L.append(0.0 if r.sense == "=" else -INF)
                U.append(0.0)
        fixed = (hi - lo <= FIXED_WIDTH) & ~self.target
        occ: dict[int, set[int]] = defaultdict(set)
        for j, row in enumerate(rows):
            for i in [i for i in row if fixed[i]]:
                a = row.pop(i)
                lo_c, hi_c = sorted((a * lo[i], a * hi[i]))
                L[j] -= hi_c
                U[j] -= lo_c
            for i in row:
                occ[i].add(j)
        free = np.isinf(hi) & ~self.target
        queue = [i for i in occ if free[i] and len(occ[i]) == 1]
        while queue:
            i = queue.pop()
            if len(occ[i]) != 1:
                continue
            j = occ[i].pop()
            a = rows[j].pop(i)
            if a > 0:
                U[j], L[j] = U[j] - a * lo[i], -INF
            else:
                L[j], U[j] = L[j] - a * lo[i], INF
            if math.isinf(L[j]) and math.isinf(U[j]):
                for v in rows[j]:
                    occ[v].discard(j)
                    if free[v] and len(occ[v]) == 1:
                        queue.append(v)
                rows[j] = {}
        keep = []
        for j, row in enumerate(rows):
            if row:
                keep.append(j)
            elif not (L[j] <= 1e-6 * (1 + abs(L[j])) and U[j] >= -1e-6 * (1 + abs(U[j]))):
                self.problems.append(f"a relation of released values only fails: 0 not in [{L[j]:.6g}, {U[j]:.6g}]")
        r_idx = [j2 for j2, j in enumerate(keep) for _ in rows[j]]
        c_idx = [i for j in keep for i in rows[j]]
        vals = [a for j in keep for a in rows[j].values()]
        self.m = len(keep)
        self.A = sp.csr_matrix((vals, (r_idx, c_idx)), shape=(self.m, n))
        self.L = np.array([L[j] for j in keep])
        self.U = np.array([U[j] for j in keep])
        self.lo, self.hi = lo, hi

    def propagate(self, rounds: int = 60) -> None:
        """Feasibility-based bound tightening: each row bounds each of its cells by the
        least and greatest values of the rest; integer cells round inwards."""
        A = self.A.tocoo()
        r, c, a = A.row, A.col, A.data
        lo, hi = self.lo.copy(), self.hi.copy()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for _ in range(rounds):
                mn = np.where(a > 0, a * lo[c], a * hi[c])
                mx = np.where(a > 0, a * hi[c], a * lo[c])
                mn_inf, mx_inf = np.isinf(mn), np.isinf(mx)
                row_mn = np.bincount(r, np.where(mn_inf, 0, mn), self.m)
                row_mx = np.bincount(r, np.where(mx_inf, 0, mx), self.m)
                n_mn = np.bincount(r, mn_inf, self.m)
                n_mx = np.bincount(r, mx_inf, self.m)
                rest_mn = np.where(n_mn[r] - mn_inf > 0, -INF, row_mn[r] - np.where(mn_inf, 0, mn))
                rest_mx = np.where(n_mx[r] - mx_inf > 0, INF, row_mx[r] - np.where(mx_inf, 0, mx))
                up = (self.U[r] - rest_mn) / a  # a x <= U - least of the rest
                dn = (self.L[r] - rest_mx) / a  # a x >= L - greatest of the rest
                new_hi = np.where(a > 0, up, dn)
                new_lo = np.where(a > 0, dn, up)
                new_hi = np.where(np.isnan(new_hi), INF, new_hi)
                new_lo = np.where(np.isnan(new_lo), -INF, new_lo)
                h2, l2 = hi.copy(), lo.copy()
                np.minimum.at(h2, c, new_hi)
                np.maximum.at(l2, c, new_lo)
                h2 = np.where(self.integer & np.isfinite(h2), np.floor(h2 + 1e-6), h2)
                l2 = np.where(self.integer & np.isfinite(l2), np.ceil(l2 - 1e-6), l2)
                h2, l2 = np.minimum(hi, h2), np.maximum(lo, l2)
                gain_hi = np.where(np.isinf(hi), np.isfinite(h2), hi - h2 > 1e-7 * (1 + np.abs(hi)))
                gain_lo = l2 - lo > 1e-7 * (1 + np.abs(lo))
                lo, hi = l2, h2
                if not (gain_hi.any() or gain_lo.any()):
                    break
        self.lo, self.hi = lo, np.maximum(hi, lo)

    def components(self) -> np.ndarray:
        """The connected component of each variable (variables linked by a row)."""
        inc = sp.csr_matrix((np.ones(self.A.nnz), self.A.indices, self.A.indptr), shape=self.A.shape)
        g = sp.bmat([[None, inc], [inc.T, None]], format="csr")
        _, labels = connected_components(g, directed=False)
        return labels


@dataclass
class _Target:
    need: str  # "small": a count that is 1-7; "width": any other withheld cell
    width: float  # "width": the cell is pinned if its max - min is below this
    lo_seen: float  # least and greatest value of the cell at a feasible point found so far
    hi_seen: float


def _small_limit(integer: bool) -> float:
    """A withheld count is provably small if its maximum is below this."""
    return SMALL_MAX + 1.0 if integer else SMALL_MAX + 0.5


class _Component:
    """The LP of one connected component: ``L <= A x <= U``, ``lo <= x <= hi``."""

    def __init__(self, s: System, cols: np.ndarray, rows: np.ndarray) -> None:
        sub = s.A[rows][:, cols]
        L, U = s.L[rows], s.U[rows]
        eq = np.isclose(L, U, rtol=0, atol=0)
        up = ~eq & np.isfinite(U)
        dn = ~eq & np.isfinite(L)
        self.A_eq, self.b_eq = sub[eq], U[eq]
        self.A_ub = sp.vstack([sub[up], -sub[dn]]).tocsr()
        self.b_ub = np.concatenate([U[up], -L[dn]])
        self.n = len(cols)
        self.bounds = [(a, None if math.isinf(b) else b) for a, b in zip(s.lo[cols], s.hi[cols], strict=True)]
        self.lps = 0

    def solve(self, c: np.ndarray, aux: list[tuple[int, float, float | None, str]] = ()):
        """min ``c . x`` (``c`` also covers the auxiliaries): each auxiliary ``t`` (for column
        ``j``, with bounds) is tied to it by ``t <= x_j`` ("up") or ``t >= x_j`` ("down")."""
        k = len(aux)
        A_eq = sp.hstack([self.A_eq, sp.csr_matrix((self.A_eq.shape[0], k))]) if self.A_eq.shape[0] else None
        parts = [sp.hstack([self.A_ub, sp.csr_matrix((self.A_ub.shape[0], k))])] if self.A_ub.shape[0] else []
        if k:
            sign = np.array([1.0 if d == "up" else -1.0 for *_, d in aux])
            link = sp.csr_matrix((np.concatenate([sign, -sign]),
                                  (np.tile(np.arange(k), 2),
                                   np.concatenate([self.n + np.arange(k), [j for j, *_ in aux]]))),
                                 shape=(k, self.n + k))
            parts.append(link)
        A_ub = sp.vstack(parts).tocsr() if parts else None
        b_ub = np.concatenate([self.b_ub, np.zeros(k)]) if parts else None
        bounds = self.bounds + [(a, b) for _, a, b, _ in aux]
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=self.b_eq if A_eq is not None else None,
                      bounds=bounds, method="highs")
        self.lps += 1
        if res.status == 3:
            return UNBOUNDED
        return res.x[: self.n] if res.status == 0 else None


def attack(relations: list[Relation], released: dict[Key, Any], tables: set, truth: dict[Key, Any],
           rounded: bool, only: set[Key] | None = None) -> AttackResult:
    """Bound every withheld count and £ cell the role saw (or those in ``only``) over
    ``relations`` and the intervals of the released values: first by bound propagation,
    then by linear programming (HiGHS) per connected component. A cell is recovered when a
    count is provably 1-7 (``small``), a count is pinned to one value (``exact``), or a £
    value is pinned more narrowly than rounding would leave it (``money``)."""
    withheld = [k for k, v in released.items() if v == STAR and (is_count(k) or is_money(k))]
    if only is not None:
        withheld = [k for k in withheld if k in only]
    s = System(relations, released, tables, truth, rounded, set(withheld))
    in_system = [k for k in withheld if k in s.var_of]
    result = AttackResult([], len(withheld), len(in_system))
    result.inconsistent = list(s.problems)
    s.propagate()
    tol = 1e-6 * (1 + np.abs(s.true))
    bad = np.flatnonzero((s.true < s.lo - tol) | (s.true > s.hi + tol))
    result.inconsistent += [f"{show(next(k for k, i in s.var_of.items() if i == v))}: true {s.true[v]:.6g} "
                            f"outside [{s.lo[v]:.6g}, {s.hi[v]:.6g}]" for v in bad[:20]]
    if result.inconsistent:
        return result  # a relation or the interval rule does not hold: nothing below would be sound

    need: dict[int, _Target] = {}
    for k in in_system:
        i = s.var_of[k]
        t = s.true[i]
        if i not in need:
            if s.money[i]:
                need[i] = _Target("width", money_width(t), t, t)
            elif t < _small_limit(s.integer[i]):
                need[i] = _Target("small", 0.0, t, t)
            else:
                need[i] = _Target("width", 1.0, t, t)

    def proven(i: int) -> bool:  # a feasible point shows the cell is not pinned
        tg = need[i]
        if tg.need == "small":
            return tg.hi_seen >= _small_limit(s.integer[i]) - 1e-6
        return tg.hi_seen - tg.lo_seen >= tg.width - 1e-6 * (1 + tg.width)

    def pinned_by(i: int, lo: float, hi: float) -> bool:
        tg = need[i]
        if tg.need == "small":
            return hi < _small_limit(s.integer[i]) - 1e-6
        return hi - lo < tg.width - 1e-6 * (1 + tg.width)

    pinned: dict[int, tuple[float, float]] = {}
    open_ = []
    for i in need:
        if pinned_by(i, s.lo[i], s.hi[i]):
            pinned[i] = (s.lo[i], s.hi[i])
        else:
            open_.append(i)

    label = s.components()
    var_label, row_label = label[s.m:], label[: s.m]
    by_comp: dict[int, list[int]] = defaultdict(list)
    for i in open_:
        by_comp[var_label[i]].append(i)
    for comp, tvars in by_comp.items():
        cols = np.flatnonzero(var_label == comp)
        rows = np.flatnonzero(row_label == comp)
        lp = _Component(s, cols, rows)
        pos = {v: j for j, v in enumerate(cols)}

        def note(x, tvars=tvars, pos=pos):
            for v in tvars:
                tg = need[v]
                tg.hi_seen = max(tg.hi_seen, x[pos[v]])
                tg.lo_seen = min(tg.lo_seen, x[pos[v]])

        # Batches: push every open cell up to where it would no longer be pinned (and, for a
        # width, down), all at once: each feasible point found settles many cells.
        remaining = [v for v in tvars if not proven(v)]
        stall = 0
        while remaining and stall < 2 and len(remaining) > 1:
            before = len(remaining)
            for direction in ("up", "down"):
                cand = [v for v in remaining if direction == "up" or need[v].need == "width"]
                if not cand:
                    continue
                aux, weights = [], []
                for v in cand:
                    tg, j = need[v], pos[v]
                    scale = 1.0 if tg.need == "small" else max(tg.width, 1e-9)
                    if direction == "up":
                        goal = _small_limit(s.integer[v]) if tg.need == "small" else tg.lo_seen + tg.width
                        aux.append((j, s.lo[v], goal, "up"))
                        weights.append(-1.0 / scale)
                    else:
                        goal = max(tg.hi_seen - tg.width, s.lo[v])
                        aux.append((j, goal, None if math.isinf(s.hi[v]) else s.hi[v], "down"))
                        weights.append(1.0 / scale)
                x = lp.solve(np.concatenate([np.zeros(lp.n), weights]), aux)
                if isinstance(x, np.ndarray):
                    note(x)
                remaining = [v for v in remaining if not proven(v)]
            stall = stall + 1 if len(remaining) == before else 0
        # what the batches did not settle: each cell's own least and greatest value
        # (every point an LP finds is feasible, so it also settles the other cells it shows
        # free; a small count only needs its greatest value)
        for v in remaining:
            if proven(v):
                continue
            e = np.zeros(lp.n)
            e[pos[v]] = 1.0
            top = lp.solve(-e)
            if top is UNBOUNDED:  # no upper bound at all: the cell is not pinned
                need[v].hi_seen = INF
                continue
            if isinstance(top, np.ndarray):
                note(top)
                if proven(v):
                    continue
            bot = top if need[v].need == "small" else lp.solve(e)
            if isinstance(bot, np.ndarray) and bot is not top:
                note(bot)
                if proven(v):
                    continue
            if top is None or not isinstance(bot, np.ndarray):
                result.inconsistent.append(f"{show(next(k for k, i in s.var_of.items() if i == v))}: LP failed")
                continue
            hi_, lo_ = top[pos[v]], bot[pos[v]]
            if s.integer[v]:
                hi_, lo_ = math.floor(hi_ + 1e-6), math.ceil(lo_ - 1e-6)
            need[v].hi_seen, need[v].lo_seen = max(need[v].hi_seen, hi_), min(need[v].lo_seen, lo_)
            if pinned_by(v, lo_, hi_):
                pinned[v] = (lo_, hi_)
        result.lps += lp.lps

    for k in in_system:
        i = s.var_of[k]
        if i in pinned:
            lo_, hi_ = pinned[i]
            why = "money" if s.money[i] else need[i].need.replace("width", "exact")
            result.recovered.append(Recovered(k, float(lo_), float(hi_), _truth(truth, k), why))
    return result
