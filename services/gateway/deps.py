"""Request-scoped dependencies: settings, downstream clients, the caller and call metadata."""

from fastapi import HTTPException, Request

from services.common.identity import SCOPES, Caller
from services.gateway.clients import Metadata, ProfileClient, SearchClient
from services.gateway.policy import hidden_fields
from services.gateway.settings import GatewaySettings


def settings(request: Request) -> GatewaySettings:
    """The gateway's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def profile(request: Request) -> ProfileClient:
    """The profile service client."""
    return request.app.state.profile  # type: ignore[no-any-return]


def search(request: Request) -> SearchClient:
    """The search service client."""
    return request.app.state.search  # type: ignore[no-any-return]


async def current_caller(request: Request) -> Caller:
    """The caller of this request.

    Until the auth service issues tokens, the embedded mode runs as a development identity,
    which tests may narrow with X-Dev-Caller, X-Dev-Roles and X-Dev-Scope headers.
    """
    config: GatewaySettings = request.app.state.settings
    if config.mode != "embedded":
        raise HTTPException(401, "authentication is not configured on this gateway")
    caller_id = request.headers.get("x-dev-caller", config.dev_caller_id)
    roles = tuple(r for r in request.headers.get("x-dev-roles", "admin").split(",") if r)
    scope = request.headers.get("x-dev-scope", "all")
    if scope not in SCOPES or not caller_id or len(caller_id) > 64:
        raise HTTPException(401, "malformed development identity")
    caller = Caller(id=caller_id, kind="user", roles=roles, scope=scope, hidden_fields=hidden_fields(roles))
    request.state.caller = caller
    return caller


def metadata(request: Request, caller: Caller) -> Metadata:
    """gRPC metadata for a downstream call made on behalf of this request."""
    return [*caller.to_metadata(), ("x-request-id", request.state.request_id)]
