"""Customers: create, read, list, change with optimistic concurrency, delete and restore."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from google.protobuf import field_mask_pb2

from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2 as pb
from services.common import vocabulary as v
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import ProfileClient
from services.gateway.convert import from_body, to_json
from services.gateway.deps import metadata, profile
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

CustomerId = Annotated[
    str, Path(pattern=r"^C\d{11,16}$", description="Customer ID", examples=["C20240501001"])
]
IfMatch = Annotated[
    str | None,
    Header(description='The version you last read, as returned in ETag: "3"'),
]
_ERRORS = {
    404: {"model": schemas.Problem, "description": "No such customer within your scope"},
    422: {"model": schemas.Problem, "description": "Invalid fields, listed in errors"},
}


def _etag(customer: pb.Customer) -> str:
    return f'"{customer.version}"'


def _expected_version(if_match: str | None) -> int:
    if if_match is None:
        raise HTTPException(428, 'send If-Match with the version you last read, e.g. If-Match: "3"')
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise HTTPException(412, 'If-Match must be a version such as "3"')
    return int(value)


def _read(customer: pb.Customer) -> schemas.CustomerRead:
    return schemas.CustomerRead.model_validate(to_json(customer))


@router.post(
    "",
    status_code=201,
    response_model=schemas.CustomerRead,
    operation_id="createCustomer",
    responses={409: {"model": schemas.Problem}, **_ERRORS},
)
async def create_customer(
    body: schemas.CustomerCreate,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("customer:write")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerRead:
    """Create a customer with at least one contact; the ID is assigned by the platform."""
    reply = await client.create_customer(
        metadata(request, caller), pb.CreateCustomerRequest(customer=from_body(body, pb.Customer()))
    )
    response.headers["Location"] = f"/api/v1/customers/{reply.customer.id}"
    response.headers["ETag"] = _etag(reply.customer)
    return _read(reply.customer)


@router.get(
    "", response_model=schemas.CustomerList, operation_id="listCustomers", responses={422: _ERRORS[422]}
)
async def list_customers(
    request: Request,
    status: Annotated[list[v.Status] | None, Query()] = None,
    stage: Annotated[list[v.Stage] | None, Query()] = None,
    tier: Annotated[list[v.Tier] | None, Query(description="Needs the financial field group")] = None,
    industry_code: Annotated[list[str] | None, Query(description="GB/T 4754 code and below")] = None,
    region_code: Annotated[list[str] | None, Query(description="GB/T 2260 code and below")] = None,
    owner_id: Annotated[list[str] | None, Query()] = None,
    source_channel: Annotated[list[v.SourceChannel] | None, Query()] = None,
    kind: Annotated[list[v.CustomerKind] | None, Query()] = None,
    scale: Annotated[list[v.Scale] | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
    created_from: schemas.DateTime | None = None,
    created_to: schemas.DateTime | None = None,
    updated_from: schemas.DateTime | None = None,
    updated_to: schemas.DateTime | None = None,
    include_deleted: bool = False,
    order_by: Annotated[
        v.CustomerSort,
        Query(description="A field, or - and a field to descend", examples=["-deal_amount_12m"]),
    ] = "-created_at",
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=512)] = None,
    caller: Caller = Depends(require("customer:read")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerList:
    """Customers within your scope, filtered and sorted, one page at a time."""
    filters = pb.CustomerFilter(
        status=status or [],
        stage=stage or [],
        tier=tier or [],
        industry_code=industry_code or [],
        region_code=region_code or [],
        owner_id=owner_id or [],
        source_channel=source_channel or [],
        kind=kind or [],
        scale=scale or [],
        name_contains=q or "",
        include_deleted=include_deleted,
    )
    for name, value in (
        ("created_from", created_from),
        ("created_to", created_to),
        ("updated_from", updated_from),
        ("updated_to", updated_to),
    ):
        if value is not None:
            if value.tzinfo is None:
                raise HTTPException(422, f"{name} needs a timezone, e.g. 2024-05-01T00:00:00+08:00")
            getattr(filters, name).FromDatetime(value)
    reply = await client.list_customers(
        metadata(request, caller),
        pb.ListCustomersRequest(
            filter=filters,
            order_by=order_by,
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or ""),
        ),
    )
    return schemas.CustomerList(
        items=[_read(c) for c in reply.customers],
        next_page_token=reply.page.next_page_token or None,
    )


@router.post(
    "/lookup",
    response_model=schemas.CustomerList,
    operation_id="lookupCustomers",
    responses={403: {"model": schemas.Problem}, 422: _ERRORS[422]},
)
async def lookup_customers(
    body: schemas.CustomerLookup,
    request: Request,
    caller: Caller = Depends(require("customer:read")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerList:
    """Customers within your scope with this exact phone, e-mail or resident ID number.

    Matched through keyed blind indexes, nothing is decrypted to search; the value travels in the
    body so it never lands in URLs, proxies' logs or traces. Needs unmasked contact details.
    """
    filters = pb.CustomerFilter(
        phone=body.phone or "", email=body.email or "", id_number=body.id_number or ""
    )
    reply = await client.list_customers(
        metadata(request, caller),
        pb.ListCustomersRequest(filter=filters, page=common_pb2.PageRequest(page_size=50)),
    )
    return schemas.CustomerList(
        items=[_read(c) for c in reply.customers], next_page_token=reply.page.next_page_token or None
    )


@router.get(
    "/{customer_id}", response_model=schemas.CustomerRead, operation_id="getCustomer", responses=_ERRORS
)
async def get_customer(
    customer_id: CustomerId,
    request: Request,
    response: Response,
    as_of: Annotated[
        schemas.DateTime | None, Query(description="Show the record as it was at this time")
    ] = None,
    caller: Caller = Depends(require("customer:read")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerRead:
    """One customer, or how it was at a past time with ?as_of=."""
    req = pb.GetCustomerRequest(customer_id=customer_id)
    if as_of is not None:
        if as_of.tzinfo is None:
            raise HTTPException(422, "as_of needs a timezone, e.g. 2024-05-01T12:00:00+08:00")
        req.as_of.FromDatetime(as_of)
    reply = await client.get_customer(metadata(request, caller), req)
    response.headers["ETag"] = _etag(reply.customer)
    return _read(reply.customer)


@router.patch(
    "/{customer_id}",
    response_model=schemas.CustomerRead,
    operation_id="updateCustomer",
    responses={
        412: {"model": schemas.Problem, "description": "Someone changed it since you read it"},
        428: {"model": schemas.Problem},
        **_ERRORS,
    },
)
async def update_customer(
    customer_id: CustomerId,
    body: schemas.CustomerUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
    caller: Caller = Depends(require("customer:write")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerRead:
    """Change some fields (merge patch); If-Match must carry the version you last read."""
    version = _expected_version(if_match)
    paths = sorted(body.model_fields_set)
    if not paths:
        raise HTTPException(422, "the patch changes nothing; name at least one field")
    reply = await client.update_customer(
        metadata(request, caller),
        pb.UpdateCustomerRequest(
            customer_id=customer_id,
            expected_version=version,
            customer=from_body(body, pb.Customer(), only_set=True),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        ),
    )
    response.headers["ETag"] = _etag(reply.customer)
    return _read(reply.customer)


@router.delete(
    "/{customer_id}",
    status_code=204,
    operation_id="deleteCustomer",
    responses={412: {"model": schemas.Problem}, 428: {"model": schemas.Problem}, **_ERRORS},
)
async def delete_customer(
    customer_id: CustomerId,
    request: Request,
    if_match: IfMatch = None,
    caller: Caller = Depends(require("customer:delete")),
    client: ProfileClient = Depends(profile),
) -> Response:
    """Soft-delete a customer: hidden everywhere, history kept, restorable."""
    version = _expected_version(if_match)
    await client.delete_customer(
        metadata(request, caller),
        pb.DeleteCustomerRequest(customer_id=customer_id, expected_version=version),
    )
    return Response(status_code=204)


@router.post(
    "/{customer_id}/restore",
    response_model=schemas.CustomerRead,
    operation_id="restoreCustomer",
    responses={409: {"model": schemas.Problem, "description": "The customer is not deleted"}, **_ERRORS},
)
async def restore_customer(
    customer_id: CustomerId,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("customer:delete")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerRead:
    """Bring back a soft-deleted customer."""
    reply = await client.restore_customer(
        metadata(request, caller), pb.RestoreCustomerRequest(customer_id=customer_id)
    )
    response.headers["ETag"] = _etag(reply.customer)
    return _read(reply.customer)


@router.get(
    "/{customer_id}/history",
    response_model=schemas.RevisionList,
    operation_id="listCustomerHistory",
    responses=_ERRORS,
)
async def customer_history(
    customer_id: CustomerId,
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=512)] = None,
    caller: Caller = Depends(require("customer:history")),
    client: ProfileClient = Depends(profile),
) -> schemas.RevisionList:
    """Every recorded change, newest first: when, who, which fields, old and new values."""
    reply = await client.list_customer_history(
        metadata(request, caller),
        pb.ListCustomerHistoryRequest(
            customer_id=customer_id,
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or ""),
        ),
    )
    items = []
    for revision in reply.revisions:
        data = to_json(revision)
        data["changes"] = [
            {"field": c["field"], "old": c.get("old_value"), "new": c.get("new_value")}
            for c in data.get("changes", [])
        ]
        items.append(schemas.RevisionRead.model_validate(data))
    return schemas.RevisionList(items=items, next_page_token=reply.page.next_page_token or None)


@router.get(
    "/{customer_id}/view",
    response_model=schemas.CustomerView,
    operation_id="getCustomerView",
    responses=_ERRORS,
)
async def customer_view(
    customer_id: CustomerId,
    request: Request,
    caller: Caller = Depends(require("customer:read")),
    client: ProfileClient = Depends(profile),
) -> schemas.CustomerView:
    """The 360° view: the record, recent interactions, orders, contracts and service records."""
    reply = await client.get_customer_view(
        metadata(request, caller), pb.GetCustomerViewRequest(customer_id=customer_id)
    )
    return schemas.CustomerView.model_validate(to_json(reply.view))
