"""Every error leaves the gateway as application/problem+json (RFC 9457), mapped here once."""

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common import errors as domain_errors
from services.common import telemetry
from services.gateway.openapi import api_routes
from services.gateway.problems import BY_STATUS, PROBLEM_JSON, TYPES

log = logging.getLogger(__name__)

PROBLEM = PROBLEM_JSON

# gRPC status -> the problem type it is answered with (problems.py).
_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "validation-error",
    grpc.StatusCode.NOT_FOUND: "not-found",
    grpc.StatusCode.ALREADY_EXISTS: "already-exists",
    grpc.StatusCode.ABORTED: "version-mismatch",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict",
    grpc.StatusCode.PERMISSION_DENIED: "forbidden",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "too-many-requests",
    grpc.StatusCode.DEADLINE_EXCEEDED: "upstream-timeout",
    grpc.StatusCode.UNAVAILABLE: "service-unavailable",
    # Stored data that does not decrypt (altered, moved to another record, or erased): the
    # message names the record and field, never their content.
    grpc.StatusCode.DATA_LOSS: "data-integrity",
}
# Seconds a client is asked to wait before retrying a service that is down.
RETRY_UNAVAILABLE_SECONDS = 2


def problem(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response of a registered type, carrying the request id."""
    registered = TYPES[kind] if kind else BY_STATUS.get(status)
    body: dict[str, Any] = {
        "type": registered.uri if registered else "about:blank",
        "title": registered.title if registered else "Error",
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors is not None:
        body["errors"] = errors
    if status == 503 and not (headers and "Retry-After" in headers):
        headers = {**(headers or {}), "Retry-After": str(RETRY_UNAVAILABLE_SECONDS)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if where == "body" and rest else ".".join(parts)
    return ".".join(parts)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem(request, 400, "the request body is not valid JSON", kind="malformed-json")
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in raw]
    return problem(request, 422, "the request has invalid fields", kind="validation-error", errors=errors)


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem(request, exc.status_code, str(exc.detail) if exc.detail else None, headers=headers)


def _resource(request: Request) -> tuple[str, set[str]]:
    """The path template this path is documented under, and its methods: a literal path such as
    /customers/lookup wins over /customers/{customer_id} (Starlette names one route's only)."""
    matching = [route for route in api_routes(request.app.routes) if route.path_regex.match(request.url.path)]
    if not matching:
        return "", set()
    template = min((route.path_format for route in matching), key=lambda path: path.count("{"))
    return template, {m for route in matching if route.path_format == template for m in route.methods}


def _allowed_methods(request: Request) -> str:
    return ", ".join(sorted(_resource(request)[1]))


async def _rpc(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
    kind = _STATUS.get(exc.code(), "internal-error")
    status = TYPES[kind].status
    if kind == "internal-error":
        log.error("downstream call failed: %s %s", exc.code(), exc.details())
        return problem(
            request, 500, f"internal error; trace id {telemetry.current_trace_id() or 'none'}", kind=kind
        )
    violations = domain_errors.violations_of(exc) if status == 422 else []
    errors = [{"field": v.field, "message": v.message} for v in violations] if status == 422 else None
    return problem(request, status, exc.details(), kind=kind, errors=errors)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error")
    return problem(
        request,
        500,
        f"internal error; trace id {telemetry.current_trace_id() or 'none'}",
        kind="internal-error",
    )


def _shadowing_paths(app: FastAPI) -> dict[str, set[str]]:
    """Literal paths that a templated route also matches (/customers/lookup and
    /customers/{customer_id}), with the literal resource's methods."""
    routes = list(api_routes(app.routes))
    literal = {r.path_format for r in routes if "{" not in r.path_format}
    shadowing = {p for p in literal if any("{" in r.path_format and r.path_regex.match(p) for r in routes)}
    return {p: {m for r in routes if r.path_format == p for m in r.methods} for p in shadowing}


class LiteralPathsAreResources:
    """PATCH /customers/lookup would reach /customers/{customer_id} (and be refused as a bad
    customer ID, or as a permission the caller lacks): answer 405 for a method the literal
    resource lacks. Plain ASGI, so request bodies stream through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._shadowing: dict[str, set[str]] | None = None  # found at the first request

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if self._shadowing is None:
                self._shadowing = _shadowing_paths(scope["app"])
            methods = self._shadowing.get(scope["path"])
            if methods and scope["method"] not in methods:
                request = Request(scope, receive)
                response = problem(
                    request, 405, "Method Not Allowed", headers={"Allow": ", ".join(sorted(methods))}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""
    app.add_middleware(LiteralPathsAreResources)
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(grpc.aio.AioRpcError, _rpc)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
