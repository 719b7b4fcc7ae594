"""One ASGI middleware for request ids, body size limits and RED metrics per route."""

import re
import time
import uuid
from typing import Any

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


class _TooLarge(HTTPException):
    """Raised while reading a body past the limit; rendered as 413 by the problem handlers."""


class RequestContextMiddleware:
    """Assigns X-Request-ID, refuses oversized bodies with 413 and records metrics."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
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
