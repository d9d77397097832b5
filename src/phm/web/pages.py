"""Server-rendered pages (Jinja2). Each page reads through :mod:`.service`, exactly as the
JSON API does, so scoping and disclosure control are the same; every chart has its table
and CSV/XLSX downloads (the API's own URLs).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from phm.web import charts, service, significance
from phm.web.app import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from phm.web.names import condition_names
from phm.web.roles import LEVELS, Role
from phm.web.security import same_token
from phm.web.store import Session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# What "spend" means on these pages (phm.model.costing, phm.model.funding).
SPEND_BASIS = ("Spend is ICB-commissioned NHS activity at reference cost: National Cost Collection 2024/25 "
               "unit costs restated to each year's prices by the NHS cost inflation index, patient-level "
               "costs as supplied; admitted care adds excess bed days beyond the trim point at a per-day "
               "rate whose tariff year is unverified. NHS England-commissioned admitted care and private "
               "patients are not included.")

router = APIRouter(include_in_schema=False)

POPULATION_ROLES = (Role.ANALYST, Role.PLACE, Role.PCN, Role.PRACTICE)
NAV = (  # (path, label, roles)
    ("/", "Overview", POPULATION_ROLES),
    ("/trends", "Trends", POPULATION_ROLES),
    ("/population", "Population & segments", POPULATION_ROLES),
    ("/inequalities", "Inequalities", POPULATION_ROLES),
    ("/spend", "Spend", POPULATION_ROLES),
    ("/needs", "Health needs", POPULATION_ROLES),
    ("/indicators", "Indicators", POPULATION_ROLES),
    ("/practice", "Practice", POPULATION_ROLES),
    ("/compare", "How we compare", POPULATION_ROLES),
    ("/quality", "Data quality", (Role.ANALYST, Role.PRACTICE, Role.PROVIDER)),
    ("/audit", "Audit", (Role.ADMIN,)),
    ("/admin/users", "Users", (Role.ADMIN,)),
)
HOME = {Role.PROVIDER: "/quality", Role.ADMIN: "/audit"}
PLOTLY_JS = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"


# ---- helpers --------------------------------------------------------------------------


def redirect_to_login(request: Request) -> Response:
    nxt = request.url.path if request.method == "GET" else "/"
    return RedirectResponse(f"/login?{urlencode({'next': nxt})}", status_code=303)


def error_page(request: Request, status: int, message: str) -> Response:
    titles = {
        403: "You do not have access to this page",
        404: "Page not found",
        422: "There is a problem",
        429: "Too many requests",
        405: "Not allowed",
    }
    session = getattr(request.state, "session", None)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "title": titles.get(status, "There is a problem"),
            "message": message,
            "nav": _nav(session),
            "session": session,
        },
        status_code=status,
    )


def _nav(session: Session | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    return [(p, label) for p, label, roles in NAV if session.user.role in roles]


def _session(request: Request, *roles: Role) -> Session:
    s = service.current_session(request)
    if roles:
        service.require(s, *roles)
    return s


def _render(request: Request, session: Session, template: str, **ctx) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {"session": session, "nav": _nav(session), "path": request.url.path, **ctx},
    )


def _area_page(
    request: Request, session: Session, title: str, level: str, code: str, fy, **ctx
) -> Response:
    """A page about one area, with the area menu and the year menu (``years=None`` leaves the
    year menu out, for a page that shows every year)."""
    data = service.web(request).data
    years = ctx.pop("years", window_years(data))
    if request.query_params.get("download") == "xlsx":
        return _page_workbook(request, session, title, level, code, fy, ctx)
    query = {k: v for k, v in request.query_params.items() if k != "download"}
    return _render(
        request,
        session,
        "page.html",
        title=title,
        scope=(level, code),
        fy=fy,
        years=years,
        page_download=f"{request.url.path}?{urlencode({**query, 'download': 'xlsx'})}",
        areas=_areas_menu(request, session),
        area_name=data.hierarchy.name((level, code)),
        **ctx,
    )


def _page_workbook(request: Request, session: Session, title: str, level: str, code: str, fy, ctx: dict):
    """The page as an Excel workbook: a sheet per panel, the key measures, and an About sheet
    (:func:`phm.web.export.page_workbook`). Counted against the user's downloads per minute."""
    from phm.web.export import XLSX_TYPE, page_workbook

    w = service.web(request)
    if w.exports.hit(session.user.username):
        raise HTTPException(429, "too many downloads; wait a minute")
    panels = list(ctx.get("panels", ()))
    kpis = ctx.get("kpis")
    if kpis:
        cols = [c for c in ctx.get("kpi_columns", ()) if c["name"] in kpis]
        panels.insert(0, {"title": "Key measures", "columns": cols, "rows": [kpis]})
    controlled = session.user.role.disclosure_controlled
    about = {
        "area": f"{w.data.hierarchy.name((level, code))} ({level} {code})",
        "financial year": charts.fy_label(fy) if fy is not None else "every year of the window",
        "figures": service.DISCLOSURE_NOTE if controlled else service.ANALYST_NOTE,
        "note": ctx.get("note") or "",
        **{k.replace("_", " "): v for k, v in w.data.build_info.items()},
        "downloaded by": f"{session.user.username} ({session.user.role.label})",
    }
    name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return Response(page_workbook(title, panels, about), media_type=XLSX_TYPE,
                    headers={"content-disposition": f'attachment; filename="phm-{name}-{level}-{code}.xlsx"'})


def window_years(data) -> list[int]:
    """The financial years of the build's window (``build_meta``), oldest first."""
    b = data.build_info
    return list(range(int(b["window_first_fy"]), int(b["window_last_fy"]) + 1))


def _scope(request: Request, session: Session, area: str | None) -> tuple[str, str]:
    data = service.web(request).data
    if area:
        level, _, code = area.partition(":")
        if level not in LEVELS or not code:
            raise HTTPException(404, f"no area {area!r}")
        service.resolve_areas(data, session, level, code)  # 403/404 outside the user's areas
        return level, code
    return service.default_area(data, session)


def _areas_menu(request: Request, session: Session, levels=LEVELS) -> list[dict]:
    data = service.web(request).data
    allowed = data.permitted(session.user.role, session.user.organisation)
    out = []
    for lvl in levels:
        for a in data.hierarchy.areas(lvl):
            if a in allowed:
                out.append(
                    {
                        "value": f"{a[0]}:{a[1]}",
                        "label": f"{lvl.upper() if lvl in ('icb', 'pcn') else lvl.title()}"
                        f": {data.hierarchy.name(a)} ({a[1]})",
                    }
                )
    return out


PARENT_NAME = {"practice": "PCN", "pcn": "place"}  # a place's parent is the ICB itself


def compare(level: str, measure: str) -> tuple[str, str | None, str]:
    """The significance columns of ``measure`` for an area at ``level``, for the charts: vs the
    ICB, and vs the parent area unless the parent is the ICB."""
    icb, parent = significance.columns_of("", measure)
    return icb, parent if level in PARENT_NAME else None, PARENT_NAME.get(level, "")


def _beside(cols: list[dict]) -> list[dict]:
    """Columns with each significance column (``<measure>_vs_...``) right after its measure."""
    sig = [c for c in cols if "_vs_" in c["name"]]
    out = []
    for c in cols:
        if "_vs_" not in c["name"]:
            out += [c, *(s for s in sig if s["name"].rsplit("_vs_", 1)[0] == c["name"])]
    return out + [s for s in sig if s not in out]


def withheld_in(rows: list[dict], names) -> bool:
    return any(r.get(n) == "*" for r in rows for n in names)


KEEP_CODES = ("area_code", "submitter")  # codes a reader looks up, shown beside their names


def _named(cols: list[dict]) -> list[dict]:
    """The columns a page table shows: a code with a name column beside it (``segment`` and
    ``segment_name``, ``sex`` and ``sex_name``) shows only the name; area codes stay beside
    their names, and so do DQ submitters (the code is what a provider searches for and what
    links to its own view). Downloads keep every column."""
    names = {c["name"] for c in cols}
    return [c for c in cols if c["name"] in KEEP_CODES or f"{c['name']}_name" not in names]


def _with_year(title: str, fy: int | None) -> str:
    """A panel title that says its financial year (a panel of every year says so itself)."""
    if fy is None or charts.fy_label(fy) in title:
        return title
    return f"{title}, {charts.fy_label(fy)}"


def _figure_title(figure: dict | None) -> str | None:
    """A chart's own title, which says what the panel shows (the dataset's title is generic)."""
    title = ((figure or {}).get("layout") or {}).get("title")
    return title.get("text") if isinstance(title, dict) else title


def panel(
    result: service.Result,
    figure: dict | None,
    query: dict,
    *,
    columns: list[str] | None = None,
    rows: list[dict] | None = None,
    note: str = "",
) -> dict:
    cols = _named(_beside([c for c in result.columns if columns is None or c["name"] in columns]))
    shown = rows if rows is not None else result.rows
    counts = [c["name"] for c in cols if c["kind"] == "count"]
    if (
        result.controlled
        and shown
        and counts
        and all(r[c] in ("*", 0, None) for r in shown for c in counts)
    ):
        note = (note + " " if note else "") + (
            "Every count here is suppressed or zero: the numbers for this "
            "area are too small to show."
        )
    q = {k: v for k, v in query.items() if v is not None}
    base = (
        f"/api/v1/data/{result.dataset}"
        if not result.dataset.startswith("dq_")
        else f"/api/v1/dq/{result.dataset[3:]}"
    )
    return {
        "withheld": withheld_in(shown, [c["name"] for c in cols]),
        "significance": any(r.get(c["name"]) for r in shown for c in cols if "_vs_" in c["name"]),
        "id": f"p{secrets.token_hex(4)}",
        "title": _with_year(_figure_title(figure) or result.title, result.fy),
        "figure": json.dumps(figure) if figure else None,
        "columns": cols,
        "rows": rows if rows is not None else result.rows,
        "note": note,
        "csv": f"{base}?{urlencode({**q, 'format': 'csv'})}",
        "xlsx": f"{base}?{urlencode({**q, 'format': 'xlsx'})}",
    }


LEVEL_NAMES = {"icb": "ICB", "place": "Place", "pcn": "PCN", "practice": "Practice"}


def money_text(v: float) -> str:
    """Money as a page shows it: £84.2m, £1.23bn, £12,345, £12.34 (the exact pounds are in the
    analyst's downloads)."""
    a = abs(v)
    if a >= 1e9:
        return f"£{v / 1e9:,.2f}bn"
    if a >= 1e6:
        return f"£{v / 1e6:,.1f}m"
    return f"£{v:,.0f}" if a >= 100 else f"£{v:,.2f}"


def fmt(v, kind: str = "", name: str = "") -> str:
    """Display text for a table cell."""
    if v is None:
        return ""
    if v == "*":
        return "*"
    if isinstance(v, bool):
        return "Yes" if v else "No"
    if name == "fy" and isinstance(v, int):
        return charts.fy_label(v)
    if name == "level" and v in LEVEL_NAMES:
        return LEVEL_NAMES[v]
    if isinstance(v, int | float) and (kind == "money" or name.startswith(("spend", "cost", "intensity"))):
        return money_text(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if name.endswith("_pct"):
            return f"{v:.1f}%"
        if name.startswith(
            ("prevalence", "standardised", "icb_prevalence", "funnel", "access", "rate", "score")
        ):
            return f"{v:.2%}" if name != "score" else f"{v:.1f}"
        return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


templates.env.filters["fmt"] = fmt
templates.env.globals["SIG_LEGEND"] = significance.LEGEND
templates.env.globals["SIG_CATEGORIES"] = significance.CATEGORIES
templates.env.filters["sig_text"] = significance.text
templates.env.globals["WITHHELD_LEGEND"] = (
    "* suppressed (small numbers): the number is too small to show, or is withheld so that a small "
    "number cannot be worked out from the others (disclosure control). Charts draw these as a hatched "
    "bar or a * marker, never as zero."
)


def _q(request: Request, session: Session, area: str | None, fy: int | None):
    level, code = _scope(request, session, area)
    return level, code, {"level": level, "area": code, "fy": fy}


# ---- sign in and out ------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", error: str | None = None):
    token = secrets.token_urlsafe(32)
    resp = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "next": next if next.startswith("/") and not next.startswith("//") else "/",
            "error": error,
            "nav": [],
            "session": None,
        },
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=service.web(request).settings.secure_cookies,
    )
    return resp


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=200)] = "/",
):
    w = service.web(request)
    store = w.store
    request.state.audited = True
    client = request.client.host if request.client else "unknown"

    def fail(reason: str, status: int = 400, user=None) -> Response:
        store.audit(
            user=user,
            username=username,
            action="login",
            target="POST /login",
            outcome=reason,
            status=status,
            client=client,
        )
        msg = (
            "Too many sign-in attempts; wait 15 minutes."
            if status == 429
            else "The form expired; please try again."
            if reason == "csrf failed"
            else "Incorrect user name or password."
        )
        return login_page_with_error(request, msg, status, next)

    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return fail("csrf failed", 403)
    if w.login_by_client.hit(client) or w.login_by_account.blocked(username.lower()):
        return fail("rate limited", 429)
    user = store.authenticate(username, password)
    if user is None:
        w.login_by_account.hit(username.lower())
        return fail("failed", 401)
    token, _csrf = store.new_session(
        user, time.time(), replaces=request.cookies.get(SESSION_COOKIE)
    )
    store.audit(
        user=user,
        action="login",
        target="POST /login",
        outcome="success",
        status=303,
        client=client,
    )
    dest = next if next.startswith("/") and not next.startswith("//") else "/"
    if dest in ("/", "/login"):
        dest = HOME.get(user.role, "/")
    resp = RedirectResponse(dest, status_code=303)
    w.set_session_cookie(resp, token)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


def login_page_with_error(request: Request, message: str, status: int, nxt: str) -> Response:
    resp = login_form(request, nxt, message)
    resp.status_code = status
    return resp


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)]):
    s = _session(request)
    if not same_token(s.csrf_token, csrf_token):
        raise HTTPException(403, "the form expired; reload the page and try again")
    service.web(request).store.end_session(request.cookies[SESSION_COOKIE])
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/healthz")
def healthz():
    return {"status": "ok"}


@router.get("/assets/plotly.min.js")
def plotly_js():
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"cache-control": "max-age=86400"}
    )


# ---- population pages -----------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, area: str | None = None, fy: int | None = None):
    s = _session(request)
    if s.user.role in HOME:
        return RedirectResponse(HOME[s.user.role], status_code=303)
    service.require(s, *POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = _q(request, s, area, fy)
    summary = service.dataset(data, s, "summary", level, code)
    latest = (
        [r for r in summary.rows if r["fy"] == (fy or max(r["fy"] for r in summary.rows))]
        if summary.rows
        else []
    )
    kpis = latest[0] if latest else {}
    shown_fy = kpis.get("fy", fy)
    pyr = service.dataset(data, s, "pyramid", level, code, fy=fy)
    imd = service.dataset(data, s, "imd", level, code, fy=fy)
    settings = service.dataset(data, s, "settings", level, code, fy=fy)
    monthly = service.dataset(data, s, "monthly", level, code)
    from phm.web.trends import spc_panel  # the Trends page's chart (that module imports this one)

    every_year = {**q, "fy": None}
    panels = [
        panel(
            summary,
            charts.grouped_bar(summary.rows, "fy", "spend_per_head", "area_name",
                               "Spend per head by financial year", y_title="£ per head"),
            every_year,
            columns=["area_name", "fy", "persons", "spend", "spend_per_head"],
        ),
        panel(
            summary,
            charts.grouped_bar(summary.rows, "fy", "emergency_per_1000", "area_name",
                               "Emergency admissions per 1,000 registered persons by financial year",
                               y_title="per 1,000"),
            every_year,
            columns=["area_name", "fy", "persons", "emergency_admissions", "emergency_per_1000"],
        ),
        spc_panel(monthly, "emergency_admissions", {**q, "fy": None}, code),
        panel(pyr, charts.pyramid(pyr.rows, "Registered population by age and sex"), q),
        panel(
            imd,
            charts.bar(
                imd.rows,
                "imd2019_decile",
                "persons",
                "People by IMD 2019 decile (1 = most deprived)",
                y_title="Registered persons",
            ),
            q,
        ),
        panel(
            settings,
            charts.bar(
                settings.rows,
                "setting_name",
                "spend",
                "Spend by setting",
                y_title="£",
                horizontal=True,
            ),
            q,
        ),
    ]
    return _area_page(
        request,
        s,
        "Overview",
        level,
        code,
        shown_fy,
        kpis=kpis,
        kpi_columns=summary.columns,
        panels=panels,
        note=summary.note,
    )


@router.get("/population", response_class=HTMLResponse)
def population(request: Request, area: str | None = None, fy: int | None = None):
    s = _session(request, *POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = _q(request, s, area, fy)
    seg = service.dataset(data, s, "segments", level, code, fy=fy)
    panels = [
        panel(
            seg,
            charts.bar(
                seg.rows,
                "segment_name",
                "persons",
                "People by segment",
                y_title="People",
                horizontal=True,
            ),
            q,
        ),
        panel(
            seg,
            charts.bar(
                seg.rows, "segment_name", "spend", "Spend by segment", y_title="£", horizontal=True
            ),
            q,
        ),
        panel(
            seg,
            charts.bar(
                seg.rows,
                "segment_name",
                "spend_per_head",
                "Spend per head by segment",
                y_title="£ per head",
                horizontal=True,
            ),
            q,
        ),
    ]
    return _area_page(
        request,
        s,
        "Population & segments (Bridges to Health)",
        level,
        code,
        seg.fy,
        panels=panels,
        note=seg.note,
    )


@router.get("/inequalities", response_class=HTMLResponse)
def inequalities(request: Request, area: str | None = None, fy: int | None = None):
    s = _session(request, *POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = _q(request, s, area, fy)
    ineq = service.dataset(data, s, "inequalities", level, code, fy=fy)
    sii = service.dataset(data, s, "sii", level, code, fy=fy)
    panels = []
    for dim, label in (
        ("imd2019_quintile", "IMD 2019 quintile (1 = most deprived)"),
        ("ethnic_group", "ethnic group"),
        ("core20", "Core20 (most deprived 20% of areas)"),
    ):
        rows = [r for r in ineq.rows if r["dimension"] == dim]
        panels.append(
            panel(
                ineq,
                charts.error_bars(
                    rows,
                    "group",
                    "dsr",
                    "dsr_lower",
                    "dsr_upper",
                    f"Emergency admissions per 100,000 (DSR) by {label}",
                    "DSR per 100,000",
                    compare=compare(level, "dsr"),
                ),
                q,
                rows=rows,
            )
        )
        panels.append(
            panel(
                ineq,
                charts.bar(
                    rows,
                    "group",
                    "cost_per_head",
                    f"Spend per head by {label}",
                    y_title="£ per head",
                ),
                q,
                rows=rows,
            )
        )
    panels.append(
        panel(
            sii,
            None,
            q,
            note="SII: the modelled gap between the least and most deprived ends "
            "(negative = higher among the more deprived); RII: their ratio.",
        )
    )
    return _area_page(
        request,
        s,
        "Inequalities (Core20PLUS5)",
        level,
        code,
        ineq.fy,
        panels=panels,
        note=ineq.note,
    )


@router.get("/spend", response_class=HTMLResponse)
def spend(request: Request, area: str | None = None, fy: int | None = None):
    s = _session(request, *POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = _q(request, s, area, fy)
    prog = service.dataset(data, s, "programmes", level, code, fy=fy)
    sett = service.dataset(data, s, "settings", level, code, fy=fy)
    rcm = service.dataset(data, s, "rcm", level, code, fy=fy)
    top = service.dataset(data, s, "top_cohort", level, code, fy=fy)
    panels = [
        panel(
            prog,
            charts.grouped_bar(
                prog.rows,
                "programme_name",
                "spend",
                "setting_name",
                "Programme budget: spend by programme of care and setting",
                y_title="£",
                stacked=True,
                horizontal=True,
            ),
            q,
        ),
        panel(
            sett,
            charts.bar(
                sett.rows,
                "setting_name",
                "spend_per_head",
                "Spend per head by setting",
                y_title="£ per head",
            ),
            q,
        ),
        panel(
            rcm,
            charts.heatmap(
                rcm.rows,
                "setting_name",
                "segment_name",
                "spend_per_person",
                "Resource consumption map: spend per person by segment and setting",
            ),
            q,
        ),
        panel(
            top,
            charts.bar(
                [r for r in top.rows if r["dimension"] == "segment"],
                "group_name",
                "share_of_cohort_spend",
                "Top-cost cohort: share of its spend by segment",
                y_title="% of cohort spend",
            ),
            q,
            note="The costliest 5% of the ICB's registered people; patterns only, no individual rows.",
        ),
    ]
    if s.user.role is Role.ANALYST:
        panels.append(
            {
                "id": "top-persons",
                "title": "Costliest individuals (pseudonymised; analysts only)"
                + (f", {charts.fy_label(prog.fy)}" if prog.fy is not None else ""),
                "figure": None,
                "columns": [],
                "rows": [],
                "note": "The costliest people of the year, one pseudonymised row each, with their cost "
                "and contacts by setting.",
                "csv": None,
                "xlsx": None,
                "link": "/spend/costliest" + (f"?fy={prog.fy}" if prog.fy is not None else ""),
                "link_text": "Costliest individuals: the table",
            }
        )
    note = " ".join(filter(None, [prog.note, SPEND_BASIS]))
    return _area_page(request, s, "Spend", level, code, prog.fy, panels=panels, note=note)


REFERENCES = (("england", "England (QOF 2022-23)"), ("icb", "This ICB"))
REFERENCE_NOTES = {
    "england": (
        "Expected from England's recorded prevalence (NHS England, QOF 2022-23). QOF publishes "
        "no rates by age, so England's age-specific rates are taken as this ICB's, scaled to "
        "England's total on England's age structure (an assumption; sex is not standardised)."
    ),
    "icb": "Expected from this ICB's recorded prevalence by age band and sex.",
}


@router.get("/needs", response_class=HTMLResponse)
def needs(
    request: Request,
    area: str | None = None,
    fy: int | None = None,
    condition: str | None = None,
    reference: str | None = None,
):
    s = _session(request, *POPULATION_ROLES)
    data = service.web(request).data
    level, code, q = _q(request, s, area, fy)
    prev = service.dataset(data, s, "prevalence", level, code, fy=fy)
    conditions = [r["condition"] for r in prev.rows]
    condition = condition if condition in conditions else (conditions[0] if conditions else None)
    # ICB and place compare with England; a practice or PCN lead can also compare with the ICB.
    references = REFERENCES if level in ("practice", "pcn") else REFERENCES[:1]
    reference = reference if reference in dict(references) else "england"
    ratio = ("isr", "isr_lower", "isr_upper") if reference == "icb" else (
        "isr_england", "isr_england_lower", "isr_england_upper")
    ratio_title = (
        "Recorded prevalence against expected from the ICB's age-sex rates (ICB = 1)"
        if reference == "icb"
        else "Recorded prevalence against expected from England's (QOF 2022-23; England = 1)"
    )
    panels = [
        panel(
            prev,
            charts.compared_bar(
                prev.rows,
                "condition_name",
                "prevalence",
                "Recorded prevalence, compared with the ICB and the parent area",
                compare=compare(level, "prevalence"),
                y_title="Recorded prevalence",
                y_format=".1%",
            ),
            q,
            columns=[
                "condition_name",
                "register",
                "denominator",
                "prevalence",
                "prevalence_vs_icb",
                "prevalence_vs_parent",
            ],
        ),
        panel(
            prev,
            charts.error_bars(
                prev.rows,
                "condition_name",
                *ratio,
                ratio_title,
                "Observed / expected",
            ),
            q,
            note=REFERENCE_NOTES[reference],
        ),
    ]
    try:
        # a practice is read against the practices of its PCN (those the user may see)
        parent = data.hierarchy.parent.get((level, code)) if level == "practice" else None
        within = f"{parent[0]}:{parent[1]}" if parent else f"{level}:{code}"
        prac = service.dataset(data, s, "prevalence", "practice", None, within=within, fy=fy)
        rows = [r for r in prac.rows if r["condition"] == condition]
        names = {a["code"]: a["name"] for a in prac.areas}
        where = f" in {data.hierarchy.name(parent)}" if parent else ""
        panels.append(
            panel(
                prac,
                charts.funnel(
                    rows, f"Funnel plot: {condition_names().get(condition, condition)} prevalence by practice{where}",
                    names, highlight=code if level == "practice" else None,
                ),
                {"level": "practice", "within": within, "fy": fy},
                rows=rows,
            )
        )
    except HTTPException:
        pass
    emer = service.dataset(data, s, "emergency", level, code, fy=fy)
    for r in emer.rows:
        r["year"] = fmt(r["fy"], name="fy")
    panels.append(
        panel(
            emer,
            charts.error_bars(
                emer.rows,
                "year",
                "dsr",
                "dsr_lower",
                "dsr_upper",
                "Emergency admissions per 100,000 (DSR) by financial year",
                "DSR per 100,000",
                compare=compare(level, "dsr"),
            ),
            q,
        )
    )
    return _area_page(
        request,
        s,
        "Health needs",
        level,
        code,
        prev.fy,
        panels=panels,
        note=prev.note,
        conditions=conditions,
        condition=condition,
        condition_names=condition_names(),
        references=references if len(references) > 1 else (),
        reference=reference,
    )


@router.get("/practice", response_class=HTMLResponse)
def practice(request: Request, code: str | None = None, fy: int | None = None):
    s = _session(request, *POPULATION_ROLES)
    data = service.web(request).data
    menu = _areas_menu(request, s, levels=("practice",))
    if code is None:
        if not menu:
            raise HTTPException(403, "you have no practices")
        code = menu[0]["value"].split(":", 1)[1]
    views = service.practice_view(data, s, code, fy)
    names = {a["code"]: a["name"] for a in views["summary"].areas}
    for v in views.values():
        for r in v.rows:
            r["area_name"] = (
                f"{r['level'].upper() if r['level'] != 'practice' else 'Practice'}: {names.get(r['area_code'], r['area_code'])}"
            )
    sm, st, pv = views["summary"], views["settings"], views["prevalence"]
    measures = [
        ("spend_per_head", "Spend per head (£)"),
        ("emergency_per_1000", "Emergency admissions per 1,000"),
        ("ae_per_1000", "A&E attendances per 1,000"),
        ("ltc2plus_pct", "% with 2+ LTCs"),
    ]
    icb = next((r for r in sm.rows if r["level"] == "icb"), {})

    def index(r, m):  # the area's value against the ICB's (= 100); a withheld value stays "*"
        if r.get(m) == "*":
            return "*"
        v, base = charts.num(r.get(m)), charts.num(icb.get(m))
        return None if v is None or not base else 100 * v / base

    long = [
        {"measure": label, "area_name": r["area_name"], "value": index(r, m)}
        for m, label in measures
        for r in sm.rows
    ]
    q = {"level": "practice", "area": code, "fy": fy}
    panels = [
        _compared_panel(sm, pv, code),
        panel(
            sm,
            charts.grouped_bar(
                long,
                "measure",
                "value",
                "area_name",
                "Key measures against the ICB (ICB = 100)",
                y_title="index (ICB = 100)",
            ),
            q,
        ),
        panel(
            st,
            charts.grouped_bar(
                st.rows, "setting_name", "spend_per_head", "area_name", "Spend per head by setting"
            ),
            q,
        ),
        panel(
            pv,
            charts.grouped_bar(
                pv.rows,
                "condition_name",
                "prevalence",
                "area_name",
                "Recorded prevalence",
                y_format=".0%",
            ),
            q,
        ),
    ]
    return _render(
        request,
        s,
        "page.html",
        title=f"Practice: {names.get(code, code)} ({code})",
        scope=None,
        practice_menu=menu,
        practice=code,
        fy=sm.fy,
        panels=panels,
        note=sm.note,
        area_name=names.get(code, code),
    )


def _compared_panel(sm: service.Result, pv: service.Result, code: str) -> dict:
    """A table of the practice's key measures and recorded prevalence, each with its
    significance against the ICB and the PCN (the category only: no limits are released)."""
    labels = {c["name"]: c["label"] for c in sm.columns}
    rows = []
    for r in (r for r in sm.rows if r["level"] == "practice" and r["area_code"] == code):
        for m in ("emergency_per_1000", "ae_per_1000", "ltc2plus_pct"):
            rows.append(
                {
                    "measure": labels[m],
                    "value": fmt(r.get(m), name=m),
                    "value_vs_icb": r.get(f"{m}_vs_icb"),
                    "value_vs_parent": r.get(f"{m}_vs_parent"),
                }
            )
    for r in (r for r in pv.rows if r["level"] == "practice" and r["area_code"] == code):
        rows.append(
            {
                "measure": f"Recorded prevalence: {r.get('condition_name') or r['condition']}",
                "value": fmt(r.get("prevalence"), name="prevalence"),
                "value_vs_icb": r.get("prevalence_vs_icb"),
                "value_vs_parent": r.get("prevalence_vs_parent"),
            }
        )
    return {
        "id": f"p{secrets.token_hex(4)}",
        "title": _with_year("How the practice compares with the ICB and its PCN", pv.fy),
        "figure": None,
        "rows": rows,
        "csv": None,
        "xlsx": None,
        "note": "",
        "columns": [
            {"name": "measure", "label": "Measure", "kind": "label"},
            {"name": "value", "label": "Value", "kind": "label"},
            {"name": "value_vs_icb", "label": "Compared with the ICB", "kind": "label"},
            {"name": "value_vs_parent", "label": "Compared with the PCN", "kind": "label"},
        ],
        "withheld": withheld_in(rows, ["value"]),
        "significance": any(r["value_vs_icb"] for r in rows),
    }


# ---- data quality, audit and users ----------------------------------------------------


# The Data quality page (/quality) is phm.web.quality.


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, page: int = 1):
    s = _session(request, Role.ADMIN)
    page = max(1, min(page, 10**6))
    store = service.web(request).store
    rows = store.audit_rows(100, (page - 1) * 100)
    return _render(
        request, s, "audit.html", title="Audit log", rows=rows, page=page, total=store.audit_count()
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, message: str | None = None):
    s = _session(request, Role.ADMIN)
    return _render(
        request,
        s,
        "users.html",
        title="Users",
        users=service.web(request).store.users(),
        roles=list(Role),
        message=message,
    )


@router.post("/admin/users")
def add_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[Role, Form()],
    organisation: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form(max_length=100)],
    display_name: Annotated[str, Form(max_length=100)] = "",
):
    from phm.errors import UserError

    s = _session(request, Role.ADMIN)
    if not same_token(s.csrf_token, csrf_token):
        raise HTTPException(403, "the form expired; reload the page and try again")
    try:
        service.web(request).store.add_user(
            username, password, role, organisation, display_name or None
        )
    except UserError as e:
        return RedirectResponse(f"/admin/users?{urlencode({'message': str(e)})}", status_code=303)
    return RedirectResponse(
        f"/admin/users?{urlencode({'message': f'Added {username}.'})}", status_code=303
    )
