"""Who is calling: access tokens verified against the auth service's keys, the development
identity where the embedded mode allows it, and this service's own credentials for its calls."""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from crm.auth.v1 import auth_pb2, auth_pb2_grpc
from services.common import grpc_client, identity
from services.common.errors import Unauthenticated
from services.common.settings import ServiceSettings
from services.common.tokens import Revocations, TokenVerifier

Metadata = Sequence[tuple[str, Any]]


def _auth_stub(settings: ServiceSettings) -> auth_pb2_grpc.AuthServiceStub:
    return auth_pb2_grpc.AuthServiceStub(grpc_client.channel(settings.auth_addr, settings))


def revocations_of(reply: auth_pb2.ListRevocationsResponse) -> Revocations:
    """The revocation list in a ListRevocations reply."""
    return Revocations(
        versions={(r.kind, r.subject): int(r.version) for r in reply.subjects},
        sessions=frozenset(reply.session_ids),
    )


def verifier(settings: ServiceSettings) -> TokenVerifier | None:
    """A verifier fed by the auth service's JWKS and revocation list, or None where no auth
    service is configured."""
    if not settings.auth_addr:
        return None
    stub = _auth_stub(settings)
    deadline = settings.rpc_deadline_seconds
    return TokenVerifier(
        lambda: stub.GetJwks(auth_pb2.GetJwksRequest(), timeout=deadline).jwks_json,
        fetch_revocations=lambda: revocations_of(
            stub.ListRevocations(auth_pb2.ListRevocationsRequest(), timeout=deadline)
        ),
    )


def bearer(value: str | None) -> str | None:
    """The token of an `authorization: Bearer …` value, None when there is none."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization header must be 'Bearer <access token>'")
    return token.strip()


def authenticator(
    settings: ServiceSettings, tokens: TokenVerifier | None = None
) -> Callable[[Metadata], identity.Caller]:
    """The function a gRPC server uses to turn call metadata into the caller.

    `tokens` defaults to a verifier fed by the auth service (which passes its own keys instead).
    """
    tokens = tokens or verifier(settings)

    def authenticate(metadata: Metadata) -> identity.Caller:
        token = bearer(next((str(v) for k, v in metadata or () if k == "authorization"), None))
        if token is not None:
            if tokens is None:
                raise Unauthenticated("this service has no auth service to verify tokens with")
            return tokens.verify(token)
        if settings.dev_identity:
            return identity.from_metadata(metadata)  # type: ignore[arg-type]
        raise Unauthenticated("send an access token: authorization: Bearer <token>")

    return authenticate


class ServiceCredentials:
    """This service's identity on calls it makes: a client-credentials token, renewed ahead of
    expiry; the development identity where the embedded mode allows it and no client is set."""

    def __init__(self, settings: ServiceSettings, *, service: str, scopes: Sequence[str]) -> None:
        self._settings = settings
        self._service = service
        self._scopes = list(scopes)
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self._stub = _auth_stub(settings) if settings.service_client_id else None

    def metadata(self) -> list[tuple[str, str]]:
        """Metadata proving who this service is."""
        if self._stub is None:
            if not self._settings.dev_identity:
                raise Unauthenticated(f"{self._service} has no API client configured (CRM_SERVICE_CLIENT_ID)")
            caller = identity.Caller(
                id=f"svc-{self._service}", kind="service", scope="all", permissions=tuple(self._scopes)
            )
            return caller.to_metadata()
        with self._lock:
            if time.monotonic() > self._expires - 60:
                reply = self._stub.IssueClientToken(
                    auth_pb2.IssueClientTokenRequest(
                        client_id=self._settings.service_client_id,
                        client_secret=self._settings.service_client_secret.get_secret_value(),
                        scopes=self._scopes,
                    ),
                    timeout=self._settings.rpc_deadline_seconds,
                )
                self._token = reply.tokens.access_token
                self._expires = time.monotonic() + reply.tokens.expires_in
            return [("authorization", f"Bearer {self._token}")]
