"""The dashboard in a real browser: Debian's Chromium, driven by Playwright's sync API.

The built 10k ICB is served by uvicorn on 127.0.0.1 in a background thread. For one account
per role, in a fresh browser context: the sign-in page renders and works from the keyboard;
every page in the role's navigation (:data:`phm.web.pages.NAV`) answers 200 with no console
errors, no page errors and no request to any other host (no CDN); every chart is drawn by
Plotly (``data-rendered="true"``) and has its table view; a full-page screenshot of each is
saved to ``artefacts/screenshots/<role>-<page>.png`` (and ``login.png``). Pages outside the
role show the 403 page and no data (one in the browser, ``<role>-<page>-403.png``; the rest
through the context's requests); signing out ends the session. On every page no table cell or
axis label is a raw code where a name exists (segments, conditions, settings, programmes, area
levels; sex as 1/2), and every panel and headline figure states its financial year (issue 16).

Chromium is /usr/bin/chromium (``scripts/ensure-chromium`` installs it; never
``playwright install``). Without it these tests fail: they are part of ``make test``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from phm.web.pages import HOME, NAV
from phm.web.roles import Role

from .conftest import ARTEFACTS, PASSWORD, Account

pytestmark = pytest.mark.xdist_group("ingest")  # the worker that builds icb10k_built

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
MISSING_CHROMIUM = (
    f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Run scripts/ensure-chromium "
    "(as root, or with passwordless sudo) or: sudo apt-get install chromium chromium-driver. "
    "Do not use 'playwright install'."
)
HOST = "127.0.0.1"
SCREENSHOTS = ARTEFACTS / "screenshots"
ACCOUNT_FOR = {
    Role.ANALYST: "analyst",
    Role.PLACE: "place",
    Role.PCN: "pcn-a",
    Role.PRACTICE: "practice-a1",
    Role.PROVIDER: "provider",
    Role.ADMIN: "admin",
}
NO_CHARTS = {"/audit", "/admin/users"}  # tables only; every other page draws at least one chart
FORBIDDEN_TITLE = "You do not have access to this page"
TIMEOUT_MS = 15_000
ALL_CHARTS_DRAWN = (
    "() => [...document.querySelectorAll('.chart')].every(c => c.dataset.rendered === 'true')"
)
DATA_MARKERS = ("<table", 'class="panel"', 'class="chart"', 'class="figure"', 'class="kpis"')
CHARTS_WITHOUT_TABLE = (
    "cs => cs.filter(c => !(c.closest('section.panel') || document)"
    ".querySelector('details.table-view table')).map(c => c.id)"
)


@dataclass
class Site:
    base_url: str
    browser: object  # playwright.sync_api.Browser
    accounts: dict[str, Account]


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=HOST,
            port=port,
            lifespan="off",
            ws="none",
            log_config=None,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start (see the log above)", pytrace=False)
            time.sleep(0.02)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(scope="module")
def site(request) -> Iterator[Site | None]:
    """The app on a real port and a headless Chromium; ``None`` when Chromium is missing (the
    tests then fail at once, before the warehouse is built)."""
    if not CHROMIUM.exists():
        yield None
        return
    from playwright.sync_api import sync_playwright

    web_app = request.getfixturevalue("web_app")
    accounts = request.getfixturevalue("accounts")
    with serve(web_app) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield Site(base_url, browser, accounts)
        finally:
            browser.close()


CONTROLLED = (Role.PLACE, Role.PCN, Role.PRACTICE)
SIGNIFICANCE_PAGES = ("/", "/inequalities", "/needs", "/practice")
PANELS_WITH_STARS = (
    "ss => ss.filter(s => [...s.querySelectorAll('td')].some(td => td.textContent.trim() === '*'))"
    ".map(s => ({title: s.querySelector('h2').textContent, legend: !!s.querySelector('.withheld-legend')}))"
)
# For every drawn chart: its figure JSON (the data block the page embeds) and what Plotly drew.
# ``n`` is how many withheld values the chart was given (layout.meta.withheld, counted from its
# rows by phm.web.charts); ``marks`` how many the figure marks (hatched bars, '*' points, '*'
# heatmap cells, funnel points counted in a note); ``gaps`` the nulls of a side-by-side bar
# chart with no withheld mark in their slot (an unexplained gap); ``legend`` whether Plotly drew
# the legend entry; ``star`` whether a '*' is drawn; ``words`` the significance words drawn.
CHART_MARKS = r"""([cs, W]) => cs.map(c => {
  const fig = JSON.parse(document.querySelector(`script.figure[data-target="${c.id}"]`).textContent);
  const values = t => (t.orientation === 'h' ? t.x : t.y) || [];
  const cats = t => (t.orientation === 'h' ? t.y : t.x) || [];
  let marks = 0;
  const covered = new Set();
  for (const t of fig.data.filter(t => t.name === W)) {
    if (t.type === 'bar') {
      values(t).forEach((v, i) => { if (v !== null) { marks++; covered.add(`${t.offsetgroup}|${cats(t)[i]}`); } });
    } else {
      marks += (t.x || []).filter(v => v !== null).length;
    }
  }
  for (const t of fig.data.filter(t => t.type === 'heatmap')) {
    marks += (t.text || []).flat().filter(x => x === '*').length;
  }
  for (const a of fig.layout.annotations || []) {
    const m = /^\* (\d+) practice/.exec(a.text || '');
    if (m) marks += Number(m[1]);
  }
  // a value neither drawn nor marked is explained only by the chart's "No value for: ..." note
  const noted = (fig.layout.annotations || []).map(a => a.text || '').filter(x => x.includes('No value for: '));
  const said = c => noted.some(x => x.includes(String(c)) || / more \(/.test(x));
  const gaps = [];
  if (fig.layout.barmode !== 'stack' && fig.layout.barmode !== 'relative') {
    for (const t of fig.data.filter(t => t.type === 'bar' && t.name !== W)) {
      values(t).forEach((v, i) => {
        const c = cats(t)[i];
        if (v === null && !covered.has(`${t.offsetgroup}|${c}`) && !said(c)) gaps.push(`${t.name}: ${c}`);
      });
    }
  }
  const texts = [...c.querySelectorAll('text')].map(e => e.textContent.trim());
  return {
    id: c.id, title: fig.layout.title.text, n: (fig.layout.meta || {}).withheld || 0, marks, gaps,
    legend: [...c.querySelectorAll('.legendtext')].some(e => e.textContent === W),
    star: texts.some(x => x === '*' || x.startsWith('* ')),
    words: texts.filter(x => / (than|to) ICB|vs ICB: suppressed/.test(x)).length,
  };
})"""
SIG_SHOWN = (
    "es => es.filter(e => !e.closest('.sig-legend') && e.offsetParent !== null)"
    ".map(e => e.textContent.trim())"
)


def check_withheld_and_significance(page, path: str, where: str, problems: list[str]) -> list[str]:
    """Issue 12: every table with a suppressed cell has the '*' legend; every chart given a
    withheld value marks each one (hatched bar or '*', never zero, never a bare gap) and Plotly
    draws the legend entry; the pages with significance show the categories in words and their
    legend. Returns the ids of the charts that mark a withheld value."""
    from phm.web.charts import WITHHELD

    for panel in page.locator("section.panel").evaluate_all(PANELS_WITH_STARS):
        if not panel["legend"]:
            problems.append(f"{where}: table '{panel['title']}' has * cells but no legend")
    marked = []
    charts = page.evaluate(CHART_MARKS, [page.locator(".chart").element_handles(), WITHHELD])
    for chart in charts:
        what = f"{where}: chart '{chart['title']}'"
        if chart["marks"] != chart["n"]:
            problems.append(
                f"{what} was given {chart['n']} withheld values but marks {chart['marks']}"
            )
        if chart["gaps"]:
            problems.append(f"{what} leaves unexplained gaps: {chart['gaps'][:5]}")
        if chart["n"]:
            marked.append(chart["id"])
            if not chart["legend"]:
                problems.append(f"{what}: no '{WITHHELD}' legend entry drawn")
            if not chart["star"]:
                problems.append(f"{what}: no '*' drawn for its withheld values")
    if path in SIGNIFICANCE_PAGES:
        legend = page.locator(".sig-legend").first
        if page.locator(".sig-legend").count() == 0 or not legend.is_visible():
            problems.append(f"{where}: no significance legend shown")
        shown = page.locator(".sig").evaluate_all(SIG_SHOWN)
        if not shown and not sum(c["words"] for c in charts):
            problems.append(f"{where}: no significance category shown (as text or in a chart)")
    return marked


def known_codes() -> set[str]:
    """Codes that have a name the pages should show instead: segments, conditions, settings,
    programmes and area levels."""
    from phm.model import definitions
    from phm.web.names import SETTING_NAMES, condition_names, segment_names

    return ({*segment_names(), *condition_names(), *SETTING_NAMES, *definitions.programmes()["id"].to_pylist(),
             "icb", "pcn", "place", "practice"})


# every cell and axis label on the page, and each panel's heading (text only, no script data)
SHOWN_TEXT = """() => ({
  cells: [...document.querySelectorAll('main td, main th, .chart .xtick text, .chart .ytick text')]
           .map(e => e.textContent.trim()),
  sex: [...document.querySelectorAll('main table')].flatMap(t => {
           const i = [...t.querySelectorAll('thead th')].findIndex(h => h.textContent.trim() === 'Sex');
           return i < 0 ? [] : [...t.querySelectorAll('tbody tr')].map(r => (r.children[i] || {}).textContent);
         }),
  headings: [...document.querySelectorAll('section.panel h2')].map(e => e.textContent.trim()),
  kpis: [...document.querySelectorAll('.kpi-label')].map(e => e.textContent.trim()),
})"""
YEAR = re.compile(r"\b20\d\d/\d\d\b|by financial year|by month", re.I)
UNDATED_PAGES = {"/quality", "/audit", "/admin/users"}


def check_names_and_years(page, path: str, where: str, problems: list[str], codes: set[str]) -> None:
    """Issue 16: no page shows a raw code where a name exists, and every figure states its year."""
    if path in ("/audit", "/admin/users"):  # user administration: roles and levels are its data
        return
    shown = page.evaluate(SHOWN_TEXT)
    if path == "/quality":  # datasets are named by their contract names there (social_care)
        from phm.schema import dataset_names

        codes = codes - set(dataset_names())
    raw = sorted({t for t in shown["cells"] if t in codes})
    if raw:
        problems.append(f"{where}: codes shown where a name exists: {raw[:8]}")
    if any(v in ("1", "2", "9", "0") for v in shown["sex"]):
        problems.append(f"{where}: sex shown as a code")
    if path in UNDATED_PAGES:
        return
    undated = [h for h in shown["headings"] if not YEAR.search(h)]
    if undated:
        problems.append(f"{where}: panels that do not state their year: {undated[:5]}")
    if any(not YEAR.search(k) for k in shown["kpis"]):
        problems.append(f"{where}: headline figures that do not state their year")


def page_name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "overview"


@pytest.mark.parametrize("role", list(ACCOUNT_FOR), ids=str)
def test_pages_in_browser(site: Site | None, role: Role):
    if site is None:
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    account = site.accounts[ACCOUNT_FOR[role]]
    assert account.role is role
    allowed = [p for p, _label, roles in NAV if role in roles]
    home = HOME.get(role, "/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    context = site.browser.new_context(
        base_url=site.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    # Requests to any host but ours (a CDN, web fonts, telemetry) are blocked, and fail the test.
    elsewhere: list[str] = []

    def block(route):
        elsewhere.append(route.request.url)
        route.abort()

    context.route(
        lambda url: (
            urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).hostname != HOST
        ),
        block,
    )
    page = context.new_page()
    errors: list[str] = []

    def on_console(m) -> None:
        if m.type == "error":
            errors.append(f"console error: {m.text} (at {m.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    problems: list[str] = []

    def flush(where: str, *, ignore_http_status: int | None = None) -> None:
        noise = f"the server responded with a status of {ignore_http_status}"
        problems.extend(f"{where}: {e}" for e in errors if not (ignore_http_status and noise in e))
        problems.extend(f"{where}: request to another host: {u}" for u in elsewhere)
        errors.clear()
        elsewhere.clear()

    try:
        # ---- sign in, from the keyboard -----------------------------------------------------
        r = page.goto("/login")
        assert r is not None and r.status == 200, f"/login answered {r and r.status}"
        expect(page.locator("h1")).to_have_text("Sign in")
        user_field, password_field = page.get_by_label("User name"), page.get_by_label("Password")
        expect(user_field).to_be_visible()
        expect(user_field).to_have_attribute("autocomplete", "username")
        expect(password_field).to_have_attribute("type", "password")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.locator("input[name=csrf_token]")).to_have_count(1)
        if role is Role.ANALYST:  # the same page for every role
            page.screenshot(path=SCREENSHOTS / "login.png", full_page=True)
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
        for _ in range(5):  # on past the header to the first field
            if user_field.evaluate("e => e === document.activeElement"):
                break
            page.keyboard.press("Tab")
        expect(user_field).to_be_focused()
        page.keyboard.type(account.username)
        page.keyboard.press("Tab")
        expect(password_field).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(site.base_url + home)
        flush("/login")

        # ---- every page the role may see --------------------------------------------------
        marked = 0  # charts that mark a withheld value
        codes = known_codes()
        for path in allowed:
            where = f"{role} {path}"
            r = page.goto(path)
            if r is None or r.status != 200 or urlsplit(page.url).path != path:
                problems.append(f"{where}: answered {r and r.status} at {page.url}")
            nav = page.locator("nav.nhs-nav a").evaluate_all(
                "as => as.map(a => a.getAttribute('href'))"
            )
            if nav != allowed:
                problems.append(f"{where}: navigation shows {nav}, expected {allowed}")
            charts = page.locator(".chart")
            if path not in NO_CHARTS and charts.count() == 0:
                problems.append(f"{where}: no charts")
            try:
                page.wait_for_function(ALL_CHARTS_DRAWN, timeout=TIMEOUT_MS)
            except PlaywrightTimeout:
                undrawn = page.locator(".chart:not([data-rendered='true'])").evaluate_all(
                    "cs => cs.map(c => c.getAttribute('aria-label'))"
                )
                problems.append(f"{where}: charts not drawn within {TIMEOUT_MS} ms: {undrawn}")
            if missing := charts.evaluate_all(CHARTS_WITHOUT_TABLE):
                problems.append(
                    f"{where}: charts without a table view (details.table-view): {missing}"
                )
            check_names_and_years(page, path, where, problems, codes)
            if role in CONTROLLED:
                ids = check_withheld_and_significance(page, path, where, problems)
                marked += len(ids)
                if ids and role in (Role.PCN, Role.PRACTICE):  # a close-up of one marked chart
                    page.locator(f"#{ids[0]}").screenshot(
                        path=SCREENSHOTS / f"{role}-{page_name(path)}-suppressed.png"
                    )
            page.screenshot(path=SCREENSHOTS / f"{role}-{page_name(path)}.png", full_page=True)
            flush(where)
        if role in (Role.PCN, Role.PRACTICE) and marked == 0:
            problems.append(f"{role}: no chart marked a suppressed value with the '*' legend")

        # ---- pages outside the role: the 403 page, no data ----------------------------------
        # One in the browser (/audit where the role may not see it); the rest through the
        # context's own requests (same session cookie, no rendering: each page costs Plotly's load).
        forbidden = [
            p for p, _label, _roles in NAV if p not in allowed and not (p == "/" and role in HOME)
        ]
        forbidden.sort(key=lambda p: p != "/audit")
        for i, path in enumerate(forbidden):
            where = f"{role} {path} (not allowed)"
            if i == 0:
                r = page.goto(path)
                status, h1 = (r and r.status), page.locator("h1").inner_text()
                data = page.locator("main table, main .panel, .chart, script.figure, .kpis").count()
                page.screenshot(
                    path=SCREENSHOTS / f"{role}-{page_name(path)}-403.png", full_page=True
                )
                # Chromium logs the 403 response itself as a console error; anything else counts.
                flush(where, ignore_http_status=403)
            else:
                r = context.request.get(path, max_redirects=0)
                html = r.text()
                status, h1 = r.status, re.search(r"<h1>(.*?)</h1>", html, re.S)
                h1 = h1 and h1.group(1).strip()
                data = sum(html.count(m) for m in DATA_MARKERS)
            if status != 403:
                problems.append(f"{where}: answered {status}, expected 403")
            if h1 != FORBIDDEN_TITLE:
                problems.append(f"{where}: heading {h1!r}, expected {FORBIDDEN_TITLE!r}")
            if data:
                problems.append(f"{where}: the 403 page shows {data} data elements")

        # ---- sign out ---------------------------------------------------------------------
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(site.base_url + "/login")
        flush(f"{role} sign-out")
        r = context.request.get(home, max_redirects=0)
        if r.status != 303 or not r.headers.get("location", "").startswith("/login"):
            problems.append(
                f"{role}: after signing out, {home} answered {r.status}, not the sign-in page"
            )
    finally:
        context.close()

    assert not problems, "\n".join(problems)


def _watched_context(site: Site):
    """A browser context that blocks (and records) requests to any other host, and a page in it
    that records console errors and page errors."""
    context = site.browser.new_context(base_url=site.base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def block(route):
        problems.append(f"request to another host: {route.request.url}")
        route.abort()

    context.route(
        lambda url: urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != HOST,
        block,
    )
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return context, page, problems


def test_api_docs_render_in_browser(site: Site | None):
    """Issue 16: /api/docs draws Swagger UI from this server, under its CSP, with every operation."""
    if site is None:
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    context, page, problems = _watched_context(site)
    try:
        spec = context.request.get("/api/openapi.json").json()
        operations = sum(len(methods) for methods in spec["paths"].values())
        r = page.goto("/api/docs")
        assert r is not None and r.status == 200
        page.wait_for_function(
            f"() => document.querySelectorAll('.swagger-ui .opblock').length === {operations}"
        )
        assert page.locator(".swagger-ui .opblock-summary-path", has_text="/api/v1/costliest").count() == 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "api-docs.png")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_quality_filter_and_costliest_page_in_browser(site: Site | None):
    """Issue 16: the Data quality tables filter as one types; the costliest-people page is a table."""
    if site is None:
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    from playwright.sync_api import expect

    context, page, problems = _watched_context(site)
    try:
        page.goto("/login")
        page.get_by_label("User name").fill(ACCOUNT_FOR[Role.ANALYST])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(site.base_url + "/")

        page.goto("/quality")
        page.wait_for_function(ALL_CHARTS_DRAWN)
        rows = page.locator("#dq-scores-table tbody tr")
        total = rows.count()
        box = page.locator("#dq-scores-q")
        expect(box).to_be_visible()  # shown by app.js
        code = rows.first.locator("td").nth(1).inner_text().strip()
        box.fill(code)
        visible = page.locator("#dq-scores-table tbody tr:visible")
        expect(visible).not_to_have_count(0)
        shown = visible.count()
        assert shown < total
        assert all(code in t for t in visible.all_inner_texts())
        count = page.locator("section[aria-labelledby='dq-scores-h'] .filter-count")
        expect(count).to_have_text(f"Showing {shown} of {total} rows")
        box.fill("")
        expect(visible).to_have_count(total)
        page.screenshot(path=SCREENSHOTS / "analyst-quality-filter.png", full_page=True)

        page.goto("/spend")
        page.get_by_role("link", name="Costliest individuals: the table").click()
        page.wait_for_url(re.compile(r".*/spend/costliest\?fy=\d+$"))
        expect(page.locator("h1")).to_have_text("Costliest individuals")
        expect(page.locator("#costliest-table tbody tr").first).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "analyst-spend-costliest.png", full_page=True)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
