"""The security team's view of the central audit log: search it, export it, verify its chain."""

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from crm.auth.v1 import auth_pb2 as pb
from crm.common.v1 import common_pb2
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import AuthClient
from services.gateway.convert import to_json
from services.gateway.deps import auth, metadata
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
CustomerFilter = Annotated[
    str | None,
    Query(
        pattern=r"^C\d{11,16}$",
        examples=["C20240501001"],
        description="Events about this customer: targeting it, or listing it among those a read returned",
    ),
]
_REASONS = {1: "hash_mismatch", 2: "missing_event", 3: "broken_chain"}


def _event(event: pb.AuditEvent) -> dict[str, Any]:
    data = to_json(event)
    details = data.pop("details_json", "")
    data["details"] = json.loads(details) if details else None
    return data


@router.get(
    "/events",
    response_model=schemas.AuditEventList,
    operation_id="listAuditEvents",
    responses={403: {"model": schemas.Problem}, 422: {"model": schemas.Problem}},
)
async def list_events(
    request: Request,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["customer.read"])] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|denied|failed)$")] = None,
    start_time: schemas.DateTime | None = None,
    end_time: schemas.DateTime | None = None,
    customer_id: CustomerFilter = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    page_token: Annotated[str | None, Query(max_length=512)] = None,
    caller: Caller = Depends(require("audit:read")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Audit events matching every filter, newest first (page through them to export)."""
    req = pb.ListAuditEventsRequest(
        actor=actor or "",
        action=action or "",
        target=target or "",
        outcome=outcome or "",
        customer_id=customer_id or "",
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or ""),
    )
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None:
            if value.tzinfo is None:
                raise HTTPException(422, f"{name} needs a time zone, e.g. 2024-05-01T00:00:00+08:00")
            getattr(req, name).FromDatetime(value)
    reply = await client.list_audit_events(metadata(request, caller), req)
    return {"items": [_event(e) for e in reply.events], "next_page_token": reply.page.next_page_token or None}


_COLUMNS = (
    "seq",
    "at",
    "actor",
    "actor_kind",
    "source",
    "service",
    "action",
    "target",
    "customer_ids",
    "fields",
    "outcome",
    "trace_id",
    "details_json",
    "prev_hash",
    "hash",
)


@router.get(
    "/events/export",
    operation_id="exportAuditEvents",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, 403: {"model": schemas.Problem}},
)
async def export_events(
    request: Request,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|denied|failed)$")] = None,
    customer_id: CustomerFilter = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many events")] = 10_000,
    caller: Caller = Depends(require("audit:read")),
    client: AuthClient = Depends(auth),
) -> StreamingResponse:
    """The matching events as CSV (UTF-8 with BOM for spreadsheets), newest first, with their hashes
    so the chain can be checked outside the platform."""
    md = metadata(request, caller)

    def page(token: str) -> pb.ListAuditEventsRequest:
        return pb.ListAuditEventsRequest(
            actor=actor or "",
            action=action or "",
            target=target or "",
            outcome=outcome or "",
            customer_id=customer_id or "",
            page=common_pb2.PageRequest(page_size=500, page_token=token),
        )

    first = await client.list_audit_events(md, page(""))  # errors surface before streaming starts

    def line(values: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(values)
        return buffer.getvalue()

    async def rows() -> AsyncIterator[str]:
        yield "\ufeff" + line(list(_COLUMNS))
        reply, sent = first, 0
        while True:
            for event in reply.events[: limit - sent]:
                data = to_json(event)
                data["fields"] = " ".join(data.get("fields", []))
                data["customer_ids"] = " ".join(data.get("customer_ids", []))
                yield line([data.get(c, "") for c in _COLUMNS])
            sent += len(reply.events)
            token = reply.page.next_page_token
            if not token or sent >= limit:
                return
            reply = await client.list_audit_events(md, page(token))

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="audit-events.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/verify",
    response_model=schemas.AuditVerification,
    operation_id="verifyAuditLog",
    responses={403: {"model": schemas.Problem}},
)
async def verify(
    request: Request,
    caller: Caller = Depends(require("audit:read")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Recompute the hash chain; on failure, the first altered or missing event."""
    reply = await client.verify_audit_log(metadata(request, caller), pb.VerifyAuditLogRequest())
    return {
        "ok": reply.ok,
        "checked": reply.checked,
        "first_bad_seq": reply.first_bad_seq or None,
        "reason": _REASONS.get(reply.reason),
        "message": reply.message or None,
    }
