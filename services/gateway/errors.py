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

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

# gRPC status -> HTTP status and a stable problem type.
_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "validation-error"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.ABORTED: (412, "version-mismatch"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed-precondition"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "too-many-requests"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "upstream-timeout"),
    grpc.StatusCode.UNAVAILABLE: (503, "service-unavailable"),
    # Stored data that does not decrypt (altered, moved to another record, or erased): the
    # message names the record and field, never their content.
    grpc.StatusCode.DATA_LOSS: (500, "data-integrity"),
}
_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    504: "Upstream timeout",
}


def problem(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response carrying the request id."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind}" if kind else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors is not None:
        body["errors"] = errors
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
    return problem(
        request,
        exc.status_code,
        str(exc.detail) if exc.detail else None,
        headers=getattr(exc, "headers", None),
    )


async def _rpc(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
    status, kind = _STATUS.get(exc.code(), (500, "internal-error"))
    if status == 500 and kind == "internal-error":
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


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(grpc.aio.AioRpcError, _rpc)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
