"""A person's rights over their data (PIPL / GDPR): consents, access and portability, erasure.

Correction is the ordinary PATCH /customers/{id}, which keeps history.
"""

from datetime import UTC, datetime
from typing import Any

import grpc
from fastapi import APIRouter, Depends, Path, Request
from google.protobuf import json_format

from crm.auth.v1 import auth_pb2
from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2 as pb
from crm.tagging.v1 import tagging_pb2 as tg
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import AuthClient, ProfileClient, TaggingClient
from services.gateway.convert import from_body, to_json
from services.gateway.deps import auth, metadata, profile, tagging
from services.gateway.permissions import require
from services.gateway.routes.customers import CustomerId

router = APIRouter(prefix="/api/v1/customers", tags=["privacy"])
ConsentId = Path(pattern=r"^[0-9a-f-]{36}$", description="Consent ID")
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Problem, "description": "You lack the permission"},
    404: {"model": schemas.Problem, "description": "No such customer within your scope"},
    422: {"model": schemas.Problem, "description": "Invalid fields, listed in errors"},
}
# The access log and tag history in an export: at most this many pages of each.
_MAX_PAGES = 20


def _consent(message: pb.Consent) -> schemas.ConsentRead:
    return schemas.ConsentRead.model_validate(to_json(message))


@router.get(
    "/{customer_id}/consents",
    response_model=schemas.ConsentList,
    operation_id="listConsents",
    responses=_ERRORS,
)
async def list_consents(
    customer_id: CustomerId,
    request: Request,
    caller: Caller = Depends(require("consent:read")),
    client: ProfileClient = Depends(profile),
) -> schemas.ConsentList:
    """Every consent the customer gave, withdrawn ones included, oldest first."""
    reply = await client.list_consents(
        metadata(request, caller), pb.ListConsentsRequest(customer_id=customer_id)
    )
    return schemas.ConsentList(items=[_consent(c) for c in reply.consents])


@router.post(
    "/{customer_id}/consents",
    status_code=201,
    response_model=schemas.ConsentRead,
    operation_id="giveConsent",
    responses=_ERRORS,
)
async def give_consent(
    customer_id: CustomerId,
    body: schemas.ConsentCreate,
    request: Request,
    caller: Caller = Depends(require("consent:write")),
    client: ProfileClient = Depends(profile),
) -> schemas.ConsentRead:
    """Record a consent with its evidence before the data is used for that purpose."""
    reply = await client.give_consent(
        metadata(request, caller),
        pb.GiveConsentRequest(customer_id=customer_id, consent=from_body(body, pb.Consent())),
    )
    return _consent(reply.consent)


@router.post(
    "/{customer_id}/consents/{consent_id}/withdraw",
    response_model=schemas.ConsentRead,
    operation_id="withdrawConsent",
    responses=_ERRORS,
)
async def withdraw_consent(
    customer_id: CustomerId,
    request: Request,
    consent_id: str = ConsentId,
    caller: Caller = Depends(require("consent:write")),
    client: ProfileClient = Depends(profile),
) -> schemas.ConsentRead:
    """Withdraw a consent: kept as a record, and processing for its purpose stops."""
    reply = await client.withdraw_consent(
        metadata(request, caller), pb.WithdrawConsentRequest(customer_id=customer_id, consent_id=consent_id)
    )
    return _consent(reply.consent)


@router.post(
    "/{customer_id}/privacy/export",
    response_model=schemas.PrivacyExport,
    operation_id="exportPersonalData",
    responses=_ERRORS,
)
async def export_personal_data(
    customer_id: CustomerId,
    request: Request,
    caller: Caller = Depends(require("privacy:export")),
    client: ProfileClient = Depends(profile),
    auth_client: AuthClient = Depends(auth),
    tagging_client: TaggingClient = Depends(tagging),
) -> schemas.PrivacyExport:
    """A complete, machine-readable copy of everything held about the person (access, portability)."""
    md = metadata(request, caller)
    reply = await client.export_personal_data(md, pb.ExportPersonalDataRequest(customer_id=customer_id))
    archive = json_format.MessageToDict(reply.data, preserving_proto_field_name=True)
    access_log = await _access_log(auth_client, md, customer_id) if caller.can("audit:read") else None
    tags = await _tags(tagging_client, md, customer_id) if caller.can("tag:read") else None
    return schemas.PrivacyExport(
        format=archive.get("format", "crm.privacy-export/v1"),
        exported_at=datetime.now(UTC),
        customer_id=customer_id,
        archive=archive,
        tags=tags,
        access_log=access_log,
    )


async def _tags(client: TaggingClient, md: Any, customer_id: str) -> dict[str, Any]:
    current = await client.list_customer_tags(md, tg.ListCustomerTagsRequest(customer_ids=[customer_id]))
    history: list[dict[str, Any]] = []
    token = ""
    for _ in range(_MAX_PAGES):
        try:
            reply = await client.list_tag_history(
                md,
                tg.ListTagHistoryRequest(
                    customer_id=customer_id, page=common_pb2.PageRequest(page_size=200, page_token=token)
                ),
            )
        except grpc.RpcError as exc:
            # The profile service has just shown the customer exists and is within reach; a
            # tagging service that has not read them from the feed yet holds no tags for them.
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return {"current": [], "history": []}
        history += [to_json(e) for e in reply.entries]
        token = reply.page.next_page_token
        if not token:
            break
    tagged = [to_json(c) for c in current.customers]
    return {"current": tagged[0].get("tags", []) if tagged else [], "history": history}


async def _access_log(client: AuthClient, md: Any, customer_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = ""
    for _ in range(_MAX_PAGES):
        reply = await client.list_audit_events(
            md,
            # Every event about the person: those targeting them, and the lists, searches and
            # exports that returned them among others (whose other customers stay out of here).
            auth_pb2.ListAuditEventsRequest(
                customer_id=customer_id,
                omit_customer_ids=True,
                page=common_pb2.PageRequest(page_size=500, page_token=token),
            ),
        )
        events += [
            {
                k: v
                for k, v in to_json(e).items()
                if k in ("at", "actor", "actor_kind", "action", "outcome", "service")
            }
            for e in reply.events
        ]
        token = reply.page.next_page_token
        if not token:
            break
    return events


@router.post(
    "/{customer_id}/privacy/erase",
    response_model=schemas.ErasureRead,
    operation_id="erasePersonalData",
    responses=_ERRORS,
)
async def erase_personal_data(
    customer_id: CustomerId,
    request: Request,
    body: schemas.ErasureCreate | None = None,
    caller: Caller = Depends(require("privacy:erase")),
    client: ProfileClient = Depends(profile),
) -> schemas.ErasureRead:
    """Erase the person from every service and crypto-shred them: their data key is destroyed,
    so any copy left in backups or logs becomes unreadable. Repeating it finishes a broken run."""
    reply = await client.erase_personal_data(
        metadata(request, caller),
        pb.ErasePersonalDataRequest(customer_id=customer_id, reason=body.reason if body else ""),
    )
    return schemas.ErasureRead(
        customer_id=reply.customer_id,
        removed=dict(reply.removed),
        key_destroyed=reply.key_destroyed,
        services={
            "profile": "erased",
            "search": "removed from the index by its change-feed follower",
            "tagging": "tags, tag history and segment memberships removed by its change-feed follower",
        },
    )
