"""Administration: custom field definitions."""

from typing import Any

from fastapi import APIRouter, Depends, Request

from crm.profile.v1 import profile_pb2 as pb
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import ProfileClient
from services.gateway.convert import from_body, to_json
from services.gateway.deps import metadata, profile
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1/custom-fields", tags=["admin"])


@router.get("", response_model=schemas.CustomFieldList, operation_id="listCustomFields")
async def list_custom_fields(
    request: Request,
    caller: Caller = Depends(require("customer:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """The typed custom fields customers may carry."""
    reply = await client.list_custom_fields(metadata(request, caller), pb.ListCustomFieldsRequest())
    return {"items": [to_json(f) for f in reply.custom_fields]}


@router.post(
    "",
    status_code=201,
    response_model=schemas.CustomFieldRead,
    operation_id="createCustomField",
    responses={409: {"model": schemas.Problem}, 422: {"model": schemas.Problem}},
)
async def create_custom_field(
    body: schemas.CustomFieldCreate,
    request: Request,
    caller: Caller = Depends(require("admin:custom-fields")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Define a custom field (administrators)."""
    reply = await client.create_custom_field(
        metadata(request, caller),
        pb.CreateCustomFieldRequest(custom_field=from_body(body, pb.CustomField())),
    )
    return to_json(reply.custom_field)
