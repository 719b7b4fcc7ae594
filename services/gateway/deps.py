"""Request-scoped dependencies: settings, downstream clients, the caller and call metadata."""

import asyncio
import logging

from fastapi import HTTPException, Request

from services.common import authn
from services.common.errors import DomainError, Unauthenticated
from services.common.identity import CLIENT_ADDRESS, SCOPES, Caller
from services.gateway import policy, ratelimit
from services.gateway.clients import AuthClient, Metadata, ProfileClient, SearchClient, TaggingClient
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


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
    Worked out once per request (the idempotency middleware asks before the route does), so a
    budget is spent and a refused token audited once.
    """
    state = request.state
    if hasattr(state, "caller"):
        return state.caller  # type: ignore[no-any-return]
    if hasattr(state, "caller_refused"):
        raise state.caller_refused
    try:
        return await _identify(request)
    except HTTPException as exc:
        state.caller_refused = exc
        raise


async def _identify(request: Request) -> Caller:
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
            await _audit_refused_token(request, exc.message)
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


# Refused tokens audited per client address and minute; past that they are only counted, so a
# flood of forged tokens cannot flood the audit log.
REFUSED_TOKENS_AUDITED_PER_MINUTE = 60


async def _audit_refused_token(request: Request, reason: str) -> None:
    """Record a refused access token (forged, expired, revoked, another audience); best effort."""
    address = client_address(request)
    if not request.app.state.rate_limiter.hit(
        f"refused-token:{address}", REFUSED_TOKENS_AUDITED_PER_MINUTE
    ).allowed:
        return
    route = getattr(request.scope.get("route"), "path", request.url.path)
    try:
        await asyncio.to_thread(
            request.app.state.audit.record,
            caller=Caller(id="-", kind="anonymous"),
            action="auth.token_refused",
            target=f"{request.method} {route}"[:200],
            outcome="denied",
            details={"reason": reason[:200]},
            source=address,
        )
    except DomainError:
        log.warning("could not audit a refused token on %s %s", request.method, route)


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
    # Announced on whatever the response turns out to be (middleware.py).
    request.state.rate_limit_fields = ratelimit.fields(ratelimit.CLIENT_POLICY, decision)
    if not decision.allowed:
        raise HTTPException(
            429,
            f"this client may make {limit} requests a minute",
            headers={"Retry-After": str(decision.reset_seconds)},
        )


def client_address(request: Request) -> str:
    """The client's address: the socket peer, or what trusted proxies forwarded (middleware.py)."""
    found = getattr(request.state, "client_ip", None)
    if found is not None:
        return str(found)
    return request.client.host if request.client else ""


def metadata(request: Request, caller: Caller) -> Metadata:
    """gRPC metadata for a downstream call made on behalf of this request.

    A token travels on, so each service verifies the caller itself; the development identity
    travels as its unsigned metadata, which only services in the same development mode accept.
    """
    token = getattr(request.state, "token", None)
    who = [("authorization", f"Bearer {token}")] if token else caller.to_metadata()
    return [*who, ("x-request-id", request.state.request_id), (CLIENT_ADDRESS, client_address(request))]
