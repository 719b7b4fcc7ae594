"""Segments (客户分群): preview, save, list members, export, and the enter/leave events."""

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from google.protobuf import field_mask_pb2

from crm.common.v1 import common_pb2
from crm.tagging.v1 import tagging_pb2 as pb
from services.common import field_rules
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway import schemas_tagging as s
from services.gateway.clients import TaggingClient
from services.gateway.convert import to_json
from services.gateway.deps import metadata, tagging
from services.gateway.permissions import require
from services.gateway.routes.tags import condition, condition_json

router = APIRouter(prefix="/api/v1/segments", tags=["segments"])

SegmentId = Annotated[str, Path(min_length=1, max_length=36, description="Segment ID")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Problem},
    404: {"model": schemas.Problem},
    409: {"model": schemas.Problem, "description": "A segment with this name exists"},
    422: {"model": schemas.Problem, "description": "Invalid fields, listed in errors"},
}
# Export columns, and the field group a column needs.
# Column -> the field group it shows (services/common/field_rules.py).
EXPORT_COLUMNS = (
    ("customer_id", ""),
    ("name", ""),
    ("tier", field_rules.FINANCIAL),
    ("industry_code", ""),
    ("region_code", ""),
    ("status", ""),
    ("stage", ""),
    ("owner_id", ""),
    ("deal_amount_12m", field_rules.FINANCIAL),
    ("last_order_at", field_rules.PURCHASE),
    ("last_follow_up_at", ""),
    ("tags", ""),
    ("member_since", ""),
)


def _segment(segment: pb.Segment) -> dict[str, Any]:
    data = to_json(segment)
    data["condition"] = condition_json(segment.condition) if segment.HasField("condition") else None
    data.pop("customer_ids", None)
    return data


def _member(m: pb.SegmentMember) -> dict[str, Any]:
    data = to_json(m)
    data["deal_amount_12m"] = m.deal_amount_12m or None
    data["tier"] = m.tier or None
    return data


@router.post(
    "/preview", response_model=s.SegmentPreviewResult, operation_id="previewSegment", responses=_ERRORS
)
async def preview_segment(
    body: s.SegmentPreview,
    request: Request,
    caller: Caller = Depends(require("segment:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """How many customers within your scope a condition selects, and a sample, before saving."""
    req = pb.PreviewSegmentRequest(condition=condition(body.condition), sample_size=body.sample_size)
    reply = await client.preview_segment(metadata(request, caller), req)
    return {"count": reply.count, "sample": [_member(m) for m in reply.sample]}


@router.get("", response_model=s.SegmentList, operation_id="listSegments")
async def list_segments(
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
    caller: Caller = Depends(require("segment:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Saved segments by name, with their member counts within your scope."""
    req = pb.ListSegmentsRequest(
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or "")
    )
    reply = await client.list_segments(metadata(request, caller), req)
    return {
        "items": [_segment(x) for x in reply.segments],
        "next_page_token": reply.page.next_page_token or None,
    }


@router.post(
    "", status_code=201, response_model=s.SegmentRead, operation_id="createSegment", responses=_ERRORS
)
async def create_segment(
    body: s.SegmentCreate,
    request: Request,
    caller: Caller = Depends(require("segment:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Save a segment: a condition tree (dynamic, kept current as data changes) or a static list."""
    segment = pb.Segment(
        name=body.name, description=body.description, kind=body.kind, customer_ids=body.customer_ids
    )
    if body.condition is not None:
        segment.condition.CopyFrom(condition(body.condition))
    reply = await client.create_segment(metadata(request, caller), pb.CreateSegmentRequest(segment=segment))
    return _segment(reply.segment)


@router.get("/events", response_model=s.SegmentEventList, operation_id="readSegmentEvents")
async def read_segment_events(
    request: Request,
    after_position: Annotated[int, Query(ge=0, le=2**63 - 1, description="Events after this position")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    segment_id: Annotated[str, Query(max_length=36)] = "",
    caller: Caller = Depends(require("segment:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Customers entering and leaving segments, in order; poll with the last position you saw."""
    req = pb.ReadSegmentEventsRequest(after_position=after_position, limit=limit, segment_id=segment_id)
    reply = await client.read_segment_events(metadata(request, caller), req)
    return {"items": [to_json(e) for e in reply.events], "head_position": reply.head_position}


@router.get("/{segment_id}", response_model=s.SegmentRead, operation_id="getSegment", responses=_ERRORS)
async def get_segment(
    segment_id: SegmentId,
    request: Request,
    caller: Caller = Depends(require("segment:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """A segment and its member count within your scope."""
    reply = await client.get_segment(metadata(request, caller), pb.GetSegmentRequest(segment_id=segment_id))
    return _segment(reply.segment)


@router.patch("/{segment_id}", response_model=s.SegmentRead, operation_id="updateSegment", responses=_ERRORS)
async def update_segment(
    segment_id: SegmentId,
    body: s.SegmentUpdate,
    request: Request,
    caller: Caller = Depends(require("segment:write")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """Change a segment; its membership follows at once (with enter/leave events)."""
    fields = body.model_dump(exclude_unset=True)
    if not fields or any(v is None for v in fields.values()):
        raise HTTPException(422, "send at least one field to change, none of them null")
    segment = pb.Segment(
        name=body.name or "", description=body.description or "", customer_ids=body.customer_ids or []
    )
    if body.condition is not None:
        segment.condition.CopyFrom(condition(body.condition))
    req = pb.UpdateSegmentRequest(
        segment_id=segment_id, segment=segment, update_mask=field_mask_pb2.FieldMask(paths=sorted(fields))
    )
    reply = await client.update_segment(metadata(request, caller), req)
    return _segment(reply.segment)


@router.delete("/{segment_id}", status_code=204, operation_id="deleteSegment", responses=_ERRORS)
async def delete_segment(
    segment_id: SegmentId,
    request: Request,
    caller: Caller = Depends(require("segment:write")),
    client: TaggingClient = Depends(tagging),
) -> None:
    """Delete a segment."""
    await client.delete_segment(metadata(request, caller), pb.DeleteSegmentRequest(segment_id=segment_id))


@router.get(
    "/{segment_id}/members",
    response_model=s.SegmentMemberList,
    operation_id="listSegmentMembers",
    responses=_ERRORS,
)
async def list_members(
    segment_id: SegmentId,
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
    caller: Caller = Depends(require("segment:read")),
    client: TaggingClient = Depends(tagging),
) -> Any:
    """The segment's current members within your scope, by customer ID; hidden fields left out."""
    req = pb.ListSegmentMembersRequest(
        segment_id=segment_id, page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or "")
    )
    reply = await client.list_segment_members(metadata(request, caller), req)
    return {
        "items": [_member(m) for m in reply.members],
        "total": reply.total,
        "next_page_token": reply.page.next_page_token or None,
    }


@router.get(
    "/{segment_id}/members/export",
    operation_id="exportSegmentMembers",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV (with BOM for Excel)"},
        **_ERRORS,
    },
)
async def export_members(
    segment_id: SegmentId,
    request: Request,
    purpose: Annotated[
        schemas.ExportPurpose,
        Query(
            description="What the export is for. customer_service (serving existing customers) needs no "
            "consent; for any other purpose, members without that consent are left out."
        ),
    ],
    caller: Caller = Depends(require("segment:export")),
    client: TaggingClient = Depends(tagging),
) -> Response:
    """Every member within your scope as CSV; columns of field groups your role hides are left out,
    and so are people who have not consented to the export's purpose."""
    md = metadata(request, caller)
    columns = [name for name, group in EXPORT_COLUMNS if group not in field_rules.unseen(caller)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    token = ""
    while True:
        req = pb.ListSegmentMembersRequest(
            segment_id=segment_id,
            export=True,
            purpose=purpose,
            page=common_pb2.PageRequest(page_size=5000, page_token=token),
        )
        reply = await client.list_segment_members(md, req)
        for m in reply.members:
            row = to_json(m)
            row["tags"] = "|".join(m.tags)
            writer.writerow([row.get(c, "") for c in columns])
        token = reply.page.next_page_token
        if not token:
            break
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
    )
