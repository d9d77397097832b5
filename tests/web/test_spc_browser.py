"""SPC charts in a real browser (issue 16): hand-built monthly series that cross a limit, run
above the mean for 7 points and trend, drawn by the dashboard's own panel template, styles,
Plotly and app.js in Debian's Chromium, with the Making Data Count icon each should carry.
Screenshots go to ``artefacts/screenshots/spc-<case>.png``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from phm.web import pages, service, trends

from .conftest import ARTEFACTS
from .test_browser import CHROMIUM, CHROMIUM_ARGS, MISSING_CHROMIUM

STATIC = Path(pages.__file__).parent / "static"
BASE = [50, 52, 49, 51, 50, 48, 51, 50, 49, 52, 50, 51, 49, 50, 51, 50, 49, 51]
CASES = {  # case -> (emergency admissions by month, the variation icon Making Data Count gives)
    "cross-limit": ([*BASE, 80], "concern_high"),  # lower is better: a point above the limit
    "seven-above": ([*BASE, 54, 55, 54, 56, 55, 54, 55], "concern_high"),
    "trend-down": ([*BASE, 48, 47, 46, 45, 44, 43, 42], "improvement_low"),
    "common": (BASE, "common_cause"),
}


def _months(n: int) -> list[str]:
    d, out = dt.date(2022, 4, 1), []
    for _ in range(n):
        out.append(d.strftime("%Y-%m"))
        d = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def _panel(values: list[int]) -> dict:
    rows = [{"level": "icb", "area_code": "QWU", "area_name": "Test ICB", "fy": None, "month": m,
             "month_days": trends.spc._month_length(m), "emergency_admissions": v}
            for m, v in zip(_months(len(values)), values, strict=True)]
    cols = [{"name": "month", "label": "Month", "kind": "label"},
            {"name": "month_days", "label": "Days covered", "kind": "label"},
            {"name": "emergency_admissions", "label": "Emergency admissions", "kind": "count"}]
    result = service.Result("monthly", "Monthly activity and spend", None, cols, rows, False, [])
    return trends.spc_panel(result, "emergency_admissions", {}, "QWU")


def test_mdc_icons_for_hand_built_series_are_right():
    for case, (values, icon) in CASES.items():
        p = _panel(values)
        assert [i["key"] for i in p["icons"] if i["kind"] == "variation"] == [icon], case


def test_spc_charts_render_in_chromium_with_their_icons(tmp_path):
    assert CHROMIUM.exists(), MISSING_CHROMIUM
    from playwright.sync_api import sync_playwright

    template = pages.templates.env.get_template("panel.html")
    shots = ARTEFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for case, (values, icon) in CASES.items():
                html = (
                    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
                    f'<link rel="stylesheet" href="{(STATIC / "app.css").as_uri()}"></head>'
                    f'<body><main class="container">{template.render(p=_panel(values))}</main>'
                    f'<script src="{pages.PLOTLY_JS.as_uri()}"></script>'
                    f'<script src="{(STATIC / "app.js").as_uri()}"></script></body></html>'
                )
                page_file = tmp_path / f"{case}.html"
                page_file.write_text(html, encoding="utf-8")
                page = browser.new_page(viewport={"width": 1000, "height": 700})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(page_file.as_uri())
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')",
                    timeout=15_000)
                assert not errors, (case, errors)
                shown = page.eval_on_selector_all(
                    ".mdc-icon[data-kind=variation]", "es => es.map(e => e.dataset.icon)")
                assert shown == [icon], case
                label = page.get_attribute(".mdc-icon svg", "aria-label")
                assert label == trends.spc.mdc.VARIATION_TEXT[icon]
                drawn = page.eval_on_selector_all(".chart .scatterlayer .trace", "ts => ts.length")
                assert drawn >= 4, case  # the line, the points and the mean and limits
                page.screenshot(path=str(shots / f"spc-{case}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
