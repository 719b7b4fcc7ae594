"""Logging in: passwords, the second factor, token refresh and logout; partner tokens (OAuth2).

Each client address has a budget of requests a minute to these endpoints (429 past it, before
anything reaches the auth service), and every refusal here is audited, malformed input included.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm.auth.v1 import auth_pb2 as pb
from services.common.errors import DomainError
from services.common.identity import CLIENT_ADDRESS, Caller
from services.gateway import schemas
from services.gateway.clients import AuthClient
from services.gateway.convert import to_json
from services.gateway.deps import auth, client_address

log = logging.getLogger(__name__)
T = TypeVar("T")
# The audit action of each endpoint, for refusals recorded here.
_ACTIONS = {
    "/api/v1/auth/login": "auth.login",
    "/api/v1/auth/password": "auth.password_change",
    "/api/v1/auth/mfa/enroll": "auth.totp_enroll",
    "/api/v1/auth/mfa/verify": "auth.totp_verify",
    "/api/v1/auth/refresh": "auth.refresh",
    "/api/v1/auth/logout": "auth.logout",
    "/api/v1/oauth/token": "auth.client_token",
}
_ANONYMOUS = Caller(id="-", kind="anonymous")


async def _audit_refusal(request: Request, reason: str, fields: list[str] | None = None) -> None:
    """Record a refusal made here (best effort: the refusal stands anyway)."""
    details: dict[str, Any] = {"reason": reason[:200]}
    if fields:
        details["fields"] = fields[:20]
    try:
        await asyncio.to_thread(
            request.app.state.audit.record,
            caller=_ANONYMOUS,
            action=_ACTIONS.get(request.url.path, "auth.request"),
            target=request.url.path[:200],
            outcome="failed" if fields is not None else "denied",
            details=details,
            source=client_address(request),
        )
    except DomainError:
        log.warning("could not audit a refused %s", request.url.path)


class _AuditedRoute(APIRoute):
    """Audits requests refused for malformed input (400, 413, 422) before they reach the service."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                fields = sorted(
                    {".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors()}
                )
                await _audit_refusal(request, "malformed request", fields)
                raise
            except StarletteHTTPException as exc:
                if exc.status_code in (400, 413):  # a body that is no JSON, not UTF-8, or too large
                    await _audit_refusal(request, str(exc.detail), ["body"])
                raise

        return audited


async def _budget(request: Request) -> None:
    """429 once the client address has spent its minute's budget of login and token requests."""
    limit = request.app.state.settings.auth_requests_per_minute
    decision = request.app.state.rate_limiter.hit(f"auth-ip:{client_address(request)}", limit)
    if not decision.allowed:
        await _audit_refusal(request, f"more than {limit} requests a minute from this address")
        raise HTTPException(
            429,
            f"at most {limit} login and token requests a minute from one address",
            headers={"Retry-After": str(decision.reset_seconds)},
        )


router = APIRouter(tags=["auth"], route_class=_AuditedRoute, dependencies=[Depends(_budget)])
_PROBLEMS = {
    400: {"model": schemas.Problem},
    401: {"model": schemas.Problem},
    422: {"model": schemas.Problem},
    429: {"model": schemas.Problem, "description": "Too many attempts: wait Retry-After seconds"},
    503: {"model": schemas.Problem},
}


async def _md(request: Request) -> list[tuple[str, str]]:
    """Metadata of the public login RPCs: the request id, the client's address, and the gateway's
    own credentials, which make the auth service believe that address."""
    try:
        own = await asyncio.to_thread(request.app.state.credentials.metadata)
    except DomainError:
        log.warning("no credentials of its own: the auth service goes by the gateway's address")
        own = []
    return [*own, ("x-request-id", request.state.request_id), (CLIENT_ADDRESS, client_address(request))]


async def _call(reply: Awaitable[T]) -> T:
    """The reply; the auth service's "try again later" as 429 with its Retry-After."""
    try:
        return await reply
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        trailing = dict(exc.trailing_metadata() or ())
        wait = str(trailing.get("retry-after") or "1")
        raise HTTPException(
            429, exc.details(), headers={"Retry-After": wait if wait.isdigit() else "1"}
        ) from None


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.post(
    "/api/v1/auth/login", response_model=schemas.LoginResult, operation_id="login", responses=_PROBLEMS
)
async def login(
    body: schemas.LoginRequest, request: Request, response: Response, client: AuthClient = Depends(auth)
) -> Any:
    """Log in with employee ID and password (and the TOTP code once enrolled)."""
    _no_store(response)
    reply = await _call(
        client.login(
            await _md(request),
            pb.LoginRequest(
                employee_id=body.employee_id, password=body.password, totp_code=body.totp_code or ""
            ),
        )
    )
    return to_json(reply)


@router.post(
    "/api/v1/auth/password",
    response_model=schemas.PasswordChangeResult,
    operation_id="changePassword",
    responses=_PROBLEMS,
)
async def change_password(
    body: schemas.PasswordChange, request: Request, response: Response, client: AuthClient = Depends(auth)
) -> Any:
    """Change the password (required at first login); TOTP enrolment may come next."""
    _no_store(response)
    reply = await _call(
        client.change_password(
            await _md(request),
            pb.ChangePasswordRequest(
                setup_token=body.setup_token or "",
                employee_id=body.employee_id or "",
                current_password=body.current_password,
                new_password=body.new_password,
                totp_code=body.totp_code or "",
            ),
        )
    )
    return to_json(reply)


@router.post(
    "/api/v1/auth/mfa/enroll",
    response_model=schemas.TotpEnrollment,
    operation_id="enrollTotp",
    responses=_PROBLEMS,
)
async def enroll_totp(
    body: schemas.SetupToken, request: Request, response: Response, client: AuthClient = Depends(auth)
) -> Any:
    """Get a (new) TOTP secret to add to an authenticator app."""
    _no_store(response)
    reply = await _call(
        client.enroll_totp(await _md(request), pb.EnrollTotpRequest(setup_token=body.setup_token))
    )
    return to_json(reply)


@router.post(
    "/api/v1/auth/mfa/verify",
    response_model=schemas.TotpVerified,
    operation_id="verifyTotp",
    responses=_PROBLEMS,
)
async def verify_totp(
    body: schemas.TotpVerification, request: Request, response: Response, client: AuthClient = Depends(auth)
) -> Any:
    """Confirm enrolment with a first code: returns recovery codes (shown once) and tokens."""
    _no_store(response)
    reply = await _call(
        client.verify_totp(
            await _md(request), pb.VerifyTotpRequest(setup_token=body.setup_token, totp_code=body.totp_code)
        )
    )
    return to_json(reply)


@router.post(
    "/api/v1/auth/refresh", response_model=schemas.TokensRead, operation_id="refresh", responses=_PROBLEMS
)
async def refresh(
    body: schemas.RefreshToken, request: Request, response: Response, client: AuthClient = Depends(auth)
) -> Any:
    """Trade a refresh token for new tokens; the old refresh token stops working."""
    _no_store(response)
    reply = await client.refresh(await _md(request), pb.RefreshRequest(refresh_token=body.refresh_token))
    return to_json(reply.tokens)


@router.post("/api/v1/auth/logout", status_code=204, operation_id="logout", responses=_PROBLEMS)
async def logout(
    body: schemas.RefreshToken, request: Request, client: AuthClient = Depends(auth)
) -> Response:
    """End the session: its refresh tokens stop working."""
    await client.logout(await _md(request), pb.LogoutRequest(refresh_token=body.refresh_token))
    return Response(status_code=204)


@router.post(
    "/api/v1/oauth/token", response_model=schemas.OAuthToken, operation_id="oauthToken", responses=_PROBLEMS
)
async def oauth_token(
    request: Request,
    response: Response,
    grant_type: Annotated[str, Form(pattern="^client_credentials$")],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    client_secret: Annotated[str, Form(min_length=1, max_length=256)],
    scope: Annotated[str, Form(max_length=1000)] = "",
    client: AuthClient = Depends(auth),
) -> Any:
    """OAuth2 client credentials grant (RFC 6749 §4.4) for partner systems."""
    _no_store(response)
    reply = await _call(
        client.issue_client_token(
            await _md(request),
            pb.IssueClientTokenRequest(
                client_id=client_id,
                client_secret=client_secret,
                scopes=scope.split(),
                client_ip=client_address(request),
            ),
        )
    )
    return {
        "access_token": reply.tokens.access_token,
        "token_type": "Bearer",
        "expires_in": reply.tokens.expires_in,
        "scope": " ".join(reply.scopes),
    }
