"""Issue 16, item 1: the interactive API docs (/api/docs) are served whole by phm: Swagger UI
from the installed package, no CDN, under a CSP that lets exactly its start-up script run
(the browser check that it renders is in test_browser.py)."""

from __future__ import annotations

import re

import pytest

from phm.web.apidocs import script_hash

pytestmark = pytest.mark.xdist_group("ingest")

ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
INLINE = re.compile(r"<script>(.*?)</script>", re.S)


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in csp.split(";")) if d}


def test_api_docs_load_only_same_origin_assets_that_this_server_serves(anonymous):
    page = anonymous.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = ASSET.findall(page.text)
    assert len(urls) == 3, urls  # the script, the stylesheet and the icon
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not on this server"
    expected = {
        "swagger-ui-bundle.js": ("text/javascript", "application/javascript"),
        "swagger-ui.css": ("text/css",),
        "favicon.png": ("image/png",),
    }
    for url in urls:
        name = url.rsplit("/", 1)[1]
        r = anonymous.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].split(";")[0] in expected[name], (
            url,
            r.headers["content-type"],
        )
        assert (
            r.headers.get("cache-control") != "no-store"
        )  # 1.5 MB of script: cacheable like Plotly
    js = anonymous.get(next(u for u in urls if u.endswith(".js"))).text
    assert "SwaggerUIBundle" in js
    assert 'PACKAGE_VERSION:"5.' in js  # Swagger UI 5: renders FastAPI's OpenAPI 3.1 (4 does not)
    assert "swagger-ui" in anonymous.get(next(u for u in urls if u.endswith(".css"))).text
    assert (
        "cdn" not in page.text.lower()
        and "http://" not in page.text
        and "https://" not in page.text
    )


def test_api_docs_csp_allows_its_own_script_and_nothing_else(anonymous):
    page = anonymous.get("/api/docs")
    policies = page.headers.get_list("content-security-policy")
    assert len(policies) == 1, "two policies would both apply, and the stricter one block the docs"
    d = _directives(policies[0])
    inline = INLINE.findall(page.text)
    assert len(inline) == 1 and "SwaggerUIBundle(" in inline[0]
    assert d["script-src"] == [
        "'self'",
        script_hash(inline[0]),
    ]  # no 'unsafe-inline', no other host
    assert d["style-src"] == ["'self'", "'unsafe-inline'"] and d["connect-src"] == ["'self'"]
    assert d["object-src"] == ["'none'"] and d["frame-ancestors"] == ["'none'"]
    assert d["img-src"] == ["'self'", "data:"]
    for header in ("x-content-type-options", "x-frame-options", "referrer-policy"):
        assert header in page.headers
    # Swagger UI reads the schema from this server, and asks no online validator
    assert "url: '/api/openapi.json'" in inline[0] and '"validatorUrl": null' in inline[0]
    assert anonymous.get("/api/openapi.json").status_code == 200


def test_every_other_response_keeps_the_strict_csp(clients, anonymous):
    for r in (
        anonymous.get("/login"),
        clients["analyst"].get("/"),
        anonymous.get("/api/docs-static/swagger-ui.css"),
        clients["analyst"].get("/api/v1/me"),
    ):
        (policy,) = r.headers.get_list("content-security-policy")
        assert _directives(policy)["script-src"] == ["'self'"]
