"""One ASGI middleware for request ids, the client's address, security headers, rate-limit
announcements and Retry-After, body size limits and RED metrics per route; and the hook that
keeps query strings out of traces."""

import ipaddress
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "crm_gateway_http_requests_total",
    "HTTP requests served, by route, method and status.",
    ["route", "method", "status"],
)
DURATION = Histogram(
    "crm_gateway_http_request_duration_seconds",
    "Time to serve an HTTP request, by route.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# JSON answers need nothing from a browser: no scripts, styles, frames or forms.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The interactive docs (Swagger UI at /docs, ReDoc at /redoc) load their bundles from jsDelivr,
# run an inline start-up script, and fetch /openapi.json; ReDoc adds Google Fonts and a worker.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.jsdelivr.net; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
# Retry-After for a 429 or 503 that does not name its own wait: a service down (503) is usually
# back, or replaced by another replica, within seconds (errors.py asks for the same).
DEFAULT_RETRY_AFTER = {429: b"1", 503: b"2"}
SECURITY_HEADERS = (
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Networks from CIDRs or single addresses; ValueError naming a bad one."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def client_address(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The client's address: X-Forwarded-For only counts when the socket peer is a trusted proxy,
    and then from the right, skipping trusted proxies, up to the first address that is not one
    (anything left of it was written by the client and proves nothing)."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not trusted or not is_trusted(peer) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed hop: nothing left of it can be placed
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


def redact_query(query: str) -> str:
    """The query string with every value replaced: names stay, searched text does not."""
    return urlencode([(name, "REDACTED") for name, _ in parse_qsl(query, keep_blank_values=True)])


def redact_span_query(span: Any, scope: Scope) -> None:
    """Server request hook of the FastAPI instrumentation: the URL attributes it set keep the
    path and the parameter names only (search text, names and phone fragments stay out of traces)."""
    query = scope.get("query_string", b"").decode("latin-1")
    if not query or not span.is_recording():
        return
    redacted = redact_query(query)
    attributes = getattr(span, "attributes", None) or {}
    for key in ("http.url", "url.full", "http.target"):
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0] + "?" + redacted)
    if "url.query" in attributes:
        span.set_attribute("url.query", redacted)


class _TooLarge(HTTPException):
    """Raised while reading a body past the limit; rendered as 413 by the problem handlers."""


class RequestContextMiddleware:
    """Assigns X-Request-ID, works out the client's address, adds security headers, the caller's
    RateLimit fields and a Retry-After every 429 and 503 lacks, refuses oversized bodies with 413
    and records metrics."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, trusted_proxies: Sequence[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        peer = scope["client"][0] if scope.get("client") else ""
        state["client_ip"] = client_address(
            peer, headers.get(b"x-forwarded-for", b"").decode("latin-1"), self.trusted
        )
        csp = (DOCS_CSP if scope["path"] in DOCS_PATHS else API_CSP).encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                given = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in given]
                if b"content-security-policy" not in given:
                    extra.append((b"content-security-policy", csp))
                if status in DEFAULT_RETRY_AFTER and b"retry-after" not in given:
                    extra.append((b"retry-after", DEFAULT_RETRY_AFTER[status]))
                # The caller's request budget, when the request spent one (deps.py).
                for name, value in state.get("rate_limit_fields", ()):
                    extra.append((name.lower().encode(), value.encode()))
                message["headers"] = [
                    *message.get("headers", []),
                    *extra,
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await self._reject(scope, send_with_id, request_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            DURATION.labels(template, scope["method"]).observe(time.perf_counter() - started)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLarge(413, f"the body exceeds {self.max_body_bytes} bytes")
            return message

        return wrapped

    async def _reject(self, scope: Scope, send: Send, request_id: str) -> None:
        import json

        body: dict[str, Any] = {
            "type": "/problems/body-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the body exceeds {self.max_body_bytes} bytes",
            "instance": scope["path"],
            "request_id": request_id,
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
