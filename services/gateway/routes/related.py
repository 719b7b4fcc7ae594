"""Records related to a customer: contacts, interactions, orders, contracts, service records."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from google.protobuf.message import Message
from pydantic import BaseModel

from crm.common.v1 import common_pb2
from crm.profile.v1 import profile_pb2 as pb
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import ProfileClient
from services.gateway.convert import from_body, to_json
from services.gateway.deps import metadata, profile
from services.gateway.permissions import require
from services.gateway.routes.customers import _ERRORS, CustomerId

router = APIRouter(prefix="/api/v1/customers/{customer_id}", tags=["related records"])

PageSize = Annotated[int, Query(ge=1, le=200)]
PageToken = Annotated[str | None, Query(max_length=512)]


def _page(page_size: int, page_token: str | None) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=page_size, page_token=page_token or "")


def _listing(reply: Any, field: str, read: type[BaseModel]) -> dict[str, Any]:
    return {
        "items": [read.model_validate(to_json(m)) for m in getattr(reply, field)],
        "next_page_token": reply.page.next_page_token or None,
    }


async def _create(
    call: Callable[..., Awaitable[Any]],
    request: Request,
    caller: Caller,
    req: Message,
    field: str,
    read: type[BaseModel],
) -> Any:
    reply = await call(metadata(request, caller), req)
    return read.model_validate(to_json(getattr(reply, field)))


@router.post(
    "/contacts",
    status_code=201,
    response_model=schemas.ContactRead,
    operation_id="createContact",
    responses=_ERRORS,
)
async def create_contact(
    customer_id: CustomerId,
    body: schemas.ContactCreate,
    request: Request,
    caller: Caller = Depends(require("customer:write")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Add a contact person; a primary one replaces the previous primary."""
    req = pb.CreateContactRequest(customer_id=customer_id, contact=from_body(body, pb.Contact()))
    return await _create(client.create_contact, request, caller, req, "contact", schemas.ContactRead)


@router.get("/contacts", response_model=schemas.ContactList, operation_id="listContacts", responses=_ERRORS)
async def list_contacts(
    customer_id: CustomerId,
    request: Request,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    caller: Caller = Depends(require("related:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """The customer's contacts."""
    reply = await client.list_contacts(
        metadata(request, caller),
        pb.ListRelatedRequest(customer_id=customer_id, page=_page(page_size, page_token)),
    )
    return _listing(reply, "contacts", schemas.ContactRead)


@router.post(
    "/interactions",
    status_code=201,
    response_model=schemas.InteractionRead,
    operation_id="createInteraction",
    responses=_ERRORS,
)
async def create_interaction(
    customer_id: CustomerId,
    body: schemas.InteractionCreate,
    request: Request,
    caller: Caller = Depends(require("related:write")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Log a call, visit, message or meeting; it moves the last follow-up time forward."""
    req = pb.CreateInteractionRequest(customer_id=customer_id, interaction=from_body(body, pb.Interaction()))
    return await _create(
        client.create_interaction, request, caller, req, "interaction", schemas.InteractionRead
    )


@router.get(
    "/interactions",
    response_model=schemas.InteractionList,
    operation_id="listInteractions",
    responses=_ERRORS,
)
async def list_interactions(
    customer_id: CustomerId,
    request: Request,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    caller: Caller = Depends(require("related:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Interactions, newest first."""
    reply = await client.list_interactions(
        metadata(request, caller),
        pb.ListRelatedRequest(customer_id=customer_id, page=_page(page_size, page_token)),
    )
    return _listing(reply, "interactions", schemas.InteractionRead)


@router.post(
    "/orders",
    status_code=201,
    response_model=schemas.OrderRead,
    operation_id="createOrder",
    responses={409: {"model": schemas.Problem}, **_ERRORS},
)
async def create_order(
    customer_id: CustomerId,
    body: schemas.OrderCreate,
    request: Request,
    caller: Caller = Depends(require("related:write")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Record a purchase; the customer's tier follows its last 12 months of orders."""
    req = pb.CreateOrderRequest(customer_id=customer_id, order=from_body(body, pb.Order()))
    return await _create(client.create_order, request, caller, req, "order", schemas.OrderRead)


@router.get("/orders", response_model=schemas.OrderList, operation_id="listOrders", responses=_ERRORS)
async def list_orders(
    customer_id: CustomerId,
    request: Request,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    caller: Caller = Depends(require("related:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Purchase history, newest first."""
    reply = await client.list_orders(
        metadata(request, caller),
        pb.ListRelatedRequest(customer_id=customer_id, page=_page(page_size, page_token)),
    )
    return _listing(reply, "orders", schemas.OrderRead)


@router.post(
    "/contracts",
    status_code=201,
    response_model=schemas.ContractRead,
    operation_id="createContract",
    responses={409: {"model": schemas.Problem}, **_ERRORS},
)
async def create_contract(
    customer_id: CustomerId,
    body: schemas.ContractCreate,
    request: Request,
    caller: Caller = Depends(require("related:write")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Attach a contract; contract numbers are unique."""
    req = pb.CreateContractRequest(customer_id=customer_id, contract=from_body(body, pb.Contract()))
    return await _create(client.create_contract, request, caller, req, "contract", schemas.ContractRead)


@router.get(
    "/contracts", response_model=schemas.ContractList, operation_id="listContracts", responses=_ERRORS
)
async def list_contracts(
    customer_id: CustomerId,
    request: Request,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    caller: Caller = Depends(require("related:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Contracts, newest first."""
    reply = await client.list_contracts(
        metadata(request, caller),
        pb.ListRelatedRequest(customer_id=customer_id, page=_page(page_size, page_token)),
    )
    return _listing(reply, "contracts", schemas.ContractRead)


@router.post(
    "/service-records",
    status_code=201,
    response_model=schemas.ServiceRecordRead,
    operation_id="createServiceRecord",
    responses=_ERRORS,
)
async def create_service_record(
    customer_id: CustomerId,
    body: schemas.ServiceRecordCreate,
    request: Request,
    caller: Caller = Depends(require("related:write")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Open a complaint, inquiry or feedback record."""
    req = pb.CreateServiceRecordRequest(
        customer_id=customer_id, service_record=from_body(body, pb.ServiceRecord())
    )
    return await _create(
        client.create_service_record, request, caller, req, "service_record", schemas.ServiceRecordRead
    )


@router.get(
    "/service-records",
    response_model=schemas.ServiceRecordList,
    operation_id="listServiceRecords",
    responses=_ERRORS,
)
async def list_service_records(
    customer_id: CustomerId,
    request: Request,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    caller: Caller = Depends(require("related:read")),
    client: ProfileClient = Depends(profile),
) -> Any:
    """Service records, newest first."""
    reply = await client.list_service_records(
        metadata(request, caller),
        pb.ListRelatedRequest(customer_id=customer_id, page=_page(page_size, page_token)),
    )
    return _listing(reply, "service_records", schemas.ServiceRecordRead)
