"""The OpenAPI document, made to state what the gateway really answers.

FastAPI documents each route's success response and what the route declares. Everything else a
request can meet is decided here, once, from what the route is: an authenticated route can answer
401, 403 and 429, and 503 or 504 when a service is down or slow; a route with input can answer 422
(and 400 and 413 with a body); one with a path parameter 404; a change guarded by `If-Match` 412
and 428. Every error answer is `application/problem+json` with the Problem schema, each type from
the registry in problems.py.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from services.gateway.deps import current_caller
from services.gateway.problems import BY_STATUS, PROBLEM_JSON

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
# A customer's ETag: its version, quoted (weak form accepted).
_ETAG = r'^(W/)?"[0-9]{1,18}"$'
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}
# A partner client's budget after the request (draft-ietf-httpapi-ratelimit-headers-11; ratelimit.py).
_RATE_LIMIT = {
    "RateLimit-Policy": {
        "description": "A partner client's request budget: q requests per window of w seconds",
        "schema": {"type": "string", "examples": ['"client";q=600;w=60']},
    },
    "RateLimit": {
        "description": "What is left of it: r requests for the next t seconds",
        "schema": {"type": "string", "examples": ['"client";r=599;t=37']},
    },
}
# Idempotency-Key (idempotency.py): 1-255 printable ASCII characters, bare or as a quoted string.
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the request safe to retry: a retry with the same key and body gets the first "
    "answer again (kept 24 hours) and creates nothing. A new UUID for each new request.",
    "schema": {
        "type": "string",
        "pattern": "^[\\x20-\\x7e]{1,255}$",
        "examples": ["8e03978e-40d5-43e8-bc93-6894a57f9324"],
    },
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when this is the kept answer to an earlier request with that Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
# Why each status may come, for operations that do not say it in their own words.
_WHY = {
    400: "The body is not valid JSON",
    401: "No usable access token",
    403: "Your roles or scopes lack the permission, or the request uses a field group you may not see",
    404: "No such resource within your record scope",
    409: "A conflicting resource or state",
    412: "If-Match names an older version: read it again",
    413: "The body is larger than the limit",
    422: "Invalid input, listed in errors",
    428: "Send If-Match with the ETag you read",
    429: "A request budget is spent: wait Retry-After seconds",
    500: "Internal error (the detail gives a trace id)",
    503: "A service is down or not ready: retry after Retry-After seconds",
    504: "A service did not answer in time",
}


def api_routes(routes: Any) -> Any:
    """The API routes, through the routers they were included with (all without a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def creates(route: APIRoute) -> bool:
    """Whether a route creates something, and so takes an Idempotency-Key: a POST under /api/v1
    answering 201."""
    return "POST" in route.methods and route.status_code == 201 and route.path_format.startswith("/api/v1/")


def _authenticated(dependant: Any) -> bool:
    return any(d.call is current_caller or _authenticated(d) for d in dependant.dependencies)


def _statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    """Every error status the operation can answer with, from what the route is."""
    found = {500}
    parameters = operation.get("parameters", [])
    if _authenticated(route.dependant):
        found |= {401, 403, 429, 503, 504}
    if parameters or "requestBody" in operation:
        found.add(422)
    if "requestBody" in operation:
        # A body names other records too (a tag, a segment, customers) that may not exist.
        found |= {400, 404, 413}
    if "201" in operation.get("responses", {}):
        found.add(409)  # a unique value taken, or the same Idempotency-Key still in progress
    if any(p["in"] == "path" for p in parameters):
        found.add(404)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        found |= {412, 428}
    return found


def _problem_response(status: int, given: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": (given or {}).get("description") or _WHY.get(status) or BY_STATUS[status].title,
        "content": {PROBLEM_JSON: {"schema": _PROBLEM}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


def document(app: FastAPI) -> dict[str, Any]:
    """The gateway's OpenAPI document: each operation's every status, errors as problem+json."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    routes = {
        (route.path_format, method.lower()): route
        for route in api_routes(app.routes)
        if route.include_in_schema
        for method in route.methods
    }
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes[(path, method)]
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(_statuses(route, operation) | declared):
                responses[str(status)] = _problem_response(status, responses.get(str(status)))
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
                    parameter["required"] = True  # a change without it is answered 428
                    parameter["schema"] = {"type": "string", "pattern": _ETAG, "examples": ['"3"']}
            idempotent = method == "post" and creates(route)
            if idempotent:
                operation.setdefault("parameters", []).append(dict(_IDEMPOTENCY_KEY))
            if _authenticated(route.dependant):
                for code, response in responses.items():
                    headers = response.setdefault("headers", {})
                    headers.update(_RATE_LIMIT)
                    if idempotent and code != "422":
                        headers.update(_REPLAYED)
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def install(app: FastAPI) -> None:
    """Serve `document(app)` at /openapi.json (built once, on first request)."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cache:
            cache.update(document(app))
        return cache

    app.openapi = openapi  # type: ignore[method-assign]
