"""Request-scoped dependencies: settings, downstream clients, the caller and call metadata."""

from fastapi import HTTPException, Request

from services.common import authn
from services.common.errors import Unauthenticated
from services.common.identity import CLIENT_ADDRESS, SCOPES, Caller
from services.gateway import policy
from services.gateway.clients import AuthClient, Metadata, ProfileClient, SearchClient, TaggingClient
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


def tagging(request: Request) -> TaggingClient:
    """The tagging service client."""
    return request.app.state.tagging  # type: ignore[no-any-return]


def auth(request: Request) -> AuthClient:
    """The auth service client."""
    return request.app.state.auth  # type: ignore[no-any-return]


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_caller(request: Request) -> Caller:
    """The caller of this request: the holder of a verified access token.

    Where the embedded mode enables it (CRM_DEV_IDENTITY), a request without a token runs as a
    development identity, which tests narrow with X-Dev-Caller, X-Dev-Roles and X-Dev-Scope.
    """
    config: GatewaySettings = request.app.state.settings
    try:
        token = authn.bearer(request.headers.get("authorization"))
    except Unauthenticated as exc:
        raise _unauthenticated(exc.message) from None
    if token is not None:
        verifier = request.app.state.verifier
        if verifier is None:
            raise _unauthenticated("this gateway has no auth service to verify tokens with")
        try:
            caller: Caller = verifier.verify(token)
        except Unauthenticated as exc:
            raise _unauthenticated(exc.message) from None
        request.state.token = token
        if caller.kind == "client":
            _spend_budget(request, verifier.claims(token), caller)
    elif config.dev_identity:
        caller = _development_caller(request, config)
    else:
        raise _unauthenticated("log in and send the access token: Authorization: Bearer <token>")
    request.state.caller = caller
    return caller


def _development_caller(request: Request, config: GatewaySettings) -> Caller:
    caller_id = request.headers.get("x-dev-caller", config.dev_caller_id)
    roles = tuple(r for r in request.headers.get("x-dev-roles", "admin").split(",") if r)
    scope = request.headers.get("x-dev-scope", "all")
    if scope not in SCOPES or not caller_id or len(caller_id) > 64:
        raise _unauthenticated("malformed development identity")
    return Caller(
        id=caller_id,
        kind="user",
        roles=roles,
        scope=scope,
        hidden_fields=policy.hidden_fields(roles),
        permissions=policy.permissions(roles),
    )


def _spend_budget(request: Request, claims: dict[str, object], caller: Caller) -> None:
    limit = int(str(claims.get("rate_limit") or 0)) or 600
    decision = request.app.state.rate_limiter.hit(caller.id, limit)
    if not decision.allowed:
        raise HTTPException(
            429,
            f"this client may make {limit} requests a minute",
            headers={
                "Retry-After": str(decision.reset_seconds),
                "RateLimit-Limit": str(limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(decision.reset_seconds),
            },
        )


def metadata(request: Request, caller: Caller) -> Metadata:
    """gRPC metadata for a downstream call made on behalf of this request.

    A token travels on, so each service verifies the caller itself; the development identity
    travels as its unsigned metadata, which only services in the same development mode accept.
    """
    token = getattr(request.state, "token", None)
    who = [("authorization", f"Bearer {token}")] if token else caller.to_metadata()
    address = request.client.host if request.client else ""
    return [*who, ("x-request-id", request.state.request_id), (CLIENT_ADDRESS, address)]
