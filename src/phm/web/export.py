"""CSV and XLSX downloads of any served table, with its provenance.

The rows are exactly those of the JSON response (already scoped and disclosure-controlled).
Text cells that could run as a spreadsheet formula get a leading apostrophe
(:func:`phm.quality.report.neutralise`); XLSX text is written with ``write_string``.
"""

from __future__ import annotations

import csv
import io

from fastapi.responses import Response

from phm.quality.report import neutralise

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(v, kind: str = ""):
    if v is None:
        return ""
    if isinstance(v, str):
        return neutralise(v)
    if isinstance(v, float):
        return precise(v, kind)
    return v


def precise(v: float, kind: str = ""):
    """A number without float noise (342188.4800000003 -> 342188.48): money to the penny, any
    other value to 10 significant figures. The dashboard applies it to every served value when it
    loads (:class:`phm.web.data.Dashboard`), so a cell reads the same on a page and in JSON, CSV
    and XLSX."""
    if v != v or v in (float("inf"), float("-inf")):
        return v
    return round(v, 2) if kind == "money" else float(f"{v:.10g}")


def csv_bytes(columns: list[dict], rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c["label"] for c in columns])
    for r in rows:
        w.writerow([_cell(r.get(c["name"]), c.get("kind", "")) for c in columns])
    return buf.getvalue().encode("utf-8-sig")  # BOM: Excel opens UTF-8 correctly


def xlsx_bytes(title: str, columns: list[dict], rows: list[dict], about: dict) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    bold = wb.add_format({"bold": True, "bg_color": "#005EB8", "font_color": "#FFFFFF"})
    money = wb.add_format({"num_format": "£#,##0.00"})
    ws = wb.add_worksheet("Data")
    for j, c in enumerate(columns):
        ws.write_string(0, j, c["label"], bold)
        ws.set_column(j, j, max(10, min(40, len(c["label"]) + 2)))
    _write_rows(ws, 1, columns, rows, money)
    _write_about(wb.add_worksheet("About"), bold, "Title", title, about)
    wb.close()
    return buf.getvalue()


def _write_rows(ws, first: int, columns: list[dict], rows: list[dict], money) -> None:
    """Rows from sheet row ``first``: text as text (formula-neutralised), numbers at their
    precision (:func:`precise`), money in the ``money`` format."""
    for i, r in enumerate(rows, start=first):
        for j, c in enumerate(columns):
            v = r.get(c["name"])
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float):
                ws.write_string(i, j, neutralise(str(v)))
            else:
                ws.write_number(i, j, precise(v, c.get("kind", "")) if isinstance(v, float) else v,
                                money if c.get("kind") == "money" else None)


def _write_about(ws, bold, first_label: str, title: str, about: dict) -> None:
    ws.write_string(0, 0, first_label, bold)
    ws.write_string(0, 1, title)
    for i, (k, v) in enumerate(about.items(), start=1):
        ws.write_string(i, 0, str(k), bold)
        ws.write_string(i, 1, neutralise(str(v)))
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 110)


def download(fmt: str, name: str, payload: dict) -> Response:
    """A CSV or XLSX response for a JSON payload of the API (columns, rows, provenance)."""
    about = {"note": payload.get("note", ""), "financial_year": payload.get("fy"),
             "areas": ", ".join(f"{a['level']} {a['code']}" for a in payload.get("areas", [])),
             **payload.get("provenance", {})}
    filename = f"phm-{name}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return Response(csv_bytes(payload["columns"], payload["rows"]), media_type=CSV_TYPE, headers=headers)
    return Response(xlsx_bytes(payload.get("title", name), payload["columns"], payload["rows"], about),
                    media_type=XLSX_TYPE, headers=headers)


_SHEET_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})


def page_workbook(title: str, panels: list[dict], about: dict) -> bytes:
    """A page as one Excel workbook ("download this page"): a sheet per panel with its table
    (the rows the page shows, as served to the user: disclosure-controlled for every role but
    the analyst), money formatted as £, and an About sheet with the page, area, year and
    provenance. ``panels``: dicts with ``title``, ``columns`` and ``rows``."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    head = wb.add_format({"bold": True, "bg_color": "#005EB8", "font_color": "#FFFFFF", "text_wrap": True})
    money = wb.add_format({"num_format": "£#,##0.00"})
    about_ws = wb.add_worksheet("About")
    used = {"about"}
    for p in panels:
        if not p.get("columns"):
            continue
        name = (p["title"].translate(_SHEET_BAD).strip() or "Table")[:28]
        base, n = name, 2
        while name.lower() in used:
            name, n = f"{base[:26]} {n}", n + 1
        used.add(name.lower())
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, p["title"], wb.add_format({"bold": True}))
        for j, c in enumerate(p["columns"]):
            ws.write_string(1, j, c["label"], head)
            ws.set_column(j, j, max(10, min(40, len(c["label"]) + 2)))
        _write_rows(ws, 2, p["columns"], p["rows"], money)
        ws.freeze_panes(2, 0)
    _write_about(about_ws, wb.add_format({"bold": True}), "Page", title, about)
    wb.close()
    return buf.getvalue()
