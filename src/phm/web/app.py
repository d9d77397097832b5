"""The FastAPI application: :func:`create_app` wires the store, the data, security, the JSON
API (:mod:`.api`) and the pages (:mod:`.pages`).

Errors: a user never sees a stack trace. API paths answer ``{"detail": "..."}`` with the
status; pages answer a short generic page. Unexpected exceptions are logged server-side
with a reference number the user can quote (:class:`phm.web.security.Guard`).
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import phm
from phm.web.data import Dashboard
from phm.web.security import Guard, RateLimit
from phm.web.store import Session, Store

HERE = Path(__file__).parent
SESSION_COOKIE = "phm_session"
LOGIN_CSRF_COOKIE = "phm_login_csrf"


class Settings(BaseModel):
    """Server settings (``phm serve`` options)."""

    warehouse: Path
    auth: Path = Field(description="The auth store (users, sessions, audit); default beside the warehouse.")
    idle_timeout_s: int = Field(30 * 60, le=30 * 60, description="governance.md: idle timeout <= 30 min")
    absolute_timeout_s: int = Field(12 * 3600, le=12 * 3600, description="governance.md: absolute <= 12 h")
    secure_cookies: bool = True
    hsts: bool = False  # only behind TLS
    login_failures_per_account: int = 5  # per 15 minutes
    login_attempts_per_client: int = 30  # per 15 minutes
    exports_per_minute: int = 30

    @classmethod
    def for_warehouse(cls, warehouse: Path, **kw) -> Settings:
        return cls(warehouse=warehouse, auth=kw.pop("auth", None) or default_auth_path(warehouse), **kw)


def default_auth_path(warehouse: Path) -> Path:
    return Path(warehouse).with_name("phm-web.sqlite")


class Web:
    """What request handlers share (``request.app.state.web``)."""

    def __init__(self, settings: Settings, data: Dashboard, store: Store) -> None:
        self.settings = settings
        self.data = data
        self.store = store
        self.login_by_account = RateLimit(settings.login_failures_per_account, 15 * 60)
        self.login_by_client = RateLimit(settings.login_attempts_per_client, 15 * 60)
        self.exports = RateLimit(settings.exports_per_minute, 60)

    def session(self, request: Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        s = self.store.session(token, time.time(), self.settings.idle_timeout_s, self.settings.absolute_timeout_s)
        request.state.session = s
        return s

    def set_session_cookie(self, response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, max_age=self.settings.absolute_timeout_s, path="/",
                            secure=self.settings.secure_cookies, httponly=True, samesite="strict")


def create_app(settings: Settings, data: Dashboard | None = None) -> FastAPI:
    from phm.web import api, apidocs, compare, costliest, indicators, pages, quality, trends

    store = Store(settings.auth)
    data = data or Dashboard(settings.warehouse)
    app = FastAPI(
        title="phm dashboard API",
        version=phm.__version__,
        description=("Population health management for an NHS integrated care board. Every response is scoped "
                     "to the signed-in user's role and organisation; for every role except the ICB analyst, "
                     "counts pass disclosure control (1-7 suppressed as \"*\", others rounded to the nearest 5). "
                     "Sign in at /login; the API uses the session cookie."),
        # /api/docs is phm.web.apidocs: Swagger UI from the installed package, not FastAPI's CDN copy
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
    )
    app.state.web = Web(settings, data, store)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount(apidocs.STATIC_URL, apidocs.static_files(), name="api-docs-static")
    app.include_router(api.router)
    app.include_router(apidocs.router)
    app.include_router(pages.router)
    app.include_router(trends.router)
    app.include_router(indicators.router)
    app.include_router(compare.router)
    app.include_router(costliest.router)
    app.include_router(quality.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        if exc.status_code == 401:
            return pages.redirect_to_login(request)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": detail}, status_code=422)
        return pages.error_page(request, 422, detail)

    app.add_middleware(Guard, store=store, hsts=settings.hsts)
    return app
