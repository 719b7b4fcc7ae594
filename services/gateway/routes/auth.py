"""Logging in: passwords, the second factor, token refresh and logout; partner tokens (OAuth2)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from crm.auth.v1 import auth_pb2 as pb
from services.common.identity import CLIENT_ADDRESS
from services.gateway import schemas
from services.gateway.clients import AuthClient
from services.gateway.convert import to_json
from services.gateway.deps import auth

router = APIRouter(tags=["auth"])
_PROBLEMS = {
    401: {"model": schemas.Problem},
    422: {"model": schemas.Problem},
    429: {"model": schemas.Problem},
}


def _md(request: Request) -> list[tuple[str, str]]:
    # Public RPCs: no caller yet, only the request id and where the request came from.
    address = request.client.host if request.client else ""
    return [("x-request-id", request.state.request_id), (CLIENT_ADDRESS, address)]


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
    reply = await client.login(
        _md(request),
        pb.LoginRequest(employee_id=body.employee_id, password=body.password, totp_code=body.totp_code or ""),
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
    reply = await client.change_password(
        _md(request),
        pb.ChangePasswordRequest(
            setup_token=body.setup_token or "",
            employee_id=body.employee_id or "",
            current_password=body.current_password,
            new_password=body.new_password,
        ),
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
    reply = await client.enroll_totp(_md(request), pb.EnrollTotpRequest(setup_token=body.setup_token))
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
    reply = await client.verify_totp(
        _md(request), pb.VerifyTotpRequest(setup_token=body.setup_token, totp_code=body.totp_code)
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
    reply = await client.refresh(_md(request), pb.RefreshRequest(refresh_token=body.refresh_token))
    return to_json(reply.tokens)


@router.post("/api/v1/auth/logout", status_code=204, operation_id="logout", responses=_PROBLEMS)
async def logout(
    body: schemas.RefreshToken, request: Request, client: AuthClient = Depends(auth)
) -> Response:
    """End the session: its refresh tokens stop working."""
    await client.logout(_md(request), pb.LogoutRequest(refresh_token=body.refresh_token))
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
    reply = await client.issue_client_token(
        _md(request),
        pb.IssueClientTokenRequest(
            client_id=client_id,
            client_secret=client_secret,
            scopes=scope.split(),
            client_ip=request.client.host if request.client else "",
        ),
    )
    return {
        "access_token": reply.tokens.access_token,
        "token_type": "Bearer",
        "expires_in": reply.tokens.expires_in,
        "scope": " ".join(reply.scopes),
    }
