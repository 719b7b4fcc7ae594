"""Administration of identities: users, roles, org units and partner API clients.

The auth service decides (administrators only); the gateway checks the permission first.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from crm.auth.v1 import auth_pb2 as pb
from crm.common.v1 import common_pb2
from services.common.identity import Caller
from services.gateway import schemas
from services.gateway.clients import AuthClient
from services.gateway.convert import from_body, to_json
from services.gateway.deps import auth, metadata
from services.gateway.permissions import require

router = APIRouter(prefix="/api/v1", tags=["admin"])
_ERRORS = {
    403: {"model": schemas.Problem},
    404: {"model": schemas.Problem},
    409: {"model": schemas.Problem},
    422: {"model": schemas.Problem},
}
EmployeeId = Annotated[str, Path(min_length=1, max_length=64)]


def _mask(body: Any) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=sorted(body.model_fields_set))


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


def _json(message: Message) -> dict[str, Any]:
    return {k: v for k, v in to_json(message).items() if v not in ("", None)}


@router.get("/users", response_model=schemas.UserList, operation_id="listUsers", responses=_ERRORS)
async def list_users(
    request: Request,
    org_unit_id: Annotated[str | None, Query(max_length=64)] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=512)] = None,
    caller: Caller = Depends(require("admin:users")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Employees with their roles and state."""
    reply = await client.list_users(
        metadata(request, caller),
        pb.ListUsersRequest(
            org_unit_id=org_unit_id or "",
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token or ""),
        ),
    )
    return {"items": [_json(u) for u in reply.users], "next_page_token": reply.page.next_page_token or None}


@router.post(
    "/users",
    status_code=201,
    response_model=schemas.UserCreated,
    operation_id="createUser",
    responses=_ERRORS,
)
async def create_user(
    body: schemas.UserCreate,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("admin:users")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Add an employee; the one-time password is shown once and must be changed at first login."""
    _no_store(response)
    reply = await client.create_user(
        metadata(request, caller), pb.CreateUserRequest(user=from_body(body, pb.User()))
    )
    return {"user": _json(reply.user), "initial_password": reply.initial_password}


@router.patch(
    "/users/{employee_id}", response_model=schemas.UserRead, operation_id="updateUser", responses=_ERRORS
)
async def update_user(
    employee_id: EmployeeId,
    body: schemas.UserUpdate,
    request: Request,
    caller: Caller = Depends(require("admin:users")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Change an employee's name, org unit, roles or status (disabled ends their access)."""
    reply = await client.update_user(
        metadata(request, caller),
        pb.UpdateUserRequest(
            employee_id=employee_id, user=from_body(body, pb.User(), only_set=True), update_mask=_mask(body)
        ),
    )
    return _json(reply.user)


@router.post(
    "/users/{employee_id}/password-reset",
    response_model=schemas.OneTimePassword,
    operation_id="resetPassword",
    responses=_ERRORS,
)
async def reset_password(
    employee_id: EmployeeId,
    body: schemas.PasswordReset,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("admin:users")),
    client: AuthClient = Depends(auth),
) -> Any:
    """A one-time password (and optionally a new TOTP enrolment) for a locked-out employee."""
    _no_store(response)
    reply = await client.reset_password(
        metadata(request, caller),
        pb.ResetPasswordRequest(employee_id=employee_id, reset_totp=body.reset_totp),
    )
    return {"one_time_password": reply.one_time_password}


@router.get("/roles", response_model=schemas.RoleList, operation_id="listRoles", responses=_ERRORS)
async def list_roles(
    request: Request,
    caller: Caller = Depends(require("admin:roles")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Roles with their permissions, record scope and field rules."""
    reply = await client.list_roles(metadata(request, caller), pb.ListRolesRequest())
    return {"items": [to_json(r) for r in reply.roles]}


@router.post(
    "/roles", status_code=201, response_model=schemas.RoleRead, operation_id="createRole", responses=_ERRORS
)
async def create_role(
    body: schemas.RoleBody,
    request: Request,
    caller: Caller = Depends(require("admin:roles")),
    client: AuthClient = Depends(auth),
) -> Any:
    """A custom role."""
    reply = await client.create_role(
        metadata(request, caller), pb.CreateRoleRequest(role=from_body(body, pb.Role()))
    )
    return to_json(reply.role)


@router.patch("/roles/{name}", response_model=schemas.RoleRead, operation_id="updateRole", responses=_ERRORS)
async def update_role(
    name: Annotated[str, Path(max_length=40)],
    body: schemas.RoleUpdate,
    request: Request,
    caller: Caller = Depends(require("admin:roles")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Change a role's permissions, scope or field rules (takes effect with new tokens)."""
    reply = await client.update_role(
        metadata(request, caller),
        pb.UpdateRoleRequest(
            name=name, role=from_body(body, pb.Role(), only_set=True), update_mask=_mask(body)
        ),
    )
    return to_json(reply.role)


@router.get("/org-units", response_model=schemas.OrgUnitList, operation_id="listOrgUnits", responses=_ERRORS)
async def list_org_units(
    request: Request,
    caller: Caller = Depends(require("admin:org-units")),
    client: AuthClient = Depends(auth),
) -> Any:
    """The organisation tree, as a flat list with parents."""
    reply = await client.list_org_units(metadata(request, caller), pb.ListOrgUnitsRequest())
    return {"items": [_json(u) for u in reply.org_units]}


@router.post(
    "/org-units",
    status_code=201,
    response_model=schemas.OrgUnitRead,
    operation_id="createOrgUnit",
    responses=_ERRORS,
)
async def create_org_unit(
    body: schemas.OrgUnitBody,
    request: Request,
    caller: Caller = Depends(require("admin:org-units")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Add a company, region or team."""
    reply = await client.create_org_unit(
        metadata(request, caller), pb.CreateOrgUnitRequest(org_unit=from_body(body, pb.OrgUnit()))
    )
    return _json(reply.org_unit)


@router.get(
    "/api-clients", response_model=schemas.ApiClientList, operation_id="listApiClients", responses=_ERRORS
)
async def list_api_clients(
    request: Request,
    caller: Caller = Depends(require("admin:api-clients")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Partner systems allowed to call the API."""
    reply = await client.list_api_clients(metadata(request, caller), pb.ListApiClientsRequest())
    return {"items": [to_json(c) for c in reply.clients]}


@router.post(
    "/users/{employee_id}/unlock",
    response_model=schemas.UserRead,
    operation_id="unlockUser",
    responses=_ERRORS,
)
async def unlock_user(
    employee_id: EmployeeId,
    request: Request,
    caller: Caller = Depends(require("admin:users")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Lift the login delays that failed attempts put on an employee, from every address."""
    reply = await client.unlock_user(metadata(request, caller), pb.UnlockUserRequest(employee_id=employee_id))
    return _json(reply.user)


@router.post(
    "/api-clients",
    status_code=201,
    response_model=schemas.ApiClientSecret,
    operation_id="createApiClient",
    responses=_ERRORS,
)
async def create_api_client(
    body: schemas.ApiClientCreate,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("admin:api-clients")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Register a partner system; its secret is shown this once."""
    _no_store(response)
    reply = await client.create_api_client(
        metadata(request, caller), pb.CreateApiClientRequest(client=from_body(body, pb.ApiClient()))
    )
    return {"client": to_json(reply.client), "client_secret": reply.client_secret}


@router.post(
    "/api-clients/{client_id}/rotate-secret",
    response_model=schemas.ApiClientSecret,
    operation_id="rotateApiClientSecret",
    responses=_ERRORS,
)
async def rotate_secret(
    client_id: Annotated[str, Path(max_length=64)],
    body: schemas.SecretRotation,
    request: Request,
    response: Response,
    caller: Caller = Depends(require("admin:api-clients")),
    client: AuthClient = Depends(auth),
) -> Any:
    """A new secret; the old one keeps working for grace_seconds."""
    _no_store(response)
    reply = await client.rotate_api_client_secret(
        metadata(request, caller),
        pb.RotateApiClientSecretRequest(client_id=client_id, grace_seconds=body.grace_seconds),
    )
    return {"client": to_json(reply.client), "client_secret": reply.client_secret}


@router.post(
    "/api-clients/{client_id}/disable",
    response_model=schemas.ApiClientRead,
    operation_id="disableApiClient",
    responses=_ERRORS,
)
async def disable_api_client(
    client_id: Annotated[str, Path(max_length=64)],
    request: Request,
    caller: Caller = Depends(require("admin:api-clients")),
    client: AuthClient = Depends(auth),
) -> Any:
    """Stop a partner system: its tokens are refused from the next one it asks for."""
    reply = await client.disable_api_client(
        metadata(request, caller), pb.DisableApiClientRequest(client_id=client_id)
    )
    return to_json(reply.client)
