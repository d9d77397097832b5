"""Web security: response headers, the audit of every request, rate limits and CSRF checks
(governance.md, Access: web).

:class:`Guard` is one pure-ASGI middleware (cheaper than Starlette's ``BaseHTTPMiddleware``)
that adds the security headers to every response and, after each request to a page or the
API, appends one audit record: who, organisation, role, what (method, path and query),
outcome and status, in UTC. Handlers that audit for themselves (the login form, which must
record the account name tried) set ``request.state.audited``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections import defaultdict, deque

from phm.codes import redact_nhs_numbers

log = logging.getLogger("phm.web")

# object-src 'none' and frame-ancestors 'none' as governance.md asks; scripts only from this
# server (Plotly's bundle is served from the installed package); Plotly sets inline styles.
CSP_DIRECTIVES = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
                  "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csp(script_hashes: tuple[str, ...] | list[str] = ()) -> str:
    """The Content-Security-Policy; ``script_hashes`` (``'sha256-...'``) allow those inline
    scripts only, for the one response that sets it (the API docs page, :mod:`phm.web.apidocs`)."""
    return CSP_DIRECTIVES.format(scripts="".join(f" {h}" for h in script_hashes))


CSP = csp()
CSP_HEADER = b"content-security-policy"
HEADERS = [
    (CSP_HEADER, CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")  # data and pages; not the static assets
CACHEABLE_PREFIXES = ("/static/", "/assets/", "/api/docs-static/")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
UNAUDITED_PREFIXES = ("/static/", "/api/docs-static/", "/healthz", "/favicon.ico")

OUTCOMES = {401: "unauthenticated", 403: "denied", 404: "not found", 422: "invalid request", 429: "rate limited"}


def outcome(status: int) -> str:
    if status < 400:
        return "allowed"
    return OUTCOMES.get(status, "error")


class Guard:
    """ASGI middleware: security headers on every response; an audit record per request."""

    def __init__(self, app, store, hsts: bool) -> None:
        self.app = app
        self.store = store
        self.static_headers = [*HEADERS, HSTS] if hsts else list(HEADERS)
        self.headers = [*self.static_headers, NO_STORE]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500
        headers = self.static_headers if scope["path"].startswith(CACHEABLE_PREFIXES) else self.headers
        state = scope.setdefault("state", {})  # the same dict request.state writes to

        async def send_with_headers(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                own = message.get("headers", [])
                add = headers
                if any(k.lower() == CSP_HEADER for k, _ in own):
                    # a response with its own CSP (the API docs page) keeps it: it is this
                    # policy plus that page's inline script, and two CSPs would both apply
                    add = [h for h in headers if h[0] != CSP_HEADER]
                message["headers"] = [*own, *add]
            await send(message)

        started = False

        async def send_tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:  # a bug: log it with a reference; the user sees no stack trace
            ref = secrets.token_hex(4)
            log.exception("error %s on %s %s", ref, scope["method"], scope["path"])
            if not started:
                await _generic_error(send_with_headers, scope["path"].startswith("/api/"), ref)
        finally:
            path = scope["path"]
            if not path.startswith(UNAUDITED_PREFIXES) and not state.get("audited"):
                query = scope.get("query_string", b"").decode("latin-1")
                target = redact_nhs_numbers(f"{scope['method']} {path}" + (f"?{query}" if query else ""))
                session = state.get("session")
                client = scope.get("client")
                self.store.audit(user=session.user if session else None, action="access", target=target,
                                 outcome=outcome(status), status=status, client=client[0] if client else None)


async def _generic_error(send, api: bool, ref: str) -> None:
    text = f"Something went wrong on our side (reference {ref})."
    if api:
        body, ctype = json.dumps({"detail": text}).encode(), b"application/json"
    else:
        body = (f"<!doctype html><html lang=en><title>Error - phm</title><h1>Sorry, there is a problem</h1>"
                f"<p>{text}</p><p><a href='/'>Back to the dashboard</a></p></html>").encode()
        ctype = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """At most ``limit`` events per key in any ``window`` seconds (in memory, per process)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._events[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def blocked(self, key: str, now: float | None = None) -> bool:
        with self._lock:
            return len(self._trim(key, time.monotonic() if now is None else now)) >= self.limit

    def hit(self, key: str, now: float | None = None) -> bool:
        """Record an event; True if it is over the limit (the event is then not counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._trim(key, now)
            if len(q) >= self.limit:
                return True
            q.append(now)
            return False


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
