"""The interactive API docs (``/api/docs``): Swagger UI from the installed ``fastapi-offline``
package, served by this server under ``/api/docs-static`` (no CDN, no request elsewhere).

FastAPI's page (:func:`fastapi.openapi.docs.get_swagger_ui_html`) starts Swagger UI with one
inline script, which the dashboard's CSP (``script-src 'self'``) refuses. This page alone gets
its own CSP, the same policy with that one script allowed by its SHA-256 hash
(:func:`phm.web.security.csp`); every other response keeps the strict one.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from phm.web.security import csp

DOCS_URL = "/api/docs"
STATIC_URL = "/api/docs-static"  # swagger-ui-bundle.js, swagger-ui.css, favicon.png
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """Swagger UI's files as the installed package ships them."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


def script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


@router.get(DOCS_URL, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title}: interactive docs",
        swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
    )
    inline = INLINE_SCRIPT.findall(page.body.decode())
    page.headers["content-security-policy"] = csp(script_hashes=[script_hash(s) for s in inline])
    return page
